"""Federated queries: SERVICE to an allowlisted second Shiquan server on another loopback port, joined with local data."""

from __future__ import annotations

import http.server
import json
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from shiquan import create_app

from .conftest import FIXTURES, serving

PROVINCIAL = FIXTURES / "federation" / "ceshi-qingzheng-2099-1.ttl"


@pytest.fixture(scope="module")
def endpoints():
    remote_app = create_app({"TESTING": True, "WORKERS": 0, "DATA_PATHS": [str(PROVINCIAL)]})
    try:
        with serving(remote_app, threads=4) as remote_base:
            remote_url = remote_base + "/sparql"
            local_app = create_app({"TESTING": True, "WORKERS": 1, "SERVICE_ALLOWLIST": [remote_url], "QUERY_TIMEOUT_S": 10})
            try:
                with serving(local_app, threads=4) as local_base:
                    yield local_base + "/sparql", remote_url
            finally:
                local_app.extensions["shiquan"].close()
    finally:
        remote_app.extensions["shiquan"].close()


def ask(endpoint: str, text: str) -> tuple[int, dict]:
    data = urllib.parse.urlencode({"query": text}).encode()
    request = urllib.request.Request(endpoint, data=data, headers={"Accept": "application/sparql-results+json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_federated_query_joins_the_local_city_plan_with_the_remote_provincial_plan(endpoints):
    local, remote = endpoints
    text = f"""
        PREFIX sq: <https://w3id.org/shiquan/ontology#>
        PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#>
        SELECT ?cityLevel ?provincialLevel WHERE {{
            ?city sq:statedIn <https://w3id.org/shiquan/id/plan/haidong-dongzhengban-2024-96> ;
                sq:matter ?matter ; sq:level ?cityLevel .
            SERVICE <{remote}> {{
                ?province sq:statedIn <https://w3id.org/shiquan/id/plan/ceshi-qingzheng-2099-1> ;
                    sq:matter ?matter ; sq:level ?provincialLevel .
            }}
        }} ORDER BY ?cityLevel ?provincialLevel"""
    status, body = ask(local, text)
    assert status == 200, body
    pairs = {(b["cityLevel"]["value"].rsplit("#")[1], b["provincialLevel"]["value"].rsplit("#")[1]) for b in body["results"]["bindings"]}
    assert pairs == {(c, p) for c in ("CountyLevel", "PrefecturalLevel") for p in ("ProvincialLevel", "PrefecturalAndCountyLevels")}


def test_remote_plan_is_not_in_the_local_graph(endpoints):
    local, _remote = endpoints
    status, body = ask(local, "ASK { <https://w3id.org/shiquan/id/plan/ceshi-qingzheng-2099-1> ?p ?o }")
    assert status == 200 and body["boolean"] is False


def test_endpoint_off_the_allowlist_is_refused(endpoints):
    local, remote = endpoints
    other = remote.replace("/sparql", "/other-sparql")
    status, body = ask(local, f"SELECT * WHERE {{ SERVICE <{other}> {{ ?s ?p ?o }} }}")
    assert status == 403 and "allowlist" in body["message"]


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_service_silent_to_an_allowlisted_endpoint_that_fails_gives_one_empty_solution():
    dead = f"http://127.0.0.1:{unused_port()}/sparql"  # nothing listens there
    app = create_app({"TESTING": True, "WORKERS": 0, "SERVICE_ALLOWLIST": [dead]})
    try:
        client = app.test_client()
        silent = client.get("/sparql", query_string={"query": f"SELECT * WHERE {{ SERVICE SILENT <{dead}> {{ ?s ?p ?o }} }}"})
        assert silent.status_code == 200 and silent.get_json()["results"]["bindings"] == [{}]
        loud = client.get("/sparql", query_string={"query": f"SELECT * WHERE {{ SERVICE <{dead}> {{ ?s ?p ?o }} }}"})
        assert loud.status_code == 502 and loud.get_json()["error"] == "service_failed"
    finally:
        app.extensions["shiquan"].close()


def test_service_description_announces_the_allowlist(endpoints):
    local, remote = endpoints
    with urllib.request.urlopen(local, timeout=30) as response:
        text = response.read().decode()
    assert remote in text and "BasicFederatedQuery" in text


class _SlowEndpoint(http.server.BaseHTTPRequestHandler):
    """A SPARQL endpoint that answers correctly, but only after SLOW_S seconds."""

    def do_POST(self):  # noqa: N802 (http.server's naming)
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        time.sleep(SLOW_S)
        body = b'{"head": {"vars": ["x"]}, "results": {"bindings": [{"x": {"type": "literal", "value": "late"}}]}}'
        try:
            self.send_response(200)
            self.send_header("Content-Type", "application/sparql-results+json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    do_GET = do_POST

    def log_message(self, *args):
        pass


SLOW_S = 3.0


@pytest.fixture()
def slow_endpoint():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sparql"
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_a_remote_call_over_the_per_call_limit_is_stopped(slow_endpoint):
    app = create_app({"TESTING": True, "WORKERS": 1, "SERVICE_ALLOWLIST": [slow_endpoint], "SERVICE_TIMEOUT_S": 1.0, "QUERY_TIMEOUT_S": 20})
    try:
        with serving(app, threads=4) as base:
            started = time.perf_counter()
            status, body = ask(base + "/sparql", f"SELECT ?x WHERE {{ SERVICE <{slow_endpoint}> {{ ?s ?p ?x }} }}")
            assert status == 502 and body["error"] == "service_failed"
            assert time.perf_counter() - started < SLOW_S
            status, body = ask(base + "/sparql", f"SELECT ?x WHERE {{ SERVICE SILENT <{slow_endpoint}> {{ ?s ?p ?x }} }}")
            assert status == 200 and body["results"]["bindings"] == [{}]
    finally:
        app.extensions["shiquan"].close()


def test_a_remote_call_within_the_limit_is_relayed(slow_endpoint):
    app = create_app({"TESTING": True, "WORKERS": 1, "SERVICE_ALLOWLIST": [slow_endpoint], "SERVICE_TIMEOUT_S": SLOW_S + 5})
    try:
        with serving(app, threads=4) as base:
            status, body = ask(base + "/sparql", f"SELECT ?x WHERE {{ SERVICE <{slow_endpoint}> {{ ?s ?p ?x }} }}")
            assert status == 200 and body["results"]["bindings"][0]["x"]["value"] == "late"
    finally:
        app.extensions["shiquan"].close()


def test_service_endpoint_as_a_prefixed_name_or_base_relative_iri_is_resolved_and_relayed(endpoints):
    local, remote = endpoints
    folder = remote.rsplit("/", 1)[0]
    plan = "<https://w3id.org/shiquan/id/plan/ceshi-qingzheng-2099-1>"
    for text in (f"PREFIX r: <{folder}/> ASK {{ SERVICE r:sparql {{ {plan} ?p ?o }} }}",
                 f"BASE <{folder}/x> ASK {{ SERVICE <sparql> {{ {plan} ?p ?o }} }}"):
        status, body = ask(local, text)
        assert status == 200 and body["boolean"] is True, body


def test_relay_serves_only_loopback_callers_with_the_token_of_a_running_query():
    app = create_app({"TESTING": True, "WORKERS": 0, "SERVICE_ALLOWLIST": ["http://127.0.0.1:1/sparql"]})
    try:
        response = app.test_client().post("/_service/x/0", data=b"query=ASK{}", environ_base={"REMOTE_ADDR": "203.0.113.7"})
        assert response.status_code == 403
        response = app.test_client().post("/_service/guessed/0", environ_base={"REMOTE_ADDR": "127.0.0.1"})
        assert response.status_code == 404 and "no running query" in response.get_json()["message"]
    finally:
        app.extensions["shiquan"].close()
