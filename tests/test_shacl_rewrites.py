"""The engine's rewrites of SHACL-SPARQL constraints give pySHACL's results on their edge cases.

A UNION directly in a constraint's WHERE group is evaluated as a sub-select of all its variables, and REPLACE and
REGEX read simple and language-tagged literals without rdflib (shiquan.graph.shacl.sparql_constraint, .compat): the
fixtures in tests/fixtures/shacl_engine/rewrites.*.ttl name what each item exercises, and every result is compared
with pySHACL's.
"""

from __future__ import annotations

from rdflib import Graph, Namespace

from shiquan.graph import loading, shacl

from .test_shacl import ENGINE_FIXTURES, assert_same, both

EX = Namespace("http://example.org/")


def _graph(name: str) -> Graph:
    return loading.union(loading.read_file(ENGINE_FIXTURES / name).values())


def test_rewritten_constraints_give_pyshacls_results():
    expected, actual = both(_graph("rewrites.data.ttl"), _graph("rewrites.shapes.ttl"), Graph())
    assert_same(expected, actual)


def test_union_rewrite_finds_each_branch_and_no_more():
    """The items of the data, checked by hand: each bad branch is found once, the others never."""
    _expected, actual = both(_graph("rewrites.data.ttl"), _graph("rewrites.shapes.ttl"), Graph())
    found = {(r.focus_node, r.value) for r in actual.results if r.source_shape != EX.ReplaceShape
             and "is not allowed" in str(r.messages[0])}
    assert {(focus.split("/")[-1], str(value).split("/")[-1]) for focus, value in found} == {
        ("badPart", "city"), ("badHolder", "city"), ("badHolder", "county"), ("badShare", "province"),
        ("badNoted", "city"), ("oddOne", "county"), ("twoBoxes", "county")}
    noted = {str(m) for r in actual.results if r.focus_node == EX.badNoted for m in r.messages}
    assert noted == {"http://example.org/city (a note) is not allowed in http://example.org/boxB",
                     "http://example.org/city (一条) is not allowed in http://example.org/boxB"}


def test_union_rewrite_is_a_sub_select_only_directly_in_the_where_group():
    checks = shacl.compile_shapes(_graph("rewrites.shapes.ttl"))
    two_unions = next(c.query for c in checks if "ex:blocks" in c.query)
    assert two_unions.count("SELECT * WHERE") == 2  # the first chain and the one ending in a sub-select
    assert "OPTIONAL { { ?a ex:tag ?c . } UNION" in two_unions
    assert "FILTER NOT EXISTS { { ?b ex:allows ?a . } UNION" in two_unions


def test_replace_reads_strings_as_rdflib_does():
    _expected, actual = both(_graph("rewrites.data.ttl"), _graph("rewrites.shapes.ttl"), Graph())
    missing = {r.focus_node.split("/")[-1] for r in actual.results if "has no" in str(r.messages[0])}
    # t4 (an integer) and t5 (an IRI): REPLACE fails on them, the filter errs, nothing is found; t2 and t6 hold
    # their quotes once the whitespace is gone (language-tagged texts), t1 too (a newline is whitespace).
    assert missing == {"t3", "t4", "t5", "t7"}
    cleaned = {str(r.messages[0]) for r in actual.results if r.focus_node in (EX.t3, EX.t7)} - {"A B matches"}
    assert cleaned == {"A B has no 不在: AB", "1 2 has no 3: 12"}
    # "i" is passed as REPLACE's count (rdflib), so "B" is not replaced in t1; t6 holds an x of its own.
    matched = {r.focus_node.split("/")[-1] for r in actual.results if str(r.messages[0]).endswith("matches")}
    assert matched == {"t3", "t6"}
