"""The one label lookup (shiquan.labels): properties by preference, languages by preference, assignment names."""

from __future__ import annotations

import pytest
from rdflib import RDF, RDFS, Graph, Literal, URIRef
from rdflib.namespace import SKOS

from shiquan import labels
from shiquan.vocab import ID, SQ

ASSIGNMENT = ID["assignment/haidong-dongzhengban-2024-96/zhuanli-jiangli/county"]
MATTER = ID["matter/zhuanli-jiangli"]


def test_label_in_the_asked_language_wins_over_one_without_language():
    assert labels.pick({"": "plain", "zh": "专利奖励", "en": "patent awards"}, "en") == "patent awards"


def test_label_falls_back_to_no_language_then_chinese_then_english_then_the_fallback():
    assert labels.pick({"": "plain", "zh": "专利奖励"}, "en") == "plain"
    assert labels.pick({"zh": "专利奖励", "en": "patent awards"}, "fr") == "专利奖励"
    assert labels.pick({}, "zh", "sq:Plan") == "sq:Plan"


def test_languages_order_chinese_then_english_then_the_rest():
    assert sorted(["de", None, "en", "zh"], key=labels.lang_order)[:2] == ["zh", "en"]


def test_an_assignment_without_labels_is_named_by_matter_and_level_in_both_languages():
    data = Graph()
    data.add((ASSIGNMENT, RDF.type, SQ.Assignment))
    data.add((ASSIGNMENT, SQ.matter, MATTER))
    data.add((ASSIGNMENT, SQ.level, SQ.CountyLevel))
    for node, zh, en in ((MATTER, "专利奖励", "patent awards"), (SQ.CountyLevel, "县级", "county level")):
        data.add((node, RDFS.label, Literal(zh, lang="zh")))
        data.add((node, RDFS.label, Literal(en, lang="en")))
    assert labels.in_graph(data, ASSIGNMENT) == (Literal("专利奖励·县级", lang="zh"),
                                                  Literal("patent awards · county level", lang="en"))


def test_labels_come_property_by_property():
    data = Graph()
    node = URIRef("https://example.org/x")
    data.add((node, SKOS.prefLabel, Literal("preferred")))
    data.add((node, RDFS.label, Literal("label")))
    assert labels.in_graph(data, node) == (Literal("label"), Literal("preferred"))


def test_an_iri_sparql_cannot_carry_is_refused():
    with pytest.raises(ValueError, match="not an IRI"):
        labels.iri_ref("https://example.org/a b")
