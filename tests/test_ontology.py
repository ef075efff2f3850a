"""The ontology: consistent for a DL reasoner (HermiT), documented from its own annotations."""

from __future__ import annotations

import shutil

import pytest
from rdflib import RDF, XSD, Graph, Literal, URIRef

from shiquan.publish import docs
from shiquan.graph import loading
from shiquan.vocab import SQ

from .conftest import ROOT

# HermiT accepts only the OWL 2 datatype map, which has no xsd:date; dates are checked by the shapes instead.
OUTSIDE_OWL2_DATATYPE_MAP = {XSD.date}


def hermit_consistent(graph: Graph, tmp_path) -> bool:
    owlready2 = pytest.importorskip("owlready2")
    if shutil.which("java") is None:
        pytest.fail("java is needed for the DL reasoner; .ci/run installs it")
    path = tmp_path / "graph.nt"
    kept = Graph()
    for triple in graph:
        if not (isinstance(triple[2], Literal) and triple[2].datatype in OUTSIDE_OWL2_DATATYPE_MAP):
            kept.add(triple)
    kept.serialize(path, format="nt", encoding="utf-8")
    world = owlready2.World()
    world.get_ontology(path.as_uri()).load()
    try:
        owlready2.sync_reasoner_hermit(world, infer_property_values=False, debug=0)
    except owlready2.OwlReadyInconsistentOntologyError:
        return False
    return True


@pytest.fixture(scope="module")
def project_graph(settings):
    return loading.union([loading.read_ontology(settings), *loading.read_paths(settings["DATA_PATHS"]).values()])


def test_ontology_and_data_are_consistent_for_hermit(project_graph, tmp_path):
    assert hermit_consistent(project_graph, tmp_path)


def test_hermit_finds_a_zone_that_is_also_a_division_inconsistent(project_graph, tmp_path):
    broken = Graph()
    broken += project_graph
    zone = URIRef("https://w3id.org/shiquan/id/zone/haidong-gongye-yuanqu")
    broken.add((zone, RDF.type, SQ.AdministrativeDivision))
    assert not hermit_consistent(broken, tmp_path)


def test_no_range_uses_a_datatype_outside_the_owl2_map(settings):
    ontology = loading.read_ontology(settings)
    assert not [s for s, o in ontology.subject_objects(URIRef("http://www.w3.org/2000/01/rdf-schema#range")) if o in OUTSIDE_OWL2_DATATYPE_MAP]


def test_committed_term_documentation_is_generated_from_the_ontology(settings):
    committed = (ROOT / "docs" / "ontology.md").read_text(encoding="utf-8")
    assert committed == docs.markdown(loading.read_ontology(settings)), "run: shiquan docs -o docs/ontology.md"


def test_documentation_shows_every_term_with_both_labels(settings):
    ontology = loading.read_ontology(settings)
    text = docs.markdown(ontology)
    for term in docs.terms(ontology):
        assert f"### {term.anchor}\n" in text
        assert term.labels["en"] in text and term.labels["zh"] in text


def test_changelog_has_one_entry_per_change_note(settings):
    from rdflib.namespace import OWL, SKOS

    from shiquan.vocab import ONTOLOGY_IRI

    ontology = loading.read_ontology(settings)
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    notes = [str(n) for n in ontology.objects(ONTOLOGY_IRI, SKOS.changeNote)]
    for note in notes:
        version = note.split(":")[0]
        assert f"## Ontology {version} " in changelog and note in changelog
    version = str(ontology.value(ONTOLOGY_IRI, OWL.versionInfo))
    assert str(ontology.value(ONTOLOGY_IRI, OWL.versionIRI)).endswith(f"/{version}")
    assert any(n.startswith(version + ":") for n in notes)
