"""A remote store: `shiquan load` into Virtuoso, then the app served over it (Debian's virtuoso-opensource).

The fixture starts virtuoso-t on loopback ports of its own, with its database in
tmp_path, and stops it after. The graphs are loaded as dba through the
Digest-authenticated endpoint /sparql-auth (credentials in the URL); the app
is served over the anonymous, read-only /sparql. A missing Virtuoso fails
these tests rather than skipping them.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pyoxigraph as ox
import pytest
import waitress
from click.testing import CliRunner

from shiquan.publish import export
from shiquan.cli import main

from .conftest import QUERIES, ROOT, app_with

sys.path.insert(0, str(ROOT / "benchmarks"))
from harness_common import virtuoso_ini  # noqa: E402  (the benchmarks' Virtuoso configuration, one for both)

TIMEOUT_S = 2.0
MAX_ROWS = 1000
CROSS_PRODUCT = "SELECT (COUNT(*) AS ?n) WHERE { ?a ?b ?c . ?d ?e ?f . ?g ?h ?i . ?j ?k ?l }"
HAIDONG = "https://w3id.org/shiquan/id/plan/haidong-dongzhengban-2024-96"
def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def virtuoso(tmp_path_factory):
    """The base URL of a fresh Virtuoso on loopback, with nothing loaded."""
    binary = shutil.which("virtuoso-t")
    if binary is None:
        pytest.fail("virtuoso-t is missing: apt-get update && apt-get install -y virtuoso-opensource")
    folder = tmp_path_factory.mktemp("virtuoso")
    sql_port, http_port = free_ports(2)
    (folder / "virtuoso.ini").write_text(virtuoso_ini(folder, sql_port=sql_port, http_port=http_port))
    process = subprocess.Popen(
        [binary, "-f", "-c", str(folder / "virtuoso.ini")], cwd=folder,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{http_port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{base}/sparql?query=ASK%7B%7D", timeout=2).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"Virtuoso did not start: {(folder / 'virtuoso.log').read_text(errors='replace')[-2000:]}")
                time.sleep(0.2)
        yield base
    finally:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def loaded(virtuoso, settings):
    """Virtuoso with the project's graphs, loaded by `shiquan load` as dba."""
    result = CliRunner().invoke(main, ["load", "--store", virtuoso.replace("://", "://dba:dba@") + "/sparql-auth"])
    assert result.exit_code == 0, result.output
    return virtuoso


@pytest.fixture(scope="module")
def app(loaded):
    with app_with(STORE_URL=f"{loaded}/sparql", QUERY_TIMEOUT_S=TIMEOUT_S, MAX_RESULT_ROWS=MAX_ROWS) as app:
        yield app


def ask(client, text: str, accept: str = "application/sparql-results+json"):
    return client.post("/sparql", data={"query": text}, headers={"Accept": accept})


def bindings(response, name: str) -> list[str]:
    return [b[name]["value"] for b in response.get_json()["results"]["bindings"]]


def test_load_puts_every_assembled_graph_with_all_its_triples_in_the_store(app, settings):
    assert app.extensions["shiquan"].counts == export.assembled(settings).counts


def test_divisions_under_haidong_are_its_six_counties(client):
    response = ask(client, (QUERIES / "06-divisions-under-haidong.rq").read_text())
    assert response.status_code == 200
    assert bindings(response, "code") == ["630202", "630203", "630222", "630223", "630224", "630225"]


def test_plan_chain_comes_from_the_loaded_inferences(client):
    response = ask(client, (QUERIES / "04-plan-chain.rq").read_text())
    assert response.status_code == 200
    assert bindings(response, "documentNumber") == ["青政〔2024〕36号", "国办发〔2023〕48号"]


def test_results_in_another_format_are_reserialised(client):
    response = ask(client, (QUERIES / "06-divisions-under-haidong.rq").read_text(), "text/csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.get_data(as_text=True).splitlines()[1].endswith(",630202")


def test_ask_is_a_boolean(client):
    yes = ask(client, f"ASK {{ <{HAIDONG}> ?p ?o }}").get_json()
    no = ask(client, "ASK { ?s ?p <https://w3id.org/shiquan/id/plan/none> }").get_json()
    assert (yes["boolean"], no["boolean"]) == (True, False)


def test_describe_gives_turtle_about_the_plan(client):
    response = ask(client, (QUERIES / "07-describe-plan.rq").read_text(), "text/turtle")
    assert response.status_code == 200 and response.mimetype == "text/turtle"
    triples = [q.triple for q in ox.parse(response.get_data(), format=ox.RdfFormat.TURTLE)]
    number = ox.NamedNode("https://w3id.org/shiquan/ontology#documentNumber")
    assert {t.object.value for t in triples if t.subject == ox.NamedNode(HAIDONG) and t.predicate == number} == {"东政办〔2024〕96号"}


def test_update_is_refused_before_it_reaches_the_store(loaded):
    # Served over dba's endpoint, which would accept it: nothing may be sent.
    graph = "https://w3id.org/shiquan/graph/intruder"
    with app_with(STORE_URL=loaded.replace("://", "://dba:dba@") + "/sparql-auth") as app:
        response = ask(app.test_client(), f"INSERT DATA {{ GRAPH <{graph}> {{ <{HAIDONG}> a <urn:x> }} }}")
    assert response.status_code == 403 and "read-only" in response.get_json()["message"]
    with app_with(STORE_URL=f"{loaded}/sparql") as app:
        assert graph not in app.extensions["shiquan"].counts


def test_syntax_error_is_400_with_position(client):
    response = ask(client, "SELEC * WHERE { ?s ?p ?o }")
    assert response.status_code == 400 and "line:1" in response.get_json()["message"]


def test_answer_over_the_row_limit_is_422(client):
    response = ask(client, "SELECT * WHERE { ?s ?p ?o }")
    assert response.status_code == 422 and str(MAX_ROWS) in response.get_json()["message"]


def test_service_off_the_allowlist_is_403(client):
    response = ask(client, "SELECT * WHERE { SERVICE <http://example.org/sparql> { ?s ?p ?o } }")
    assert response.status_code == 403


def test_health_reports_the_remote_store(client, loaded):
    body = client.get("/health").get_json()
    assert body["status"] == "ok" and body["store"] == {"kind": "remote", "url": f"{loaded}/sparql", "reachable": True}


def test_a_remote_store_says_it_cannot_reload(app, client):
    from shiquan.errors import Conflict

    with pytest.raises(Conflict, match="not supported with a remote store"):
        app.extensions["shiquan"].reload()
    assert client.get("/health").get_json()["reload"] == {
        "supported": False,
        "why": "reload is not supported with a remote store (STORE_URL): load the new data into it with `shiquan load`",
    }


def test_query_over_the_time_limit_is_503_within_the_limit_over_a_socket(app):
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.effective_port}/sparql?" + urllib.parse.urlencode({"query": CROSS_PRODUCT})
        started = time.perf_counter()
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(url, timeout=30)
        seconds = time.perf_counter() - started
        assert caught.value.code == 503 and json.loads(caught.value.read())["error"] == "query_timeout"
        assert seconds < TIMEOUT_S + 1
    finally:
        server.close()
        thread.join(timeout=5)
