"""Compare plans, the plans index and the tables to take away (shiquan.publish.compare, plans, tables), the
/plans, /compare and /download/rulings routes (over a real socket) and `shiquan plans` / `shiquan compare`.

Expected differences are those written by hand in tests/fixtures/compare/test-plans.ttl (its header lists them);
the Haidong rulings they are set against come from the source text (data/sources/haidong-dongzhengban-2024-96.txt):
52 assignments, 26 matters at the city and county levels.
"""

from __future__ import annotations

import csv
import io
import json
import urllib.request
from collections import Counter

import pytest
from click.testing import CliRunner
from rdflib import Graph

from shiquan import config
from shiquan.cli import main
from shiquan.errors import BadRequest, NotFound
from shiquan.graph import loading
from shiquan.publish import compare, plans, rulings, tables
from shiquan.sparql import run

from .conftest import DATA, FIXTURES, QUERIES, app_with, serving

TEST_PLANS = FIXTURES / "compare" / "test-plans.ttl"
HAIDONG, PARENT, ONE, TWO = "haidong-dongzhengban-2024-96", "qinghai-qingzheng-2024-36", "ceshi-bijiao-2025-1", "ceshi-bijiao-2025-2"
SQ = "https://w3id.org/shiquan/ontology#"
CITY, COUNTY = SQ + "PrefecturalLevel", SQ + "CountyLevel"
ID = "https://w3id.org/shiquan/id/"
# The differences of plan 1 from Haidong, by hand (the fixture's header).
BY_HAND = {
    (ID + "matter/zhuanli-jiangli", COUNTY): ["payer"],
    (ID + "matter/dui-zhongdian-chanye-fazhan-kaizhan-zhuanli-daohang", CITY): ["exclusive_shared"],
    (ID + "matter/zhishichanquan-rencai-duiwu-jianshe", CITY): ["subordination"],
    (ID + "matter/ceshi-shixiang", CITY): ["only"],
    (ID + "matter/zhuanli-jiangli", CITY): [],
}
DATA_PATHS = [str(DATA), str(TEST_PLANS)]


@pytest.fixture(scope="module")
def select():
    kg = loading.build_store(config.settings({"DATA_PATHS": DATA_PATHS}))
    return lambda text: run.run(kg.store, text)


def haidong_cells() -> set[tuple[str, str]]:
    """The (matter, level) of every Haidong assignment, read from the data file with rdflib."""
    graph = Graph().parse(DATA / "haidong-dongzhengban-2024-96.ttl")
    found = graph.query("""PREFIX sq: <https://w3id.org/shiquan/ontology#>
        SELECT ?m ?l WHERE { ?a sq:matter ?m ; sq:level ?l }""")
    return {(str(m), str(level)) for m, level in found}


def classes(found: compare.Comparison) -> dict[tuple[str, str], list[str]]:
    return {(row.matter, cell.level): cell.classes for row in found.rows for cell in row.cells if any(cell.rulings)}


def test_comparison_with_the_test_plan_finds_exactly_the_differences_written_by_hand(select):
    found = classes(compare.compare(select, [HAIDONG, ONE], "zh"))
    expected = {cell: ["only"] for cell in haidong_cells()} | BY_HAND
    assert len(haidong_cells()) == 52
    assert found == expected


def test_counts_per_class_match_the_differences_written_by_hand(select):
    found = compare.compare(select, [HAIDONG, ONE], "zh")
    assert found.totals == Counter({"only": 52 - 4 + 1, "payer": 1, "exclusive_shared": 1, "subordination": 1})
    assert found.counts["知识产权运用促进"]["payer"] == 1


def test_two_shared_rulings_with_other_shares_differ_in_shares(select):
    found = classes(compare.compare(select, [ONE, TWO], "zh"))
    assert found[(ID + "matter/dui-zhongdian-chanye-fazhan-kaizhan-zhuanli-daohang", CITY)] == ["shares"]
    assert found[(ID + "matter/zhuanli-jiangli", CITY)] == []


def test_a_plan_without_rulings_cannot_be_compared_and_says_why(select):
    found = compare.compare(select, [HAIDONG, PARENT], "zh")
    assert not found.compared and found.rows == [] and not found.totals
    assert [p.slug for p in found.left_out] == [PARENT]
    assert "无法比较" in found.left_out[0].reason and "原文" in found.left_out[0].reason


def test_comparing_one_plan_or_an_unknown_plan_is_refused(select):
    with pytest.raises(BadRequest, match="at least two plans"):
        compare.compare(select, [HAIDONG], "zh")
    with pytest.raises(NotFound, match="no plan 'wu-wu-1'"):
        compare.compare(select, [HAIDONG, "wu-wu-1"], "zh")


def test_plans_index_says_which_plans_have_rulings_and_why_the_others_have_none(select):
    found = {e.slug: e for e in plans.index(select, "zh")}
    assert found[HAIDONG].status == "recorded" and found[HAIDONG].rulings == 52
    assert found[HAIDONG].number == "东政办〔2024〕96号" and found[HAIDONG].level_pair == "市与县区"
    assert found[HAIDONG].parent_number == "青政〔2024〕36号"
    for slug in (PARENT, "china-guobanfa-2023-48"):
        assert found[slug].status == "none" and found[slug].rulings == 0
        assert "未收录该方案原文" in found[slug].reason


def test_rulings_follow_the_plans_order_and_name_levels_in_its_words(select):
    found = rulings.read(select, [ID + "plan/" + HAIDONG], "zh")
    first = [r.matter_label for r in found if r.section == "二（一）" and r.level == CITY]
    # 二（一）: "市级制定实施全市知识产权战略、规划、政策,市级知识产权统计调查分析发布…"
    assert first == ["制定实施知识产权战略、规划、政策", "知识产权统计调查分析发布"]
    county = next(r for r in found if r.level == COUNTY)
    assert county.level_words == "县区" and county.level_text == "县区（县级）"


def test_the_five_county_cells_of_section_seven_carry_the_interpretation(select):
    found = rulings.read(select, [ID + "plan/" + HAIDONG], "zh")
    flagged = {r.matter_label for r in found if r.interpretation}
    assert len(flagged) == 5 and all(r.level == COUNTY and r.section == "二（七）" for r in found if r.interpretation)
    assert {r.matter_label for r in found if r.by_subordination and r.level == CITY} == flagged


def test_rulings_csv_opens_as_excel_would_with_a_bom_and_shares_as_numbers(select):
    found = list(rulings.stream(select, "zh"))
    data = tables.csv_bytes(tables.ruling_header("zh"), (tables.ruling_line(r, "zh") for r in found))
    assert data.startswith(b"\xef\xbb\xbf")
    header, *lines = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert header[:5] == ["方案", "文号", "条款", "类别", "事项"]
    shared = next(line for line in lines if line[header.index("份额1（%）")])
    assert (shared[header.index("份额1层级")], shared[header.index("份额1（%）")]) == ("市", "60")
    assert len(lines) == 52 + 5 + 2


def test_rulings_xlsx_opens_with_openpyxl_and_keeps_numbers(select):
    from openpyxl import load_workbook

    found = list(rulings.stream(select, "en"))
    data = tables.xlsx_bytes([("rulings", tables.ruling_header("en"), [tables.ruling_line(r, "en") for r in found])])
    sheet = load_workbook(io.BytesIO(data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][1] == "document number"
    assert sorted(r[10] for r in rows[1:] if r[10] is not None) == [60, 70]


def test_example_query_12_finds_the_same_differences_as_the_comparison(select):
    text = (QUERIES / "12-compare-two-plans.rq").read_text(encoding="utf-8")
    answer = run.run(_store(), text.replace("plan/qinghai-qingzheng-2024-36", "plan/" + ONE))
    index = answer.variables.index("difference")
    assert Counter(row[index].value for row in answer.rows) == Counter(
        {"only A": 48, "only B": 1, "payer differs": 1, "exclusive vs shared": 1, "by subordination in one": 1, "same": 1})


_STORE = {}


def _store():
    if "kg" not in _STORE:
        _STORE["kg"] = loading.build_store(config.settings({"DATA_PATHS": DATA_PATHS}))
    return _STORE["kg"].store


@pytest.fixture(scope="module")
def site():
    with app_with(DATA_PATHS=DATA_PATHS, WORKERS=1) as app, serving(app, threads=4) as url:
        yield url


def fetch(url: str, accept: str | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers["Content-Type"], response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers["Content-Type"], exc.read()


def test_compare_over_http_gives_json_by_accept_with_the_classes(site):
    status, media_type, body = fetch(f"{site}/compare?plan={HAIDONG}&plan={ONE}", "application/json")
    assert status == 200 and media_type.startswith("application/json")
    assert json.loads(body)["totals"] == {"only": 49, "payer": 1, "exclusive_shared": 1, "subordination": 1}


def test_compare_over_http_as_csv_has_a_bom_and_one_line_per_cell(site):
    status, media_type, body = fetch(f"{site}/compare?plan={HAIDONG}&plan={ONE}&format=csv")
    assert status == 200 and media_type.startswith("text/csv") and body.startswith(b"\xef\xbb\xbf")
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert len(lines) == 1 + 52 + 1
    assert sum("支出责任承担方不同" in line[-1] for line in lines) == 1


def test_compare_with_one_plan_over_http_is_a_400_with_a_message(site):
    status, _, body = fetch(f"{site}/compare?plan={HAIDONG}", "application/json")
    assert status == 400 and "at least two plans" in json.loads(body)["message"]


def test_plans_page_over_http_lists_every_plan_with_its_status(site):
    status, _, body = fetch(f"{site}/plans", "text/html")
    page = body.decode("utf-8")
    assert status == 200 and "东政办〔2024〕96号" in page and "已录入划分" in page and "未收录该方案原文" in page


def test_all_rulings_csv_over_http_streams_every_ruling(site):
    status, _, body = fetch(f"{site}/download/rulings.csv")
    lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert status == 200 and body.startswith(b"\xef\xbb\xbf") and len(lines) == 1 + 52 + 5 + 2


def test_shiquan_compare_writes_csv_and_refuses_one_plan(tmp_path):
    runner = CliRunner()
    out = tmp_path / "c.csv"
    data = [a for p in DATA_PATHS for a in ("--data", p)]
    result = runner.invoke(main, ["compare", HAIDONG, ONE, "--format", "csv", "-o", str(out), *data])
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    result = runner.invoke(main, ["compare", HAIDONG, "wu-wu-1", *data])
    assert result.exit_code == 2 and "wu-wu-1" in result.output


def test_shiquan_compare_with_a_plan_without_rulings_says_it_cannot_compare():
    result = CliRunner().invoke(main, ["compare", HAIDONG, PARENT])
    assert result.exit_code == 0 and "无法比较" in result.output and "仅一方" not in result.output


def test_shiquan_plans_lists_the_statuses():
    result = CliRunner().invoke(main, ["plans"])
    assert result.exit_code == 0 and "东政办〔2024〕96号" in result.output and "未录入划分" in result.output


def test_an_extracted_plan_is_listed_as_extracted_not_reviewed(tmp_path):
    text = (FIXTURES / "plans" / "yangli-yangzhengban-2024-12.txt")
    out = tmp_path / "plan.ttl"
    result = CliRunner().invoke(main, ["extract", str(text), "-o", str(out)])
    assert result.exit_code in (0, 1), result.output
    kg = loading.build_store(config.settings({"DATA_PATHS": [str(DATA), str(out)], "VALIDATE_ON_LOAD": False}))
    found = [e for e in plans.index(lambda t: run.run(kg.store, t), "en") if e.reviewed is False]
    assert len(found) == 1 and found[0].status == "unreviewed" and found[0].status_text == "extracted, not reviewed"
