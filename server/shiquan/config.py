"""Every setting of Shiquan with its default; the README's configuration table matches this class."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any


def resource_dir(name: str) -> Path:
    """The folder of the project's hand-edited ``name`` files (ontology, shapes, data, queries).

    An installed wheel carries them as package resources (``shiquan/ontology/`` …); in a checkout they are the
    top-level folders of the repository, their one source, which the editable install maps to the same names.
    """
    packaged = Path(str(resources.files("shiquan"))) / name
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / name


class Defaults:
    # Folder of the ontology's Turtle files (shiquan.ttl, alignments.ttl).
    ONTOLOGY_DIR = str(resource_dir("ontology"))
    # Folder of the SHACL shapes, one Turtle file per target class.
    SHAPES_DIR = str(resource_dir("shapes"))
    # Files or folders of instance data to serve; folders are read for RDF files, not recursively.
    DATA_PATHS = [str(resource_dir("data"))]
    # Folder of the example queries shown on the query page and tested.
    QUERIES_DIR = str(resource_dir("queries"))
    # Refuse, at start, data that violates the shapes (naming the files); False loads it anyway.
    VALIDATE_ON_LOAD = True
    # Folder of an on-disk Oxigraph store, rebuilt at start, that each worker opens read-only; None: the store is
    # held in memory by a keeper process, and the workers are forked from it, sharing its memory.
    STORE_PATH: str | None = None
    # URL of a remote SPARQL 1.1 endpoint to serve instead of the embedded store (credentials may be in the URL);
    # queries are checked and limited here, then forwarded. None: the embedded store.
    STORE_URL: str | None = None
    # Query worker processes. 0 runs queries in the request thread (tests only:
    # the time limit is then checked between rows and cannot stop a long aggregate).
    WORKERS = 2
    # Private memory (MB) a query worker may build up, pages of the shared store it has copied and its own caches,
    # before it is replaced by a fresh one after its current job; 0 never replaces a worker for its memory.
    # Reading the store copies its pages (pyoxigraph writes to them as it reads: a COUNT of every quad copies 235 of
    # national3's 320 MB), so each worker's share of the PSS rises by up to this much between two replacements.
    # 32 took the tree's PSS at the end of benchmarks/memory.py's mix on national3 from 591-718 to 532 MB, but
    # throughput fell from 58 to 41 requests/s at 1 client and from 77 to 38 at 8 (adjacent runs, load average ~8).
    # The other way, a fresh worker pays a page fault and a copy for each page it first reads: on national17 (the
    # mix's 11 templates, benchmarks/hot.py, medians of 3 runs at load average ~2) a cap of 128 gave p50s of 56 ms for
    # i-county-share-by-city and 46 ms for e-matter-across-cities, 512 gave 44 and 41 ms, 1024 gave 37 and 37 ms.
    # 512 takes most of that gain for at most 2 x 384 MB more PSS than 128 (see README, Performance).
    WORKER_MEMORY_MB = 512
    # Seconds a query may run before its worker is stopped and the client gets 503.
    QUERY_TIMEOUT_S = 10.0
    # Seconds a /validate run may take before it is stopped and the client gets 503.
    VALIDATE_TIMEOUT_S = 60.0
    # Worker processes of their own for /validate (and the dumps), so that no upload makes a query wait.
    VALIDATE_WORKERS = 1
    # Memory (MB) one job (query, answer, validation) may allocate beyond what its worker shares with the keeper,
    # enforced while it runs: a watchdog samples each busy worker every JOB_MEMORY_POLL_S and stops one over the cap
    # (503 memory_limit). GROUP_CONCAT doubling grows ~400 MB/s here, so a job overshoots by ~40 MB at most.
    JOB_MEMORY_MB = 1024
    # Seconds between two samples of a busy worker's memory by the watchdog.
    JOB_MEMORY_POLL_S = 0.05
    # Seconds a request whose worker crashed (an engine fault, 422) is remembered and refused at once when sent again.
    CRASH_MEMORY_S = 3600.0
    # Deepest element nesting read in an RDF/XML upload, and deepest array/object nesting in a JSON-LD upload
    # (RDF/XML 50,000 deep took pyoxigraph 31 s of CPU, quadratic; 1,000 deep takes ~15 ms).
    MAX_UPLOAD_DEPTH = 1000
    # When the keeper process (the store) dies: True logs it, answers 503 for a second, then exits with status 3
    # for the supervisor to restart the server (ignored when TESTING); False only answers 503 from then on.
    EXIT_ON_KEEPER_LOSS = True
    # Most rows (SELECT) or triples (CONSTRUCT/DESCRIBE) one answer may hold.
    MAX_RESULT_ROWS = 100_000
    # Largest answer, in bytes, a query may return (checked in the worker while the answer is written, 422).
    MAX_RESULT_BYTES = 32 * 1024 * 1024
    # Memory (MB) of the web process kept for recent answers, replayed for the same request on the same dataset
    # version without a worker (web/sparql.py, AnswerCache); 0 keeps none. An answer over 1/32 of it is not kept.
    ANSWER_CACHE_MB = 32
    # Largest request body accepted, in bytes (queries and /validate uploads).
    MAX_BODY_BYTES = 5 * 1024 * 1024
    # Endpoints a query may call with SERVICE; empty refuses every SERVICE call. From the environment:
    # space-separated URLs (SHIQUAN_SERVICE_ALLOWLIST="http://a/sparql http://b/sparql").
    SERVICE_ALLOWLIST: list[str] = []
    # Seconds one SERVICE call may take: calls are relayed through this server, which stops them at this limit.
    SERVICE_TIMEOUT_S = 5.0
    # Folder where the verdicts of datasets that passed the shapes are kept (a file named by a hash of the data,
    # ontology, shapes and engine), so that a start on data validated before skips the check; None:
    # ~/.cache/shiquan/validated. An empty string keeps no verdicts.
    VALIDATED_DIR: str | None = None
    # Folder where the prepared store (loaded, inferred, validated) is kept on disk, one entry per dataset version,
    # code and library versions (the newest 3 kept), so that a restart on unchanged data reopens it in seconds instead
    # of preparing it again; None: ~/.cache/shiquan/stores. An empty string keeps none (`shiquan serve --no-store-cache`).
    STORE_CACHE_DIR: str | None = None
    # Folder where the dumps of each dataset version are written once, by a worker, and served from; None:
    # ~/.cache/shiquan/dumps.
    DUMPS_DIR: str | None = None
    # Seconds a worker may take to write the dumps of a dataset version (at national scale, minutes).
    EXPORT_TIMEOUT_S = 600.0
    # Folder for downloaded front-end assets (the YASGUI build); None: ~/.cache/shiquan/assets.
    ASSETS_DIR: str | None = None
    # Address `shiquan serve` binds to.
    HOST = "127.0.0.1"
    PORT = 8000
    # HTTP threads of `shiquan serve` (waitress).
    THREADS = 16
    # The server's public base URL (scheme, host, port and path prefix, e.g. https://shiquan.example.org): every
    # absolute URL in an answer starts with it, whatever the request's Host header says. None: http://HOST:PORT
    # (localhost when HOST binds every address). Behind a proxy that serves under a prefix, the proxy strips it.
    PUBLIC_BASE_URL: str | None = None
    # Open connections `shiquan serve` holds at most; the process's open-files limit is raised to fit (up to the hard
    # limit, `ulimit -Hn`). 500 idle or slow connections leave other clients answered in milliseconds.
    CONNECTION_LIMIT = 1000
    # Open connections one client address may hold (429 to the next); 0: no cap. Behind a reverse proxy every
    # connection comes from the proxy's address: set 0 there and cap clients at the proxy.
    MAX_CONNECTIONS_PER_CLIENT = 100
    # Seconds a request's line and headers may take to arrive, from its first byte (slowloris); then 408 and close.
    HEADER_TIMEOUT_S = 10.0
    # Seconds a request's body may take to arrive after its headers (a 5 MiB upload at 85 kB/s); then 408 and close.
    BODY_TIMEOUT_S = 60.0
    # Seconds a connection may stay open with no request (keep-alive), or with an answer its client reads nothing of.
    IDLE_TIMEOUT_S = 15.0
    # Bytes of an answer the server buffers for one connection before waiting for its client to read (in memory,
    # never a temporary file): a slow reader holds at most this plus 256 KiB.
    OUTPUT_BUFFER_BYTES = 1024 * 1024
    # Bytes a second a client must read of an answer waiting for it, over IDLE_TIMEOUT_S, or it is disconnected and
    # the HTTP thread writing to it freed (a 32 MiB answer at this pace takes 34 minutes).
    SLOWEST_READER_BYTES_PER_S = 16 * 1024


def from_env(prefix: str = "SHIQUAN", environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Settings named ``{prefix}_{KEY}`` in the environment, read as Flask's ``from_prefixed_env`` reads them:
    JSON when the value parses as JSON, else the plain string."""
    found: dict[str, Any] = {}
    for name, raw in (os.environ if environ is None else environ).items():
        if not name.startswith(prefix + "_"):
            continue
        try:
            found[name[len(prefix) + 1 :]] = json.loads(raw)
        except ValueError:
            found[name[len(prefix) + 1 :]] = raw
    return found


def normalise(values: Mapping[str, Any]) -> dict[str, Any]:
    """Settings as the code expects them: SERVICE_ALLOWLIST and DATA_PATHS as lists even when given as one string."""
    result = dict(values)
    for key in ("SERVICE_ALLOWLIST", "DATA_PATHS"):
        if isinstance(result.get(key), str):
            result[key] = result[key].split()
    return result


def settings(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then ``SHIQUAN_*`` environment settings, then ``overrides``: what the CLI runs with."""
    merged = {key: getattr(Defaults, key) for key in dir(Defaults) if key.isupper()}
    merged.update(from_env())
    merged.update({k: v for k, v in (overrides or {}).items() if v is not None})
    return normalise(merged)
