"""The table of every ruling as it is streamed (shiquan.publish.rulings.stream, /download/rulings.csv): the rows of
the assignments come as SPARQL CSV results from the workers, chunk by chunk with the next chunk read in a thread,
and the bytes are the same as the rulings read in this process one plan at a time.

The data are the project's plans and the hand-written test plans (tests/fixtures/compare/test-plans.ttl): 52
Haidong rulings from its source text, 5 of test plan 1 and 2 of test plan 2, two of them shared 60/40 and 70/30.
"""

from __future__ import annotations

import csv
import io
import time
import urllib.request

import pytest

from shiquan import config
from shiquan.graph import loading
from shiquan.publish import rulings, tables
from shiquan.sparql import run

from .conftest import DATA, FIXTURES, app_with, serving

DATA_PATHS = [str(DATA), str(FIXTURES / "compare" / "test-plans.ttl")]
RULINGS = 52 + 5 + 2


@pytest.fixture(scope="module")
def select():
    kg = loading.build_store(config.settings({"DATA_PATHS": DATA_PATHS}))
    return lambda text: run.run(kg.store, text)


@pytest.fixture(scope="module")
def site():
    with app_with(DATA_PATHS=DATA_PATHS, WORKERS=1) as app, serving(app, threads=4) as url:
        yield url


def one_plan_at_a_time(select, lang: str) -> bytes:
    """The CSV built from each plan's rulings read on its own (Reader.read, pyoxigraph terms, no thread)."""
    reader = rulings.Reader(select, lang)
    found = [r for plan in rulings.every_plan(select) for r in reader.read([plan])]
    return tables.csv_bytes(tables.ruling_header(lang), (tables.ruling_line(r, lang) for r in found))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_rulings_csv_over_http_is_the_same_bytes_as_the_rulings_read_plan_by_plan(site, select, lang):
    with urllib.request.urlopen(f"{site}/download/rulings.csv?lang={lang}", timeout=60) as response:
        body = response.read()
    assert body == one_plan_at_a_time(select, lang)
    assert len(list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))) == 1 + RULINGS


def test_streaming_a_plan_per_chunk_keeps_the_plans_order_and_every_ruling(select, monkeypatch):
    whole = [r.assignment for r in rulings.stream(select, "zh")]
    monkeypatch.setattr(rulings, "CHUNK", 1)
    assert [r.assignment for r in rulings.stream(select, "zh")] == whole
    assert len(whole) == len(set(whole)) == RULINGS


def test_a_stream_closed_early_stops_reading(select, monkeypatch):
    asked = []
    monkeypatch.setattr(rulings, "CHUNK", 1)
    stream = rulings.stream(lambda text: asked.append(text) or select(text), "zh")
    next(stream)
    stream.close()  # as the WSGI server does when the client goes away; returns once the thread is done
    before = len(asked)
    time.sleep(0.2)
    assert before > 0 and len(asked) == before  # nothing more is read after the close


def test_sparql_csv_results_are_read_with_quoted_lines_and_unbound_values_as_empty():
    body = 'a,quote,sub\r\nhttps://w3id.org/shiquan/id/assignment/x,"市级，\r\n确认为""市级""财政事权",\r\n'.encode()
    assert rulings.csv_rows(body) == [("https://w3id.org/shiquan/id/assignment/x", '市级，\r\n确认为"市级"财政事权', "")]
