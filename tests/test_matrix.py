"""The plan responsibility matrix from the core (shiquan.publish.matrix), without Flask, and `shiquan matrix`.

Expected cells come from the source text (data/sources/haidong-dongzhengban-2024-96.txt):
"市级专利奖励 … 确认为市级财政事权，由市级承担支出责任" and "县区级专利奖励 … 由县区承担支出责任",
both under 二、主要内容 （三）知识产权运用促进.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from shiquan.cli import main
from shiquan.errors import NotFound
from shiquan.publish import matrix
from shiquan.sparql import run
from shiquan.vocab import ID

from .conftest import HAIDONG_PLAN, SOURCE, normalised

PATENT_AWARDS = str(ID["matter/zhuanli-jiangli"])
SLUG = HAIDONG_PLAN.rsplit("/", 1)[1]


def source_line(phrase: str) -> str:
    """The one line of the source text that holds ``phrase``."""
    lines = [line for line in SOURCE.read_text(encoding="utf-8").splitlines() if phrase in line]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture(scope="module")
def select(kg):
    return lambda text: run.run(kg.store, text)


@pytest.fixture(scope="module")
def haidong(select) -> matrix.Matrix:
    return matrix.plan_matrix(select, HAIDONG_PLAN, "zh")


def patent_row(found: matrix.Matrix) -> matrix.Row:
    return next(row for group in found.groups for row in group.rows if row.iri == PATENT_AWARDS)


def test_matrix_module_loads_without_flask():
    code = "import sys, shiquan.publish.matrix; print('flask' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"


def test_haidong_matrix_divides_between_the_city_and_the_county_level(haidong):
    assert [column.label for column in haidong.columns] == ["市级", "县级"]


def test_matrix_names_levels_in_the_plans_own_words_with_the_label_beside(haidong):
    # The plan divides "市与县区" and rules "确认为县区财政事权": 县区, not 县级.
    assert [column.text for column in haidong.columns] == ["市（市级）", "县区（县级）"]


def test_matrix_rows_follow_the_order_of_the_text(haidong):
    # 二（一）: "市级制定实施全市知识产权战略、规划、政策,市级知识产权统计调查分析发布…"
    assert [row.label for row in haidong.groups[0].rows] == ["制定实施知识产权战略、规划、政策", "知识产权统计调查分析发布"]
    # 二（七）: the five matters ruled by subordination, then 市级职能部门及所属机构承担的事项
    assert [row.label for row in haidong.groups[-1].rows][0] == "知识产权人才队伍建设"
    assert [row.label for row in haidong.groups[-1].rows][-1] == "职能部门及所属机构承担的事项"


def test_matrix_cells_carry_subordination_and_interpretation_and_name_the_matter(haidong):
    row = next(row for row in haidong.groups[-1].rows if row.label == "知识产权人才队伍建设")
    city, county = row.cells
    assert city[0].by_subordination and not city[0].interpretation
    assert county[0].interpretation.startswith("解读") and "按照隶属关系" in county[0].hover
    assert county[0].hover.startswith("知识产权人才队伍建设：")


def test_patent_awards_sit_under_the_heading_of_their_section(haidong):
    heading = re.search(r"^（三）(\S+)$", SOURCE.read_text(encoding="utf-8"), flags=re.MULTILINE).group(1)
    group = next(group for group in haidong.groups if any(row.iri == PATENT_AWARDS for row in group.rows))
    assert group.label == heading == "知识产权运用促进"


def test_patent_awards_at_city_level_are_paid_by_the_city_as_the_source_says(haidong):
    city, _county = patent_row(haidong).cells
    assert [cell.payer for cell in city] == ["市（市级）"]
    assert normalised(city[0].quote) == normalised(source_line("市级专利奖励"))
    assert "由市级承担支出责任" in city[0].quote and city[0].section == "二（三）"


def test_patent_awards_at_county_level_are_paid_by_the_county_as_the_source_says(haidong):
    _city, county = patent_row(haidong).cells
    assert [cell.payer for cell in county] == ["县区（县级）"]
    assert normalised(county[0].quote) == normalised(source_line("县区级专利奖励"))
    assert "由县区承担支出责任" in county[0].quote and county[0].section == "二（三）"


def test_matrix_in_english_names_levels_and_matters_in_english(select):
    found = matrix.plan_matrix(select, HAIDONG_PLAN, "en")
    assert [column.label for column in found.columns] == ["prefectural level", "county level"]
    assert patent_row(found).label == "patent awards"


def test_matrix_of_what_is_no_plan_raises_not_found(select):
    with pytest.raises(NotFound, match="no plan"):
        matrix.plan_matrix(select, PATENT_AWARDS, "zh")


def test_matrix_csv_opens_as_excel_would_with_one_line_per_ruling(haidong):
    data = matrix.matrix_csv(haidong, "zh")
    assert data.startswith(b"\xef\xbb\xbf")  # the UTF-8 BOM, so that Excel reads UTF-8
    header, *rows = csv.reader(io.StringIO(data.decode("utf-8-sig")))
    assert header[:6] == ["方案", "文号", "条款", "类别", "事项", "层级（方案用语）"]
    county = next(r for r in rows if r[4] == "专利奖励" and r[5] == "县区")
    assert county[1] == "东政办〔2024〕96号" and county[2] == "二（三）" and county[header.index("支出责任")] == "县区（县级）"
    assert "县区级专利奖励" in county[header.index("原文")]
    assert len(rows) == 52


def test_matrix_command_prints_a_table_naming_who_pays_for_patent_awards():
    result = CliRunner().invoke(main, ["matrix", SLUG])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if "专利奖励" in line.split())
    assert line.split() == ["知识产权运用促进", "专利奖励", "市（市级）", "县区（县级）"]
    assert "东政办〔2024〕96号" in result.output.splitlines()[0]


def test_matrix_command_with_csv_prints_the_csv_of_the_plan_page():
    result = CliRunner().invoke(main, ["matrix", SLUG, "--csv", "--lang", "en"])
    assert result.exit_code == 0, result.output
    header, *rows = csv.reader(io.StringIO(result.stdout_bytes.decode("utf-8-sig")))
    assert header[:3] == ["plan", "document number", "section"]
    patent = next(r for r in rows if r[4] == "patent awards" and r[6] == "county level")
    assert "县区级专利奖励" in patent[header.index("quote")]


@pytest.mark.parametrize("slug", ["no-such-plan-2099-1", "Haidong"])
def test_matrix_command_for_an_unknown_plan_exits_2(slug):
    result = CliRunner().invoke(main, ["matrix", slug])
    assert result.exit_code == 2
    assert "no plan" in result.stderr
