"""The SPARQL-compiled validator (shiquan.graph.shacl) gives pySHACL's results (shiquan.graph.validation.validate_graph).

Each differential test validates the same triples twice: with pySHACL through
``validation.validate_graph`` (the reference), and with ``shacl.validate_store`` on a
pyoxigraph store holding the ontology, the data and their OWL RL inferences in named
graphs. The results are compared field by field and in order, and the report graphs
must be isomorphic.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import replace

import pyoxigraph as ox
import pytest
from rdflib import RDF, RDFS, SH, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.compare import isomorphic
from rdflib.namespace import DCTERMS, SKOS

from shiquan.graph import loading
from shiquan.graph import reasoning
from shiquan.graph import shacl
from shiquan.graph import validation
from shiquan.errors import BadInput
from shiquan.graph.report import Report, Result
from shiquan.vocab import SQ, SQS

from .conftest import FIXTURES, ROOT

SHAPE_FIXTURES = sorted((FIXTURES / "shapes").glob("*.ttl"))
ENGINE_FIXTURES = FIXTURES / "shacl_engine"
ID = Namespace("https://w3id.org/shiquan/id/")
EX = Namespace("http://example.org/")
# What the store cannot give back: oxigraph keeps xsd:decimal 60.0 as 60, so a sum of
# 60.0 and 30.0 reads "90" where pySHACL, on rdflib's literals, writes "90.0".
STORED_AS = {"JointPayerShape-sharesSumToHundred.fail.ttl": ("90.0", "90")}


# --------------------------------------------------------------------------------------------
# Running both validators
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def infer_once() -> Iterator[None]:
    """validate_graph runs owlrl itself: remember the closure, so that the store gets it without a second run."""
    real = reasoning.infer
    closures: dict[frozenset, Graph] = {}

    def infer(graph: Graph) -> Graph:
        key = frozenset(graph)
        if key not in closures:
            closures.clear()
            closures[key] = real(graph)
        return closures[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(reasoning, "infer", infer)
        yield


@pytest.fixture(scope="module")
def schema(settings) -> tuple[Graph, Graph]:
    return validation.schema(settings)


def store_of(ontology: Graph, data: Graph, inferences: Graph) -> ox.Store:
    """A store with the ontology, the data and the inferences in three named graphs."""
    store = ox.Store()
    for name, graph in (("ontology", ontology), ("data", data), ("inferences", inferences)):
        store.load(graph.serialize(format="nt", encoding="utf-8"), format=ox.RdfFormat.N_TRIPLES,
                   to_graph=ox.NamedNode(f"https://w3id.org/shiquan/graph/{name}"))
    return store


def both(data: Graph, shapes: Graph, ontology: Graph) -> tuple[Report, Report]:
    """pySHACL's report and the engine's for ``data`` with ``ontology`` and their OWL RL closure."""
    inferences = reasoning.infer(loading.union([ontology, data]))
    expected = validation.validate_graph(data, shapes, ontology)
    return expected, shacl.validate_store(store_of(ontology, data, inferences), shapes)


def _node(node):
    """Blank nodes compare equal: the store and rdflib label them differently."""
    return "_:blank" if isinstance(node, BNode) else node


def _labels(labels: tuple[Literal, ...]) -> tuple:
    """Labels in a fixed order: rdflib gives them in insertion order, the store sorted.

    A composed label (an assignment's matter · level) is compared by its parts for the same reason.
    """
    return tuple(sorted((label.language, tuple(sorted(re.split(r" ?· ?", str(label))))) for label in labels))


def rows(report: Report) -> list[tuple]:
    return [(_node(r.focus_node), r.source_shape, r.severity, r.messages, _node(r.path), _node(r.value),
             r.constraint, _labels(r.focus_labels), _labels(r.value_labels)) for r in report.results]


def order(report: Report) -> list[tuple]:
    """The key both validators sort by (ties keep whatever order each found them in)."""
    return [(str(_node(r.focus_node)), str(r.source_shape), str(_node(r.value))) for r in report.results]


def assert_same(expected: Report, actual: Report) -> None:
    assert actual.conforms == expected.conforms
    assert sorted(rows(actual), key=repr) == sorted(rows(expected), key=repr)
    if not any(isinstance(r.focus_node, BNode) or isinstance(r.value, BNode) for r in expected.results):
        assert order(actual) == order(expected)
    assert isomorphic(actual.graph, expected.graph)


def as_stored(report: Report, old: str, new: str) -> Report:
    """``report`` with ``old`` read as ``new`` in its messages (what the store can give back)."""

    def swap(literal: Literal) -> Literal:
        return Literal(str(literal).replace(old, new), lang=literal.language)

    graph = Graph()
    for s, p, o in report.graph:
        graph.add((s, p, swap(o) if p == SH.resultMessage else o))
    results = [replace(r, messages=tuple(swap(m) for m in r.messages)) for r in report.results]
    return Report(results, graph)


# --------------------------------------------------------------------------------------------
# The shape fixtures, the project's data, and shapes using what the project's do not
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", SHAPE_FIXTURES, ids=lambda p: p.name)
def test_shape_fixture_gives_pyshacls_results(path, schema):
    shapes, ontology = schema
    expected, actual = both(loading.union(loading.read_file(path).values()), shapes, ontology)
    if path.name in STORED_AS:
        expected = as_stored(expected, *STORED_AS[path.name])
    assert_same(expected, actual)
    assert (path.name.endswith(".fail.ttl")) == bool(actual.results)


def test_known_difference_is_only_the_decimal_form_of_a_sum(schema):
    shapes, ontology = schema
    path = FIXTURES / "shapes" / "JointPayerShape-sharesSumToHundred.fail.ttl"
    expected, actual = both(loading.union(loading.read_file(path).values()), shapes, ontology)
    assert {str(m) for m in expected.results[0].messages} != {str(m) for m in actual.results[0].messages}
    assert "90.0 %" in expected.results[0].message("en") and "90 %" in actual.results[0].message("en")


def test_project_data_gives_pyshacls_results(settings, schema):
    shapes, ontology = schema
    data = loading.union(loading.read_paths(settings["DATA_PATHS"]).values())
    expected, actual = both(data, shapes, ontology)
    assert_same(expected, actual)
    assert [r.source_shape for r in actual.results] == [SQS["PlanShape-issuedStated"]]


def test_features_the_project_does_not_use_give_pyshacls_results():
    shapes = loading.union(loading.read_file(ENGINE_FIXTURES / "features.shapes.ttl").values())
    data = loading.union(loading.read_file(ENGINE_FIXTURES / "features.data.ttl").values())
    expected, actual = both(data, shapes, Graph())
    assert_same(expected, actual)
    found = {r.constraint for r in actual.results}
    assert {SH.XoneConstraintComponent, SH.NotConstraintComponent, SH.QualifiedMinCountConstraintComponent,
            SH.QualifiedMaxCountConstraintComponent, SH.LanguageInConstraintComponent,
            SH.MaxExclusiveConstraintComponent, SH.NodeKindConstraintComponent} <= found


def test_python_semantics_of_patterns_are_kept():
    """``$`` matches before a final newline in Python's re (pySHACL), not in SPARQL's REGEX."""
    shapes = loading.union(loading.read_file(ENGINE_FIXTURES / "features.shapes.ttl").values())
    data = Graph()
    data.add((EX.p, RDF.type, EX.Person))
    data.add((EX.p, EX.line, Literal("a\n")))
    report = shacl.validate_store(store_of(Graph(), data, Graph()), shapes)
    assert not [r for r in report.results if r.constraint == SH.PatternConstraintComponent]


def test_ill_typed_literals_fail_datatype_as_in_pyshacl():
    """rdflib reads "abc"^^xsd:decimal as ill-typed but accepts "1e3"^^xsd:decimal (owlrl refuses both)."""
    shapes = Graph().parse(data="""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
        @prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
        ex:S a sh:NodeShape ; sh:targetSubjectsOf ex:amount ;
            sh:property [ sh:path ex:amount ; sh:datatype xsd:decimal ] .""", format="turtle")
    data = Graph()
    for name, lexical in (("bad", "abc"), ("odd", "1e3"), ("good", "12.50")):
        data.add((EX[name], EX.amount, Literal(lexical, datatype=XSD.decimal)))
    report = shacl.validate_store(store_of(Graph(), data, Graph()), shapes)
    assert [(r.focus_node, str(r.value)) for r in report.results] == [(EX.bad, "abc")]


# --------------------------------------------------------------------------------------------
# A generated graph, conforming and with every shape broken
# --------------------------------------------------------------------------------------------

CONSTRAINT_PARAMETERS = {
    SH["class"], SH.datatype, SH.nodeKind, SH.minCount, SH.maxCount, SH.minExclusive, SH.minInclusive,
    SH.maxExclusive, SH.maxInclusive, SH.minLength, SH.maxLength, SH.pattern, SH.languageIn, SH["or"], SH["and"],
    SH.xone, SH["not"], SH.node, SH.qualifiedValueShape, SH.uniqueLang, SH.hasValue, SH["in"], SH.equals,
    SH.disjoint, SH.lessThan, SH.lessThanOrEquals, SH.closed,
}


def constrained_shapes(shapes: Graph) -> set[URIRef]:
    """The shapes results name as their source: targeted or property shapes with constraints of their own, and SPARQL constraints."""
    targeted = {s for p in (SH.targetClass, SH.targetSubjectsOf, SH.targetNode, SH.targetObjectsOf) for s in shapes.subjects(p)}
    reached = targeted | set(shapes.objects(None, SH.property))
    own = {s for s in reached if set(shapes.predicates(s)) & CONSTRAINT_PARAMETERS}
    return own | set(shapes.objects(None, SH.sparql))


def _plan_and_its_bases(graphs: dict[URIRef, Graph]) -> list[Graph]:
    """The graphs of the first city plan and of the plans it is based on."""
    graph_of = {plan: g for g in graphs.values() for plan in g.subjects(RDF.type, SQ.Plan)}
    plan = min((p for p in graph_of if "/plan/ceshi-shi-" in str(p)), key=str)
    chain = []
    while plan is not None:
        chain.append(graph_of[plan])
        plan = graph_of[plan].value(plan, SQ.basedOn)
    return chain


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Graph:
    """One city plan of the one-province national graph, the plans it is based on, the divisions and matters.

    (The whole one-province graph, 76,000 triples, takes pySHACL several minutes.)
    """
    path = tmp_path_factory.mktemp("national") / "national.nq"
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "national.py"), "-o", str(path), "--provinces", "1"],
                   check=True, capture_output=True, cwd=ROOT)
    graphs = loading.read_file(path)
    registers = [g for name, g in graphs.items() if str(name).endswith(("/divisions", "/matters"))]
    return loading.union(registers + _plan_and_its_bases(graphs))


def _first(graph: Graph, p: URIRef, o=None, after: int = 0) -> URIRef:
    return sorted(set(graph.subjects(p, o)), key=str)[after]


def broken(data: Graph) -> Graph:
    """``data`` with at least one violation of each constrained shape of the project."""
    g = Graph()
    g += data
    plans = sorted(g.subjects(RDF.type, SQ.Plan), key=str)  # the city plan, its province's, the national one
    city, province, national = (next(p for p in plans if f"/plan/ceshi-{k}-" in str(p)) for k in ("shi", "sheng", "guo"))
    assignments = [a for a in sorted(g.subjects(SQ.statedIn, city), key=str) if (a, SQ.payer, None) in g]
    level_paid = [a for a in assignments if g.value(a, SQ.payer) == g.value(a, SQ.level)]
    counties = sorted((d for d in g.subjects(SQ.level, SQ.CountyLevel) if (d, RDF.type, SQ.AdministrativeDivision) in g), key=str)
    cities = sorted(g.subjects(SQ.level, SQ.PrefecturalLevel), key=str)
    joint = sorted(g.subjects(RDF.type, SQ.JointPayer), key=str)
    shares = {j: sorted(g.objects(j, SQ.share), key=str) for j in joint}
    matters = sorted(g.subjects(RDF.type, SQ.Matter), key=str)
    notice = _first(g, SQ.transmits, city)

    # divisions: a code of five digits, a county without level, a city part of a county
    g.set((cities[0], SQ.divisionCode, Literal("06300")))
    g.remove((counties[0], SQ.level, None))
    g.add((cities[1], SQ.partOf, counties[1]))
    # assignments
    g.set((level_paid[0], SQ.fiscalPowerHolder, city))  # neither a level nor a shared power
    g.add((level_paid[1], SQ.level, SQ.CentralLevel))  # two levels, one the plan does not divide between
    g.set((level_paid[2], SQ.level, SQ.ProvincialLevel))  # a level the city plan does not divide between
    g.remove((level_paid[3], SQ.matter, None))
    g.set((level_paid[4], SQ.payer, Literal("县级", lang="zh")))
    g.add((level_paid[5], SQ.provision, ID["provision/elsewhere/1"]))  # a second provision (a value of another class would be inferred one)
    g.set((level_paid[6], SQ.sourceText, Literal("这句话不在原文之中。")))
    g.set((level_paid[7], SQ.sourceText, Literal("")))
    g.set((level_paid[8], SQ.sourceText, Literal(str(g.value(level_paid[8], SQ.sourceText)), lang="zh")))
    g.add((level_paid[9], SQ.statedIn, province))
    twin = URIRef(str(level_paid[10]) + "-twin")  # a second payer for one matter and level
    for p, o in g.predicate_objects(level_paid[10]):
        g.add((twin, p, o))
    g.set((twin, SQ.payer, SQ.CountyLevel if g.value(level_paid[10], SQ.payer) != SQ.CountyLevel else SQ.PrefecturalLevel))
    # joint payers and their shares; percentages in the form the store keeps (60, not 60.0: see STORED_AS)
    g.remove((joint[0], SQ.memberLevel, g.value(joint[0], SQ.memberLevel)))
    for j, values in zip(joint[1:5], ((Literal("50", datatype=XSD.decimal), Literal("30", datatype=XSD.decimal)),
                                       (Literal("0", datatype=XSD.decimal), Literal("100", datatype=XSD.decimal)),
                                       (Literal("60", datatype=XSD.integer), Literal("40", datatype=XSD.integer)),
                                       (Literal("150", datatype=XSD.decimal), Literal("-50", datatype=XSD.decimal)))):
        for share, value in zip(shares[j], values):
            g.set((share, SQ.percentage, value))
    g.remove((shares[joint[5]][0], SQ.shareLevel, None))
    shared = _first(g, RDF.type, SQ.SharedFiscalPower)
    g.remove((shared, SQ.memberLevel, g.value(shared, SQ.memberLevel)))
    # matters
    g.add((matters[1], SQ.category, _first(g, RDF.type, SQ.MatterCategory, after=3)))
    g.add((matters[2], RDFS.label, Literal("又一个中文名称", lang="zh")))
    # notice and plans
    g.set((notice, SQ.documentNumber, Literal("第25号")))
    g.remove((_first(g, RDF.type, SQ.Notice), SQ.transmits, None))
    g.remove((national, SQ.dividesBetween, g.value(national, SQ.dividesBetween)))
    g.add((province, SQ.documentNumber, Literal("测01政办发〔2018〕131号")))
    g.set((province, DCTERMS.issued, Literal("2018-02-04")))
    g.remove((city, DCTERMS.issued, None))
    g.remove((national, DCTERMS.title, None))
    g.remove((national, SQ.documentNumber, None))  # no 文号, and no note that it is unknown
    g.remove((city, SQ.documentNumber, None))  # no 文号, noted unknown: a warning
    g.add((city, SKOS.editorialNote, Literal("文号不详：网页转载本未载文号。", lang="zh")))
    # resources
    g.add((ID["text/Bad_Slug"], RDF.type, SQ.SourceText))
    g.add((BNode(), RDF.type, SQ.SourceText))
    return g


@pytest.fixture(scope="module")
def generated_reports(generated, schema) -> tuple[Report, Report]:
    shapes, ontology = schema
    return both(generated, shapes, ontology)


@pytest.fixture(scope="module")
def broken_reports(generated, schema) -> tuple[Report, Report]:
    shapes, ontology = schema
    return both(broken(generated), shapes, ontology)


def test_generated_graph_conforms_in_both_engines(generated_reports):
    expected, actual = generated_reports
    assert expected.results == [] and actual.results == []


def test_generated_graph_with_broken_shapes_gives_pyshacls_results(broken_reports):
    expected, actual = broken_reports
    assert_same(expected, actual)


def test_broken_graph_breaks_every_constrained_shape(broken_reports, schema):
    expected, actual = broken_reports
    shapes, _ontology = schema
    assert constrained_shapes(shapes) - {r.source_shape for r in expected.results} == set()
    assert {r.source_shape for r in actual.results} == {r.source_shape for r in expected.results}


# --------------------------------------------------------------------------------------------
# What is not compiled, and progress
# --------------------------------------------------------------------------------------------

REFUSED_SHAPE = """
@prefix sh: <http://www.w3.org/ns/shacl#> . @prefix sq: <https://w3id.org/shiquan/ontology#> .
@prefix sqs: <https://w3id.org/shiquan/shapes#> . @prefix dcterms: <http://purl.org/dc/terms/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
sqs:TestShape a sh:NodeShape ; sh:targetClass sq:Plan ; sh:property sqs:TestShape-title .
sqs:TestShape-title a sh:PropertyShape ; sh:path dcterms:title ; %s .
"""


@pytest.mark.parametrize("constraint, named", [
    ("sh:equals rdfs:label", "sh:EqualsConstraintComponent"),
    ("sh:uniqueLang true", "sh:UniqueLangConstraintComponent"),
    ("sh:in ( 'a' )", "sh:InConstraintComponent"),
    ("sh:closed true", "sh:ClosedConstraintComponent"),
    ("sh:target [ a sh:SPARQLTarget ]", "sh:target"),
    ("sh:property [ sh:path rdfs:label ; sh:minCount 1 ]", "sh:PropertyConstraintComponent"),
])
def test_unsupported_component_raises_bad_input_naming_shape_and_component(constraint, named, schema):
    shapes = Graph()
    shapes += schema[0]
    shapes.parse(data=REFUSED_SHAPE % constraint, format="turtle")
    with pytest.raises(BadInput, match=f"shape sqs:TestShape-title uses {named},"):
        shacl.validate_store(ox.Store(), shapes)


@pytest.mark.parametrize("select, why", [
    ("SELECT $this WHERE { $this ?p ?o MINUS { $this a ?c } }", "MINUS"),
    ("SELECT $this WHERE { $this ?p ?o } LIMIT 1", "LIMIT"),
    ("SELECT $this WHERE { { ?s ?p ?o FILTER (?o = $this) } }", r"\$this in an expression"),
    ("SELECT $this (COUNT(?o) AS ?n) WHERE { $this ?p ?o }", "GROUP BY"),
])
def test_sparql_constraint_that_cannot_be_compiled_raises_bad_input(select, why):
    shapes = Graph().parse(data=f"""
        @prefix sh: <http://www.w3.org/ns/shacl#> . @prefix ex: <http://example.org/> .
        ex:S a sh:NodeShape ; sh:targetNode ex:n ; sh:sparql ex:C .
        ex:C a sh:SPARQLConstraint ; sh:select "{select}" .""", format="turtle")
    with pytest.raises(BadInput, match=f"SPARQL constraint <?http://example.org/C>? of shape .*{why}"):
        shacl.validate_store(ox.Store(), shapes)


def test_progress_counts_every_check_once_in_order(schema):
    shapes, ontology = schema
    calls: list[tuple[int, int, str]] = []
    shacl.validate_store(store_of(ontology, Graph(), Graph()), shapes, progress=lambda *call: calls.append(call))
    total = len(shacl.compile_shapes(shapes))
    assert [done for done, _total, _label in calls] == list(range(1, total + 1))
    assert {t for _done, t, _label in calls} == {total}
    assert all(label.startswith("sqs:") for _done, _total, label in calls)


def test_every_project_shape_compiles_to_checks(schema):
    labels = " ".join(check.label for check in shacl.compile_shapes(schema[0]))
    for shape in constrained_shapes(schema[0]):
        assert f"sqs:{shape.removeprefix(str(SQS))} " in labels


def test_result_fields_are_filled_like_pyshacls(broken_reports):
    _expected, actual = broken_reports
    assert all(isinstance(r, Result) and r.messages for r in actual.results)
    assert {"zh", "en"} <= {m.language for r in actual.results for m in r.messages}
    assert "sh:ValidationReport" in actual.turtle()
