"""SHACL validation compiled to set-based SPARQL on a pyoxigraph store, with pySHACL's results.

pySHACL checks one focus node at a time in Python, which takes hours for a national
graph. :func:`validate_store` compiles every constraint of the shapes graph into one
SPARQL query over all of its focus nodes, e.g. for ``sh:class`` on a property::

    SELECT DISTINCT ?this ?value WHERE {
        { SELECT DISTINCT ?this WHERE { ?this rdf:type/rdfs:subClassOf* sq:Assignment } }
        ?this sq:level ?value .
        FILTER (!EXISTS { ?value rdf:type/rdfs:subClassOf* sq:AdministrativeLevel })
    }

runs it on the store, and builds from the answers the :class:`~server.validation.Report`
that :func:`shiquan.graph.validation.validate_graph` builds from pySHACL's report: the same
focus nodes, shapes, severities, messages, paths, values, components, labels and order,
and an equivalent report graph.

Oxigraph evaluates a join or a path inside EXISTS once per row without that row's
bindings, which is quadratic; so no generated query uses one: ``sh:class`` tests
membership in the class's instances, found once per class, and a SPARQL constraint's
top-level ``FILTER NOT EXISTS { … }`` is rewritten into the equivalent OPTIONAL form.
The national graph (3.4 million triples) takes about 40 s of one core.

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
  pySHACL does; ``_with_languages`` restores them as for pySHACL's report;
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
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from datetime import time as time_of_day
from decimal import Decimal
from typing import Any

import pyoxigraph as ox
from rdflib import OWL, RDF, RDFS, SH, XSD, BNode, Graph, Literal, Node, URIRef
from rdflib.namespace import DCTERMS, SKOS, NamespaceManager

from shiquan.graph import loading
from shiquan.errors import BadInput
from shiquan.terms import to_oxigraph
from shiquan.graph.validation import Report, Result, _with_languages
from shiquan.vocab import SQ, curie

Term = Any  # a pyoxigraph NamedNode, BlankNode or Literal
Row = dict[str, Term]  # one query solution: variable name → term, bound variables only
Focus = Callable[[str], str]  # variable → a group pattern binding it to each focus node once
Progress = Callable[[int, int, str], None]

SUBCLASS_STAR = f"<{RDF.type}>/<{RDFS.subClassOf}>*"
STRING_TYPES = f"<{XSD.string}>, <{RDF.langString}>"
FUNCTIONS = "urn:shiquan:shacl:function:"
# pySHACL's one component for the qualified counts; its results name sh:QualifiedMin/MaxCountConstraintComponent.
QUALIFIED = URIRef(f"{SH}QualifiedValueShapeConstraintComponent")

# Constraint parameter → constraint component, as pySHACL maps them.
COMPONENTS: dict[URIRef, URIRef] = {
    SH["class"]: SH.ClassConstraintComponent,
    SH.datatype: SH.DatatypeConstraintComponent,
    SH.nodeKind: SH.NodeKindConstraintComponent,
    SH.minCount: SH.MinCountConstraintComponent,
    SH.maxCount: SH.MaxCountConstraintComponent,
    SH.minExclusive: SH.MinExclusiveConstraintComponent,
    SH.minInclusive: SH.MinInclusiveConstraintComponent,
    SH.maxExclusive: SH.MaxExclusiveConstraintComponent,
    SH.maxInclusive: SH.MaxInclusiveConstraintComponent,
    SH["not"]: SH.NotConstraintComponent,
    SH["and"]: SH.AndConstraintComponent,
    SH["or"]: SH.OrConstraintComponent,
    SH.xone: SH.XoneConstraintComponent,
    SH.minLength: SH.MinLengthConstraintComponent,
    SH.maxLength: SH.MaxLengthConstraintComponent,
    SH.pattern: SH.PatternConstraintComponent,
    SH.languageIn: SH.LanguageInConstraintComponent,
    SH.uniqueLang: SH.UniqueLangConstraintComponent,
    SH.equals: SH.EqualsConstraintComponent,
    SH.disjoint: SH.DisjointConstraintComponent,
    SH.lessThan: SH.LessThanConstraintComponent,
    SH.lessThanOrEquals: SH.LessThanOrEqualsConstraintComponent,
    SH.node: SH.NodeConstraintComponent,
    SH.property: SH.PropertyConstraintComponent,
    SH.qualifiedValueShape: QUALIFIED,
    SH.qualifiedMinCount: QUALIFIED,
    SH.qualifiedMaxCount: QUALIFIED,
    SH.qualifiedValueShapesDisjoint: QUALIFIED,
    SH.closed: SH.ClosedConstraintComponent,
    SH.ignoredProperties: SH.ClosedConstraintComponent,
    SH.hasValue: SH.HasValueConstraintComponent,
    SH["in"]: SH.InConstraintComponent,
    SH.sparql: SH.SPARQLConstraintComponent,
}
# Components that judge one value node at a time → the parameter whose values pySHACL checks one by one.
VALUE_PARAMETERS: dict[URIRef, URIRef] = {
    component: parameter
    for parameter, component in COMPONENTS.items()
    if parameter in (SH["class"], SH.datatype, SH.nodeKind, SH.minExclusive, SH.minInclusive, SH.maxExclusive,
                     SH.maxInclusive, SH["not"], SH["and"], SH["or"], SH.xone, SH.minLength, SH.maxLength,
                     SH.pattern, SH.languageIn, SH.node)
}
SINGLE_VALUED = {SH.datatype, SH.nodeKind, SH.minLength, SH.maxLength, SH.languageIn}
COMPILED = set(VALUE_PARAMETERS) | {
    SH.MinCountConstraintComponent, SH.MaxCountConstraintComponent, SH.PropertyConstraintComponent,
    QUALIFIED, SH.SPARQLConstraintComponent,
}
TARGETS = (SH.targetNode, SH.targetClass, SH.targetSubjectsOf, SH.targetObjectsOf)
# sh: terms on a shape that neither constrain nor target.
NEUTRAL = {SH.path, SH.message, SH.severity, SH.deactivated, SH.name, SH.description, SH.order, SH.group,
           SH.defaultValue, SH.flags, *TARGETS}
ALLOWED_SEVERITIES = {SH.Warning, SH.Info}  # validate_graph runs pySHACL with allow_warnings
NODE_KINDS = {
    SH.IRI: "isIRI({v})",
    SH.BlankNode: "isBlank({v})",
    SH.Literal: "isLiteral({v})",
    SH.BlankNodeOrIRI: "(isIRI({v}) || isBlank({v}))",
    SH.BlankNodeOrLiteral: "(isBlank({v}) || isLiteral({v}))",
    SH.IRIOrLiteral: "(isIRI({v}) || isLiteral({v}))",
}
RANGES: dict[URIRef, tuple[str, Callable[[int], bool]]] = {  # parameter → (symbol in messages, test of the order)
    SH.minExclusive: (">", lambda order: order > 0),
    SH.minInclusive: (">=", lambda order: order >= 0),
    SH.maxExclusive: ("<", lambda order: order < 0),
    SH.maxInclusive: ("<=", lambda order: order <= 0),
}
LABEL_PROPERTIES = (RDFS.label, SKOS.prefLabel, DCTERMS.title)


# --------------------------------------------------------------------------------------------
# Terms and queries
# --------------------------------------------------------------------------------------------


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
    return None if term is None else loading.to_rdflib(term)


def _select(store: ox.Store, query: str, functions: dict | None = None,
            substitutions: dict | None = None) -> list[Row]:
    """Run a SELECT query over the union of the store's graphs; each solution as a dict of its bound variables."""
    solutions = store.query(query, use_default_graph_as_union=True, custom_functions=functions,
                            substitutions=substitutions)
    names = [v.value for v in solutions.variables]
    return [{name: term for name in names if (term := solution[name]) is not None} for solution in solutions]


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


def _string_form(value: Node) -> str:
    """The string of a value that pySHACL tests for sh:pattern and the length constraints."""
    if isinstance(value, Literal) and value.value is not None and value.datatype in (None, RDF.langString, XSD.string):
        return str(value.value)
    return str(value)


_PYTHON_TYPES: dict[URIRef, type | tuple[type, ...]] = {
    XSD.string: (str, bytes),
    XSD.integer: int,
    XSD.float: float,
    XSD.decimal: Decimal,
    XSD.boolean: bool,
    XSD.date: date,
    XSD.time: time_of_day,
    XSD.dateTime: datetime,
}


def _well_typed(value: Literal, datatype: URIRef) -> bool:
    """Whether pySHACL accepts ``value``, a literal of ``datatype``, as well-typed: rdflib's reading of it."""
    if getattr(value, "ill_typed", None) is True:
        return False
    wanted = _PYTHON_TYPES.get(datatype)
    return wanted is None or isinstance(value.value, wanted)


def _order(value: Literal, bound: Literal) -> int:
    """The order of two literals as pySHACL's range constraints see it (may raise TypeError)."""
    if value.eq(bound):
        return 0
    if value.value.__class__ in (datetime, time_of_day):
        if value.value == bound.value:
            return 0
        if value.value > bound.value:
            return 1
    elif value > bound:
        return 1
    return -1


# --------------------------------------------------------------------------------------------
# Regular expressions: when SPARQL REGEX (Rust syntax) gives Python's answer
# --------------------------------------------------------------------------------------------

_META_ESCAPES = set("\\.^$|?*+()[]{}-/")
_CLASS_ESCAPES = set("dDsSwW")
_QUANTIFIER = re.compile(r"\{(\d+)(,(\d*))?\}")


def _rust_agrees(pattern: str, flags: str) -> bool:
    """Whether Rust's regex finds a match exactly where Python's ``re.search`` does, on printable-ASCII text.

    True only for a conservative subset of syntax: literals, escaped metacharacters,
    ``\\d \\s \\w`` and their negations, ``.``, ``^``, ``$``, groups, ``(?:``, alternation,
    greedy and lazy quantifiers, and plain character classes with ranges; with the
    ``i`` flag the pattern must be ASCII. On text without newlines or non-ASCII
    characters the two engines read such a pattern alike.
    """
    if "i" in flags and not pattern.isascii():
        return False
    i, n = 0, len(pattern)
    after_atom = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n or (pattern[i + 1] not in _META_ESCAPES and pattern[i + 1] not in _CLASS_ESCAPES):
                return False
            i, after_atom = i + 2, True
        elif ch == "[":
            end = _class_end(pattern, i)
            if end < 0:
                return False
            i, after_atom = end + 1, True
        elif ch == "(":
            if pattern.startswith("(?", i) and not pattern.startswith("(?:", i):
                return False
            i, after_atom = i + (3 if pattern.startswith("(?:", i) else 1), False
        elif ch in "*+?{":
            match = _QUANTIFIER.match(pattern, i) if ch == "{" else None
            if not after_atom or (ch == "{" and (match is None or (match.group(3) and int(match.group(3)) < int(match.group(1))))):
                return False
            i = match.end() if match else i + 1
            if i < n and pattern[i] == "?":
                i += 1
            if i < n and pattern[i] in "*+?{":
                return False
            after_atom = False
        elif ch in "}]":
            return False
        else:
            i, after_atom = i + 1, ch not in "|^$"
    return True


def _class_atom(pattern: str, i: int) -> tuple[int, bool]:
    """The end of the character-class item at ``i`` and whether it is a single character (-1 if not plain)."""
    ch = pattern[i]
    if ch == "\\":
        if i + 1 >= len(pattern):
            return -1, False
        if pattern[i + 1] in _CLASS_ESCAPES:
            return i + 2, False
        return (i + 2, True) if pattern[i + 1] in _META_ESCAPES else (-1, False)
    return (-1, False) if ch in "[]&~-" else (i + 1, True)


def _class_end(pattern: str, start: int) -> int:
    """The index of the ``]`` closing the plain character class at ``start``, or -1 if it is not plain."""
    i, n, items = start + 1, len(pattern), 0
    if i < n and pattern[i] == "^":
        i += 1
    while i < n:
        if pattern[i] == "]":
            return i if items else -1
        end, single = _class_atom(pattern, i)
        if end < 0:
            return -1
        i, items = end, items + 1
        if i < n and pattern[i] == "-":
            if not single or i + 1 >= n or pattern[i + 1] == "]":
                return -1
            end, single = _class_atom(pattern, i + 1)
            if end < 0 or not single:
                return -1
            i = end
    return -1


# --------------------------------------------------------------------------------------------
# Terms in messages, written as pySHACL writes them
# --------------------------------------------------------------------------------------------


class _Describer:
    """Write terms as pySHACL's ``stringify_node`` does, for a graph given by its look-ups."""

    def __init__(self, namespaces: NamespaceManager, predicates: Callable[[Node], list[Node]],
                 objects: Callable[[Node, Node], list[Node]]):
        self.namespaces = namespaces
        self.namespaces.bind("sh", SH, override=False, replace=False)
        self.predicates, self.objects = predicates, objects

    def __call__(self, node: Node, depth: int = 0) -> str:
        if isinstance(node, Literal):
            return self._literal(node)
        if isinstance(node, BNode):
            return self._blank(node, depth + 1)
        if isinstance(node, URIRef):
            try:
                return node.n3(namespace_manager=self.namespaces)
            except Exception:  # rdflib refuses to write some IRIs; pySHACL then writes them bare
                return str(node)
        return str(node)

    def _literal(self, node: Literal) -> str:
        value = None if node.value is None else str(node.value)
        lexical = str(node)
        if value is not None and value.find(" object at 0x") > 0:
            value = value[: value.find(" object at 0x")]
        text = f'"{lexical}" = {value}' if value is not None and value != lexical else f'"{lexical}"'
        if node.language:
            text += f", lang={node.language}"
        if node.datatype:
            text += f", datatype={self(node.datatype)}"
        return f"Literal({text})"

    def _blank(self, node: BNode, depth: int) -> str:
        if depth >= 12:
            return "<http://recursion.too.deep>"
        predicates = self.predicates(node)
        if not predicates:
            return "[ ]"
        if RDF.first in predicates:
            return "( {} )".format(" ".join(self(item, depth) for item in self.items(node)))
        parts: dict[str, str] = {}
        for p in predicates:
            texts = sorted("<self>" if p == OWL.sameAs and o == node else self(o, depth) for o in self.objects(node, p))
            if texts:
                parts[p.n3(namespace_manager=self.namespaces)] = ", ".join(texts)
        return "[ {} ]".format(" ; ".join(f"{p} {o}" for p, o in sorted(parts.items())))

    def items(self, node: Node) -> Iterator[Node]:
        """The members of the RDF list starting at ``node``."""
        seen = set()
        while node != RDF.nil and node not in seen:
            seen.add(node)
            yield from self.objects(node, RDF.first)[:1]
            rest = self.objects(node, RDF.rest)
            if not rest:
                return
            node = rest[0]


class _StoreGraph:
    """The look-ups the term writer and the report's blank-node copies need, answered by the store."""

    def __init__(self, store: ox.Store):
        self.store = store

    def predicates(self, node: Node) -> list[Node]:
        rows = _for_nodes(self.store, [node], lambda values: f"SELECT DISTINCT ?n ?p WHERE {{ {values} ?n ?p ?o }}")
        return [loading.to_rdflib(row["p"]) for row in rows]

    def objects(self, node: Node, predicate: Node) -> list[Node]:
        rows = _for_nodes(self.store, [node],
                          lambda values: f"SELECT DISTINCT ?n ?o WHERE {{ {values} ?n <{predicate}> ?o }}")
        return [loading.to_rdflib(row["o"]) for row in rows]


# --------------------------------------------------------------------------------------------
# Compiling shapes into checks
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Shape:
    """A shape as pySHACL reads it."""

    node: Node
    path: Node | None  # None for a node shape
    severity: Node
    messages: tuple[Node, ...]
    deactivated: bool

    @property
    def is_property(self) -> bool:
        return self.path is not None


@dataclass
class _Raw:
    """One result as pySHACL writes it into its report, before the labels are looked up."""

    focus: Term
    shape: _Shape
    component: URIRef
    value: Term | None = None
    path: Node | None = None
    source_constraint: Node | None = None
    messages: list[Node] = field(default_factory=list)
    details: list[_Raw] = field(default_factory=list)  # for sh:node: the results of the value (sh:detail)
    node_shape: Node | None = None  # for sh:node: the shape the value fails


@dataclass
class Check:
    """One compiled query and how its solutions become results; ``seconds`` and ``rows`` once it has run."""

    label: str
    query: str
    collect: Callable[[list[Row]], list[_Raw]]
    seconds: float = 0.0
    rows: int = 0


class _Compiler:
    """Turn a shapes graph into checks, raising BadInput for anything that is not compiled."""

    def __init__(self, shapes: Graph):
        self.graph = shapes
        self.describe = _Describer(shapes.namespace_manager, lambda n: list(shapes.predicates(n)),
                                   lambda n, p: list(shapes.objects(n, p)))
        self.functions: dict[ox.NamedNode, Callable[..., Term]] = {}
        self._function_keys: dict[tuple, ox.NamedNode] = {}
        self.checks: list[Check] = []
        self.instances: dict[Node, set[Term]] = {}  # class → its SHACL instances, filled by prepare()
        self.shapes = self._discover()

    # -- shapes -----------------------------------------------------------------------------

    def name(self, node: Node) -> str:
        """How messages name a shape: its CURIE, or a description of a blank-node shape."""
        return curie(str(node)) if isinstance(node, URIRef) else f"[{self.describe(node)}]"

    def refuse(self, shape: Node, what: Node, why: str = "") -> BadInput:
        return BadInput(f"shape {self.name(shape)} uses {curie(str(what))}, which the SPARQL validator "
                        f"does not compile{f' ({why})' if why else ''}")

    def _discover(self) -> dict[Node, _Shape]:
        """The shapes pySHACL finds: declared ones, targeted ones, and values of shape-expecting parameters."""
        g = self.graph
        declared_node = set(g.subjects(RDF.type, SH.NodeShape))
        declared_property = set(g.subjects(RDF.type, SH.PropertyShape))
        for node in declared_node & declared_property:
            raise BadInput(f"{self.name(node)} is declared both a node shape and a property shape")
        implied = {s for p in (*TARGETS, SH.property, SH.node) for s in g.subjects(p)}
        implied |= {o for p in (SH.property, SH.node, SH["not"], SH.qualifiedValueShape) for o in g.objects(None, p)}
        for p in (SH["and"], SH["or"], SH.xone):
            for head in g.objects(None, p):
                members = list(g.items(head))
                if not members:
                    raise BadInput(f"a value of {curie(str(p))} is not a non-empty list")
                implied.update(members)
        shapes: dict[Node, _Shape] = {}
        for node in declared_node | declared_property | implied:
            paths = list(g.objects(node, SH.path))
            if node in declared_node and paths:
                raise BadInput(f"node shape {self.name(node)} cannot have sh:path")
            if len(paths) > 1 or (node in declared_property and len(paths) != 1):
                raise BadInput(f"property shape {self.name(node)} must have exactly one sh:path")
            deactivated = list(g.objects(node, SH.deactivated))
            if len(deactivated) > 1 or (deactivated and not isinstance(deactivated[0], Literal)):
                raise BadInput(f"shape {self.name(node)} must have at most one literal sh:deactivated")
            severities = list(g.objects(node, SH.severity))
            shapes[node] = _Shape(
                node=node,
                path=paths[0] if paths else None,
                severity=severities[0] if severities else SH.Violation,
                messages=tuple(dict.fromkeys(g.objects(node, SH.message))),
                deactivated=bool(deactivated[0].value) if deactivated else False,
            )
        return shapes

    def other(self, node: Node, via: URIRef, owner: _Shape) -> _Shape:
        """The shape ``node`` that ``owner`` names with ``via``."""
        try:
            return self.shapes[node]
        except KeyError:
            raise BadInput(f"shape {self.name(owner.node)}: {curie(str(via))} names {node}, not a shape") from None

    def components(self, shape: _Shape) -> list[URIRef]:
        """The constraint components ``shape`` uses, each once; BadInput for one that is not compiled."""
        found: list[URIRef] = []
        for p in dict.fromkeys(self.graph.predicates(shape.node)):
            if p in COMPONENTS:
                component = COMPONENTS[p]
                if component not in COMPILED:
                    raise self.refuse(shape.node, component)
                if component not in found:
                    found.append(component)
            elif isinstance(p, URIRef) and p.startswith(str(SH)) and p not in NEUTRAL:
                raise self.refuse(shape.node, p, "not a SHACL Core or SHACL-SPARQL constraint or target")
        for component in self.graph.subjects(RDF.type, SH.ConstraintComponent):
            for parameter in self.graph.objects(component, SH.parameter):
                for p in self.graph.objects(parameter, SH.path):
                    if (shape.node, p, None) in self.graph:
                        raise self.refuse(shape.node, component, "a custom constraint component")
        return sorted(found, key=str)

    def parameter(self, shape: _Shape, parameter: URIRef) -> Node:
        """The single value of ``parameter`` on ``shape``."""
        values = list(self.graph.objects(shape.node, parameter))
        if len(values) != 1:
            raise BadInput(f"shape {self.name(shape.node)} must have exactly one {curie(str(parameter))}")
        return values[0]

    def term(self, node: Node, shape: _Shape) -> str:
        if not isinstance(node, (URIRef, Literal)):
            raise BadInput(f"shape {self.name(shape.node)}: a blank node where an IRI or literal is expected")
        return _sparql_term(node)

    # -- targets and shapes ---------------------------------------------------------------------

    def compile(self) -> list[Check]:
        """A check for every constraint of every shape that has targets, in a stable order.

        Every shape is looked at first, reached or not, so that one using what is not
        compiled is refused even where no target leads to it yet.
        """
        for shape in self.shapes.values():
            self.components(shape)
            for node in self.graph.objects(shape.node, SH.sparql):
                _SparqlConstraint(self, shape, node).query(lambda v: "")
        implicit = set(self.graph.subjects(RDFS.subClassOf, RDFS.Class)) | {RDFS.Class}
        for shape in sorted(self.shapes.values(), key=lambda s: str(s.node)):
            g, node = self.graph, shape.node
            patterns: list[Callable[[str], str]] = []
            for target in g.objects(node, SH.targetNode):
                patterns.append(lambda v, t=self.term(target, shape): f"VALUES {v} {{ {t} }}")
            classes = list(g.objects(node, SH.targetClass))
            if set(g.objects(node, RDF.type)) & implicit:
                classes.append(node)
            for cls in dict.fromkeys(classes):
                patterns.append(lambda v, c=self.term(cls, shape): f"{v} {SUBCLASS_STAR} {c} .")
            for p in g.objects(node, SH.targetSubjectsOf):
                patterns.append(lambda v, p=self.term(p, shape): f"{v} {p} [] .")
            for p in g.objects(node, SH.targetObjectsOf):
                patterns.append(lambda v, p=self.term(p, shape): f"[] {p} {v} .")
            if patterns and not shape.deactivated:
                self.shape(shape, self._target_focus(patterns))
        return self.checks

    @staticmethod
    def _target_focus(patterns: list[Callable[[str], str]]) -> Focus:
        def focus(v: str) -> str:
            body = patterns[0](v) if len(patterns) == 1 else " UNION ".join(f"{{ {p(v)} }}" for p in patterns)
            return f"{{ SELECT DISTINCT {v} WHERE {{ {body} }} }}"

        return focus

    def shape(self, shape: _Shape, focus: Focus) -> None:
        """Compile the constraints of ``shape`` for the focus nodes that ``focus`` binds."""
        if shape.deactivated:
            return
        for component in self.components(shape):
            if component in VALUE_PARAMETERS:
                for rule in self.rules(shape, component):
                    self._value_check(shape, component, rule, focus)
            elif component == SH.MinCountConstraintComponent:
                self._count_check(shape, SH.minCount, focus)
            elif component == SH.MaxCountConstraintComponent:
                self._count_check(shape, SH.maxCount, focus)
            elif component == QUALIFIED:
                self._qualified_checks(shape, focus)
            elif component == SH.SPARQLConstraintComponent:
                for node in self.graph.objects(shape.node, SH.sparql):
                    constraint = _SparqlConstraint(self, shape, node)
                    if not constraint.deactivated:
                        label = f"{self.name(node)} {curie(str(component))}"
                        self.checks.append(Check(label, constraint.query(focus), constraint.collect))
            elif component == SH.PropertyConstraintComponent:
                if shape.is_property:  # pySHACL checks a value once per focus node having it: duplicates
                    raise self.refuse(shape.node, component, "sh:property on a property shape")
                for node in self.graph.objects(shape.node, SH.property):
                    child = self.other(node, SH.property, shape)
                    if not child.is_property:
                        raise BadInput(f"shape {self.name(shape.node)}: sh:property names {self.name(node)}, "
                                       "which is not a property shape")
                    self.shape(child, focus)

    # -- paths ----------------------------------------------------------------------------------

    def path(self, shape: _Shape) -> str:
        """The SPARQL property path of the sh:path of ``shape``."""
        return self._path(shape, shape.path, False, 0)

    def _path(self, shape: _Shape, node: Node | None, inverse: bool, depth: int) -> str:
        g = self.graph
        if isinstance(node, URIRef):
            return f"^<{node}>" if inverse else f"<{node}>"
        if not isinstance(node, BNode) or depth > 10:
            raise BadInput(f"shape {self.name(shape.node)}: sh:path must be an IRI or a well-formed path")
        if (node, RDF.first, None) in g:
            steps = list(g.items(node))
            if len(steps) < 2:
                raise BadInput(f"shape {self.name(shape.node)}: a sequence path needs two steps or more")
            return "(" + "/".join(self._path(shape, s, inverse, depth + 1) for s in steps) + ")"
        for p, o in g.predicate_objects(node):
            if p == SH.inversePath:
                return self._path(shape, o, not inverse, depth + 1)
            if p == SH.alternativePath:
                options = list(g.items(o))
                if len(options) < 2:
                    raise BadInput(f"shape {self.name(shape.node)}: an alternative path needs two paths or more")
                return "(" + "|".join(self._path(shape, s, inverse, depth + 1) for s in options) + ")"
            suffix = {SH.zeroOrMorePath: "*", SH.oneOrMorePath: "+", SH.zeroOrOnePath: "?"}.get(p)
            if suffix:
                return f"({self._path(shape, o, inverse, depth + 1)}){suffix}"
        raise BadInput(f"shape {self.name(shape.node)}: unknown kind of sh:path")

    # -- value-node constraints -----------------------------------------------------------------

    def rules(self, shape: _Shape, component: URIRef) -> list[Node]:
        """The values of the component's parameter, each of which pySHACL checks (and reports) separately."""
        parameter = VALUE_PARAMETERS[component]
        values = sorted(dict.fromkeys(self.graph.objects(shape.node, parameter)), key=str)
        if parameter in SINGLE_VALUED and len(values) > 1:
            raise BadInput(f"shape {self.name(shape.node)} must have at most one {curie(str(parameter))}")
        if parameter in (*RANGES, SH.pattern) and not all(isinstance(v, Literal) for v in values):
            raise BadInput(f"shape {self.name(shape.node)}: {curie(str(parameter))} must be a literal")
        return values

    def ok(self, shape: _Shape, component: URIRef, rule: Node, v: str, stack: tuple[Node, ...] = ()) -> str:
        """A SPARQL expression that is true when the node in variable ``v`` passes ``rule`` of ``component``."""
        if component == SH.ClassConstraintComponent:
            return f"{self._instance_test(rule, shape)}({v})"
        if component == SH.DatatypeConstraintComponent:
            return self._datatype_ok(shape, rule, v)
        if component == SH.NodeKindConstraintComponent:
            return NODE_KINDS[rule].format(v=v) if rule in NODE_KINDS else "false"
        parameter = VALUE_PARAMETERS[component]
        if parameter in RANGES:
            fn = self.function(("range", parameter, rule), self._range_function(parameter, rule))
            return f"IF(isLiteral({v}), {fn}({v}), false)"
        if parameter in (SH.minLength, SH.maxLength):
            if not (isinstance(rule, Literal) and isinstance(rule.value, int) and rule.value >= 0):
                raise BadInput(f"shape {self.name(shape.node)}: {curie(str(parameter))} must be an integer >= 0")
            if parameter == SH.minLength and rule.value == 0:
                return "true"
            operator = ">=" if parameter == SH.minLength else "<="
            return f"(!isBlank({v}) && STRLEN({self._string(v)}) {operator} {rule.value})"
        if parameter == SH.pattern:
            return self._pattern_ok(shape, rule, v)
        if parameter == SH.languageIn:
            return self._language_ok(shape, rule, v)
        inner_stack = (*stack, shape.node)
        if parameter == SH["not"]:
            return f"!({self.conforms(self.other(rule, parameter, shape), v, inner_stack)})"
        if parameter == SH.node:
            inner = self.other(rule, parameter, shape)
            if inner.is_property:
                raise BadInput(f"shape {self.name(shape.node)}: sh:node names the property shape {self.name(rule)}")
            return self.no_results(inner, v, inner_stack)
        members = [self.other(m, parameter, shape) for m in dict.fromkeys(self.graph.items(rule))]
        if not members:
            raise BadInput(f"shape {self.name(shape.node)}: {curie(str(parameter))} needs a non-empty list")
        tests = [self.conforms(m, v, inner_stack) for m in members]
        if parameter == SH["and"]:
            return "(" + " && ".join(tests) + ")"
        if parameter == SH["or"]:
            return "(" + " || ".join(tests) + ")"
        return "((" + " + ".join(f"IF({t}, 1, 0)" for t in tests) + ") = 1)"

    def no_results(self, shape: _Shape, v: str, stack: tuple[Node, ...]) -> str:
        """True when validating the node in ``v`` against ``shape`` gives no result (what sh:node asks)."""
        if shape.deactivated:
            return "true"
        if shape.node in stack:
            raise BadInput(f"shape {self.name(shape.node)} refers to itself; recursive shapes are not compiled")
        if shape.is_property:
            raise BadInput(f"shape {self.name(stack[-1])}: the property shape {self.name(shape.node)} inside "
                           "sh:node, sh:or, sh:and, sh:xone or sh:not is not compiled")
        tests = []
        for component in self.components(shape):
            if component == QUALIFIED:
                continue  # pySHACL ignores it on a node shape
            if component not in VALUE_PARAMETERS:
                raise self.refuse(shape.node, component, "inside sh:node, sh:or, sh:and, sh:xone or sh:not")
            tests += [self.ok(shape, component, rule, v, stack) for rule in self.rules(shape, component)]
        return "(" + " && ".join(tests) + ")" if tests else "true"

    def conforms(self, shape: _Shape, v: str, stack: tuple[Node, ...]) -> str:
        """True when the node in ``v`` conforms to ``shape`` as pySHACL decides inside sh:or, sh:not and kin.

        With allow_warnings a shape of severity Warning or Info always conforms there.
        """
        test = self.no_results(shape, v, stack)
        return "true" if shape.severity in ALLOWED_SEVERITIES else test

    def _instance_test(self, cls: Node, shape: _Shape) -> str:
        """A function telling whether a node is a SHACL instance of ``cls`` (rdf:type/rdfs:subClassOf*).

        The instances are found by one query in :meth:`prepare`: oxigraph evaluates a path
        inside EXISTS without the outer binding, once per row, which is quadratic.
        """
        self.term(cls, shape)
        members = self.instances.setdefault(cls, set())
        return self.function(("class", cls), lambda term: ox.Literal(term in members))

    def prepare(self, store: ox.Store) -> None:
        """Find the instances of the classes the checks test, before they run."""
        for cls, members in self.instances.items():
            members.clear()
            query = f"SELECT DISTINCT ?n WHERE {{ ?n {SUBCLASS_STAR} {_sparql_term(cls)} }}"
            members.update(row["n"] for row in _select(store, query))

    def _datatype_ok(self, shape: _Shape, datatype: Node, v: str) -> str:
        if datatype == RDFS.Literal:
            return f"isLiteral({v})"
        if datatype == RDFS.Datatype:  # rdflib gives plain and language-tagged literals no datatype
            return f"(isLiteral({v}) && DATATYPE({v}) NOT IN ({STRING_TYPES}))"
        if datatype == RDF.langString:
            return f"(isLiteral({v}) && LANG({v}) != \"\")"
        written = self.term(datatype, shape)
        if datatype == XSD.string:
            return f"(isLiteral({v}) && DATATYPE({v}) = {written})"

        def well_typed(term: Term) -> Term:
            value = loading.to_rdflib(term)
            return ox.Literal(isinstance(value, Literal) and _well_typed(value, datatype))

        fn = self.function(("datatype", datatype), _memoised(well_typed))
        return f"IF(isLiteral({v}) && DATATYPE({v}) = {written}, {fn}({v}), false)"

    def _pattern_ok(self, shape: _Shape, rule: Literal, v: str) -> str:
        flag_values = list(self.graph.objects(shape.node, SH.flags))
        given = str(flag_values[0].value).lower() if flag_values and isinstance(flag_values[0], Literal) else ""
        flags = ("i" if "i" in given else "") + ("m" if "m" in given else "")  # the only flags pySHACL reads
        pattern = str(rule.value) if rule.value is not None and len(rule.value) > 1 else str(rule)
        try:
            regex = re.compile(pattern, (re.I if "i" in flags else 0) | (re.M if "m" in flags else 0))
        except re.error as exc:
            raise BadInput(f"shape {self.name(shape.node)}: sh:pattern {pattern!r} is not a regular expression: {exc}") \
                from exc

        def matches(term: Term) -> Term:
            value = loading.to_rdflib(term)
            return ox.Literal(not isinstance(value, BNode) and regex.search(_string_form(value)) is not None)

        test = f"{self.function(('pattern', pattern, flags), _memoised(matches))}({v})"
        if _rust_agrees(pattern, flags):
            plain = f"((isIRI({v}) || DATATYPE({v}) IN ({STRING_TYPES})) && REGEX(STR({v}), \"^[ -~]*$\"))"
            test = f"IF({plain}, REGEX(STR({v}), {json.dumps(pattern)}, \"{flags}\"), {test})"
        return f"IF(isBlank({v}), false, {test})"

    def _language_ok(self, shape: _Shape, rule: Node, v: str) -> str:
        languages = []
        for item in self.graph.items(rule):
            if not (isinstance(item, Literal) and isinstance(item.value, str)):
                raise BadInput(f"shape {self.name(shape.node)}: sh:languageIn takes a list of strings")
            languages.append(str(item.value).lower())
        tagged = f"(isLiteral({v}) && LANG({v}) != \"\")"
        if "*" in languages:
            return tagged
        listed = ", ".join(json.dumps(lang) for lang in dict.fromkeys(languages)) or '""'
        return (f"({tagged} && (LCASE(LANG({v})) IN ({listed}) "
                f"|| LCASE(STRBEFORE(CONCAT(LANG({v}), \"-\"), \"-\")) IN ({listed})))")

    def _string(self, v: str) -> str:
        """The string pySHACL measures: rdflib's lexical form for literals not of a string type."""

        def lexical(term: Term) -> Term:
            return ox.Literal(_string_form(loading.to_rdflib(term)))

        fn = self.function(("string",), _memoised(lexical))
        return f"IF(isLiteral({v}) && DATATYPE({v}) NOT IN ({STRING_TYPES}), {fn}({v}), STR({v}))"

    @staticmethod
    def _range_function(parameter: URIRef, bound: Literal) -> Callable[[Term], Term]:
        test = RANGES[parameter][1]
        cache: dict[tuple, Term] = {}

        def in_range(term: Term) -> Term:
            key = (term.value, term.datatype.value, term.language)
            if key not in cache:
                value = loading.to_rdflib(term)
                try:
                    passed = isinstance(value.value, str) == isinstance(bound.value, str) and test(_order(value, bound))
                except (TypeError, NotImplementedError):
                    passed = False
                cache[key] = ox.Literal(passed)
            return cache[key]

        return in_range

    def function(self, key: tuple, fn: Callable[..., Term]) -> str:
        """Register ``fn`` as a SPARQL extension function once per ``key``; its IRI in angle brackets."""
        if key not in self._function_keys:
            self._function_keys[key] = ox.NamedNode(f"{FUNCTIONS}{len(self._function_keys)}")
            self.functions[self._function_keys[key]] = fn
        return str(self._function_keys[key])

    # -- checks ---------------------------------------------------------------------------------

    def _label(self, shape: _Shape, component: URIRef, rule: Node | None = None) -> str:
        note = f" {curie(str(rule))}" if isinstance(rule, URIRef) else ""
        return f"{self.name(shape.node)} {curie(str(component))}{note}"

    def _value_check(self, shape: _Shape, component: URIRef, rule: Node, focus: Focus) -> None:
        """The value nodes failing ``rule``: a result for each focus node and value."""
        if shape.is_property:
            test = self.ok(shape, component, rule, "?value")
            query = (f"SELECT DISTINCT ?this ?value WHERE {{ {focus('?this')} ?this {self.path(shape)} ?value . "
                     f"FILTER (!({test})) }}")
        else:
            query = f"SELECT ?this WHERE {{ {focus('?this')} FILTER (!({self.ok(shape, component, rule, '?this')})) }}"
        node_shape = rule if component == SH.NodeConstraintComponent else None

        def collect(rows: list[Row]) -> list[_Raw]:
            return [_Raw(row["this"], shape, component, row["value"] if shape.is_property else row["this"],
                         shape.path, node_shape=node_shape) for row in rows]

        self.checks.append(Check(self._label(shape, component, rule), query, collect))

    def _count_check(self, shape: _Shape, parameter: URIRef, focus: Focus) -> None:
        component = COMPONENTS[parameter]
        count = self.parameter(shape, parameter)
        if not (isinstance(count, Literal) and count.datatype == XSD.integer and isinstance(count.value, int)
                and count.value >= 0):
            raise BadInput(f"shape {self.name(shape.node)}: {curie(str(parameter))} must be an xsd:integer >= 0")
        if not shape.is_property:
            raise BadInput(f"shape {self.name(shape.node)}: {curie(str(parameter))} belongs on a property shape")
        n, path, this = count.value, self.path(shape), focus("?this")
        if parameter == SH.minCount:
            if n == 0:
                return
            if n == 1:
                query = f"SELECT ?this WHERE {{ {this} FILTER NOT EXISTS {{ ?this {path} ?value }} }}"
            else:
                query = (f"SELECT ?this WHERE {{ {this} OPTIONAL {{ ?this {path} ?value }} }} "
                         f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) < {n})")
        elif n == 0:
            query = f"SELECT DISTINCT ?this WHERE {{ {this} ?this {path} ?value . }}"
        elif n == 1:
            query = (f"SELECT DISTINCT ?this WHERE {{ {this} ?this {path} ?value . ?this {path} ?other . "
                     f"FILTER (!sameTerm(?value, ?other)) }}")
        else:
            query = (f"SELECT ?this WHERE {{ {this} ?this {path} ?value . }} "
                     f"GROUP BY ?this HAVING (COUNT(DISTINCT ?value) > {n})")

        def collect(rows: list[Row]) -> list[_Raw]:
            return [_Raw(row["this"], shape, component, None, shape.path) for row in rows]

        self.checks.append(Check(self._label(shape, component), query, collect))

    def _qualified_checks(self, shape: _Shape, focus: Focus) -> None:
        g = self.graph
        if not shape.is_property:
            return  # pySHACL warns and ignores it on a node shape

        def count(parameter: URIRef) -> int | None:
            values = list(g.objects(shape.node, parameter))
            if len(values) > 1 or (values and not (isinstance(values[0], Literal) and isinstance(values[0].value, int))):
                raise BadInput(f"shape {self.name(shape.node)} must have at most one integer {curie(str(parameter))}")
            return values[0].value if values else None

        low, high = count(SH.qualifiedMinCount), count(SH.qualifiedMaxCount)
        if low is None and high is None:
            raise BadInput(f"shape {self.name(shape.node)}: sh:qualifiedValueShape needs a qualified count")
        disjoint = any(isinstance(d, Literal) and d.value is True for d in g.objects(shape.node, SH.qualifiedValueShapesDisjoint))
        path = self.path(shape)
        for node in dict.fromkeys(g.objects(shape.node, SH.qualifiedValueShape)):
            siblings: set[Node] = set()
            if disjoint:
                for parent in g.subjects(SH.property, shape.node):
                    for sibling in g.objects(parent, SH.property):
                        siblings.update(s for s in g.objects(sibling, SH.qualifiedValueShape) if s != node)
            test = self.conforms(self.other(node, SH.qualifiedValueShape, shape), "?value", (shape.node,))
            for sibling in sorted(siblings, key=str):
                other = self.other(sibling, SH.qualifiedValueShape, shape)
                test += f" && !({self.conforms(other, '?value', (shape.node,))})"
            bounds = ([f"COUNT(DISTINCT ?value) < {low}"] if low is not None else []) \
                + ([f"COUNT(DISTINCT ?value) > {high}"] if high is not None else [])
            query = (f"SELECT ?this (COUNT(DISTINCT ?value) AS ?n) WHERE {{ {focus('?this')} "
                     f"OPTIONAL {{ ?this {path} ?value . FILTER ({test}) }} }} GROUP BY ?this HAVING ({' || '.join(bounds)})")

            def collect(rows: list[Row]) -> list[_Raw]:
                raws = []
                for row in rows:
                    n = int(row["n"].value)
                    if high is not None and n > high:
                        raws.append(_Raw(row["this"], shape, SH.QualifiedMaxCountConstraintComponent, None, shape.path))
                    if low is not None and n < low:
                        raws.append(_Raw(row["this"], shape, SH.QualifiedMinCountConstraintComponent, None, shape.path))
                return raws

            self.checks.append(Check(self._label(shape, QUALIFIED, node), query, collect))


# --------------------------------------------------------------------------------------------
# SHACL-SPARQL constraints
# --------------------------------------------------------------------------------------------

_TOKENS = re.compile(
    r"""(?P<space>\s+)
      | (?P<comment>\#[^\n]*)
      | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
      | (?P<iri><[^<>"{}|^`\\\s]*>)
      | (?P<var>[?$]\w+)
      | (?P<pname>(?:[A-Za-z][\w.-]*)?:[\w.:%-]*)
      | (?P<word>[A-Za-z_]\w*)
      | (?P<other>.)""",
    re.X | re.S,
)
_AGGREGATES = {"COUNT", "SUM", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT"}
_THIS_BOUND = re.compile(r"([\s{}()])[$?]this")  # pySHACL pre-binds $this when this matches
# Words that keep a NOT EXISTS block from being rewritten into OPTIONAL (see _SparqlConstraint.query).
_NOT_PLAIN = {"OPTIONAL", "MINUS", "BIND", "VALUES", "GRAPH", "SERVICE", "SELECT", "UNION", "EXISTS"}


def _plain_not_exists(tokens: list[_Token], where: int, close: int) -> list[tuple[int, int, int]]:
    """The ``FILTER NOT EXISTS { … }`` blocks directly in the WHERE group whose body is triples and filters only.

    Each as the indexes of its FILTER, its opening and its closing brace.
    """
    blocks, depth, i = [], 0, where + 1
    while i < close:
        t = tokens[i]
        depth += (t.text == "{") - (t.text == "}")
        if depth == 0 and t.word == "FILTER" and [x.word for x in tokens[i + 1:i + 3]] == ["NOT", "EXISTS"] \
                and tokens[i + 3].text == "{":
            j, inner, plain = i + 4, 1, True
            while inner:
                inner += (tokens[j].text == "{") - (tokens[j].text == "}")
                plain &= tokens[j].text != "{" and tokens[j].word not in _NOT_PLAIN
                j += 1
            if plain:
                blocks.append((i, i + 3, j - 1))
            i = j
            continue
        i += 1
    return blocks


def _string_argument(term: Term) -> Literal:
    """A SPARQL function's string argument, refused (ValueError) as rdflib refuses it."""
    value = loading.to_rdflib(term)
    if not isinstance(value, Literal) or (value.datatype is not None and value.datatype != XSD.string):
        raise ValueError("not a string literal")
    return value


def _regex_flags(term: Term | None) -> int:
    flags = {"i": re.IGNORECASE, "s": re.DOTALL, "m": re.MULTILINE}
    return 0 if term is None else sum({flags.get(f, 0) for f in str(loading.to_rdflib(term))})


def _memoised(fn: Callable[..., Term | None]) -> Callable[..., Term | None]:
    """``fn`` answering each tuple of arguments once; an error (ValueError, re.error) is an unbound result."""
    answers: dict[tuple, Term | None] = {}

    def wrapped(*args: Term) -> Term | None:
        if args not in answers:
            try:
                answers[args] = fn(*args)
            except (ValueError, TypeError, re.error):
                answers[args] = None
        return answers[args]

    return wrapped


def _rdflib_replace(text: Term, pattern: Term, replacement: Term, flags: Term | None = None) -> Term:
    """REPLACE as rdflib evaluates it: Python's re.sub, ``$1`` read as ``\\1``, and the flags passed as count."""
    string = _string_argument(text)
    substitute = re.sub("\\$([0-9]*)", r"\\\1", str(_string_argument(replacement)))
    result = re.sub(str(_string_argument(pattern)), substitute, string, count=_regex_flags(flags))
    return to_oxigraph(Literal(result, datatype=string.datatype, lang=string.language))


def _rdflib_regex(text: Term, pattern: Term, flags: Term | None = None) -> Term:
    """REGEX as rdflib evaluates it: Python's re.search."""
    found = re.search(str(_string_argument(pattern)), str(_string_argument(text)), _regex_flags(flags))
    return ox.Literal(found is not None)


_RDFLIB_FUNCTIONS = {"REPLACE": _rdflib_replace, "REGEX": _rdflib_regex}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int

    @property
    def word(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    @property
    def is_this(self) -> bool:
        return self.kind == "var" and self.text[1:] == "this"


def _tokens(text: str) -> list[_Token]:
    """SPARQL text as tokens, without spaces and comments."""
    return [_Token(m.lastgroup or "", m.group(), m.start(), m.end())
            for m in _TOKENS.finditer(text) if m.lastgroup not in ("space", "comment")]


@dataclass
class _Frame:
    """A ``{ … }`` group met while reading a query: what kind it is and what was seen in it."""

    kind: str  # "where" (the query's own), "exists", "select" (a sub-select) or "group"
    parens: int = 0
    projecting: bool = False  # a sub-select before its WHERE group
    mentions_this: bool = False
    selects_this: bool = False
    limited: bool = False


class _SparqlConstraint:
    """A sh:sparql constraint rewritten to run for all focus nodes at once.

    pySHACL pre-binds ``$this`` to one focus node per query. Here the focus nodes are
    joined first in the query's outermost group, which gives the same solutions where
    ``$this`` appears in triple patterns, anywhere in the outermost group, or in (NOT)
    EXISTS. Other uses (a FILTER or BIND on ``$this`` in a nested group or sub-select, a
    sub-select using ``$this`` without selecting it or with LIMIT, top-level aggregates
    not grouped by ``$this``, top-level LIMIT) raise BadInput, as do MINUS, VALUES and
    SERVICE, which pySHACL refuses too.
    """

    def __init__(self, compiler: _Compiler, shape: _Shape, node: Node):
        g = compiler.graph
        self.compiler, self.shape, self.node = compiler, shape, node
        selects = list(g.objects(node, SH.select))
        if len(selects) != 1 or not (isinstance(selects[0], Literal) and isinstance(selects[0].value, str)):
            if (node, SH.ask, None) in g:
                raise compiler.refuse(shape.node, SH.ask, "SPARQL constraints need sh:select")
            raise self._bad("it needs exactly one string sh:select")
        self.select = str(selects[0].value)
        self.messages = list(dict.fromkeys(g.objects(node, SH.message)))
        if self.messages and not (isinstance(self.messages[0], Literal) and isinstance(self.messages[0].value, str)):
            raise self._bad("sh:message must be a string")
        deactivated = list(g.objects(node, SH.deactivated))
        if deactivated and not (isinstance(deactivated[0], Literal) and isinstance(deactivated[0].value, bool)):
            raise self._bad("sh:deactivated must be a boolean")
        self.deactivated = bool(deactivated and deactivated[0].value)
        self.selects_this = False

    def _bad(self, why: str) -> BadInput:
        return BadInput(f"SPARQL constraint {self.compiler.name(self.node)} of shape "
                        f"{self.compiler.name(self.shape.node)}: {why}")

    def _prefixes(self) -> dict[str, str]:
        """The data graph's prefixes (rdflib's fallback), under rdf, rdfs, owl and the sh:prefixes pySHACL declares."""
        g = self.compiler.graph
        prefixes = {p: str(ns) for p, ns in loading.union([]).namespaces()}
        prefixes.update({"rdf": str(RDF), "rdfs": str(RDFS), "owl": str(OWL)})
        named = set(g.objects(g.identifier, SH.declare))
        ontologies = set(g.subjects(RDF.type, OWL.Ontology))
        everywhere = named | {d for o in ontologies for d in g.objects(o, SH.declare)}
        for value in g.objects(self.node, SH.prefixes):
            own = set(g.objects(value, SH.declare))
            for declaration in (own | named) if own and value in ontologies else (everywhere | own):
                names = list(g.objects(declaration, SH.prefix))
                namespaces = list(g.objects(declaration, SH.namespace))
                if len(names) != 1 or len(namespaces) != 1 or not isinstance(names[0], Literal):
                    raise self._bad("each sh:declare needs one sh:prefix and one sh:namespace")
                namespace = namespaces[0]
                prefixes[str(names[0].value)] = str(namespace.value if isinstance(namespace, Literal) else namespace)
        return prefixes

    def query(self, focus: Focus) -> str:
        """The constraint's query for all the focus nodes of ``focus``; BadInput where that would answer otherwise.

        Besides joining the focus nodes, two rewrites keep oxigraph fast and pySHACL's answers:
        a top-level ``FILTER NOT EXISTS { triples FILTER … }`` becomes the equivalent
        ``OPTIONAL { … BIND (true AS ?m) } FILTER (!BOUND(?m))`` (oxigraph evaluates a
        join or path inside EXISTS once per row without the row's bindings), and REPLACE
        and REGEX call Python functions that evaluate them as rdflib does, remembering
        answers (a plan's source text is cleaned once, not once per assignment).
        """
        text = self.select
        words = {t.word for t in _tokens(text)}
        for word in ("MINUS", "VALUES", "SERVICE"):
            if word in words:
                raise self._bad(f"{word} is not allowed in a SPARQL constraint")
        if re.search(r"[$?](currentShape|shapesGraph)\b", text):
            raise self._bad("$currentShape and $shapesGraph are not compiled")
        if re.search(r"([\s{}()])[$?]PATH\b", text):
            if not self.shape.is_property:
                raise self._bad("$PATH in a constraint of a shape without sh:path")
            text = re.sub(r"([\s{}()])[$?]PATH\b", lambda m: m.group(1) + self.compiler.path(self.shape), text)
        tokens = _tokens(text)
        form = next((i for i, t in enumerate(tokens) if t.word in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")), None)
        if form is None or tokens[form].word != "SELECT":
            raise self._bad("sh:select must hold a SELECT query")
        i = form + 1
        while i < len(tokens) and tokens[i].word in ("DISTINCT", "REDUCED"):
            i += 1
        after_select = tokens[i - 1].end
        star, selected, aggregates, depth = False, set(), False, 0
        while i < len(tokens) and tokens[i].text != "{" and not (tokens[i].word == "WHERE" and depth == 0):
            t = tokens[i]
            depth += (t.text == "(") - (t.text == ")")
            star |= t.text == "*" and depth == 0
            aggregates |= t.word in _AGGREGATES
            if t.kind == "var" and depth == 0:
                selected.add(t.text[1:])
            if t.word == "AS" and i + 1 < len(tokens) and tokens[i + 1].is_this:
                raise self._bad("$this cannot be bound with AS")
            i += 1
        while i < len(tokens) and tokens[i].text != "{":
            i += 1
        if i >= len(tokens):
            raise self._bad("no WHERE clause")
        where = i
        close = self._check_where(tokens, where)
        modifiers = tokens[close + 1:]
        words_after = [t.word for t in modifiers]
        if "LIMIT" in words_after or "OFFSET" in words_after:
            raise self._bad("LIMIT and OFFSET would apply to all focus nodes together; not compiled")
        if "GROUP" in words_after:
            keys = modifiers[words_after.index("GROUP"):]
            keys = keys[: next((k for k, t in enumerate(keys) if t.word in ("HAVING", "ORDER")), len(keys))]
            if not any(t.is_this for t in keys):
                raise self._bad("an aggregating query must GROUP BY $this to be compiled")
        elif aggregates or "HAVING" in words_after:
            raise self._bad("an aggregating query must GROUP BY $this to be compiled")
        self.selects_this = bool(_THIS_BOUND.search(text)) and (star or "this" in selected)

        functions = {k: self.compiler.function((t.word,), _memoised(_RDFLIB_FUNCTIONS[t.word])) for k, t in enumerate(tokens)
                     if t.word in _RDFLIB_FUNCTIONS and k + 1 < len(tokens) and tokens[k + 1].text == "("}

        def span(start: int, end: int) -> str:
            """The text from ``start`` to ``end`` with REPLACE and REGEX turned into their functions."""
            pieces, at = [], start
            for k, replacement in functions.items():
                if start <= tokens[k].start and tokens[k].end <= end:
                    pieces += [text[at:tokens[k].start], replacement]
                    at = tokens[k].end
            return "".join(pieces) + text[at:end]

        projection = "" if star or "this" in selected else " ?this"
        body, at, absent = [], tokens[where].end, []
        for k, (filter_at, open_at, close_at) in enumerate(_plain_not_exists(tokens, where, close)):
            body.append(span(at, tokens[filter_at].start))
            marker = f"?shacl_absent_{k}"
            absent.append(f" OPTIONAL {{ {span(tokens[open_at].end, tokens[close_at].start)} "
                          f"BIND (true AS {marker}) }} FILTER (!BOUND({marker}))")
            at = tokens[close_at].end
        body.append(span(at, tokens[close].start))
        rewritten = (span(0, after_select) + projection + span(after_select, tokens[where].end)
                     + f" {focus('?this')} " + "".join(body) + "".join(absent) + " " + span(tokens[close].start, len(text)))
        return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in self._prefixes().items()) + rewritten

    def _check_where(self, tokens: list[_Token], start: int) -> int:
        """Refuse the uses of $this that joining the focus nodes first would not bind; the WHERE's closing brace."""
        frames: list[_Frame] = []
        for i in range(start, len(tokens)):
            t = tokens[i]
            if t.text == "{":
                previous, following = tokens[i - 1].word, tokens[i + 1].word if i + 1 < len(tokens) else ""
                if frames and frames[-1].kind == "select":
                    frames[-1].projecting = False
                kind = ("where" if not frames else "exists" if previous == "EXISTS"
                        else "select" if following == "SELECT" else "group")
                frames.append(_Frame(kind, projecting=kind == "select"))
            elif t.text == "}":
                frame = frames.pop()
                if frame.kind == "select" and frame.mentions_this and (not frame.selects_this or frame.limited):
                    raise self._bad("a sub-select that uses $this must select it, without LIMIT or OFFSET")
                if not frames:
                    return i
            elif not frames:
                continue
            elif t.text in "()":
                frames[-1].parens += 1 if t.text == "(" else -1
            elif t.word in ("LIMIT", "OFFSET") and frames[-1].kind == "select":
                frames[-1].limited = True
            elif t.text == "*" and frames[-1].kind == "select" and frames[-1].projecting and frames[-1].parens == 0:
                frames[-1].selects_this = True
            elif t.is_this:
                kinds = [f.kind for f in frames]
                in_exists = "exists" in kinds and "select" not in kinds[kinds.index("exists"):]
                for frame in frames:
                    if frame.kind == "select":
                        frame.mentions_this = True
                        frame.selects_this |= frame.projecting and frame.parens == 0
                if not (in_exists or kinds == ["where"] or frames[-1].parens == 0):
                    raise self._bad("$this in an expression inside a nested group or sub-select is not compiled")
        raise self._bad("unbalanced braces")

    def collect(self, rows: list[Row]) -> list[_Raw]:
        """Results as pySHACL makes them: one per focus node and distinct solution, a ?failure once per focus."""
        shape = self.shape
        seen: set[tuple] = set()
        failed: set[Term] = set()
        raws: list[_Raw] = []
        for row in rows:
            focus = row["this"]
            bound = {name: loading.to_rdflib(term) for name, term in row.items()}
            if not self.selects_this:
                del bound["this"]
            own_value = None if shape.is_property else focus
            if "failure" in bound:
                del bound["failure"]
                if focus not in failed:
                    failed.add(focus)
                    raws.append(self._raw(focus, own_value, None, bound))
                continue
            this, path, value = bound.pop("this", None), bound.pop("path", None), bound.pop("value", None)
            if this is None and path is None and value is None:
                continue
            key = (focus, this, path, value, frozenset(bound.items()))
            if key in seen:
                continue
            seen.add(key)
            value_term = row["value"] if value is not None else own_value
            template_values = dict(bound)
            for name, term in (("this", this), ("path", path), ("value", _rdflib(value_term))):
                if term is not None:
                    template_values[name] = term
            raws.append(self._raw(focus, value_term, path, template_values))
        return raws

    def _raw(self, focus: Term, value: Term | None, path: Node | None, values: dict[str, Node]) -> _Raw:
        own = list(self.shape.messages)
        messages: list[Node] = []
        for message in [m for m in self.messages if m not in own] + own:  # as pySHACL: the constraint's, then the shape's
            messages.append(Literal(_fill(str(message.value), values)) if isinstance(message, Literal) else message)
        return _Raw(focus, self.shape, SH.SPARQLConstraintComponent, value,
                    path if path is not None else self.shape.path, self.node, messages)


def _fill(template: str, values: dict[str, Node]) -> str:
    """Fill ``{?var}`` and ``{$var}`` as pySHACL does (each value is a ``re.sub`` replacement string)."""
    for name, value in values.items():
        template = re.sub("{{[?$]{}}}".format(name), str(value), template)
    return template


# --------------------------------------------------------------------------------------------
# Messages, details, labels and the report graph
# --------------------------------------------------------------------------------------------


def _default_messages(compiler: _Compiler, data: _Describer, raw: _Raw) -> list[Literal]:
    """pySHACL's own message for a Core result of a shape without sh:message."""
    g, sg, node, component = compiler.graph, compiler.describe, raw.shape.node, raw.component

    def values(parameter: URIRef) -> list[Node]:
        return list(dict.fromkeys(g.objects(node, parameter)))

    def value_text() -> str:
        return data(loading.to_rdflib(raw.value))

    def lists(parameter: URIRef) -> str:
        heads = values(parameter)
        if len(heads) < 2:
            return " , ".join(sg(m) for m in g.items(heads[0]))
        return " and ".join("({})".format(" , ".join(sg(m) for m in g.items(h))) for h in heads)

    def several(one: str, many: str, parameter: URIRef, separator: str = ", ") -> str:
        found = values(parameter)
        return one.format(sg(found[0])) if len(found) < 2 else many.format(separator.join(sg(f) for f in found))

    if component in (SH.MinCountConstraintComponent, SH.MaxCountConstraintComponent):
        parameter = SH.minCount if component == SH.MinCountConstraintComponent else SH.maxCount
        word = "Less" if parameter == SH.minCount else "More"
        text = f"{word} than {values(parameter)[0].value} values on {data(loading.to_rdflib(raw.focus))}->{sg(raw.path)}"
    elif component == SH.ClassConstraintComponent:
        text = several("Value does not have class {}", "Value class is not in classes ({})", SH["class"])
    elif component == SH.DatatypeConstraintComponent:
        text = f"Value is not Literal with datatype {sg(values(SH.datatype)[0])}"
    elif component == SH.NodeKindConstraintComponent:
        text = f"Value is not of Node Kind {sg(values(SH.nodeKind)[0])}"
    elif VALUE_PARAMETERS.get(component) in RANGES:
        symbol = RANGES[VALUE_PARAMETERS[component]][0]
        text = several(f"Value is not {symbol} {{}}", f"Value is not {symbol} in ({{}})", VALUE_PARAMETERS[component])
    elif component == SH.MinLengthConstraintComponent:
        text = f"String length not >= {data(values(SH.minLength)[0])}"
    elif component == SH.MaxLengthConstraintComponent:
        text = f"String length not <= {data(values(SH.maxLength)[0])}"
    elif component == SH.PatternConstraintComponent:
        patterns = [str(p.value) for p in values(SH.pattern)]
        text = (f"Value does not match pattern '{patterns[0]}'" if len(patterns) < 2
                else "Value does not match every pattern in ('{}')".format("', '".join(patterns)))
    elif component == SH.LanguageInConstraintComponent:
        text = f"String language is not in {sg(values(SH.languageIn)[0])}"
    elif component == SH.NotConstraintComponent:
        text = several(f"Node {value_text()} must not conform to shape {{}}",
                       f"Node {value_text()} must not conform to any shapes in {{}}", SH["not"], " , ")
    elif component == SH.AndConstraintComponent:
        text = f"Node {value_text()} must conform to all shapes in {lists(SH['and'])}"
    elif component == SH.OrConstraintComponent:
        text = f"Node {value_text()} must conform to one or more shapes in {lists(SH['or'])}"
    elif component == SH.XoneConstraintComponent:
        text = f"Node {value_text()} must conform to exactly one shape in {lists(SH.xone)}"
    elif component == SH.NodeConstraintComponent:
        found = values(SH.node)
        text = (f"Value does not conform to Shape {sg(found[0])}." if len(found) < 2
                else "Value must conform to every Shape in ('{}').".format("', '".join(sg(s) for s in found)))
        text += " See details for more information."
    elif component in (SH.QualifiedMinCountConstraintComponent, SH.QualifiedMaxCountConstraintComponent):
        shapes = values(SH.qualifiedValueShape)
        low, high = values(SH.qualifiedMinCount), values(SH.qualifiedMaxCount)
        counts = (f" MinCount {low[0].value}" if low else "") + (f" MaxCount {high[0].value}" if high else "")
        names = ",".join(sg(s) for s in shapes)
        text = (f"Focus node does not conform to shapes{counts}: ({names})" if len(shapes) > 1
                else f"Focus node does not conform to shape{counts}: {names}")
    else:
        return []
    return [Literal(text)]


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
        values = list(dict.fromkeys(loading.to_rdflib(raw.value) for raw in owners))
        failing: dict[Node, list[_Raw]] = {}
        for row in _for_nodes(store, values, lambda v: f"SELECT ?n {columns} WHERE {{ {v} }}", compiler.functions):
            failing[loading.to_rdflib(row["n"])] = [
                _Raw(row["n"], inner, component, row["n"], node_shape=rule if component == SH.NodeConstraintComponent else None)
                for i, (component, rule, _test) in enumerate(tests) if row[f"c{i}"].value != "true"
            ]
        if depth < 10:
            _details(store, compiler, [d for found in failing.values() for d in found], depth + 1)
        for raw in owners:
            raw.details = failing.get(loading.to_rdflib(raw.value), [])


def _labels(store: ox.Store, nodes: Iterable[Node]) -> dict[Node, tuple[Literal, ...]]:
    """The labels ``shiquan.graph.validation._labels`` gives, looked up for all ``nodes`` at once."""
    wanted = list(dict.fromkeys(nodes))
    found: dict[Node, dict[Node, set[Literal]]] = {n: {p: set() for p in LABEL_PROPERTIES} for n in wanted}
    properties = " ".join(f"<{p}>" for p in LABEL_PROPERTIES)
    rows = _for_nodes(store, wanted, lambda v: f"SELECT ?n ?p ?l WHERE {{ {v} VALUES ?p {{ {properties} }} "
                                               f"?n ?p ?l . FILTER (isLiteral(?l)) }}")
    for row in rows:
        found[loading.to_rdflib(row["n"])][loading.to_rdflib(row["p"])].add(loading.to_rdflib(row["l"]))
    labels = {n: tuple(label for p in LABEL_PROPERTIES for label in sorted(found[n][p], key=_label_key))
              for n in wanted}
    # An assignment without labels is named by its matter and level.
    parts: dict[Node, dict[Node, dict[Node, set[Literal]]]] = {}
    rows = _for_nodes(store, [n for n in wanted if not labels[n]], lambda v: (
        f"SELECT ?n ?p ?o ?l WHERE {{ {v} ?n <{RDF.type}> <{SQ.Assignment}> . VALUES ?p {{ <{SQ.matter}> <{SQ.level}> }} "
        f"?n ?p ?o . OPTIONAL {{ ?o <{RDFS.label}> ?l }} }}"))
    for row in rows:
        node, prop, obj = (loading.to_rdflib(row[k]) for k in ("n", "p", "o"))
        names = parts.setdefault(node, {SQ.matter: {}, SQ.level: {}})[prop].setdefault(obj, set())
        if "l" in row:
            names.add(loading.to_rdflib(row["l"]))
    for node, by_property in parts.items():
        composed = []
        for lang, separator in (("zh", "·"), ("en", " · ")):
            texts = []
            for prop in (SQ.matter, SQ.level):
                for obj, names in sorted(by_property[prop].items(), key=lambda item: str(item[0])):
                    chosen = sorted(str(n) for n in names if getattr(n, "language", None) == lang)
                    texts.append(chosen[0] if chosen else str(obj))
            if texts:
                composed.append(Literal(separator.join(texts), lang=lang))
        labels[node] = tuple(composed)
    return labels


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
        g.add((node, SH.focusNode, self._copy(loading.to_rdflib(raw.focus), self.data_pairs)))
        if raw.value is not None:
            g.add((node, SH.value, self._copy(loading.to_rdflib(raw.value), self.data_pairs)))
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


# --------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------


def compile_shapes(shapes: Graph) -> list[Check]:
    """The checks :func:`validate_store` runs for ``shapes``. Raises BadInput for what is not compiled."""
    return _Compiler(shapes).compile()


def validate_store(store: ox.Store, shapes: Graph, *, progress: Progress | None = None) -> Report:
    """Validate the union of the graphs in ``store`` against ``shapes``, giving pySHACL's results.

    ``store`` holds the ontology, the data and its OWL RL inferences (in any named
    graphs); every query runs over their union. ``progress(done, total, label)`` is
    called after each compiled check. Returns the Report that
    :func:`shiquan.graph.validation.validate_graph` returns for the same triples, report graph
    included. Raises BadInput, before any query runs, for a shape that uses a
    constraint component, target or feature that is not compiled.
    """
    compiler = _Compiler(shapes)
    checks = compiler.compile()
    compiler.prepare(store)
    raws: list[_Raw] = []
    for done, check in enumerate(checks, start=1):
        started = time.perf_counter()
        rows = _select(store, check.query, compiler.functions)
        raws.extend(check.collect(rows))
        check.rows, check.seconds = len(rows), time.perf_counter() - started
        if progress is not None:
            progress(done, len(checks), check.label)
    _details(store, compiler, raws)
    store_graph = _StoreGraph(store)
    describe_data = _Describer(loading.union([]).namespace_manager, store_graph.predicates, store_graph.objects)

    def give_messages(raw: _Raw) -> None:
        if raw.component != SH.SPARQLConstraintComponent:
            raw.messages = list(raw.shape.messages) or _default_messages(compiler, describe_data, raw)
        for detail in raw.details:
            give_messages(detail)

    for raw in raws:
        give_messages(raw)
    nodes = [loading.to_rdflib(term) for raw in raws for term in (raw.focus, raw.value) if term is not None]
    labels = _labels(store, nodes)
    report = _ReportGraph(shapes, store)
    results = []
    for raw in raws:
        rule = raw.source_constraint if raw.source_constraint is not None else raw.shape.node
        messages = _with_languages(list(dict.fromkeys(raw.messages)), list(shapes.objects(rule, SH.message)))
        report.add(raw, messages)
        focus, value = loading.to_rdflib(raw.focus), _rdflib(raw.value)
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
