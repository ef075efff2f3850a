"""Dumps of the whole dataset and its VoID description.

A dump holds every named graph the store is loaded from — ontology, data and OWL
RL inferences, as :func:`loading.assembled` gives them — as TriG, N-Quads or
JSON-LD (graph names kept) or Turtle (the union of all graphs). The bytes depend
only on the input files: blank nodes get canonical labels (RDFC-1.0) and quads
are sorted, so the same data always gives the same file and the same checksum.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox
from rdflib import OWL, RDF, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF

from shiquan import formats
from shiquan.graph import loading
from shiquan.publish.description import SD, VOID, W3C
from shiquan.errors import BadRequest
from shiquan.vocab import ID, ONTOLOGY_IRI, PREFIXES

SPDX = Namespace("http://spdx.org/rdf/terms#")
DATASET = ID["dataset/shiquan"]
LICENCE = URIRef("https://creativecommons.org/licenses/by/4.0/")
TITLES = {
    "en": "Shiquan: a knowledge graph of fiscal power and expenditure responsibility division plans",
    "zh": "事权：财政事权和支出责任划分改革方案知识图谱",
}
DESCRIPTIONS = {
    "en": "Chinese plans that divide fiscal powers and expenditure responsibilities between levels of government, "
    "with the Shiquan ontology and its OWL RL inferences; one named graph per plan or register.",
    "zh": "中国财政事权和支出责任划分改革方案，附事权本体及其OWL RL推理结果；每项方案或名录一个命名图。",
}
GRAPH_DESCRIPTIONS = {
    str(loading.ONTOLOGY_GRAPH): "The Shiquan ontology and its alignments to ELI, ORG, SKOS, DCTERMS and PROV.",
    str(loading.INFERENCES_GRAPH): "OWL RL inferences computed at load time.",
}


# Format name → how it is written (a format of the one table, shiquan.formats); the order is the download page's.
FORMATS: dict[str, formats.Format] = {
    "nquads": formats.N_QUADS,
    "trig": formats.TRIG,
    "turtle": formats.TURTLE,
    "jsonld": formats.JSON_LD,
}
BY_EXTENSION = {f.extension: name for name, f in FORMATS.items()}
# Where the web adapter serves each dump, relative to the server's root.
DUMP_PATH = "download/shiquan.{extension}"
VOID_PATH = ".well-known/void"

_RDF_TYPE = ox.NamedNode(str(RDF.type))
_NAMESPACE = re.compile(r"^(.*[#/])[^#/]*$")


@dataclass(frozen=True)
class Dump:
    """One dump file: its format name, bytes and the dataset version they come from."""

    name: str
    data: bytes
    version: str
    sha256: str

    @property
    def format(self) -> formats.Format:
        return FORMATS[self.name]

    @property
    def filename(self) -> str:
        return f"shiquan.{self.format.extension}"

    @property
    def size(self) -> int:
        return len(self.data)


_LOCK = threading.Lock()
_QUADS: dict[str, list[ox.Quad]] = {}
_DUMPS: dict[tuple[str, str], Dump] = {}


def format_name(fmt: str) -> str:
    """The format name for ``fmt``: a name of FORMATS, a file extension or a media type.

    Raises BadRequest for anything else.
    """
    key = fmt.lower().lstrip(".")
    if key in FORMATS:
        return key
    if key in BY_EXTENSION:
        return BY_EXTENSION[key]
    for name, f in FORMATS.items():
        if key == f.media_type:
            return name
    raise BadRequest(f"unknown dump format {fmt!r}; use one of {', '.join(FORMATS)}")


def _triple_key(t: ox.Triple | ox.Quad) -> tuple[str, bool, str, str]:
    """Subject, then rdf:type before the other predicates (written first, as ``a``), then object."""
    return str(t.subject), t.predicate != _RDF_TYPE, str(t.predicate), str(t.object)


def _sort_key(quad: ox.Quad) -> tuple:
    return (str(quad.graph_name), *_triple_key(quad))


def canonical_quads(ntriples: Mapping[str, bytes]) -> list[ox.Quad]:
    """The quads of named graphs given as N-Triples, blank nodes relabelled by RDFC-1.0, sorted."""
    quads = [
        ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(name))
        for name in sorted(ntriples)
        for t in ox.parse(ntriples[name], format=ox.RdfFormat.N_TRIPLES)
    ]
    if any(isinstance(term, ox.BlankNode) for q in quads for term in (q.subject, q.object)):
        dataset = ox.Dataset(quads)
        dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
        quads = list(dataset)
    return sorted(quads, key=_sort_key)


def _iris(quads: Iterable[ox.Quad]) -> Iterable[str]:
    for quad in quads:
        for term in quad:
            if isinstance(term, ox.NamedNode):
                yield term.value
            elif isinstance(term, ox.Literal):
                yield term.datatype.value


def _prefixes(quads: list[ox.Quad]) -> dict[str, str]:
    """The project prefixes that some IRI of ``quads`` starts with, in PREFIXES order."""
    used = {m.group(1) for iri in _iris(quads) if (m := _NAMESPACE.match(iri))}
    return {p: ns for p, ns in PREFIXES.items() if any(u.startswith(ns) for u in used)}


def _compact(node: Any, prefixes: Mapping[str, str]) -> Any:
    """pyoxigraph's expanded JSON-LD with IRIs written as compact IRIs, rdf:type as @type."""

    def short(iri: str) -> str:
        for prefix, ns in prefixes.items():
            if iri.startswith(ns) and iri != ns:
                return f"{prefix}:{iri[len(ns):]}"
        return iri

    if isinstance(node, list):
        return [_compact(item, prefixes) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for k, v in node.items():
        if k == str(RDF.type) and all(isinstance(x, dict) and set(x) == {"@id"} for x in v):
            result["@type"] = [short(x["@id"]) for x in v]
        elif k in ("@id", "@type") and isinstance(v, str):
            result[k] = v if v.startswith("_:") else short(v)
        elif k.startswith("@"):
            result[k] = _compact(v, prefixes)
        else:
            result[short(k)] = _compact(v, prefixes)
    return result


def render(ntriples: Mapping[str, bytes], fmt: str) -> bytes:
    """Serialise named graphs given as N-Triples ({graph IRI: bytes}) in dump format ``fmt``, uncached.

    Raises BadRequest for an unknown format.
    """
    return _render(canonical_quads(ntriples), format_name(fmt))


def _render(quads: list[ox.Quad], name: str) -> bytes:
    spec = FORMATS[name]
    prefixes = _prefixes(quads)
    if not spec.quads:
        triples = sorted({q.triple for q in quads}, key=_triple_key)
        return ox.serialize(triples, format=spec.rdf_format, prefixes=prefixes)
    if spec.rdf_format == ox.RdfFormat.JSON_LD:  # pyoxigraph 0.5 writes expanded JSON-LD and ignores prefixes
        expanded = json.loads(ox.serialize(quads, format=spec.rdf_format))
        document = {"@context": prefixes, "@graph": _compact(expanded, prefixes)}
        return (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode("utf-8")
    return ox.serialize(quads, format=spec.rdf_format, prefixes=prefixes)


def _quads(ready: loading.Assembled) -> list[ox.Quad]:
    """The canonical quads of ``ready``, kept for its version only (call with _LOCK held)."""
    if ready.version not in _QUADS:
        _QUADS.clear()
        _QUADS[ready.version] = canonical_quads(ready.ntriples)
    return _QUADS[ready.version]


def dump_file(settings: Mapping[str, Any], fmt: str) -> Dump:
    """The whole dataset in format ``fmt`` (a FORMATS name, extension or media type), kept in memory per version.

    Raises BadRequest for an unknown format; BadInput and InconsistentGraph as
    :func:`loading.assembled`.
    """
    name = format_name(fmt)
    ready = loading.assembled(settings)
    with _LOCK:
        key = (ready.version, name)
        if key not in _DUMPS:
            for old in [k for k in _DUMPS if k[0] != ready.version]:
                del _DUMPS[old]
            data = _render(_quads(ready), name)
            _DUMPS[key] = Dump(name, data, ready.version, hashlib.sha256(data).hexdigest())
        return _DUMPS[key]


def dump(settings: Mapping[str, Any], fmt: str) -> bytes:
    """The bytes of :func:`dump_file`. Raises as :func:`dump_file`."""
    return dump_file(settings, fmt).data


def dump_files(settings: Mapping[str, Any]) -> list[Dump]:
    """Every dump, in FORMATS order. Raises as :func:`dump_file`."""
    return [dump_file(settings, name) for name in FORMATS]


def dump_url(base_url: str, fmt: str) -> str:
    """Where the server at ``base_url`` serves the dump in ``fmt``. Raises BadRequest for an unknown format."""
    return base_url.rstrip("/") + "/" + DUMP_PATH.format(extension=FORMATS[format_name(fmt)].extension)


def ontology_version(settings: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The ontology's (owl:versionInfo, owl:versionIRI) in the loaded data, None where absent.

    Raises BadInput and InconsistentGraph as :func:`loading.assembled`.
    """
    ready = loading.assembled(settings)
    info = iri = None
    data = ready.ntriples.get(str(loading.ONTOLOGY_GRAPH), b"")
    for triple in ox.parse(data, format=ox.RdfFormat.N_TRIPLES):
        if triple.subject == ox.NamedNode(str(ONTOLOGY_IRI)):
            if triple.predicate.value == str(OWL.versionInfo):
                info = triple.object.value
            elif triple.predicate.value == str(OWL.versionIRI):
                iri = triple.object.value
    return info, iri


def vocabularies(settings: Mapping[str, Any]) -> list[str]:
    """Namespace IRIs of the properties and classes the dataset uses, sorted.

    Raises BadInput and InconsistentGraph as :func:`loading.assembled`.
    """
    ready = loading.assembled(settings)
    with _LOCK:
        quads = _quads(ready)
    used = set()
    for quad in quads:
        used.add(quad.predicate.value)
        if quad.predicate == _RDF_TYPE and isinstance(quad.object, ox.NamedNode):
            used.add(quad.object.value)
    return sorted({m.group(1) for iri in used if (m := _NAMESPACE.match(iri))})


def void(settings: Mapping[str, Any], base_url: str, endpoint_url: str) -> Graph:
    """The VoID description of the dataset served at ``base_url`` with its SPARQL endpoint at ``endpoint_url``.

    The dataset ``id/dataset/shiquan`` has titles, licence, endpoint, one
    void:dataDump per format (each with its media type and SHA-256 checksum),
    its triple count, vocabularies, URI space and version, and one void:subset
    per named graph. Raises BadInput and InconsistentGraph as
    :func:`loading.assembled`.
    """
    ready = loading.assembled(settings)
    g = Graph()
    for prefix, ns in (("void", VOID), ("sd", SD), ("spdx", SPDX), ("formats", W3C), ("foaf", FOAF)):
        g.bind(prefix, ns)
    for prefix in ("dcterms", "owl", "sq", "xsd"):
        g.bind(prefix, PREFIXES[prefix])
    document = URIRef(base_url.rstrip("/") + "/" + VOID_PATH)
    g.add((document, RDF.type, VOID.DatasetDescription))
    g.add((document, FOAF.primaryTopic, DATASET))
    g.add((document, DCTERMS.title, Literal("VoID description of the Shiquan dataset", lang="en")))
    g.add((document, DCTERMS.title, Literal("事权数据集的VoID描述", lang="zh")))

    g.add((DATASET, RDF.type, VOID.Dataset))
    for lang in ("en", "zh"):
        g.add((DATASET, DCTERMS.title, Literal(TITLES[lang], lang=lang)))
        g.add((DATASET, DCTERMS.description, Literal(DESCRIPTIONS[lang], lang=lang)))
    g.add((DATASET, DCTERMS.license, LICENCE))
    g.add((DATASET, DCTERMS.hasVersion, Literal(ready.version)))
    g.add((DATASET, VOID.sparqlEndpoint, URIRef(endpoint_url)))
    g.add((DATASET, VOID.uriSpace, Literal(str(ID))))
    g.add((DATASET, VOID.triples, Literal(sum(ready.counts.values()), datatype=XSD.integer)))
    for namespace in vocabularies(settings):
        g.add((DATASET, VOID.vocabulary, URIRef(namespace)))

    info, version_iri = ontology_version(settings)
    g.add((ONTOLOGY_IRI, RDF.type, OWL.Ontology))
    if info:
        g.add((ONTOLOGY_IRI, OWL.versionInfo, Literal(info)))
    if version_iri:
        g.add((ONTOLOGY_IRI, OWL.versionIRI, URIRef(version_iri)))
    g.add((DATASET, DCTERMS.conformsTo, URIRef(version_iri) if version_iri else ONTOLOGY_IRI))

    for item in dump_files(settings):
        url = URIRef(dump_url(base_url, item.name))
        checksum = BNode()
        g.add((DATASET, VOID.dataDump, url))
        g.add((url, DCTERMS["format"], URIRef(item.format.w3c_iri)))
        g.add((url, SPDX.checksum, checksum))
        g.add((checksum, RDF.type, SPDX.Checksum))
        g.add((checksum, SPDX.algorithm, SPDX.checksumAlgorithm_sha256))
        g.add((checksum, SPDX.checksumValue, Literal(item.sha256, datatype=XSD.hexBinary)))

    for name, count in sorted(ready.counts.items()):
        subset = BNode()
        g.add((DATASET, VOID.subset, subset))
        g.add((subset, RDF.type, VOID.Dataset))
        g.add((subset, SD.name, URIRef(name)))
        g.add((subset, VOID.triples, Literal(count, datatype=XSD.integer)))
        if name in GRAPH_DESCRIPTIONS:
            g.add((subset, DCTERMS.description, Literal(GRAPH_DESCRIPTIONS[name], lang="en")))
    return g
