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
