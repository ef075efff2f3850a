"""Namespaces of the Shiquan vocabulary and the one way Python mints instance IRIs."""

from __future__ import annotations

import re

from rdflib import Namespace, URIRef

SQ = Namespace("https://w3id.org/shiquan/ontology#")
SQS = Namespace("https://w3id.org/shiquan/shapes#")
ID = Namespace("https://w3id.org/shiquan/id/")
GRAPH = Namespace("https://w3id.org/shiquan/graph/")
ELI = Namespace("http://data.europa.eu/eli/ontology#")
ORG = Namespace("http://www.w3.org/ns/org#")

ONTOLOGY_IRI = URIRef("https://w3id.org/shiquan/ontology")

# One path segment of an instance IRI; the same expression is the sh:pattern of
# sqs:ResourceShape-readableIri, so hand-written data is held to it too.
SEGMENT = r"[a-z0-9]+(-[a-z0-9]+)*"
SEGMENT_RE = re.compile(rf"^{SEGMENT}$")
TYPE_RE = re.compile(r"^[a-z]+(-[a-z]+)*$")

# The prefixes every Shiquan file, query and report uses.
PREFIXES: dict[str, str] = {
    "dcterms": "http://purl.org/dc/terms/",
    "eli": str(ELI),
    "org": str(ORG),
    "owl": "http://www.w3.org/2002/07/owl#",
    "prov": "http://www.w3.org/ns/prov#",
    "rdf": "http://www.w3.org/1999/02/22-rdf-syntax-ns#",
    "rdfs": "http://www.w3.org/2000/01/rdf-schema#",
    "sh": "http://www.w3.org/ns/shacl#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "sq": str(SQ),
    "sqs": str(SQS),
    "xsd": "http://www.w3.org/2001/XMLSchema#",
}


def mint(kind: str, *slugs: str) -> URIRef:
    """Return the instance IRI ``https://w3id.org/shiquan/id/{kind}/{slug}/…``.

    Raises ValueError when ``kind`` or any slug is not lower-case ASCII words
    joined by single hyphens.
    """
    if not TYPE_RE.match(kind):
        raise ValueError(f"bad IRI type {kind!r}: lower-case ASCII words joined by '-'")
    if not slugs:
        raise ValueError(f"an IRI of type {kind!r} needs at least one slug")
    for slug in slugs:
        if not SEGMENT_RE.match(slug):
            raise ValueError(f"bad slug {slug!r}: expected {SEGMENT_RE.pattern}")
    return ID[f"{kind}/" + "/".join(slugs)]


def graph_name(slug: str) -> URIRef:
    """Return the named-graph IRI for a plan slug or register name.

    Raises ValueError for a slug that is not a readable IRI segment.
    """
    if not SEGMENT_RE.match(slug):
        raise ValueError(f"bad graph name {slug!r}: expected {SEGMENT_RE.pattern}")
    return GRAPH[slug]


# The named graphs the loader fills besides one per data file.
ONTOLOGY_GRAPH = graph_name("ontology")
INFERENCES_GRAPH = graph_name("inferences")


def curie(iri: str) -> str:
    """A short reading of an IRI: ``sq:Plan`` for known prefixes, ``<plan/…>`` for instances, else ``<iri>``."""
    for prefix, ns in _BY_LENGTH:
        if iri.startswith(ns):
            return f"{prefix}:{iri[len(ns):]}"
    if iri.startswith(str(ID)):
        return f"<{iri[len(str(ID)):]}>"
    return f"<{iri}>"


_BY_LENGTH = sorted(PREFIXES.items(), key=lambda kv: -len(kv[1]))
