"""/validate: the project's shapes over HTTP, with the CLI's inference."""

from __future__ import annotations

import json

import pytest
from rdflib import Graph, URIRef


from .conftest import DATA, FIXTURES

SHAPES = FIXTURES / "shapes"
SH = "http://www.w3.org/ns/shacl#"


APP_SETTINGS = {"MAX_BODY_BYTES": 256 * 1024}


def fixture_bytes(name: str) -> bytes:
    return (SHAPES / name).read_bytes()


def test_conforming_turtle_gives_a_json_report_that_conforms(client):
    response = client.post("/validate", data=fixture_bytes("PlanShape-onePayerPerMatterAndLevel.pass.ttl"), content_type="text/turtle")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == {"conforms": True, "violations": 0, "results": []}


def test_second_payer_is_reported_with_matter_and_level(client):
    response = client.post("/validate", data=fixture_bytes("PlanShape-onePayerPerMatterAndLevel.fail.ttl"), content_type="text/turtle")
    body = response.get_json()
    assert body["conforms"] is False
    result = body["results"][0]
    assert result["sourceShape"].endswith("#PlanShape-onePayerPerMatterAndLevel")
    assert "专利奖励" in result["messages"]["zh"] and "patent awards" in result["messages"]["en"]


def test_inference_applies_as_in_the_cli(client):
    # sq:partOf from a county to a province is fine only through the levels' order, which the closure provides.
    data = (DATA / "divisions.ttl").read_bytes()
    response = client.post("/validate", data=data, content_type="text/turtle")
    assert response.get_json()["conforms"] is True


def test_report_in_turtle(client):
    response = client.post("/validate", data=fixture_bytes("MatterShape-category.fail.ttl"), content_type="text/turtle", headers={"Accept": "text/turtle"})
    graph = Graph().parse(data=response.get_data(as_text=True), format="turtle")
    assert (None, URIRef(SH + "sourceShape"), URIRef("https://w3id.org/shiquan/shapes#MatterShape-category")) in graph


@pytest.mark.parametrize("content_type,rdflib_format", [
    ("application/n-triples", "nt"),
    ("application/ld+json", "json-ld"),
    ("application/rdf+xml", "xml"),
    ("application/trig", "trig"),
])
def test_other_rdf_formats_are_read(client, content_type, rdflib_format):
    graph = Graph().parse(SHAPES / "MatterShape-category.fail.ttl", format="turtle")
    response = client.post("/validate", data=graph.serialize(format=rdflib_format, encoding="utf-8"), content_type=content_type)
    assert response.status_code == 200 and response.get_json()["violations"] == 1


def test_form_post_gives_an_html_report(client):
    data = {"data": fixture_bytes("MatterShape-category.fail.ttl").decode(), "format": "turtle", "lang": "zh"}
    response = client.post("/validate", data=data)
    assert response.mimetype == "text/html"
    assert "不符合约束" in response.get_data(as_text=True) and "每个事项必须属于且只属于一个事项类别" in response.get_data(as_text=True)


def test_file_upload_takes_its_format_from_the_extension(client, tmp_path):
    import io

    payload = {"file": (io.BytesIO(Graph().parse(SHAPES / "MatterShape-category.pass.ttl").serialize(format="nt", encoding="utf-8")), "matters.nt")}
    response = client.post("/validate", data=payload, content_type="multipart/form-data", headers={"Accept": "application/json"})
    assert response.get_json()["conforms"] is True


def test_get_shows_the_form(client):
    response = client.get("/validate")
    assert response.status_code == 200 and "<form" in response.get_data(as_text=True)


def test_unparseable_upload_is_400_with_line(client):
    response = client.post("/validate", data=b"@prefix sq: <https://w3id.org/shiquan/ontology#> .\n<a> sq:b\n\n", content_type="text/turtle")
    assert response.status_code == 400
    assert response.get_json()["error"] == "bad_input" and "request body:" in response.get_json()["message"]


def test_unknown_body_type_is_415(client):
    response = client.post("/validate", data=b"a,b", content_type="text/csv")
    assert response.status_code == 415


def test_upload_over_the_limit_is_413(client):
    response = client.post("/validate", data=b"#" * (300 * 1024), content_type="text/turtle")
    assert response.status_code == 413 and response.get_json()["error"] == "payload_too_large"


def test_remote_jsonld_context_is_refused_not_fetched(client):
    body = json.dumps({"@context": "http://127.0.0.1:9/ctx.jsonld", "@id": "https://w3id.org/shiquan/id/matter/a"})
    response = client.post("/validate", data=body, content_type="application/ld+json")
    assert response.status_code == 400 and "remote JSON-LD context" in response.get_json()["message"]


def test_xml_external_entity_is_not_read(client, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET-VALUE")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#">'
        '<rdf:Description rdf:about="https://w3id.org/shiquan/id/matter/a"><rdfs:label>&x;</rdfs:label></rdf:Description></rdf:RDF>'
    )
    response = client.post("/validate", data=body.encode(), content_type="application/rdf+xml", headers={"Accept": "text/turtle"})
    assert b"SECRET-VALUE" not in response.get_data()
    assert response.status_code in (200, 400)


def test_empty_form_is_400(client):
    response = client.post("/validate", data={"data": "  "})
    assert response.status_code == 400


def test_form_body_that_is_not_utf8_is_400_before_validation(client):
    response = client.post("/validate", data=b"data=<a>+<b>+\xff", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert response.get_json()["message"] == "the form body is not UTF-8 (byte 13), so none of its parameters can be read"
