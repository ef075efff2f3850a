"""/sparql over the Flask test client: the SPARQL 1.1 Protocol, query side, in detail."""

from __future__ import annotations

import csv
import io
import json

import pyoxigraph as ox
import pytest
from rdflib import Graph, Literal, URIRef

from shiquan import create_app
from shiquan.vocab import GRAPH

CODES = "PREFIX sq: <https://w3id.org/shiquan/ontology#> SELECT ?code WHERE { ?d sq:divisionCode ?code } ORDER BY ?code"
DESCRIBE = "DESCRIBE <https://w3id.org/shiquan/id/division/haidong>"
SD = "http://www.w3.org/ns/sparql-service-description#"


APP_SETTINGS = {"PUBLIC_BASE_URL": "http://localhost", "MAX_BODY_BYTES": 64 * 1024, "MAX_RESULT_ROWS": 1000}


def codes(response) -> list[str]:
    return [b["code"]["value"] for b in response.get_json()["results"]["bindings"]]


def test_get_with_query_parameter_returns_sparql_json_by_default(client):
    response = client.get("/sparql", query_string={"query": CODES})
    assert response.status_code == 200
    assert response.mimetype == "application/sparql-results+json"
    assert codes(response)[:3] == ["630000", "630200", "630202"]


def test_post_form_encoded_query(client):
    response = client.post("/sparql", data={"query": CODES})
    assert response.status_code == 200 and codes(response)[0] == "630000"


def test_post_sparql_query_body(client):
    response = client.post("/sparql", data=CODES.encode(), content_type="application/sparql-query")
    assert response.status_code == 200 and len(codes(response)) == 8


@pytest.mark.parametrize("accept,mimetype", [
    ("application/sparql-results+xml", "application/sparql-results+xml"),
    ("text/csv", "text/csv"),
    ("text/tab-separated-values", "text/tab-separated-values"),
    ("application/json", "application/sparql-results+json"),
    ("text/csv;q=0.2, application/sparql-results+xml;q=0.9", "application/sparql-results+xml"),
    ("text/html, */*;q=0.1", "application/sparql-results+json"),
])
def test_select_negotiates_the_results_format(client, accept, mimetype):
    response = client.get("/sparql", query_string={"query": CODES}, headers={"Accept": accept})
    assert response.status_code == 200 and response.mimetype == mimetype
    assert "630202" in response.get_data(as_text=True)
    assert "Accept" in response.headers["Vary"]


def test_csv_answer_is_a_table(client):
    response = client.get("/sparql", query_string={"query": CODES}, headers={"Accept": "text/csv"})
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0] == ["code"] and rows[1] == ["630000"] and len(rows) == 9


@pytest.mark.parametrize("accept,fmt", [
    ("text/turtle", ox.RdfFormat.TURTLE),
    ("application/n-triples", ox.RdfFormat.N_TRIPLES),
    ("application/rdf+xml", ox.RdfFormat.RDF_XML),
    ("application/ld+json", ox.RdfFormat.JSON_LD),
])
def test_describe_negotiates_the_rdf_format(client, accept, fmt):
    response = client.get("/sparql", query_string={"query": DESCRIBE}, headers={"Accept": accept})
    assert response.status_code == 200 and response.mimetype == accept
    triples = list(ox.parse(response.get_data(), format=fmt))
    assert ox.Literal("630200") in {t.object for t in triples}


def test_construct_without_accept_is_turtle(client):
    response = client.get("/sparql", query_string={"query": DESCRIBE})
    assert response.mimetype == "text/turtle"


def test_format_parameter_overrides_accept(client):
    response = client.get("/sparql", query_string={"query": CODES, "format": "csv"}, headers={"Accept": "application/sparql-results+json"})
    assert response.mimetype == "text/csv"


def test_unknown_format_parameter_is_400(client):
    response = client.get("/sparql", query_string={"query": CODES, "format": "yaml"})
    assert response.status_code == 400 and response.get_json()["error"] == "bad_request"


def test_accept_nothing_fits_is_406_listing_formats(client):
    response = client.get("/sparql", query_string={"query": CODES}, headers={"Accept": "image/png"})
    assert response.status_code == 406
    assert "application/sparql-results+json" in response.get_json()["message"]


def test_graph_answer_in_a_results_format_is_406(client):
    response = client.get("/sparql", query_string={"query": DESCRIBE}, headers={"Accept": "text/csv"})
    assert response.status_code == 406 and "text/turtle" in response.get_json()["message"]


def test_ask_answers_a_boolean(client):
    response = client.get("/sparql", query_string={"query": "ASK { ?s ?p ?o }"})
    assert response.get_json() == {"head": {}, "boolean": True}


def test_default_graph_uri_restricts_the_dataset(client):
    query = "SELECT (COUNT(*) AS ?n) WHERE { ?d <https://w3id.org/shiquan/ontology#divisionCode> ?c }"
    inside = client.get("/sparql", query_string={"query": query, "default-graph-uri": str(GRAPH["divisions"])})
    outside = client.get("/sparql", query_string={"query": query, "default-graph-uri": str(GRAPH["matters"])})
    assert inside.get_json()["results"]["bindings"][0]["n"]["value"] == "8"
    assert outside.get_json()["results"]["bindings"][0]["n"]["value"] == "0"


def test_named_graph_uri_restricts_graph_patterns(client):
    query = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    response = client.post("/sparql", data={"query": query, "named-graph-uri": [str(GRAPH["divisions"]), str(GRAPH["bodies"])]})
    assert {b["g"]["value"] for b in response.get_json()["results"]["bindings"]} == {str(GRAPH["divisions"]), str(GRAPH["bodies"])}


def test_syntax_error_is_400_with_position(client):
    response = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p }"})
    assert response.status_code == 400
    body = response.get_json()
    assert body["error"] == "bad_query" and "error at 1:" in body["message"]


@pytest.mark.parametrize("text", ["INSERT DATA { <http://a> <http://b> <http://c> }", "LOAD <http://example.org/data>", "DROP ALL"])
def test_update_sent_as_a_query_is_403(client, text):
    response = client.post("/sparql", data={"query": text})
    assert response.status_code == 403 and "read-only" in response.get_json()["message"]


def test_update_parameter_is_403(client):
    response = client.post("/sparql", data={"update": "DROP ALL"})
    assert response.status_code == 403


def test_update_content_type_is_403(client):
    response = client.post("/sparql", data=b"DROP ALL", content_type="application/sparql-update")
    assert response.status_code == 403


def test_query_and_update_together_is_400(client):
    response = client.post("/sparql", data={"query": CODES, "update": "DROP ALL"})
    assert response.status_code == 400 and "not both" in response.get_json()["message"]


def test_missing_query_is_400(client):
    assert client.post("/sparql", data={}).status_code == 400
    assert client.get("/sparql", query_string={"default-graph-uri": str(GRAPH["divisions"])}).status_code == 400


def test_two_queries_are_400(client):
    response = client.get("/sparql", query_string=[("query", CODES), ("query", CODES)])
    assert response.status_code == 400


def test_unsupported_content_type_is_415(client):
    response = client.post("/sparql", data=CODES.encode(), content_type="text/plain")
    assert response.status_code == 415 and response.get_json()["error"] == "unsupported_media_type"


def test_body_over_the_limit_is_413(client):
    response = client.post("/sparql", data=("#" * 70_000 + "\n" + CODES).encode(), content_type="application/sparql-query")
    assert response.status_code == 413 and response.get_json()["error"] == "payload_too_large"


def test_invalid_utf8_query_is_400(client):
    response = client.post("/sparql", data=b"SELECT \xff WHERE {}", content_type="application/sparql-query")
    assert response.status_code == 400


def test_result_over_the_maximum_is_refused_with_a_message(client):
    response = client.get("/sparql", query_string={"query": "SELECT * WHERE { ?s ?p ?o }"})
    assert response.status_code == 422 and "more than 1000 rows" in response.get_json()["message"]


def test_service_off_the_allowlist_is_403(client):
    response = client.get("/sparql", query_string={"query": "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }"})
    assert response.status_code == 403 and "allowlist" in response.get_json()["message"]


def test_get_without_query_is_the_service_description(client):
    response = client.get("/sparql")
    assert response.status_code == 200 and response.mimetype == "text/turtle"
    graph = Graph().parse(data=response.get_data(as_text=True), format="turtle")
    service = URIRef("http://localhost/sparql")
    assert (service, URIRef(SD + "feature"), URIRef(SD + "UnionDefaultGraph")) in graph
    assert (service, URIRef("https://w3id.org/shiquan/ontology#resultSizeLimit"), Literal(1000)) in graph
    assert (None, URIRef(SD + "name"), GRAPH["haidong-dongzhengban-2024-96"]) in graph
    assert graph.value(service, URIRef("https://w3id.org/shiquan/ontology#queryTimeLimit")) is not None


def test_service_description_in_json_ld(client):
    response = client.get("/sparql", headers={"Accept": "application/ld+json"})
    assert response.mimetype == "application/ld+json" and json.loads(response.get_data())


def test_cors_on_answers_and_preflight(client):
    assert client.get("/sparql", query_string={"query": CODES}).headers["Access-Control-Allow-Origin"] == "*"
    preflight = client.options("/sparql", headers={"Origin": "http://example.org", "Access-Control-Request-Method": "POST"})
    assert preflight.status_code == 200
    assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]


def test_head_has_headers_and_no_body(client):
    response = client.head("/sparql", query_string={"query": CODES})
    assert response.status_code == 200 and response.mimetype == "application/sparql-results+json"
    assert response.get_data() == b""


def test_other_methods_are_405(client):
    response = client.put("/sparql", data=b"x")
    assert response.status_code == 405 and "GET" in response.headers["Allow"]
    assert response.get_json()["error"] == "method_not_allowed"


def test_health_reports_the_store(client):
    body = client.get("/health").get_json()
    assert body["status"] == "ok" and body["graphs"] == 8 and body["triples"] > 2000


def test_answer_carries_an_etag_and_a_matching_if_none_match_gets_304(client):
    first = client.get("/sparql", query_string={"query": CODES})
    tag = first.headers["ETag"]
    # weak: an equivalent answer, not the same bytes after a restart (rows without ORDER BY may come in another order)
    assert tag.startswith('W/"') and first.headers["Cache-Control"] == "no-cache"
    again = client.get("/sparql", query_string={"query": CODES}, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.get_data() == b""
    strong = client.get("/sparql", query_string={"query": CODES}, headers={"If-None-Match": tag[2:]})
    assert strong.status_code == 304  # If-None-Match compares weakly (RFC 9110, 13.1.2)
    other = client.get("/sparql", query_string={"query": CODES}, headers={"If-None-Match": tag, "Accept": "text/csv"})
    assert other.status_code == 200 and other.headers["ETag"] != tag


def test_etag_changes_with_the_dataset_version(tmp_path):
    from .conftest import DATA

    data = tmp_path / "divisions.ttl"
    data.write_bytes((DATA / "divisions.ttl").read_bytes())
    tags = []
    for extra in ("", "<https://w3id.org/shiquan/id/division/x> a <https://w3id.org/shiquan/ontology#AdministrativeDivision> ; <https://w3id.org/shiquan/ontology#level> <https://w3id.org/shiquan/ontology#CountyLevel> .\n"):
        data.write_bytes((DATA / "divisions.ttl").read_bytes() + extra.encode())
        app = create_app({"WORKERS": 0, "TESTING": True, "DATA_PATHS": [str(data)]})
        try:
            tags.append(app.test_client().get("/sparql", query_string={"query": CODES}).headers["ETag"])
        finally:
            app.extensions["shiquan"].close()
    assert tags[0] != tags[1]


# ---------------------------------------------------------------- parameters that are not UTF-8

ASK_FF = "ASK%20%7B%20%3Fs%20%3Fp%20%22%FF%22%20%7D"  # ASK { ?s ?p "\xff" }: no UTF-8 after percent-decoding


@pytest.mark.parametrize("params,message", [
    (f"query={ASK_FF}", "the query is not UTF-8 (byte 13)"),
    ("query=ASK%20%7B%7D&default-graph-uri=http%3A%2F%2Fa%FF", "the 'default-graph-uri' parameter is not UTF-8 (byte 8)"),
    ("query=ASK%20%7B%7D&named-graph-uri=%FEhttp%3A%2F%2Fa", "the 'named-graph-uri' parameter is not UTF-8 (byte 0)"),
    ("query=ASK%20%7B%7D&format=js%C3on", "the 'format' parameter is not UTF-8 (byte 2)"),
    ("query=ASK%20%7B%7D&%FF=1", "a parameter name is not UTF-8 (byte 0)"),
], ids=["query", "default-graph-uri", "named-graph-uri", "format", "name"])
def test_get_parameter_that_is_not_utf8_is_400_naming_it(client, params, message):
    response = client.get(f"/sparql?{params}")
    assert response.status_code == 400 and response.get_json() == {"error": "bad_request", "message": message}


@pytest.mark.parametrize("params,message", [
    (f"query={ASK_FF}", "the query is not UTF-8 (byte 13)"),
    ("query=ASK+%7B%7D&named-graph-uri=%E5%9B", "the 'named-graph-uri' parameter is not UTF-8 (byte 0)"),
], ids=["query", "named-graph-uri"])
def test_form_parameter_that_is_not_utf8_is_400_naming_it(client, params, message):
    response = client.post("/sparql", data=params.encode(), content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400 and response.get_json() == {"error": "bad_request", "message": message}


@pytest.mark.parametrize("data,decoded", [
    (b"a+b%20c", b"a b c"),
    (b"%E4%B8%AD%e6%96%87", "中文".encode()),
    (b"100%", b"100%"),  # a "%" that starts no escape stays as it is, as urllib keeps it
    (b"%4", b"%4"),
    (b"%zz%41", b"%zzA"),
    (b"%%41", b"%A"),
    (b"\\x41%5Cx41", b"\\x41\\x41"),  # a backslash, sent or escaped, is a backslash
    (b"", b""),
])
def test_form_decoding_reads_escapes_as_urllib_does(data, decoded):
    from shiquan.web import form_decoded

    assert form_decoded(data) == decoded


def test_a_form_reads_as_werkzeug_reads_it():
    from shiquan.web import form_pairs

    assert form_pairs(b"query=ASK+%7B%7D&&format=json&flag&=x&a=1=2") == [
        ("query", "ASK {}"), ("format", "json"), ("flag", ""), ("", "x"), ("a", "1=2")]


def test_a_form_with_a_stray_percent_runs_the_query_as_sent(client):
    response = client.post("/sparql", data=b"query=SELECT+%28%2210%%22+AS+%3Fx%29+%7B%7D",
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200 and response.get_json()["results"]["bindings"] == [
        {"x": {"type": "literal", "value": "10%"}}]


def test_raw_bytes_that_are_not_utf8_in_the_query_string_are_400(client):
    response = client.get("/sparql", environ_overrides={"QUERY_STRING": b"query=ASK {\xff}".decode("latin-1")})
    assert response.status_code == 400 and response.get_json()["message"] == "the query is not UTF-8 (byte 5)"


def test_form_body_that_is_not_utf8_is_400_saying_so(client):
    response = client.post("/sparql", data=b"query=ASK+{\xff}", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.get_json()["message"] == "missing query: the form body is not UTF-8 (byte 11), so none of its parameters can be read"


@pytest.mark.parametrize("send", [
    lambda client, text: client.get("/sparql", query_string={"query": text}),
    lambda client, text: client.get("/sparql", environ_overrides={"QUERY_STRING": "query=" + text.encode().decode("latin-1")}),
    lambda client, text: client.post("/sparql", data={"query": text}),
], ids=["percent-encoded", "raw-bytes", "form"])
def test_chinese_in_a_query_parameter_is_read_as_sent(client, send):
    response = send(client, 'SELECT ?l WHERE { ?m <http://www.w3.org/2000/01/rdf-schema#label> ?l FILTER(?l = "专利奖励"@zh) }')
    assert response.status_code == 200 and [b["l"]["value"] for b in response.get_json()["results"]["bindings"]] == ["专利奖励"]


def test_query_string_over_the_body_limit_is_414_with_a_json_message(client):
    response = client.get("/sparql", query_string={"query": "ASK {} #" + "x" * 70_000})
    assert response.status_code == 414
    assert response.get_json() == {
        "error": "request_uri_too_long",
        "message": "the query string is over the limit of 65536 bytes: send a long query in a POST body",
    }


def test_query_nested_too_deeply_is_400_with_a_message(client):
    response = client.post("/sparql", data=("ASK { FILTER(" + "!" * 20_000 + "true) }").encode(), content_type="application/sparql-query")
    assert response.status_code == 400 and response.get_json()["error"] == "bad_query"
    assert response.get_json()["message"].startswith("the query is nested too deeply: 20002 levels deep")


# ---------------------------------------------------------------- forms between Flask's form limit and ours

ONE_MB = 1_000_000  # over Flask's MAX_FORM_MEMORY_SIZE default (500,000 bytes), under MAX_BODY_BYTES (5 MiB)


def form_body(content_type: str, field: str, value: str) -> tuple[bytes, str]:
    """A form with one field, encoded here: the test client would spool a large multipart body to a file it leaves open."""
    import urllib.parse

    if content_type == "multipart/form-data":
        head = f'--b0undary\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n'
        return head.encode() + value.encode() + b"\r\n--b0undary--\r\n", "multipart/form-data; boundary=b0undary"
    return urllib.parse.urlencode({field: value}).encode(), content_type


@pytest.fixture(scope="module")
def roomy():
    """A client of an app with the default body limit (the module's app has 64 KiB)."""
    app = create_app({"WORKERS": 0, "TESTING": True})
    yield app.test_client()
    app.extensions["shiquan"].close()


def test_form_encoded_query_of_one_mb_is_answered(roomy):
    body, content_type = form_body("application/x-www-form-urlencoded", "query", 'SELECT (STRLEN("' + "x" * ONE_MB + '") AS ?n) WHERE {}')
    response = roomy.post("/sparql", data=body, content_type=content_type)
    assert response.status_code == 200, response.get_data()[:300]
    assert response.get_json()["results"]["bindings"][0]["n"]["value"] == str(ONE_MB)


def test_form_encoded_query_over_the_body_limit_is_413(roomy):
    body, content_type = form_body("application/x-www-form-urlencoded", "query", "ASK {} #" + "x" * (6 * 1024 * 1024))
    response = roomy.post("/sparql", data=body, content_type=content_type)
    assert response.status_code == 413 and "5242880 bytes" in response.get_json()["message"]


# /validate is here rather than in test_web_validate.py, whose app allows 256 KiB only.
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "multipart/form-data"])
def test_form_upload_of_one_mb_to_validate_is_validated(roomy, content_type):
    from .conftest import FIXTURES

    turtle = "# " + "x" * ONE_MB + "\n" + (FIXTURES / "shapes" / "PlanShape-onePayerPerMatterAndLevel.pass.ttl").read_text(encoding="utf-8")
    body, content_type = form_body(content_type, "data", turtle)
    response = roomy.post("/validate", data=body, content_type=content_type, headers={"Accept": "application/json"})
    assert response.status_code == 200, response.get_data()[:300]
    assert response.get_json()["conforms"] is True


# ---------------------------------------------------------------- answers replayed (web/sparql.py, AnswerCache)

ASK_HAIDONG = "ASK { <https://w3id.org/shiquan/id/division/haidong> ?p ?o }"


def test_the_same_request_again_gets_the_same_answer_byte_for_byte_without_running(app, client):
    cache, query = app.wsgi_app, CODES + " # asked twice"  # asked by no other test of the module's app
    for send in (lambda: client.get("/sparql", query_string={"query": query}),
                 lambda: client.post("/sparql", data={"query": query}),
                 lambda: client.post("/sparql", data=query.encode(), content_type="application/sparql-query")):
        hits = cache.hits
        first, again = send(), send()
        assert first.status_code == again.status_code == 200 and codes(again)[:2] == ["630000", "630200"]
        assert again.get_data() == first.get_data() and again.headers == first.headers
        assert cache.hits == hits + 1


def test_another_accept_is_another_answer(app, client):
    json_answer = client.get("/sparql", query_string={"query": CODES})
    csv_answer = client.get("/sparql", query_string={"query": CODES}, headers={"Accept": "text/csv"})
    assert csv_answer.mimetype == "text/csv" and csv_answer.get_data(as_text=True).startswith("code\r\n630000")
    assert json_answer.mimetype == "application/sparql-results+json"


@pytest.mark.parametrize("query", [
    "SELECT (RAND() AS ?r) WHERE {}",
    "SELECT (now() AS ?t) WHERE {}",
    "SELECT (STRUUID() AS ?u) WHERE {}",
    "SELECT (BNODE() AS ?b) WHERE {}",
])
def test_an_answer_that_may_differ_each_time_is_neither_tagged_nor_replayed(app, client, query):
    cache = app.wsgi_app
    hits = cache.hits
    first, again = client.get("/sparql", query_string={"query": query}), client.get("/sparql", query_string={"query": query})
    assert first.status_code == again.status_code == 200
    assert "ETag" not in first.headers and cache.hits == hits


def test_a_refusal_is_not_replayed(app, client):
    cache = app.wsgi_app
    hits = cache.hits
    for _ in range(2):
        assert client.get("/sparql", query_string={"query": "SELEC"}).status_code == 400
        assert client.get("/sparql", query_string={"query": "SELECT * { SERVICE <http://a.example/s> { ?s ?p ?o } }"}).status_code == 403
    assert cache.hits == hits


def test_a_conditional_request_still_gets_304(app, client):
    tag = client.get("/sparql", query_string={"query": ASK_HAIDONG}).headers["ETag"]
    assert client.get("/sparql", query_string={"query": ASK_HAIDONG}).headers["ETag"] == tag  # replayed
    again = client.get("/sparql", query_string={"query": ASK_HAIDONG}, headers={"If-None-Match": tag})
    assert again.status_code == 304 and again.get_data() == b""


def test_the_cache_stays_within_answer_cache_mb():
    from .conftest import app_with

    with app_with(ANSWER_CACHE_MB=0.05) as small:
        client, cache = small.test_client(), small.wsgi_app
        for i in range(100):
            assert client.get("/sparql", query_string={"query": f"{ASK_HAIDONG} # {i}"}).status_code == 200
        assert 0 < len(cache.entries) < 100 and cache.size <= 0.05 * 1024 * 1024
        big = client.get("/sparql", query_string={"query": "SELECT ?s ?p ?o WHERE { ?s ?p ?o } LIMIT 40"})  # over 1/32
        assert big.status_code == 200 and len(big.get_data()) > cache.capacity // 32
        assert all(entry[2] != big.get_data() for entry in cache.entries.values())


def test_no_answer_is_kept_with_answer_cache_mb_0():
    from .conftest import app_with

    with app_with(ANSWER_CACHE_MB=0) as off:
        client = off.test_client()
        for _ in range(2):
            assert client.get("/sparql", query_string={"query": CODES}).status_code == 200
        assert off.wsgi_app.hits == 0 and not off.wsgi_app.entries


def test_after_a_reload_the_same_request_gets_the_new_data(tmp_path):
    from .conftest import DATA, app_with

    data = tmp_path / "divisions.ttl"
    data.write_bytes((DATA / "divisions.ttl").read_bytes())
    with app_with(DATA_PATHS=[str(data)], VALIDATE_ON_LOAD=False) as app:
        client = app.test_client()
        before = [client.get("/sparql", query_string={"query": CODES}) for _ in range(2)]
        assert codes(before[0]) == codes(before[1]) and "630299" not in codes(before[1])
        data.write_bytes(data.read_bytes() + b'<https://w3id.org/shiquan/id/division/x> '
                         b'<https://w3id.org/shiquan/ontology#divisionCode> "630299" .\n')
        assert app.extensions["shiquan"].reload()["status"] == "switched"
        after = client.get("/sparql", query_string={"query": CODES})
        assert "630299" in codes(after) and after.headers["ETag"] != before[0].headers["ETag"]


def test_answers_are_replayed_over_a_real_socket_whether_the_body_is_sized_or_chunked(app):
    import http.client
    import urllib.parse

    from .conftest import serving

    query = CODES + " # over a socket"
    body = urllib.parse.urlencode({"query": query}).encode()
    form = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/sparql-results+json"}
    cache = app.wsgi_app
    with serving(app, threads=2) as url:
        conn = http.client.HTTPConnection(url.removeprefix("http://"), timeout=30)
        try:
            answers, before = [], cache.hits
            for _ in range(2):
                conn.request("POST", "/sparql", body=body, headers=form)
                reply = conn.getresponse()
                answers.append((reply.status, reply.read()))
            # The same query sent chunked: waitress reads the whole body before the app sees it, so it is the same
            # request to the view, and replayed too.
            conn.putrequest("POST", "/sparql")
            for name, value in {**form, "Transfer-Encoding": "chunked"}.items():
                conn.putheader(name, value)
            conn.endheaders()
            conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body))
            reply = conn.getresponse()
            chunked = (reply.status, reply.read())
        finally:
            conn.close()
    assert answers[0] == answers[1] == chunked and answers[0][0] == 200
    assert [b["code"]["value"] for b in json.loads(answers[0][1])["results"]["bindings"]][:2] == ["630000", "630200"]
    assert cache.hits == before + 2  # the second sized request and the chunked one
