"""OWL RL closure of a graph, kept apart from the asserted triples."""

from __future__ import annotations

import owlrl
from owlrl.Namespaces import ERRNS
from rdflib import OWL, RDF, RDFS, XSD, BNode, Graph, Literal, URIRef

from .errors import InconsistentGraph

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
