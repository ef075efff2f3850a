"""OWL RL inferences, kept apart from the asserted triples.

:func:`infer` runs owlrl's full closure on an rdflib graph: the reference, fine
for thousands of triples. :func:`materialise` applies to a pyoxigraph store just
the rules the ontology's axioms call for, read off that closure of the ontology
(:func:`rules`), and gives the same triples for millions; then it stores the
:data:`SHORTCUTS`, relations the ontology declares for questions to reach in one step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import owlrl
import pyoxigraph as ox
from owlrl.Namespaces import ERRNS
from rdflib import OWL, RDF, RDFS, XSD, BNode, Graph, Literal, URIRef

from shiquan.errors import BadInput, InconsistentGraph
from shiquan.terms import to_oxigraph
from shiquan.vocab import SQ

log = logging.getLogger(__name__)

# Namespaces whose own terms owlrl restates about themselves; such triples say
# nothing about the data and are left out of the inferences graph.
_META = tuple(str(ns) for ns in (RDF, RDFS, OWL, XSD))
_TRIVIAL_TYPES = {OWL.Thing, RDFS.Resource, OWL.NamedIndividual}


def _useful(s, p, o) -> bool:
    if isinstance(s, (Literal, BNode)) or isinstance(o, BNode):
        return False
    if str(s).startswith(_META):
        return False
    if p == OWL.sameAs and s == o:
        return False
    if p == RDF.type and o in _TRIVIAL_TYPES:
        return False
    if p in (RDFS.subClassOf, OWL.equivalentClass, RDFS.subPropertyOf, OWL.equivalentProperty) and s == o:
        return False
    if isinstance(o, URIRef) and str(o).startswith(_META) and p == RDFS.subClassOf:
        return False
    return True


def infer(graph: Graph) -> Graph:
    """Return the triples the OWL RL closure of ``graph`` adds, without trivia.

    ``graph`` itself is not changed. Raises InconsistentGraph when the closure
    reports an inconsistency (owlrl signals it with triples in its error
    namespace, never with an exception).
    """
    closed = Graph()
    closed += graph
    owlrl.DeductiveClosure(owlrl.OWLRL_Semantics, axiomatic_triples=False, datatype_axioms=False).expand(closed)
    errors = sorted(str(o) for o in closed.objects(None, ERRNS.error))
    if errors:
        raise InconsistentGraph("OWL RL found the graph inconsistent: " + "; ".join(errors))
    inferred = Graph()
    for triple in closed:
        if triple not in graph and _useful(*triple):
            inferred.add(triple)
    return inferred


# --------------------------------------------------------------------------------------------
# Targeted materialisation: the OWL RL rules the ontology's axioms call for, applied to a store
# --------------------------------------------------------------------------------------------

_RDF_TYPE = ox.NamedNode(str(RDF.type))


@dataclass(frozen=True)
class Rules:
    """What the ontology's axioms make of instance data, read off its OWL RL closure.

    ``implies`` maps a property to every (property, inverted) its statements entail
    (sub-properties and inverses, transitively: rules prp-spo1, prp-inv1, prp-inv2);
    ``transitive`` the transitive properties (prp-trp); ``domains`` and ``ranges``
    the classes a property's subject and object belong to (prp-dom, prp-rng);
    ``supers`` each class's superclasses (cax-sco); ``disjoint`` the pairs of
    disjoint classes (cax-dw); ``schema`` the ontology's own inferences.
    """

    implies: dict[str, frozenset[tuple[str, bool]]]
    transitive: frozenset[str]
    domains: dict[str, frozenset[str]]
    ranges: dict[str, frozenset[str]]
    supers: dict[str, frozenset[str]]
    disjoint: frozenset[tuple[str, str]]
    schema: Graph

    @property
    def properties(self) -> frozenset[str]:
        """The properties whose statements entail something."""
        return frozenset(self.implies) | self.transitive | frozenset(self.domains) | frozenset(self.ranges)


_UNSUPPORTED = {
    OWL.SymmetricProperty, OWL.FunctionalProperty, OWL.InverseFunctionalProperty, OWL.AsymmetricProperty,
    OWL.IrreflexiveProperty, OWL.Restriction, OWL.AllDisjointClasses, OWL.AllDifferent,
}
_UNSUPPORTED_PREDICATES = {
    OWL.propertyChainAxiom, OWL.hasKey, OWL.unionOf, OWL.intersectionOf, OWL.complementOf, OWL.oneOf,
    OWL.propertyDisjointWith, OWL.sameAs, OWL.differentFrom, OWL.equivalentClass, OWL.equivalentProperty,
}


def rules(ontology: Graph) -> Rules:
    """The instance-level rules of ``ontology``.

    Raises InconsistentGraph when the ontology alone is inconsistent, and
    BadInput naming an axiom kind the targeted rules do not cover (so that an
    ontology change cannot silently lose inferences).
    """
    for kind in _UNSUPPORTED:
        if (None, RDF.type, kind) in ontology:
            raise BadInput(f"the targeted OWL RL rules do not cover {kind}; extend shiquan.graph.reasoning", "ontology")
    for predicate in _UNSUPPORTED_PREDICATES:
        if (None, predicate, None) in ontology:
            raise BadInput(f"the targeted OWL RL rules do not cover {predicate}; extend shiquan.graph.reasoning", "ontology")
    schema = infer(ontology)
    closed = ontology + schema

    def iris(values) -> frozenset[str]:
        return frozenset(str(v) for v in values if isinstance(v, URIRef) and not str(v).startswith(_META))

    supers = {}
    for cls in set(closed.subjects(RDFS.subClassOf, None)):
        if isinstance(cls, URIRef):
            found = iris(closed.objects(cls, RDFS.subClassOf)) - {str(cls)}
            if found:
                supers[str(cls)] = found
    inverses: dict[str, set[str]] = {}
    for a, b in closed.subject_objects(OWL.inverseOf):
        inverses.setdefault(str(a), set()).add(str(b))
        inverses.setdefault(str(b), set()).add(str(a))
    parents = {str(p): iris(closed.objects(p, RDFS.subPropertyOf)) - {str(p)} for p in set(closed.subjects(RDFS.subPropertyOf, None))}
    implies = {}
    for prop in set(parents) | set(inverses):
        seen: set[tuple[str, bool]] = {(prop, False)}
        todo = [(prop, False)]
        while todo:
            name, inverted = todo.pop()
            for step in [(p, inverted) for p in parents.get(name, ())] + [(q, not inverted) for q in inverses.get(name, ())]:
                if step not in seen:
                    seen.add(step)
                    todo.append(step)
        seen.discard((prop, False))
        if seen:
            implies[prop] = frozenset(seen)
    domains = {str(p): iris(closed.objects(p, RDFS.domain)) for p in set(closed.subjects(RDFS.domain, None))}
    ranges = {str(p): iris(closed.objects(p, RDFS.range)) for p in set(closed.subjects(RDFS.range, None))}
    disjoint = frozenset((str(a), str(b)) for a, b in closed.subject_objects(OWL.disjointWith))
    return Rules(
        implies=implies,
        transitive=iris(closed.subjects(RDF.type, OWL.TransitiveProperty)),
        domains={p: c for p, c in domains.items() if c},
        ranges={p: c for p, c in ranges.items() if c},
        supers=supers,
        disjoint=disjoint,
        schema=schema,
    )


def _transitive_closure(edges: set[tuple]) -> set[tuple]:
    """Every (a, c) reachable through ``edges``, by breadth-first search from each start."""
    following: dict = {}
    for a, b in edges:
        following.setdefault(a, set()).add(b)
    closed = set()
    for start in following:
        seen, todo = set(), list(following[start])
        while todo:
            node = todo.pop()
            if node in seen:
                continue
            seen.add(node)
            todo.extend(following.get(node, ()))
        closed.update((start, node) for node in seen)
    return closed


STEPS = (
    "transitive properties, super-properties, inverses, domains and ranges", "superclasses", "disjoint classes",
    "shortcuts",
)

# Shortcuts: relations the ontology declares that the data implies through a join, stored at load (after the OWL
# RL steps, whose types they may read) so that a question reaches in one step what it would otherwise join for.
# They are not OWL RL inferences: tests/test_reasoning.py compares the other inferences with owlrl's. Each is
# (property, pattern binding ?s and ?o, one GRAPH block per triple so that it reads the union of the graphs).
SHORTCUTS = (
    # A plan → each of its rulings paid jointly. At national scale (national17: 39,844 links, stored in 0.7 s),
    # 2,118 of a field's 14,400 city-plan rulings: i-county-share-by-city reads those instead of all (28 against
    # 77 ms of CPU per query in process).
    (str(SQ.hasJointlyPaidAssignment), f"GRAPH ?g1 {{ ?payer a <{SQ.JointPayer}> }} "
                                       f"GRAPH ?g2 {{ ?o <{SQ.payer}> ?payer }} GRAPH ?g3 {{ ?o <{SQ.statedIn}> ?s }}"),
)


@dataclass(frozen=True)
class _Rule:
    """The statements ``?s <predicate> ?o`` for the solutions of ``where`` (``?s <predicate> <value>`` when
    ``value`` is given: a type), less those some graph states already."""

    predicate: str
    where: str
    value: str | None = None

    def _statement(self) -> str:
        return f"?s <{self.predicate}> {f'<{self.value}>' if self.value else '?o'}"

    def update(self, into: ox.NamedNode) -> str:
        """The SPARQL update adding the new statements to graph ``into``."""
        return (f"INSERT {{ GRAPH <{into.value}> {{ {self._statement()} }} }} "
                f"WHERE {{ {self.where} MINUS {{ GRAPH ?h {{ {self._statement()} }} }} }}")

    def query(self) -> str:
        """The SELECT giving the new statements' terms: ?s, and ?o unless the object is ``value``."""
        return (f"SELECT DISTINCT {'?s' if self.value else '?s ?o'} "
                f"WHERE {{ {self.where} MINUS {{ GRAPH ?h {{ {self._statement()} }} }} }}")


def materialise(store: ox.Store, rules: Rules, into: ox.NamedNode, progress: Callable[[str, int, int], None] | None = None,
                threads: int = 1) -> int:
    """Add to graph ``into`` of ``store`` what ``rules`` entail from every graph of it.

    Gives the same triples as :func:`infer` over the union of the store's graphs
    (tests/test_reasoning.py compares the two), in seconds for millions of
    triples. The statements of transitive properties, and of the properties
    that entail them, are closed in Python; every other rule is one SPARQL update
    or query per entailed property or class, over all graphs at once, run inside
    the store. With two ``threads`` or more, the types from domains and ranges are
    found by queries on another thread while this one runs the rest. Then the
    :data:`SHORTCUTS`, which are not OWL RL's. ``progress`` is told ``("inferring",
    step, len(STEPS))`` before each step. Returns the number of triples added.
    Raises InconsistentGraph when a resource falls in two disjoint classes.
    """

    def say(step: str) -> None:
        log.debug("inferring: %s", step)
        if progress is not None:
            progress("inferring", STEPS.index(step) if step in STEPS else len(STEPS), len(STEPS))

    before = triples_in(store, into)
    chained = {p for p, steps in rules.implies.items() if any(q in rules.transitive for q, _inv in steps)}
    say("transitive properties, super-properties, inverses, domains and ranges")
    typing = _typing_rules(rules, f"<{into.value}>")
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inferring") if threads > 1 else None
    try:
        # The transitive closure, sub-properties, inverses and types from domains and ranges need nothing another of
        # them adds (typing reads stated statements only; a property's entailments are closed, so another rule's
        # statements only entail what it finds itself), and a statement two of them find is one quad: whatever
        # order they run in, the graph is the same. The types (national17: 7 s of CPU, few new statements) are
        # found by SELECTs on the other thread, which pyoxigraph evaluates without the GIL, while this one runs
        # the rest; an update holds the GIL, and a query answering many rows would wait for it at each row.
        # National17 (1.13 M statements added), one after the other in one process, load average 2: 16.3 s
        # before (every rule an update, len(store) twice), 12.5 s on one thread, 8.0 s on two.
        typed = pool.submit(_found, store, typing, into) if pool is not None else None
        store.extend(_closed_transitive(store, rules, chained, into))
        _run(store, _property_rules(rules, chained), into)
        if typed is None:
            _run(store, typing, into)
        else:
            store.extend(typed.result())
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    say("superclasses")
    _run(store, _superclass_rules(rules), into)
    say("disjoint classes")
    _check_disjoint(store, rules)
    say("shortcuts")
    _run(store, _shortcut_rules(), into)
    added = triples_in(store, into) - before
    say("done")
    return added


def triples_in(store: ox.Store, graph: ox.NamedNode) -> int:
    """The number of triples in ``graph`` of ``store`` (one graph's count costs a third less than a GROUP BY over all
    graphs per triple counted: national3, 0.15 against 0.22 s of CPU)."""
    return int(next(iter(store.query(f"SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH <{graph.value}> {{ ?s ?p ?o }} }}")))[0].value)


def _run(store: ox.Store, found: list[_Rule], into: ox.NamedNode) -> None:
    """Add the new statements of each rule of ``found`` to graph ``into`` of ``store``, by one SPARQL update each."""
    for rule in found:
        store.update(rule.update(into))


def _found(store: ox.Store, found: list[_Rule], into: ox.NamedNode) -> list[ox.Quad]:
    """The new statements of the rules of ``found``, as quads of ``into``, found by SELECT queries (which only read
    the store)."""
    quads = []
    for rule in found:
        predicate, value = ox.NamedNode(rule.predicate), ox.NamedNode(rule.value) if rule.value else None
        quads.extend(ox.Quad(row[0], predicate, value or row[1], into) for row in store.query(rule.query()))
    return quads


def _closed_transitive(store: ox.Store, rules: Rules, chained: set[str], into: ox.NamedNode) -> list[ox.Quad]:
    """The statements of the transitive properties and those entailing one (``chained``), closed under
    the implications and transitivity until nothing changes, less what is stated; and the ontology's own
    inferences (``rules.schema``) unless the store states them."""
    edges: dict[str, set[tuple]] = {}
    for prop in rules.transitive | chained:
        found = {(q.subject, q.object) for q in store.quads_for_pattern(None, ox.NamedNode(prop), None)}
        if found:
            edges[prop] = found
    asserted = {prop: set(pairs) for prop, pairs in edges.items()}
    while _close_once(edges, rules):
        pass
    new = []
    for prop, pairs in edges.items():
        node = ox.NamedNode(prop)
        for s, o in pairs - asserted.get(prop, set()):
            if isinstance(s, ox.NamedNode) and not isinstance(o, ox.BlankNode) and not _stated(store, s, node, o):
                new.append(ox.Quad(s, node, o, into))
    for triple in rules.schema:
        s, p, o = (to_oxigraph(term) for term in triple)
        if not _stated(store, s, p, o):
            new.append(ox.Quad(s, p, o, into))
    return new


def _close_once(edges: dict[str, set[tuple]], rules: Rules) -> bool:
    """One round of implications (with inverses) and transitive closure over ``edges``; whether it added any."""
    changed = False
    for prop, pairs in list(edges.items()):
        for implied, inverted in rules.implies.get(prop, ()):
            wanted = {(o, s) for s, o in pairs if not isinstance(o, ox.Literal)} if inverted else pairs
            have = edges.setdefault(implied, set())
            if not wanted <= have:
                have |= wanted
                changed = True
    for prop in rules.transitive:
        pairs = edges.get(prop)
        if pairs:
            closed = _transitive_closure(pairs)
            if not closed <= pairs:
                pairs |= closed
                changed = True
    return changed


def _property_rules(rules: Rules, chained: set[str]) -> list[_Rule]:
    """Sub-properties and inverses of the properties not closed in step 1 (prp-spo1, prp-inv1, prp-inv2), one rule
    per entailed property."""
    sources: dict[str, tuple[set[str], set[str]]] = {}  # entailed property → (stated ones, their inverses)
    for prop, steps in rules.implies.items():
        if prop not in chained:
            for implied, inverted in steps:
                sources.setdefault(implied, (set(), set()))[inverted].add(f"<{prop}>")
    return [
        _Rule(implied, _union((same, "?s ?p ?o", "isIRI(?s) && !isBlank(?o)"), (inverse, "?o ?p ?s", "isIRI(?s) && isIRI(?o)")))
        for implied, (same, inverse) in sorted(sources.items())
    ]


def _typing_rules(rules: Rules, target: str) -> list[_Rule]:
    """Types from domains and ranges (prp-dom, prp-rng), one rule per class, reading stated statements only (see
    _typing)."""
    by_class: dict[str, tuple[set[str], set[str]]] = {}
    for prop in rules.properties:
        subject_classes, object_classes = _typing(prop, rules)
        for cls in subject_classes:
            by_class.setdefault(cls, (set(), set()))[0].add(f"<{prop}>")
        for cls in object_classes:
            by_class.setdefault(cls, (set(), set()))[1].add(f"<{prop}>")
    stated = f"isIRI(?s) && ?g != {target}"
    return [
        _Rule(str(RDF.type), _union((subject_of, "?s ?p ?o", stated), (object_of, "?o ?p ?s", stated)), cls)
        for cls, (subject_of, object_of) in sorted(by_class.items())
    ]


def _superclass_rules(rules: Rules) -> list[_Rule]:
    """Superclasses (cax-sco) of stated and inferred types; each class's list of subclasses is closed, so the rules
    do not depend on each other."""
    subclasses: dict[str, set[str]] = {}
    for cls, classes in rules.supers.items():
        for sup in classes:
            subclasses.setdefault(sup, set()).add(f"<{cls}>")
    return [
        _Rule(str(RDF.type), f"VALUES ?c {{ {' '.join(sorted(classes))} }} GRAPH ?g {{ ?s a ?c }} FILTER(isIRI(?s))", sup)
        for sup, classes in sorted(subclasses.items())
    ]


def _shortcut_rules() -> list[_Rule]:
    """The :data:`SHORTCUTS`, one rule each."""
    return [_Rule(prop, f"{pattern} FILTER(isIRI(?s) && isIRI(?o))") for prop, pattern in SHORTCUTS]


def _check_disjoint(store: ox.Store, rules: Rules) -> None:
    """Disjoint classes (cax-dw). Raises InconsistentGraph for a resource in two disjoint classes."""
    for a, b in sorted(rules.disjoint):
        for row in store.query(f"SELECT ?x WHERE {{ GRAPH ?g {{ ?x a <{a}> }} GRAPH ?h {{ ?x a <{b}> }} }} LIMIT 1"):
            raise InconsistentGraph(f"OWL RL found the graph inconsistent: {row[0]} is both a {a} and a {b}, declared disjoint")


def _union(*parts: tuple[set[str], str, str]) -> str:
    """A UNION of ``{ VALUES ?p { properties } GRAPH ?g { pattern } FILTER(condition) }``, one per part with properties."""
    return " UNION ".join(
        f"{{ VALUES ?p {{ {' '.join(sorted(props))} }} GRAPH ?g {{ {pattern} }} FILTER({condition}) }}"
        for props, pattern, condition in parts
        if props
    )


def _typing(prop: str, rules: Rules) -> tuple[set[str], set[str]]:
    """The most specific classes a statement of ``prop`` gives its subject and its object.

    They include what the properties it entails give (a range of an inverse
    types the subject), so typing needs to read only the stated statements:
    every entailed one joins resources that stated ones already join.
    """
    subject_classes, object_classes = set(rules.domains.get(prop, ())), set(rules.ranges.get(prop, ()))
    for implied, inverted in rules.implies.get(prop, ()):
        domain, range_ = rules.domains.get(implied, frozenset()), rules.ranges.get(implied, frozenset())
        subject_classes |= range_ if inverted else domain
        object_classes |= domain if inverted else range_
    return _most_specific(subject_classes, rules), _most_specific(object_classes, rules)


def _most_specific(classes: set[str], rules: Rules) -> set[str]:
    """``classes`` without those that are superclasses of another of them (cax-sco adds those back)."""
    return {c for c in classes if not any(c in rules.supers.get(d, ()) for d in classes if d != c)}


def _stated(store: ox.Store, s, p, o) -> bool:
    return next(iter(store.quads_for_pattern(s, p, o)), None) is not None
