"""What a running server holds: the dataset it serves, through one of two backends, and the jobs it runs.

``Runtime`` is the one façade the web layer talks to (query, answer, validate, dumps, status). Behind it:

- ``Embedded``: the dataset prepared by :func:`dataset.prepare` — in a keeper process whose forked workers share
  its memory (the default), in an on-disk store that each worker opens read-only (STORE_PATH), or in this process
  with no workers (WORKERS = 0, for tests);
- ``Remote``: a SPARQL 1.1 store elsewhere (STORE_URL); queries go to it from the request thread, checked and
  limited here, and the workers, over an empty store, only validate uploads and build dumps from the local files.

The job table below is what workers run; :mod:`shiquan.runtime.pool` knows nothing of it but its names.
"""

from __future__ import annotations

import functools
import logging
import shutil
import tempfile
import time
from collections.abc import Mapping
from typing import Any

import pyoxigraph

from shiquan.graph import dataset, loading, validation
from shiquan.publish import export
from shiquan.runtime import isolation, pool, remote
from shiquan.sparql import run

log = logging.getLogger(__name__)


def _query_job(kg, settings, *, text, accept=None, fmt=None, default_graph_uris=None, named_graph_uris=None,
               service_relay=None):
    """Run a SPARQL query and serialise its answer in the negotiated format; returns (media type, bytes)."""
    return run.respond(
        kg.store,
        text,
        accept=accept,
        fmt=fmt,
        default_graph_uris=default_graph_uris,
        named_graph_uris=named_graph_uris,
        service_allowlist=settings["SERVICE_ALLOWLIST"],
        service_relay=service_relay,
        max_rows=settings["MAX_RESULT_ROWS"],
        timeout_s=settings["QUERY_TIMEOUT_S"],
    )


def _answer_job(kg, settings, *, text):
    """Run a SPARQL query and return its Answer (for pages built from several queries)."""
    return run.run(kg.store, text, max_rows=settings["MAX_RESULT_ROWS"], timeout_s=settings["QUERY_TIMEOUT_S"])


def _validate_job(kg, settings, *, data, fmt, source):
    """Validate RDF bytes against the shapes after OWL RL inference; returns a Report."""
    return validation.validate_upload(data, fmt, source, settings)


def _dumps_job(kg, settings):
    """The dumps of the served dataset, written once per version (:func:`export.publish`); with no dataset here
    (a remote store) they are built from the local files, in this worker."""
    if not kg.version:
        kg = loading.build_store(settings)
    return export.publish(kg, settings)


def _start_job(kg, settings):
    """Once in each worker as it starts: no network unless its queries call allowlisted SERVICE endpoints."""
    if not isolation.needs_network(settings):
        isolation.without_network()


JOBS = {"start": _start_job, "query": _query_job, "answer": _answer_job, "validate": _validate_job, "dumps": _dumps_job}


def _open_read_only(path: str, settings: dict, *, counts: dict[str, int], version: str) -> loading.KnowledgeGraph:
    """A worker's view of the on-disk store at ``path`` (see pool._Worker)."""
    return loading.KnowledgeGraph(pyoxigraph.Store.read_only(path), counts, 0.0, version)


class Embedded:
    """The dataset prepared here: held by a keeper and shared with forked workers, on disk, or in this process."""

    kind = "embedded"

    def __init__(self, settings: Mapping[str, Any], progress: loading.Progress | None = None):
        self.settings = dict(settings)
        self.keeper: pool.Keeper | None = None
        self.pool: pool.Pool | pool.Inline
        workers, path = int(settings["WORKERS"]), settings.get("STORE_PATH")
        if workers and not path:
            self.keeper = pool.Keeper(dataset.prepare, self.settings, JOBS, progress)
            self.counts, self.version, self.load_seconds = self.keeper.counts, self.keeper.version, self.keeper.load_seconds
            try:
                self.pool = pool.Pool(lambda: pool._ForkedWorker(self.keeper), workers, self.settings)
            except BaseException:
                self.keeper.close()
                raise
            return
        kg = dataset.prepare(self.settings, path, progress)
        self.counts, self.version, self.load_seconds = kg.triples_per_graph, kg.version, kg.load_seconds
        if workers:
            del kg  # close the read-write handle: workers open the store read-only
            opener = functools.partial(_open_read_only, counts=self.counts, version=self.version)
            self.pool = pool.Pool(lambda: pool._Worker(opener, path, self.settings, JOBS), workers, self.settings)
        else:
            self.pool = pool.Inline(kg, self.settings, JOBS)

    def query(self, timeout_s: float | None = None, **args):
        return self.pool.call(pool.Job("query", args), timeout_s or self.settings["QUERY_TIMEOUT_S"])

    def answer(self, text: str):
        return self.pool.call(pool.Job("answer", {"text": text}), self.settings["QUERY_TIMEOUT_S"])

    def store_status(self) -> dict:
        return {"kind": self.kind}

    def close(self) -> None:
        if getattr(self, "pool", None) is not None:
            self.pool.close()
        if self.keeper is not None:
            self.keeper.close()
            self.keeper = None


class Remote:
    """A remote SPARQL store; validation and dump workers over an empty store in a temporary folder."""

    kind = "remote"

    def __init__(self, url: str, settings: Mapping[str, Any]):
        self.settings = dict(settings)
        self._temporary: str | None = None
        started = time.perf_counter()
        self.store = remote.RemoteStore(url, self.settings)
        self.counts, self.version = self.store.counts(), None  # no version: the store may change under us
        self.load_seconds = time.perf_counter() - started
        log.info("serving the store at %s: %d triples in %d graphs", self.store.url, sum(self.counts.values()),
                 len(self.counts))
        empty = loading.KnowledgeGraph(pyoxigraph.Store())
        if int(settings["WORKERS"]):
            path = self._temporary = tempfile.mkdtemp(prefix="shiquan-store-")
            pyoxigraph.Store(path).flush()
            opener = functools.partial(_open_read_only, counts={}, version="")
            self.pool = pool.Pool(lambda: pool._Worker(opener, path, self.settings, JOBS), int(settings["WORKERS"]),
                                  self.settings)
        else:
            self.pool = pool.Inline(empty, self.settings, JOBS)

    def query(self, timeout_s: float | None = None, **args):
        args.pop("service_relay", None)  # the remote store makes its own SERVICE calls
        return self.store.query(timeout_s=timeout_s, **args)

    def answer(self, text: str):
        return self.store.answer(text)

    def store_status(self) -> dict:
        return {"kind": self.kind, "url": self.store.url,
                "reachable": self.store.reachable(min(5.0, self.store.timeout_s))}

    def close(self) -> None:
        if getattr(self, "pool", None) is not None:
            self.pool.close()
        if self._temporary:
            shutil.rmtree(self._temporary, ignore_errors=True)
            self._temporary = None


class Runtime:
    """The running server's dataset and workers, behind one interface whatever the backend.

    Raises what :func:`dataset.prepare` raises when the data cannot be served, RemoteServiceFailed when a remote
    store does not answer.
    """

    def __init__(self, settings: Mapping[str, Any], progress: loading.Progress | None = None):
        self.settings = dict(settings)
        url = remote.store_url(settings)
        self.backend: Embedded | Remote = Remote(url, settings) if url else Embedded(settings, progress)
        self.counts, self.version, self.load_seconds = self.backend.counts, self.backend.version, self.backend.load_seconds

    @property
    def pool(self) -> pool.Pool | pool.Inline:
        return self.backend.pool

    @property
    def remote(self) -> remote.RemoteStore | None:
        return self.backend.store if isinstance(self.backend, Remote) else None

    @property
    def triple_count(self) -> int:
        return sum(self.counts.values())

    def query(self, timeout_s: float | None = None, **args):
        """Run a SPARQL query; returns (media type, bytes). Raises as :func:`run.respond`
        (and RemoteServiceFailed for a remote store)."""
        return self.backend.query(timeout_s, **args)

    def answer(self, text: str):
        """Run a SPARQL query and return its Answer."""
        return self.backend.answer(text)

    def validate(self, data: bytes, fmt: str, source: str):
        """Validate uploaded RDF in a worker; returns a validation Report."""
        return self.pool.call(pool.Job("validate", {"data": data, "fmt": fmt, "source": source}),
                              self.settings["VALIDATE_TIMEOUT_S"])

    def dumps(self) -> export.Published:
        """The served dataset's dumps, built once per version by a worker (never in this process, but with
        WORKERS = 0). Raises QueryTimeout past EXPORT_TIMEOUT_S, BadInput when they cannot be written."""
        return self.pool.call(pool.Job("dumps", {}), self.settings["EXPORT_TIMEOUT_S"])

    def status(self) -> dict:
        """Where queries go and whether the workers are up: the body of /health, less its verdict."""
        store = self.backend.store_status()
        ready = self.pool.alive > 0 and store.get("reachable", True)
        return {
            "status": "ok" if ready else "unavailable",
            "store": store,
            "triples": self.triple_count,
            "graphs": len(self.counts),
            "version": self.version,
            "loadSeconds": round(self.load_seconds, 3),
            "workers": {"configured": self.pool.size, "alive": self.pool.alive, "replaced": self.pool.replaced,
                        "recycled": self.pool.recycled},
            "dumps": "from the served dataset" if self.backend.kind == "embedded" else "from the local data files",
        }

    def close(self) -> None:
        self.backend.close()
