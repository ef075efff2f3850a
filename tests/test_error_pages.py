"""Errors by Accept: a page of the site (zh and en) for a browser, the one JSON body for API clients."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from .conftest import serving
from .test_pages import _Builder

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
UNKNOWN_MATTER = "/id/matter/no-such-matter"


def text_of(response) -> str:
    """The words of an HTML response, whitespace collapsed."""
    builder = _Builder()
    builder.feed(response.get_data(as_text=True))
    builder.close()
    return " ".join(builder.root.text.split())


@pytest.mark.parametrize("accept", [None, "*/*", "application/json", "application/json, text/html"])
def test_api_clients_get_the_json_body(client, accept):
    response = client.get(UNKNOWN_MATTER, headers={"Accept": accept} if accept else {})
    assert response.status_code == 404 and response.mimetype == "application/json"
    assert response.get_json() == {"error": "not_found",
                                   "message": "the graph says nothing about <https://w3id.org/shiquan/id/matter/no-such-matter>"}


def test_a_browser_gets_a_page_of_the_site_in_chinese_and_english(client):
    response = client.get(UNKNOWN_MATTER, headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 404 and response.mimetype == "text/html"
    text = text_of(response)
    assert "404 未找到 Not found" in text
    assert "the graph says nothing about <https://w3id.org/shiquan/id/matter/no-such-matter>" in text
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert "Accept" in response.headers["Vary"]


def test_a_route_that_does_not_exist_and_a_bad_parameter_are_pages_for_a_browser(client):
    missing = client.get("/no/such/page", headers={"Accept": "text/html"})
    assert missing.status_code == 404 and "未找到" in text_of(missing)
    bad = client.get("/plans/haidong-dongzhengban-2024-96?lang=fr", headers={"Accept": "text/html"})
    assert bad.status_code == 400 and "请求有误 Bad request" in text_of(bad) and "unknown language 'fr'" in text_of(bad)


def test_method_not_allowed_page_keeps_the_allow_header(client):
    response = client.delete("/", headers={"Accept": "text/html"})
    assert response.status_code == 405 and response.mimetype == "text/html"
    assert "GET" in response.headers["Allow"] and "不支持的请求方法" in text_of(response)


def test_over_a_real_socket_accept_decides(app):
    with serving(app, threads=2) as url:
        for accept, media_type in ((BROWSER_ACCEPT, "text/html"), ("application/json", "application/json")):
            request = urllib.request.Request(url + UNKNOWN_MATTER, headers={"Accept": accept})
            with pytest.raises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(request, timeout=30)
            assert caught.value.code == 404 and caught.value.headers.get_content_type() == media_type
            body = caught.value.read().decode("utf-8")
            if media_type == "application/json":
                assert json.loads(body)["error"] == "not_found"
            else:
                assert "未找到" in body and "Not found" in body
