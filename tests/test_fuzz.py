"""Property-based fuzzing of /sparql and /validate: whatever a client sends, the answer is never a 5xx."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


FUZZ = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
CONTENT_TYPES = [
    "application/sparql-query", "application/x-www-form-urlencoded", "application/sparql-update", "text/plain",
    "text/turtle", "application/ld+json", "application/rdf+xml", "application/n-triples", "multipart/form-data", "",
]
# Pieces of SPARQL, so that many generated queries get past the tokenizer and reach the parser and the engine.
PIECES = [
    "SELECT", "ASK", "CONSTRUCT", "DESCRIBE", "WHERE", "*", "{", "}", "(", ")", "[", "]", ".", ";", ",", "?s", "?p", "?o",
    "?x", "a", "<https://w3id.org/shiquan/id/plan/haidong-dongzhengban-2024-96>", "sq:matter", "PREFIX sq: <https://w3id.org/shiquan/ontology#>",
    "FILTER", "OPTIONAL", "UNION", "MINUS", "GRAPH", "SERVICE", "SILENT", "VALUES", "BIND", "AS", "COUNT", "GROUP BY", "ORDER BY",
    "LIMIT 3", "OFFSET 1", '"专利奖励"@zh', "1", "true", "REGEX(?o, \"(a+)+$\")", "STR(?o)", "+", "*", "/", "|", "^", "!", "?",
    "INSERT DATA", "DELETE WHERE", "LOAD", "CLEAR ALL", "#", "\n", "\\", "\u0000", '"""', "'", "<", ">", "@", "_:b", "%",
]


APP_SETTINGS = {"MAX_RESULT_ROWS": 500, "QUERY_TIMEOUT_S": 2, "MAX_BODY_BYTES": 256 * 1024}


def assert_handled(response) -> None:
    assert response.status_code < 500, response.get_data()[:300]
    if response.status_code >= 400:
        body = response.get_json()
        assert set(body) == {"error", "message"}


@FUZZ
@given(text=st.text(max_size=400))
def test_any_text_as_a_query(client, text):
    assert_handled(client.post("/sparql", data=text.encode("utf-8", "surrogatepass"), content_type="application/sparql-query"))


@FUZZ
@given(pieces=st.lists(st.sampled_from(PIECES), max_size=30))
def test_queries_built_from_sparql_pieces(client, pieces):
    assert_handled(client.get("/sparql", query_string={"query": " ".join(pieces)}))


@FUZZ
@given(body=st.binary(max_size=2000), content_type=st.sampled_from(CONTENT_TYPES))
def test_random_bytes_with_any_content_type_to_sparql(client, body, content_type):
    assert_handled(client.post("/sparql", data=body, content_type=content_type))


@FUZZ
@given(body=st.binary(max_size=2000), content_type=st.sampled_from(CONTENT_TYPES))
def test_random_bytes_with_any_content_type_to_validate(client, body, content_type):
    assert_handled(client.post("/validate", data=body, content_type=content_type))


@FUZZ
@given(accept=st.text(max_size=80), fmt=st.one_of(st.none(), st.text(max_size=12)))
def test_any_accept_header_and_format(client, accept, fmt):
    params = {"query": "ASK { ?s ?p ?o }"} | ({"format": fmt} if fmt is not None else {})
    try:
        header = accept.encode("latin-1").decode("latin-1")
    except UnicodeEncodeError:
        header = "*/*"
    assert_handled(client.get("/sparql", query_string=params, headers={"Accept": header.replace("\n", " ").replace("\r", " ")}))


@pytest.mark.parametrize("query", [
    "SELECT * WHERE " + "{" * 50_000 + " ?s ?p ?o " + "}" * 50_000,
    "SELECT * WHERE { FILTER(" + "(" * 50_000 + "1" + ")" * 50_000 + ") }",
    'SELECT * WHERE { BIND ("' + "x" * 200_000 + '" AS ?o) }',
    "SELECT * WHERE { ?s ?p ?o } LIMIT 99999999999999999999999999",
    "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o . ?a ?b ?c }",
])
def test_pathological_queries_are_answered_without_a_5xx(client, query):
    assert_handled(client.post("/sparql", data=query.encode(), content_type="application/sparql-query"))


def test_deeply_nested_turtle_and_huge_literal_upload_to_validate(client):
    turtle = "<https://w3id.org/shiquan/id/matter/a> <http://e/p> " + "[ <http://e/p> " * 20_000 + "1" + " ]" * 20_000 + " ."
    assert_handled(client.post("/validate", data=turtle.encode(), content_type="text/turtle"))
    literal = '<https://w3id.org/shiquan/id/matter/a> <http://e/p> "' + "字" * 80_000 + '" .'
    assert_handled(client.post("/validate", data=literal.encode(), content_type="text/turtle"))
