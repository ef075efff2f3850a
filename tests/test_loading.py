import json

import pytest
from rdflib import URIRef

from shiquan.graph import loading
from shiquan.errors import BadInput
from shiquan import vocab
from shiquan.vocab import GRAPH

TRIPLE_TTL = '@prefix sq: <https://w3id.org/shiquan/ontology#> .\n<https://w3id.org/shiquan/id/matter/a> a sq:Matter .\n'
MATTER = URIRef("https://w3id.org/shiquan/id/matter/a")

SAME_TRIPLE = {
    "m.ttl": TRIPLE_TTL,
    "m.nt": "<https://w3id.org/shiquan/id/matter/a> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type> <https://w3id.org/shiquan/ontology#Matter> .\n",
    "m.jsonld": json.dumps({"@id": str(MATTER), "@type": "https://w3id.org/shiquan/ontology#Matter"}),
    "m.rdf": '<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    '<rdf:Description rdf:about="https://w3id.org/shiquan/id/matter/a">'
    '<rdf:type rdf:resource="https://w3id.org/shiquan/ontology#Matter"/></rdf:Description></rdf:RDF>\n',
}


@pytest.mark.parametrize("name", sorted(SAME_TRIPLE))
def test_each_format_is_read_by_extension_into_the_graph_named_by_the_file(tmp_path, name):
    path = tmp_path / name
    path.write_text(SAME_TRIPLE[name], encoding="utf-8")
    graphs = loading.read_file(path)
    assert list(graphs) == [GRAPH["m"]]
    assert len(graphs[GRAPH["m"]]) == 1 and (MATTER, None, None) in graphs[GRAPH["m"]]


def test_trig_keeps_its_own_graph_names(tmp_path):
    path = tmp_path / "plans.trig"
    path.write_text("<https://w3id.org/shiquan/graph/x> { <https://w3id.org/shiquan/id/matter/a> a <https://w3id.org/shiquan/ontology#Matter> . }\n")
    assert list(loading.read_file(path)) == [GRAPH["x"]]


def test_format_option_overrides_the_extension(tmp_path):
    path = tmp_path / "plan.txt"
    path.write_text(TRIPLE_TTL)
    assert len(loading.read_file(path, "turtle")[GRAPH["plan"]]) == 1


def test_unknown_extension_is_refused_with_the_file_name(tmp_path):
    path = tmp_path / "plan.docx"
    path.write_text(TRIPLE_TTL)
    with pytest.raises(BadInput, match="plan.docx: cannot tell the RDF format"):
        loading.read_file(path)


def test_turtle_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.ttl"
    path.write_text(TRIPLE_TTL + "\n<a> <b> .\n")
    with pytest.raises(BadInput, match=r"broken.ttl:4: syntax error") as info:
        loading.read_file(path)
    assert info.value.line == 4


def test_ntriples_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.nt"
    path.write_text(SAME_TRIPLE["m.nt"] + "<a> <b>\n")
    with pytest.raises(BadInput, match=r"broken.nt:2: syntax error"):
        loading.read_file(path)


def test_json_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.jsonld"
    path.write_text('{\n  "@id": "https://w3id.org/shiquan/id/matter/a",\n  oops\n}')
    with pytest.raises(BadInput, match=r"broken.jsonld:3: JSON syntax error"):
        loading.read_file(path)


def test_rdfxml_syntax_error_names_file_and_line(tmp_path):
    path = tmp_path / "broken.rdf"
    path.write_text('<?xml version="1.0"?>\n<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n<unclosed>\n</rdf:RDF>\n')
    with pytest.raises(BadInput, match=r"broken.rdf:4: syntax error"):
        loading.read_file(path)


def test_remote_jsonld_context_is_refused_not_fetched(tmp_path):
    path = tmp_path / "remote.jsonld"
    path.write_text(json.dumps({"@context": "http://127.0.0.1:9/context.jsonld", "@id": str(MATTER)}))
    with pytest.raises(BadInput, match="remote JSON-LD context"):
        loading.read_file(path)


def test_xml_external_entity_is_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("SECRET")
    path = tmp_path / "xxe.rdf"
    path.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE r [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        '<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://example.org/">'
        '<rdf:Description rdf:about="http://example.org/a"><ex:p>&x;</ex:p></rdf:Description></rdf:RDF>\n'
    )
    try:
        graphs = loading.read_file(path)
    except BadInput:
        return
    assert all("SECRET" not in str(o) for g in graphs.values() for o in g.objects())


def test_non_utf8_file_is_refused_with_its_line(tmp_path):
    path = tmp_path / "latin.ttl"
    path.write_bytes(TRIPLE_TTL.encode() + '<https://w3id.org/shiquan/id/matter/a> <http://www.w3.org/2000/01/rdf-schema#label> "专利" .\n'.encode("gb18030"))
    with pytest.raises(BadInput, match="latin.ttl:3: not UTF-8"):
        loading.read_file(path)


def test_missing_path_is_refused():
    with pytest.raises(BadInput, match="no such file or folder"):
        loading.read_paths(["/nonexistent/plan.ttl"])


def test_store_holds_one_graph_per_file_plus_ontology_and_inferences(kg):
    names = {name.removeprefix(str(GRAPH)) for name in kg.triples_per_graph}
    assert names == {
        "ontology", "inferences", "bodies", "divisions", "matters",
        "haidong-dongzhengban-2024-96", "qinghai-qingzheng-2024-36", "china-guobanfa-2023-48",
    }
    assert kg.triple_count == len(kg.store)
    assert len(kg.version) == 16


def test_deeply_nested_jsonld_is_refused_not_crashing(tmp_path):
    path = tmp_path / "deep.jsonld"
    path.write_text('{"@id": "https://w3id.org/shiquan/id/matter/a", "http://e/p": ' + '{"http://e/p": ' * 100_000 + "1" + "}" * 100_000 + "}")
    with pytest.raises(BadInput, match="deep.jsonld"):
        loading.read_file(path)


# Filling a store straight from the files (what `serve`, `load` and `export` do).

BAD_IRI_NT = '<https://w3id.org/shiquan/id/matter/a> <http://www.w3.org/2000/01/rdf-schema#label> "a" .\n<https://w3id.org/shiquan/id/matter/b c> <http://www.w3.org/2000/01/rdf-schema#label> "b" .\n'


def data_settings(settings, folder) -> dict:
    return {**settings, "DATA_PATHS": [str(folder)]}


@pytest.mark.parametrize("parallel", [False, True], ids=["checked-here", "checked-in-another-process"])
def test_a_bad_iri_is_refused_with_file_and_line_however_checked(settings, tmp_path, monkeypatch, parallel):
    if parallel:
        monkeypatch.setattr(loading, "PARALLEL_CHECK_BYTES", 0)
    (tmp_path / "good.ttl").write_text(TRIPLE_TTL, encoding="utf-8")
    (tmp_path / "bad.nt").write_text(BAD_IRI_NT, encoding="utf-8")
    with pytest.raises(BadInput) as caught:
        loading.build_store(data_settings(settings, tmp_path))
    assert "bad.nt" in str(caught.value) and ":2" in str(caught.value)


def test_a_bad_file_is_refused_for_its_syntax_before_what_its_inferences_contradict(settings, tmp_path, monkeypatch):
    # The inferences run while the other process checks the files: a file whose lenient reading is inconsistent
    # (a development zone that is also a division) must still be refused for its bad IRI, line 2.
    monkeypatch.setattr(loading, "PARALLEL_CHECK_BYTES", 0)
    zone = "<https://w3id.org/shiquan/id/zone/x> <http://www.w3.org/1999/02/22-rdf-syntax-ns#type>"
    (tmp_path / "bad.nt").write_text(
        f"{zone} <https://w3id.org/shiquan/ontology#DevelopmentZone> .\n"
        "<https://w3id.org/shiquan/id/matter/b c> <http://www.w3.org/2000/01/rdf-schema#label> \"b\" .\n"
        f"{zone} <https://w3id.org/shiquan/ontology#AdministrativeDivision> .\n", encoding="utf-8")
    with pytest.raises(BadInput) as caught:
        loading.build_store(data_settings(settings, tmp_path))
    assert "bad.nt" in str(caught.value) and ":2" in str(caught.value)


def test_invalid_utf8_is_refused_with_its_byte(settings, tmp_path):
    (tmp_path / "bad.ttl").write_bytes(TRIPLE_TTL.encode() + b'<https://w3id.org/shiquan/id/matter/a> <http://www.w3.org/2000/01/rdf-schema#label> "\xff" .\n')
    with pytest.raises(BadInput, match="bad.ttl"):
        loading.build_store(data_settings(settings, tmp_path))


def test_checked_in_another_process_gives_the_same_store(settings, monkeypatch):
    here = loading.build_store(settings)
    monkeypatch.setattr(loading, "PARALLEL_CHECK_BYTES", 0)
    there = loading.build_store(settings)
    assert there.triples_per_graph == here.triples_per_graph and there.version == here.version
    assert there.sources == here.sources


def test_sources_name_the_files_of_each_graph(settings, tmp_path):
    (tmp_path / "a.ttl").write_text(TRIPLE_TTL, encoding="utf-8")
    quads = '<https://w3id.org/shiquan/id/matter/q> <http://www.w3.org/2000/01/rdf-schema#label> "q" <https://example.org/g> .\n'
    (tmp_path / "b.nq").write_text(quads + '<https://w3id.org/shiquan/id/matter/d> <http://www.w3.org/2000/01/rdf-schema#label> "d" .\n', encoding="utf-8")
    kg = loading.build_store(data_settings(settings, tmp_path))
    assert kg.sources[str(GRAPH["a"])] == (str(tmp_path / "a.ttl"),)
    assert kg.sources["https://example.org/g"] == (str(tmp_path / "b.nq"),)
    assert kg.sources[str(GRAPH["b"])] == (str(tmp_path / "b.nq"),)
    assert str(vocab.ONTOLOGY_GRAPH) in kg.sources and str(vocab.INFERENCES_GRAPH) not in kg.sources
    assert kg.triples_per_graph["https://example.org/g"] == 1


def test_an_on_disk_store_is_left_empty_when_loading_fails(settings, tmp_path):
    store_dir = tmp_path / "store"
    loading.build_store(settings, str(store_dir))
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "bad.nt").write_text(BAD_IRI_NT, encoding="utf-8")
    with pytest.raises(BadInput):
        loading.build_store(data_settings(settings, tmp_path / "data"), str(store_dir))
    import pyoxigraph as ox

    assert len(ox.Store(str(store_dir))) == 0


def test_progress_reports_files_and_inference(settings):
    seen = []
    loading.build_store(settings, progress=lambda stage, done, total: seen.append((stage, done, total)))
    stages = [stage for stage, _done, _total in seen]
    assert stages[0] == "loading files" and "inferring" in stages
    files = [(d, t) for stage, d, t in seen if stage == "loading files"]
    assert files[-1][0] == files[-1][1] == len(loading.rdf_files([settings["ONTOLOGY_DIR"]]) + loading.rdf_files(settings["DATA_PATHS"]))


def test_counts_taken_beside_the_inferences_are_those_of_the_finished_store(settings, tmp_path, monkeypatch):
    # fill counts the stated graphs while the inferences run, and the inferences graph before and by what they add.
    monkeypatch.setattr(loading, "PARALLEL_CHECK_BYTES", 0)
    kg = loading.build_store(settings)
    assert kg.triples_per_graph == loading.graph_counts(kg.store)
    assert list(kg.triples_per_graph) == sorted(kg.triples_per_graph)
    # Inferences stated in a data file's own graph/inferences are counted with those added.
    stated = "<https://w3id.org/shiquan/id/matter/a> <http://www.w3.org/2000/01/rdf-schema#label> \"a\""
    (tmp_path / "stated.nq").write_text(f"{stated} <{vocab.INFERENCES_GRAPH}> .\n", encoding="utf-8")
    mixed = loading.build_store(dict(settings, DATA_PATHS=[*settings["DATA_PATHS"], str(tmp_path)]))
    assert mixed.triples_per_graph == loading.graph_counts(mixed.store)
    inferred = str(vocab.INFERENCES_GRAPH)
    assert mixed.triples_per_graph[inferred] == kg.triples_per_graph[inferred] + 1
