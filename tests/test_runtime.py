"""Every job bounded while it runs, over a real socket (waitress, real keeper and workers): issue 12, findings 2, 3,
5, 6 and 9.

Uploads cannot expand or nest without bound; a query that crashes the engine is answered 422 once, never run again,
and refused at once when repeated, while other clients are served; a job's memory is capped as it grows and an
answer's bytes as they are written; validation has workers of its own; every answer or error comes within its time
limit plus a second, waiting for a worker included; when the keeper dies, /health says 503 at once and
`shiquan serve` exits with status 3.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shiquan import create_app
from shiquan.runtime import pool

from .conftest import DATA, serving
from .test_hardening import ASK, Background, call, is_error_body, post_query, wait_until

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT_S = 2.0
VALIDATE_TIMEOUT_S = 3.0
JOB_MEMORY_MB = 256
RDF_XML = {"Content-Type": "application/rdf+xml"}
TURTLE = {"Content-Type": "text/turtle"}
JSON_LD = {"Content-Type": "application/ld+json"}
# pyoxigraph 0.5.13 aborts on these (docs/upstream-bugs.md): its sort finds its own order is not a total order.
CRASHER = ('SELECT ?x WHERE { VALUES ?x { 21 "26x" "97x" 67 10 1 38 "71x" "52x" "22x" "96x" "90x" 96 82 "99x" 6 70 '
           '51 "88x" "7x" "39x" "40x" "76x" 25 50 "46x" "43x" "81x" "88x" 86 24 93 "6x" } } ORDER BY ?x')


@contextlib.contextmanager
def server(**overrides):
    """A server as `shiquan serve` runs it (2 query workers, 1 validation worker), with ``overrides``."""
    app = create_app({"TESTING": True, "WORKERS": 2, "QUERY_TIMEOUT_S": TIMEOUT_S, "VALIDATE_TIMEOUT_S": VALIDATE_TIMEOUT_S,
                      "JOB_MEMORY_MB": JOB_MEMORY_MB, **overrides})
    try:
        with serving(app, threads=16) as base:
            yield app.extensions["shiquan"], base
    finally:
        app.extensions["shiquan"].close()


@pytest.fixture(scope="module")
def live():
    with server() as (runtime, base):
        yield runtime, base


@pytest.fixture()
def runtime(live):
    rt = live[0]
    wait_until(lambda: rt.pool.alive == 2 and rt.backend.side.alive == 1, "all workers alive")
    return rt


@pytest.fixture()
def base(live):
    return live[1]


def pids(workers) -> set[int]:
    return {worker.process.pid for worker in list(workers.workers)}


# ---------------------------------------------------------------- uploads (finding 2)

def laughs(levels: int = 9) -> bytes:
    """The billion laughs in RDF/XML: ``levels`` entities, each ten of the one before (9 levels: ~960 bytes, 10⁹
    "lol"s; it took a worker to 8.96 GB before)."""
    entities = ['<!ENTITY lol0 "lol">'] + [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, levels + 1)]
    return ('<?xml version="1.0"?>\n<!DOCTYPE rdf:RDF [\n' + "\n".join(entities) + "\n]>\n"
            '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">\n'
            f'<rdf:Description rdf:about="http://example.org/a"><ex:p>&lol{levels};</ex:p></rdf:Description>\n'
            "</rdf:RDF>\n").encode()


def deep_xml(levels: int) -> bytes:
    """RDF/XML nesting node and property elements ``levels`` times each (50,000: 31 s of CPU before)."""
    return ('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">'
            + "<rdf:Description><ex:p>" * levels + "x" + "</ex:p></rdf:Description>" * levels + "</rdf:RDF>").encode()


def deep_json_ld(levels: int) -> bytes:
    return b'{"@id": "http://example.org/a", "http://example.org/p": ' + b'{"http://example.org/p": ' * levels + b'1' + b"}" * (levels + 1)


def part_of_chain(links: int) -> bytes:
    """``links`` sq:partOf links in a chain (1,000: 26 KB whose OWL RL closure held a worker 60 s before)."""
    lines = ["@prefix sq: <https://w3id.org/shiquan/ontology#> .", "@prefix d: <https://w3id.org/shiquan/id/division/> ."]
    return "\n".join(lines + [f"d:c{i} sq:partOf d:c{i + 1} ." for i in range(links)]).encode()


UPLOADS = [
    pytest.param(laughs(), RDF_XML, "entity declarations are refused", id="billion-laughs"),
    pytest.param(laughs(1), RDF_XML, "entity declarations are refused", id="one-entity"),
    pytest.param(b'<?xml version="1.0"?>\n<!DOCTYPE r SYSTEM "file:///etc/passwd">\n<r/>', RDF_XML, "external DTD", id="external-dtd"),
    pytest.param(laughs().replace(b'<?xml version="1.0"?>', b'<?xml version="1.0" encoding="ISO-8859-1"?>'),
                 RDF_XML, "entity declarations are refused", id="entities-under-another-declared-encoding"),
    pytest.param(laughs().decode().encode("utf-16"), RDF_XML, "entity declarations are refused", id="entities-in-utf-16"),
    pytest.param(deep_xml(50_000), RDF_XML, "nested more than 1000 deep", id="rdf-xml-50000-deep"),
    pytest.param(deep_json_ld(5_000), JSON_LD, "nested more than 1000 deep", id="json-ld-5000-deep"),
]


@pytest.mark.parametrize("data,headers,message", UPLOADS)
def test_upload_that_could_expand_or_nest_is_refused_400_at_once_and_costs_no_worker(runtime, base, data, headers, message):
    before, replaced = pids(runtime.backend.side), runtime.backend.side.replaced
    reply = call(base, "POST", "/validate", data, headers)
    assert reply.status == 400 and is_error_body(reply), reply.body[:300]
    assert reply.json()["error"] == "bad_input" and message in reply.json()["message"]
    assert reply.seconds < 2.0, f"answered after {reply.seconds:.2f} s"
    assert pids(runtime.backend.side) == before and runtime.backend.side.replaced == replaced


def test_rdf_xml_nested_within_the_bound_is_read(runtime, base):
    reply = call(base, "POST", "/validate", deep_xml(400), RDF_XML)  # 801 elements deep
    assert reply.status == 200, reply.body[:300]


def test_upload_whose_worker_dies_is_not_run_again_on_the_next(runtime, base):
    side = runtime.backend.side
    before, replaced = pids(side), side.replaced
    upload = Background(lambda: call(base, "POST", "/validate", part_of_chain(1000), TURTLE), name="chain-upload")
    time.sleep(0.5)
    (victim,) = before
    os.kill(victim, signal.SIGKILL)
    reply = upload.result()
    assert reply.status == 503 and reply.json()["error"] == "unavailable", reply.body[:300]
    assert "not run again" in reply.json()["message"]
    wait_until(lambda: side.replaced == replaced + 1 and side.alive == 1, "the killed worker replaced")
    time.sleep(0.5)
    assert side.replaced == replaced + 1  # the upload killed no second worker


# ---------------------------------------------------------------- engine crashes (finding 3)

def test_query_that_crashes_the_engine_gets_422_is_not_run_again_and_is_refused_at_once_next_time(runtime, base):
    crashed, replaced = runtime.pool.crashed, runtime.pool.replaced
    text = CRASHER + " # first"
    first = post_query(base, text)
    assert first.status == 422 and is_error_body(first), first.body[:300]
    assert first.json()["error"] == "engine_fault" and "SIGABRT" in first.json()["message"]
    assert runtime.pool.crashed == crashed + 1  # one worker died: before, the retry killed a second one
    wait_until(lambda: runtime.pool.replaced == replaced + 1 and runtime.pool.alive == 2, "the crashed worker replaced")
    again = post_query(base, text)
    assert again.status == 422 and again.json()["error"] == "engine_fault", again.body[:300]
    assert "refused without running" in again.json()["message"] and again.seconds < 0.5
    assert runtime.pool.crashed == crashed + 1 and runtime.pool.replaced == replaced + 1


def _loop(base: str, text: str, stop_at: float, replies: list) -> None:
    while time.monotonic() < stop_at and len(replies) < 2000:
        replies.append(post_query(base, text, timeout=10))


@pytest.mark.parametrize("unique", [False, True], ids=["each-client-repeating-its-crasher", "a-new-crasher-each-time"])
def test_crash_loop_from_four_clients_leaves_a_bystander_served_with_p99_under_one_second(runtime, base, unique):
    stop_at = time.monotonic() + 8
    attackers = [[] for _ in range(4)]
    counter = iter(range(10**6))
    texts = [lambda i=i: CRASHER + f" # loop {unique} {i} {next(counter) if unique else ''}" for i in range(4)]
    threads = [threading.Thread(target=lambda i=i: _crash_loop(base, texts[i], stop_at, attackers[i]), daemon=True) for i in range(4)]
    for thread in threads:
        thread.start()
    bystander: list = []
    _loop(base, ASK, stop_at, bystander)
    for thread in threads:
        thread.join(timeout=30)
    seconds = sorted(reply.seconds for reply in bystander)
    p99 = seconds[int(0.99 * (len(seconds) - 1))]
    attacks = [reply for replies in attackers for reply in replies]
    print(f"\ncrash loop ({'unique' if unique else 'repeated'}): {len(attacks)} attacks, {runtime.pool.crashed} crashes so "
          f"far; bystander {len(bystander)} answers, p50 {seconds[len(seconds) // 2] * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, "
          f"max {seconds[-1] * 1000:.0f} ms")
    assert all(reply.status == 200 for reply in bystander), {reply.status for reply in bystander}
    assert p99 < 1.0
    assert attacks and all(reply.status in (422, 503) for reply in attacks), {reply.status for reply in attacks}


def _crash_loop(base: str, text, stop_at: float, replies: list) -> None:
    while time.monotonic() < stop_at and len(replies) < 2000:
        replies.append(post_query(base, text(), timeout=10))


# ---------------------------------------------------------------- memory and bytes (finding 6)

def _peak_growth(pids_before: dict[int, float], stop: threading.Event, peak: list) -> None:
    while not stop.is_set():
        for pid, start in pids_before.items():
            now = pool.anon_mb(pid)
            if now is not None:
                peak[0] = max(peak[0], now - start)
        time.sleep(0.01)


def test_string_doubling_is_stopped_at_the_job_memory_cap_while_it_runs():
    # CONCAT doubling to 2 GB (GROUP_CONCAT doubling reached 3.7 GB in one worker in 10 s before); a time limit that
    # a loaded machine cannot reach first.
    text = ('SELECT (STRLEN(?s21) AS ?n) WHERE { BIND("' + "y" * 1024 + '" AS ?s0) '
            + " ".join(f"BIND(CONCAT(?s{i}, ?s{i}) AS ?s{i + 1})" for i in range(21)) + " }")
    with server(QUERY_TIMEOUT_S=30.0) as (runtime, base):
        start = {pid: pool.anon_mb(pid) or 0.0 for pid in pids(runtime.pool)}
        stop, peak = threading.Event(), [0.0]
        sampler = threading.Thread(target=_peak_growth, args=(start, stop, peak), daemon=True)
        sampler.start()
        try:
            reply = post_query(base, text)
        finally:
            stop.set()
            sampler.join(timeout=5)
        print(f"\npeak growth of a worker: {peak[0]:.0f} MB (cap {JOB_MEMORY_MB} MB), answered in {reply.seconds:.2f} s")
        assert reply.status == 503 and reply.json()["error"] == "memory_limit", reply.body[:300]
        assert f"{JOB_MEMORY_MB} MB" in reply.json()["message"] and "JOB_MEMORY_MB" in reply.json()["message"]
        assert peak[0] < JOB_MEMORY_MB + 200
        assert post_query(base, ASK).status == 200


def _rss_mb() -> float:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_answer_over_max_result_bytes_is_422_and_never_reaches_the_web_process():
    # A 400 KB query whose answer is 400 MB (the web process grew to 1 GB before), under the default memory cap.
    values = " ".join(str(i) for i in range(1000))
    text = f'SELECT ?s WHERE {{ VALUES ?i {{ {values} }} BIND("{"z" * 400_000}" AS ?s) }}'
    with server(JOB_MEMORY_MB=1024, QUERY_TIMEOUT_S=30.0) as (_runtime, base):
        before = _rss_mb()
        reply = post_query(base, text)
        grown = _rss_mb() - before
    assert reply.status == 422 and reply.json()["error"] == "result_too_large", reply.body[:300]
    assert "MAX_RESULT_BYTES" in reply.json()["message"]
    assert grown < 150


# ---------------------------------------------------------------- validation apart (finding 5)

def test_uploads_that_hold_every_validation_worker_make_no_query_wait_and_health_says_degraded(runtime, base):
    uploads = [Background(lambda: call(base, "POST", "/validate", part_of_chain(1000), TURTLE), name=f"chain-{i}") for i in range(2)]
    time.sleep(0.3)
    health = call(base, "GET", "/health")
    probes = []
    while any(upload.running for upload in uploads):
        probes.append(post_query(base, ASK))
        time.sleep(0.1)
    replies = [upload.result() for upload in uploads]
    assert health.status == 200 and health.json()["status"] == "degraded", health.body[:300]
    assert any("validation requests wait" in reason for reason in health.json()["reasons"])
    assert probes and all(p.status == 200 for p in probes) and max(p.seconds for p in probes) < 1.0
    for reply in replies:  # one ran over its limit, the other waited for a worker until it: both within limit + 1 s
        assert reply.status == 503 and reply.json()["error"] == "query_timeout", reply.body[:300]
        assert reply.seconds < VALIDATE_TIMEOUT_S + 1, reply.seconds
    wait_until(lambda: call(base, "GET", "/health").json()["status"] == "ok", "health ok again")


def honest_upload(copies: int) -> bytes:
    """The project's data with the Haidong plan repeated ``copies`` times under other numbers (78: 4.9 MB)."""
    plan = (DATA / "haidong-dongzhengban-2024-96.ttl").read_text(encoding="utf-8")
    head = "\n".join(line for line in plan.splitlines() if line.startswith("@"))
    body = "\n".join(line for line in plan.splitlines() if not line.startswith("@"))
    registers = [(DATA / name).read_text(encoding="utf-8") for name in ("divisions.ttl", "bodies.ttl", "matters.ttl")]
    copies_text = [body.replace("haidong-dongzhengban-2024-96", f"haidong-dongzhengban-2024-{100 + i}") for i in range(copies)]
    return "\n".join([*registers, head, *copies_text]).encode()


def test_honest_five_mb_upload_validates_within_the_default_limit(runtime, base):
    data = honest_upload(78)
    assert 4.5e6 < len(data) < 5 * 1024 * 1024
    with server(VALIDATE_TIMEOUT_S=60.0, JOB_MEMORY_MB=1024) as (_rt, other):
        reply = call(other, "POST", "/validate", data, TURTLE, timeout=90)
    assert reply.status == 200, reply.body[:300]
    assert "conforms" in reply.json()


# ---------------------------------------------------------------- liveness (finding 9)

SLOW = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"


def test_queued_queries_get_their_answer_or_error_within_the_limit_plus_one_second(runtime, base):
    # Six queries that each run past the limit, on two workers (queued requests answered at 20–40 s before).
    clients = [Background(lambda: post_query(base, SLOW), name=f"queued-{i}") for i in range(6)]
    replies = [client.result() for client in clients]
    assert all(reply.status == 503 and reply.json()["error"] == "query_timeout" for reply in replies), [r.body[:100] for r in replies]
    assert max(reply.seconds for reply in replies) < TIMEOUT_S + 1, [round(r.seconds, 2) for r in replies]


def test_idle_workers_killed_from_outside_cost_the_next_query_nothing_and_are_replaced(runtime, base):
    # A dead idle worker is told by its closed pipe (pool._take) before any job is sent to it, so the next query
    # waits for a replacement instead of failing: no 503, no engine fault.
    replaced, crashed = runtime.pool.replaced, runtime.pool.crashed
    killed = pids(runtime.pool)
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    wait_until(lambda: not any(pool._ForkedProcess(pid).is_alive() for pid in killed), "both workers ended", timeout=5)
    reply = post_query(base, ASK + " # after the kill")
    assert reply.status == 200 and reply.json()["boolean"] is True, reply.body[:300]
    wait_until(lambda: runtime.pool.replaced >= replaced + 2 and runtime.pool.alive == 2, "both workers replaced")
    assert runtime.pool.crashed == crashed


def test_keeper_killed_health_is_503_at_once_and_queries_are_refused_at_once():
    with server() as (runtime, base):
        assert call(base, "GET", "/health").status == 200
        os.kill(runtime.backend.keeper.process.pid, signal.SIGKILL)
        started = time.monotonic()
        wait_until(lambda: call(base, "GET", "/health").status == 503, "health 503", timeout=2)
        assert time.monotonic() - started < 0.5
        health = call(base, "GET", "/health").json()
        assert health["status"] == "unavailable" and "the store process stopped" in health["reasons"]
        wait_until(lambda: post_query(base, ASK).status == 503, "queries refused", timeout=1)  # watched every 0.1 s
        reply = post_query(base, ASK)
        assert reply.status == 503 and reply.json()["error"] == "unavailable" and reply.seconds < 0.5, reply.body[:300]
        for pid in pids(runtime.pool):  # with no keeper to fork them again, killed workers stay gone
            os.kill(pid, signal.SIGKILL)
        wait_until(lambda: call(base, "GET", "/health").json()["workers"]["alive"] == 0, "no worker alive", timeout=5)
        assert "no query worker is running" in call(base, "GET", "/health").json()["reasons"]


def test_shiquan_serve_exits_with_status_3_when_its_keeper_dies(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "server"), "SHIQUAN_ASSETS_DIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "shiquan.cli", "serve", "--port", "0", "--host", "127.0.0.1"],
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        port, lines = None, []
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            lines.append(line)
            found = re.search(r"http://127\.0\.0\.1:(\d+)/sparql", line)
            port = found and int(found.group(1))
        assert port, "".join(lines)[-2000:]
        base = f"http://127.0.0.1:{port}"
        keeper = next(pid for pid in _children(process.pid) if _is_keeper(pid))
        os.kill(keeper, signal.SIGKILL)
        wait_until(lambda: call(base, "GET", "/health", timeout=5).status == 503, "health 503", timeout=1)
        assert process.wait(timeout=10) == 3
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        process.stderr.close()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat", "rb") as stat:
                    if int(stat.read().rsplit(b")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
            except (OSError, ValueError):
                continue
    return found


def _is_keeper(pid: int) -> bool:
    """The keeper is the server's child with children of its own (the workers it forked): spawned, or forked by
    `shiquan serve` as it starts (runtime.start_early), when its command line is the server's."""
    return bool(_children(pid))


def pid_job(kg, settings):
    """The worker's process id."""
    return os.getpid()


def test_jobs_in_a_row_go_to_the_worker_that_answered_last():
    # Taken in turn, each job of a seed lookup found a worker with cold caches: about 0.3 ms more CPU per job.
    from shiquan import config
    from shiquan.graph import dataset
    from shiquan.runtime import runtime

    settings = config.settings({"WORKERS": 2})
    keeper = pool.Keeper(dataset.prepare, settings, dict(runtime.JOBS, pid=pid_job))
    try:
        workers = pool.Pool(lambda: pool._ForkedWorker(keeper), 2, settings)
        try:
            pids = [workers.call(pool.Job("pid", {}), 10) for _ in range(10)]
            assert len(set(pids)) == 1 and workers.alive == 2
        finally:
            workers.close()
    finally:
        keeper.close()


RELEASE_PROBE = """
import ctypes
from shiquan.runtime import pool
libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
blocks = [libc.malloc(32 * 1024) for _ in range(2048)]  # 64 MB in the heap, under glibc's mmap threshold
for block in blocks:
    ctypes.memset(block, 1, 32 * 1024)
for block in blocks[:-1]:  # the last one stays, so that glibc cannot give the freed memory back from the top
    libc.free(block)
before = pool.anon_mb(__import__("os").getpid())
pool.release_free_memory()
print(before, pool.anon_mb(__import__("os").getpid()))
"""


@pytest.mark.skipif(pool._LIBC is None, reason="no glibc malloc_trim here")
def test_release_free_memory_gives_freed_heap_pages_back():
    """What the keeper does once its dataset is prepared: freed memory glibc kept (64 MB here, freed below a block
    still in use) leaves the process instead of staying resident, to be copied by each forked worker."""
    done = subprocess.run([sys.executable, "-c", RELEASE_PROBE], capture_output=True, text=True, check=True,
                          env=dict(os.environ, PYTHONPATH=os.pathsep.join(sys.path)))
    before, after = (float(word) for word in done.stdout.split())
    assert before - after > 56, (before, after)


def test_a_keeper_started_early_is_the_one_that_prepares_and_forks():
    # `shiquan serve` starts the keeper's process before it imports the web layer (runtime.start_early).
    from shiquan import config
    from shiquan.graph import dataset
    from shiquan.runtime import runtime

    settings = config.settings({"WORKERS": 1})
    runtime.start_early(settings)
    early = pool._early[0].pid
    keeper = pool.Keeper(dataset.prepare, settings, dict(runtime.JOBS, pid=pid_job))
    try:
        assert keeper.process.pid == early and pool._early is None
        workers = pool.Pool(lambda: pool._ForkedWorker(keeper), 1, settings)
        try:
            worker = workers.call(pool.Job("pid", {}), 10)
            assert _parent(worker) == early
        finally:
            workers.close()
    finally:
        keeper.close()


def test_no_keeper_is_started_early_for_a_store_on_disk_or_elsewhere(tmp_path):
    from shiquan import config
    from shiquan.runtime import runtime

    for overrides in ({"STORE_PATH": str(tmp_path)}, {"STORE_URL": "http://127.0.0.1:9/sparql"}, {"WORKERS": 0}):
        runtime.start_early(config.settings(overrides))
        assert pool._early is None


def test_a_keeper_started_early_and_not_used_ends_when_its_pipe_closes():
    pool.start_keeper_early()
    process, conn = pool._take_early()
    conn.close()
    process.join(timeout=30)
    assert process.exitcode == 0


def _parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", "rb") as stat:
        return int(stat.read().rsplit(b")", 1)[1].split()[1])


def test_a_keeper_forked_early_by_a_single_threaded_process_prepares_and_serves():
    # `shiquan serve` starts with one thread: its early keeper is forked, with the modules it imported.
    code = (
        "import os, threading\n"
        "from shiquan import config\n"
        "from shiquan.graph import dataset\n"
        "from shiquan.runtime import pool, runtime\n"
        "settings = config.settings({'WORKERS': 1})\n"
        "assert threading.active_count() == 1\n"
        "runtime.start_early(settings)\n"
        "early = pool._early[0]\n"
        "assert type(early).__name__ == 'ForkProcess', type(early)\n"
        "keeper = pool.Keeper(dataset.prepare, settings, runtime.JOBS)\n"
        "assert keeper.process is early\n"
        "workers = pool.Pool(lambda: pool._ForkedWorker(keeper), 1, settings)\n"
        "media, body = workers.call(pool.Job('query', {'text': 'SELECT (COUNT(*) AS ?n) WHERE { GRAPH ?g { ?s ?p ?o } }', "
        "'accept': 'text/csv'}), 30)\n"
        "print(body.decode().split()[-1], sum(keeper.counts.values()))\n"
        "workers.close(); keeper.close()\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT / "server"))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env, check=False)
    assert result.returncode == 0, result.stderr
    counted, described = result.stdout.split()
    assert counted == described
