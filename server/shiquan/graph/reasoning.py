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
    "transitive properties", "super-properties, inverses, domains and ranges", "superclasses", "disjoint classes",
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


def materialise(store: ox.Store, rules: Rules, into: ox.NamedNode, progress: Callable[[str, int, int], None] | None = None) -> int:
    """Add to graph ``into`` of ``store`` what ``rules`` entail from every graph of it.

    Gives the same triples as :func:`infer` over the union of the store's graphs
    (tests/test_reasoning.py compares the two), in seconds for millions of
    triples. The statements of transitive properties, and of the properties
    that entail them, are closed here; every other rule is one SPARQL update
    per entailed property or class, over all graphs at once, run inside the
    store. Then the :data:`SHORTCUTS`, which are not OWL RL's. ``progress`` is
    told ``("inferring", step, len(STEPS))`` before each step. Returns the number
    of triples added. Raises InconsistentGraph when a resource falls in two
    disjoint classes.
    """

    def say(step: str) -> None:
        log.debug("inferring: %s", step)
        if progress is not None:
            progress("inferring", STEPS.index(step) if step in STEPS else len(STEPS), len(STEPS))

    before = len(store)
    target = f"<{into.value}>"
    # Transitive properties, and the properties that entail one, are closed in Python (few statements).
    chained = {p for p, steps in rules.implies.items() if any(q in rules.transitive for q, _inv in steps)}
    say("transitive properties")
    store.extend(_closed_transitive(store, rules, chained, into))
    # Typing reads only stated statements, so sub-properties, inverses, domains and ranges run as one batch.
    say("super-properties, inverses, domains and ranges")
    _run(store, _property_updates(rules, chained, target) + _typing_updates(rules, target))
    say("superclasses")
    _run(store, _superclass_updates(rules, target))
    say("disjoint classes")
    _check_disjoint(store, rules)
    say("shortcuts")
    _run(store, _shortcut_updates(target))
    added = len(store) - before
    say("done")
    return added


def _closed_transitive(store: ox.Store, rules: Rules, chained: set[str], into: ox.NamedNode) -> list[ox.Quad]:
    """Step 1: the statements of the transitive properties and those entailing one (``chained``), closed under
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


def _property_updates(rules: Rules, chained: set[str], target: str) -> list[str]:
    """Step 2: sub-properties and inverses of the properties not closed in step 1 (prp-spo1, prp-inv1, prp-inv2),
    one update per entailed property."""
    updates = []
    sources: dict[str, tuple[set[str], set[str]]] = {}  # entailed property → (stated ones, their inverses)
    for prop, steps in rules.implies.items():
        if prop not in chained:
            for implied, inverted in steps:
                sources.setdefault(implied, (set(), set()))[inverted].add(f"<{prop}>")
    for implied, (same, inverse) in sorted(sources.items()):
        found = _union((same, "?s ?p ?o", "isIRI(?s) && !isBlank(?o)"), (inverse, "?o ?p ?s", "isIRI(?s) && isIRI(?o)"))
        updates.append(
            f"INSERT {{ GRAPH {target} {{ ?s <{implied}> ?o }} }} WHERE {{ {found} "
            f"MINUS {{ GRAPH ?h {{ ?s <{implied}> ?o }} }} }}"
        )
    return updates


def _typing_updates(rules: Rules, target: str) -> list[str]:
    """Step 3: types from domains and ranges (prp-dom, prp-rng), one update per class, reading stated
    statements only (see _typing)."""
    updates = []
    by_class: dict[str, tuple[set[str], set[str]]] = {}
    for prop in rules.properties:
        subject_classes, object_classes = _typing(prop, rules)
        for cls in subject_classes:
            by_class.setdefault(cls, (set(), set()))[0].add(f"<{prop}>")
        for cls in object_classes:
            by_class.setdefault(cls, (set(), set()))[1].add(f"<{prop}>")
    for cls, (subject_of, object_of) in sorted(by_class.items()):
        stated = f"isIRI(?x) && ?g != {target}"
        found = _union((subject_of, "?x ?p ?o", stated), (object_of, "?s ?p ?x", stated))
        updates.append(
            f"INSERT {{ GRAPH {target} {{ ?x a <{cls}> }} }} WHERE {{ {found} MINUS {{ GRAPH ?h {{ ?x a <{cls}> }} }} }}"
        )
    return updates


def _superclass_updates(rules: Rules, target: str) -> list[str]:
    """Step 4: superclasses (cax-sco) of stated and inferred types; each class's list of subclasses is closed, so
    the updates do not depend on each other."""
    subclasses: dict[str, set[str]] = {}
    for cls, classes in rules.supers.items():
        for sup in classes:
            subclasses.setdefault(sup, set()).add(f"<{cls}>")
    return [
        f"INSERT {{ GRAPH {target} {{ ?s a <{sup}> }} }} WHERE {{ VALUES ?c {{ {' '.join(sorted(classes))} }} "
        f"GRAPH ?g {{ ?s a ?c }} FILTER(isIRI(?s)) MINUS {{ GRAPH ?h {{ ?s a <{sup}> }} }} }}"
        for sup, classes in sorted(subclasses.items())
    ]


def _shortcut_updates(target: str) -> list[str]:
    """Step 6: the :data:`SHORTCUTS`, one update each, less what some graph states already."""
    return [
        f"INSERT {{ GRAPH {target} {{ ?s <{prop}> ?o }} }} WHERE {{ {pattern} FILTER(isIRI(?s) && isIRI(?o)) "
        f"MINUS {{ GRAPH ?h {{ ?s <{prop}> ?o }} }} }}"
        for prop, pattern in SHORTCUTS
    ]


def _check_disjoint(store: ox.Store, rules: Rules) -> None:
    """Step 5: disjoint classes (cax-dw). Raises InconsistentGraph for a resource in two disjoint classes."""
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


def _run(store: ox.Store, updates: list[str]) -> None:
    """Run SPARQL updates on ``store`` one after another.

    They do not depend on each other, but pyoxigraph evaluates an update holding
    the GIL: two threads took as long as one (measured on the national graph).
    """
    for text in updates:
        store.update(text)


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
