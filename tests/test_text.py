"""shiquan.sparql.text: what is read of a query before the engine reads it, without Flask."""

import pyoxigraph as ox
import pytest

from shiquan.errors import BadQuery, Forbidden
from shiquan.sparql import text as sparql_text


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
        sparql_text.inspect(text)


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
    with pytest.raises(BadQuery, match=f"chain .* levels deep.*at most {sparql_text.MAX_CHAIN}"):
        sparql_text.inspect(text)


def test_depth_message_gives_the_levels():
    with pytest.raises(BadQuery, match="5000 levels deep"):
        sparql_text.inspect("SELECT * WHERE " + "{" * 5000 + " ?s ?p ?o " + "}" * 5000)


@pytest.mark.parametrize("text", [
    'SELECT (STRLEN("' + "(" * 2_000_000 + ")" * 2_000_000 + '") AS ?n) WHERE {}',
    "SELECT (STRLEN('''" + "{[(" * 1_000_000 + "''') AS ?n) WHERE {}",
    "SELECT * WHERE { ?s ?p <http://example.org/" + "(" * 500 + "> } # " + "(" * 500,
    "SELECT * WHERE { VALUES ?x { " + " ".join(f'"{i}" <http://a/{i}>' for i in range(100_000)) + " } }",
    "ASK { FILTER(?x IN (" + ", ".join(map(str, range(100_000))) + ")) }",
    "ASK { ?s ?p ?o FILTER(" + " && ".join(["?o != <http://a>"] * 250) + ") }",
], ids=["4-mb-literal", "long-literal", "iri-and-comment", "values", "in-list", "filter-of-250-conditions"])
def test_brackets_in_literals_iris_and_comments_and_long_flat_lists_pass(text):
    sparql_text.inspect(text)


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
    assert sparql_text.depth(shallow).nesting < 10
    assert sparql_text.depth(deeper).nesting > 1000


def test_a_string_the_engine_may_not_read_as_one_is_read_as_code():
    # "\uD800" is no code point: the engine fails the long string; were it to read two quotes instead, the rest is code.
    text = 'ASK { VALUES ?x { """a" } FILTER(' + deep(1000) + ') #\\uD800""" } }'
    assert sparql_text.depth(text).nesting > 1000


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
    """The query of ``make(n)`` with the largest n that sparql_text.inspect() lets through."""
    low, high = 1, 5000
    while high - low > 1:
        middle = (low + high) // 2
        try:
            sparql_text.inspect(make(middle))
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


# ---------------------------------------------------------------- what the query is


@pytest.mark.parametrize("query,kind", [
    ("PREFIX a: <http://a#> BASE <http://b/> SELECT * WHERE { ?s ?p ?o }", "solutions"),
    ("# a comment\nask {}", "boolean"),
    ("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", "graph"),
    ("DESCRIBE <http://a>", "graph"),
    ("INSERT DATA { <http://a> <http://b> <http://c> }", None),
])
def test_inspect_reads_the_kind_of_answer_from_the_query_form(query, kind):
    assert sparql_text.inspect(query).kind == kind


@pytest.mark.parametrize("parse", [False, True])
def test_inspect_finds_a_dataset_clause_with_and_without_rdflib(parse):
    assert sparql_text.inspect("SELECT * FROM <http://g> WHERE { ?s ?p ?o }", parse=parse).names_dataset
    assert not sparql_text.inspect("SELECT * WHERE { GRAPH <http://g> { ?s ?p ?o } }", parse=parse).names_dataset


def test_inspect_lists_the_service_endpoints_on_the_allowlist():
    query = "PREFIX e: <http://e.org/> SELECT * WHERE { SERVICE e:sparql { ?s ?p ?o } }"
    assert sparql_text.inspect(query, ["http://e.org/sparql"]).services == ("http://e.org/sparql",)
    with pytest.raises(Forbidden, match="SERVICE <http://e.org/sparql> is not allowed"):
        sparql_text.inspect(query)


def test_inspect_with_parse_refuses_an_update_before_anything_runs():
    with pytest.raises(Forbidden, match=r"SPARQL Update \(INSERT DATA\) is not allowed"):
        sparql_text.inspect("INSERT DATA { <http://a> <http://b> <http://c> }", parse=True)


def test_tokens_keep_strings_and_iris_whole_and_skip_comments():
    found = sparql_text.tokens('SELECT ?this WHERE { ?this <http://a#b> "{ ( #" } # }')
    assert [(t.kind, t.text) for t in found] == [
        ("word", "SELECT"), ("variable", "?this"), ("word", "WHERE"), ("char", "{"), ("variable", "?this"),
        ("iri", "<http://a#b>"), ("string", '"{ ( #"'), ("char", "}"),
    ]
    assert found[0].word == "SELECT" and found[1].word == ""


def test_tokens_split_keywords_glued_as_the_engine_reads_them():
    found = sparql_text.tokens("{ ?s ?p trueSERVICESILENT <http://a> {} ?o 1SERVICE <http://b> {} FILTERregex(?o, 'x') }")
    words = [t.text for t in found if t.kind == "word"]
    assert words == ["true", "SERVICE", "SILENT", "SERVICE", "FILTER", "regex"]
    assert [t.kind for t in found[:2]] == ["char", "variable"]


@pytest.mark.parametrize("text,found", [
    ("SELECT * { SERVICE <x> {} }", True),
    ("SELECT * { SeRvIcE <x> {} }", True),
    ("# 中文\nSELECT * { sErViCe <x> {} }", True),
    ("# 中文\nSELECT * { ?s ?p ?o }", False),
    ("SELECT * { ?s ?p ?o }", False),
    ("# ſervice, with a long s, which a case-blind regex matches for s\nASK {}", True),
    ("# \u0130 or \u0131 for i, \u212a (Kelvin) for k\nASK {}", True),  # may match: the regex is asked
])
def test_may_hold_is_false_only_where_a_case_blind_regex_cannot_match(text, found):
    assert sparql_text.may_hold(text, "service") is found
