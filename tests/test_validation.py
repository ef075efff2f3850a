import shutil

import pytest
from rdflib import SH, URIRef

from server import validation
from server.vocab import SQS

from .conftest import DATA


@pytest.fixture(scope="module")
def project_report(settings):
    return validation.validate_paths([], settings)


def test_project_data_conforms(project_report):
    assert project_report.conforms
    assert project_report.violations == []


def test_project_data_warns_only_that_the_provincial_plan_has_no_date(project_report):
    assert [(r.severity, r.source_shape, r.focus_node) for r in project_report.results] == [
        (SH.Warning, SQS["PlanShape-issuedStated"], URIRef("https://w3id.org/shiquan/id/plan/qinghai-qingzheng-2024-36"))
    ]


def test_second_payer_for_one_matter_and_level_is_a_violation_naming_both(settings, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    (data / "second-payer.ttl").write_text(
        "<https://w3id.org/shiquan/id/assignment/haidong-dongzhengban-2024-96/zhuanli-jiangli/county> "
        "<https://w3id.org/shiquan/ontology#payer> <https://w3id.org/shiquan/ontology#PrefecturalLevel> .\n",
        encoding="utf-8",
    )
    report = validation.validate_paths([str(data)], settings)
    assert not report.conforms
    rule = [r for r in report.violations if r.source_shape == SQS["PlanShape-onePayerPerMatterAndLevel"]]
    assert len(rule) == 1
    assert "专利奖励" in rule[0].message("zh") and "县级" in rule[0].message("zh")
    assert "patent awards" in rule[0].message("en") and "county level" in rule[0].message("en")


def test_validation_reads_the_given_files_only(settings):
    report = validation.validate_paths([str(DATA / "divisions.ttl")], settings)
    assert report.conforms and report.results == []
