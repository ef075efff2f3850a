"""The research pages in a real browser (Debian's Chromium, Playwright) over the app under waitress, with the
project's data and the hand-written test plans (tests/fixtures/compare/): the query page readable by default, the
plan picker, /validate, error pages, a matter across plans, search and the charts."""

from __future__ import annotations

import pytest

from shiquan.web import assets

from .conftest import DATA, FIXTURES, browser_site
from .test_browser import RESULTS_TABLE, browser, page  # noqa: F401 (fixtures)
from .test_validate_page import BROKEN, TEST_PLANS

HAIDONG, ONE = "haidong-dongzhengban-2024-96", "ceshi-bijiao-2025-1"
SHOTS = "/tmp/shots"
# From the source text, 二（四）, the county paragraph: the whole sentence, not cut.
PROTECTION_COUNTY = ("县区级知识产权保护体系建设，县区级涉外知识产权纠纷应对机制建设，县区级知识产权保护状况评价和绩效监督考核，"
                     "县区级知识产权保护专项行动，县区级知识产权执法、快速协同保护、维权援助、知识产权侵权纠纷的行政裁决和行政调解，"
                     "县区级软件正版化工作组织推进等事项，确认为县区财政事权，由县区承担支出责任。")


@pytest.fixture(scope="module")
def site():
    with browser_site(DATA_PATHS=[str(DATA), str(FIXTURES / "compare" / "test-plans.ttl")]) as url:
        yield url


def run_example(page, site: str, name: str, expected: str, query: str = "") -> str:
    from playwright.sync_api import expect

    page.goto(f"{site}/{query}")
    page.click(f'a.example[data-example="{name}"]')
    table = page.locator(RESULTS_TABLE)
    expect(table.locator("tbody")).to_contain_text(expected)
    return table.inner_text()


def test_results_show_whole_quotes_as_plain_text(page, site):
    text = run_example(page, site, "05-protection-matters-with-quotes", "县区级")
    assert PROTECTION_COUNTY in text.replace("\n", "")
    assert "@zh" not in text and "…" not in text
    assert "ellipseTable" not in (page.locator(RESULTS_TABLE).get_attribute("class") or "")
    page.screenshot(path=f"{SHOTS}/query-05.png", full_page=True)
    assert not page.problems


def test_results_show_labels_rather_than_iris(page, site):
    from playwright.sync_api import expect

    run_example(page, site, "03-matters-per-category", "县级")
    body = page.locator(f"{RESULTS_TABLE} tbody")
    expect(body).to_contain_text("知识产权保护")  # the category's label (ontology), not id:category/…
    text = body.inner_text()
    assert "id:category/" not in text and "sq:CountyLevel" not in text and "县级" in text
    assert page.locator(f'{RESULTS_TABLE} a.iri[title="https://w3id.org/shiquan/ontology#CountyLevel"]').count() >= 1
    assert not page.problems


def test_the_plan_picker_fills_the_examples_for_another_plan(page, site):
    page.goto(f"{site}/")
    with page.expect_navigation():
        page.select_option("#plan-picker", ONE)
    assert f"plan={ONE}" in page.url
    assert "测试方案一" in page.inner_text("#picked-plan")
    text = run_example(page, site, "01-payer-per-level", "县区级专利奖励", f"?plan={ONE}")
    # the test plan's own county ruling, which makes the city pay (tests/fixtures/compare/test-plans.ttl)
    assert "县区级专利奖励，确认为县区财政事权，由市级承担支出责任。" in text
    page.screenshot(path=f"{SHOTS}/query-picker.png", full_page=True)
    assert not page.problems


def test_validate_page_keeps_the_text_and_validates_with_the_served_data(page, site):
    page.goto(f"{site}/validate")
    page.fill("#data", TEST_PLANS)
    page.check("#served")
    page.click(".validate-form button[type=submit]")
    assert page.get_attribute("#report", "data-conforms") == "true"
    assert "测试方案一" in page.input_value("#data")
    page.screenshot(path=f"{SHOTS}/validate.png", full_page=True)
    page.fill("#data", BROKEN)
    page.click(".validate-form button[type=submit]")
    assert "syntax error" in page.inner_text("#validate-error") and page.input_value("#data") == BROKEN
    assert "事权 Shiquan" in page.inner_text("header.site")


def test_a_missing_page_is_a_page_of_the_site(page, site):
    response = page.goto(f"{site}/id/matter/no-such-matter")
    assert response.status == 404
    text = page.inner_text("#error")
    assert "未找到" in text and "Not found" in text and "the graph says nothing about" in text
    page.screenshot(path=f"{SHOTS}/error-404.png", full_page=True)


def test_a_matter_page_shows_each_plans_ruling(page, site):
    page.goto(f"{site}/id/matter/zhuanli-jiangli")
    text = page.inner_text("#across")
    assert "东政办〔2024〕96号" in text and "测试〔2025〕1号" in text and "县区（县级）" in text
    assert "县区级专利奖励，确认为县区财政事权，由市级承担支出责任。" in text
    page.screenshot(path=f"{SHOTS}/matter.png", full_page=True)
    assert not page.problems


def test_the_search_box_finds_matters_plans_and_quotes(page, site):
    page.goto(f"{site}/plans")
    page.fill("#site-search", "专利奖励")
    with page.expect_navigation():
        page.press("#site-search", "Enter")
    assert "专利奖励" in page.inner_text("#found-matters")
    assert "测试方案一" in page.inner_text("#found-quotes")
    page.click("#found-matters a")
    assert "各方案的划分" in page.inner_text("#across")
    page.goto(f"{site}/search?q=patent+awards&lang=en")
    assert "patent awards" in page.inner_text("#found-matters")
    page.screenshot(path=f"{SHOTS}/search.png", full_page=True)
    assert not page.problems


def chart_words(page, chart: str) -> str:
    """The words of a drawn chart (ECharts renders SVG here): title, axes, legend and labels."""
    page.wait_for_selector(f"#chart-{chart}[data-drawn] svg")
    return " ".join(page.locator(f"#chart-{chart} svg text").all_text_contents())


def test_a_plans_charts_show_rulings_per_category_and_level_and_who_pays(page, site):
    page.goto(f"{site}/plans/{HAIDONG}")
    levels = chart_words(page, "levels")
    assert "各类别、各层级的划分数" in levels and "知识产权保护" in levels and "县区（县级）" in levels
    payers = chart_words(page, "payers")
    # 二、主要内容: 26 matters each at city and county level, each paid by its own level
    assert "由谁承担支出责任" in payers and "26 项划分" in payers.replace("\n", " ")
    page.screenshot(path=f"{SHOTS}/plan-charts.png", full_page=True)
    page.locator("#charts").screenshot(path=f"{SHOTS}/plan-charts-only.png")
    page.goto(f"{site}/plans/{HAIDONG}?lang=en")
    assert "Rulings per category and level" in chart_words(page, "levels")
    assert "intellectual property protection" in chart_words(page, "levels")
    assert not page.problems


def test_a_comparisons_chart_shows_agreement_and_differences_per_category(page, site):
    page.goto(f"{site}/compare?plan={HAIDONG}&plan={ONE}&lang=en")
    words = chart_words(page, "classes")
    assert "Agreement and differences per category" in words
    assert "agree" in words and "payer differs" in words and "ruled by one plan only" in words
    page.locator("#charts").screenshot(path=f"{SHOTS}/compare-chart.png")
    page.goto(f"{site}/compare?plan={HAIDONG}&plan={ONE}")
    assert "各类别的一致与差异" in chart_words(page, "classes") and "一致" in chart_words(page, "classes")
    assert not page.problems


def test_the_charts_library_is_served_from_this_server(page, site):
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{site}/plans/{HAIDONG}")
    chart_words(page, "levels")
    assert f"{site}/assets/echarts/echarts.min.js?v={assets.ECHARTS['version']}" in requested
    assert all(url.startswith(site) or url.startswith("data:") for url in requested)
