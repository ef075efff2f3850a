"""The endpoint over a real socket, served by waitress (as `shiquan serve` does) with real worker processes."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pyoxigraph as ox
import pytest
from SPARQLWrapper import CSV, JSON, JSONLD, N3, RDFXML, TSV, TURTLE, XML, SPARQLWrapper

from shiquan import create_app
from shiquan.sparql import results as query

from .conftest import QUERIES, serving
from .test_queries import EXPECTED_ANSWERS

TIMEOUT_S = 2.0
CROSS_PRODUCT = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i }"
SELECT_FORMATS = {
    JSON: ox.QueryResultsFormat.JSON,
    XML: ox.QueryResultsFormat.XML,
    CSV: ox.QueryResultsFormat.CSV,
    TSV: ox.QueryResultsFormat.TSV,
}
GRAPH_FORMATS = {TURTLE: ox.RdfFormat.TURTLE, RDFXML: ox.RdfFormat.RDF_XML, JSONLD: ox.RdfFormat.JSON_LD, N3: ox.RdfFormat.TURTLE}


@pytest.fixture(scope="module")
def live():
    app = create_app({"TESTING": True, "WORKERS": 2, "QUERY_TIMEOUT_S": TIMEOUT_S})
    try:
        with serving(app, threads=8) as url:
            yield app, url
    finally:
        app.extensions["shiquan"].close()


@pytest.fixture(scope="module")
def endpoint(live):
    return live[1] + "/sparql"


def answer_from(raw: bytes, kind: str, fmt) -> query.Answer:
    """Read an HTTP answer back into an Answer, so the example queries' own checks apply to it."""
    if kind == "graph":
        return query.Answer("graph", triples=list(ox.parse(raw, format=fmt)))
    if fmt == ox.QueryResultsFormat.CSV:  # CSV results keep only lexical values
        rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
        values = [tuple(ox.Literal(v) if v else None for v in row) for row in rows[1:]]
        return query.Answer("solutions", variables=rows[0], rows=values)
    parsed = ox.parse_query_results(raw, format=fmt)
    if isinstance(parsed, ox.QueryBoolean):
        return query.Answer("boolean", boolean=bool(parsed))
    names = [v.value for v in parsed.variables]
    return query.Answer("solutions", variables=names, rows=[tuple(s[n] for n in names) for s in parsed])


def example_cases():
    for path in sorted(QUERIES.glob("*.rq")):
        formats = GRAPH_FORMATS if "DESCRIBE" in path.read_text(encoding="utf-8") else SELECT_FORMATS
        for client_format, parse_format in formats.items():
            yield pytest.param(path.name, client_format, parse_format, id=f"{path.stem}-{client_format}")


@pytest.mark.parametrize("name,client_format,parse_format", list(example_cases()))
def test_sparqlwrapper_gets_the_expected_answer_in_each_format(endpoint, name, client_format, parse_format):
    client = SPARQLWrapper(endpoint)
    client.setMethod("POST")
    client.setQuery((QUERIES / name).read_text(encoding="utf-8"))
    client.setReturnFormat(client_format)
    raw = client.query().response.read()
    kind = "graph" if client_format in GRAPH_FORMATS else "solutions"
    EXPECTED_ANSWERS[name](answer_from(raw, kind, parse_format))


def test_county_matters_over_http(endpoint):
    client = SPARQLWrapper(endpoint)
    client.setQuery((QUERIES / "02-county-level-matters.rq").read_text(encoding="utf-8"))
    client.setReturnFormat(JSON)
    labels = {b["label"]["value"] for b in client.queryAndConvert()["results"]["bindings"]}
    assert "专利奖励" in labels


def get(url: str, timeout: float = 30) -> tuple[int, bytes, float]:
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read(), time.perf_counter() - started
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), time.perf_counter() - started


def test_query_over_the_time_limit_is_stopped_while_others_are_served(endpoint):
    slow: dict = {}
    thread = threading.Thread(target=lambda: slow.update(result=get(endpoint + "?" + urllib.parse.urlencode({"query": CROSS_PRODUCT}))))
    thread.start()
    time.sleep(0.3)
    status, body, seconds = get(endpoint + "?" + urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"}))
    assert status == 200 and seconds < 1.0
    thread.join(timeout=30)
    status, body, seconds = slow["result"]
    assert status == 503 and b"query_timeout" in body and b"limit" in body
    assert seconds < TIMEOUT_S + 1


def test_stopped_worker_is_replaced(live, endpoint):
    runtime = live[0].extensions["shiquan"]
    replaced = runtime.pool.replaced
    status, body, _seconds = get(endpoint + "?" + urllib.parse.urlencode({"query": CROSS_PRODUCT}))
    assert status == 503, body
    deadline = time.time() + 30
    while (runtime.pool.replaced <= replaced or runtime.pool.alive < 2) and time.time() < deadline:
        time.sleep(0.1)
    assert runtime.pool.replaced > replaced and runtime.pool.alive == 2


def test_killed_worker_is_replaced_and_the_server_keeps_answering(live, endpoint):
    runtime = live[0].extensions["shiquan"]
    victim = next(iter(runtime.pool.workers))
    os.kill(victim.process.pid, signal.SIGKILL)
    victim.process.join(timeout=5)
    for _ in range(4):
        status, body, _seconds = get(endpoint + "?" + urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"}))
        assert status == 200 and b"true" in body
    deadline = time.time() + 30
    while runtime.pool.alive < 2 and time.time() < deadline:
        time.sleep(0.1)
    assert runtime.pool.alive == 2


def test_health_over_http(live):
    status, body, _seconds = get(live[1] + "/health")
    assert status == 200 and b'"status":"ok"' in body.replace(b" ", b"")


def test_curl_style_post_with_accept_gets_csv(endpoint):
    request = urllib.request.Request(
        endpoint,
        data=urllib.parse.urlencode({"query": "SELECT ?code WHERE { ?d <https://w3id.org/shiquan/ontology#divisionCode> ?code } ORDER BY ?code LIMIT 1"}).encode(),
        headers={"Accept": "text/csv", "Content-Type": "application/x-www-form-urlencoded"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.headers["Content-Type"].startswith("text/csv")
        assert response.read() == b"code\r\n630000\r\n"


def test_validate_runs_in_a_worker_over_http(live):
    body = (QUERIES.parent / "tests" / "fixtures" / "shapes" / "PlanShape-onePayerPerMatterAndLevel.fail.ttl").read_bytes()
    request = urllib.request.Request(live[1] + "/validate", data=body, headers={"Content-Type": "text/turtle", "Accept": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        report = json.loads(response.read())
    assert report["conforms"] is False and "专利奖励" in report["results"][0]["messages"]["zh"]


def test_a_worker_over_its_memory_allowance_is_replaced_between_jobs():
    app = create_app({"TESTING": True, "WORKERS": 1, "WORKER_MEMORY_MB": 1})
    runtime = app.extensions["shiquan"]
    try:
        with serving(app) as url:
            first = next(iter(runtime.pool.workers)).process.pid
            deadline = time.time() + 30
            while runtime.pool.recycled == 0 and time.time() < deadline:
                status, body, _seconds = get(url + "/sparql?" + urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"}))
                assert status == 200 and b"true" in body
                time.sleep(0.3)
            assert runtime.pool.recycled >= 1
            status, body, _seconds = get(url + "/health")
            assert status == 200 and json.loads(body)["workers"]["recycled"] >= 1
            assert all(w.process.pid != first for w in runtime.pool.workers)
    finally:
        runtime.close()


def test_a_long_get_query_is_answered_and_one_over_the_limit_is_a_json_414(live, endpoint):
    padding = "#" + "x" * 400_000 + "\n"  # a comment: over waitress's default 256 KiB head, under MAX_BODY_BYTES
    status, body, _seconds = get(endpoint + "?" + urllib.parse.urlencode({"query": padding + "ASK { ?s ?p ?o }"}))
    assert status == 200 and b"true" in body
    app = live[0]
    too_long = "#" + "x" * (app.config["MAX_BODY_BYTES"] + 10) + "\n"
    status, body, _seconds = get(endpoint + "?" + urllib.parse.urlencode({"query": too_long + "ASK {}"}))
    assert status == 414 and json.loads(body)["error"]
