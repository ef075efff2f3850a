"""shiquan.sparql.results: the writers of each format, negotiation, the size limit, the text table."""

import csv
import io
import json
import xml.etree.ElementTree as ET

import pyoxigraph as ox
import pytest

from shiquan.errors import BadRequest, NotAcceptable, ResultTooLarge
from shiquan.sparql import results
from shiquan.sparql.run import run

CODES = "PREFIX sq: <https://w3id.org/shiquan/ontology#> SELECT ?d ?code WHERE { ?d sq:divisionCode ?code } ORDER BY ?code"
LABEL = 'PREFIX rdfs: <http://www.w3.org/2000/01/rdf-schema#> SELECT ?l WHERE { <https://w3id.org/shiquan/id/matter/zhuanli-jiangli> rdfs:label ?l } ORDER BY ?l'


def test_json_results_keep_language_tags(kg):
    doc = json.loads(results.serialize(run(kg.store, LABEL), "application/sparql-results+json"))
    assert doc["head"]["vars"] == ["l"]
    assert {"type": "literal", "value": "专利奖励", "xml:lang": "zh"} in [b["l"] for b in doc["results"]["bindings"]]


def test_xml_results_are_well_formed_sparql_results(kg):
    root = ET.fromstring(results.serialize(run(kg.store, LABEL), "application/sparql-results+xml"))
    ns = "{http://www.w3.org/2005/sparql-results#}"
    literals = root.findall(f"{ns}results/{ns}result/{ns}binding/{ns}literal")
    assert ("zh", "专利奖励") in [(lit.get("{http://www.w3.org/XML/1998/namespace}lang"), lit.text) for lit in literals]


def test_csv_and_tsv_results(kg):
    answer = run(kg.store, CODES)
    table = list(csv.reader(io.StringIO(results.serialize(answer, "text/csv").decode())))
    assert table[0] == ["d", "code"] and table[1] == ["https://w3id.org/shiquan/id/division/qinghai", "630000"]
    tsv = results.serialize(answer, "text/tab-separated-values").decode().splitlines()
    assert tsv[0] == "?d\t?code" and tsv[1] == '<https://w3id.org/shiquan/id/division/qinghai>\t"630000"'


def test_ask_in_every_results_format(kg):
    answer = run(kg.store, "ASK { ?s ?p ?o }")
    assert json.loads(results.serialize(answer, "application/sparql-results+json")) == {"head": {}, "boolean": True}
    assert b"<boolean>true</boolean>" in results.serialize(answer, "application/sparql-results+xml")
    assert results.serialize(answer, "text/csv").decode().splitlines()[-1] == "true"


@pytest.mark.parametrize("media_type,fmt", [
    ("text/turtle", ox.RdfFormat.TURTLE),
    ("application/n-triples", ox.RdfFormat.N_TRIPLES),
    ("application/rdf+xml", ox.RdfFormat.RDF_XML),
    ("application/ld+json", ox.RdfFormat.JSON_LD),
])
def test_construct_serialises_to_each_rdf_format(kg, media_type, fmt):
    answer = run(kg.store, "DESCRIBE <https://w3id.org/shiquan/id/division/haidong>")
    data = results.serialize(answer, media_type)
    assert len(list(ox.parse(data, format=fmt))) == len(answer.triples) > 5


def test_table_aligns_chinese_text(kg):
    text = results.table(run(kg.store, LABEL))
    assert text.splitlines()[0] == "l" and "专利奖励@zh" in text and text.endswith("(2 rows)")


def test_answer_over_the_maximum_is_refused_naming_what():
    graph = results.Answer("graph", triples=[ox.Triple(ox.NamedNode("http://a"), ox.NamedNode("http://b"), ox.Literal(str(i))) for i in range(3)])
    results.check_size(graph, 3)
    with pytest.raises(ResultTooLarge, match="more than 2 triples"):
        results.check_size(graph, 2)


# ---------------------------------------------------------------- one negotiator, one rule


@pytest.mark.parametrize("accept,expected", [
    (None, "application/sparql-results+json"),
    ("", "application/sparql-results+json"),
    ("*/*", "application/sparql-results+json"),
    ("text/*", "text/csv"),
    ("application/json", "application/sparql-results+json"),
    ("text/xml", "application/sparql-results+xml"),
    ("text/csv;q=0.2, application/sparql-results+xml;q=0.9", "application/sparql-results+xml"),
    ("*/*, text/tab-separated-values", "text/tab-separated-values"),
    ("text/*, text/tab-separated-values", "text/tab-separated-values"),
    ("text/csv, text/tab-separated-values", "text/csv"),
])
def test_results_negotiation_prefers_q_then_the_exact_type_then_the_first_written(accept, expected):
    assert results.negotiate("solutions", accept) == expected


@pytest.mark.parametrize("accept,expected", [
    (None, "text/turtle"),
    ("application/*", "application/n-triples"),
    ("text/plain", "application/n-triples"),
    ("application/xml", "application/rdf+xml"),
    ("application/x-turtle", "text/turtle"),
    ("application/json", "application/ld+json"),
])
def test_graph_negotiation_reads_the_types_clients_ask_with(accept, expected):
    assert results.negotiate("graph", accept) == expected


def test_an_offered_type_is_matched_before_a_looser_one():
    assert results.negotiate(["text/html", "application/json", "application/ld+json"], "application/json") == "application/json"


def test_q_zero_never_matches():
    with pytest.raises(NotAcceptable, match="available: text/html, text/turtle"):
        results.negotiate(["text/html", "text/turtle"], "text/turtle;q=0, text/html;q=0")


@pytest.mark.parametrize("fmt,expected", [("csv", "text/csv"), ("TSV", "text/tab-separated-values"), ("application/json", "application/sparql-results+json")])
def test_format_parameter_names_a_results_type_by_short_name_or_media_type(fmt, expected):
    assert results.negotiate("solutions", "application/sparql-results+json", fmt) == expected


@pytest.mark.parametrize("fmt,expected", [("html", "text/html"), ("json", "application/json"), ("rdfxml", "application/rdf+xml"), ("nt", "application/n-triples")])
def test_format_parameter_names_a_page_type(fmt, expected):
    offered = ["text/html", "application/json", "application/n-triples", "application/rdf+xml"]
    assert results.negotiate(offered, None, fmt) == expected


def test_unknown_format_parameter_is_a_bad_request():
    with pytest.raises(BadRequest, match="unknown format 'yaml'"):
        results.negotiate("solutions", None, "yaml")


def test_format_that_cannot_carry_the_answer_is_not_acceptable():
    with pytest.raises(NotAcceptable, match="cannot carry a boolean answer; use one of application/sparql-results"):
        results.negotiate("boolean", None, "turtle")


def test_accept_nothing_fits_lists_the_formats():
    with pytest.raises(NotAcceptable, match="cannot answer a graph query in 'text/csv'; available: text/turtle"):
        results.negotiate("graph", "text/csv")
