"""The plans index, the comparison and the plan matrix in a real browser (Debian's Chromium, Playwright), over the
app under waitress with the project's data and the hand-written test plans (tests/fixtures/compare/)."""

from __future__ import annotations

import pytest


from .conftest import DATA, FIXTURES, browser_site
from .test_browser import browser, page  # noqa: F401 (fixtures)

HAIDONG, ONE, PARENT = "haidong-dongzhengban-2024-96", "ceshi-bijiao-2025-1", "qinghai-qingzheng-2024-36"


@pytest.fixture(scope="module")
def site():
    with browser_site(workers=1, install_assets=False,
                      DATA_PATHS=[str(DATA), str(FIXTURES / "compare" / "test-plans.ttl")]) as url:
        yield url


def test_plans_page_shows_each_plan_and_why_the_parent_has_no_rulings(site, page, tmp_path):
    page.goto(f"{site}/plans")
    text = page.inner_text("#plans")
    assert "东政办〔2024〕96号" in text and "已录入划分" in text
    parent = page.inner_text(f'tr[data-plan="{PARENT}"]')
    assert "未录入划分" in parent and "未收录该方案原文" in parent
    page.screenshot(path=str(tmp_path / "plans.png"), full_page=True)
    assert not page.problems


def test_compare_page_counts_the_differences_and_shows_the_quotes(site, page, tmp_path):
    page.goto(f"{site}/compare?plan={HAIDONG}&plan={ONE}")
    assert page.inner_text('#counts td[data-class="payer"]').strip() == "1"
    assert page.inner_text('#counts td[data-class="only"]').strip() == "49"
    row = page.inner_text("tr.diff-payer")
    assert "专利奖励" in row and "县区级专利奖励" in row and "支出责任承担方不同" in row
    assert "按照隶属关系" in page.inner_text("tr.diff-subordination")
    page.screenshot(path=str(tmp_path / "compare.png"), full_page=True)
    page.goto(f"{site}/compare?plan={HAIDONG}&plan={ONE}&lang=en")
    assert "payer differs" in page.inner_text("tr.diff-payer")
    assert not page.problems


def test_compare_page_with_a_plan_without_rulings_says_it_cannot_compare(site, page):
    page.goto(f"{site}/compare?plan={HAIDONG}&plan={PARENT}")
    notice = page.inner_text(f'.cannot-compare[data-plan="{PARENT}"]')
    assert "无法比较" in notice and "仅一方" not in page.inner_text("main")


def test_matrix_page_shows_levels_in_the_plans_words_and_the_caveats(site, page, tmp_path):
    page.goto(f"{site}/plans/{HAIDONG}")
    head = page.inner_text("#matrix thead")
    assert "县区（县级）" in head
    assert page.locator("#matrix .caveat.interpretation").count() == 5
    assert page.locator("#matrix .caveat.subordination").count() == 10
    page.screenshot(path=str(tmp_path / "matrix.png"), full_page=True)
    assert not page.problems
