"""Terms and queries: how the engine writes terms into SPARQL and reads a store's answers back."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, Node, URIRef
from rdflib.namespace import NamespaceManager

from shiquan.terms import to_oxigraph, to_rdflib
from shiquan.vocab import PREFIXES

Term = Any  # a pyoxigraph NamedNode, BlankNode or Literal
Row = dict[str, Term]  # one query solution: variable name → term, bound variables only


def _data_namespaces() -> NamespaceManager:
    """The prefixes of the data graph as pySHACL sees it: rdflib's defaults, then the project's PREFIXES."""
    graph = Graph()
    for prefix, ns in PREFIXES.items():
        graph.bind(prefix, ns)
    return graph.namespace_manager


def _sparql_term(node: Node) -> str:
    """An IRI or literal written as a SPARQL term."""
    if isinstance(node, URIRef):
        return f"<{node}>"
    if isinstance(node, Literal):
        text = json.dumps(str(node), ensure_ascii=False)
        if node.language:
            return f"{text}@{node.language}"
        return f"{text}^^<{node.datatype}>" if node.datatype is not None else text
    raise TypeError(f"cannot write {node!r} in a query")


def _rdflib(term: Term | None) -> Node | None:
    return None if term is None else to_rdflib(term)


def _select(store: ox.Store, query: str, functions: dict | None = None,
            substitutions: dict | None = None) -> list[Row]:
    """Run a SELECT query over the union of the store's graphs; each solution as a dict of its bound variables.

    The answers are read on the calling thread, which must also free them (pyo3 refuses to free them on another): a
    custom function's traceback (rdflib logs one for an ill-typed literal, and a log handler may keep it) holds this
    frame, so the frame lets go of them before it returns.
    """
    solutions = store.query(query, use_default_graph_as_union=True, custom_functions=functions,
                            substitutions=substitutions)
    names = [v.value for v in solutions.variables]
    rows: list[Row] = []
    try:
        for solution in solutions:
            rows.append({name: term for name in names if (term := solution[name]) is not None})
    finally:
        del solutions
        solution = None
    return rows


def _for_nodes(store: ox.Store, nodes: list[Node], query: Callable[[str], str],
               functions: dict | None = None) -> Iterator[Row]:
    """Solutions of ``query(values)`` for ``nodes`` bound to ``?n``, which the query must select.

    IRIs and literals go into ``VALUES`` blocks; a blank node, which a query cannot
    name, is substituted into a query of its own.
    """
    named = [n for n in nodes if not isinstance(n, BNode)]
    for start in range(0, len(named), 1000):
        values = " ".join(_sparql_term(n) for n in named[start:start + 1000])
        yield from _select(store, query(f"VALUES ?n {{ {values} }}"), functions)
    for blank in (n for n in nodes if isinstance(n, BNode)):
        yield from _select(store, query(""), functions, {ox.Variable("n"): to_oxigraph(blank)})


class _StoreGraph:
    """The look-ups the term writer and the report's blank-node copies need, answered by the store."""

    def __init__(self, store: ox.Store):
        self.store = store

    def predicates(self, node: Node) -> list[Node]:
        rows = _for_nodes(self.store, [node], lambda values: f"SELECT DISTINCT ?n ?p WHERE {{ {values} ?n ?p ?o }}")
        return [to_rdflib(row["p"]) for row in rows]

    def objects(self, node: Node, predicate: Node) -> list[Node]:
        rows = _for_nodes(self.store, [node],
                          lambda values: f"SELECT DISTINCT ?n ?o WHERE {{ {values} ?n <{predicate}> ?o }}")
        return [to_rdflib(row["o"]) for row in rows]
