"""Hardening of /sparql over a real socket, served by waitress with real worker processes.

Pathological queries are stopped within the time limit while other clients are served; a worker killed in the
middle of a request is not run again (503) and is replaced; 32 clients for a minute get only correct answers and the server's
memory stays flat (slow); malformed requests get a 4xx with a JSON message, never a 5xx, and never cost a worker.
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import random
import signal
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pyoxigraph as ox
import pytest

from shiquan import create_app

from .conftest import QUERIES, serving

TIMEOUT_S = 2.0
WORKERS = 2
THREADS = 16  # as `shiquan serve`
SOAK_SECONDS = 60
SOAK_CLIENTS = 32
SAMPLE_EVERY_S = 5
ASK = "ASK { ?s ?p ?o }"
JSON_RESULTS = "application/sparql-results+json"
NONE = "<http://example.org/none>"  # a property the data never uses: !NONE matches every edge


@dataclass
class Reply:
    status: int
    content_type: str
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


def call(base: str, method: str, target: str, body: bytes | None = None, headers: dict | None = None, timeout: float = 30.0) -> Reply:
    """One request on a connection of its own; only the headers given are sent (and Host, Content-Length)."""
    address = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=timeout)
    started = time.perf_counter()
    try:
        connection.request(method, target, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return Reply(response.status, response.getheader("Content-Type", ""), data, time.perf_counter() - started)
    finally:
        connection.close()


def post_query(base: str, text: str, accept: str = JSON_RESULTS, timeout: float = 30.0) -> Reply:
    body = urllib.parse.urlencode({"query": text}).encode()
    return call(base, "POST", "/sparql", body, {"Content-Type": "application/x-www-form-urlencoded", "Accept": accept}, timeout)


def count(reply: Reply) -> int:
    assert reply.status == 200, reply.body[:300]
    return int(reply.json()["results"]["bindings"][0]["n"]["value"])


def is_error_body(reply: Reply) -> bool:
    return reply.content_type.startswith("application/json") and set(reply.json()) == {"error", "message"}


def wait_until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"not within {timeout:g} s: {what}"
        time.sleep(0.05)


def process_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")
    except OSError:
        return False


def cpu_ticks(pid: int) -> int:
    """User plus system CPU time of ``pid`` in clock ticks (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def busy_worker(ticks: dict[int, int], timeout: float = 10.0) -> int:
    """The first of the workers in ``ticks`` (pid: CPU ticks before) to use 30 ms of CPU since."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for pid, before in ticks.items():
            if cpu_ticks(pid) - before >= 3:
                return pid
        time.sleep(0.01)
    raise AssertionError(f"no worker started on the query within {timeout:g} s")


def no_worker_lost(runtime, replaced: int, recycled: int) -> None:
    """Every worker replaced since the counts were taken was replaced for its memory (WORKER_MEMORY_MB), between
    jobs, not lost: a request that builds a big answer may push a worker over the limit."""
    wait_until(
        lambda: runtime.pool.alive == WORKERS and runtime.pool.replaced - replaced == runtime.pool.recycled - recycled,
        "no replacement but for memory",
    )


def worker_pids(runtime) -> set[int]:
    return {worker.process.pid for worker in list(runtime.pool.workers)}


class Background:
    """Run ``function`` in a thread; ``result()`` returns what it returned or raises what it raised."""

    def __init__(self, function: Callable[[], Any], name: str):
        self._outcome: list = []
        self.thread = threading.Thread(target=self._run, args=(function,), daemon=True, name=name)
        self.thread.start()

    def _run(self, function) -> None:
        try:
            self._outcome.append((True, function()))
        except BaseException as exc:  # noqa: BLE001 (handed to the test thread by result())
            self._outcome.append((False, exc))

    @property
    def running(self) -> bool:
        return self.thread.is_alive()

    def result(self, timeout: float = 60.0):
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"{self.thread.name} still running after {timeout:g} s"
        ok, value = self._outcome[0]
        if not ok:
            raise value
        return value


@pytest.fixture(scope="module")
def live():
    app = create_app({"TESTING": True, "WORKERS": WORKERS, "QUERY_TIMEOUT_S": TIMEOUT_S})
    try:
        with serving(app, threads=THREADS) as base:
            yield app.extensions["shiquan"], base
    finally:
        app.extensions["shiquan"].close()


@pytest.fixture()
def runtime(live):
    """The server's Runtime, once all its workers are up again after what earlier tests did to them."""
    rt = live[0]
    wait_until(lambda: rt.pool.alive == WORKERS, f"{WORKERS} workers alive")
    return rt


@pytest.fixture()
def base(live):
    return live[1]


# ---------------------------------------------------------------- 1. pathological queries

# Each runs far past the limit on the project's ~2 k triples (over 15 s when tried with a 15 s limit, or
# astronomically more), except the last, refused up front (400). A SELECT * may instead be refused as over
# MAX_RESULT_ROWS (422) when its first 100,000 rows come fast enough: the cross product does so in ~1.1 s here, the
# two-way path in ~2.0 s, so either 422 or 503. `?a (<p>|!<p>)* ?b` and `?a (!<p>)+ ?b` alone are not here: they
# finish in ~1.4 s and ~0.8 s (45,061 and 44,236 rows), under the limit, and so does `?a ((!<p>)*)* ?b` (~1.9 s).
VALUES_20K = "VALUES ?x { " + " ".join(str(i) for i in range(20_000)) + " }"
PATHOLOGICAL = [
    pytest.param("SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }", {503, 422}, id="cross-product"),
    pytest.param("SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }", {503}, id="count-over-cross-product"),
    pytest.param(f"SELECT (COUNT(*) AS ?n) WHERE {{ ?a ({NONE}|!{NONE})* ?b . ?c ({NONE}|!{NONE})* ?d }}", {503}, id="two-star-paths-over-everything"),
    pytest.param(f"SELECT * WHERE {{ ?a (!{NONE}|^!{NONE})+ ?b }}", {503, 422}, id="plus-path-both-ways-over-everything"),
    pytest.param(f"SELECT (COUNT(*) AS ?n) WHERE {{ ?a (!{NONE})+/(!{NONE})+/(!{NONE})+ ?b }}", {503}, id="sequence-of-plus-paths"),
    pytest.param(f"SELECT (COUNT(*) AS ?n) WHERE {{ ?a ((!{NONE})*/(!{NONE})*)* ?b }}", {503}, id="nested-star-paths"),
    pytest.param(f"SELECT (COUNT(*) AS ?n) WHERE {{ ?a ((!{NONE})+/(!{NONE})+)+ ?b }}", {503}, id="nested-plus-paths"),
    pytest.param(f"SELECT (COUNT(*) AS ?n) WHERE {{ {VALUES_20K} ?a ?b ?c . ?d ?e ?f }}", {503}, id="huge-values-join"),
    pytest.param(
        'SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i FILTER(REGEX(CONCAT(STR(?c), STR(?f), STR(?i)), "^(.*a){3}.*z$")) }',
        {503},
        id="regex-over-cross-product",
    ),
    pytest.param("SELECT * WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i } ORDER BY ?c ?f ?i LIMIT 1", {503}, id="order-by-over-cross-product"),
    pytest.param("SELECT * WHERE { ?a " + "(" * 300 + f"!{NONE}" + ")*" * 300 + " ?b }", {400}, id="star-paths-nested-300-deep"),
]


@pytest.mark.parametrize("text,statuses", PATHOLOGICAL)
def test_pathological_query_gets_an_error_within_the_limit_while_another_client_is_served(runtime, base, text, statuses):
    before, replaced, recycled = worker_pids(runtime), runtime.pool.replaced, runtime.pool.recycled
    slow = Background(lambda: post_query(base, text), name="pathological-client")
    probes: list[Reply] = []
    time.sleep(0.2)  # let the slow query take its worker
    while slow.running:
        probes.append(post_query(base, ASK))
        time.sleep(0.2)
    reply = slow.result()
    assert reply.status in statuses, reply.body[:300]
    assert reply.seconds < TIMEOUT_S + 1, f"answered after {reply.seconds:.2f} s"
    assert is_error_body(reply), reply.body[:300]
    assert all(p.status == 200 and p.json() == {"head": {}, "boolean": True} for p in probes), [p.body[:100] for p in probes]
    assert max((p.seconds for p in probes), default=0.0) < 1.0, [round(p.seconds, 3) for p in probes]
    if reply.status == 503:
        # stopped by the time limit, or sooner by the memory watchdog (JOB_MEMORY_MB: ORDER BY over the product)
        assert reply.json()["error"] in ("query_timeout", "memory_limit") and "limit" in reply.json()["message"]
        assert probes, "no other client was served while the query ran"
        assert len(before - worker_pids(runtime)) == 1  # its worker, and only it, was stopped …
        wait_until(lambda: runtime.pool.replaced > replaced and runtime.pool.alive == WORKERS, "the stopped worker replaced")
    else:  # … while a refusal costs no worker
        no_worker_lost(runtime, replaced, recycled)


def test_pool_is_back_to_two_workers_after_the_pathological_batch(live):
    rt, base = live
    wait_until(lambda: rt.pool.alive == WORKERS, f"{WORKERS} workers alive")
    health = call(base, "GET", "/health").json()
    assert health["status"] == "ok" and health["workers"]["alive"] == WORKERS
    assert all(process_alive(pid) for pid in worker_pids(rt)) and len(worker_pids(rt)) == WORKERS
    both = [Background(lambda: post_query(base, ASK), name=f"ask-{i}") for i in range(WORKERS)]
    assert all(b.result().status == 200 for b in both)


# ---------------------------------------------------------------- 2. a worker killed in mid-request

# 3,222,180 rows counted in 0.3–0.65 s here, depending on the machine's load (the unfiltered product, 4,884,100
# rows, 0.45–0.9 s): its worker is found busy and killed ~40 ms in.
SLOW_BUT_FINISHING = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f FILTER(isIRI(?f)) }"


def test_worker_killed_mid_request_is_not_run_again_the_client_gets_503_and_the_worker_is_replaced(runtime, base, caplog):
    # Before: the pool ran the job again on another worker, so a job that kills its worker killed two (issue 12,
    # findings 2 and 3). Now no job runs twice: a kill from outside is a 503 "unavailable" that says so.
    replaced, pids = runtime.pool.replaced, worker_pids(runtime)
    ticks = {pid: cpu_ticks(pid) for pid in pids}
    client = Background(lambda: post_query(base, SLOW_BUT_FINISHING), name="killed-worker-client")
    victim = busy_worker(ticks)
    assert client.running, "the query ended before its worker was killed: pick a slower one"
    os.kill(victim, signal.SIGKILL)
    reply = client.result()
    assert reply.status == 503 and is_error_body(reply), reply.body[:300]
    assert reply.json()["error"] == "unavailable" and "not run again" in reply.json()["message"]
    assert "killed from outside during a job; not run again" in caplog.text
    assert not process_alive(victim)
    assert pids - {victim} <= worker_pids(runtime)  # the other worker was never given the job, nor lost
    wait_until(lambda: runtime.pool.replaced > replaced and runtime.pool.alive == WORKERS, "the killed worker replaced")
    assert victim not in worker_pids(runtime)
    assert post_query(base, ASK).json() == {"head": {}, "boolean": True}


# ---------------------------------------------------------------- 3. soak

def _descendants(root: int) -> list[int]:
    """Processes under ``root`` (children, their children …), from the ppid in /proc/*/stat."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    ppid = int(stat.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children[ppid].append(int(entry))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0  # gone between listing and reading


def _canonical(reply: Reply, describe: bool) -> Any:
    """The answer in a form that compares equal however its rows or triples are ordered; raises when unparseable."""
    if describe:
        return sorted(str(triple) for triple in ox.parse(reply.body, format=ox.RdfFormat.TURTLE))
    answer = reply.json()
    if "boolean" in answer:
        return answer["boolean"]
    return answer["head"]["vars"], sorted(json.dumps(b, sort_keys=True, ensure_ascii=False) for b in answer["results"]["bindings"])


@dataclass
class _Tally:
    """One soak client's count of answers and errors, and a histogram of latencies in ms (bounded, unlike a list)."""

    requests: int = 0
    errors: int = 0
    first_errors: list = field(default_factory=list)
    latency_ms: collections.Counter = field(default_factory=collections.Counter)


def _soak_client(base: str, examples: list, expected: dict, offset: int, stop_at: float, tally: _Tally) -> None:
    """Cycle through the example queries on one keep-alive connection until ``stop_at``."""
    address = urllib.parse.urlsplit(base)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
    index = offset
    try:
        while time.monotonic() < stop_at:
            name, body, accept, describe = examples[index % len(examples)]
            index += 1
            started = time.perf_counter()
            try:
                connection.request("POST", "/sparql", body, {"Content-Type": "application/x-www-form-urlencoded", "Accept": accept})
                response = connection.getresponse()
                reply = Reply(response.status, response.getheader("Content-Type", ""), response.read(), 0.0)
                reply.seconds = time.perf_counter() - started
                if response.will_close:
                    connection.close()  # reopened by the next request
                if reply.status != 200:
                    raise AssertionError(f"{reply.status} {reply.body[:200]!r}")
                if _canonical(reply, describe) != expected[name]:
                    raise AssertionError("an answer differing from the first one")
            except Exception as exc:  # noqa: BLE001 (counted, and reported by the test)
                tally.errors += 1
                if len(tally.first_errors) < 10:
                    tally.first_errors.append(f"{name}: {exc!r}")
                connection.close()
                continue
            tally.requests += 1
            tally.latency_ms[int(reply.seconds * 1000)] += 1
    finally:
        connection.close()


def _percentile(histogram: collections.Counter, fraction: float) -> int:
    total, seen = sum(histogram.values()), 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= fraction * total:
            return value
    return 0


@pytest.mark.slow
def test_soak_thirty_two_clients_get_only_correct_answers_and_memory_stays_flat(runtime, base):
    examples = []
    for path in sorted(QUERIES.glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        describe = "DESCRIBE" in text or "CONSTRUCT" in text
        examples.append((path.name, urllib.parse.urlencode({"query": text}).encode(), "text/turtle" if describe else JSON_RESULTS, describe))
    expected = {}
    for name, body, accept, describe in examples:
        reply = call(base, "POST", "/sparql", body, {"Content-Type": "application/x-www-form-urlencoded", "Accept": accept})
        assert reply.status == 200, (name, reply.body[:300])
        expected[name] = _canonical(reply, describe)
    replaced = runtime.pool.replaced
    tallies = [_Tally() for _ in range(SOAK_CLIENTS)]
    started = time.monotonic()
    stop_at = started + SOAK_SECONDS
    clients = [
        threading.Thread(target=_soak_client, args=(base, examples, expected, i, stop_at, tallies[i]), daemon=True, name=f"soak-{i}")
        for i in range(SOAK_CLIENTS)
    ]
    for client in clients:
        client.start()
    # (seconds, this process's PSS, its descendants' PSS, number of descendants, requests so far), PSS in MiB. The
    # descendants are the keeper, the workers it forked and multiprocessing's resource tracker.
    samples = []
    print(f"\nsoak: {SOAK_CLIENTS} clients for {SOAK_SECONDS} s over {len(examples)} example queries, {WORKERS} workers")
    print("     t   server MiB  waitress (this process) MiB  descendants MiB (procs)  requests")
    for tick in range(1, SOAK_SECONDS // SAMPLE_EVERY_S + 1):
        time.sleep(max(0.0, started + tick * SAMPLE_EVERY_S - time.monotonic()))
        tree = _descendants(os.getpid())
        own, below = _pss_kib(os.getpid()) / 1024, sum(_pss_kib(pid) for pid in tree) / 1024
        samples.append((time.monotonic() - started, own, below, len(tree), sum(t.requests for t in tallies)))
        print(f"{samples[-1][0]:6.1f}  {own + below:11.1f}  {own:27.1f}  {below:15.1f} ({len(tree)})  {samples[-1][4]:8d}")
    for client in clients:
        client.join(timeout=60)
    elapsed = time.monotonic() - started
    requests, errors = sum(t.requests for t in tallies), sum(t.errors for t in tallies)
    latency = sum((t.latency_ms for t in tallies), collections.Counter())
    print(
        f"soak: {requests} answers, {errors} errors in {elapsed:.1f} s: {requests / elapsed:.0f} requests/s; "
        f"latency p50 {_percentile(latency, 0.5)} ms, p95 {_percentile(latency, 0.95)} ms, max {max(latency, default=0)} ms; "
        f"workers replaced {runtime.pool.replaced - replaced}"
    )
    assert not any(client.is_alive() for client in clients)
    assert errors == 0, [e for t in tallies for e in t.first_errors]
    assert all(t.requests > 0 for t in tallies) and runtime.pool.replaced == replaced
    third = max(1, len(samples) // 3)
    warm, last = samples[1 : 1 + third], samples[-third:]  # the first sample is warm-up
    for label, column in (("the whole server", lambda s: s[1] + s[2]), ("keeper, workers, resource tracker", lambda s: s[2]), ("this process (waitress)", lambda s: s[1])):
        baseline, final = sum(map(column, warm)) / len(warm), sum(map(column, last)) / len(last)
        print(f"soak: {label}: {baseline:.1f} MiB after warm-up, {final:.1f} MiB in the last third ({final - baseline:+.1f})")
        assert final <= baseline * 1.10 + 30, f"{label} grew from {baseline:.1f} to {final:.1f} MiB"


# ---------------------------------------------------------------- 4. malformed requests over the socket

FORM = {"Content-Type": "application/x-www-form-urlencoded"}
SPARQL_QUERY = {"Content-Type": "application/sparql-query"}
RANDOM_BYTES = random.Random(20250301).randbytes(4096)
FOUR_MIB = 4 * 1024 * 1024

MALFORMED = [
    pytest.param("GET", "/sparql?" + urllib.parse.urlencode({"query": "SELECT * WHERE { ?s ?p }"}), None, {}, 400, "bad_query", "error at 1:", id="syntax-error"),
    pytest.param("POST", "/sparql", RANDOM_BYTES, SPARQL_QUERY, 400, "bad_request", "not UTF-8", id="random-bytes-as-a-query"),
    pytest.param("POST", "/sparql", RANDOM_BYTES, FORM, 400, "bad_request", "missing query", id="random-bytes-as-a-form"),
    pytest.param("POST", "/sparql", RANDOM_BYTES, {}, 415, "unsupported_media_type", "no content type", id="random-bytes-without-a-content-type"),
    pytest.param("POST", "/sparql", b'SELECT * WHERE { ?s ?p "\xc3\x28" }', SPARQL_QUERY, 400, "bad_request", "not UTF-8 (byte 24)", id="invalid-utf8"),
    pytest.param("POST", "/sparql", b'ASK { FILTER("\xed\xa0\x80" = "a") }', SPARQL_QUERY, 400, "bad_request", "not UTF-8", id="encoded-surrogate"),
    pytest.param(
        "POST", "/sparql", 'ASK { ?s ?p "é" }'.encode("latin-1"), {"Content-Type": "application/sparql-query; charset=iso-8859-1"},
        400, "bad_request", "not UTF-8", id="latin1-charset",
    ),
    pytest.param(
        "POST", "/sparql", ('ASK { FILTER(STRLEN("' + "x" * FOUR_MIB + ') > 0) }').encode(), SPARQL_QUERY,
        400, "bad_query", f"error at 1:{FOUR_MIB + 30}", id="unterminated-4-mib-literal",
    ),
    pytest.param(
        "POST", "/sparql", ("SELECT * WHERE " + "{" * 5000 + " ?s ?p ?o " + "}" * 5000).encode(), SPARQL_QUERY,
        400, "bad_query", "5000 levels deep", id="deep-nesting",
    ),
    pytest.param(
        "POST", "/sparql", ("ASK { FILTER(" + "(" * 20_000 + "true" + ")" * 20_000 + ") }").encode(), SPARQL_QUERY,
        400, "bad_query", "levels deep", id="deep-parentheses",
    ),
    pytest.param("POST", "/sparql", ASK.encode(), {"Content-Type": "text/plain"}, 415, "unsupported_media_type", "text/plain", id="text-plain"),
    pytest.param("POST", "/sparql", json.dumps({"query": ASK}).encode(), {"Content-Type": "application/json"}, 415, "unsupported_media_type", "application/json", id="json"),
    pytest.param(
        "POST", "/sparql", b'--b\r\nContent-Disposition: form-data; name="query"\r\n\r\nASK { ?s ?p ?o }\r\n--b--\r\n',
        {"Content-Type": "multipart/form-data; boundary=b"}, 415, "unsupported_media_type", "multipart/form-data", id="multipart-form",
    ),
    pytest.param("POST", "/sparql", b"DROP ALL", {"Content-Type": "application/sparql-update"}, 403, "forbidden", "read-only", id="sparql-update-body"),
    pytest.param("POST", "/sparql", b"#" * (6 * 1024 * 1024) + b"\n" + ASK.encode(), SPARQL_QUERY, 413, "payload_too_large", "5242880", id="body-over-the-limit"),
    pytest.param("GET", "/sparql?" + urllib.parse.urlencode({"query": ASK}), None, {"Accept": "image/png"}, 406, "not_acceptable", "sparql-results+json", id="accept-nothing-we-make"),
]


@pytest.mark.parametrize("method,target,body,headers,status,code,message", MALFORMED)
def test_malformed_request_over_the_socket_gets_a_4xx_with_a_json_message(runtime, base, method, target, body, headers, status, code, message):
    replaced, recycled = runtime.pool.replaced, runtime.pool.recycled
    reply = call(base, method, target, body, headers)
    assert reply.status == status, reply.body[:300]
    assert is_error_body(reply) and reply.json()["error"] == code, reply.body[:300]
    assert message in reply.json()["message"]
    no_worker_lost(runtime, replaced, recycled)


def test_four_mib_literal_in_a_query_under_the_body_limit_is_answered(runtime, base):
    reply = call(base, "POST", "/sparql", ('SELECT (STRLEN("' + "x" * FOUR_MIB + '") AS ?n) WHERE {}').encode(), SPARQL_QUERY | {"Accept": JSON_RESULTS})
    assert count(reply) == FOUR_MIB


# Server bugs this file found, each fixed since: a stack overflow in the parser from chains of ! or from
# brackets an IRI-like span hid from the depth check, forms capped at 500 kB, invalid UTF-8 turned into U+FFFD.

def test_long_chain_of_negations_is_refused_as_too_deep_without_losing_a_worker(runtime, base):
    before = worker_pids(runtime)
    reply = call(base, "POST", "/sparql", ("ASK { FILTER(" + "!" * 20_000 + "true) }").encode(), SPARQL_QUERY)
    assert reply.status == 400 and is_error_body(reply), reply.body[:300]
    assert all(process_alive(pid) for pid in before)


def test_brackets_that_look_like_an_iri_to_the_nesting_check_are_refused_without_losing_a_worker(runtime, base):
    before = worker_pids(runtime)
    text = "ASK { FILTER(?x<" + "(" * 20_000 + "1" + ")" * 20_000 + "&&?y>0) }"
    reply = call(base, "POST", "/sparql", text.encode(), SPARQL_QUERY)
    assert reply.status == 400 and is_error_body(reply), reply.body[:300]
    assert all(process_alive(pid) for pid in before)


def test_form_encoded_query_with_a_one_mb_literal_under_the_body_limit_is_answered(runtime, base):
    size = 1_000_000
    body = urllib.parse.urlencode({"query": 'SELECT (STRLEN("' + "x" * size + '") AS ?n) WHERE {}'}).encode()
    reply = call(base, "POST", "/sparql", body, FORM | {"Accept": JSON_RESULTS})
    assert reply.status == 200, reply.body[:300]
    assert count(reply) == size


def test_invalid_utf8_in_a_query_string_is_400(runtime, base):
    reply = call(base, "GET", "/sparql?query=ASK%20%7B%20%3Fs%20%3Fp%20%22%FF%22%20%7D")
    assert reply.status == 400 and is_error_body(reply), reply.body[:300]
