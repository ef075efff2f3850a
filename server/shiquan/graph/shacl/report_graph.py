"""What a result carries besides its row: pySHACL's sh:detail, the labels, and the report graph."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pyoxigraph as ox
from rdflib import RDF, RDFS, SH, BNode, Graph, Literal, Node

from shiquan import labels as labelling
from shiquan.graph.shacl.compile import _Compiler
from shiquan.graph.shacl.components import VALUE_PARAMETERS, _Raw
from shiquan.graph.shacl.store import _for_nodes, _StoreGraph
from shiquan.terms import to_rdflib
from shiquan.vocab import SQ


def _details(store: ox.Store, compiler: _Compiler, raws: list[_Raw], depth: int = 0) -> None:
    """Give each sh:node result the results of its value against the named shape (pySHACL's sh:detail)."""
    by_shape: dict[Node, list[_Raw]] = {}
    for raw in raws:
        if raw.node_shape is not None:
            by_shape.setdefault(raw.node_shape, []).append(raw)
    for node, owners in by_shape.items():
        inner = compiler.shapes[node]
        tests = [(component, rule, compiler.ok(inner, component, rule, "?n", (inner.node,)))
                 for component in compiler.components(inner) if component in VALUE_PARAMETERS
                 for rule in compiler.rules(inner, component)]
        if inner.deactivated or not tests:
            continue
        columns = " ".join(f"(COALESCE({test}, false) AS ?c{i})" for i, (_c, _r, test) in enumerate(tests))
        values = list(dict.fromkeys(to_rdflib(raw.value) for raw in owners))
        failing: dict[Node, list[_Raw]] = {}
        for row in _for_nodes(store, values, lambda v: f"SELECT ?n {columns} WHERE {{ {v} }}", compiler.functions):
            failing[to_rdflib(row["n"])] = [
                _Raw(row["n"], inner, component, row["n"], node_shape=rule if component == SH.NodeConstraintComponent else None)
                for i, (component, rule, _test) in enumerate(tests) if row[f"c{i}"].value != "true"
            ]
        if depth < 10:
            _details(store, compiler, [d for found in failing.values() for d in found], depth + 1)
        for raw in owners:
            raw.details = failing.get(to_rdflib(raw.value), [])


def _labels(store: ox.Store, nodes: Iterable[Node]) -> dict[Node, tuple[Literal, ...]]:
    """The labels :func:`shiquan.labels.in_graph` gives, looked up for all ``nodes`` at once."""
    wanted = list(dict.fromkeys(nodes))
    found: dict[Node, dict[Node, set[Literal]]] = {n: {p: set() for p in labelling.LABEL_PROPERTIES} for n in wanted}
    properties = " ".join(f"<{p}>" for p in labelling.LABEL_PROPERTIES)
    rows = _for_nodes(store, wanted, lambda v: f"SELECT ?n ?p ?l WHERE {{ {v} VALUES ?p {{ {properties} }} "
                                               f"?n ?p ?l . FILTER (isLiteral(?l)) }}")
    for row in rows:
        found[to_rdflib(row["n"])][to_rdflib(row["p"])].add(to_rdflib(row["l"]))
    labels = {n: tuple(label for p in labelling.LABEL_PROPERTIES for label in sorted(found[n][p], key=_label_key))
              for n in wanted}
    labels.update(_assignment_labels(store, [n for n in wanted if not labels[n]]))
    return labels


def _assignment_labels(store: ox.Store, nodes: list[Node]) -> dict[Node, tuple[Literal, ...]]:
    """The assignments among ``nodes`` named by their matter and level: objects in IRI order, labels sorted."""
    parts: dict[Node, dict[Node, dict[Node, set[Literal]]]] = {}
    rows = _for_nodes(store, nodes, lambda v: (
        f"SELECT ?n ?p ?o ?l WHERE {{ {v} ?n <{RDF.type}> <{SQ.Assignment}> . VALUES ?p {{ <{SQ.matter}> <{SQ.level}> }} "
        f"?n ?p ?o . OPTIONAL {{ ?o <{RDFS.label}> ?l }} }}"))
    for row in rows:
        node, prop, obj = (to_rdflib(row[k]) for k in ("n", "p", "o"))
        names = parts.setdefault(node, {SQ.matter: {}, SQ.level: {}})[prop].setdefault(obj, set())
        if "l" in row:
            names.add(to_rdflib(row["l"]))
    return {
        node: labelling.assignment_label([
            (obj, sorted(names, key=str))
            for prop in (SQ.matter, SQ.level)
            for obj, names in sorted(by_property[prop].items(), key=lambda item: str(item[0]))
        ])
        for node, by_property in parts.items()
    }


def _label_key(label: Literal) -> tuple[str, str]:
    return (label.language or "", str(label))


class _ReportGraph:
    """pySHACL's report graph: a sh:ValidationReport with one sh:result per result, blank nodes copied in."""

    def __init__(self, shapes: Graph, store: ox.Store):
        self.graph = Graph(bind_namespaces="core")
        for prefix, namespace in shapes.namespace_manager.namespaces():
            self.graph.namespace_manager.bind(prefix, namespace)
        self.shapes, self.data = shapes, _StoreGraph(store)
        self.report = BNode()
        self.graph.add((self.report, RDF.type, SH.ValidationReport))

    def add(self, raw: _Raw, messages: Iterable[Node], top: bool = True) -> BNode:
        g, node = self.graph, BNode()
        if top:
            g.add((self.report, SH.result, node))
        g.add((node, RDF.type, SH.ValidationResult))
        g.add((node, SH.sourceConstraintComponent, raw.component))
        g.add((node, SH.sourceShape, self._copy(raw.shape.node, self.shapes_pairs)))
        g.add((node, SH.resultSeverity, raw.shape.severity))
        g.add((node, SH.focusNode, self._copy(to_rdflib(raw.focus), self.data_pairs)))
        if raw.value is not None:
            g.add((node, SH.value, self._copy(to_rdflib(raw.value), self.data_pairs)))
        if raw.path is not None:
            g.add((node, SH.resultPath, self._copy(raw.path, self.shapes_pairs)))
        if raw.source_constraint is not None:
            g.add((node, SH.sourceConstraint, self._copy(raw.source_constraint, self.shapes_pairs)))
        for message in messages:
            g.add((node, SH.resultMessage, message))
        for detail in raw.details:
            g.add((node, SH.detail, self.add(detail, detail.messages, top=False)))
        return node

    def shapes_pairs(self, node: Node) -> list[tuple[Node, Node]]:
        return list(self.shapes.predicate_objects(node))

    def data_pairs(self, node: Node) -> list[tuple[Node, Node]]:
        return [(p, o) for p in self.data.predicates(node) for o in self.data.objects(node, p)]

    def _copy(self, node: Node, pairs: Callable[[Node], list[tuple[Node, Node]]], depth: int = 0) -> Node:
        """``node``; a blank node comes with what its graph says about it, as pySHACL clones it."""
        if isinstance(node, BNode) and depth < 10:
            for p, o in pairs(node):
                self.graph.add((node, p, self._copy(o, pairs, depth + 1)))
        return node

    def finish(self, conforms: bool) -> Graph:
        self.graph.add((self.report, SH.conforms, Literal(conforms)))
        return self.graph
