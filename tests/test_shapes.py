"""Each shape with a constraint of its own has a conforming and a violating fixture (STYLE §6).

Shapes are discovered from the shapes graph, so a shape without fixtures fails the build.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import RDF, SH, URIRef

from shiquan import config
from shiquan.graph import loading
from shiquan.graph import validation
from shiquan.vocab import SQS

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "shapes"
SETTINGS = config.settings()
SHAPES = loading.read_shapes(SETTINGS)
ONTOLOGY = loading.read_ontology(SETTINGS)
CONSTRAINT_PARAMETERS = {
    SH["class"], SH.datatype, SH.nodeKind, SH.minCount, SH.maxCount, SH.minExclusive, SH.maxInclusive,
    SH.minLength, SH.pattern, SH["or"], SH["not"], SH.node, SH.qualifiedValueShape, SH.languageIn, SH.sparql,
}


def constrained_shapes() -> list[str]:
    """Local names of the shapes that are targeted or reached by sh:property and constrain by themselves."""
    targeted = {s for p in (SH.targetClass, SH.targetSubjectsOf, SH.targetNode, SH.targetObjectsOf) for s in SHAPES.subjects(p)}
    reached = set(targeted) | set(SHAPES.objects(None, SH.property)) | set(SHAPES.objects(None, SH.sparql))
    names = []
    for shape in reached:
        own = {p for p in SHAPES.predicates(shape)} & CONSTRAINT_PARAMETERS - {SH.sparql}
        if own or (shape, RDF.type, SH.SPARQLConstraint) in SHAPES:
            names.append(str(shape).removeprefix(str(SQS)))
    return sorted(names)


def check(shape: str, kind: str) -> validation.Report:
    path = FIXTURES / f"{shape}.{kind}.ttl"
    assert path.exists(), f"missing fixture {path.name}"
    data = loading.union(loading.read_file(path).values())
    return validation.validate_graph(data, SHAPES, ONTOLOGY)


def test_shapes_are_discovered():
    assert {"PlanShape-onePayerPerMatterAndLevel", "AssignmentShape-quoteInSource", "ResourceShape"} <= set(constrained_shapes())


@pytest.mark.parametrize("shape", constrained_shapes())
def test_pass_fixture_conforms(shape):
    report = check(shape, "pass")
    assert report.results == []


@pytest.mark.parametrize("shape", constrained_shapes())
def test_fail_fixture_breaks_only_its_shape(shape):
    report = check(shape, "fail")
    assert {r.source_shape for r in report.results} == {SQS[shape]}
    assert {"zh", "en"} <= {m.language for r in report.results for m in r.messages}


@pytest.mark.parametrize("shape", constrained_shapes())
def test_fail_fixture_says_which_rule_it_breaks(shape):
    first = (FIXTURES / f"{shape}.fail.ttl").read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(f"# Breaks sqs:{shape}: ")


def test_every_fixture_belongs_to_a_shape():
    names = set(constrained_shapes())
    orphans = [p.name for p in FIXTURES.glob("*.ttl") if p.name.rsplit(".", 2)[0] not in names]
    assert orphans == []


def test_every_constraint_has_messages_in_zh_and_en():
    for shape in constrained_shapes():
        languages = {m.language for m in SHAPES.objects(URIRef(SQS[shape]), SH.message)}
        assert languages == {"zh", "en"}, shape
