import shutil

import pytest
from rdflib import SH, URIRef

from shiquan.graph import loading
from shiquan.graph import validation
from shiquan.errors import BadInput
from shiquan.vocab import SQS

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


# Start-up checks of a loaded store, and the verdicts kept between runs.


def test_a_conforming_store_is_checked_once_and_its_verdict_kept(settings, tmp_path):
    mine = {**settings, "VALIDATED_DIR": str(tmp_path / "verdicts")}
    kg = loading.build_store(mine)
    first = validation.refuse_invalid_store(kg, mine)
    assert first is not None and first.conforms
    assert len(list((tmp_path / "verdicts").iterdir())) == 1
    assert validation.refuse_invalid_store(kg, mine) is None  # kept: not checked again


def test_a_changed_shape_asks_for_a_new_check(settings, tmp_path):
    import shutil

    shapes = tmp_path / "shapes"
    shutil.copytree(settings["SHAPES_DIR"], shapes)
    mine = {**settings, "VALIDATED_DIR": str(tmp_path / "verdicts"), "SHAPES_DIR": str(shapes)}
    kg = loading.build_store(mine)
    assert validation.refuse_invalid_store(kg, mine) is not None
    extra = shapes / "plan.ttl"
    extra.write_text(extra.read_text(encoding="utf-8") + "\n# a comment changes the bytes\n", encoding="utf-8")
    validation._schema.cache_clear()
    assert validation.refuse_invalid_store(kg, mine) is not None
    assert len(list((tmp_path / "verdicts").iterdir())) == 2


def test_no_verdict_is_kept_when_the_folder_is_empty_string(settings, tmp_path):
    mine = {**settings, "VALIDATED_DIR": ""}
    kg = loading.build_store(mine)
    assert validation.refuse_invalid_store(kg, mine) is not None
    assert validation.refuse_invalid_store(kg, mine) is not None


def test_a_violating_store_is_refused_naming_its_files_and_no_verdict_is_kept(settings, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(settings["DATA_PATHS"][0], data)
    second = (
        "<https://w3id.org/shiquan/id/assignment/haidong-dongzhengban-2024-96/zhuanli-jiangli/city> "
        "<https://w3id.org/shiquan/ontology#payer> <https://w3id.org/shiquan/ontology#CountyLevel> .\n"
    )
    (data / "second-payer.nt").write_text(second, encoding="utf-8")
    mine = {**settings, "DATA_PATHS": [str(data)], "VALIDATED_DIR": str(tmp_path / "verdicts")}
    kg = loading.build_store(mine)
    with pytest.raises(BadInput, match="refused to load") as caught:
        validation.refuse_invalid_store(kg, mine)
    assert "second-payer.nt" in str(caught.value) and "haidong-dongzhengban-2024-96.ttl" in str(caught.value)
    assert not (tmp_path / "verdicts").exists() or not list((tmp_path / "verdicts").iterdir())


def test_validate_on_the_command_line_keeps_the_verdict_serve_then_uses(settings, tmp_path):
    from click.testing import CliRunner

    from shiquan.cli import main

    folder = tmp_path / "verdicts"
    result = CliRunner().invoke(main, ["validate"], env={"SHIQUAN_VALIDATED_DIR": str(folder)})
    assert result.exit_code == 0, result.output
    mine = {**settings, "VALIDATED_DIR": str(folder)}
    assert validation.refuse_invalid_store(loading.build_store(mine), mine) is None
