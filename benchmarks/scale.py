"""Shiquan next to Oxigraph and Virtuoso on the same national-scale data: load, restart, memory, latency, throughput.

    python benchmarks/scale.py [--data national.nq | --generate "--fields 17"]
                               [--engines shiquan,oxigraph,virtuoso] [--clients 1,8] [--duration 20]
                               [--requests-per-query 50] [--warmup 3] [--skip NAMES] [--seed 1] [--work-dir DIR]
                               [--dataset FILE] [--ready-timeout 1800] [--request-timeout 120] [--runs 1]

One run:

1. data: ``--data``, or a graph written by ``benchmarks/national.py`` with the ``--generate`` flags
   (default ``--fields 17``: about 3.4 million triples); made once for all runs;
2. the dataset every other engine serves: ``shiquan export --data <data>`` (ontology, data, OWL RL
   inferences, one named graph each), timed, unless ``--dataset`` names an export already made;
3. each engine in turn, never two at once, on a free 127.0.0.1 port: ``shiquan validate <data>``, timed, then
   ``shiquan serve --data <data>`` with an empty store cache (a cold start; the shapes' verdict is kept);
   Oxigraph's own server (``oxigraph load``, then ``oxigraph serve-read-only --union-default-graph``);
   Virtuoso (``virtuoso-t``, bulk load with ``isql-vt``). An engine that is not installed is named and
   skipped. Per engine: load time, memory of its process tree (PSS and RSS) after loading and at the end,
   the pools of values the query templates are filled from, a row-count check of sampled queries against
   the engines before it, p50/p95 latency per template, throughput over the mix at each client count;
   then, for shiquan, a restart on the same data (the prepared store reopened), timed to its first answer;
4. on the project's own seed graph, the one-matter lookup of ``benchmarks/endpoint.py``, over HTTP and in
   process;
5. a side-by-side report with ratio columns and issue 16's targets, each PASS, FAIL or n/a with its figure.

With ``--runs N`` the run is repeated N times (the data made once), each run's report is printed, then every
target figure per run with its median, whether every export gave the same bytes, and the targets judged on
the medians.

The query mix is ``benchmarks/mix/*.rq``: SPARQL 1.1 templates whose ``{{name}}`` placeholders
are filled, per request, from rows of the pools their ``# pools:`` line names, drawn with
generators seeded from ``--seed``: the same flags send the same requests to every engine.

Only 127.0.0.1 is contacted. Every engine is stopped when it has been measured, on errors and on
Ctrl-C. Exit status: 0 after a complete run, whether or not the targets are met; 1 when the data or
the dataset cannot be made, or an engine failed to load or serve (the report is still printed);
2 on bad options; 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import itertools
import json
import os
import random
import statistics
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Self

import pyoxigraph as ox
from harness_common import (
    HOST,
    SPARQL_JSON,
    TURTLE,
    BenchmarkError,
    Endpoint,
    Request,
    Throughput,
    connect,
    default_sigint,
    exited,
    free_port,
    log_tail,
    machine_facts,
    measure_throughput,
    ms,
    percentile,
    render_table,
    request,
    serve_command,
    stop_process,
    virtuoso_ini,
)

from shiquan.publish import export

BENCHMARKS = Path(__file__).resolve().parent
MIX_DIR = BENCHMARKS / "mix"
NATIONAL = BENCHMARKS / "national.py"
ENGINES = ("shiquan", "oxigraph", "virtuoso")
GRAPHS = "https://w3id.org/shiquan/graph/"  # every graph of the dataset is named under this
CHECK_SAMPLES = 3  # filled queries per template whose answer sizes the engines must agree on
ERRORS_SHOWN = 5  # errors described per engine in the report (all are counted)
MIB = 1024 * 1024
# The targets of the second performance round (issue 16), each printed PASS, FAIL or n/a with its figure.
TARGET_VS_VIRTUOSO = 1.5  # throughput over the mix, at every client count
TARGET_P50_MS = 50.0  # every template's p50, which must also be at most Virtuoso's on it
TARGET_RESTART_S = 3.0  # start again on unchanged data, to /health 200
TARGET_COLD_S = 20.0  # the first start (load and inferences; the shapes' verdict kept from `shiquan validate`)
TARGET_VALIDATE_S = 45.0  # `shiquan validate` of the data
TARGET_EXPORT_S = 30.0  # `shiquan export` of the data
TARGET_SEED_RATIO = 3.0  # on the seed graph, a one-matter lookup over HTTP against the same query in process
SEED_REQUESTS, SEED_WARMUP = 300, 30

PREFIXES = """\
PREFIX sq: <https://w3id.org/shiquan/ontology#>
"""


@dataclass(frozen=True)
class PoolSpec:
    """One pool: the SELECT that fetches it from the served data, and its columns (the placeholders it fills)."""

    columns: tuple[str, ...]
    query: str


POOLS: dict[str, PoolSpec] = {
    "plan": PoolSpec(("plan", "field"), "SELECT ?plan ?field WHERE { ?plan a sq:Plan ; sq:field ?field . }"),
    "cityPlan": PoolSpec(
        ("cityPlan",), "SELECT ?cityPlan WHERE { ?cityPlan a sq:Plan ; sq:jurisdiction/sq:level sq:PrefecturalLevel . }"
    ),
    "planLevel": PoolSpec(("plan", "level"), "SELECT ?plan ?level WHERE { ?plan a sq:Plan ; sq:dividesBetween ?level . }"),
    "matter": PoolSpec(("matter", "field"), "SELECT ?matter ?field WHERE { ?matter a sq:Matter ; sq:category/sq:field ?field . }"),
    "county": PoolSpec(
        ("county",), "SELECT ?county WHERE { ?county a sq:AdministrativeDivision ; sq:level sq:CountyLevel . }"
    ),
    "province": PoolSpec(
        ("province",), "SELECT ?province WHERE { ?province a sq:AdministrativeDivision ; sq:level sq:ProvincialLevel . }"
    ),
    "field": PoolSpec(("field",), "SELECT ?field WHERE { ?field a sq:PolicyField . }"),
}
QUADS_QUERY = f'SELECT (COUNT(*) AS ?quads) WHERE {{ GRAPH ?g {{ ?s ?p ?o }} FILTER (STRSTARTS(STR(?g), "{GRAPHS}")) }}'
ASK = "ASK {}"


def say(message: str) -> None:
    """Progress, on standard error, with the time of day."""
    print(f"{time.strftime('%H:%M:%S')} {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------ arguments


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command-line options (see the module docstring); exits 2 with a message on bad ones."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--data", type=Path, help="N-Quads file of plans to serve (default: generate one)")
    source.add_argument("--generate", default=None, metavar="FLAGS", help='flags of benchmarks/national.py (default "--fields 17")')
    parser.add_argument("--dataset", type=Path, help="an existing `shiquan export` of the data, as .nq (default: export it)")
    parser.add_argument("--engines", default=",".join(ENGINES), help=f"comma-separated, in order (default {','.join(ENGINES)})")
    parser.add_argument("--clients", default="1,8", help="comma-separated concurrent client counts for throughput (default 1,8)")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of throughput per client count, and the most timed seconds per template for latency (default 20)")
    parser.add_argument("--requests-per-query", type=int, default=50, help="timed requests per template for latency (default 50)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests per template before those (default 3)")
    parser.add_argument("--skip", default="", metavar="NAMES", help="comma-separated templates of benchmarks/mix to leave out (default none)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generators that fill the templates (default 1)")
    parser.add_argument("--work-dir", type=Path, help="folder for the data, dataset, stores and logs, kept (default: a temporary one, removed)")
    parser.add_argument("--ready-timeout", type=float, default=1800.0, help="longest wait for an engine to load and answer, in s (default 1800)")
    parser.add_argument("--cold", action="store_true", help="no `shiquan validate` before serving: shiquan's ready time then includes the shapes check")
    parser.add_argument("--request-timeout", type=float, default=120.0, help="socket timeout of every request, in s (default 120)")
    parser.add_argument("--runs", type=int, default=1, help="whole runs, one after another; the targets are judged on the median of each figure (default 1)")
    args = parser.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(args.engines) - set(ENGINES))
    if not args.engines or unknown or len(set(args.engines)) != len(args.engines):
        parser.error(f"--engines takes distinct names among {', '.join(ENGINES)}, not {unknown or args.engines}")
    try:
        args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error(f"--clients takes comma-separated integers, not {args.clients!r}")
    if not args.clients or min(args.clients) < 1:
        parser.error("--clients must name counts of at least 1")
    if args.duration <= 0 or args.ready_timeout <= 0 or args.request_timeout <= 0:
        parser.error("--duration, --ready-timeout and --request-timeout must be positive")
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    if args.requests_per_query < 1 or args.warmup < 0:
        parser.error("--requests-per-query must be at least 1 and --warmup at least 0")
    args.skip = {name.strip() for name in args.skip.split(",") if name.strip()}
    known = {path.stem for path in MIX_DIR.glob("*.rq")}
    if args.skip - known or args.skip >= known:
        parser.error(f"--skip takes template names of {MIX_DIR} and must leave one: {', '.join(sorted(args.skip - known)) or 'all left out'}")
    if args.data is not None and not args.data.is_file():
        parser.error(f"--data {args.data}: no such file")
    if args.dataset is not None and (not args.dataset.is_file() or args.dataset.suffix != ".nq"):
        parser.error(f"--dataset {args.dataset}: not an existing .nq file")
    if args.data is None:
        try:
            args.generate = shlex.split(args.generate if args.generate is not None else "--fields 17")
        except ValueError as exc:
            parser.error(f"--generate: {exc}")
        if {"-o", "--output"} & {flag.split("=", 1)[0] for flag in args.generate}:
            parser.error("--generate: leave out -o/--output, the harness chooses the file")
    return args


# ------------------------------------------------------------------ the query mix


PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
FORM = re.compile(r"^\s*(SELECT|CONSTRUCT|DESCRIBE|ASK)\b", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Template:
    """One query of the mix: its text with ``{{name}}`` placeholders, and the pools that fill them."""

    name: str
    text: str
    pools: tuple[str, ...]
    question: str

    @property
    def graph_answer(self) -> bool:
        """Whether the answer is RDF (DESCRIBE, CONSTRUCT): asked for as Turtle, counted in triples."""
        body = "\n".join(line for line in self.text.splitlines() if not line.lstrip().startswith("#"))
        found = FORM.search(body)
        return bool(found) and found.group(1).upper() in ("DESCRIBE", "CONSTRUCT")

    @property
    def accept(self) -> str:
        return TURTLE if self.graph_answer else SPARQL_JSON


def read_templates(folder: Path = MIX_DIR) -> list[Template]:
    """The templates of ``folder`` (``*.rq``, in name order), checked against :data:`POOLS`.

    Raises BenchmarkError for a template without ``# pools:``, naming an unknown pool, or with
    a placeholder none of its pools fills.
    """
    templates = []
    for path in sorted(folder.glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        found = re.search(r"^# pools:(.*)$", text, re.MULTILINE)
        if not found or not found.group(1).split():
            raise BenchmarkError(f"{path}: no '# pools: NAME …' line")
        pools = tuple(found.group(1).split())
        unknown = [p for p in pools if p not in POOLS]
        if unknown:
            raise BenchmarkError(f"{path}: unknown pools {unknown}; known: {sorted(POOLS)}")
        columns = {c for p in pools for c in POOLS[p].columns}
        unfilled = set(PLACEHOLDER.findall(text)) - columns
        if unfilled:
            raise BenchmarkError(f"{path}: placeholders {sorted(unfilled)} are in none of the pools {list(pools)}")
        question = re.search(r"^# en:\s*(.*)$", text, re.MULTILINE)
        templates.append(Template(path.stem, text, pools, question.group(1) if question else ""))
    if not templates:
        raise BenchmarkError(f"no query templates in {folder}")
    return templates


def sparql_term(term: dict) -> str:
    """A term of a SPARQL JSON answer in SPARQL syntax, to put in a query. Raises BenchmarkError for a blank node."""
    if term["type"] == "uri":
        return f"<{term['value']}>"
    if term["type"] in ("literal", "typed-literal"):
        text = json.dumps(term["value"], ensure_ascii=False)
        if "xml:lang" in term:
            return f"{text}@{term['xml:lang']}"
        return f"{text}^^<{term['datatype']}>" if "datatype" in term else text
    raise BenchmarkError(f"a pool holds a blank node ({term}), which cannot go into a query")


class Pools:
    """Rows of every pool, sorted, with the draws that fill a template's placeholders consistently.

    A template's pools are drawn in the order its ``# pools:`` line names them; a later pool's row
    must agree with the columns already drawn (``plan`` then ``matter``: a matter of the plan's field).
    """

    def __init__(self, rows: dict[str, list[dict[str, str]]]):
        self.rows = rows
        self._index: dict[tuple[str, tuple[str, ...]], dict[tuple[str, ...], list[dict[str, str]]]] = {}

    def sizes(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.rows.items()}

    def _matching(self, pool: str, bound: dict[str, str]) -> list[dict[str, str]]:
        shared = tuple(c for c in POOLS[pool].columns if c in bound)
        if not shared:
            return self.rows[pool]
        key = (pool, shared)
        if key not in self._index:
            index: dict[tuple[str, ...], list[dict[str, str]]] = {}
            for row in self.rows[pool]:
                index.setdefault(tuple(row[c] for c in shared), []).append(row)
            self._index[key] = index
        return self._index[key].get(tuple(bound[c] for c in shared), [])

    def draw(self, template: Template, rng: random.Random) -> dict[str, str]:
        """Values for every placeholder of ``template``. Raises BenchmarkError when no row fits."""
        bound: dict[str, str] = {}
        for pool in template.pools:
            candidates = self._matching(pool, bound)
            if not candidates:
                raise BenchmarkError(f"{template.name}: no row of pool {pool!r} goes with {bound}")
            bound.update(rng.choice(candidates))
        return bound

    def fill(self, template: Template, rng: random.Random, previous: str | None = None) -> str:
        """``template`` filled from a fresh draw; a different text from ``previous`` unless the pools allow only one."""
        text = previous
        for _ in range(20):
            text = substitute(template.text, self.draw(template, rng))
            if text != previous:
                break
        assert text is not None
        return text


def substitute(text: str, values: dict[str, str]) -> str:
    """``text`` with each ``{{name}}`` replaced by ``values[name]``."""
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], text)


def fillings(template: Template, pools: Pools, seed: str) -> Iterator[str]:
    """Endless filled texts of one template, from a generator seeded with ``seed``, never twice in a row."""
    rng = random.Random(seed)
    previous = None
    while True:
        previous = pools.fill(template, rng, previous)
        yield previous


def mix(templates: Sequence[Template], pools: Pools, seed: str, start: int) -> Iterator[tuple[Template, str]]:
    """Endless (template, filled text), cycling through the templates from number ``start``."""
    rng = random.Random(seed)
    previous: dict[str, str] = {}
    for position in itertools.count(start):
        template = templates[position % len(templates)]
        text = pools.fill(template, rng, previous.get(template.name))
        previous[template.name] = text
        yield template, text


# ------------------------------------------------------------------ memory


@dataclass(frozen=True)
class Memory:
    """Resident memory of a process tree, in bytes: PSS (shared pages split among their users) and RSS."""

    pss: int
    rss: int
    processes: int


def process_tree(root: int) -> list[int]:
    """``root`` and every process descended from it (from /proc; empty when ``root`` is gone)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    if not Path(f"/proc/{root}").exists():
        return []
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, []))
    return tree


def memory(roots: Sequence[int]) -> Memory:
    """PSS and RSS summed over the process trees of ``roots``, from /proc/<pid>/smaps_rollup."""
    pss = rss = processes = 0
    for root in roots:
        for pid in process_tree(root):
            try:
                rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
            except OSError:  # exited meanwhile, or a kernel older than 4.14
                continue
            fields = dict(line.split(":", 1) for line in rollup.splitlines()[1:] if ":" in line)
            pss += int(fields.get("Pss", "0 kB").split()[0]) * 1024
            rss += int(fields.get("Rss", "0 kB").split()[0]) * 1024
            processes += 1
    return Memory(pss, rss, processes)


class PeakMemory:
    """While entered, samples the RSS of the process trees of ``roots`` every half second and keeps the peak."""

    INTERVAL_S = 0.5

    def __init__(self) -> None:
        self.roots: list[int] = []
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="memory-sampler")

    def watch(self, roots: Sequence[int]) -> None:
        """Sample the trees of ``roots`` from now on (and once at once)."""
        self.roots = list(roots)
        self.peak = max(self.peak, memory(self.roots).rss)

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, memory(list(self.roots)).rss)
            if self._stop.wait(self.INTERVAL_S):
                return

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# ------------------------------------------------------------------ engines


def find_binary(name: str) -> str | None:
    """``name`` beside this interpreter (a virtualenv's scripts), else on PATH."""
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else shutil.which(name)


def spawn(command: Sequence[str], log: Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``command`` in a session of its own (a Ctrl-C reaches only us), output appended to ``log``, with
    ``env`` added to our environment."""
    with open(log, "ab") as out:
        return subprocess.Popen(
            list(command), cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
            start_new_session=True, preexec_fn=default_sigint, env=dict(os.environ, **(env or {})),
        )


def wait_answering(port: int, path: str, process: subprocess.Popen, log: Path, deadline: float) -> None:
    """Wait until ``POST path`` with ``ASK {}`` answers 200. Raises BenchmarkError when ``process`` exits or time is up."""
    body = urllib.parse.urlencode({"query": ASK}).encode()
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(f"exited with status {process.returncode}:\n{log_tail(log)}")
        conn = connect(port, timeout_s=5)
        try:
            if request(conn, "POST", path, body, SPARQL_JSON)[0] == 200:
                return
        except (OSError, http.client.HTTPException):
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    raise BenchmarkError(f"not answering within the ready timeout:\n{log_tail(log)}")


class Engine:
    """A SPARQL server to measure: how to load the dataset and start it, where it answers, how to stop it."""

    name = ""
    path = "/sparql"

    def __init__(self, folder: Path, data: Path, dataset: Path | None, args: argparse.Namespace):
        self.folder = folder
        self.data = data
        self.dataset = dataset
        self.args = args
        self.ready_timeout_s = args.ready_timeout
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        self.log = folder / f"{self.name}.log"
        self.phases: list[tuple[str, float]] = []  # (what, seconds) of the load, for the report
        self.stopped = "not started"

    def missing(self) -> str:
        """Why the engine cannot run here ("" when it can)."""
        return ""

    def version(self) -> str:
        return ""

    def prepare(self) -> None:
        """What comes before loading and is timed apart from it (nothing, but for shiquan)."""

    def start(self, peak: PeakMemory) -> None:
        """Load the data and start serving; return once the server answers. Sets ``phases``.

        Raises BenchmarkError when loading or starting fails or takes longer than the ready timeout.
        """
        raise NotImplementedError

    def settle(self) -> None:
        """Once it answers, wait for what the engine does in the background after a start (nothing, but for
        shiquan), so that the mix is measured on an engine in its steady state. Raises BenchmarkError."""

    def restart(self) -> float | None:
        """Stop the engine and start it again on the same data: seconds until it answers (None: not measured).

        Raises BenchmarkError when it does not answer again."""
        return None

    def roots(self) -> list[int]:
        """Processes whose trees make up the running engine."""
        return [self.process.pid] if self.process is not None and self.process.poll() is None else []

    def served_quads(self, timeout_s: float) -> int:
        """Quads in the dataset's graphs as the server counts them. Raises BenchmarkError on a failed request."""
        document = post_json(self, QUADS_QUERY, timeout_s)
        return int(document["results"]["bindings"][0]["quads"]["value"])

    def stop(self) -> None:
        self.stopped = stop_process(self.process) or exited(self.process) or self.stopped


class Shiquan(Engine):
    """``shiquan serve --data <data>``: it reads the files, computes the OWL RL inferences, checks the shapes
    (unless the same data passed them before), then serves.

    Unless ``--cold``, ``shiquan validate <data>`` runs first, timed on its own: the researcher's order of work,
    and the issue's "validate in ≤ 2 minutes" figure. Its verdict, kept in the work folder, spares the server
    the check, so "ready" is load and inferences; with ``--cold`` the server's start includes the check.
    """

    name = "shiquan"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.cold = self.args.cold
        self.validated: float | None = None
        # Verdicts, prepared stores and published tables in the engine's folder, empty at the first start: that
        # start is cold.
        self.env = {"SHIQUAN_VALIDATED_DIR": str(self.folder / "validated"),
                    "SHIQUAN_STORE_CACHE_DIR": str(self.folder / "stores"),
                    "SHIQUAN_DUMPS_DIR": str(self.folder / "published")}
        self.endpoint = self._endpoint()
        self.port = self.endpoint.port
        self.health: dict = {}

    def _endpoint(self) -> Endpoint:
        """The server's own default store, as `shiquan serve --data <data>` runs it."""
        return Endpoint(self.folder, data=[self.data], private_store=False, env=self.env)

    def version(self) -> str:
        try:
            return f"{version('shiquan')} (pyoxigraph {version('pyoxigraph')}, {self.endpoint_workers()})"
        except PackageNotFoundError:
            return f"(not installed as a package; pyoxigraph {version('pyoxigraph')})"

    def endpoint_workers(self) -> str:
        workers = self.health.get("workers", {})
        return f"{workers.get('configured', '?')} query workers"

    def prepare(self) -> None:
        """``shiquan validate <data>``, timed, before the server starts (unless --cold); a violation stops the run."""
        self.validated = None
        if not self.cold:
            self.validate()

    def validate(self) -> None:
        """``shiquan validate <data>``, timed; a violation stops the run."""
        command = [*serve_command()[:-1], "validate", str(self.data), "--progress"]
        log = self.folder / "validate.log"
        started = time.perf_counter()
        process = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=open(log, "wb"), env=dict(os.environ, **self.env))
        seconds = time.perf_counter() - started
        if process.returncode != 0:
            raise BenchmarkError(f"shiquan validate exited with status {process.returncode}:\n{log_tail(log, 20)}")
        self.validated = seconds
        say(f"shiquan: validate {self.data.name}: conforms, {seconds:.1f} s")

    def start(self, peak: PeakMemory) -> None:
        started = time.perf_counter()
        self.endpoint.start()
        self.process = self.endpoint.process
        peak.watch(self.roots())
        self.health = self.endpoint.wait_ready(self.ready_timeout_s)
        self.phases = [("start to /health 200" + (", shapes checked at start" if self.cold else ""), time.perf_counter() - started)]
        if "loadSeconds" in self.health:
            self.phases.append(("of which loading and inferences by its own count (/health loadSeconds)", float(self.health["loadSeconds"])))
        if self.validated is not None:
            self.phases.append(("before it, not in ready: `shiquan validate` of the data (the verdict is kept)", self.validated))

    def settle(self) -> None:
        """After a cold start, wait for what the server's background child writes once it answers (see
        :meth:`wait_written`): the tables of every ruling as CSV, the prepared store for the next start, then the
        tables as XLSX. The mix is measured after that, on a server in its steady state."""
        if self.health.get("store", {}).get("cache") != "missed":
            return
        started = time.perf_counter()
        for what, pattern in (("the CSV tables of every ruling", "*-rulings-*-csv/manifest.json"),
                              ("the prepared store kept on disk for the next start", None),
                              ("the XLSX tables of every ruling", "*-rulings-*-xlsx/manifest.json")):
            folder, found = ("SHIQUAN_STORE_CACHE_DIR", "*/manifest.json") if pattern is None else ("SHIQUAN_DUMPS_DIR", pattern)
            self.wait_written(what, Path(self.env[folder]), found)
            self.phases.append((f"after it, not in ready: {what}, written in the background, waited for before the mix",
                                time.perf_counter() - started))

    def wait_written(self, what: str, folder: Path, pattern: str) -> None:
        """Wait until ``folder`` holds a complete entry matching ``pattern`` (a folder renamed from its ".partial-…"
        name once its manifest is written). Raises BenchmarkError when it does not within the ready timeout."""
        deadline = time.monotonic() + self.ready_timeout_s
        while not any(not m.parent.name.startswith(".") for m in folder.glob(pattern)):
            if time.monotonic() > deadline or self.endpoint.process.poll() is not None:
                raise BenchmarkError(f"{what}: not written:\n{self.endpoint.log_tail()}")
            time.sleep(0.2)

    def served_quads(self, timeout_s: float) -> int:
        return int(self.health["triples"])

    def restart(self) -> float:
        """Stop the server and start it again on the same, unchanged data (its prepared store may be reused)."""
        self.endpoint.stop()
        self.endpoint = self._endpoint()
        started = time.perf_counter()
        self.endpoint.start()
        self.process = self.endpoint.process
        self.health = self.endpoint.wait_ready(self.ready_timeout_s)
        seconds = time.perf_counter() - started
        self.port = self.endpoint.port
        store = self.health.get("store", {})
        if store.get("cache") != "reused":
            raise BenchmarkError(f"the restart did not reopen the kept store: /health says {store}")
        return seconds

    def stop(self) -> None:
        self.endpoint.stop()
        self.stopped = self.endpoint.stopped


class Oxigraph(Engine):
    """Oxigraph's own server (PyPI package ``oxigraph``): ``oxigraph load``, then ``serve-read-only``."""

    name = "oxigraph"
    path = "/query"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.binary = find_binary("oxigraph")

    def missing(self) -> str:
        return "" if self.binary else "the oxigraph command is not installed (pip install -e '.[bench]')"

    def version(self) -> str:
        done = subprocess.run([self.binary, "--version"], capture_output=True, text=True, check=False)
        return done.stdout.strip().removeprefix("oxigraph ")

    def start(self, peak: PeakMemory) -> None:
        store = self.folder / "store"
        deadline = time.monotonic() + self.ready_timeout_s
        started = time.perf_counter()
        loader = spawn([self.binary, "load", "--location", str(store), "--file", str(self.dataset)], self.log)
        peak.watch([loader.pid])
        try:
            loader.wait(timeout=self.ready_timeout_s)
        except subprocess.TimeoutExpired:
            raise BenchmarkError(f"oxigraph load took longer than {self.ready_timeout_s:g} s") from None
        finally:
            stop_process(loader)
        if loader.returncode != 0:
            raise BenchmarkError(f"oxigraph load exited with status {loader.returncode}:\n{log_tail(self.log)}")
        loaded = time.perf_counter()
        self.process = spawn(
            [self.binary, "serve-read-only", "--location", str(store), "--bind", f"{HOST}:{self.port}", "--union-default-graph"],
            self.log,
        )
        peak.watch(self.roots())
        wait_answering(self.port, self.path, self.process, self.log, deadline)
        self.phases = [("oxigraph load", loaded - started), ("serve-read-only until it answers", time.perf_counter() - loaded)]


VIRTUOSO_LOAD = """\
ld_dir('{folder}', '{name}', 'urn:shiquan:benchmark:default');
rdf_loader_run();
checkpoint;
SELECT ll_file, ll_error FROM DB.DBA.LOAD_LIST WHERE ll_error IS NOT NULL;
"""


def sql_string(text: str) -> str:
    """``text`` inside a single-quoted SQL string."""
    return text.replace("'", "''")


class Virtuoso(Engine):
    """Debian's Virtuoso 7 (``virtuoso-t``), bulk-loaded with ``ld_dir`` and ``rdf_loader_run`` through ``isql-vt``."""

    name = "virtuoso"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.binary = find_binary("virtuoso-t")
        self.isql = find_binary("isql-vt") or find_binary("isql")

    def missing(self) -> str:
        if not self.binary:
            return "virtuoso-t is not installed (apt-get install virtuoso-opensource)"
        return "" if self.isql else "isql-vt is not installed (it comes with virtuoso-opensource)"

    def version(self) -> str:
        done = subprocess.run([self.binary, "-?"], capture_output=True, text=True, check=False)
        found = re.search(r"^Version (\S+)", done.stdout + done.stderr, re.MULTILINE)
        return found.group(1) if found else "unknown version"

    def start(self, peak: PeakMemory) -> None:
        sql_port = free_port()
        ini = self.folder / "virtuoso.ini"
        # 340,000 pages of 8 KB: about 2.6 GB of buffers, Virtuoso's advice for 4 GB of free memory.
        ini.write_text(virtuoso_ini(self.folder, sql_port=sql_port, http_port=self.port,
                                    dirs=[self.dataset.resolve().parent], buffers=340000, max_dirty=250000, threads=20,
                                    max_execution_s=0))
        deadline = time.monotonic() + self.ready_timeout_s
        started = time.perf_counter()
        self.process = spawn([self.binary, "-f", "-c", str(ini)], self.log, cwd=self.folder)
        peak.watch(self.roots())
        wait_answering(self.port, self.path, self.process, self.folder / "virtuoso.log", deadline)
        up = time.perf_counter()
        script = self.folder / "load.sql"
        dataset = self.dataset.resolve()
        script.write_text(VIRTUOSO_LOAD.format(folder=sql_string(str(dataset.parent)), name=sql_string(dataset.name)))
        try:
            done = subprocess.run(
                [self.isql, f"{HOST}:{sql_port}", "dba", "dba", str(script)],
                capture_output=True, text=True, check=False, timeout=max(1.0, deadline - time.monotonic()),
            )
        except subprocess.TimeoutExpired:
            raise BenchmarkError(f"the bulk load took longer than {self.ready_timeout_s:g} s") from None
        (self.folder / "load.out").write_text(done.stdout + done.stderr)
        if done.returncode != 0 or "*** Error" in done.stdout + done.stderr or "\n0 Rows." not in done.stdout:
            raise BenchmarkError(f"the bulk load failed (status {done.returncode}):\n{(done.stdout + done.stderr)[-2000:]}")
        loaded = time.perf_counter()
        wait_answering(self.port, self.path, self.process, self.folder / "virtuoso.log", deadline)
        self.phases = [
            ("virtuoso-t until it answers", up - started),
            ("bulk load and checkpoint", loaded - up),
            ("until it answers again", time.perf_counter() - loaded),
        ]


ENGINE_CLASSES: dict[str, type[Engine]] = {"shiquan": Shiquan, "oxigraph": Oxigraph, "virtuoso": Virtuoso}


# ------------------------------------------------------------------ requests


REQUEST_NUMBERS = itertools.count(1)  # numbers every request's text apart (see sparql_request)


def sparql_request(engine: Engine, template: Template, text: str) -> Request:
    """The POST that asks ``engine`` the filled ``text`` of ``template``, made a text never sent before by a comment
    numbering the request: no engine answers the mix from a cache of earlier answers (shiquan's answer cache replays
    a repeated request; the small pools, 17 fields or 31 provinces, repeat often)."""
    numbered = f"{text}\n# request {next(REQUEST_NUMBERS)}\n"
    return Request(engine.path, urllib.parse.urlencode({"query": numbered}).encode("utf-8"), template.accept)


def post_json(engine: Engine, text: str, timeout_s: float) -> dict:
    """POST a SELECT or ASK to ``engine`` and return its SPARQL JSON. Raises BenchmarkError on a status other than 200."""
    conn = connect(engine.port, timeout_s)
    try:
        status, body = request(conn, "POST", engine.path, urllib.parse.urlencode({"query": text}).encode("utf-8"), SPARQL_JSON)
    except (OSError, http.client.HTTPException) as exc:
        raise BenchmarkError(f"{engine.name}: {type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()
    if status != 200:
        raise BenchmarkError(f"{engine.name}: HTTP {status} for {text[:120]!r}: {body[:300]!r}")
    return json.loads(body)


def answer_size(body: bytes, accept: str) -> int:
    """Rows of a SPARQL JSON answer (1 for ASK), triples of a Turtle answer."""
    if accept == TURTLE:
        return sum(1 for _ in ox.parse(body, format=ox.RdfFormat.TURTLE))
    document = json.loads(body)
    return len(document["results"]["bindings"]) if "results" in document else 1


def fetch_pools(engine: Engine, timeout_s: float) -> Pools:
    """Every pool of :data:`POOLS`, one SELECT each, rows sorted. Raises BenchmarkError for an empty pool."""
    rows: dict[str, list[dict[str, str]]] = {}
    for name, spec in POOLS.items():
        document = post_json(engine, PREFIXES + spec.query, timeout_s)
        found = {tuple(sparql_term(b[c]) for c in spec.columns) for b in document["results"]["bindings"]}
        if not found:
            raise BenchmarkError(f"{engine.name}: pool {name!r} is empty: the data has nothing to fill its placeholders")
        rows[name] = [dict(zip(spec.columns, values, strict=True)) for values in sorted(found)]
    return Pools(rows)


# ------------------------------------------------------------------ measuring one engine


@dataclass
class Result:
    """What one engine gave; None where it was not measured."""

    name: str
    version: str = ""
    missing: str = ""
    failure: str = ""
    load_s: float | None = None
    phases: list[tuple[str, float]] = field(default_factory=list)
    quads: int | None = None
    loaded: Memory | None = None
    end: Memory | None = None
    peak_rss: int | None = None
    checks: dict[tuple[str, int], int | str] = field(default_factory=dict)  # (template, sample) -> size or error
    latency: dict[str, list[float]] = field(default_factory=dict)  # template -> ms of the answered requests
    latency_errors: dict[str, int] = field(default_factory=dict)
    rates: list[Throughput] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # descriptions of non-200 answers and broken connections
    error_count: int = 0
    stopped: str = ""
    validate_s: float | None = None  # shiquan validate, before the start
    restart_s: float | None = None  # start again on the same data, to the first answer


class Timed:
    """One keep-alive connection that sends requests one at a time; errors are counted and described."""

    def __init__(self, engine: Engine, result: Result, timeout_s: float):
        self.engine, self.result, self.timeout_s = engine, result, timeout_s
        self.conn = connect(engine.port, timeout_s)

    def send(self, req: Request, label: str) -> tuple[float, bytes | None]:
        """(ms, body) of one request; body None for an error, which is counted, described and printed."""
        started = time.perf_counter_ns()
        try:
            status, body = request(self.conn, "POST", req.path, req.body, req.accept)
        except (OSError, http.client.HTTPException) as exc:
            self.conn.close()
            self.conn = connect(self.engine.port, self.timeout_s)
            return self._error(label, f"{type(exc).__name__}: {exc}")
        elapsed = (time.perf_counter_ns() - started) / 1e6
        if status != 200 or not body:
            return self._error(label, f"HTTP {status}: {body[:200]!r}")
        return elapsed, body

    def _error(self, label: str, what: str) -> tuple[float, None]:
        self.result.error_count += 1
        description = f"{label}: {what}"
        if len(self.result.errors) < ERRORS_SHOWN:
            self.result.errors.append(description)
        say(f"{self.engine.name}: error: {description}")
        return 0.0, None

    def close(self) -> None:
        self.conn.close()


def check_sizes(engine: Engine, result: Result, templates: Sequence[Template], pools: Pools, args: argparse.Namespace) -> None:
    """Answer sizes of :data:`CHECK_SAMPLES` filled queries per template, the same for every engine."""
    client = Timed(engine, result, args.request_timeout)
    try:
        for template in templates:
            texts = fillings(template, pools, f"{args.seed}:check:{template.name}")
            for sample in range(CHECK_SAMPLES):
                _, body = client.send(sparql_request(engine, template, next(texts)), f"check {template.name}")
                try:
                    result.checks[(template.name, sample)] = "error" if body is None else answer_size(body, template.accept)
                except (ValueError, SyntaxError) as exc:
                    result.checks[(template.name, sample)] = f"unreadable answer: {exc}"
    finally:
        client.close()


def disagreements(results: Sequence[Result], templates: Sequence[Template]) -> list[str]:
    """Sampled queries on which measured engines gave different answer sizes (DESCRIBE: shiquan and oxigraph only)."""
    found = []
    checked = [r for r in results if r.checks]
    for template in templates:
        among = [r for r in checked if not template.graph_answer or r.name in ("shiquan", "oxigraph")]
        for sample in range(CHECK_SAMPLES):
            sizes = {r.name: r.checks.get((template.name, sample)) for r in among}
            if len(set(map(str, sizes.values()))) > 1:
                found.append(f"{template.name} sample {sample + 1}: " + ", ".join(f"{n} {s}" for n, s in sizes.items()))
    return found


def measure_latency(engine: Engine, result: Result, templates: Sequence[Template], pools: Pools, args: argparse.Namespace) -> None:
    """Per template, one client in sequence: ``--warmup`` untimed requests, then up to ``--requests-per-query``
    timed ones, stopping early once ``--duration`` seconds have gone by in them (after at least 3, answered or not)."""
    client = Timed(engine, result, args.request_timeout)
    try:
        for template in templates:
            texts = fillings(template, pools, f"{args.seed}:latency:{template.name}")
            label = f"latency {template.name}"
            for _ in range(args.warmup):
                client.send(sparql_request(engine, template, next(texts)), label)
            samples: list[float] = []
            errors = 0
            started = time.perf_counter()
            for sent in range(1, args.requests_per_query + 1):
                elapsed, body = client.send(sparql_request(engine, template, next(texts)), label)
                if body is None:
                    errors += 1
                else:
                    samples.append(elapsed)
                if sent >= 3 and time.perf_counter() - started > args.duration:
                    break
            result.latency[template.name] = samples
            result.latency_errors[template.name] = errors
            p50 = ms(percentile(samples, 50)) if samples else "-"
            say(f"{engine.name}: {template.name}: p50 {p50} ms over {len(samples)} requests, {errors} errors")
    finally:
        client.close()


def measure_rates(engine: Engine, result: Result, templates: Sequence[Template], pools: Pools, args: argparse.Namespace) -> None:
    """Throughput over the mix at each client count: client ``i`` cycles through the templates from template ``i``."""
    for clients in args.clients:
        def requests_for(index: int, clients: int = clients) -> Iterator[Request]:
            draws = mix(templates, pools, f"{args.seed}:throughput:{clients}:{index}", index)
            return (sparql_request(engine, template, text) for template, text in draws)

        rate = measure_throughput(engine.port, requests_for, clients, args.duration, args.request_timeout)
        result.rates.append(rate)
        result.error_count += rate.errors
        for failure in rate.failures:
            description = f"throughput at {clients} client{'s' if clients > 1 else ''}: {failure}"
            say(f"{engine.name}: error: {description}")
            if len(result.errors) < ERRORS_SHOWN:
                result.errors.append(description)
        say(f"{engine.name}: {clients} client{'s' if clients > 1 else ''}: {rate.per_second:.1f} requests/s, {rate.errors} errors")


def measure(engine: Engine, result: Result, templates: Sequence[Template], state: dict, args: argparse.Namespace) -> None:
    """Load, check and measure one engine (it is stopped by the caller). ``state`` carries the pools and earlier results.

    Raises BenchmarkError when the engine does not load or serve.
    """
    engine.prepare()
    result.validate_s = getattr(engine, "validated", None)
    say(f"{engine.name}: loading ...")
    with PeakMemory() as peak:
        started = time.perf_counter()
        try:
            engine.start(peak)
        except BenchmarkError as exc:
            raise BenchmarkError(f"did not load and answer: {exc}") from exc
        result.load_s = time.perf_counter() - started
        engine.settle()
    result.peak_rss = peak.peak
    result.phases = engine.phases
    result.version = engine.version()
    result.loaded = memory(engine.roots())
    say(f"{engine.name}: ready in {result.load_s:.1f} s on port {engine.port}; PSS {result.loaded.pss / MIB:.0f} MB")
    result.quads = engine.served_quads(args.ready_timeout)
    pools = fetch_pools(engine, args.request_timeout)
    if state.get("pools") is None:
        state["pools"], state["pools_from"] = pools, engine.name
    else:
        chosen: Pools = state["pools"]
        for name, rows in pools.rows.items():
            if rows != chosen.rows[name]:
                state["pool_differences"].append(
                    f"pool {name}: {engine.name} has {len(rows)} rows, {state['pools_from']} {len(chosen.rows[name])}"
                    f"{'' if len(rows) != len(chosen.rows[name]) else ' (different values)'}"
                )
    pools = state["pools"]  # the same requests for every engine
    check_sizes(engine, result, templates, pools, args)
    for line in disagreements([*state["results"], result], templates):
        say(f"ROW COUNTS DISAGREE: {line}")
    measure_latency(engine, result, templates, pools, args)
    measure_rates(engine, result, templates, pools, args)
    result.end = memory(engine.roots())
    result.restart_s = engine.restart()
    if result.restart_s is not None:
        say(f"{engine.name}: restarted on the same data, answering in {result.restart_s:.1f} s")


# ------------------------------------------------------------------ data


def count_lines(path: Path) -> int:
    """Lines of ``path`` that are neither empty nor comments: statements of an N-Triples or N-Quads file."""
    count = 0
    with open(path, "rb") as lines:
        for line in lines:
            stripped = line.strip()
            if stripped and not stripped.startswith(b"#"):
                count += 1
    return count


def run_logged(command: Sequence[str], log: Path, what: str, env: dict[str, str] | None = None) -> float:
    """Run ``command`` to its end (``env`` added to our environment), output in ``log``; return its seconds.
    Raises BenchmarkError when it fails."""
    started = time.perf_counter()
    process = spawn(command, log, env=env)
    try:
        process.wait()
    finally:
        stop_process(process)
    if process.returncode != 0:
        raise BenchmarkError(f"{what} failed with status {process.returncode}:\n{log_tail(log)}")
    return time.perf_counter() - started


def shiquan_command(*arguments: str) -> list[str]:
    """The ``shiquan`` command of this interpreter with ``arguments``."""
    script = Path(sys.executable).with_name("shiquan")
    return [str(script), *arguments] if script.is_file() else [sys.executable, "-m", "shiquan.cli", *arguments]


def prepare_data(args: argparse.Namespace, work: Path) -> tuple[Path, str]:
    """The data file, and a line saying what it is. Raises BenchmarkError when generating fails."""
    if args.data is not None:
        data = args.data.resolve()
        return data, f"{data}: {data.stat().st_size / MIB:,.0f} MB, {count_lines(data):,} triples"
    data = work / "national.nq"
    command = [sys.executable, str(NATIONAL), *args.generate, "-o", str(data)]
    say(f"generating: {shlex.join(command)}")
    log = work / "national.log"
    seconds = run_logged(command, log, "benchmarks/national.py")
    printed = dict(line.split(": ", 1) for line in log.read_text().splitlines() if ": " in line)
    triples = int(printed.get("triples", count_lines(data)))
    return data, (
        f"{data}: {data.stat().st_size / MIB:,.0f} MB, {triples:,} triples, plans {printed.get('plans', '?')} "
        f"(national.py {shlex.join(args.generate)}, {seconds:.1f} s)"
    )


def prepare_dataset(args: argparse.Namespace, data: Path, work: Path) -> tuple[Path, int, str, float | None, str]:
    """The N-Quads every engine loads: the export of ``data``, its quad count, a line saying what it is, the
    seconds the export took (None when given with --dataset) and a SHA-256 of its bytes.

    Raises BenchmarkError when the export fails.
    """
    seconds = None
    if args.dataset is not None:
        dataset = args.dataset.resolve()
        how = "given with --dataset"
    else:
        dataset = work / "dataset.nq"
        # An empty DUMPS_DIR: `shiquan export` reuses the dumps of a data version it published before; and no
        # STORE_CACHE_DIR: it reads the inferences from a kept store of the data when there is one (the cold figure
        # is the target's).
        dumps = work / "dumps"
        shutil.rmtree(dumps, ignore_errors=True)
        command = shiquan_command("export", "--data", str(data), "-o", str(dataset))
        say(f"exporting the dataset: SHIQUAN_DUMPS_DIR={dumps} SHIQUAN_STORE_CACHE_DIR= {shlex.join(command)}")
        env = {"SHIQUAN_DUMPS_DIR": str(dumps), "SHIQUAN_STORE_CACHE_DIR": ""}
        seconds = run_logged(command, work / "export.log", "shiquan export", env=env)
        how = f"shiquan export, {seconds:.1f} s"
    quads = count_lines(dataset)
    digest = export.file_sha256(dataset)
    line = f"{dataset}: {dataset.stat().st_size / MIB:,.0f} MB, {quads:,} quads ({how}), sha256 {digest[:16]}"
    return dataset, quads, line, seconds, digest


# ------------------------------------------------------------------ report


Row = tuple[str, dict[str, float | None], Callable[[float], str]]  # label, value per engine, format
NO_RATIO = ("quads served (dataset graphs)", "processes in the tree at end", "all phases")  # rows whose ratio means nothing


def comparison(title: str, rows: Sequence[Row], names: Sequence[str]) -> str:
    """A table with one column per engine and the ratio columns shiquan / oxigraph, shiquan / virtuoso."""
    others = [n for n in ("oxigraph", "virtuoso") if n in names and "shiquan" in names]
    header = [title, *names, *(f"shiquan/{n}" for n in others)]
    lines = []
    for label, values, fmt in rows:
        line = [label, *("-" if values.get(n) is None else fmt(values[n]) for n in names)]
        for other in others:
            a, b = values.get("shiquan"), values.get(other)
            line.append(f"{a / b:.2f}" if a is not None and b and label not in NO_RATIO else "-")
        lines.append(line)
    return render_table(header, lines)


def mb(value: float) -> str:
    return f"{value / MIB:,.0f}"


def figures(results: Sequence[Result], templates: Sequence[Template], clients: Sequence[int], state: dict) -> dict[str, float | None]:
    """The figures the targets are judged on, by name ("shiquan p50 a-payer-per-level", "virtuoso throughput 8",
    "shiquan restart", ...); None where not measured. Several runs are summed up by the median of each."""
    found: dict[str, float | None] = {
        "shiquan export": state.get("export_s"),
        "seed lookup http p50": state.get("seed", (None, None, None))[0],
        "seed lookup in-process p50": state.get("seed", (None, None, None))[1],
        "seed lookup replayed p50": state.get("seed", (None, None, None))[2],
    }
    for r in results:
        if r.missing or r.name not in ("shiquan", "virtuoso"):
            continue
        found[f"{r.name} ready"] = r.load_s
        found[f"{r.name} restart"] = r.restart_s
        found[f"{r.name} validate"] = r.validate_s
        found[f"{r.name} pss after load"] = r.loaded.pss / MIB if r.loaded else None
        found[f"{r.name} pss at end"] = r.end.pss / MIB if r.end else None
        for index, count in enumerate(clients):
            found[f"{r.name} throughput {count}"] = r.rates[index].per_second if index < len(r.rates) else None
        for t in templates:
            found[f"{r.name} p50 {t.name}"] = percentile(r.latency[t.name], 50) if r.latency.get(t.name) else None
    return found


def median_figures(runs: Sequence[dict[str, float | None]]) -> dict[str, float | None]:
    """Each figure's median over ``runs`` (of the runs that measured it)."""
    names = dict.fromkeys(name for run in runs for name in run)
    medians: dict[str, float | None] = {}
    for name in names:
        values = [run[name] for run in runs if run.get(name) is not None]
        medians[name] = statistics.median(values) if values else None
    return medians


def targets(found: dict[str, float | None], templates: Sequence[Template], clients: Sequence[int]) -> list[str]:
    """Issue 16's targets for shiquan, each PASS, FAIL or n/a (a figure not measured) with the figures behind it."""
    lines = []

    def verdict(name: str, needed: Sequence[str], test: Callable[..., bool], detail: Callable[..., str]) -> None:
        values = [found.get(key) for key in needed]
        missing = [key for key, value in zip(needed, values, strict=True) if value is None]
        if missing:
            lines.append(f"  n/a   {name}: not measured ({', '.join(missing)})")
        else:
            lines.append(f"  {'PASS' if test(*values) else 'FAIL'}  {name}: {detail(*values)}")

    for count in clients:
        verdict(f"throughput >= {TARGET_VS_VIRTUOSO:g}x virtuoso's at {count} client{'s' if count > 1 else ''}",
                [f"shiquan throughput {count}", f"virtuoso throughput {count}"],
                lambda mine, theirs: mine >= TARGET_VS_VIRTUOSO * theirs,
                lambda mine, theirs: f"{mine:.1f} vs {theirs:.1f} requests/s ({mine / theirs:.2f}x)")
    for t in templates:
        verdict(f"p50 <= {TARGET_P50_MS:g} ms and <= virtuoso's: {t.name}",
                [f"shiquan p50 {t.name}", f"virtuoso p50 {t.name}"],
                lambda mine, theirs: mine <= TARGET_P50_MS and mine <= theirs,
                lambda mine, theirs: f"{ms(mine)} ms vs {ms(theirs)} ms")
    verdict(f"restart on unchanged data <= {TARGET_RESTART_S:g} s", ["shiquan restart"],
            lambda s: s <= TARGET_RESTART_S, lambda s: f"{s:.1f} s")
    verdict(f"cold start with the inferences <= {TARGET_COLD_S:g} s", ["shiquan ready"],
            lambda s: s <= TARGET_COLD_S, lambda s: f"{s:.1f} s")
    verdict(f"shiquan validate <= {TARGET_VALIDATE_S:g} s", ["shiquan validate"],
            lambda s: s <= TARGET_VALIDATE_S, lambda s: f"{s:.1f} s")
    for when in ("after load", "at end"):
        verdict(f"memory {when} <= virtuoso's (PSS of the process tree)",
                [f"shiquan pss {when}", f"virtuoso pss {when}"],
                lambda mine, theirs: mine <= theirs, lambda mine, theirs: f"{mine:,.0f} vs {theirs:,.0f} MB")
    verdict(f"shiquan export <= {TARGET_EXPORT_S:g} s", ["shiquan export"],
            lambda s: s <= TARGET_EXPORT_S, lambda s: f"{s:.1f} s")
    verdict(f"seed graph, one-matter lookup over HTTP (a new text each request) <= {TARGET_SEED_RATIO:g}x in process",
            ["seed lookup http p50", "seed lookup in-process p50"],
            lambda http, inproc: http <= TARGET_SEED_RATIO * inproc,
            lambda http, inproc: f"{http:.2f} ms vs {inproc:.2f} ms ({http / inproc:.1f}x)")
    return lines


def report(
    args: argparse.Namespace,
    facts: list[str],
    lines_before: list[str],
    templates: Sequence[Template],
    results: list[Result],
    state: dict,
    seconds: float,
) -> str:
    """Everything the run found, as plain text."""
    names = [r.name for r in results]
    out = [
        "Shiquan scale benchmark: the same dataset on " + ", ".join(names),
        f"command: {shlex.join(sys.orig_argv)}",
        *facts,
        f"load average at the end: {'{:.2f} {:.2f} {:.2f}'.format(*os.getloadavg())}",
        *lines_before,
    ]
    for r in results:
        if r.missing:
            out.append(f"{r.name}: not measured: {r.missing}")
        elif r.failure:
            out.append(f"{r.name}: FAILED: {r.failure}")
        else:
            out.append(f"{r.name}: {r.version}")
    pools = state.get("pools")
    if args.skip:
        out.append(f"left out with --skip: {', '.join(sorted(args.skip))}")
    if pools is not None:
        out.append(
            f"mix: {len(templates)} templates in {MIX_DIR}; pools (from {state['pools_from']}): "
            + ", ".join(f"{n} {s:,}" for n, s in pools.sizes().items())
        )
    out += [
        (f"latency: per template, one keep-alive connection, {args.warmup} warm-up then up to {args.requests_per_query} timed "
         f"requests (fewer once {args.duration:g} s have gone by); p50/p95 by nearest rank, ms, answered requests only"),
        f"throughput: {args.duration:g} s per client count, one thread and one keep-alive connection per client, cycling the mix",
        "",
    ]

    def value(get: Callable[[Result], float | None]) -> dict[str, float | None]:
        values: dict[str, float | None] = {}
        for r in results:
            try:
                values[r.name] = get(r)
            except (AttributeError, IndexError, KeyError, TypeError):  # not measured, or not that far
                values[r.name] = None
        return values

    def seconds_(v: float) -> str:
        return f"{v:.1f}"

    def count(v: float) -> str:
        return f"{v:,.0f}"

    out.append(comparison("load and memory", [
        ("ready: load time (s)", value(lambda r: r.load_s), seconds_),
        ("restart on the same data (s)", value(lambda r: r.restart_s), seconds_),
        ("quads served (dataset graphs)", value(lambda r: r.quads), count),
        ("memory after load, PSS (MB)", value(lambda r: r.loaded.pss), mb),
        ("memory after load, RSS (MB)", value(lambda r: r.loaded.rss), mb),
        ("memory at end, PSS (MB)", value(lambda r: r.end.pss), mb),
        ("memory at end, RSS (MB)", value(lambda r: r.end.rss), mb),
        ("peak RSS while loading (MB)", value(lambda r: r.peak_rss), mb),
        ("processes in the tree at end", value(lambda r: r.end.processes), count),
    ], names))
    for r in results:
        if r.phases:
            out.append(f"  {r.name}: " + "; ".join(f"{what} {s:.1f} s" for what, s in r.phases))
    expected = state.get("dataset_quads")
    for r in results:
        if r.quads is not None and expected is not None and r.quads != expected:
            out.append(f"  !! {r.name} serves {r.quads:,} quads in the dataset's graphs; the dataset has {expected:,}")
    for percent in (50, 95):
        rows = [
            (t.name, value(lambda r, t=t, p=percent: percentile(r.latency[t.name], p) if r.latency.get(t.name) else None))
            for t in templates
        ]
        out += ["", comparison(f"latency p{percent} (ms)", [(n, v, ms) for n, v in rows], names)]
    short = [
        f"{r.name} {t.name} ({len(r.latency.get(t.name, []))} answered, {r.latency_errors.get(t.name, 0)} errors)"
        for r in results if r.latency for t in templates
        if len(r.latency.get(t.name, [])) < args.requests_per_query
    ]
    if short:
        out.append("  fewer timed requests than asked: " + "; ".join(short))
    rate_rows = [
        (f"{n} client{'s' if n > 1 else ''}", value(lambda r, i=i: r.rates[i].per_second), seconds_) for i, n in enumerate(args.clients)
    ]
    out += ["", comparison("throughput (requests/s)", rate_rows, names)]
    errors = value(lambda r: r.error_count if r.load_s is not None else None)
    out += ["", comparison("errors (non-200 or broken)", [("all phases", errors, count)], names)]
    for r in results:
        for description in r.errors:
            out.append(f"  {r.name}: {description}")
    out.append("")
    checked = [r.name for r in results if r.checks]
    problems = disagreements(results, templates) + state["pool_differences"]
    if len(checked) < 2:
        out.append(f"row-count check: {len(templates) * CHECK_SAMPLES} sampled queries; fewer than two engines answered, nothing compared")
    elif problems:
        out.append(f"!! ROW COUNTS DISAGREE on {len(problems)} of {len(templates) * CHECK_SAMPLES} sampled queries or pools:")
        out += [f"  !! {line}" for line in problems]
    else:
        out.append(
            f"row-count check: {', '.join(checked)} agree on all {len(templates) * CHECK_SAMPLES} sampled queries "
            "(DESCRIBE compared between shiquan and oxigraph only) and on every pool"
        )
    seed = state.get("seed")
    if seed is not None:
        out.append(f"seed graph (the project's data): one-matter lookup p50 {seed[0]:.2f} ms over HTTP with a new text "
                   f"each request, {seed[2]:.2f} ms with the same text (replayed from the answer cache), {seed[1]:.2f} ms "
                   f"in process on pyoxigraph ({SEED_REQUESTS} requests after {SEED_WARMUP} warm-up each)")
    out += ["", "targets (shiquan, this run):", *targets(figures(results, templates, args.clients, state), templates,
                                                          args.clients), ""]
    for r in results:
        if r.stopped:
            out.append(f"{r.name} {r.stopped}")
    out.append(f"total run time {seconds:.0f} s")
    return "\n".join(out)


# ------------------------------------------------------------------ main


@contextlib.contextmanager
def work_folder(path: Path | None) -> Iterator[Path]:
    """``path`` (made, kept), or a temporary folder removed at the end."""
    if path is not None:
        path.mkdir(parents=True, exist_ok=True)
        yield path.resolve()
        return
    with tempfile.TemporaryDirectory(prefix="shiquan-scale-") as folder:
        yield Path(folder)


def seed_lookup(work: Path) -> tuple[float, float, float]:
    """On the project's own (seed) graph: the one-matter lookup of benchmarks/endpoint.py, p50 in ms over HTTP on
    a started ``shiquan serve`` with a new text each request (run by a worker every time), over HTTP with the same
    text (replayed from the server's answer cache), and in process on pyoxigraph; the server and the in-process
    runs one after the other, never competing for the CPUs. The target is judged on the new texts.

    Raises BenchmarkError when the server does not start or answers wrongly."""
    import endpoint as seed_bench  # noqa: PLC0415  (beside this file; it loads the project's data in process)

    from shiquan import config
    from shiquan.graph import loading

    case = seed_bench.Case(seed_bench.LOOKUP_NAME, seed_bench.LOOKUP_QUERY)
    folder = work / "seed"
    folder.mkdir(exist_ok=True)
    server = Endpoint(folder, private_store=False)
    try:
        server.start()
        store = loading.build_store(config.settings()).store
        seed_bench.prepare([case], store)
        server.wait_ready()
        fresh = seed_bench.measure_http(server.port, case, SEED_REQUESTS, SEED_WARMUP, fresh=True)
        replayed = seed_bench.measure_http(server.port, case, SEED_REQUESTS, SEED_WARMUP)
    finally:
        server.stop()
    in_process = seed_bench.measure_pyoxigraph(store, case, SEED_REQUESTS, SEED_WARMUP)
    return percentile(fresh, 50), percentile(in_process, 50), percentile(replayed, 50)


def one_run(args: argparse.Namespace, work: Path, data: Path, facts: list[str], data_line: str,
            templates: Sequence[Template]) -> tuple[str, dict[str, float | None], bool, str | None]:
    """Export the dataset, measure every engine in turn and the seed lookup: the report, the figures, whether every
    engine that is installed was measured, and the export's SHA-256 (None when given with --dataset).

    Raises BenchmarkError when the dataset cannot be made.
    """
    started = time.perf_counter()
    results: list[Result] = []
    state: dict = {"pools": None, "pool_differences": [], "results": results}
    dataset, state["dataset_quads"], dataset_line, state["export_s"], digest = prepare_dataset(args, data, work)
    before = [f"data:    {data_line}", f"dataset: {dataset_line}"]
    for name in args.engines:
        folder = work / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir()
        engine = ENGINE_CLASSES[name](folder, data, dataset, args)
        result = Result(name)
        result.missing = engine.missing()
        if result.missing:
            say(f"{name}: not measured: {result.missing}")
            results.append(result)
            continue
        try:
            measure(engine, result, templates, state, args)
        except BenchmarkError as exc:
            result.failure = str(exc)
            say(f"{name}: FAILED: {exc}")
        finally:
            engine.stop()
            result.stopped = engine.stopped
        results.append(result)
    if "shiquan" in args.engines:
        state["seed"] = seed_lookup(work)
        say("seed graph: one-matter lookup p50 {:.2f} ms over HTTP, {:.2f} ms in process, {:.2f} ms replayed"
            .format(*state["seed"]))
    text = report(args, facts, before, templates, results, state, time.perf_counter() - started)
    return text, figures(results, templates, args.clients, state), not any(r.failure for r in results), \
        digest if state["export_s"] is not None else None


def summary(runs: Sequence[dict[str, float | None]], digests: Sequence[str | None], templates: Sequence[Template],
            clients: Sequence[int]) -> list[str]:
    """With several runs: each target figure per run and its median, the targets judged on the medians, and
    whether every run's export gave the same bytes."""
    medians = median_figures(runs)
    rows = [[name, *("-" if run.get(name) is None else f"{run[name]:,.2f}" for run in runs),
             "-" if medians[name] is None else f"{medians[name]:,.2f}"] for name in medians]
    header = ["figure (s, ms, MB, requests/s)", *(f"run {n}" for n in range(1, len(runs) + 1)), "median"]
    out = ["", f"median of {len(runs)} runs", render_table(header, rows)]
    made = [d for d in digests if d is not None]
    if len(made) > 1:
        out.append(f"export: {'the same bytes in every run' if len(set(made)) == 1 else '!! DIFFERENT BYTES between runs'}")
    return [*out, "", f"targets (shiquan, median of {len(runs)} runs):", *targets(medians, templates, clients)]


def run(args: argparse.Namespace) -> tuple[str, bool]:
    """Make the data, then ``--runs`` times: export the dataset and measure every engine; return the report and
    whether every engine that is installed was measured in every run.

    Raises BenchmarkError when the data, the dataset or the templates cannot be had.
    """
    facts = machine_facts(("pyoxigraph", "waitress", "flask"))
    templates = [t for t in read_templates() if t.name not in args.skip]
    texts, runs, digests, complete = [], [], [], True
    with work_folder(args.work_dir) as work:
        data, data_line = prepare_data(args, work)
        for number in range(1, args.runs + 1):
            if args.runs > 1:
                say(f"run {number} of {args.runs}")
            text, found, measured, digest = one_run(args, work, data, facts, data_line, templates)
            texts.append(text if args.runs == 1 else f"=== run {number} of {args.runs}\n{text}")
            runs.append(found)
            digests.append(digest)
            complete = complete and measured
    if args.runs > 1:
        texts.append("\n".join(summary(runs, digests, templates, args.clients)))
    return "\n".join(texts), complete


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM stops the run as Ctrl-C does: every engine started is stopped."""
    raise KeyboardInterrupt


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its report: 0, or 1 (see the module docstring), 130 on Ctrl-C or SIGTERM."""
    args = parse_args(argv)
    # Ctrl-C and SIGTERM stop the engines in order, even when we were started with SIGINT ignored (nohup, `&`).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        text, complete = run(args)
    except BenchmarkError as exc:
        print(f"scale benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; every engine started was stopped", file=sys.stderr)
        return 130
    print(text)
    return 0 if complete else 1


if __name__ == "__main__":
    sys.exit(main())
