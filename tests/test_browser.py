"""The query page in a real browser: Debian's Chromium driven by Playwright, against the app under waitress.

The server is the real thing (query workers, the WSGI server of `shiquan serve`) and the
YASGUI build is installed from the npm registry as `shiquan assets` does. A missing
Chromium or Playwright fails these tests rather than skipping them.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest


from .conftest import browser_site

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
EXAMPLE_06 = 'a.example[data-example="06-divisions-under-haidong"]'
RESULTS_TABLE = ".yasr table.dataTable"


@pytest.fixture(scope="module")
def site():
    """The app with two query workers, served by waitress on a free port of 127.0.0.1."""
    with browser_site() as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Playwright for Python is missing: pip install playwright (the test drives Debian's Chromium; "
                    "never `playwright install`)")
    if not CHROMIUM.is_file():
        pytest.fail(f"{CHROMIUM} is missing: apt-get update && apt-get install -y chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    """A fresh browser context (empty storage) and page; console errors and page errors are recorded."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.problems = []
    page.on("console", lambda m: page.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    yield page
    context.close()


def run_example_06(page, site: str) -> str:
    """Open the query page, click example 06 and return the text of the YASR results table once it holds rows."""
    from playwright.sync_api import expect

    page.goto(site + "/")
    page.click(EXAMPLE_06)
    table = page.locator(RESULTS_TABLE)
    expect(table.locator("tbody")).to_contain_text("630202")
    return table.inner_text()


def test_clicking_example_06_runs_it_and_shows_haidongs_divisions(page, site):
    text = run_example_06(page, site)
    assert "630202" in text and "乐都区" in text  # 乐都区, GB/T 2260 630202
    assert "division" in page.locator(f"{RESULTS_TABLE} thead").inner_text()
    assert page.locator(EXAMPLE_06).get_attribute("class").split() == ["example", "active"]
    assert not page.problems


def test_query_page_makes_no_request_to_another_origin(page, site):
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    run_example_06(page, site)
    # Type where the editor offers completions of properties and classes, which YASQE's stock
    # completers fetch from Linked Open Vocabularies.
    page.click(".CodeMirror")
    page.keyboard.press("Control+A")
    page.keyboard.type("PREFIX foaf: <http://xmlns.com/foaf/0.1/>\nSELECT * WHERE { ?s foaf:na")
    page.keyboard.press("Control+Space")
    page.keyboard.type(" ?o . ?s a foaf:Pe")
    page.keyboard.press("Control+Space")
    page.wait_for_timeout(1500)
    origin = urlsplit(site)
    assert f"{site}/sparql" in requested
    foreign = [u for u in requested if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u)[:2] != origin[:2]]
    assert foreign == []
    assert not [p for p in page.problems if "Content Security Policy" in p]
