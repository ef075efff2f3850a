"""Reading the W3C SPARQL test suites (w3c/rdf-tests, sparql10/ and sparql11/, beside the checkout in
../shared/w3c-sparql) for tests/test_w3c_sparql.py: manifests, each test's dataset, and expected answers read
from the suite's own result files (.srx, .srj, .tsv, .csv, RDF result sets and graphs), compared up to blank nodes.

Only pyoxigraph's parsers and its RDF canonicalisation are used here; expected answers never come from Shiquan.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pyoxigraph as ox

SUITE = Path(__file__).resolve().parents[2] / "shared" / "w3c-sparql"
WHERE = f"the W3C SPARQL test suites (w3c/rdf-tests sparql10/ and sparql11/) belong in {SUITE}"

MF = "http://www.w3.org/2001/sw/DataAccess/tests/test-manifest#"
QT = "http://www.w3.org/2001/sw/DataAccess/tests/test-query#"
RS = "http://www.w3.org/2001/sw/DataAccess/tests/result-set#"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
SYNTAX_MANIFESTS = ("sparql10/manifest-syntax.ttl", "sparql11/manifest-sparql11-query.ttl")
EVALUATION_MANIFESTS = (
    "sparql10/manifest-evaluation.ttl",
    "sparql11/manifest-sparql11-query.ttl",
    "sparql11/manifest-sparql11-results.ttl",
)
POSITIVE = {MF + "PositiveSyntaxTest", MF + "PositiveSyntaxTest11"}
NEGATIVE = {MF + "NegativeSyntaxTest", MF + "NegativeSyntaxTest11"}
EVALUATION = {MF + "QueryEvaluationTest", MF + "CSVResultFormatTest"}
# A graph that no test names: the default graph of a test without qt:data, the named graphs of one without
# qt:graphData (an empty list would mean "every graph" to the engine).
NOTHING = "urn:x-shiquan-test:no-graph"


@dataclass
class Case:
    """One test of a manifest: ``kind`` is "positive", "negative" or "evaluation"."""

    iri: str
    kind: str
    query: str  # the query file's URL, also the query's base IRI
    data: list[str] = field(default_factory=list)
    graph_data: list[str] = field(default_factory=list)
    result: str | None = None
    csv: bool = False
    comment: str = ""

    @property
    def name(self) -> str:
        path = path_of(self.iri.split("#")[0])
        return f"{path.parent.parent.name}/{path.parent.name}#{self.iri.split('#')[-1]}"

    @property
    def text(self) -> str:
        return path_of(self.query).read_text(encoding="utf-8")


def path_of(url: str) -> Path:
    return Path(unquote(urlparse(url).path))


def _objects(graph: ox.Store, subject, predicate: str) -> list:
    return [q.object for q in graph.quads_for_pattern(subject, ox.NamedNode(predicate), None, None)]


def _list(graph: ox.Store, head) -> list:
    items = []
    while head != ox.NamedNode(RDF + "nil"):
        items += _objects(graph, head, RDF + "first")
        head = _objects(graph, head, RDF + "rest")[0]
    return items


def cases(manifests: tuple[str, ...], kinds: set[str]) -> list[Case]:
    """The tests of ``kinds`` (mf: types) in ``manifests`` (paths in the suite) and the manifests they include."""
    found: list[Case] = []
    seen: set[Path] = set()
    todo = [SUITE / m for m in manifests]
    while todo:
        path = todo.pop(0).resolve()
        if path in seen or not path.exists():
            continue
        seen.add(path)
        graph = ox.Store()
        graph.extend(ox.parse(path=str(path), format=ox.RdfFormat.TURTLE, base_iri=path.as_uri()))
        for quad in graph.quads_for_pattern(None, ox.NamedNode(MF + "include"), None, None):
            todo += [path_of(item.value) for item in _list(graph, quad.object)]
        for quad in graph.quads_for_pattern(None, ox.NamedNode(MF + "entries"), None, None):
            for entry in _list(graph, quad.object):
                case = _case(graph, entry, kinds)
                if case is not None:
                    found.append(case)
    return found


def _case(graph: ox.Store, entry, kinds: set[str]) -> Case | None:
    types = {t.value for t in _objects(graph, entry, RDF + "type")} & kinds
    if not types:
        return None
    kind = "positive" if types & POSITIVE else "negative" if types & NEGATIVE else "evaluation"
    action = _objects(graph, entry, MF + "action")[0]
    if kind != "evaluation":
        return Case(entry.value, kind, action.value)
    result = _objects(graph, entry, MF + "result")
    comment = _objects(graph, entry, "http://www.w3.org/2000/01/rdf-schema#comment") or _objects(graph, entry, MF + "name")
    return Case(
        entry.value, kind, _objects(graph, action, QT + "query")[0].value,
        data=[d.value for d in _objects(graph, action, QT + "data")],
        graph_data=[d.value for d in _objects(graph, action, QT + "graphData")],
        result=result[0].value if result else None,
        csv=MF + "CSVResultFormatTest" in types,
        comment=" ".join(comment[0].value.split()) if comment else "",
    )


# ---------------------------------------------------------------- a test's dataset

_FROM = re.compile(r"\bFROM\s+(?:NAMED\s+)?<([^>]*)>", re.IGNORECASE)


def _rdf_format(url: str) -> ox.RdfFormat:
    return ox.RdfFormat.from_extension(path_of(url).suffix.lstrip(".")) or ox.RdfFormat.TURTLE


def dataset(case: Case) -> tuple[ox.Store, dict]:
    """A store holding the test's data, each file in a named graph of its URL, and how to query it: the protocol's
    default and named graphs (none when the query names its own dataset with FROM)."""
    store = ox.Store()
    text = case.text
    own = [urljoin(case.query, iri) for iri in _FROM.findall(text)]
    for url in {*case.data, *case.graph_data, *own}:
        if path_of(url).exists():
            graph = ox.NamedNode(url)
            store.extend(ox.Quad(t.subject, t.predicate, t.object, graph)
                         for t in (q.triple for q in ox.parse(path=str(path_of(url)), format=_rdf_format(url), base_iri=url)))
    if own:
        return store, {}
    return store, {"default_graph_uris": case.data or [NOTHING], "named_graph_uris": case.graph_data or [NOTHING]}


# ---------------------------------------------------------------- answers, compared up to blank nodes


def _solutions_graph(variables, rows) -> frozenset:
    """Solutions as canonical triples: a blank node per row, a triple per binding (blank nodes mapped as a whole)."""
    dataset = ox.Dataset()
    for row in rows:
        node = ox.BlankNode()
        dataset.add(ox.Quad(node, ox.NamedNode(RDF + "type"), ox.NamedNode(RS + "Solution")))
        for name, term in zip(variables, row):
            if term is not None:
                dataset.add(ox.Quad(node, ox.NamedNode("urn:x-w3c-binding:" + name), term))
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return frozenset(str(q) for q in dataset)


def _graph(triples) -> frozenset:
    dataset = ox.Dataset(ox.Quad(t.subject, t.predicate, t.object) for t in triples)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.UNSTABLE)
    return frozenset(str(q) for q in dataset)


@dataclass(frozen=True)
class Expected:
    """An answer reduced to what tests compare: ("boolean", bool), ("solutions", canonical triples, row count) or
    ("graph", canonical triples)."""

    kind: str
    value: object
    rows: int = 0
    lexical: frozenset = frozenset()  # solutions: the rows as CSV keeps them, each with its count


def solutions(variables, rows) -> Expected:
    rows = list(rows)
    lexical = Counter(frozenset((n, csv_value(t)) for n, t in zip(variables, row) if csv_value(t)) for row in rows)
    return Expected("solutions", _solutions_graph(variables, rows), len(rows), frozenset(lexical.items()))


def graph(triples) -> Expected:
    return Expected("graph", _graph(triples))


def boolean(value: bool) -> Expected:
    return Expected("boolean", bool(value))


def from_results(result) -> Expected:
    """An engine's or a parser's pyoxigraph result (read in full)."""
    if isinstance(result, ox.QueryBoolean):
        return boolean(bool(result))
    if isinstance(result, ox.QuerySolutions):
        names = [v.value for v in result.variables]
        return solutions(names, [tuple(s[n] for n in names) for s in result])
    return graph(result)


def expected(case: Case) -> Expected:
    """The test's answer from its result file. Raises ValueError for a file of a kind not read here."""
    url = case.result
    suffix = path_of(url).suffix
    if suffix in (".srx", ".srj", ".tsv"):
        fmt = {".srx": ox.QueryResultsFormat.XML, ".srj": ox.QueryResultsFormat.JSON, ".tsv": ox.QueryResultsFormat.TSV}
        return from_results(ox.parse_query_results(path=str(path_of(url)), format=fmt[suffix]))
    if suffix == ".csv":
        raise ValueError("a CSV result file is compared as text")
    triples = [q.triple for q in ox.parse(path=str(path_of(url)), format=_rdf_format(url), base_iri=url)]
    sets = {t.subject for t in triples if t.predicate.value == RDF + "type" and t.object.value == RS + "ResultSet"}
    if not sets:
        return graph(triples)
    return _result_set(triples, sets.pop())


def _result_set(triples, result_set) -> Expected:
    """A result set written in the DAWG result-set vocabulary (rs:)."""
    by_subject: dict = {}
    for t in triples:
        by_subject.setdefault(t.subject, []).append(t)
    own = by_subject[result_set]
    for t in own:
        if t.predicate.value == RS + "boolean":
            return boolean(t.object.value == "true")
    names = [t.object.value for t in own if t.predicate.value == RS + "resultVariable"]
    rows = []
    for solution in (t.object for t in own if t.predicate.value == RS + "solution"):
        row = {}
        for binding in (t.object for t in by_subject.get(solution, []) if t.predicate.value == RS + "binding"):
            values = {t.predicate.value: t.object for t in by_subject[binding]}
            row[values[RS + "variable"].value] = values[RS + "value"]
        names += [n for n in row if n not in names]
        rows.append(tuple(row.get(n) for n in names))
    width = len(names)
    return solutions(names, [r + (None,) * (width - len(r)) for r in rows])


# ---------------------------------------------------------------- CSV, which keeps lexical values only


def csv_value(term) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return "_:"  # labels are the writer's own
    return term.value


def csv_lexical(text: str) -> frozenset:
    """A CSV results document's rows as :class:`Expected` keeps them (``lexical``)."""
    rows = list(csv.reader(io.StringIO(text)))
    cells = (frozenset((n, "_:" if v.startswith("_:") else v) for n, v in zip(rows[0], row) if v) for row in rows[1:])
    return frozenset(Counter(cells).items())


def csv_rows(text: str) -> tuple[list[str], Counter]:
    """A CSV results document's header and its rows (a multiset; blank node labels dropped)."""
    rows = list(csv.reader(io.StringIO(text)))
    body = Counter(tuple("_:" if v.startswith("_:") else v for v in row) for row in rows[1:])
    return rows[0], body
