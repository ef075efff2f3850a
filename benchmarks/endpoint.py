"""Latency and throughput of the SPARQL endpoint, next to the same queries run in process.

    python benchmarks/endpoint.py [--requests N] [--warmup N] [--clients 1,8] [--workers N]
                                  [--duration S] [--rdflib-requests N] [--rdflib-warmup N]

One run starts ``shiquan serve`` on a free loopback port and measures, for each example
query (``queries/*.rq``) and a one-matter lookup written here:

- latency over HTTP: p50 and p95 over one keep-alive connection (POST, form-encoded), and for the one-matter
  lookup with a new text each time the CPU each request cost the server process, its workers and this client
  (on a shared machine a steadier figure than the latency, which waits for other jobs' processes too);
- latency in process on pyoxigraph: ``query.run`` on the in-memory store of ``loading.build_store``;
- latency in process on rdflib's own SPARQL engine, over one rdflib Graph holding every
  named graph of ``loading.assemble`` (the union default graph the endpoint serves);

then throughput over HTTP at each client count, cycling through the query mix. The server replays
the answer of a request it answered before (its answer cache, ANSWER_CACHE_MB), so the same figures
are measured again with each request a new text (a comment numbering it appended), which every time
goes through Flask and a worker. It prints one plain-text table, the throughput, and whether the
one-matter lookup meets its target, HTTP p50 at most 3 times the in-process p50 (issue 16).

Only 127.0.0.1 is contacted: the server gets a private store folder and placeholder query-page
assets so that it fetches nothing. The server is stopped at the end, on errors and on Ctrl-C.
Exit status: 0 after a complete run; 1 when the data does not load, the server does not start or a
request fails; 2 on bad options; 130 on Ctrl-C.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import json
import os
import shlex
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyoxigraph as ox
from harness_common import (
    BenchmarkError,
    Endpoint,
    Request,
    Throughput,
    connect,
    machine_facts,
    measure_throughput,
    ms,
    percentile,
    render_table,
    request,
    time_calls,
)
from rdflib import Graph, URIRef

from shiquan import config
from shiquan.graph import loading
from shiquan.publish import export
from shiquan.sparql import run as query
from shiquan.errors import ShiquanError

PLAN = "https://w3id.org/shiquan/id/plan/haidong-dongzhengban-2024-96"
LOOKUP_NAME = "one-matter lookup"
# The payer at each level for one matter of one plan: the smallest question a researcher asks.
LOOKUP_QUERY = f"""\
PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
PREFIX sq: <https://w3id.org/shiquan/ontology#>

SELECT ?level ?payer
WHERE {{
    ?assignment sq:statedIn <{PLAN}> ;
        sq:matter ?matter ;
        sq:level ?level ;
        sq:payer ?payer .
    ?matter rdfs:label "专利奖励"@zh .
}}
ORDER BY ?level
"""
TARGET_RATIO = 3.0  # the target (issue 16): HTTP p50 ≤ 3 × the in-process p50 for a one-matter lookup
SPARQL_PATH = "/sparql"


@dataclass
class Case:
    """One query of the mix: its text, the media type asked for, and its answer size per engine."""

    name: str
    text: str
    accept: str = "application/sparql-results+json"
    body: bytes = b""
    rows: dict[str, int] = field(default_factory=dict)
    latency: dict[str, list[float]] = field(default_factory=dict)  # engine ("http", "http fresh", …) -> ms
    cpu_us: dict[str, float] = field(default_factory=dict)  # "server", "workers", "client" -> µs per request

    def fresh(self, number: int) -> bytes:
        """The request body of this query made a new text by a comment carrying ``number``: never replayed."""
        return urllib.parse.urlencode({"query": f"{self.text}\n# request {number}\n"}).encode("utf-8")


# ------------------------------------------------------------------ arguments and facts


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """The command-line options (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="timed requests per query, HTTP and pyoxigraph (default 500)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed requests per query before those (default 50)")
    parser.add_argument("--rdflib-requests", type=int, default=20, help="timed runs per query on rdflib (default 20)")
    parser.add_argument("--rdflib-warmup", type=int, default=2, help="untimed runs per query on rdflib (default 2)")
    parser.add_argument("--clients", default="1,8", help="comma-separated concurrent client counts for throughput (default 1,8)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of throughput measurement per client count (default 5)")
    parser.add_argument("--workers", type=int, default=None, help="query worker processes of the server (default: the server's own)")
    args = parser.parse_args(argv)
    try:
        args.clients = [int(c) for c in args.clients.split(",") if c.strip()]
    except ValueError:
        parser.error(f"--clients takes comma-separated integers, not {args.clients!r}")
    if args.requests < 1 or args.rdflib_requests < 1 or args.warmup < 0 or args.rdflib_warmup < 0:
        parser.error("--requests and --rdflib-requests must be at least 1, warm-ups at least 0")
    if not args.clients or min(args.clients) < 1 or args.duration <= 0:
        parser.error("--clients must name counts of at least 1 and --duration must be positive")
    return args


# ------------------------------------------------------------------ the query mix


def load_cases(settings: dict) -> list[Case]:
    """The example queries of QUERIES_DIR, in file order, then the one-matter lookup."""
    files = sorted(Path(settings["QUERIES_DIR"]).glob("*.rq"))
    cases = [Case(path.stem, path.read_text(encoding="utf-8")) for path in files]
    cases.append(Case(LOOKUP_NAME, LOOKUP_QUERY))
    return cases


def answer_size(answer: query.Answer) -> int:
    """Rows of a SELECT answer, triples of a graph answer, 1 for ASK."""
    return len(answer.triples) if answer.kind == "graph" else len(answer.rows) if answer.kind == "solutions" else 1


def prepare(cases: list[Case], store: ox.Store) -> None:
    """Run each case once on ``store`` to learn its kind, then set its Accept type and request body.

    Raises BenchmarkError for a query with an empty answer (nothing to measure).
    """
    for case in cases:
        answer = query.run(store, case.text)
        if answer_size(answer) == 0:
            raise BenchmarkError(f"{case.name}: the query has an empty answer")
        case.accept = "text/turtle" if answer.kind == "graph" else "application/sparql-results+json"
        case.body = urllib.parse.urlencode({"query": case.text}).encode("utf-8")


# ------------------------------------------------------------------ HTTP


def http_rows(case: Case, body: bytes) -> int:
    """Rows (SPARQL JSON) or triples (Turtle) in an HTTP answer."""
    if case.accept == "text/turtle":
        return sum(1 for _ in ox.parse(body, format=ox.RdfFormat.TURTLE))
    document = json.loads(body)
    return len(document["results"]["bindings"]) if "results" in document else 1


def measure_http(port: int, case: Case, requests: int, warmup: int, fresh: bool = False) -> list[float]:
    """Latency in ms of ``case`` over one keep-alive connection; sets ``case.rows["http"]``. With ``fresh``, each
    request is a new text (see :meth:`Case.fresh`; the bodies are made before the clock starts).

    Every response is checked after its timing: raises BenchmarkError for a status
    other than 200 or an empty body.
    """
    conn = connect(port)
    answers: list[tuple[int, bytes]] = []
    bodies = iter([case.fresh(number) for number in range(requests + warmup)] if fresh else [])

    def call() -> None:
        body = next(bodies) if fresh else case.body
        answers.append(request(conn, "POST", SPARQL_PATH, body, case.accept))

    try:
        samples = time_calls(call, requests, warmup)
    finally:
        conn.close()
    for status, body in answers:
        if status != 200 or not body:
            raise BenchmarkError(f"{case.name}: HTTP {status} with {len(body)} bytes: {body[:300]!r}")
    case.rows["http"] = http_rows(case, answers[-1][1])
    return samples


def cpu_seconds(pid: int) -> tuple[float, float]:
    """CPU seconds (user and system) used so far by process ``pid`` and by all its descendants, from /proc (Linux;
    (0, 0) elsewhere)."""
    tick, parents, spent = os.sysconf("SC_CLK_TCK"), {}, {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else ():
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue  # it ended meanwhile
        parents[int(entry)], spent[int(entry)] = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
    below, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - below
        below |= frontier
    return spent.get(pid, 0.0), sum(spent[child] for child in below)


def measure_cpu(server_pid: int, case: Case, measure: Callable[[], list[float]], requests: int) -> list[float]:
    """``measure()``'s samples; sets ``case.cpu_us``: the CPU each of its ``requests`` cost the server process, its
    descendants (the keeper and the workers) and this client, in µs."""
    client, (server, workers) = sum(os.times()[:2]), cpu_seconds(server_pid)
    samples = measure()
    client_after, (server_after, workers_after) = sum(os.times()[:2]), cpu_seconds(server_pid)
    case.cpu_us = {"server": (server_after - server) * 1e6 / requests, "workers": (workers_after - workers) * 1e6 / requests,
                   "client": (client_after - client) * 1e6 / requests}
    return samples


def measure_floor(port: int, requests: int, warmup: int) -> list[float]:
    """Latency in ms of GET /health: HTTP, waitress and Flask without a query or a worker.

    Raises BenchmarkError for a status other than 200.
    """
    conn = connect(port)
    statuses: list[int] = []
    try:
        samples = time_calls(lambda: statuses.append(request(conn, "GET", "/health")[0]), requests, warmup)
    finally:
        conn.close()
    if set(statuses) != {200}:
        raise BenchmarkError(f"/health answered {sorted(set(statuses))}")
    return samples


def cycle_from(cases: Sequence[Case], index: int) -> Iterator[Request]:
    """The mix as requests, endlessly, starting at query ``index``: client ``i`` starts at query ``i``."""
    requests = [Request(SPARQL_PATH, case.body, case.accept) for case in cases]
    return itertools.islice(itertools.cycle(requests), index % len(requests), None)


def fresh_from(cases: Sequence[Case], index: int) -> Iterator[Request]:
    """The mix as requests, endlessly, each a new text (:meth:`Case.fresh`), starting at query ``index``."""
    for number in itertools.count():
        case = cases[(index + number) % len(cases)]
        yield Request(SPARQL_PATH, case.fresh(number * 1000 + index), case.accept)


def throughput(port: int, cases: Sequence[Case], clients: int, duration_s: float, fresh: bool = False) -> Throughput:
    """``clients`` threads, each on its own keep-alive connection, cycle through ``cases`` for ``duration_s``
    (see :func:`harness_common.measure_throughput`), with ``fresh`` each request a new text."""
    source = fresh_from if fresh else cycle_from
    return measure_throughput(port, lambda index: source(cases, index), clients, duration_s)


# ------------------------------------------------------------------ in process


def measure_pyoxigraph(store: ox.Store, case: Case, requests: int, warmup: int) -> list[float]:
    """Latency in ms of ``query.run`` on ``store`` (parse, evaluate, read the whole answer); sets its rows."""
    case.rows["pyoxigraph"] = answer_size(query.run(store, case.text))
    return time_calls(lambda: query.run(store, case.text), requests, warmup)


def measure_rdflib(graph: Graph, case: Case, requests: int, warmup: int) -> list[float]:
    """Latency in ms of rdflib's own engine on ``graph`` (parse, evaluate, read every row); sets its rows."""
    case.rows["rdflib"] = len(list(graph.query(case.text)))
    return time_calls(lambda: list(graph.query(case.text)), requests, warmup)


def rdflib_union(settings: dict) -> Graph:
    """One rdflib Graph (in-memory store, so rdflib's own SPARQL engine) with every named graph and the inferences."""
    graph = Graph()
    for name, ntriples in export.assembled(settings).ntriples.items():
        graph += loading.parse_bytes(ntriples, "nt", name, URIRef(name))[URIRef(name)]
    if type(graph.store).__name__ != "Memory":  # oxrdflib would answer with pyoxigraph instead
        raise BenchmarkError(f"expected rdflib's Memory store, got {type(graph.store).__name__}")
    return graph


# ------------------------------------------------------------------ report


def table(cases: Sequence[Case]) -> str:
    """The latency table: one line per query, p50 and p95 per engine, and the answer size."""
    header = ["query", "HTTP p50", "HTTP p95", "new text p50", "p95", "pyoxigraph p50", "p95", "rdflib p50", "p95", "rows"]
    lines = []
    for case in cases:
        cells = [case.name]
        for engine in ("http", "http fresh", "pyoxigraph", "rdflib"):
            samples = case.latency[engine]
            cells += [ms(percentile(samples, 50)), ms(percentile(samples, 95))]
        sizes = [case.rows[e] for e in ("http", "pyoxigraph", "rdflib")]
        cells.append(str(sizes[0]) if len(set(sizes)) == 1 else "/".join(map(str, sizes)) + " (differ!)")
        lines.append(cells)
    return render_table(header, lines)


def report(
    args: argparse.Namespace,
    facts: list[str],
    endpoint: Endpoint,
    health: dict,
    cases: list[Case],
    floor: list[float],
    rates: list[tuple[str, Throughput]],
    seconds: float,
) -> str:
    """Everything the run found, as plain text; ``facts`` from :func:`machine_facts` at the start."""
    lookup = next(c for c in cases if c.name == LOOKUP_NAME)
    ox_p50 = percentile(lookup.latency["pyoxigraph"], 50)
    workers = health["workers"]
    lines = [
        "Shiquan SPARQL endpoint benchmark",
        f"command: {shlex.join(sys.orig_argv)}",
        f"server:  {shlex.join(endpoint.command)}",
        *facts,
        f"data:    {health['triples']} triples in {health['graphs']} graphs (version {health['version']}); "
        f"server workers: {workers['configured']} configured, {workers['alive']} alive",
        f"latency in ms: {args.requests} timed requests per query after {args.warmup} warm-up "
        f"(rdflib: {args.rdflib_requests} after {args.rdflib_warmup}); p50 and p95 by nearest rank; "
        "HTTP: the same text each time (answered again from the server's answer cache), "
        "new text: a numbered comment appended to each request (run by a worker every time)",
        "",
        table(cases),
        "",
        f"HTTP floor, GET /health (no query, no worker): p50 {ms(percentile(floor, 50))} ms, p95 {ms(percentile(floor, 95))} ms",
        "",
        f"throughput over HTTP, query mix of {len(cases)}, {args.duration:g} s each:",
    ]
    for label, rate in rates:
        lines.append(
            f"  {rate.clients:>2} client{'s' if rate.clients > 1 else ' '}, {label:9}: {rate.per_second:8.1f} requests/s "
            f"({rate.requests} in {rate.seconds:.2f} s), {rate.errors} errors"
        )
    lines.append("")
    for engine, label in (("http", "the same text"), ("http fresh", "a new text each time")):
        http_p50 = percentile(lookup.latency[engine], 50)
        ratio = http_p50 / ox_p50
        lines.append(f"{LOOKUP_NAME}, {label}: HTTP p50 {ms(http_p50)} ms / pyoxigraph p50 {ms(ox_p50)} ms = {ratio:.1f}x; "
                     f"target <= {TARGET_RATIO:g}x: {'meets' if ratio <= TARGET_RATIO else 'misses'}")
    cpu = lookup.cpu_us
    lines.append(f"{LOOKUP_NAME}, a new text each time: CPU per request {cpu['server']:.0f} µs in the server process, "
                 f"{cpu['workers']:.0f} µs in its workers, {cpu['client']:.0f} µs in this client")
    lines.append(f"server {endpoint.stopped}; total run time {seconds:.1f} s")
    return "\n".join(lines)


# ------------------------------------------------------------------ main


def run(args: argparse.Namespace) -> str:
    """Start the server, measure everything, stop the server; return the report.

    Raises BenchmarkError (see :class:`Endpoint` and :func:`measure_http`), and ShiquanError
    when the project's data cannot be loaded in process.
    """
    started = time.perf_counter()
    facts = machine_facts()
    settings = config.settings()
    cases = load_cases(settings)
    with tempfile.TemporaryDirectory(prefix="shiquan-bench-") as folder:
        endpoint = Endpoint(Path(folder), args.workers, private_store=False)
        try:
            endpoint.start()
            # Load the in-process engines while the server loads its own store.
            store = loading.build_store(settings).store
            graph = rdflib_union(settings)
            prepare(cases, store)
            health = endpoint.wait_ready()
            print(f"server ready on port {endpoint.port}; measuring {len(cases)} queries ...", file=sys.stderr)
            for case in cases:
                case.latency["http"] = measure_http(endpoint.port, case, args.requests, args.warmup)
                fresh = functools.partial(measure_http, endpoint.port, case, args.requests, args.warmup, fresh=True)
                case.latency["http fresh"] = (measure_cpu(endpoint.process.pid, case, fresh, args.requests + args.warmup)
                                              if case.name == LOOKUP_NAME else fresh())
            floor = measure_floor(endpoint.port, args.requests, args.warmup)
            rates = [(label, throughput(endpoint.port, cases, clients, args.duration, fresh))
                     for clients in args.clients for label, fresh in (("same text", False), ("new text", True))]
        finally:
            endpoint.stop()
    # In process only once the server has stopped, so that the two never compete for the CPUs.
    for case in cases:
        case.latency["pyoxigraph"] = measure_pyoxigraph(store, case, args.requests, args.warmup)
        case.latency["rdflib"] = measure_rdflib(graph, case, args.rdflib_requests, args.rdflib_warmup)
    return report(args, facts, endpoint, health, cases, floor, rates, time.perf_counter() - started)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its report; 1 when it cannot (see :func:`run`), 130 on Ctrl-C."""
    args = parse_args(argv)
    try:
        print(run(args))
    except (BenchmarkError, ShiquanError) as exc:
        print(f"endpoint benchmark failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; the server was stopped", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
