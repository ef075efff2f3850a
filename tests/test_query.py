"""server.query over the real store, without Flask."""

import csv
import io
import json
import xml.etree.ElementTree as ET

import pyoxigraph as ox
import pytest

from server import query
from server.errors import BadQuery, Forbidden, ResultTooLarge
from server.vocab import GRAPH

CODES = "PREFIX sq: <https://w3id.org/shiquan/ontology#> SELECT ?d ?code WHERE { ?d sq:divisionCode ?code } ORDER BY ?code"
LABEL = 'PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> SELECT ?l WHERE { <https://w3id.org/shiquan/id/matter/zhuanli-jiangli> rdfs:label ?l } ORDER BY ?l'


def test_select_reads_all_rows(kg):
    answer = query.run(kg.store, CODES)
    assert answer.kind == "solutions" and answer.variables == ["d", "code"]
    assert [row[1].value for row in answer.rows][:2] == ["630000", "630200"]


def test_json_results_keep_language_tags(kg):
    doc = json.loads(query.serialize(query.run(kg.store, LABEL), "application/sparql-results+json"))
    assert doc["head"]["vars"] == ["l"]
    assert {"type": "literal", "value": "专利奖励", "xml:lang": "zh"} in [b["l"] for b in doc["results"]["bindings"]]


def test_xml_results_are_well_formed_sparql_results(kg):
    root = ET.fromstring(query.serialize(query.run(kg.store, LABEL), "application/sparql-results+xml"))
    ns = "{http://www.w3.org/2005/sparql-results#}"
    literals = root.findall(f"{ns}results/{ns}result/{ns}binding/{ns}literal")
    assert ("zh", "专利奖励") in [(lit.get("{http://www.w3.org/XML/1998/namespace}lang"), lit.text) for lit in literals]


def test_csv_and_tsv_results(kg):
    answer = query.run(kg.store, CODES)
    table = list(csv.reader(io.StringIO(query.serialize(answer, "text/csv").decode())))
    assert table[0] == ["d", "code"] and table[1] == ["https://w3id.org/shiquan/id/division/qinghai", "630000"]
    tsv = query.serialize(answer, "text/tab-separated-values").decode().splitlines()
    assert tsv[0] == "?d\t?code" and tsv[1] == '<https://w3id.org/shiquan/id/division/qinghai>\t"630000"'


def test_ask_in_every_results_format(kg):
    answer = query.run(kg.store, "ASK { ?s ?p ?o }")
    assert json.loads(query.serialize(answer, "application/sparql-results+json")) == {"head": {}, "boolean": True}
    assert b"<boolean>true</boolean>" in query.serialize(answer, "application/sparql-results+xml")
    assert query.serialize(answer, "text/csv").decode().splitlines()[-1] == "true"


@pytest.mark.parametrize("media_type,fmt", [
    ("text/turtle", ox.RdfFormat.TURTLE),
    ("application/n-triples", ox.RdfFormat.N_TRIPLES),
    ("application/rdf+xml", ox.RdfFormat.RDF_XML),
    ("application/ld+json", ox.RdfFormat.JSON_LD),
])
def test_construct_serialises_to_each_rdf_format(kg, media_type, fmt):
    answer = query.run(kg.store, "DESCRIBE <https://w3id.org/shiquan/id/division/haidong>")
    data = query.serialize(answer, media_type)
    assert len(list(ox.parse(data, format=fmt))) == len(answer.triples) > 5


def test_syntax_error_reports_position(kg):
    with pytest.raises(BadQuery, match="error at 1:"):
        query.run(kg.store, "SELECT * WHERE { ?s ?p }")


@pytest.mark.parametrize("text", ["INSERT DATA { <http://a> <http://b> <http://c> }", "LOAD <http://example.org/x>", "CLEAR ALL", "PREFIX a: <http://a#>\nDROP GRAPH <http://a>"])
def test_updates_are_forbidden(kg, text):
    before = len(kg.store)
    with pytest.raises(Forbidden, match="read-only"):
        query.run(kg.store, text)
    assert len(kg.store) == before


def test_service_off_the_allowlist_is_forbidden(kg):
    with pytest.raises(Forbidden, match="SERVICE <http://127.0.0.1:9/sparql> is not allowed"):
        query.run(kg.store, "SELECT * WHERE { SERVICE <http://127.0.0.1:9/sparql> { ?s ?p ?o } }")


def test_service_word_in_a_literal_is_not_a_service_call(kg):
    answer = query.run(kg.store, 'SELECT ?x WHERE { BIND ("SERVICE" AS ?x) }')
    assert answer.rows[0][0].value == "SERVICE"


def test_result_over_the_maximum_is_refused(kg):
    with pytest.raises(ResultTooLarge, match="more than 5 rows"):
        query.run(kg.store, "SELECT * WHERE { ?s ?p ?o }", max_rows=5)


def test_default_graph_uri_restricts_the_default_graph(kg):
    text = "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }"
    divisions = query.run(kg.store, text, default_graph_uris=[str(GRAPH["divisions"])])
    assert int(divisions.rows[0][0].value) == kg.triples_per_graph[str(GRAPH["divisions"])]


def test_named_graph_uri_restricts_graph_patterns(kg):
    text = "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"
    answer = query.run(kg.store, text, named_graph_uris=[str(GRAPH["matters"])])
    assert [row[0].value for row in answer.rows] == [str(GRAPH["matters"])]


def test_default_graph_is_the_union_of_all_graphs(kg):
    answer = query.run(kg.store, "SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }")
    assert int(answer.rows[0][0].value) == len(kg.store)


def test_table_aligns_chinese_text(kg):
    text = query.table(query.run(kg.store, LABEL))
    assert text.splitlines()[0] == "l" and "专利奖励@zh" in text and text.endswith("(2 rows)")


def test_a_failed_read_leaves_no_engine_result_for_another_thread_to_drop(kg):
    # pyoxigraph results may only be dropped in their own thread; an error must not carry one elsewhere.
    import gc
    import sys
    import threading

    caught: list = []

    def read_too_much():
        try:
            query.run(kg.store, "SELECT * WHERE { ?s ?p ?o }", max_rows=5)
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
