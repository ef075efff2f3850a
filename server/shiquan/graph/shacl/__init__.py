"""SHACL validation compiled to set-based SPARQL on a pyoxigraph store, with pySHACL's results.

pySHACL checks one focus node at a time in Python, which takes hours for a national
graph. :func:`validate_store` compiles every constraint of the shapes graph into one
SPARQL query over all of its focus nodes, e.g. for ``sh:class`` on a property::

    SELECT DISTINCT ?this ?value WHERE {
        { SELECT DISTINCT ?this WHERE { ?this rdf:type/rdfs:subClassOf* sq:Assignment } }
        ?this sq:level ?value .
        FILTER (!EXISTS { ?value rdf:type/rdfs:subClassOf* sq:AdministrativeLevel })
    }

runs it on the store, and builds from the answers the :class:`~shiquan.graph.report.Report`
that :func:`shiquan.graph.validation.validate_graph` builds from pySHACL's report: the same
focus nodes, shapes, severities, messages, paths, values, components, labels and order,
and an equivalent report graph.

Oxigraph evaluates a join or a path inside EXISTS once per row without that row's
bindings, which is quadratic; so no generated query uses one: ``sh:class`` removes the
class's instances with MINUS (inside ``sh:or`` and kin it tests membership in them, found
once per class), a SPARQL constraint's top-level ``FILTER NOT EXISTS { … }`` is
rewritten into the equivalent OPTIONAL form, and its top-level UNION into a sub-select. The
checks run on two threads (pyoxigraph releases the GIL while it evaluates a query), the
longest first. On a shared, loaded 2-core machine the checks of the national graph (3.4
million triples) took 38.1 s (40.0 s of CPU, load average 3.3), against 134.5 s (53.4 s of CPU,
load average 4.2) on one thread with sh:class asking a function; with the UNION and REPLACE
rewrites, 35.8 s of CPU against 39.2 s (two threads, load average 5 to 9, where wall times
mean little).

Where SPARQL would answer differently from pySHACL, pySHACL's Python behaviour is
reproduced (by Python functions the queries call, or by the query's form):

- ``sh:datatype`` fails a literal of the right datatype only when rdflib reads it as
  ill-typed (``"abc"^^xsd:decimal``, but not ``"1e3"^^xsd:decimal``, which rdflib accepts);
- ``sh:pattern`` is Python's ``re.search`` (``$`` also matches before a final newline) on
  the string rdflib gives for the value; SPARQL ``REGEX`` (Rust syntax) is used only for
  patterns and values on which both engines provably agree;
- ``sh:minExclusive`` and its kin compare values as rdflib literals do;
- a shape with ``sh:severity sh:Warning`` or ``sh:Info`` always conforms inside ``sh:or``,
  ``sh:not``, ``sh:and``, ``sh:xone`` and ``sh:qualifiedValueShape`` (validate_graph runs
  pySHACL with ``allow_warnings``), yet fails ``sh:node`` as soon as it has a result;
- a SHACL-SPARQL result takes its severity from the shape, never from the constraint;
  its ``{?var}`` templates are filled from the solution (``{?value}`` with the focus
  node of a node shape when ``?value`` is unbound), which drops their language tags, as
  pySHACL does; ``report.with_languages`` restores them as for pySHACL's report;
- Core results of a shape without ``sh:message`` get pySHACL's own message text;
- the inverse of a sequence path inverts each step but keeps their order.

Known differences, all from what the store keeps: oxigraph stores literals of the XSD
numeric, boolean and date types in canonical form (``"60.0"^^xsd:decimal`` comes back
as ``"60"``, and ``"1"^^xsd:boolean`` and ``"true"^^xsd:boolean`` are one term), so such
values, and messages or sums made from them, read canonically where rdflib keeps the
lexical form (a sum of 60.0 and 30.0 is ``90`` here, ``90.0`` in pySHACL); oxigraph
lower-cases language tags; the union of the store's graphs is a multiset (a triple
stated in two graphs is matched twice), which only matters to a SHACL-SPARQL
constraint that aggregates without DISTINCT; labels of one kind come sorted, and the
matter and level of a composed assignment label in IRI order, where rdflib gives
insertion order. Anything not compiled raises BadInput naming the shape and component.

The package holds the engine by concern: :mod:`.compile` (shapes into checks, paths),
:mod:`.sparql_constraint` (SHACL-SPARQL rewriting, over the tokens of :mod:`.tokens`),
:mod:`.compat` (rdflib's and pySHACL's readings of values and regular expressions),
:mod:`.messages` (pySHACL's message text), :mod:`.report_graph` (details, labels, the
report graph), with :mod:`.components` and :mod:`.store` beneath them all.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pyoxigraph as ox
from rdflib import SH, Graph

from shiquan.graph.report import Report, Result, with_languages
from shiquan.graph.shacl.compile import _Compiler
from shiquan.graph.shacl.components import ALLOWED_SEVERITIES, Check, Progress, _Raw
from shiquan.graph.shacl.messages import _default_messages, _Describer
from shiquan.graph.shacl.report_graph import _details, _labels, _ReportGraph
from shiquan.graph.shacl.store import _data_namespaces, _rdflib, _select, _StoreGraph
from shiquan.terms import to_rdflib

__all__ = ["Check", "compile_shapes", "timed_validation", "validate_store"]


def compile_shapes(shapes: Graph) -> list[Check]:
    """The checks :func:`validate_store` runs for ``shapes``. Raises BadInput for what is not compiled."""
    return _Compiler(shapes).compile()


def validate_store(store: ox.Store, shapes: Graph, *, progress: Progress | None = None, threads: int = 1) -> Report:
    """Validate the union of the graphs in ``store`` against ``shapes``, giving pySHACL's results.

    ``store`` holds the ontology, the data and its OWL RL inferences (in any named
    graphs); every query runs over their union. ``progress(done, total, label)`` is
    called after each compiled check, in the checks' order. ``threads`` checks run at
    once (pyoxigraph releases the GIL while it evaluates a query, so two threads use two
    cores); the report does not depend on it. Returns the Report that
    :func:`shiquan.graph.validation.validate_graph` returns for the same triples, report graph
    included. Raises BadInput, before any query runs, for a shape that uses a
    constraint component, target or feature that is not compiled.
    """
    return timed_validation(store, shapes, progress=progress, threads=threads)[1]


def timed_validation(store: ox.Store, shapes: Graph, *, progress: Progress | None = None,
                     threads: int = 1) -> tuple[list[Check], Report]:
    """:func:`validate_store`, returning also the compiled checks, each with the time it took
    (benchmarks/validate_checks.py prints them). Raises as :func:`validate_store`."""
    compiler = _Compiler(shapes)
    checks = compiler.compile()
    compiler.prepare(store)
    raws = _run(store, compiler, checks, progress, threads)
    _details(store, compiler, raws)
    _give_messages(store, compiler, raws)
    return checks, _report(store, shapes, raws)


def _run(store: ox.Store, compiler: _Compiler, checks: list[Check], progress: Progress | None,
         threads: int = 1) -> list[_Raw]:
    """Run every check on ``threads`` threads, timing each; the results they collect, in the checks' order.

    The longest start first, so that both threads stay busy to the end: the SPARQL constraints (joins over every
    assignment of every plan: 3 to 6 s of CPU each on national17), then the checks testing each value by an
    expression (ResourceShape's sh:or, 3.2 s, on every typed resource), then the counts and class checks (0.2 to
    0.9 s each). Raises what a check's query raises, after the checks already running have finished.
    """

    def rows_of(check: Check) -> list:
        started, cpu = time.perf_counter(), time.thread_time()
        rows = _select(store, check.query, compiler.functions)
        check.rows, check.seconds, check.cpu = len(rows), time.perf_counter() - started, time.thread_time() - cpu
        return rows

    longest_first = sorted(checks, key=lambda check: check.rank)
    pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="shacl-check")
    try:
        futures = {id(check): pool.submit(rows_of, check) for check in longest_first}
        raws: list[_Raw] = []
        for done, check in enumerate(checks, start=1):
            raws.extend(check.collect(futures[id(check)].result()))
            if progress is not None:
                progress(done, len(checks), check.label)
        return raws
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _give_messages(store: ox.Store, compiler: _Compiler, raws: list[_Raw]) -> None:
    """Give each Core result (and its details) the shape's messages, else pySHACL's own text."""
    store_graph = _StoreGraph(store)
    describe_data = _Describer(_data_namespaces(), store_graph.predicates, store_graph.objects)

    def give(raw: _Raw) -> None:
        if raw.component != SH.SPARQLConstraintComponent:
            raw.messages = list(raw.shape.messages) or _default_messages(compiler.graph, compiler.describe,
                                                                          describe_data, raw)
        for detail in raw.details:
            give(detail)

    for raw in raws:
        give(raw)


def _report(store: ox.Store, shapes: Graph, raws: list[_Raw]) -> Report:
    """The Report of ``raws``: labelled results in pySHACL's order, and the report graph."""
    nodes = [to_rdflib(term) for raw in raws for term in (raw.focus, raw.value) if term is not None]
    labels = _labels(store, nodes)
    report = _ReportGraph(shapes, store)
    results = []
    for raw in raws:
        rule = raw.source_constraint if raw.source_constraint is not None else raw.shape.node
        messages = with_languages(list(dict.fromkeys(raw.messages)), list(shapes.objects(rule, SH.message)))
        report.add(raw, messages)
        focus, value = to_rdflib(raw.focus), _rdflib(raw.value)
        results.append(Result(
            focus_node=focus,
            source_shape=rule,
            severity=raw.shape.severity,
            messages=messages,
            path=raw.path,
            value=value,
            focus_labels=labels.get(focus, ()),
            value_labels=labels.get(value, ()) if value is not None else (),
            constraint=raw.component,
        ))
    results.sort(key=lambda r: (str(r.focus_node), str(r.source_shape), str(r.value)))
    return Report(results, report.finish(all(r.severity in ALLOWED_SEVERITIES for r in results)))
