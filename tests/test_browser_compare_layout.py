"""The comparison's wide table stays inside the page: with two, three and four plans, in Chinese and English, the
table scrolls in its own box and the page itself never grows wider than the window (Debian's Chromium, Playwright).

The four plans are the Haidong plan and three hand-written test plans (tests/fixtures/compare/); the screenshots
go to the test's tmp_path."""

from __future__ import annotations

import pytest

from .conftest import DATA, FIXTURES, browser_site
from .test_browser import browser, page  # noqa: F401 (fixtures)

PLANS = ["haidong-dongzhengban-2024-96", "ceshi-bijiao-2025-1", "ceshi-bijiao-2025-2", "ceshi-bijiao-2025-3"]
# The page's width against the window's, and the table box's own scrolling, as the browser lays them out.
WIDTHS = """() => ({page: document.documentElement.scrollWidth, window: window.innerWidth,
                    box: document.querySelector('.matrix-wrap').clientWidth,
                    table: document.querySelector('#compare').scrollWidth,
                    levels: Math.max(...[...document.querySelectorAll('#compare tbody tr > td:first-of-type')].map(cell => {
                        const range = document.createRange(); range.selectNodeContents(cell);
                        return range.getClientRects().length; }))})"""


@pytest.fixture(scope="module")
def site():
    compare = FIXTURES / "compare"
    with browser_site(workers=1, install_assets=False,
                      DATA_PATHS=[str(DATA), str(compare / "test-plans.ttl"), str(compare / "layout-plan.ttl")]) as url:
        yield url


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("count", [2, 3, 4])
def test_compare_table_scrolls_in_its_box_and_the_page_keeps_the_window_width(site, page, tmp_path, count, lang):
    query = "&".join(f"plan={slug}" for slug in PLANS[:count])
    page.goto(f"{site}/compare?{query}&lang={lang}")
    assert page.locator("#compare thead th[lang=zh]").count() == count
    widths = page.evaluate(WIDTHS)
    page.screenshot(path=str(tmp_path / f"compare-{count}.{lang}.png"), full_page=True)
    assert widths["page"] <= widths["window"], widths
    assert widths["box"] <= widths["window"], widths
    assert widths["table"] <= widths["box"], widths  # up to four plans fit a 1400-pixel window: no column hidden
    assert widths["levels"] == 1, widths  # each level on one line, never squeezed to a character a line
    assert not page.problems


def test_compare_table_at_a_narrow_window_scrolls_rather_than_widening_the_page(site, page, tmp_path):
    page.set_viewport_size({"width": 800, "height": 900})
    page.goto(f"{site}/compare?{'&'.join(f'plan={slug}' for slug in PLANS)}")
    widths = page.evaluate(WIDTHS)
    page.screenshot(path=str(tmp_path / "compare-4.narrow.png"), full_page=True)
    assert widths["page"] <= widths["window"], widths
    assert widths["table"] > widths["box"], widths  # the table is wider than its box: the box scrolls
    assert widths["levels"] == 1, widths
