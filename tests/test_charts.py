"""The charts' data (publish/charts.py), the pinned ECharts build and the pages without it. Expected counts come
from the Haidong source text (26 matters in 二、主要内容, each ruled for the city and for the counties) and from
the hand-written test plans (tests/fixtures/compare/test-plans.ttl, whose header lists their differences)."""

from __future__ import annotations

import pytest

from shiquan.errors import ShiquanError
from shiquan.publish import charts, compare, matrix
from shiquan.web import assets

from .conftest import DATA, FIXTURES, app_with

HAIDONG = "https://w3id.org/shiquan/id/plan/haidong-dongzhengban-2024-96"


@pytest.fixture(scope="module")
def answer():
    with app_with(DATA_PATHS=[str(DATA), str(FIXTURES / "compare" / "test-plans.ttl")]) as app:
        yield app.extensions["shiquan"].answer


def test_a_plans_charts_count_each_ruling_once_by_category_level_and_payer(answer):
    drawn = charts.plan_charts(matrix.plan_matrix(answer, HAIDONG, "zh"), "zh")
    levels = drawn["levels"]
    assert levels["categories"][0] == "知识产权宏观管理" and len(levels["categories"]) == 7
    assert [s["name"] for s in levels["series"]] == ["市（市级）", "县区（县级）"]
    assert [sum(s["data"]) for s in levels["series"]] == [26, 26]
    assert drawn["payers"]["data"] == [{"name": "市（市级）", "value": 26}, {"name": "县区（县级）", "value": 26}]


def test_a_comparisons_chart_counts_agreement_and_each_class(answer):
    found = compare.compare(answer, ["haidong-dongzhengban-2024-96", "ceshi-bijiao-2025-1"], "en")
    series = {s["key"]: sum(s["data"]) for s in charts.compare_chart(found, "en")["classes"]["series"]}
    assert series == {"same": 1, "only": 49, "payer": 1, "exclusive_shared": 1, "shares": 0, "subordination": 1}


def test_echarts_is_pinned_with_its_integrity_hash():
    assert assets.ECHARTS["tarball"] == f"https://registry.npmjs.org/echarts/-/echarts-{assets.ECHARTS['version']}.tgz"
    assert assets.ECHARTS["integrity"].startswith("sha512-") and assets.ECHARTS in assets.PACKAGES
    with pytest.raises(ShiquanError, match="does not match its pinned sha512 integrity hash"):
        assets._check_integrity(b"not the tarball", assets.ECHARTS)


def test_without_echarts_the_page_says_so_and_keeps_its_tables(tmp_path):
    with app_with(ASSETS_DIR=str(tmp_path)) as app:
        html = app.test_client().get("/plans/haidong-dongzhengban-2024-96").get_data(as_text=True)
        missing = app.test_client().get("/assets/echarts/echarts.min.js")
    assert 'id="charts-unavailable"' in html and 'id="matrix"' in html and "echarts.min.js" not in html
    assert missing.status_code == 404 and "shiquan assets" in missing.get_json()["message"]


def test_only_the_echarts_build_is_served(tmp_path):
    folder = assets.assets_dir({"ASSETS_DIR": str(tmp_path)}, assets.ECHARTS)
    folder.mkdir(parents=True)
    (folder / "echarts.min.js").write_text("/* stand-in for the ECharts build */")
    (folder / "package.json").write_text("{}")
    with app_with(ASSETS_DIR=str(tmp_path)) as app:
        client = app.test_client()
        with client.get("/assets/echarts/echarts.min.js") as response:
            assert response.get_data(as_text=True).startswith("/* stand-in")
        assert client.get("/assets/echarts/package.json").status_code == 404
        assert 'src="/assets/echarts/echarts.min.js?v=' in client.get("/plans/haidong-dongzhengban-2024-96").get_data(as_text=True)


def test_shiquan_assets_names_both_builds(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from shiquan.cli import main

    for package in assets.PACKAGES:  # stand-ins already in place: nothing is fetched
        folder = assets.assets_dir({"ASSETS_DIR": str(tmp_path)}, package)
        folder.mkdir(parents=True)
        for name in package["files"]:
            (folder / name.rsplit("/", 1)[-1]).write_text("/* stand-in */")
    monkeypatch.setenv("SHIQUAN_ASSETS_DIR", str(tmp_path))
    result = CliRunner().invoke(main, ["assets"])
    assert result.exit_code == 0
    assert f"echarts {assets.ECHARTS['version']} in {tmp_path}/echarts-{assets.ECHARTS['version']}" in result.output
    assert f"@zazuko/yasgui {assets.YASGUI['version']} in {tmp_path}/yasgui-" in result.output
