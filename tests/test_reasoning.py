"""OWL RL inferences: owlrl's full closure (the reference) and the targeted materialisation, which must agree."""

import subprocess
import sys

import pyoxigraph as ox
import pytest
from rdflib import RDF, Graph, URIRef

from shiquan.graph import loading
from shiquan.graph import reasoning
from shiquan.terms import to_rdflib
from shiquan.errors import BadInput, InconsistentGraph
from shiquan.vocab import ELI, SQ

from .conftest import ROOT

ID = "https://w3id.org/shiquan/id/"
DATA_GRAPH = ox.NamedNode("urn:x-test:data")
INFERRED = ox.NamedNode("urn:x-test:inferred")


@pytest.fixture(scope="module")
def ontology(settings):
    return loading.read_ontology(settings)


SHORTCUTS = {URIRef(prop) for prop, _pattern in reasoning.SHORTCUTS}


def materialised(ontology: Graph, graph: Graph) -> Graph:
    """What :func:`reasoning.materialise` adds to a store holding ``graph``, as an rdflib graph."""
    store = ox.Store()
    store.load(graph.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES, to_graph=DATA_GRAPH)
    reasoning.materialise(store, reasoning.rules(ontology), INFERRED)
    inferred = Graph()
    for quad in store.quads_for_pattern(None, None, None, INFERRED):
        inferred.add(tuple(to_rdflib(term) for term in (quad.subject, quad.predicate, quad.object)))
    return inferred


def targeted(ontology: Graph, graph: Graph) -> Graph:
    """The OWL RL part of what :func:`reasoning.materialise` adds (owlrl's counterpart): all but the shortcuts."""
    inferred = Graph()
    for triple in materialised(ontology, graph):
        if triple[1] not in SHORTCUTS:
            inferred.add(triple)
    return inferred


@pytest.fixture(params=["owlrl", "targeted"])
def closure_of(request, ontology):
    """A function giving the inferences of the ontology plus some triples, by owlrl or by the targeted rules."""

    def closure(*triples) -> Graph:
        graph = loading.union([ontology, Graph()])
        for triple in triples:
            graph.add(triple)
        return reasoning.infer(graph) if request.param == "owlrl" else targeted(ontology, graph)

    return closure


def test_part_of_is_transitive_and_has_its_inverse(closure_of):
    a, b, c = (URIRef(ID + f"division/{x}") for x in "abc")
    inferred = closure_of((a, SQ.partOf, b), (b, SQ.partOf, c))
    assert (a, SQ.partOf, c) in inferred
    assert (c, SQ.hasPart, a) in inferred


def test_a_chain_stated_half_by_the_inverse_closes_too(closure_of):
    a, b, c = (URIRef(ID + f"division/{x}") for x in "abc")
    inferred = closure_of((a, SQ.partOf, b), (c, SQ.hasPart, b))
    assert (b, SQ.partOf, c) in inferred and (a, SQ.partOf, c) in inferred
    assert (c, SQ.hasPart, a) in inferred
    assert (a, RDF.type, SQ.AdministrativeDivision) in inferred


def test_based_on_chain_closes_to_the_top(closure_of):
    p1, p2, p3 = (URIRef(ID + f"plan/p{i}") for i in range(3))
    inferred = closure_of((p1, SQ.basedOn, p2), (p2, SQ.basedOn, p3))
    assert (p1, SQ.basedOn, p3) in inferred
    assert (p3, SQ.implementedBy, p1) in inferred


def test_plan_is_an_eli_legal_resource_by_subclass(closure_of):
    plan = URIRef(ID + "plan/p")
    inferred = closure_of((plan, RDF.type, SQ.Plan))
    assert (plan, RDF.type, ELI.LegalResource) in inferred


def test_levels_are_ordered_by_closure(closure_of):
    inferred = closure_of()
    assert (SQ.CentralLevel, SQ.higherLevelThan, SQ.CountyLevel) in inferred
    assert (SQ.TownshipLevel, SQ.lowerLevelThan, SQ.ProvincialLevel) in inferred


def test_inferences_leave_out_trivia(closure_of):
    plan = URIRef(ID + "plan/p")
    inferred = closure_of((plan, RDF.type, SQ.Plan))
    assert not [t for t in inferred if t[1] == URIRef("http://www.w3.org/2002/07/owl#sameAs") and t[0] == t[2]]
    assert not [t for t in inferred if str(t[0]).startswith("http://www.w3.org/2002/07/owl#")]


def test_disjoint_classes_make_the_graph_inconsistent(closure_of):
    thing = URIRef(ID + "zone/x")
    with pytest.raises(InconsistentGraph, match="OWL RL found the graph inconsistent"):
        closure_of((thing, RDF.type, SQ.DevelopmentZone), (thing, RDF.type, SQ.AdministrativeDivision))


def test_disjointness_reached_through_a_range_is_found_too(closure_of):
    zone, city = URIRef(ID + "zone/x"), URIRef(ID + "division/y")
    with pytest.raises(InconsistentGraph):
        closure_of((zone, RDF.type, SQ.DevelopmentZone), (city, SQ.partOf, zone))


# The differential tests: the targeted rules give exactly owlrl's inferences.


def assert_same_inferences(ontology: Graph, data: Graph) -> int:
    graph = loading.union([ontology, data])
    expected = set(reasoning.infer(graph))
    got = set(targeted(ontology, graph))
    assert sorted(expected - got) == [] and sorted(got - expected) == []
    return len(got)


def test_targeted_rules_give_owlrls_inferences_on_the_projects_data(ontology, settings):
    data = loading.union(loading.read_paths(settings["DATA_PATHS"]).values())
    assert assert_same_inferences(ontology, data) > 500


def test_targeted_rules_give_owlrls_inferences_on_a_generated_graph(ontology, tmp_path):
    out = tmp_path / "national.nq"
    flags = ["--provinces", "1", "--fields", "1", "--scale", "0.3", "--seed", "3"]
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "national.py"), "-o", str(out), *flags],
                   check=True, capture_output=True, timeout=120, cwd=ROOT)
    data = loading.union(loading.read_file(out).values())
    assert len(set(data.subjects(RDF.type, SQ.JointPayer))) > 0, "the graph should hold shared powers"
    assert assert_same_inferences(ontology, data) > 1000


def test_an_axiom_the_targeted_rules_do_not_cover_is_refused(ontology):
    extended = loading.union([ontology, Graph()])
    extended.add((SQ.payer, RDF.type, URIRef("http://www.w3.org/2002/07/owl#FunctionalProperty")))
    with pytest.raises(BadInput, match="FunctionalProperty"):
        reasoning.rules(extended)


def test_progress_is_told_each_step(ontology):
    store = ox.Store()
    seen = []
    reasoning.materialise(store, reasoning.rules(ontology), INFERRED, lambda stage, done, total: seen.append((stage, done, total)))
    assert [done for _stage, done, _total in seen] == list(range(len(reasoning.STEPS) + 1))
    assert {total for _stage, _done, total in seen} == {len(reasoning.STEPS)}


# The shortcuts (not OWL RL's): hand-checked values.


def test_a_plan_is_linked_to_its_rulings_paid_jointly(ontology):
    plan, other_plan = URIRef(ID + "plan/p"), URIRef(ID + "plan/q")
    joint, alone, via_inverse = (URIRef(ID + f"assignment/{x}") for x in ("joint", "alone", "via_inverse"))
    payer, share = URIRef(ID + "joint-payer/j"), URIRef(ID + "payment-share/j-county")
    data = Graph()
    for triple in [
        (joint, SQ.statedIn, plan), (joint, SQ.payer, payer),
        (payer, SQ.share, share),  # a joint payer by the domain of sq:share only: the shortcut reads inferred types
        (share, SQ.shareLevel, SQ.CountyLevel),
        (alone, SQ.statedIn, plan), (alone, SQ.payer, SQ.CountyLevel),
        (other_plan, SQ.hasAssignment, via_inverse), (via_inverse, SQ.payer, payer),  # its plan by the inverse only
    ]:
        data.add(triple)
    inferred = materialised(ontology, loading.union([ontology, data]))
    assert set(inferred.triples((None, SQ.hasJointlyPaidAssignment, None))) == {
        (plan, SQ.hasJointlyPaidAssignment, joint), (other_plan, SQ.hasJointlyPaidAssignment, via_inverse),
    }


def test_no_ruling_of_the_seed_plans_is_paid_jointly(kg):
    # By hand: the 52 sq:payer statements of data/ (all in haidong-dongzhengban-2024-96.ttl) name one level each.
    found = list(kg.store.quads_for_pattern(None, ox.NamedNode(str(SQ.hasJointlyPaidAssignment)), None))
    assert found == []
    assert len(list(kg.store.quads_for_pattern(None, ox.NamedNode(str(SQ.payer)), None))) == 52
