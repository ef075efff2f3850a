"""shiquan.formats: the one table of formats."""

import pyoxigraph as ox
import pytest

from shiquan import formats


def test_each_media_type_names_one_format():
    listed = [t for f in (*formats.RDF, *formats.RESULTS, formats.HTML, formats.JSON) for t in (f.media_type, *f.synonyms)]
    assert len(listed) == len(set(listed))


@pytest.mark.parametrize("fmt", formats.RDF, ids=lambda f: f.name)
def test_each_rdf_format_agrees_with_pyoxigraph_on_media_type_and_extension(fmt):
    assert ox.RdfFormat.from_media_type(fmt.media_type) == fmt.rdf_format
    assert ox.RdfFormat.from_extension(fmt.extension) == fmt.rdf_format
    assert fmt.quads == fmt.rdf_format.supports_datasets


@pytest.mark.parametrize("fmt", formats.RESULTS, ids=lambda f: f.name)
def test_each_results_format_agrees_with_pyoxigraph_on_media_type(fmt):
    assert ox.QueryResultsFormat.from_media_type(fmt.media_type) == fmt.results_format


def test_files_are_read_by_suffix_as_the_cli_and_uploads_name_them():
    assert {s: f.name for s, f in formats.RDF_BY_SUFFIX.items()} == {
        ".ttl": "turtle", ".nt": "nt", ".trig": "trig", ".nq": "nquads", ".jsonld": "json-ld", ".json": "json-ld",
        ".rdf": "xml", ".owl": "xml", ".xml": "xml",
    }


def test_w3c_iris_name_the_formats_namespace():
    assert formats.RDF_XML.w3c_iri == "http://www.w3.org/ns/formats/RDF_XML"
    assert formats.RESULTS_TSV.w3c_iri == "http://www.w3.org/ns/formats/SPARQL_Results_TSV"
