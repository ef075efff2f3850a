"""/validate as a page of the site: the text kept, errors inline, and an upload checked with the served data."""

from __future__ import annotations

import urllib.parse
import urllib.request

from .conftest import DATA, FIXTURES, app_with, serving
from .test_error_pages import text_of

# Two hand-written test plans that reuse the graph's matters, categories and Haidong (their header says so).
TEST_PLANS = (FIXTURES / "compare" / "test-plans.ttl").read_text(encoding="utf-8")
# A second payer for a (matter, level) the test plan already rules: a true violation, with or without the graph.
SECOND_PAYER = (TEST_PLANS + "\n<assignment/ceshi-bijiao-2025-1/zhuanli-jiangli/county> "
                "<https://w3id.org/shiquan/ontology#payer> <https://w3id.org/shiquan/ontology#CountyLevel> .\n")
BROKEN = "@prefix sq: <https://w3id.org/shiquan/ontology#> .\n<a> sq:b\n"


def shapes_of(body: dict) -> set[str]:
    return {r["sourceShape"].rsplit("#", 1)[1] for r in body["results"] if r["severity"] == "Violation"}


def test_a_plan_that_reuses_the_graphs_matters_alone_misses_them(client):
    body = client.post("/validate?format=json", data={"data": TEST_PLANS}).get_json()
    # alone, the reused matters have no label or category and Haidong no level: not the plan's fault
    assert body["conforms"] is False
    assert shapes_of(body) == {"MatterShape-category", "MatterShape-label", "AdministrativeDivisionShape-level"}


def test_with_the_served_data_it_conforms(client):
    body = client.post("/validate?format=json", data={"data": TEST_PLANS, "served": "1"}).get_json()
    assert body["conforms"] is True and body["violations"] == 0


def test_with_the_served_data_a_true_violation_is_still_found(client):
    body = client.post("/validate?format=json", data={"data": SECOND_PAYER, "served": "1"}).get_json()
    assert shapes_of(body) == {"AssignmentShape-payer", "PlanShape-onePayerPerMatterAndLevel"}


def test_the_served_option_as_a_query_parameter_for_a_raw_body(client):
    response = client.post("/validate?served=1", data=TEST_PLANS.encode(), content_type="text/turtle")
    assert response.get_json()["conforms"] is True


def test_the_page_keeps_the_text_the_format_and_the_option(client):
    response = client.post("/validate", data={"data": TEST_PLANS, "served": "1", "format": "turtle", "lang": "zh"},
                           headers={"Accept": "text/html"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-conforms="true"' in html
    assert "测试方案一（比较测试用，非真实方案）" in html  # the pasted text is back in the textarea
    assert 'name="served" id="served" value="1" checked' in html
    assert "符合约束" in text_of(response) and "含已发布数据" in text_of(response)


def test_a_syntax_error_is_shown_under_the_form_with_its_line(client):
    response = client.post("/validate", data={"data": BROKEN, "lang": "en"}, headers={"Accept": "text/html"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    text = text_of(response)
    assert "Cannot be read" in text and "form field 'data':3: syntax error" in text and "SHACL validation" in text
    assert "&lt;a&gt; sq:b" in response.get_data(as_text=True)  # kept for correcting


def test_a_syntax_error_is_still_json_for_an_api_client(client):
    response = client.post("/validate", data={"data": BROKEN}, headers={"Accept": "application/json"})
    assert response.status_code == 400 and response.get_json()["error"] == "bad_input"


def test_the_page_is_a_page_of_the_site(client):
    text = text_of(client.get("/validate"))
    assert "事权 Shiquan" in text and "下载 Download" in text and "连同本站已发布的数据一起验证" in text


def test_over_a_real_socket_with_the_served_data(app):
    form = urllib.parse.urlencode({"data": TEST_PLANS, "served": "1"}).encode()
    with serving(app, threads=2) as url:
        request = urllib.request.Request(url + "/validate", data=form, headers={"Accept": "text/html"})
        with urllib.request.urlopen(request, timeout=60) as response:
            assert response.status == 200 and 'data-conforms="true"' in response.read().decode("utf-8")


def test_an_upload_of_what_is_already_served_counts_each_share_once():
    # the served data holds the test plans too: the joint payers' shares must still sum to 100, not 200
    with app_with(DATA_PATHS=[str(DATA), str(FIXTURES / "compare" / "test-plans.ttl")]) as app:
        body = app.test_client().post("/validate?format=json", data={"data": TEST_PLANS, "served": "1"}).get_json()
    assert body["conforms"] is True and body["violations"] == 0
