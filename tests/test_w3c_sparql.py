"""The W3C SPARQL 1.0 and 1.1 query test suites, run through Shiquan.

Syntax: each positive and negative syntax test is sent to /sparql over a socket (waitress and worker processes, as
`shiquan serve` runs them). Evaluation: each query evaluation test runs in process through ``sparql.run`` with
Shiquan's limits, over a store holding the test's data, and its answer is written in every format Shiquan offers,
parsed back and compared with the suite's own result file. A test that pyoxigraph alone fails is skipped, saying so:
Shiquan is held to its engine. Counts: ``python -m pytest tests/test_w3c_sparql.py -rs -q`` (see the README).
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request

import pyoxigraph as ox
import pytest

from shiquan import config, create_app, formats
from shiquan.sparql import results, run

from . import w3c
from .conftest import serving

pytestmark = pytest.mark.skipif(not w3c.SUITE.is_dir(), reason=f"not found: {w3c.WHERE}")

SYNTAX = w3c.cases(w3c.SYNTAX_MANIFESTS, w3c.POSITIVE | w3c.NEGATIVE) if w3c.SUITE.is_dir() else []
EVALUATION = w3c.cases(w3c.EVALUATION_MANIFESTS, w3c.EVALUATION) if w3c.SUITE.is_dir() else []
LIMITS = {"max_rows": config.Defaults.MAX_RESULT_ROWS, "timeout_s": config.Defaults.QUERY_TIMEOUT_S}


def _ids(found):
    return [case.name for case in found]


# ---------------------------------------------------------------- syntax, through the endpoint


@pytest.fixture(scope="module")
def endpoint():
    app = create_app({"TESTING": True, "WORKERS": 2})
    try:
        with serving(app, threads=4) as url:
            yield url + "/sparql"
    finally:
        app.extensions["shiquan"].close()


def _engine_accepts(text: str, base: str) -> bool:
    try:
        ox.Store().query(text, base_iri=base)
    except SyntaxError:
        return False
    except RuntimeError:  # parsed, then refused for another reason (an unknown function)
        return True
    return True


def _status(url: str, text: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=text.encode("utf-8"), method="POST", headers={
        "Content-Type": "application/sparql-query", "Accept": "application/sparql-results+json, text/turtle"})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("case", SYNTAX, ids=_ids(SYNTAX))
def test_syntax_through_the_endpoint(endpoint, case):
    text = case.text
    accepted = _engine_accepts(text, case.query)
    if case.kind == "positive" and not accepted:
        pytest.skip("pyoxigraph alone refuses this valid query")
    if case.kind == "negative" and accepted:
        pytest.skip(f"pyoxigraph alone accepts this invalid query ({case.name})")
    status, body = _status(endpoint, text)
    assert status < 500, body
    if case.kind == "positive":  # accepted: answered, or stopped by a limit (a few match the whole dataset)
        assert status == 200 or (status == 422 and b"result_too_large" in body), body
    else:
        assert status == 400, body


# ---------------------------------------------------------------- evaluation, through sparql.run


def _engine_alone(case: w3c.Case) -> w3c.Expected | str:
    """pyoxigraph's own answer to the test, or why it has none."""
    store, graphs = w3c.dataset(case)
    kwargs = {}
    if graphs:
        kwargs = {"default_graph": [ox.NamedNode(g) for g in graphs["default_graph_uris"]],
                  "named_graphs": [ox.NamedNode(g) for g in graphs["named_graph_uris"]]}
    try:
        return w3c.from_results(store.query(case.text, base_iri=case.query, **kwargs))
    except (SyntaxError, RuntimeError, OSError) as exc:
        return f"pyoxigraph alone fails: {exc}"


def _why(case: w3c.Case) -> str:
    """What the test is about, in the suite's words."""
    return case.comment or case.name


def _parsed_back(answer: results.Answer, media_type: str, body: bytes) -> w3c.Expected:
    if answer.kind == "graph":
        rdf_format = ox.RdfFormat.from_media_type(media_type)
        return w3c.graph(q.triple for q in ox.parse(body, format=rdf_format, base_iri="http://example.org/"))
    if answer.kind == "boolean" and media_type in (formats.RESULTS_CSV.media_type, formats.RESULTS_TSV.media_type):
        # CSV and TSV define no boolean answer; Shiquan writes ASK as one column, `_askResult`, as Jena does
        header, value = body.decode("utf-8").split()
        assert header.lstrip("?") == "_askResult"
        return w3c.boolean(value == "true")
    if media_type == formats.RESULTS_CSV.media_type:  # lexical values only: compared as text below
        return None
    return w3c.from_results(ox.parse_query_results(body, format=ox.QueryResultsFormat.from_media_type(media_type)))


QUERY_CASES = [case for case in EVALUATION if not case.csv]


@pytest.mark.parametrize("case", QUERY_CASES, ids=_ids(QUERY_CASES))
def test_evaluation_through_shiquan(case):
    try:
        wanted = w3c.expected(case)
    except (SyntaxError, ValueError) as exc:
        pytest.skip(f"the suite's result file cannot be read: {exc}")
    alone = _engine_alone(case)
    if alone != wanted:
        pytest.skip(alone if isinstance(alone, str) else f"pyoxigraph alone gives another answer ({_why(case)})")
    store, graphs = w3c.dataset(case)
    answer = run.run(store, case.text, base_iri=case.query, **graphs, **LIMITS)
    for media_type in answer.media_types:
        body = results.serialize(answer, media_type)
        got = _parsed_back(answer, media_type, body)
        if got is not None:
            assert got == wanted, media_type
        elif wanted.kind == "solutions":
            assert w3c.csv_lexical(body.decode("utf-8")) == wanted.lexical, media_type


CSV_CASES = [case for case in EVALUATION if case.csv]


@pytest.mark.parametrize("case", CSV_CASES, ids=_ids(CSV_CASES))
def test_csv_result_format(case):
    store, graphs = w3c.dataset(case)
    answer = run.run(store, case.text, base_iri=case.query, **graphs, **LIMITS)
    written = results.write_csv(answer).decode("utf-8")
    expected = w3c.path_of(case.result).read_text(encoding="utf-8")
    alone = store.query(case.text, base_iri=case.query, default_graph=[ox.NamedNode(g) for g in case.data])
    # pyoxigraph alone lists SELECT * as o, p, s: its rows are compared whatever the order of their columns
    if w3c.csv_lexical(alone.serialize(format=ox.QueryResultsFormat.CSV).decode("utf-8")) != w3c.csv_lexical(expected):
        pytest.skip("pyoxigraph alone gives another answer (it stores 1.0E6 as the double 1000000)")
    assert w3c.csv_rows(written) == w3c.csv_rows(expected)
    assert written.endswith("\r\n")  # CRLF line ends, as RFC 4180 says (the suite's files end lines with LF)
