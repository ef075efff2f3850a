"""Dumps of the whole dataset and its VoID description: shiquan.publish.export, and /download, /.well-known/void over HTTP.

Expected counts come from parsing ontology/ and data/ here with rdflib, file by file; the
expected formats, URLs and vocabularies are written out by hand.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from collections import Counter

import pyoxigraph as ox
import pytest
from rdflib import OWL, RDF, Dataset, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS

from shiquan import create_app
from shiquan.publish import export
from shiquan.graph import loading
from shiquan.errors import BadInput, BadRequest

from .conftest import DATA, ROOT

VOID = Namespace("http://rdfs.org/ns/void#")
SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
SPDX = Namespace("http://spdx.org/rdf/terms#")
GRAPH = "https://w3id.org/shiquan/graph/"
ONTOLOGY_GRAPH = GRAPH + "ontology"
INFERENCES_GRAPH = GRAPH + "inferences"
DATASET = URIRef("https://w3id.org/shiquan/id/dataset/shiquan")
CC_BY = URIRef("https://creativecommons.org/licenses/by/4.0/")
SQ_NS = "https://w3id.org/shiquan/ontology#"
ELI_NS = "http://data.europa.eu/eli/ontology#"
BASE = "http://example.org/shiquan/"
ENDPOINT = "http://example.org/shiquan/sparql"
# Format name → (file name, media type, pyoxigraph parser format).
DUMPS = {
    "nquads": ("shiquan.nq", "application/n-quads", ox.RdfFormat.N_QUADS),
    "trig": ("shiquan.trig", "application/trig", ox.RdfFormat.TRIG),
    "turtle": ("shiquan.ttl", "text/turtle", ox.RdfFormat.TURTLE),
    "jsonld": ("shiquan.jsonld", "application/ld+json", ox.RdfFormat.JSON_LD),
}
QUAD_FORMATS = ["nquads", "trig", "jsonld"]


@pytest.fixture(scope="module")
def expected_counts() -> dict[str, int]:
    """Triples per named graph for the hand-written files, parsed here: graph/ontology and graph/{data file stem}."""
    ontology = Graph()
    for path in sorted((ROOT / "ontology").glob("*.ttl")):
        ontology.parse(path, format="turtle")
    counts = {ONTOLOGY_GRAPH: len(ontology)}
    for path in sorted(DATA.glob("*.ttl")):
        counts[GRAPH + path.stem] = len(Graph().parse(path, format="turtle"))
    return counts


def parse(data: bytes, fmt: str) -> list[ox.Quad]:
    return list(ox.parse(data, format=DUMPS[fmt][2]))


def per_graph(quads: list[ox.Quad]) -> Counter:
    return Counter(q.graph_name.value if isinstance(q.graph_name, ox.NamedNode) else None for q in quads)


# ------------------------------------------------------------------ dumps


@pytest.mark.parametrize("fmt", QUAD_FORMATS)
def test_quad_dump_keeps_each_graph_with_the_triples_of_its_files(settings, expected_counts, fmt):
    counts = per_graph(parse(export.dump(settings, fmt), fmt))
    assert set(counts) == set(expected_counts) | {INFERENCES_GRAPH}
    assert {name: counts[name] for name in expected_counts} == expected_counts
    assert counts[INFERENCES_GRAPH] == export.assembled(settings).counts[INFERENCES_GRAPH] > 0


@pytest.mark.parametrize("fmt", QUAD_FORMATS)
def test_quad_dump_holds_as_many_quads_as_the_store_is_loaded_with(settings, fmt):
    assert len(parse(export.dump(settings, fmt), fmt)) == sum(export.assembled(settings).counts.values())


@pytest.mark.parametrize("fmt", ["trig", "jsonld"])
def test_quad_dumps_hold_the_same_quads_as_nquads(settings, fmt):
    assert set(parse(export.dump(settings, fmt), fmt)) == set(parse(export.dump(settings, "nquads"), "nquads"))


# rdflib 7's Dataset.parse and its JSON-LD parser use their own deprecated ConjunctiveGraph API, and warn.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
@pytest.mark.filterwarnings("ignore:Dataset.default_context is deprecated:DeprecationWarning")
def test_jsonld_dump_parses_with_rdflib_too(settings, expected_counts):
    dataset = Dataset()
    dataset.parse(data=export.dump(settings, "jsonld"), format="json-ld")
    named = {str(g.identifier): len(g) for g in dataset.graphs() if len(g)}
    assert {name: named[name] for name in expected_counts} == expected_counts


def test_turtle_dump_is_the_union_of_all_graphs(settings):
    triples = parse(export.dump(settings, "turtle"), "turtle")
    union = {q.triple for q in parse(export.dump(settings, "nquads"), "nquads")}
    assert len(triples) == len(set(triples)) == len(union)
    assert set(q.triple for q in triples) == union
    assert all(isinstance(q.graph_name, ox.DefaultGraph) for q in triples)


@pytest.mark.parametrize("fmt", ["turtle", "trig"])
def test_dump_writes_the_project_prefixes_it_uses_and_no_others(settings, fmt):
    text = export.dump(settings, fmt).decode("utf-8")
    assert f"@prefix sq: <{SQ_NS}> ." in text and f"@prefix eli: <{ELI_NS}> ." in text
    assert re.search(r"\ba [^;]*\bsq:Plan\b", text)
    assert "@prefix sh:" not in text and "@prefix sqs:" not in text


def test_jsonld_dump_has_the_prefixes_as_its_context(settings):
    document = json.loads(export.dump(settings, "jsonld"))
    assert document["@context"]["sq"] == SQ_NS
    assert "sq:Plan" in json.dumps(document)


@pytest.mark.parametrize("fmt", list(DUMPS))
def test_dump_is_the_same_bytes_on_each_call(settings, fmt):
    assert export.dump(settings, fmt) == export.dump(settings, fmt)


@pytest.fixture(scope="module")
def fresh_ntriples(settings) -> dict[str, bytes]:
    """The named graphs loaded and inferred again, uncached: a new store, new blank node ids."""
    return export.as_stated(loading.build_store(settings), settings)


@pytest.mark.parametrize("fmt", list(DUMPS))
def test_dump_is_the_same_bytes_when_rendered_from_a_fresh_parse(settings, fresh_ntriples, fmt):
    assert export.render(fresh_ntriples, fmt) == export.dump(settings, fmt)


def test_dump_is_the_same_bytes_in_another_process(settings, tmp_path):
    code = "import hashlib; from shiquan import config; from shiquan.publish import export; print(hashlib.sha256(export.dump(config.settings(), 'nquads')).hexdigest())"
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120, check=True)
    assert result.stdout.strip() == hashlib.sha256(export.dump(settings, "nquads")).hexdigest()


@pytest.mark.parametrize("fmt", list(DUMPS))
def test_blank_node_labels_do_not_change_the_dump(fmt):
    one = {
        "http://example.org/g/1": b'<http://example.org/a> <http://example.org/p> _:x .\n_:x <http://example.org/q> "1" .\n',
        "http://example.org/g/2": b'_:x <http://example.org/q> "2" .\n_:y <http://example.org/q> _:x .\n',
    }
    other = {
        "http://example.org/g/1": b'_:n9 <http://example.org/q> "1" .\n<http://example.org/a> <http://example.org/p> _:n9 .\n',
        "http://example.org/g/2": b'_:m0 <http://example.org/q> _:n9 .\n_:n9 <http://example.org/q> "2" .\n',
    }
    assert export.render(one, fmt) == export.render(other, fmt)
    assert len(parse(export.render(one, fmt), fmt)) == 4


def test_blank_node_shared_by_two_graphs_stays_one_node():
    data = {
        "http://example.org/g/1": b'<http://example.org/a> <http://example.org/p> _:x .\n',
        "http://example.org/g/2": b'_:x <http://example.org/q> "2" .\n',
    }
    first, second = parse(export.render(data, "nquads"), "nquads")  # sorted by graph name
    assert isinstance(first.object, ox.BlankNode) and first.object == second.subject


# Two graphs written out of order: "g-2" sorts before "g" as <g-2> < <g> ("-" before ">"); "a" before "a"@en;
# rdf:type first; the rdf:type and owl: IRIs inside a literal are text (no owl: prefix); one triple in both graphs.
SMALL = {
    "http://example.org/g": (
        b'<http://example.org/b> <http://www.w3.org/2000/01/rdf-schema#label> "b" .\n'
        b'<http://example.org/b> <https://w3id.org/shiquan/ontology#rank> "2"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
        b'<http://example.org/b> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/shiquan/ontology#Plan> .\n'
        b'<http://example.org/b> <http://www.w3.org/2000/01/rdf-schema#comment> "say \\"hi\\"\\n\\u001F" .\n'
        b'<http://example.org/a> <http://www.w3.org/2000/01/rdf-schema#label> "a"@en .\n'
        b'<http://example.org/a> <http://www.w3.org/2000/01/rdf-schema#label> "a" .\n'
    ),
    "http://example.org/g-2": (
        b'<http://example.org/a> <http://www.w3.org/2000/01/rdf-schema#label> "a" .\n'
        b'<http://example.org/a> <http://www.w3.org/2000/01/rdf-schema#comment> '
        b'"x <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2002/07/owl#Thing>" .\n'
    ),
}
SMALL_PREFIXES = """\
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix sq: <https://w3id.org/shiquan/ontology#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
"""
SMALL_DUMPS = {
    "nquads": """\
<http://example.org/a> <http://www.w3.org/2000/01/rdf-schema#comment> "x <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2002/07/owl#Thing>" <http://example.org/g-2> .
<http://example.org/a> <http://www.w3.org/2000/01/rdf-schema#label> "a" <http://example.org/g-2> .
<http://example.org/a> <http://www.w3.org/2000/01/rdf-schema#label> "a" <http://example.org/g> .
<http://example.org/a> <http://www.w3.org/2000/01/rdf-schema#label> "a"@en <http://example.org/g> .
<http://example.org/b> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/shiquan/ontology#Plan> <http://example.org/g> .
<http://example.org/b> <http://www.w3.org/2000/01/rdf-schema#comment> "say \\"hi\\"\\n\\u001F" <http://example.org/g> .
<http://example.org/b> <http://www.w3.org/2000/01/rdf-schema#label> "b" <http://example.org/g> .
<http://example.org/b> <https://w3id.org/shiquan/ontology#rank> "2"^^<http://www.w3.org/2001/XMLSchema#integer> <http://example.org/g> .
""",
    "turtle": SMALL_PREFIXES + """\
<http://example.org/a> rdfs:comment "x <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2002/07/owl#Thing>" ;
\trdfs:label "a" , "a"@en .
<http://example.org/b> a sq:Plan ;
\trdfs:comment "say \\"hi\\"\\n\\u001F" ;
\trdfs:label "b" ;
\tsq:rank 2 .
""",
    "trig": SMALL_PREFIXES + """\
<http://example.org/g-2> {
\t<http://example.org/a> rdfs:comment "x <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2002/07/owl#Thing>" ;
\t\trdfs:label "a" .
}
<http://example.org/g> {
\t<http://example.org/a> rdfs:label "a" , "a"@en .
\t<http://example.org/b> a sq:Plan ;
\t\trdfs:comment "say \\"hi\\"\\n\\u001F" ;
\t\trdfs:label "b" ;
\t\tsq:rank 2 .
}
""",
}


@pytest.mark.parametrize("fmt", list(SMALL_DUMPS))
def test_dump_of_a_small_dataset_is_these_bytes(fmt):
    assert export.render(SMALL, fmt).decode() == SMALL_DUMPS[fmt]


def test_jsonld_dump_of_a_small_dataset_is_these_bytes():
    value = '{{\n       "@value": {}\n      }}'.format
    node = '    {{\n     "@id": "{}",\n{}\n    }}'.format
    values = '     "{}": [\n      {}\n     ]'.format
    expected = {
        "@context": {"rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#", "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
                     "sq": "https://w3id.org/shiquan/ontology#", "xsd": "http://www.w3.org/2001/XMLSchema#"},
    }
    head = json.dumps(expected, indent=1)[:-2] + ',\n "@graph": [\n'
    g2 = node("http://example.org/a", ",\n".join([
        values("rdfs:comment", value('"x <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <http://www.w3.org/2002/07/owl#Thing>"')),
        values("rdfs:label", value('"a"')),
    ]))
    a = node("http://example.org/a", values("rdfs:label", value('"a"') + ",\n      "
                                           + '{\n       "@language": "en",\n       "@value": "a"\n      }'))
    b = node("http://example.org/b", ",\n".join([
        '     "@type": [\n      "sq:Plan"\n     ]',
        values("rdfs:comment", value(r'"say \"hi\"\n\u001f"')),
        values("rdfs:label", value('"b"')),
        values("sq:rank", '{\n       "@type": "xsd:integer",\n       "@value": "2"\n      }'),
    ]))
    graph = '  {{\n   "@id": "{}",\n   "@graph": [\n{}\n   ]\n  }}'.format
    body = graph("http://example.org/g-2", g2) + ",\n" + graph("http://example.org/g", a + ",\n" + b)
    assert export.render(SMALL, "jsonld").decode() == head + body + "\n ]\n}\n"


def test_unknown_dump_format_is_refused(settings):
    with pytest.raises(BadRequest, match="unknown dump format 'rdfxml'"):
        export.dump(settings, "rdfxml")


def test_format_names_extensions_and_media_types_all_name_a_format():
    assert {export.format_name(x) for x in ("nq", ".nq", "application/n-quads", "NQUADS")} == {"nquads"}
    assert {(f.extension, f.media_type) for f in export.FORMATS.values()} == {
        (file.split(".")[1], media) for file, media, _ in DUMPS.values()
    }


# ------------------------------------------------------------------ VoID


@pytest.fixture(scope="module")
def void(settings) -> Graph:
    return export.void(export.published(settings), BASE, ENDPOINT)


def test_void_dataset_has_titles_in_english_and_chinese_and_the_cc_by_licence(void):
    assert (DATASET, RDF.type, VOID.Dataset) in void
    assert {t.language for t in void.objects(DATASET, DCTERMS.title)} == {"en", "zh"}
    assert set(void.objects(DATASET, DCTERMS.license)) == {CC_BY}


def test_void_counts_every_quad_of_the_dump(settings, void):
    assert void.value(DATASET, VOID.triples).toPython() == len(parse(export.dump(settings, "nquads"), "nquads"))


def test_void_names_the_endpoint_and_the_uri_space(void):
    assert set(void.objects(DATASET, VOID.sparqlEndpoint)) == {URIRef(ENDPOINT)}
    assert void.value(DATASET, VOID.uriSpace) == Literal("https://w3id.org/shiquan/id/")


def test_void_links_each_dump(void):
    assert set(void.objects(DATASET, VOID.dataDump)) == {
        URIRef(BASE + "download/" + name) for name in ("shiquan.nq", "shiquan.trig", "shiquan.ttl", "shiquan.jsonld")
    }


def test_void_lists_the_vocabularies_the_data_uses(settings, void):
    vocabularies = {str(v) for v in void.objects(DATASET, VOID.vocabulary)}
    assert {SQ_NS, ELI_NS, "http://www.w3.org/2004/02/skos/core#", "http://purl.org/dc/terms/",
            "http://www.w3.org/ns/prov#", "http://www.w3.org/ns/org#"} <= vocabularies
    assert "http://www.w3.org/ns/shacl#" not in vocabularies  # the shapes are not part of the dataset
    quads = parse(export.dump(settings, "nquads"), "nquads")
    terms = {q.predicate.value for q in quads} | {q.object.value for q in quads if q.predicate.value == str(RDF.type)}
    assert all(any(t.startswith(v) for t in terms) for v in vocabularies)


def test_void_checksum_is_the_sha256_of_the_nquads_dump(settings, void):
    checksum = void.value(URIRef(BASE + "download/shiquan.nq"), SPDX.checksum)
    assert void.value(checksum, SPDX.algorithm) == SPDX.checksumAlgorithm_sha256
    assert str(void.value(checksum, SPDX.checksumValue)) == hashlib.sha256(export.dump(settings, "nquads")).hexdigest()


def test_void_has_one_subset_per_named_graph_with_its_count(settings, void):
    counts = per_graph(parse(export.dump(settings, "nquads"), "nquads"))
    subsets = list(void.objects(DATASET, VOID.subset))
    assert len(subsets) == len(counts)
    assert {str(void.value(s, SD.name)): void.value(s, VOID.triples).toPython() for s in subsets} == dict(counts)
    assert all((s, RDF.type, VOID.Dataset) in void for s in subsets)


def test_void_gives_the_data_version_and_the_ontology_version(settings, void):
    ontology = Graph().parse(ROOT / "ontology" / "shiquan.ttl", format="turtle")
    iri = URIRef("https://w3id.org/shiquan/ontology")
    assert void.value(DATASET, DCTERMS.hasVersion) == Literal(export.assembled(settings).version)
    assert void.value(iri, OWL.versionInfo) == ontology.value(iri, OWL.versionInfo)
    assert void.value(DATASET, DCTERMS.conformsTo) == ontology.value(iri, OWL.versionIRI)


# ------------------------------------------------------------------ HTTP


APP_SETTINGS = {"PUBLIC_BASE_URL": "http://localhost"}


def test_download_index_as_json_lists_the_four_dumps_with_size_and_checksum(client):
    response = client.get("/download", headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert {d["filename"] for d in body["dumps"]} == {file for file, _, _ in DUMPS.values()}
    for entry in body["dumps"]:
        with client.get(entry["url"]) as dumped:
            data = dumped.data
        assert entry["size"] == len(data) and entry["sha256"] == hashlib.sha256(data).hexdigest()
    assert body["void"] == "http://localhost/.well-known/void"


def test_download_index_as_html_links_each_dump_and_the_void(client):
    response = client.get("/download", headers={"Accept": "text/html"})
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for file, _, _ in DUMPS.values():
        assert f'href="http://localhost/download/{file}"' in page
    assert 'href="http://localhost/.well-known/void"' in page


@pytest.mark.parametrize("fmt", list(DUMPS))
def test_dump_is_served_as_an_attachment_with_its_media_type_and_etag(client, settings, fmt):
    file, media_type, _ = DUMPS[fmt]
    with client.get(f"/download/{file}") as response:  # closes the file the dump is streamed from
        assert response.status_code == 200 and response.mimetype == media_type
        assert response.headers["Content-Disposition"] == f'attachment; filename="{file}"'
        assert response.headers["ETag"] == f'"{export.assembled(settings).version}-{fmt}"'
        assert response.data == export.dump(settings, fmt)


@pytest.mark.parametrize("fmt", list(DUMPS))
def test_dump_with_a_matching_if_none_match_is_not_modified(client, fmt):
    file = DUMPS[fmt][0]
    with client.get(f"/download/{file}") as first:
        etag = first.headers["ETag"]
    response = client.get(f"/download/{file}", headers={"If-None-Match": etag})
    assert response.status_code == 304 and response.data == b"" and response.headers["ETag"] == etag


def test_dump_with_another_etag_is_sent_in_full(client):
    with client.get("/download/shiquan.nq", headers={"If-None-Match": '"0000000000000000-nquads"'}) as response:
        assert response.status_code == 200 and response.data


def test_unknown_dump_is_404(client):
    response = client.get("/download/shiquan.rdf")
    assert response.status_code == 404 and response.get_json()["error"] == "not_found"


def test_well_known_void_is_turtle_naming_this_servers_endpoint(client):
    response = client.get("/.well-known/void")
    assert response.status_code == 200 and response.mimetype == "text/turtle"
    graph = Graph().parse(data=response.data, format="turtle")
    assert set(graph.objects(DATASET, VOID.sparqlEndpoint)) == {URIRef("http://localhost/sparql")}
    assert URIRef("http://localhost/download/shiquan.nq") in set(graph.objects(DATASET, VOID.dataDump))


# rdflib 7's JSON-LD parser builds a ConjunctiveGraph itself and warns that it is deprecated.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_well_known_void_in_json_ld_by_accept(client):
    response = client.get("/.well-known/void", headers={"Accept": "application/ld+json"})
    assert response.status_code == 200 and response.mimetype == "application/ld+json"
    graph = Graph().parse(data=response.data, format="json-ld")
    assert (DATASET, RDF.type, VOID.Dataset) in graph


def test_dataset_iri_redirects_to_the_void(client):
    response = client.get("/id/dataset/shiquan")
    assert response.status_code == 303 and response.headers["Location"].endswith("/.well-known/void")


def test_dumps_keep_the_literals_as_the_files_write_them(settings, tmp_path):
    """The store canonicalises numbers ("60.0" → "60", xsd:positiveInteger → xsd:integer); dumps must not."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(settings["DATA_PATHS"][0], data)
    xsd = "http://www.w3.org/2001/XMLSchema#"
    (data / "numbers.nt").write_text(
        f'<https://w3id.org/shiquan/id/x/a> <https://example.org/order> "1"^^<{xsd}positiveInteger> .\n'
        f'<https://w3id.org/shiquan/id/x/a> <https://example.org/share> "60.0"^^<{xsd}decimal> .\n',
        encoding="utf-8",
    )
    mine = {**settings, "DATA_PATHS": [str(data)]}
    dumped = export.dump(mine, "nquads").decode("utf-8")
    assert f'"1"^^<{xsd}positiveInteger>' in dumped and f'"60.0"^^<{xsd}decimal>' in dumped


def test_the_web_process_never_builds_a_store_for_dumps_and_void(monkeypatch, tmp_path):
    """With workers, the dumps are written once by a worker (forked from the keeper's prepared store) into
    DUMPS_DIR; the web process only reads them, however many requests ask at once."""
    import threading

    built = []
    real = loading.build_store
    monkeypatch.setattr(loading, "build_store", lambda *a, **k: built.append(1) or real(*a, **k))
    app = create_app({"WORKERS": 1, "TESTING": True, "DUMPS_DIR": str(tmp_path)})
    try:
        client = app.test_client()
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(client.get("/download", headers={"Accept": "application/json"})))
                   for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert [a.status_code for a in answers] == [200] * 4
        assert client.get("/.well-known/void").status_code == 200
        with client.get("/download/shiquan.nq") as response:
            assert response.status_code == 200 and b"haidong-dongzhengban-2024-96" in response.data
    finally:
        app.extensions["shiquan"].close()
    assert built == []
    dumps = [p for p in tmp_path.iterdir() if p.is_dir() and "-rulings-" not in p.name]  # beside the ruling tables
    assert len(dumps) == 1  # one version, written once


def test_export_with_a_kept_store_of_the_data_reads_the_inferences_from_it_and_writes_the_same_files(settings, tmp_path,
                                                                                                    monkeypatch):
    """A cold export (graph.store_cache holds no store) loads and infers in a forked process; with a kept store of
    this data version it reads the inferences and counts from there instead, and the files are the same bytes."""
    from shiquan.graph import store_cache

    cold = export.published({**settings, "DUMPS_DIR": str(tmp_path / "cold"), "STORE_CACHE_DIR": ""})
    kept = {**settings, "DUMPS_DIR": str(tmp_path / "kept"), "STORE_CACHE_DIR": str(tmp_path / "stores"), "WORKERS": 1}
    store_cache.write(loading.build_store(kept), kept)
    monkeypatch.setattr(export, "_inferred_store", lambda *_args: sys.exit(3))  # the forked process inherits it
    reused = export.published(kept)
    assert reused.counts == cold.counts and sum(cold.counts.values()) > 0
    assert {name: d.sha256 for name, d in reused.dumps.items()} == {name: d.sha256 for name, d in cold.dumps.items()}
    assert all(d.data == cold.dumps[name].data for name, d in reused.dumps.items())


def test_export_of_a_bad_file_names_it_and_its_line(settings, tmp_path):
    import shutil

    data = tmp_path / "data"
    shutil.copytree(settings["DATA_PATHS"][0], data)
    (data / "broken.nt").write_text("<https://w3id.org/shiquan/id/x/a> <https://example.org/p> .\n", encoding="utf-8")
    with pytest.raises(BadInput) as caught:
        export.published({**settings, "DATA_PATHS": [str(data)], "DUMPS_DIR": str(tmp_path / "dumps")})
    assert caught.value.source == str(data / "broken.nt") and caught.value.line == 1
    assert not any(p.is_dir() for p in (tmp_path / "dumps").iterdir())  # nothing half-written is left


def test_cold_export_of_files_with_blank_nodes_is_what_a_store_gives(settings, tmp_path):
    """Blank nodes are labelled across all graphs once the inferences are in: the cold export then takes the whole
    path of :func:`export.render`, and writes what the store-based assembly renders."""
    import shutil

    data = tmp_path / "data"
    shutil.copytree(settings["DATA_PATHS"][0], data)
    (data / "notes.ttl").write_text(
        '<https://w3id.org/shiquan/id/x/a> <https://example.org/note> [ <https://example.org/text> "一" ] .\n',
        encoding="utf-8",
    )
    mine = {**settings, "DATA_PATHS": [str(data)], "DUMPS_DIR": str(tmp_path / "dumps")}
    graphs = export.as_stated(loading.build_store(mine), mine)
    dumped = export.published(mine)
    for fmt in DUMPS:
        assert dumped.dumps[fmt].data == export.render(graphs, fmt)
    assert b"_:c14n0" in dumped.dumps["nquads"].data
