import pytest
from rdflib import RDF, Graph, URIRef

from server import loading, reasoning
from server.errors import InconsistentGraph
from server.vocab import ELI, SQ

ID = "https://w3id.org/shiquan/id/"


@pytest.fixture(scope="module")
def ontology(settings):
    return loading.read_ontology(settings)


def closure_of(ontology, *triples):
    data = Graph()
    for triple in triples:
        data.add(triple)
    return reasoning.infer(loading.union([ontology, data]))


def test_part_of_is_transitive_and_has_its_inverse(ontology):
    a, b, c = (URIRef(ID + f"division/{x}") for x in "abc")
    inferred = closure_of(ontology, (a, SQ.partOf, b), (b, SQ.partOf, c))
    assert (a, SQ.partOf, c) in inferred
    assert (c, SQ.hasPart, a) in inferred


def test_based_on_chain_closes_to_the_top(ontology):
    p1, p2, p3 = (URIRef(ID + f"plan/p{i}") for i in range(3))
    inferred = closure_of(ontology, (p1, SQ.basedOn, p2), (p2, SQ.basedOn, p3))
    assert (p1, SQ.basedOn, p3) in inferred
    assert (p3, SQ.implementedBy, p1) in inferred


def test_plan_is_an_eli_legal_resource_by_subclass(ontology):
    plan = URIRef(ID + "plan/p")
    inferred = closure_of(ontology, (plan, RDF.type, SQ.Plan))
    assert (plan, RDF.type, ELI.LegalResource) in inferred


def test_levels_are_ordered_by_closure(ontology):
    inferred = closure_of(ontology)
    assert (SQ.CentralLevel, SQ.higherLevelThan, SQ.CountyLevel) in inferred
    assert (SQ.TownshipLevel, SQ.lowerLevelThan, SQ.ProvincialLevel) in inferred


def test_inferences_leave_out_trivia(ontology):
    plan = URIRef(ID + "plan/p")
    inferred = closure_of(ontology, (plan, RDF.type, SQ.Plan))
    assert not [t for t in inferred if t[1] == URIRef("http://www.w3.org/2002/07/owl#sameAs") and t[0] == t[2]]
    assert not [t for t in inferred if str(t[0]).startswith("http://www.w3.org/2002/07/owl#")]


def test_disjoint_classes_make_the_graph_inconsistent(ontology):
    thing = URIRef(ID + "zone/x")
    with pytest.raises(InconsistentGraph, match="OWL RL found the graph inconsistent"):
        closure_of(ontology, (thing, RDF.type, SQ.DevelopmentZone), (thing, RDF.type, SQ.AdministrativeDivision))
