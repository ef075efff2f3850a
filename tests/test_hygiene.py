"""Ontology hygiene rules (STYLE §5, §8): each tests/hygiene/<rule>-violation.rq returns no rows.

A rule is a SELECT returning one row per offending term. Rules are discovered from the folder,
so a rule file added later is run over ontology/ at once, and fails until it has a broken example
below that proves it can fire.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, URIRef

HERE = Path(__file__).resolve().parent
HYGIENE = HERE / "hygiene"
ONTOLOGY = HERE.parent / "ontology"
RULES = sorted(HYGIENE.glob("*-violation.rq"))

SQ = "https://w3id.org/shiquan/ontology#"
ONTOLOGY_IRI = "https://w3id.org/shiquan/ontology"

PREFIXES = """\
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix skos: <http://www.w3.org/2004/02/skos/core#> .
@prefix sq: <https://w3id.org/shiquan/ontology#> .
"""

HEADER_LINES = [
    "<https://w3id.org/shiquan/ontology> a owl:Ontology",
    "owl:versionIRI <https://w3id.org/shiquan/ontology/0.1.0>",
    'owl:versionInfo "0.1.0"',
    "dcterms:license <https://creativecommons.org/licenses/by/4.0/>",
    'dcterms:creator "Shiquan project"@en',
]


def header(without: str | None = None) -> str:
    """The ontology header, optionally lacking the one statement whose property is `without`."""
    lines = [line for line in HEADER_LINES if without is None or not line.startswith(without + " ")]
    return " ;\n    ".join(lines) + " .\n"


# A term that keeps every rule; each broken example sits beside it, so a rule that fires on it is caught.
MATTER_TERM = """
sq:Matter a owl:Class ;
    rdfs:label "matter"@en , "事项"@zh ;
    skos:definition "A kind of fiscal affair considered apart from any tier of government."@en ,
        "不依附于特定政府层级的一类财政事务。"@zh ;
    skos:scopeNote "The same affair ruled in different plans is one resource."@en ,
        "同一事务在不同方案中被裁定时，仍是同一个资源。"@zh ;
    rdfs:isDefinedBy <https://w3id.org/shiquan/ontology> .
"""
WELL_FORMED = header() + MATTER_TERM


def broken(
    labels: str = '"broken term"@en , "残缺术语"@zh',
    definitions: str = '"A term made to break one rule."@en , "为违反某条规则而造的术语。"@zh',
    defined_by: str = "<https://w3id.org/shiquan/ontology>",
    extra: str = "",
    iri: str = "sq:Broken",
    kind: str = "owl:Class",
) -> str:
    """Turtle for a term that is well formed except where an argument says otherwise ("" leaves it out)."""
    statements = [f"{iri} a {kind}"]
    statements += [f"rdfs:label {labels}"] if labels else []
    statements += [f"skos:definition {definitions}"] if definitions else []
    statements += [extra] if extra else []
    statements += [f"rdfs:isDefinedBy {defined_by}"] if defined_by else []
    return WELL_FORMED + "\n" + " ;\n    ".join(statements) + " .\n"


BROKEN = SQ + "Broken"
MATTER = SQ + "Matter"

# rule -> case -> (Turtle of a small ontology breaking the rule, the terms the rule must report)
EXAMPLES: dict[str, dict[str, tuple[str, set[str]]]] = {
    "missing-or-extra-zh-label": {
        "no-zh-label": (broken(labels='"broken term"@en'), {BROKEN}),
        "two-zh-labels": (broken(labels='"broken term"@en , "残缺术语"@zh , "破损术语"@zh'), {BROKEN}),
    },
    "missing-or-extra-en-label": {
        "no-en-label": (broken(labels='"残缺术语"@zh'), {BROKEN}),
        "two-en-labels": (broken(labels='"broken term"@en , "damaged term"@en , "残缺术语"@zh'), {BROKEN}),
        "no-label-at-all": (broken(labels=""), {BROKEN}),
    },
    "missing-or-extra-zh-definition": {
        "no-zh-definition": (broken(definitions='"A term made to break one rule."@en'), {BROKEN}),
        "two-zh-definitions": (
            broken(definitions='"A term made to break one rule."@en , "残缺的术语。"@zh , "破损的术语。"@zh'),
            {BROKEN},
        ),
    },
    "missing-or-extra-en-definition": {
        "no-en-definition": (broken(definitions='"为违反某条规则而造的术语。"@zh', kind="owl:ObjectProperty"), {BROKEN}),
        "two-en-definitions": (
            broken(definitions='"A broken term."@en , "A damaged term."@en , "为违反某条规则而造的术语。"@zh'),
            {BROKEN},
        ),
    },
    "zh-literal-without-chinese": {
        "latin-zh-label": (broken(labels='"broken term"@en , "patent"@zh'), {BROKEN}),
        "latin-zh-definition": (
            broken(definitions='"A term made to break one rule."@en , "A term made to break one rule."@zh'),
            {BROKEN},
        ),
        "latin-zh-scope-note": (broken(extra='skos:scopeNote "see sq:Matter"@zh'), {BROKEN}),
        "punctuation-only-zh-label": (broken(labels='"broken term"@en , "（）。"@zh'), {BROKEN}),
    },
    "label-on-two-terms": {
        "shared-zh-label": (broken(labels='"broken term"@en , "事项"@zh'), {BROKEN, MATTER}),
        "shared-en-label": (broken(labels='"matter"@en , "残缺术语"@zh', kind="owl:NamedIndividual"), {BROKEN, MATTER}),
    },
    "missing-is-defined-by": {
        "no-is-defined-by": (broken(defined_by=""), {BROKEN}),
        "defined-by-another-ontology": (broken(defined_by="<http://www.w3.org/ns/org#>"), {BROKEN}),
    },
    "english-label-capitalised": {
        "capital-first-letter": (broken(labels='"Broken term"@en , "残缺术语"@zh'), {BROKEN}),
        "capital-non-ascii-first-letter": (broken(labels='"Ébauche"@en , "残缺术语"@zh'), {BROKEN}),
    },
    "unversioned-ontology": {
        f"no-{prop.replace(':', '-')}": (
            header(without=prop) + MATTER_TERM,
            {ONTOLOGY_IRI},
        )
        for prop in ("owl:versionIRI", "owl:versionInfo", "dcterms:license", "dcterms:creator")
    },
    "non-ascii-iri": {
        "chinese-term-iri": (broken(iri="<https://w3id.org/shiquan/ontology#专利>"), {SQ + "专利"}),
        "accented-reference": (broken(extra="rdfs:subClassOf sq:Matière"), {SQ + "Matière"}),
    },
}


def rule_name(path: Path) -> str:
    return path.name.removesuffix("-violation.rq")


def run(rule: Path, graph: Graph) -> list[dict]:
    return [row.asdict() for row in graph.query(rule.read_text(encoding="utf-8"))]


def shown(rows: list[dict], graph: Graph) -> str:
    return "\n".join(
        "  " + ", ".join(f"?{name}={value.n3(graph.namespace_manager)}" for name, value in row.items()) for row in rows
    )


def parsed(turtle: str) -> Graph:
    graph = Graph()
    graph.parse(data=PREFIXES + turtle, format="turtle")
    return graph


@pytest.fixture(scope="module")
def ontology() -> Graph:
    graph = Graph()
    for path in sorted(ONTOLOGY.glob("*.ttl")):
        graph.parse(path, format="turtle")
    return graph


def test_every_broken_example_names_an_existing_rule():
    assert {rule_name(rule) for rule in RULES} >= set(EXAMPLES)


@pytest.mark.parametrize("rule", RULES, ids=rule_name)
def test_rule_states_itself_in_zh_and_en_on_first_line(rule):
    first = rule.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith("#") and "zh:" in first and "en:" in first, first


@pytest.mark.parametrize("rule", RULES, ids=rule_name)
def test_ontology_keeps_rule(rule, ontology):
    rows = run(rule, ontology)
    assert not rows, f"{rule.name} finds {len(rows)} violation(s) in ontology/:\n{shown(rows, ontology)}"


@pytest.mark.parametrize("rule", RULES, ids=rule_name)
def test_well_formed_term_keeps_rule(rule):
    graph = parsed(WELL_FORMED)
    rows = run(rule, graph)
    assert not rows, f"{rule.name} fires on a well-formed term:\n{shown(rows, graph)}"


@pytest.mark.parametrize(
    ("rule", "case"),
    [(rule, case) for rule in RULES for case in EXAMPLES.get(rule_name(rule), {None: None})],
    ids=lambda value: rule_name(value) if isinstance(value, Path) else str(value),
)
def test_rule_finds_its_violation(rule, case):
    assert case is not None, f"{rule.name} has no broken example in EXAMPLES, so nothing shows it can fail"
    turtle, offenders = EXAMPLES[rule_name(rule)][case]
    graph = parsed(turtle)
    rows = run(rule, graph)
    assert rows, f"{rule.name} finds nothing in its broken example {case!r}"
    assert {row["term"] for row in rows} == {URIRef(term) for term in offenders}, shown(rows, graph)
