"""The table of every ruling as published files (shiquan.publish.tables.publish_rulings): written once per dataset
version by the keeper's kept child after the server is ready, served from DUMPS_DIR by /download/rulings.* with
Content-Length and an ETag, and streamed live until then, over a real socket.

The data are the project's plans and the hand-written test plans (tests/fixtures/compare/test-plans.ttl): 52
Haidong rulings from its source text, 5 of test plan 1 and 2 of test plan 2.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import shutil
import signal
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import openpyxl
import pytest

from shiquan.graph import store_cache
from shiquan.publish import export, tables

from .conftest import DATA, FIXTURES, app_with, serving

TEST_PLANS = FIXTURES / "compare" / "test-plans.ttl"
RULINGS = 52 + 5 + 2


def get(url: str, headers: dict | None = None) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def wait_for(condition, what: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {what} within {timeout} s")


def published(app, lang: str = "zh", extension: str = "csv") -> tables.TableFile | None:
    served = app.extensions["shiquan"]
    return tables.published_rulings(served.settings, served.version, lang, extension)


def cells(body: bytes) -> list[tuple]:
    sheet = openpyxl.load_workbook(io.BytesIO(body), read_only=True)["rulings"]
    return [tuple(row) for row in sheet.iter_rows(values_only=True)]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A server with a keeper over the test data, its tables written; yields (app, base URL, the live tables)."""
    dumps = tmp_path_factory.mktemp("dumps")
    with app_with(DATA_PATHS=[str(DATA), str(TEST_PLANS)], WORKERS=1, DUMPS_DIR=str(dumps)) as app, \
            serving(app, threads=4) as url:
        wait_for(lambda: published(app, "en", "xlsx"), "published tables")
        yield app, url


def live(app, url: str, path: str) -> tuple[int, Message, bytes]:
    """``path`` answered with the published tables out of the way (moved aside, then back)."""
    folder = published(app, "zh", path.split("?")[0].rsplit(".", 1)[1]).path.parent
    aside = folder.with_name("aside-" + folder.name)
    folder.rename(aside)
    try:
        return get(url + path)
    finally:
        aside.rename(folder)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_published_csv_is_served_with_length_and_etag_and_the_live_streams_bytes(site, lang):
    app, url = site
    status, headers, body = get(f"{url}/download/rulings.csv?lang={lang}")
    assert status == 200
    assert headers["Content-Length"] == str(len(body)) and headers["ETag"].startswith(f'"{app.extensions["shiquan"].version}-')
    assert headers["Content-Type"] == "text/csv; charset=utf-8"
    assert body.startswith(b"\xef\xbb\xbf") and body.count(b"\r\n") >= 1 + RULINGS
    live_status, live_headers, live_body = live(app, url, f"/download/rulings.csv?lang={lang}")
    assert live_status == 200 and "ETag" not in live_headers  # streamed as it is read
    assert body == live_body


def test_a_matching_etag_gets_304_without_a_body(site):
    _app, url = site
    _status, headers, _body = get(f"{url}/download/rulings.csv")
    status, _headers, body = get(f"{url}/download/rulings.csv", {"If-None-Match": headers["ETag"]})
    assert status == 304 and body == b""


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_published_xlsx_has_the_live_workbooks_cells(site, lang):
    app, url = site
    status, headers, body = get(f"{url}/download/rulings.xlsx?lang={lang}")
    assert status == 200 and headers["Content-Length"] == str(len(body))
    found = cells(body)
    assert len(found) == 1 + RULINGS and found[0] == tables.RULING_COLUMNS[lang]
    assert found == cells(live(app, url, f"/download/rulings.xlsx?lang={lang}")[2])


def test_a_damaged_file_is_never_served(site):
    app, url = site
    whole = published(app)
    original = whole.path.read_bytes()
    expected = get(f"{url}/download/rulings.csv")[2]
    try:
        whole.path.write_bytes(original[: len(original) // 2])  # cut short: not the size its manifest gives
        status, headers, body = get(f"{url}/download/rulings.csv")
        assert status == 200 and "ETag" not in headers and body == expected
    finally:
        whole.path.write_bytes(original)


def _killed_mid_write(folder: Path) -> None:
    """In a child: start publishing ``folder``, write half a table, and die by SIGKILL."""

    def write(work: Path) -> None:
        (work / "manifest.json").write_text('{"version": "x", "tables": []}', encoding="utf-8")
        (work / tables.ruling_filename("zh", "csv")).write_bytes(b"\xef\xbb\xbfhalf a table")
        os.kill(os.getpid(), signal.SIGKILL)

    export.written_once(folder, tables._read_tables, write)


def test_a_writer_killed_mid_write_leaves_a_partial_folder_that_is_never_served(tmp_path):
    with app_with(DATA_PATHS=[str(DATA), str(TEST_PLANS)], WORKERS=1, DUMPS_DIR=str(tmp_path)) as app, \
            serving(app, threads=4) as url:
        wait_for(lambda: published(app), "published tables")
        expected = get(f"{url}/download/rulings.csv")[2]
        folder = published(app).path.parent
        shutil.rmtree(folder)
        child = multiprocessing.get_context("fork").Process(target=_killed_mid_write, args=(folder,))
        child.start()
        child.join(20)
        assert child.exitcode == -signal.SIGKILL
        assert [p.name for p in tmp_path.iterdir() if p.name.startswith(export.PARTIAL)]
        assert not folder.exists() and published(app) is None
        status, headers, body = get(f"{url}/download/rulings.csv")
        assert status == 200 and "ETag" not in headers and body == expected  # live, never the partial file
        served = app.extensions["shiquan"]
        tables.publish_rulings(served.answer, served.settings, served.version)  # the next writer
        assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(export.PARTIAL)]
        status, headers, body = get(f"{url}/download/rulings.csv")
        assert headers["ETag"] == f'"{published(app).etag}"' and body == expected


def test_a_reload_serves_the_new_versions_table_never_the_old(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    for path in DATA.glob("*.ttl"):
        shutil.copy(path, data / path.name)
    with app_with(DATA_PATHS=[str(data)], WORKERS=1, DUMPS_DIR=str(tmp_path / "dumps")) as app, \
            serving(app, threads=4) as url:
        old = wait_for(lambda: published(app), "published tables")
        old_body = get(f"{url}/download/rulings.csv")[2]
        shutil.copy(TEST_PLANS, data / TEST_PLANS.name)  # 7 more rulings
        assert app.extensions["shiquan"].reload()["status"] == "switched"
        status, headers, body = get(f"{url}/download/rulings.csv")
        assert status == 200 and body != old_body and headers.get("ETag") != f'"{old.etag}"'
        assert body.count(b"\r\n") == old_body.count(b"\r\n") + 7
        new = wait_for(lambda: published(app), "the new version's tables")
        assert new.version == app.extensions["shiquan"].version != old.version
        status, headers, served = get(f"{url}/download/rulings.csv")
        assert headers["ETag"] == f'"{new.etag}"' and served == body


def test_a_server_started_from_the_store_cache_writes_the_tables_once_in_memory(tmp_path):
    settings = {"DATA_PATHS": [str(DATA)], "WORKERS": 1, "DUMPS_DIR": str(tmp_path / "dumps"),
                "STORE_CACHE_DIR": str(tmp_path / "stores")}
    with app_with(**settings) as app:
        wait_for(lambda: published(app, "en", "xlsx"), "the XLSX tables, written after the kept store")
        assert store_cache.find(app.extensions["shiquan"].settings)
        for extension in tables.TABLE_EXTENSIONS:  # as if the first server had stopped before writing them
            shutil.rmtree(published(app, "zh", extension).path.parent)
    with app_with(**settings) as app:
        assert app.extensions["shiquan"].backend.from_cache
        found = wait_for(lambda: published(app, "en", "xlsx"), "tables after the move to memory")
        assert found.version == published(app, "zh", "csv").version == app.extensions["shiquan"].version
