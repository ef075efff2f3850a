"""The constraint components the engine compiles, and what a compiled check is made of."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rdflib import RDF, RDFS, SH, XSD, Node, URIRef

from shiquan.graph.shacl.store import Row, Term

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
    """One compiled query and how its solutions become results; ``seconds``, ``cpu`` and ``rows`` once it has run."""

    JOINS, EXPRESSION, SIMPLE = 0, 1, 2  # ranks

    label: str
    query: str
    collect: Callable[[list[Row]], list[_Raw]]
    rank: int = SIMPLE  # 0 a SHACL-SPARQL constraint (joins), 1 a test of each value by an expression, 2 a count or a
    # class: the order in which checks start, longest first (see shacl._run)
    seconds: float = 0.0
    cpu: float = 0.0  # the CPU seconds of its thread while it ran: what it costs on a loaded machine too
    rows: int = 0
