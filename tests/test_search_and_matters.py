"""A matter across plans (its /id/matter/… page) and /search, over the project's data and the hand-written test
plans (tests/fixtures/compare/test-plans.ttl); expected answers from the Haidong source text and that file."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

import pytest

from .conftest import DATA, FIXTURES, app_with, serving
from .test_error_pages import text_of

APP = {"DATA_PATHS": [str(DATA), str(FIXTURES / "compare" / "test-plans.ttl")]}
PATENT_AWARDS = "/id/matter/zhuanli-jiangli"
SOURCE = (DATA / "sources" / "haidong-dongzhengban-2024-96.txt").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def app():
    with app_with(**APP) as app:
        yield app


def sentence_with(words: str) -> str:
    """The sentence of the Haidong source text (one paragraph of 二、主要内容) that holds ``words``."""
    return next(line for line in SOURCE.splitlines() if words in line and "确认为" in line)


def rows_of(html: str) -> list[str]:
    return [" ".join(part.split()) for part in html.split('<tr class="ruling"')[1:]]


def test_a_matter_page_shows_every_plans_ruling_level_by_level(client):
    response = client.get(PATENT_AWARDS)
    html = response.get_data(as_text=True)
    rows = rows_of(html[html.index('id="across"') : html.index("</table>", html.index('id="across"'))])
    # Haidong (二（三）: city and county paragraphs), test plan 1 (city, county), test plan 2 (city)
    assert len(rows) == 5
    haidong = [r for r in rows if "haidong-dongzhengban-2024-96" in r]
    assert len(haidong) == 2 and "东政办〔2024〕96号" in haidong[0] and "二（三）" in haidong[0]
    assert "市（市级）" in haidong[0] and sentence_with("市级专利奖励") in haidong[0]
    assert "县区（县级）" in haidong[1] and sentence_with("县区级专利奖励") in haidong[1]
    county_one = next(r for r in rows if "ceshi-bijiao-2025-1/zhuanli-jiangli/county" in r)
    assert "县区级专利奖励，确认为县区财政事权，由市级承担支出责任。" in county_one  # the city pays, by hand
    assert "<td class=\"payer\" lang=\"zh\">市（市级）" in county_one


def test_a_matter_page_shows_the_subordination_caveat():
    with app_with() as app:
        html = app.test_client().get("/id/matter/zhishichanquan-rencai-duiwu-jianshe").get_data(as_text=True)
    assert "按照隶属关系" in html[html.index('id="across"'):]


def test_a_page_that_is_no_matter_has_no_such_table(client):
    assert 'id="across"' not in client.get("/id/plan/haidong-dongzhengban-2024-96").get_data(as_text=True)


def test_search_finds_a_matter_by_chinese_and_by_english(client):
    for keyword in ("专利奖励", "Patent Awards"):
        body = client.get("/search", query_string={"q": keyword}, headers={"Accept": "application/json"}).get_json()
        assert [m["iri"].rsplit("/", 1)[1] for m in body["matters"]] == ["zhuanli-jiangli"]


def test_search_finds_plans_by_title_and_by_document_number(client):
    for keyword in ("东政办〔2024〕96号", "海东市知识产权领域"):
        body = client.get("/search", query_string={"q": keyword}, headers={"Accept": "application/json"}).get_json()
        assert [p["iri"].rsplit("/", 1)[1] for p in body["plans"]] == ["haidong-dongzhengban-2024-96"]


def test_search_finds_quotes_with_their_plan(client):
    body = client.get("/search", query_string={"q": "由市级承担支出责任"}, headers={"Accept": "application/json"}).get_json()
    plans = {q["plan"].rsplit("/", 1)[1] for q in body["quotes"]}
    assert plans == {"haidong-dongzhengban-2024-96", "ceshi-bijiao-2025-1", "ceshi-bijiao-2025-2"}
    assert all("由市级承担支出责任" in q["seen"] for q in body["quotes"])


def test_search_page_in_html_names_what_it_found(client):
    text = text_of(client.get("/search", query_string={"q": "专利奖励"}, headers={"Accept": "text/html"}))
    assert "搜索 Search: 专利奖励" in text and "事项 1 项" in text and "测试方案一（比较测试用，非真实方案）" in text


@pytest.mark.parametrize("keyword", ['"}) } UNION { ?s ?p ?o', "\\", "'''"])
def test_a_keyword_cannot_change_the_query(client, keyword):
    response = client.get("/search", query_string={"q": keyword}, headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.get_json()["matters"] == []


@pytest.mark.parametrize("query, message", [({}, "nothing to search for"), ({"q": "  "}, "nothing to search for"),
                                            ({"q": "专" * 101}, "over 100 characters")])
def test_an_empty_or_overlong_keyword_is_400(client, query, message):
    response = client.get("/search", query_string=query, headers={"Accept": "application/json"})
    assert response.status_code == 400 and message in response.get_json()["message"]


def test_every_page_has_the_search_box(client):
    for path in ("/", "/validate", "/plans", PATENT_AWARDS):
        assert 'role="search"' in client.get(path).get_data(as_text=True), path


def test_search_over_a_real_socket(app):
    with serving(app, threads=2) as url:
        request = urllib.request.Request(url + "/search?" + urllib.parse.urlencode({"q": "patent awards"}),
                                         headers={"Accept": "application/json"})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert [m["name"] for m in json.load(response)["matters"]] == ["专利奖励"]
