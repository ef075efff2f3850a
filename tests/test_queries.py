"""Every example query in queries/ gives the answer it must give (STYLE §9).

Expected answers come from the source text and hand-checked facts: the matter lists of
test_data.EXPECTED (checked there against the source), the GB/T 2260 codes, the document numbers.
"""

from __future__ import annotations

import re
from collections import Counter

import pytest

from shiquan.sparql import run as query

from .conftest import QUERIES
from .test_data import CITY, COUNTY, EXPECTED

SQ = "https://w3id.org/shiquan/ontology#"
CITY_IRI, COUNTY_IRI = str(CITY), str(COUNTY)
HAIDONG_COUNTIES = ["乐都区", "平安区", "民和回族土族自治县", "互助土族自治县", "化隆回族自治县", "循化撒拉族自治县"]
# Matters per category of 二、主要内容, counted by hand in the source (the same at both levels).
MATTERS_PER_CATEGORY = {1: 2, 2: 1, 3: 6, 4: 6, 5: 4, 6: 1, 7: 6}
SUBORDINATE = {label for (_, _, _, label, by_subordination, _) in EXPECTED if by_subordination}


def values(answer: query.Answer, name: str) -> list[str]:
    index = answer.variables.index(name)
    return [row[index].value if row[index] is not None else None for row in answer.rows]


def rows(answer: query.Answer) -> list[dict[str, str]]:
    return [{n: (t.value if t is not None else None) for n, t in zip(answer.variables, row)} for row in answer.rows]


def check_payer_per_level(answer):
    assert values(answer, "level") == [CITY_IRI, COUNTY_IRI]
    for row, words in zip(rows(answer), ("由市级承担支出责任", "由县区承担支出责任")):
        assert row["holderLabel"] == row["payerLabel"] == row["levelLabel"]
        assert "专利奖励" in row["quote"] and words in row["quote"]


def check_county_matters(answer):
    labels = values(answer, "label")
    assert len(labels) == len(set(labels))
    assert set(labels) == {label for (_, level, _, label, _, _) in EXPECTED if level == COUNTY}
    assert values(answer, "section")[0] == "二（一）" and values(answer, "section")[-1] == "二（七）"


def check_matters_per_category(answer):
    found = {(int(r["order"]), r["level"]): int(r["matters"]) for r in rows(answer)}
    expected = {(n, level): count for n, count in MATTERS_PER_CATEGORY.items() for level in (CITY_IRI, COUNTY_IRI)}
    assert found == expected


def check_plan_chain(answer):
    assert values(answer, "documentNumber") == ["青政〔2024〕36号", "国办发〔2023〕48号"]
    assert values(answer, "levelPair") == ["省与市（州）县", "中央与地方"]


def check_protection_quotes(answer):
    protection = {label for (number, _, _, label, _, _) in EXPECTED if number == 4}
    assert Counter(values(answer, "label")) == {label: 2 for label in protection}
    for row in rows(answer):
        assert row["label"] in row["quote"]


def check_divisions_under_haidong(answer):
    assert values(answer, "code") == ["630202", "630203", "630222", "630223", "630224", "630225"]
    assert set(values(answer, "label")) == set(HAIDONG_COUNTIES)


def check_describe_plan(answer):
    plan = "https://w3id.org/shiquan/id/plan/haidong-dongzhengban-2024-96"
    facts = {(t.predicate.value, t.object.value) for t in answer.triples if t.subject.value == plan}
    assert (SQ + "documentNumber", "东政办〔2024〕96号") in facts
    assert ("http://purl.org/dc/terms/issued", "2024-12-31") in facts
    assert (SQ + "basedOn", "https://w3id.org/shiquan/id/plan/qinghai-qingzheng-2024-36") in facts
    assert (SQ + "basedOn", "https://w3id.org/shiquan/id/plan/china-guobanfa-2023-48") in facts


def check_divisions_without_plan(answer):
    assert sorted(values(answer, "label")) == sorted(HAIDONG_COUNTIES)


def check_rulings_by_subordination(answer):
    found = {(r["label"], r["levelLabel"], r["interpretation"]) for r in rows(answer)}
    expected = {(label, "县级", "true") for label in SUBORDINATE} | {(label, "市级", "false") for label in SUBORDINATE}
    assert found == expected and len(SUBORDINATE) == 5


def check_eli_legal_resources(answer):
    assert Counter(values(answer, "number")) == {"东政办〔2024〕96号": 2, "青政〔2024〕36号": 2, "国办发〔2023〕48号": 1}
    assert "国务院办公厅" in values(answer, "passedBy")


def check_plan_versus_parent(answer):
    # The parent plan's text is not in our sources, so it holds no rulings: everything is the city plan's alone.
    found = {(int(r["order"]), r["direction"]): int(r["matters"]) for r in rows(answer)}
    assert found == {(n, "plan only"): count for n, count in MATTERS_PER_CATEGORY.items()}
    labels = {label for r in rows(answer) for label in r["labels"].split(" | ")}
    assert labels == {label for (_, _, _, label, _, _) in EXPECTED}


def check_compare_two_plans(answer):
    # The parent plan's text is not held, so it has no rulings: the query says it cannot compare, never "only A".
    assert values(answer, "difference") == ["cannot compare: 青政〔2024〕36号 has no rulings in the graph"]


EXPECTED_ANSWERS = {
    "01-payer-per-level.rq": check_payer_per_level,
    "02-county-level-matters.rq": check_county_matters,
    "03-matters-per-category.rq": check_matters_per_category,
    "04-plan-chain.rq": check_plan_chain,
    "05-protection-matters-with-quotes.rq": check_protection_quotes,
    "06-divisions-under-haidong.rq": check_divisions_under_haidong,
    "07-describe-plan.rq": check_describe_plan,
    "08-divisions-without-plan.rq": check_divisions_without_plan,
    "09-rulings-by-subordination.rq": check_rulings_by_subordination,
    "10-eli-legal-resources.rq": check_eli_legal_resources,
    "11-plan-versus-parent.rq": check_plan_versus_parent,
    "12-compare-two-plans.rq": check_compare_two_plans,
}
QUERY_FILES = sorted(p.name for p in QUERIES.glob("*.rq"))


@pytest.mark.parametrize("name", QUERY_FILES)
def test_example_query_gives_its_expected_answer(kg, name):
    assert name in EXPECTED_ANSWERS, f"{name} has no expected answer in tests/test_queries.py"
    EXPECTED_ANSWERS[name](query.run(kg.store, (QUERIES / name).read_text(encoding="utf-8")))


@pytest.mark.parametrize("name", QUERY_FILES)
def test_example_query_opens_with_its_question_in_both_languages(name):
    lines = (QUERIES / name).read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("# en: ") and lines[1].startswith("# zh: ")


@pytest.mark.parametrize("name", QUERY_FILES)
def test_example_query_declares_every_prefix_it_uses(name):
    text = (QUERIES / name).read_text(encoding="utf-8")
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    declared = set(re.findall(r"PREFIX\s+(\w*):", body))
    used = set(re.findall(r"(?<![\w<#/])([a-z]+):[A-Za-z_]", re.sub(r"<[^>]*>|\"[^\"]*\"", "", body)))
    assert used <= declared


@pytest.mark.parametrize("name", QUERY_FILES)
def test_readme_lists_the_example_query(name):
    assert f"(queries/{name})" in (QUERIES.parent / "README.md").read_text(encoding="utf-8")


def test_there_are_at_least_eight_example_queries():
    assert len(QUERY_FILES) >= 8
