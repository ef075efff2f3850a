"""shiquan.sparql.run over the real store, without Flask."""

import pytest

from shiquan.sparql import run
from shiquan.errors import BadQuery, Forbidden, NotAcceptable, ResultTooLarge
from shiquan.vocab import GRAPH

CODES = "PREFIX sq: <https://w3id.org/shiquan/ontology#> SELECT ?d ?code WHERE { ?d sq:divisionCode ?code } ORDER BY ?code"


def test_select_reads_all_rows(kg):
    answer = run.run(kg.store, CODES)
    assert answer.kind == "solutions" and answer.variables == ["d", "code"]
    assert [row[1].value for row in answer.rows][:2] == ["630000", "630200"]


def test_syntax_error_reports_position(kg):
    with pytest.raises(BadQuery, match="error at 1:"):
        run.run(kg.store, "SELECT * WHERE { ?s ?p }")


@pytest.mark.parametrize("text", ["INSERT DATA { <http://a> <http://b> <http://c> }", "LOAD <http://example.org/x>", "CLEAR ALL", "PREFIX a: <http://a#>\nDROP GRAPH <http://a>"])
def test_updates_are_forbidden(kg, text):
    before = len(kg.store)
    with pytest.raises(Forbidden, match="read-only"):
        run.run(kg.store, text)
    assert len(kg.store) == before


def test_service_off_the_allowlist_is_forbidden(kg):
    with pytest.raises(Forbidden, match="SERVICE <http://127.0.0.1:9/sparql> is not allowed"):
        run.run(kg.store, "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }")


def test_service_word_in_a_literal_is_not_a_service_call(kg):
    answer = run.run(kg.store, 'SELECT ?x WHERE { BIND ("SERVICE" AS ?x) }')
    assert answer.rows[0][0].value == "SERVICE"


def test_result_over_the_maximum_is_refused(kg):
    with pytest.raises(ResultTooLarge, match="more than 5 rows"):
        run.run(kg.store, "SELECT * WHERE { ?s ?p ?o }", max_rows=5)


def test_default_graph_uri_restricts_the_default_graph(kg):
    text = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    divisions = run.run(kg.store, text, default_graph_uris=[str(GRAPH["divisions"])])
    assert int(divisions.rows[0][0].value) == kg.triples_per_graph[str(GRAPH["divisions"])]


def test_named_graph_uri_restricts_graph_patterns(kg):
    text = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    answer = run.run(kg.store, text, named_graph_uris=[str(GRAPH["matters"])])
    assert [row[0].value for row in answer.rows] == [str(GRAPH["matters"])]


def test_default_graph_is_the_union_of_all_graphs(kg):
    answer = run.run(kg.store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert int(answer.rows[0][0].value) == len(kg.store)


def test_a_failed_read_leaves_no_engine_result_for_another_thread_to_drop(kg):
    # pyoxigraph results may only be dropped in their own thread; an error must not carry one elsewhere.
    import gc
    import sys
    import threading

    caught: list = []

    def read_too_much():
        try:
            run.run(kg.store, "SELECT * WHERE { ?s ?p ?o }", max_rows=5)
        except ResultTooLarge as exc:
            caught.append(exc)

    worker = threading.Thread(target=read_too_much)
    worker.start()
    worker.join()
    assert len(caught) == 1
    unraisable: list = []
    previous, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        caught.clear()
        gc.collect()
    finally:
        sys.unraisablehook = previous
    assert [str(u.exc_value) for u in unraisable] == []


def test_an_accept_that_nothing_fits_is_refused_before_the_query_runs(kg):
    # Were the query run first, its answer would be over the row limit.
    with pytest.raises(NotAcceptable, match="cannot answer a solutions query in 'image/png'"):
        run.respond(kg.store, "SELECT * WHERE { ?s ?p ?o }", accept="image/png", max_rows=1)


def test_respond_writes_the_negotiated_format(kg):
    media_type, body = run.respond(kg.store, "ASK { ?s ?p ?o }", accept="text/csv")
    assert (media_type, body) == ("text/csv", b"_askResult\r\ntrue\r\n")


def test_relative_iris_resolve_against_the_dataset_base(kg):
    answer = run.run(kg.store, "SELECT ?type WHERE { <plan/haidong-dongzhengban-2024-96> a ?type }")
    assert "https://w3id.org/shiquan/ontology#Plan" in {row[0].value for row in answer.rows}


def test_construct_with_relative_iris_writes_absolute_ones(kg):
    media_type, body = run.respond(kg.store, "CONSTRUCT { <s> <p> 1 } WHERE {}", fmt="nt")
    assert body.decode().strip() == '<https://w3id.org/shiquan/id/s> <https://w3id.org/shiquan/id/p> "1"^^<http://www.w3.org/2001/XMLSchema#integer> .'


def test_a_query_base_overrides_the_dataset_base(kg):
    answer = run.run(kg.store, "BASE <http://example.org/> SELECT ?x WHERE { BIND (<a> AS ?x) }")
    assert answer.rows[0][0].value == "http://example.org/a"


def test_an_unknown_function_in_a_filter_is_an_expression_error(kg):
    answer = run.run(kg.store, "PREFIX q: <http://example.org/> SELECT * WHERE { FILTER (q:name()) }")
    assert answer.rows == []


def test_an_unknown_function_in_a_bind_leaves_its_variable_unbound(kg):
    text = "PREFIX q: <http://example.org/> SELECT ?x ?y ?z WHERE { BIND (q:a() AS ?x) BIND (q:b(1) AS ?y) BIND (2 AS ?z) }"
    answer = run.run(kg.store, text)
    assert answer.rows[0][:2] == (None, None) and answer.rows[0][2].value == "2"


@pytest.mark.parametrize("text, order", [
    ("SELECT * WHERE { ?s ?p ?o } LIMIT 1", ["s", "p", "o"]),
    ("SELECT DISTINCT * WHERE { ?z ?y $x } LIMIT 1", ["z", "y", "x"]),
    ("SELECT*{?o ?s ?p OPTIONAL { ?p ?a ?b }} LIMIT 1", ["o", "s", "p", "a", "b"]),
    ("SELECT ?o ?s WHERE { ?s ?p ?o } LIMIT 1", ["o", "s"]),
])
def test_select_star_lists_variables_in_order_of_first_appearance(kg, text, order):
    assert run.run(kg.store, text).variables == order


def test_select_star_order_reaches_every_format(kg):
    for fmt, head in [("json", b'"vars": ["s", "p", "o"]'), ("csv", b"s,p,o\r\n"), ("tsv", b"?s\t?p\t?o\n"),
                      ("xml", b'<variable name="s"/><variable name="p"/><variable name="o"/>')]:
        assert head in run.respond(kg.store, "SELECT * WHERE { ?s ?p ?o } LIMIT 1", fmt=fmt)[1]
