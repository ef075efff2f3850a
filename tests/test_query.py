"""shiquan.sparql.query over the real store, without Flask."""

import csv
import io
import json
import xml.etree.ElementTree as ET

import pyoxigraph as ox
import pytest

from shiquan.sparql import query
from shiquan.errors import BadQuery, Forbidden, ResultTooLarge
from shiquan.vocab import GRAPH

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


# ---------------------------------------------------------------- how deep the engine would recurse

def deep(levels: int) -> str:
    return "(" * levels + "1" + ")" * levels


@pytest.mark.parametrize("text", [
    "ASK { FILTER(" + "!" * 20_000 + "true) }",
    "ASK { FILTER(?x<" + deep(20_000) + "&&?y>0) }",
    "SELECT * WHERE " + "{" * 5000 + " ?s ?p ?o " + "}" * 5000,
    "ASK { ?s ?p " + "<< <http://a> <http://b> " * 300 + "<http://c>" + " >>" * 300 + " }",
    "ASK { FILTER(" + "-(" * 300 + "1" + ")" * 300 + " < 0) }",
    "ASK { ?s " + "(" * 300 + "<http://a>" + ")*" * 300 + " ?o }",
], ids=["negations", "brackets-after-a-less-than", "groups", "reified-triples", "unary-minus", "paths"])
def test_query_nested_deeper_than_the_engine_can_parse_is_refused(text):
    with pytest.raises(BadQuery, match="nested too deeply"):
        query.check(text)


@pytest.mark.parametrize("text", [
    "ASK { FILTER(" + " || ".join(["?a = 1"] * 700) + ") }",
    "ASK { " + " ".join(f"?s{i} <http://a> ?s{i + 1} ." for i in range(700)) + " }",
    "ASK { " + " UNION ".join(["{ ?s ?p ?o }"] * 700) + " }",
    "ASK { " + " ".join(f"BIND({i} AS ?v{i})" for i in range(700)) + " }",
    "ASK { ?s <http://a>" + "/<http://a>" * 700 + " ?o }",
    "SELECT " + " ".join(f"({i} AS ?v{i})" for i in range(700)) + " WHERE {}",
    "ASK { ?s ?p (" + " 1" * 400 + " ) }",
], ids=["or", "triple-patterns", "union", "bind", "path-steps", "select-expressions", "collection"])
def test_chain_longer_than_the_engine_can_walk_is_refused(text):
    with pytest.raises(BadQuery, match=f"chain .* levels deep.*at most {query.MAX_CHAIN}"):
        query.check(text)


def test_depth_message_gives_the_levels():
    with pytest.raises(BadQuery, match="5000 levels deep"):
        query.check("SELECT * WHERE " + "{" * 5000 + " ?s ?p ?o " + "}" * 5000)


@pytest.mark.parametrize("text", [
    'SELECT (STRLEN("' + "(" * 2_000_000 + ")" * 2_000_000 + '") AS ?n) WHERE {}',
    "SELECT (STRLEN('''" + "{[(" * 1_000_000 + "''') AS ?n) WHERE {}",
    "SELECT * WHERE { ?s ?p <http://example.org/" + "(" * 500 + "> } # " + "(" * 500,
    "SELECT * WHERE { VALUES ?x { " + " ".join(f'"{i}" <http://a/{i}>' for i in range(100_000)) + " } }",
    "ASK { FILTER(?x IN (" + ", ".join(map(str, range(100_000))) + ")) }",
    "ASK { ?s ?p ?o FILTER(" + " && ".join(["?o != <http://a>"] * 250) + ") }",
], ids=["4-mb-literal", "long-literal", "iri-and-comment", "values", "in-list", "filter-of-250-conditions"])
def test_brackets_in_literals_iris_and_comments_and_long_flat_lists_pass(text):
    query.check(text)


# Each snippet is valid SPARQL with its payload one level deep (the engine parses it): a lexer that read a string,
# IRI or comment where the engine reads code would skip the payload's brackets, 1,000 deep in the second query.
TRICKY = [
    "ASK { FILTER(?x<PAYLOAD&&?y>0) }",
    "ASK { FILTER(<http://a><PAYLOAD) }",
    "ASK { FILTER(?x<=-PAYLOAD) }",
    'ASK { FILTER("a"^^<http://x#y><PAYLOAD) }',
    "ASK { ?s ?p ?o FILTERregex(STR(PAYLOAD), 'a') }",
    "ASK { ?s ?p trueFILTER(PAYLOAD) }",
    "PREFIX : <http://d/> ASK { ?s ?p ?o filter:f(PAYLOAD) }",
    "PREFIX ex: <http://e/> ASK { ?s ?p ex:a.b.FILTER(PAYLOAD) }",
    "PREFIX ex: <http://e/> ASK { ?s ?p ex:a\\'b FILTER(PAYLOAD) } # '",
    "PREFIX ex: <http://e/> ASK { ?s ?p ex:a\\#b FILTER(PAYLOAD) }",
    'ASK { ?s ?p ?o FILTER(?o = "it\\"s" || PAYLOAD) } # "',
    "ASK { ?s ?p '''it's''' FILTER(PAYLOAD) } # '",
    "ASK { ?s ?p <http://a#'> FILTER(PAYLOAD) # '\n}",
    "ASK { ?s ?p ?o . FILTER(EXISTS { ?s ?p ?o } < PAYLOAD) }",
    "ASK { ?s ?p (?o <http://a#>) FILTER(PAYLOAD) }",
    "ASK { ?s ?p ?o FILTER(<<( ?s ?p ?o )>> = <<( ?s ?p ?o )>> && PAYLOAD) }",
]


@pytest.mark.parametrize("template", TRICKY)
def test_brackets_the_engine_reads_as_code_are_counted_however_the_query_is_written(template):
    shallow, deeper = (template.replace("PAYLOAD", deep(n)) for n in (1, 1000))
    try:
        ox.Store().query(shallow)
    except SyntaxError as exc:  # the premise: the engine reads the payload as code
        pytest.fail(f"not valid SPARQL: {exc}")
    except RuntimeError:
        pass  # valid, but calls a function the engine does not have
    assert query.depth(shallow).nesting < 10
    assert query.depth(deeper).nesting > 1000


def test_a_string_the_engine_may_not_read_as_one_is_read_as_code():
    # "\uD800" is no code point: the engine fails the long string; were it to read two quotes instead, the rest is code.
    text = 'ASK { VALUES ?x { """a" } FILTER(' + deep(1000) + ') #\\uD800""" } }'
    assert query.depth(text).nesting > 1000


# The deepest query of each kind that the check lets through, run in a thread with half the stack of a worker's main
# thread (4 of 8 MiB), in a process of its own since a stack overflow kills it: the limits leave a margin of 2 or more.
KINDS = {
    "expression (…)": lambda n: "ASK { FILTER(" + deep(n) + ") }",
    "{…}": lambda n: "ASK " + "{" * n + " ?s ?p ?o " + "}" * n,
    "function call": lambda n: "ASK { FILTER(" + "STR(" * n + "1" + ")" * n + " = 1) }",
    "NOT EXISTS": lambda n: "ASK { " + "FILTER NOT EXISTS { " * n + "}" * n + " }",
    "sub-select": lambda n: "ASK { " + "{ SELECT * WHERE " * n + "{ ?s ?p ?o }" + " }" * n + " }",
    "!": lambda n: "ASK { FILTER(" + "!" * n + "true) }",
    "[…]": lambda n: "ASK { ?s ?p " + "[ <http://a> " * n + "1" + " ]" * n + " }",
    "<<(…)>>": lambda n: "ASK { ?s ?p " + "<<( <http://a> <http://b> " * n + "<http://c>" + " )>>" * n + " }",
    "<<…>>": lambda n: "ASK { ?s ?p " + "<< <http://a> <http://b> " * n + "<http://c>" + " >>" * n + " }",
    "path (…)": lambda n: "ASK { ?s " + "(" * n + "<http://a>" + ")*" * n + " ?o }",
    "||": lambda n: "ASK { FILTER(" + " || ".join(["false"] * n) + ") }",
    "+": lambda n: "ASK { FILTER(" + "+".join(["1"] * n) + " > 0) }",
    "UNION": lambda n: "ASK { " + " UNION ".join(["{ ?s ?p ?o }"] * n) + " }",
    "MINUS": lambda n: "ASK { ?s ?p ?o " + " ".join(f"MINUS {{ ?s ?p ?o{i} }}" for i in range(n)) + " }",
    "BIND": lambda n: "ASK { " + " ".join(f"BIND({i} AS ?v{i})" for i in range(n)) + " }",
    "FILTER": lambda n: "ASK { ?s ?p ?o " + " ".join(f"FILTER(?o != {i})" for i in range(n)) + " }",
    "SELECT expressions": lambda n: "SELECT " + " ".join(f"({i} AS ?v{i})" for i in range(n)) + " WHERE {}",
    "path |": lambda n: "ASK { ?s " + "|".join(["<http://a>"] * n) + " ?o }",
    "OPTIONAL nested": lambda n: "ASK { ?s ?p ?o " + "OPTIONAL { ?s ?p ?o " * n + "}" * n + " }",
}
# The engine takes seconds over these at the limit (its planner is slow on long groups): run with -m slow.
SLOW_KINDS = {
    "collection (…)": lambda n: "ASK { ?s ?p " + "( " * n + "1" + " )" * n + " }",
    "triple patterns": lambda n: "ASK { " + " ".join(f"?s{i} <http://a> ?s{i + 1} ." for i in range(n)) + " }",
    "path /": lambda n: "ASK { ?s " + "/".join(["<http://a>"] * n) + " ?o }",
}
RUN_IN_A_SMALL_STACK = """
import json, sys, threading
import pyoxigraph as ox

def run_all():
    store = ox.Store()
    for s, p, o in (("a", "a", "a"), ("a", "b", "c"), ("c", "a", "a")):
        store.add(ox.Quad(ox.NamedNode("http://" + s), ox.NamedNode("http://" + p), ox.NamedNode("http://" + o)))
    for name, text in json.load(sys.stdin):
        print(name, flush=True)
        result = store.query(text)
        if not isinstance(result, ox.QueryBoolean):
            list(result)

threading.stack_size(4 * 1024 * 1024)
thread = threading.Thread(target=run_all)
thread.start()
thread.join()
"""


def deepest_allowed(make) -> str:
    """The query of ``make(n)`` with the largest n that query.check() lets through."""
    low, high = 1, 5000
    while high - low > 1:
        middle = (low + high) // 2
        try:
            query.check(make(middle))
            low = middle
        except BadQuery:
            high = middle
    return make(low)


def run_in_a_small_stack(kinds: dict) -> None:
    import json
    import subprocess
    import sys

    queries = [(name, deepest_allowed(make)) for name, make in kinds.items()]
    child = subprocess.run(
        [sys.executable, "-c", RUN_IN_A_SMALL_STACK], input=json.dumps(queries), capture_output=True, text=True, timeout=600, check=False
    )
    ran = child.stdout.split("\n")
    assert child.returncode == 0, f"the engine died (signal {-child.returncode}) on: {ran[-2] if len(ran) > 1 else '?'}; {child.stderr[-500:]}"
    assert ran[:-1] == list(kinds)


def test_queries_at_the_depth_limits_run_in_half_a_workers_stack():
    run_in_a_small_stack(KINDS)


@pytest.mark.slow
def test_long_groups_at_the_depth_limits_run_in_half_a_workers_stack():
    run_in_a_small_stack(SLOW_KINDS)
