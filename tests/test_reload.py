"""Issue 15, item 5: the running server picks up added or changed data without a restart, over a real socket.

The server starts on the project's data less the Haidong plan (the Qinghai and national plans it rests on conform
alone); the Haidong plan is then copied into its data folder and the server reloaded, by `Runtime.reload` while
clients query, by SIGHUP and by `shiquan reload` on a `shiquan serve` subprocess. Expected answers come from the
source text (data/sources/haidong-dongzhengban-2024-96.txt): the plan's 文号 东政办〔2024〕96号.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from shiquan import create_app
from shiquan.errors import Conflict

from .conftest import DATA, HAIDONG_PLAN, app_with, serving
from .test_hardening import call, post_query, process_alive, wait_until

ROOT = Path(__file__).resolve().parent.parent
HAIDONG_FILE = DATA / "haidong-dongzhengban-2024-96.ttl"
HAIDONG_NUMBER = "东政办〔2024〕96号"  # the source text's 文号
NUMBER_QUERY = f"SELECT ?n WHERE {{ <{HAIDONG_PLAN}> <https://w3id.org/shiquan/ontology#documentNumber> ?n }}"
# An assignment with none of what the shapes require of one (matter, level, payer, source text …).
INCOMPLETE = """@prefix sq: <https://w3id.org/shiquan/ontology#> .
<https://w3id.org/shiquan/id/assignment/reload-test-incomplete> a sq:Assignment .
"""
WORKERS = 2


def data_without_haidong(folder: Path) -> Path:
    """A data folder of the project's plans and registers, less the Haidong plan."""
    folder.mkdir()
    for path in DATA.glob("*.ttl"):
        if path != HAIDONG_FILE:
            shutil.copy(path, folder / path.name)
    return folder


def numbers(base: str) -> list[str]:
    """The Haidong plan's 文号 as the server at ``base`` answers (none before it is loaded)."""
    reply = post_query(base, NUMBER_QUERY)
    assert reply.status == 200, reply.body[:300]
    return [row["n"]["value"] for row in reply.json()["results"]["bindings"]]


def health(base: str) -> dict:
    reply = call(base, "GET", "/health")
    assert reply.status == 200, reply.body[:300]
    return reply.json()


class Clients:
    """``count`` threads posting the 文号 query to ``base`` one after another until stopped; each answer is kept
    as (status, 文号 found)."""

    def __init__(self, base: str, count: int = 4):
        self.base, self.answers, self._stop = base, [], threading.Event()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(count)]
        for thread in self.threads:
            thread.start()

    def _run(self) -> None:
        answers = []
        while not self._stop.is_set():
            reply = post_query(self.base, NUMBER_QUERY)
            found = [row["n"]["value"] for row in reply.json()["results"]["bindings"]] if reply.status == 200 else None
            answers.append((reply.status, found))
        self.answers.append(answers)

    def stop(self) -> list[list[tuple[int, list[str] | None]]]:
        self._stop.set()
        for thread in self.threads:
            thread.join(60)
        return self.answers


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A server with 2 query workers over the data less the Haidong plan; yields (runtime, base URL, data folder)."""
    folder = data_without_haidong(tmp_path_factory.mktemp("reload") / "data")
    app = create_app({"TESTING": True, "WORKERS": WORKERS, "DATA_PATHS": [str(folder)]})
    try:
        with serving(app, threads=16) as base:
            yield app.extensions["shiquan"], base, folder
    finally:
        app.extensions["shiquan"].close()


def test_a_refused_reload_keeps_the_old_dataset_and_says_why(live):
    runtime, base, folder = live
    before = health(base)
    bad = folder / "incomplete.ttl"
    bad.write_text(INCOMPLETE, encoding="utf-8")
    try:
        outcome = runtime.reload()
    finally:
        bad.unlink()
    assert outcome["status"] == "refused"
    assert "incomplete.ttl" in outcome["reasons"][0], outcome
    after = health(base)
    assert after["version"] == before["version"] and after["loadedAt"] == before["loadedAt"]
    assert after["reload"]["last"] == outcome and after["status"] == "ok"
    assert numbers(base) == []  # still the old dataset, still answering
    assert post_query(base, "ASK { ?s ?p ?o }").json()["boolean"] is True


def test_a_reload_of_a_file_that_cannot_be_read_is_refused_naming_its_line(live):
    runtime, base, folder = live
    before = health(base)
    broken = folder / "broken.ttl"
    broken.write_text("@prefix sq: <https://w3id.org/shiquan/ontology#> .\n<x> a\n", encoding="utf-8")
    try:
        outcome = runtime.reload()
    finally:
        broken.unlink()
    assert outcome["status"] == "refused" and outcome["reasons"][0].startswith(f"{broken}:3: "), outcome
    assert health(base)["version"] == before["version"]


def test_a_second_reload_while_one_runs_is_refused(live):
    runtime, base, _folder = live
    number = runtime.reloads
    first = threading.Thread(target=runtime.reload, daemon=True)
    first.start()
    wait_until(lambda: runtime.reloads == number + 1, "the first reload started", timeout=5)
    with pytest.raises(Conflict, match="a reload is already running"):
        runtime.reload()
    first.join(60)
    assert health(base)["reload"]["last"]["number"] == number + 1


def test_clients_querying_throughout_a_reload_get_no_failure_and_then_the_new_data(live):
    runtime, base, folder = live
    before = health(base)
    old_keeper = runtime.backend.keeper.process.pid
    assert numbers(base) == []
    clients = Clients(base)
    time.sleep(0.5)
    shutil.copy(HAIDONG_FILE, folder / HAIDONG_FILE.name)
    outcome = runtime.reload()
    time.sleep(0.5)
    answers = clients.stop()
    assert outcome["status"] == "switched" and outcome["previousVersion"] == before["version"]
    flat = [answer for thread in answers for answer in thread]
    assert len(flat) > 20 and [status for status, _ in flat if status != 200] == []
    for thread in answers:  # each client sees the old answer, then the new one, never back
        seen = [found for _, found in thread]
        switch = seen.index([HAIDONG_NUMBER])
        assert switch > 0, "a client saw no answer from the old dataset"
        assert set(map(tuple, seen[:switch])) <= {()} and set(map(tuple, seen[switch:])) == {(HAIDONG_NUMBER,)}
    after = health(base)
    assert after["version"] == outcome["version"] != before["version"] and after["loadedAt"] >= before["loadedAt"]
    assert after["reload"]["last"]["status"] == "switched" and after["status"] == "ok"
    assert not process_alive(old_keeper), "the old keeper was not closed"
    wait_until(lambda: runtime.pool.alive == WORKERS, "the new pool's workers up")


def test_after_a_reload_the_dumps_are_those_of_the_new_version(live):
    _runtime, base, _folder = live
    version = health(base)["version"]
    index = call(base, "GET", "/download", headers={"Accept": "application/json"})
    assert index.status == 200 and index.json()["version"] == version, index.body[:300]
    dump = call(base, "GET", "/download/shiquan.nq", timeout=60)
    assert dump.status == 200 and HAIDONG_NUMBER in dump.body.decode("utf-8")


def test_after_a_reload_the_new_keepers_death_is_still_noticed(live):
    runtime, base, _folder = live
    assert health(base)["reload"]["last"]["status"] == "switched"  # after the test above
    os.kill(runtime.backend.keeper.process.pid, signal.SIGKILL)
    wait_until(lambda: call(base, "GET", "/health").status == 503, "health 503", timeout=2)
    assert "the store process stopped" in call(base, "GET", "/health").json()["reasons"]


def test_an_on_disk_store_says_it_cannot_reload(tmp_path):
    with app_with(STORE_PATH=str(tmp_path / "store")) as app:
        with pytest.raises(Conflict, match="not supported with an on-disk store"):
            app.extensions["shiquan"].reload()
        body = app.test_client().get("/health").get_json()
    assert body["reload"] == {"supported": False,
                              "why": "reload is not supported with an on-disk store (STORE_PATH): restart the server"}


# ---------------------------------------------------------------- `shiquan serve` subprocess: SIGHUP, `shiquan reload`


def shiquan(*args: str) -> list[str]:
    return [sys.executable, "-m", "shiquan.cli", *args]


def environment(tmp_path: Path) -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT / "server"), "SHIQUAN_ASSETS_DIR": str(tmp_path / "assets")}


@pytest.fixture()
def served(tmp_path):
    """`shiquan serve` over the data less the Haidong plan, with a pid file; yields (base URL, data folder, pid
    file, process)."""
    folder, pid_file, log = data_without_haidong(tmp_path / "data"), tmp_path / "serve.pid", tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen(shiquan("serve", "--port", "0", "--host", "127.0.0.1", "--workers", "1",
                                           "--data", str(folder), "--pid-file", str(pid_file)),
                                   stderr=out, env=environment(tmp_path))
    try:
        wait_until(lambda: re.search(r"http://127\.0\.0\.1:(\d+)/sparql", log.read_text()) or process.poll() is not None,
                   "shiquan serve ready", timeout=90)
        found = re.search(r"http://127\.0\.0\.1:(\d+)/sparql", log.read_text())
        assert found, log.read_text()[-2000:]
        yield f"http://127.0.0.1:{found.group(1)}", folder, pid_file, process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    assert not pid_file.exists(), "the pid file outlived the server"


def test_sighup_reloads_a_shiquan_serve(served, tmp_path):
    base, folder, pid_file, process = served
    assert int(pid_file.read_text()) == process.pid
    assert numbers(base) == []
    shutil.copy(HAIDONG_FILE, folder / HAIDONG_FILE.name)
    process.send_signal(signal.SIGHUP)
    wait_until(lambda: (health(base)["reload"]["last"] or {}).get("status") == "switched", "reloaded", timeout=90)
    assert numbers(base) == [HAIDONG_NUMBER]


def reload_command(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(shiquan("reload", *args), capture_output=True, text=True, env=environment(tmp_path),
                          timeout=120)


def test_shiquan_reload_by_port_switches_and_says_to_what(served, tmp_path):
    base, folder, _pid_file, _process = served
    shutil.copy(HAIDONG_FILE, folder / HAIDONG_FILE.name)
    done = reload_command(tmp_path, "--port", base.rsplit(":", 1)[1])
    assert done.returncode == 0, done.stderr
    assert f"reloaded: serving version {health(base)['version']}" in done.stderr
    assert numbers(base) == [HAIDONG_NUMBER]


def test_shiquan_reload_by_pid_file_of_data_violating_the_shapes_exits_1_with_the_reasons(served, tmp_path):
    base, folder, pid_file, _process = served
    version = health(base)["version"]
    (folder / "incomplete.ttl").write_text(INCOMPLETE, encoding="utf-8")
    refused = reload_command(tmp_path, "--pid-file", str(pid_file), "--port", base.rsplit(":", 1)[1])
    assert refused.returncode == 1, refused.stderr
    assert f"reload refused; still serving version {version}" in refused.stderr
    assert "incomplete.ttl violates the shapes" in refused.stderr
    assert health(base)["version"] == version and numbers(base) == []


@pytest.mark.parametrize(("args", "message"), [
    (("--pid-file", "{tmp}/none.pid"), "{tmp}/none.pid: cannot read the pid file"),
    (("--pid-file", "{tmp}/bad.pid"), "{tmp}/bad.pid:1: no process id in the pid file"),
    (("--port", "1"), "no process of this user listens on port 1"),
], ids=["missing-pid-file", "pid-file-without-a-pid", "nothing-on-the-port"])
def test_shiquan_reload_exits_2_naming_what_it_cannot_use(tmp_path, args, message):
    (tmp_path / "bad.pid").write_text("serve\n")
    done = reload_command(tmp_path, *(arg.format(tmp=tmp_path) for arg in args))
    assert done.returncode == 2 and message.format(tmp=tmp_path) in done.stderr, done.stderr
