"""The SPARQL Service Description of the endpoint, with its dataset and limits."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rdflib import RDF, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS

from shiquan import formats
from shiquan.vocab import INFERENCES_GRAPH
from shiquan.vocab import PREFIXES, SQ

SD = Namespace("http://www.w3.org/ns/sparql-service-description#")
VOID = Namespace("http://rdfs.org/ns/void#")
W3C = Namespace(formats.W3C_FORMATS)
# What the endpoint answers in: the results formats, then the RDF formats of graph answers.
RESULT_FORMATS = [f.w3c_iri for f in (*formats.RESULTS, *formats.GRAPH_ANSWERS)]


def service_description(endpoint: str, counts: Mapping[str, int], settings: Mapping[str, Any]) -> Graph:
    """Describe the endpoint at ``endpoint``: languages, formats, the union default graph, each named graph, limits."""
    g = Graph()
    for prefix, ns in (("sd", SD), ("void", VOID), ("formats", W3C)):
        g.bind(prefix, ns)
    for prefix in ("sq", "dcterms", "xsd"):
        g.bind(prefix, PREFIXES[prefix])
    service = URIRef(endpoint)
    g.add((service, RDF.type, SD.Service))
    g.add((service, SD.endpoint, service))
    g.add((service, SD.supportedLanguage, SD.SPARQL11Query))
    g.add((service, SD.feature, SD.UnionDefaultGraph))
    for iri in RESULT_FORMATS:
        g.add((service, SD.resultFormat, URIRef(iri)))
    if settings["SERVICE_ALLOWLIST"]:
        g.add((service, SD.feature, SD.BasicFederatedQuery))
    for url in settings["SERVICE_ALLOWLIST"]:
        g.add((service, SQ.allowedServiceEndpoint, URIRef(url)))
    g.add((service, SQ.queryTimeLimit, Literal(str(settings["QUERY_TIMEOUT_S"]), datatype=XSD.decimal)))
    g.add((service, SQ.resultSizeLimit, Literal(int(settings["MAX_RESULT_ROWS"]))))
    g.add((service, SQ.requestSizeLimit, Literal(int(settings["MAX_BODY_BYTES"]))))
    g.add((service, DCTERMS.description, Literal(
        "Read-only SPARQL 1.1 endpoint over the Shiquan knowledge graph. The default graph is the union of all "
        "named graphs (one per plan, plus ontology, registers and OWL RL inferences); SPARQL Update is refused.",
        lang="en",
    )))
    dataset, default = BNode(), BNode()
    g.add((service, SD.defaultDataset, dataset))
    g.add((dataset, RDF.type, SD.Dataset))
    g.add((dataset, SD.defaultGraph, default))
    g.add((default, RDF.type, SD.Graph))
    g.add((default, DCTERMS.description, Literal("The union of all named graphs.", lang="en")))
    g.add((default, VOID.triples, Literal(sum(counts.values()))))
    for name, count in sorted(counts.items()):
        named, graph = BNode(), BNode()
        g.add((dataset, SD.namedGraph, named))
        g.add((named, RDF.type, SD.NamedGraph))
        g.add((named, SD.name, URIRef(name)))
        g.add((named, SD.graph, graph))
        g.add((graph, RDF.type, SD.Graph))
        g.add((graph, VOID.triples, Literal(count)))
        if URIRef(name) == INFERENCES_GRAPH:
            g.add((graph, DCTERMS.description, Literal("OWL RL inferences computed at load time.", lang="en")))
    return g
