"""Issue 16: the prepared store is kept on disk, keyed by everything that shapes it, and reopened at the next start.

Over a real socket: `shiquan serve` started twice on the same data answers the second time from the kept store
(/health says "cache": "reused"), rebuilds when a data file changed, refuses a damaged entry and rebuilds it, and
leaves no usable entry when killed halfway. In process: the key, the lock, the partial folder, pruning, reload.
Expected answers come from the data files: the Haidong plan's 文号 is 东政办〔2024〕96号 (its source text).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from shiquan import config, create_app
from shiquan.graph import loading, store_cache

from .conftest import DATA, HAIDONG_PLAN, serving
from .test_hardening import call, post_query, wait_until
from .test_reload import environment, shiquan

HAIDONG_NUMBER = "东政办〔2024〕96号"
NUMBER_QUERY = f"SELECT ?n WHERE {{ <{HAIDONG_PLAN}> <https://w3id.org/shiquan/ontology#documentNumber> ?n }}"


def entries(folder: Path) -> list[Path]:
    """The complete entries of a cache folder."""
    return sorted(p for p in folder.iterdir() if (p / store_cache.MANIFEST).exists()) if folder.exists() else []


def health(base: str) -> dict:
    reply = call(base, "GET", "/health")
    assert reply.status == 200, reply.body[:300]
    return reply.json()


def numbers(base: str) -> list[str]:
    reply = post_query(base, NUMBER_QUERY)
    assert reply.status == 200, reply.body[:300]
    return [row["n"]["value"] for row in reply.json()["results"]["bindings"]]


class Served:
    """`shiquan serve` over ``data`` keeping its store in ``cache`` (a subprocess in its own process group)."""

    def __init__(self, tmp_path: Path, data: Path, cache: Path, *extra: str):
        self.log = tmp_path / f"serve-{time.monotonic_ns()}.log"
        env = {**environment(tmp_path), "SHIQUAN_STORE_CACHE_DIR": str(cache)}
        with self.log.open("w") as out:
            self.process = subprocess.Popen(shiquan("serve", "--port", "0", "--host", "127.0.0.1", "--workers", "1",
                                                    "--data", str(data), *extra),
                                            stderr=out, env=env, start_new_session=True)

    def base(self) -> str:
        wait_until(lambda: re.search(r"http://127\.0\.0\.1:(\d+)/sparql", self.log.read_text())
                   or self.process.poll() is not None, "shiquan serve ready", timeout=90)
        found = re.search(r"http://127\.0\.0\.1:(\d+)/sparql", self.log.read_text())
        assert found, self.log.read_text()[-2000:]
        return f"http://127.0.0.1:{found.group(1)}"

    def kill(self) -> None:
        """SIGKILL to the whole process group: the server, its keeper, workers and any writer of the kept store."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(timeout=30)


@pytest.fixture()
def data(tmp_path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for path in DATA.glob("*.ttl"):
        shutil.copy(path, folder / path.name)
    return folder


def started(tmp_path: Path, data: Path, cache: Path, *extra: str) -> tuple[Served, str]:
    served = Served(tmp_path, data, cache, *extra)
    try:
        return served, served.base()
    except BaseException:
        served.kill()
        raise


def test_a_second_start_on_the_same_data_answers_from_the_kept_store(tmp_path, data):
    cache = tmp_path / "cache"
    first, base = started(tmp_path, data, cache)
    try:
        assert health(base)["store"]["cache"] == "missed"
        assert numbers(base) == [HAIDONG_NUMBER]
        wait_until(lambda: entries(cache), "the store kept on disk", timeout=60)
        version = health(base)["version"]
    finally:
        first.stop()
    second, base = started(tmp_path, data, cache)
    try:
        status = health(base)
        assert status["store"]["cache"] == "reused" and status["version"] == version
        assert numbers(base) == [HAIDONG_NUMBER]
        # then the dataset moves to memory in the background, and answers the same
        wait_until(lambda: health(base)["store"]["on"] == "memory", "the dataset moved to memory", timeout=60)
        assert numbers(base) == [HAIDONG_NUMBER] and health(base)["version"] == version
    finally:
        second.stop()
    assert len(entries(cache)) == 1


def test_a_changed_data_file_is_prepared_again(tmp_path, data):
    cache = tmp_path / "cache"
    first, base = started(tmp_path, data, cache)
    try:
        wait_until(lambda: entries(cache), "the store kept on disk", timeout=60)
        version = health(base)["version"]
    finally:
        first.stop()
    haidong = data / "haidong-dongzhengban-2024-96.ttl"
    haidong.write_text(haidong.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")  # bytes, not triples
    second, base = started(tmp_path, data, cache)
    try:
        status = health(base)
        assert status["store"]["cache"] == "missed" and status["version"] != version
        wait_until(lambda: len(entries(cache)) == 2, "a second entry", timeout=60)
    finally:
        second.stop()


def test_a_damaged_entry_is_refused_and_rebuilt(tmp_path, data):
    cache = tmp_path / "cache"
    first, _base = started(tmp_path, data, cache)
    try:
        wait_until(lambda: entries(cache), "the store kept on disk", timeout=60)
    finally:
        first.stop()
    (entry,) = entries(cache)
    for path in (entry / "store").iterdir():  # RocksDB's files garbled
        if path.is_file():
            path.write_bytes(b"garbage")
    second, base = started(tmp_path, data, cache)
    try:
        assert health(base)["store"]["cache"] == "missed"
        assert numbers(base) == [HAIDONG_NUMBER]
        wait_until(lambda: entries(cache), "the entry rebuilt", timeout=60)
    finally:
        second.stop()
    assert store_cache.find(settings_for(data, cache)) is not None


def settings_for(data: Path, cache: Path) -> dict:
    return config.settings({"DATA_PATHS": [str(data)], "STORE_CACHE_DIR": str(cache), "WORKERS": 1})


def test_a_server_killed_while_preparing_leaves_no_entry(tmp_path, data):
    cache = tmp_path / "cache"
    served = Served(tmp_path, data, cache, "--progress")
    wait_until(lambda: re.search("loading files|inferring", served.log.read_text()) or served.process.poll() is not None,
               "the server preparing", timeout=60)
    served.kill()
    assert not entries(cache)
    second, base = started(tmp_path, data, cache)
    try:
        assert health(base)["store"]["cache"] == "missed"
    finally:
        second.stop()


def test_no_store_cache_neither_reads_nor_writes(tmp_path, data):
    cache = tmp_path / "cache"
    served, base = started(tmp_path, data, cache, "--no-store-cache")
    try:
        assert health(base)["store"]["cache"] == "off"
        time.sleep(2)
    finally:
        served.stop()
    assert not cache.exists()


# ---------------------------------------------------------------- in process


@pytest.fixture()
def kg(data):
    return loading.build_store(config.settings({"DATA_PATHS": [str(data)]}))


def test_a_writer_stopped_halfway_leaves_a_partial_folder_that_is_never_used(tmp_path, data, kg, monkeypatch):
    cache, settings = tmp_path / "cache", settings_for(data, tmp_path / "cache")

    def killed(*_args, **_kwargs):
        raise KeyboardInterrupt  # as a kill in the middle of the bulk load

    monkeypatch.setattr(store_cache.ox.Store, "bulk_load", killed)
    with pytest.raises(KeyboardInterrupt):
        store_cache.write(kg, settings)
    monkeypatch.undo()
    assert [p.name.startswith(store_cache.PARTIAL) for p in cache.iterdir() if p.is_dir()] == [True]
    assert store_cache.find(settings) is None
    assert store_cache.write(kg, settings) is not None
    assert [p.is_dir() and not p.name.startswith(store_cache.PARTIAL) for p in cache.iterdir() if p.is_dir()] == [True]
    entry = store_cache.find(settings)
    assert entry is not None and entry.version == kg.version and entry.counts == kg.triples_per_graph


def test_a_second_writer_of_the_same_entry_waits_for_none_and_writes_nothing(tmp_path, data, kg):
    cache, settings = tmp_path / "cache", settings_for(data, tmp_path / "cache")
    cache.mkdir()
    name = store_cache.key(settings, kg.version)
    with open(cache / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another server writing it
        assert store_cache.write(kg, settings) is None
    assert not entries(cache)


def test_the_key_changes_with_the_data_shapes_validation_and_versions(tmp_path, data, monkeypatch):
    settings = settings_for(data, tmp_path / "cache")
    base = store_cache.key(settings, "v1")
    assert store_cache.key(settings, "v1") == base
    assert store_cache.key(settings, "v2") != base
    assert store_cache.key({**settings, "VALIDATE_ON_LOAD": False}, "v1") != base
    shapes = tmp_path / "shapes"
    shutil.copytree(settings["SHAPES_DIR"], shapes)
    assert store_cache.key({**settings, "SHAPES_DIR": str(shapes)}, "v1") == base
    first = sorted(shapes.glob("*.ttl"))[0]
    first.write_text(first.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert store_cache.key({**settings, "SHAPES_DIR": str(shapes)}, "v1") != base
    monkeypatch.setattr(store_cache.ox, "__version__", "0.0.0")
    assert store_cache.key(settings, "v1") != base


def test_only_the_newest_entries_are_kept(tmp_path):
    for number in range(store_cache.KEEP + 2):
        entry = tmp_path / f"entry{number}"
        entry.mkdir()
        (entry / store_cache.MANIFEST).write_text("{}")
        os.utime(entry / store_cache.MANIFEST, ns=(number * 10**9, number * 10**9))
    store_cache.prune(tmp_path)
    assert [p.name for p in entries(tmp_path)] == [f"entry{n}" for n in range(2, store_cache.KEEP + 2)]


def test_the_cache_is_off_for_an_empty_folder_an_on_disk_store_and_in_process_queries(tmp_path):
    settings = config.settings({"STORE_CACHE_DIR": str(tmp_path), "WORKERS": 2})
    assert store_cache.root(settings) == tmp_path
    assert store_cache.root({**settings, "STORE_CACHE_DIR": ""}) is None
    assert store_cache.root({**settings, "STORE_PATH": str(tmp_path / "store")}) is None
    assert store_cache.root({**settings, "WORKERS": 0}) is None
    assert store_cache.root({**settings, "STORE_CACHE_DIR": None}) == Path.home() / ".cache" / "shiquan" / "stores"


def test_a_reload_on_unchanged_data_reopens_the_kept_store(tmp_path, data):
    cache = tmp_path / "cache"
    app = create_app({"TESTING": True, "WORKERS": 1, "DATA_PATHS": [str(data)], "STORE_CACHE_DIR": str(cache)})
    runtime = app.extensions["shiquan"]
    try:
        assert runtime.status()["store"]["cache"] == "missed"
        wait_until(lambda: entries(cache), "the store kept on disk", timeout=60)
        outcome = runtime.reload()
        assert outcome["status"] == "switched" and outcome["version"] == outcome["previousVersion"]
        assert runtime.status()["store"]["cache"] == "reused"
        with serving(app) as base:
            assert numbers(base) == [HAIDONG_NUMBER]
            wait_until(lambda: runtime.status()["store"]["on"] == "memory", "the dataset moved to memory", timeout=60)
            assert numbers(base) == [HAIDONG_NUMBER]
    finally:
        runtime.close()
    assert json.loads((entries(cache)[0] / store_cache.MANIFEST).read_text())["version"] == outcome["version"]


def test_with_nothing_kept_the_files_are_not_hashed_to_look_for_an_entry(tmp_path, data, monkeypatch):
    # A cold start on national17 hashed its 1 GB before the keeper could be told to load it.
    settings = config.settings({"DATA_PATHS": [str(data)], "STORE_CACHE_DIR": str(tmp_path / "cache")})

    def hashed(files):
        raise AssertionError(f"hashed {files}")

    monkeypatch.setattr(loading, "version_of", hashed)
    assert store_cache.find(settings) is None
    (tmp_path / "cache" / "other-entry").mkdir(parents=True)
    (tmp_path / "cache" / "other-entry" / store_cache.MANIFEST).write_text("{}", encoding="utf-8")
    with pytest.raises(AssertionError, match="hashed"):
        store_cache.find(settings)
