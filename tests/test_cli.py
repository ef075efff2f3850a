"""The shiquan command: exit codes, reports and query output (STYLE §4: 0 ok, 1 violations, 2 unusable input)."""

import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from shiquan.cli import main

from .conftest import DATA, QUERIES

SECOND_PAYER = (
    "<https://w3id.org/shiquan/id/assignment/haidong-dongzhengban-2024-96/zhuanli-jiangli/county> "
    "<https://w3id.org/shiquan/ontology#payer> <https://w3id.org/shiquan/ontology#PrefecturalLevel> .\n"
)


@pytest.fixture()
def runner():
    return CliRunner()


@pytest.fixture()
def data_with_second_payer(tmp_path):
    data = tmp_path / "data"
    shutil.copytree(DATA, data)
    (data / "second-payer.nt").write_text(SECOND_PAYER, encoding="utf-8")
    return data


def test_validate_project_data_exits_0(runner):
    result = runner.invoke(main, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Conforms: 1 warning.")


def test_validate_second_payer_exits_1_naming_matter_and_level(runner, data_with_second_payer):
    result = runner.invoke(main, ["validate", str(data_with_second_payer)])
    assert result.exit_code == 1
    assert "Does not conform" in result.output
    assert "sqs:PlanShape-onePayerPerMatterAndLevel" in result.output
    assert "“patent awards” has more than one payer at the level “county level”" in result.output


def test_validate_in_chinese_names_matter_and_level_in_chinese(runner, data_with_second_payer):
    result = runner.invoke(main, ["validate", "--lang", "zh", str(data_with_second_payer)])
    assert result.exit_code == 1
    assert "事项“专利奖励”在“县级”层级有不止一个支出责任承担者" in result.output
    assert "专利奖励·县级" in result.output  # the focus assignment named by its matter and level


def test_validate_json_output_lists_results(runner, data_with_second_payer):
    result = runner.invoke(main, ["validate", "--output", "json", str(data_with_second_payer)])
    assert result.exit_code == 1
    doc = json.loads(result.output)
    assert doc["conforms"] is False and doc["violations"] >= 1
    assert {r["sourceShape"].rsplit("#")[1] for r in doc["results"]} >= {"PlanShape-onePayerPerMatterAndLevel"}
    assert all({"zh", "en"} <= set(r["messages"]) for r in doc["results"])


def test_validate_turtle_output_is_a_shacl_report(runner):
    result = runner.invoke(main, ["validate", "--output", "turtle", str(DATA / "divisions.ttl")])
    assert result.exit_code == 0
    assert "sh:ValidationReport" in result.output and "sh:conforms true" in result.output


def test_validate_unparseable_file_exits_2_with_file_and_line(runner, tmp_path):
    bad = tmp_path / "bad.ttl"
    bad.write_text(
        "@prefix sq: <https://w3id.org/shiquan/ontology#> .\n\n<https://w3id.org/shiquan/id/matter/a> sq:b .\n"
        "<https://w3id.org/shiquan/id/matter/a> sq:b sq:c .\n",
        encoding="utf-8",
    )
    result = runner.invoke(main, ["validate", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}:3: syntax error" in result.output


def test_validate_with_format_option_reads_other_extensions(runner, tmp_path):
    path = tmp_path / "divisions.txt"
    path.write_bytes((DATA / "divisions.ttl").read_bytes())
    result = runner.invoke(main, ["validate", "--format", "turtle", str(path)])
    assert result.exit_code == 0, result.output


def test_validate_missing_file_exits_2(runner, tmp_path):
    result = runner.invoke(main, ["validate", str(tmp_path / "none.ttl")])
    assert result.exit_code == 2 and "no such file or folder" in result.output


def test_query_prints_a_table(runner):
    result = runner.invoke(main, ["query", str(QUERIES / "06-divisions-under-haidong.rq")])
    assert result.exit_code == 0
    assert "630202" in result.output and "(6 rows)" in result.output


def test_query_reads_standard_input_and_writes_csv(runner):
    text = "PREFIX sq: <https://w3id.org/shiquan/ontology#> SELECT ?code WHERE { ?d sq:divisionCode ?code } ORDER BY ?code LIMIT 2"
    result = runner.invoke(main, ["query", "-", "--output", "csv"], input=text)
    assert result.exit_code == 0
    assert result.stdout_bytes == b"code\r\n630000\r\n630200\r\n"


def test_query_json_output_is_sparql_results_json(runner):
    result = runner.invoke(main, ["query", str(QUERIES / "04-plan-chain.rq"), "--output", "json"])
    doc = json.loads(result.output)
    assert [b["documentNumber"]["value"] for b in doc["results"]["bindings"]] == ["青政〔2024〕36号", "国办发〔2023〕48号"]


def test_query_syntax_error_exits_2_with_position(runner):
    result = runner.invoke(main, ["query", "-"], input="SELECT * WHERE { ?s ?p }")
    assert result.exit_code == 2 and "SPARQL syntax error: error at 1:" in result.output


def test_query_update_is_refused(runner):
    result = runner.invoke(main, ["query", "-"], input="DELETE WHERE { ?s ?p ?o }")
    assert result.exit_code == 2 and "read-only" in result.output


def test_query_output_that_cannot_carry_the_answer_exits_2(runner):
    result = runner.invoke(main, ["query", "-", "--output", "turtle"], input="ASK { ?s ?p ?o }")
    assert result.exit_code == 2 and "cannot carry a boolean answer" in result.output


def test_installed_console_script_runs():
    result = subprocess.run(
        [sys.executable, "-m", "shiquan.cli", "query", str(QUERIES / "04-plan-chain.rq"), "--output", "tsv"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "国办发〔2023〕48号" in result.stdout


def test_serve_refuses_data_that_violates_the_shapes_naming_the_file(runner, data_with_second_payer):
    result = runner.invoke(main, ["serve", "--port", "0", "--data", str(data_with_second_payer)])
    assert result.exit_code == 2
    assert "refused to load" in result.output and "haidong-dongzhengban-2024-96.ttl" in result.output
    assert "second-payer.nt" in result.output and "--no-validate" in result.output


def test_export_writes_nquads_with_graph_names(runner, tmp_path):
    import pyoxigraph as ox

    out = tmp_path / "shiquan.nq"
    result = runner.invoke(main, ["export", "--format", "nquads", "-o", str(out)])
    assert result.exit_code == 0, result.output
    graphs = {q.graph_name.value for q in ox.parse(out.read_bytes(), format=ox.RdfFormat.N_QUADS)}
    assert "https://w3id.org/shiquan/graph/haidong-dongzhengban-2024-96" in graphs and len(graphs) == 8


PLANS = QUERIES.parent / "tests" / "fixtures" / "plans"


def test_extract_writes_turtle_that_validates_with_the_registers(runner, tmp_path):
    out = tmp_path / "haidong.ttl"
    result = runner.invoke(main, ["extract", str(DATA / "sources" / "haidong-dongzhengban-2024-96.txt"), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "52 assignments" in result.output
    others = [str(DATA / f) for f in ("matters.ttl", "divisions.ttl", "bodies.ttl", "qinghai-qingzheng-2024-36.ttl", "china-guobanfa-2023-48.ttl")]
    check = runner.invoke(main, ["validate", str(out), *others])
    assert check.exit_code == 0, check.output


def test_extract_strict_exits_1_and_lists_uncovered_sentences(runner, tmp_path):
    plan = PLANS / "jiangbin-jiangzhengban-2025-4.txt"
    loose = runner.invoke(main, ["extract", str(plan), "-o", str(tmp_path / "a.ttl")])
    assert loose.exit_code == 0 and f"{plan}:" in loose.output and "no assignment" in loose.output
    strict = runner.invoke(main, ["extract", "--strict", str(plan), "-o", str(tmp_path / "b.ttl")])
    assert strict.exit_code == 1


def test_extract_text_that_is_no_plan_exits_2(runner, tmp_path):
    result = runner.invoke(main, ["extract", str(PLANS / "not-a-plan.txt"), "-o", str(tmp_path / "x.ttl")])
    assert result.exit_code == 2 and "shiquan:" in result.output
    assert not (tmp_path / "x.ttl").exists()


def test_extract_missing_file_exits_2(runner, tmp_path):
    result = runner.invoke(main, ["extract", str(tmp_path / "none.txt")])
    assert result.exit_code == 2 and "cannot read" in result.output


def test_extract_many_texts_into_a_folder_with_progress(runner, tmp_path):
    texts = [PLANS / "jiangbin-jiangzhengban-2025-4.txt", PLANS / "not-a-plan.txt", PLANS / "chengshui-chengzhengban-2025-21.txt"]
    out = tmp_path / "out"
    result = runner.invoke(main, ["extract", *map(str, texts), "-o", str(out), "--progress"])
    assert result.exit_code == 2, result.output  # the text that is no plan is reported, the others written
    assert sorted(p.name for p in out.iterdir()) == ["chengshui-chengzhengban-2025-21.ttl", "jiangbin-jiangzhengban-2025-4.ttl"]
    assert "extracting plans: 3 to do" in result.output and "extracting plans: done in" in result.output
    assert f"{PLANS / 'not-a-plan.txt'}" in result.output


def test_extract_many_texts_needs_a_folder(runner, tmp_path):
    texts = [PLANS / "jiangbin-jiangzhengban-2025-4.txt", PLANS / "chengshui-chengzhengban-2025-21.txt"]
    result = runner.invoke(main, ["extract", *map(str, texts)])
    assert result.exit_code == 2 and "give -o a folder" in result.output


def test_validate_shows_progress_by_stage_when_asked(runner):
    result = runner.invoke(main, ["validate", "--progress"])
    assert result.exit_code == 0, result.output
    for stage in ("loading files", "inferring"):
        assert f"{stage}: done in" in result.output


def test_validate_engines_agree_on_the_projects_data(runner):
    sparql = runner.invoke(main, ["validate", "--output", "json"])
    reference = runner.invoke(main, ["validate", "--output", "json", "--engine", "pyshacl"])
    assert sparql.exit_code == reference.exit_code == 0
    assert json.loads(sparql.stdout) == json.loads(reference.stdout)


def test_serve_refuses_a_file_with_bad_syntax_naming_file_and_line(runner, tmp_path):
    # The keeper, started before the web layer is imported, still refuses the file before the server answers.
    bad = tmp_path / "bad.nt"
    bad.write_text('<https://w3id.org/shiquan/id/matter/a> <http://www.w3.org/2000/01/rdf-schema#label> "a" .\n'
                   "<https://w3id.org/shiquan/id/matter/b c> <http://www.w3.org/2000/01/rdf-schema#label> \"b\" .\n",
                   encoding="utf-8")
    result = runner.invoke(main, ["serve", "--port", "0", "--data", str(bad)])
    assert result.exit_code == 2
    assert "bad.nt" in result.output and ":2" in result.output
