"""Dumps of the whole dataset and its VoID description.

A dump holds every named graph the store is loaded from — ontology, data and OWL
RL inferences, as :func:`assembled` gives them — as TriG, N-Quads or
JSON-LD (graph names kept) or Turtle (the union of all graphs). The bytes depend
only on the input files: blank nodes get canonical labels (RDFC-1.0) and quads
are sorted, so the same data always gives the same file and the same checksum.

The dumps of a dataset version are built once, by :func:`publish`, from the prepared store (in a query worker
when the server asks: never in the web process), and kept as files in DUMPS_DIR/<key>/ with a manifest (version,
counts, sizes, checksums, ontology version, vocabularies); the web adapter only reads those files.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyoxigraph as ox
from rdflib import OWL, RDF, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF

from shiquan import formats
from shiquan.graph import loading
from shiquan.publish.description import SD, VOID, W3C
from shiquan.errors import BadInput, BadRequest
from shiquan.vocab import ID, INFERENCES_GRAPH, ONTOLOGY_GRAPH, ONTOLOGY_IRI, PREFIXES

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
    str(ONTOLOGY_GRAPH): "The Shiquan ontology and its alignments to ELI, ORG, SKOS, DCTERMS and PROV.",
    str(INFERENCES_GRAPH): "OWL RL inferences computed at load time.",
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
_XSD_STRING = str(XSD.string)
_string = json.encoder.encode_basestring  # a str as JSON, non-ASCII kept: what json.dumps(ensure_ascii=False) writes
_NAMESPACE = re.compile(r"^(.*[#/])[^#/]*$")


@dataclass(frozen=True)
class Dump:
    """One dump file of a published dataset version: its format name, path, size and SHA-256."""

    name: str
    path: Path
    version: str
    size: int
    sha256: str

    @property
    def format(self) -> formats.Format:
        return FORMATS[self.name]

    @property
    def filename(self) -> str:
        return f"shiquan.{self.format.extension}"

    @property
    def data(self) -> bytes:
        return self.path.read_bytes()


@dataclass(frozen=True)
class Published:
    """The dumps of one dataset version, as :func:`publish` wrote them, and what the VoID description needs."""

    folder: Path
    version: str
    counts: dict[str, int]
    ontology_version: str | None
    ontology_version_iri: str | None
    vocabularies: list[str]
    dumps: dict[str, Dump]

    @property
    def triples(self) -> int:
        return sum(self.counts.values())


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


# The canonical order of a dump: graph name, subject, rdf:type before the other predicates (written first, as ``a``),
# predicate, object, each compared as its N-Triples text in code point order. Comparing N-Triples lines as bytes
# gives that order once rdf:type in predicate position is written as _TYPE_FIRST: UTF-8 keeps code point order, a
# subject or predicate never holds a space, and whatever ends a shorter term ("_:b1" before "_:b12", '"x"' before
# '"x"@en') sorts after the space that follows it in a line. N-Triples escapes control characters, so "\x01" only
# ever stands for rdf:type.
_TYPE_PREDICATE = b" <" + str(RDF.type).encode() + b"> "
_TYPE_FIRST = b" \x01 "


def _mark_types(ntriples: bytes) -> bytes:
    """``ntriples`` with each rdf:type in predicate position written as _TYPE_FIRST (not in an object or literal)."""
    found, at = [], ntriples.find(_TYPE_PREDICATE)
    while at >= 0:  # a predicate is the first space of its line
        if ntriples.rfind(b" ", 0, at) <= ntriples.rfind(b"\n", 0, at):
            found.append(at)
        at = ntriples.find(_TYPE_PREDICATE, at + 1)
    if len(found) == ntriples.count(_TYPE_PREDICATE):
        return ntriples.replace(_TYPE_PREDICATE, _TYPE_FIRST)
    pieces, done = [], 0
    for at in found:
        pieces += [ntriples[done:at], _TYPE_FIRST]
        done = at + len(_TYPE_PREDICATE)
    return b"".join([*pieces, ntriples[done:]])


def _unmark(lines: list[bytes]) -> bytes:
    """Lines of :func:`_mark_types` as N-Triples again."""
    return (b"\n".join(lines) + b"\n").replace(_TYPE_FIRST, _TYPE_PREDICATE) if lines else b""


@dataclass(frozen=True)
class Canonical:
    """Named graphs in canonical order, blank nodes relabelled by RDFC-1.0, each with its N-Triples lines in
    canonical order (rdf:type marked, see :func:`_mark_types`)."""

    graphs: list[tuple[str, list[bytes]]]

    def nquads(self) -> bytes:
        """Every quad as N-Quads, in canonical order."""
        return b"".join(
            _unmark(lines).replace(b" .\n", f" <{name}> .\n".encode()) for name, lines in self.graphs
        )  # a raw newline only ever ends a line, so " .\n" is the end of each triple

    def union(self) -> bytes:
        """The distinct triples of all graphs as N-Triples, in canonical order."""
        lines = [line for _name, graph in self.graphs for line in graph]
        lines.sort()  # sorted runs, merged
        return _unmark(list(dict.fromkeys(lines)))


def canonical(ntriples: Mapping[str, bytes]) -> Canonical:
    """Named graphs given as N-Triples ({graph IRI: bytes}) in canonical order (see :class:`Canonical`)."""
    if any(b"_:" in data for data in ntriples.values()):
        ntriples = _relabelled(ntriples)
    graphs = []
    for name in sorted(ntriples, key=lambda name: f"<{name}>"):
        lines = _mark_types(ntriples[name]).split(b"\n")
        lines.pop()
        lines.sort()
        graphs.append((name, lines))
    return Canonical(graphs)


def _relabelled(ntriples: Mapping[str, bytes]) -> dict[str, bytes]:
    """Named graphs given as N-Triples with their blank nodes relabelled by RDFC-1.0 (across graphs)."""
    dataset = ox.Dataset(
        ox.Quad(t.subject, t.predicate, t.object, ox.NamedNode(name))
        for name, data in ntriples.items()
        for t in ox.parse(data, format=ox.RdfFormat.N_TRIPLES)
    )
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    return {
        name: ox.serialize([q.triple for q in dataset.quads_for_graph_name(ox.NamedNode(name))],
                           format=ox.RdfFormat.N_TRIPLES)
        for name in ntriples
    }


def _iris(quads: Iterable[ox.Quad]) -> Iterable[str]:
    for quad in quads:
        for term in quad:
            if isinstance(term, ox.NamedNode):
                yield term.value
            elif isinstance(term, ox.Literal):
                yield term.datatype.value


# Where a quad may use a namespace: an IRI starting with it, or for two namespaces the implicit datatype of a
# literal (xsd:string of a simple literal, rdf:langString of a tagged one).
_IMPLICIT = {PREFIXES["xsd"]: [b'" <'], PREFIXES["rdf"]: [b'"@']}


def _prefixes(nquads: bytes) -> dict[str, str]:
    """The project prefixes that some IRI of ``nquads`` (N-Quads) starts with, in PREFIXES order.

    Every prefix ends with "#" or "/", so an IRI starting with one is in its namespace. A candidate place in the
    bytes is confirmed by parsing its line (it may be inside a literal)."""
    def uses(namespace: str) -> bool:
        for marker in [b"<" + namespace.encode(), *_IMPLICIT.get(namespace, [])]:
            at = nquads.find(marker)
            while at >= 0:
                line = nquads[nquads.rfind(b"\n", 0, at) + 1:nquads.find(b"\n", at) + 1]
                if any(iri.startswith(namespace) for iri in _iris(ox.parse(line, format=ox.RdfFormat.N_QUADS))):
                    return True
                at = nquads.find(marker, at + 1)
        return False

    return {p: ns for p, ns in PREFIXES.items() if uses(ns)}


def _shortener(prefixes: Mapping[str, str]) -> Callable[[str], str]:
    """IRI → compact IRI with the first of ``prefixes`` it starts with (not the bare namespace), else itself."""
    cache: dict[str, str] = {}

    def short(iri: str) -> str:
        found = cache.get(iri)
        if found is None:
            found = next((f"{p}:{iri[len(ns):]}" for p, ns in prefixes.items() if iri.startswith(ns) and iri != ns), iri)
            if len(cache) < 100_000:  # predicates, classes and shared objects, not every subject
                cache[iri] = found
        return found

    return short


def _jsonld_value(term: ox.NamedNode | ox.BlankNode | ox.Literal, short: Callable[[str], str]) -> str:
    """One value object of a node, as json.dumps(indent=1) writes it at its depth."""
    if isinstance(term, ox.NamedNode):
        return '{\n       "@id": ' + _string(short(term.value)) + "\n      }"
    if isinstance(term, ox.BlankNode):
        return '{\n       "@id": ' + _string("_:" + term.value) + "\n      }"
    if term.language:
        head = '{\n       "@language": ' + _string(term.language) + ","
    elif term.datatype.value == _XSD_STRING:
        head = "{"
    else:
        head = '{\n       "@type": ' + _string(short(term.datatype.value)) + ","
    return head + '\n       "@value": ' + _string(term.value) + "\n      }"


def _jsonld_node(subject: ox.NamedNode | ox.BlankNode, groups: list[tuple[str, list]], short: Callable[[str], str]) -> str:
    """One node object: its id, then each predicate with its values; rdf:type as "@type" when all are nodes."""
    node = _string("_:" + subject.value if isinstance(subject, ox.BlankNode) else short(subject.value))
    parts = ['    {\n     "@id": ', node]
    for predicate, objects in groups:
        if predicate == _RDF_TYPE.value and not any(isinstance(o, ox.Literal) for o in objects):
            values = [_string("_:" + o.value if isinstance(o, ox.BlankNode) else short(o.value)) for o in objects]
            parts += [',\n     "@type": [\n      ', ",\n      ".join(values), "\n     ]"]
        else:
            values = [_jsonld_value(o, short) for o in objects]
            parts += [",\n     ", _string(short(predicate)), ": [\n      ", ",\n      ".join(values), "\n     ]"]
    parts.append("\n    }")
    return "".join(parts)


def _jsonld_graph(name: str, nodes: list[str], short: Callable[[str], str]) -> bytes:
    return ('  {\n   "@id": ' + _string(short(name)) + ',\n   "@graph": [\n' + ",\n".join(nodes) + "\n   ]\n  }").encode()


def _jsonld(nquads: bytes, prefixes: Mapping[str, str]) -> tuple[bytes, set[str]]:
    """JSON-LD of quads in canonical order, with ``prefixes`` as its context, and the IRIs of their predicates and
    classes.

    The bytes are those of json.dumps(indent=1, ensure_ascii=False) of {"@context": prefixes, "@graph": ...} where
    the graph is pyoxigraph's expanded JSON-LD of the quads (one node object per subject, predicates in order) with
    IRIs written as compact IRIs and rdf:type as "@type": written here node by node, without the document in
    memory, as its pure-Python encoder is far too slow for millions of quads.
    """
    short, used = _shortener(prefixes), set()
    graphs: list[bytes] = []
    nodes: list[str] = []
    groups: list[tuple[str, list]] = []
    graph = subject = predicate = None
    for quad in ox.parse(nquads, format=ox.RdfFormat.N_QUADS):
        if quad.graph_name != graph or quad.subject != subject:
            if groups:
                nodes.append(_jsonld_node(subject, groups, short))
                groups = []
            if quad.graph_name != graph and nodes:
                graphs.append(_jsonld_graph(graph.value, nodes, short))
                nodes = []
            graph, subject, predicate = quad.graph_name, quad.subject, None
        if quad.predicate.value != predicate:
            predicate = quad.predicate.value
            used.add(predicate)
            groups.append((predicate, []))
        groups[-1][1].append(quad.object)
        if predicate == _RDF_TYPE.value and isinstance(quad.object, ox.NamedNode):
            used.add(quad.object.value)
    if groups:
        nodes.append(_jsonld_node(subject, groups, short))
        graphs.append(_jsonld_graph(graph.value, nodes, short))
    context = json.dumps({"@context": dict(prefixes)}, ensure_ascii=False, indent=1)[:-2]
    body = b' "@graph": [\n' + b",\n".join(graphs) + b"\n ]\n}\n" if graphs else b' "@graph": []\n}\n'
    return context.encode() + b",\n" + body, used


def render(ntriples: Mapping[str, bytes], fmt: str) -> bytes:
    """Serialise named graphs given as N-Triples ({graph IRI: bytes}) in dump format ``fmt``, uncached.

    Raises BadRequest for an unknown format; SyntaxError for data that is not N-Triples.
    """
    name = format_name(fmt)
    rewritten = {g: ox.serialize(ox.parse(data, format=ox.RdfFormat.N_TRIPLES), format=ox.RdfFormat.N_TRIPLES)
                 for g, data in ntriples.items()}  # one triple a line, as pyoxigraph writes them
    ordered = canonical(rewritten)
    nquads = ordered.nquads()
    return _render(ordered, nquads, _prefixes(nquads), name)


def _render(ordered: Canonical, nquads: bytes, prefixes: dict[str, str], name: str) -> bytes:
    """Dump ``name`` of ``ordered``, whose N-Quads are ``nquads``."""
    if name == "nquads":
        return nquads
    if name == "turtle":
        triples = ox.parse(ordered.union(), format=ox.RdfFormat.N_TRIPLES)
        return ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes)
    if name == "jsonld":  # pyoxigraph 0.5 writes expanded JSON-LD and ignores prefixes
        return _jsonld(nquads, prefixes)[0]
    quads = ox.parse(nquads, format=ox.RdfFormat.N_QUADS)
    return ox.serialize(quads, format=FORMATS[name].rdf_format, prefixes=prefixes)


_CACHE: dict[tuple, Assembled] = {}


@dataclass(frozen=True)
class Assembled:
    """Named graphs as N-Triples, ready for a store, and the version of the inputs they come from."""

    ntriples: dict[str, bytes]
    counts: dict[str, int]
    version: str



def _inputs(config: Mapping[str, Any]) -> list[Path]:
    return [path for path, _graph, _fmt in loading.plan(config)]


def as_stated(kg: loading.KnowledgeGraph, config: Mapping[str, Any]) -> dict[str, bytes]:
    """Every graph of ``kg`` as N-Triples, with its literals as the files write them.

    The store keeps numbers in canonical form ("60.0" as "60", xsd:positiveInteger
    as xsd:integer), which is fine for queries but not for dumps and copies: so
    the files' graphs are parsed again here, and only the inferences come from
    the store. Raises BadInput for a file that changed since.
    """
    quads: dict[str, list[ox.Triple]] = {}
    for path, graph, fmt in loading.plan(config):
        for name, triple in loading.read_quads(path, graph, fmt):
            quads.setdefault(name, []).append(triple)
    graphs = {name: ox.serialize(list(dict.fromkeys(triples)), format=ox.RdfFormat.N_TRIPLES) for name, triples in quads.items()}
    inferred = str(INFERENCES_GRAPH)
    graphs[inferred] = kg.store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(inferred))
    return graphs


def assembled(config: Mapping[str, Any], kg: loading.KnowledgeGraph | None = None) -> Assembled:
    """The store :func:`build_store` fills (or ``kg``, already filled from ``config``), as N-Triples per graph with
    the files' literals (see :func:`as_stated`), kept for as long as no input file changes.

    Raises as :func:`fill`.
    """
    key = loading.fingerprint(_inputs(config))
    if key not in _CACHE:
        kg = kg or loading.build_store(config)
        _CACHE.clear()
        _CACHE[key] = Assembled(as_stated(kg, config), dict(kg.triples_per_graph), kg.version)
    return _CACHE[key]


# Bump when the bytes of the dumps change for the same data, so that dumps kept in DUMPS_DIR are built again.
DUMPS_LAYOUT = "1"


def dumps_dir(settings: Mapping[str, Any]) -> Path:
    """DUMPS_DIR, or ~/.cache/shiquan/dumps."""
    return Path(settings.get("DUMPS_DIR") or Path.home() / ".cache" / "shiquan" / "dumps")


def _folder(settings: Mapping[str, Any], version: str) -> Path:
    code = hashlib.sha256(Path(__file__).read_bytes() + DUMPS_LAYOUT.encode()).hexdigest()[:8]
    return dumps_dir(settings) / f"{version}-{code}"


def _read_manifest(folder: Path) -> Published | None:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    dumps = {d["format"]: Dump(d["format"], folder / d["filename"], manifest["version"], d["size"], d["sha256"])
             for d in manifest["dumps"]}
    return Published(folder, manifest["version"], manifest["counts"], manifest["ontologyVersion"],
                     manifest["ontologyVersionIRI"], manifest["vocabularies"], dumps)


def publish(kg: loading.KnowledgeGraph, settings: Mapping[str, Any]) -> Published:
    """The dumps of the prepared dataset ``kg`` (filled from ``settings``), written once per version.

    Concurrent callers, in this or other processes, wait for the one that writes them (a lock file), and a
    half-written folder is never seen (it is renamed into place). Raises BadInput when DUMPS_DIR cannot be
    written or a file changed since ``kg`` was loaded.
    """
    folder = _folder(settings, kg.version)
    found = _read_manifest(folder)
    if found is not None:
        return found
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with open(folder.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            found = _read_manifest(folder)
            if found is None:
                _write(kg, settings, folder)
                found = _read_manifest(folder)
    except OSError as exc:
        raise BadInput(f"cannot write the dumps: {exc.strerror}", str(folder)) from exc
    assert found is not None
    return found


def _write(kg: loading.KnowledgeGraph, settings: Mapping[str, Any], folder: Path) -> None:
    """Render every dump of ``kg`` into a new folder, then rename it to ``folder``."""
    ready = assembled(settings, kg)
    ordered = canonical(ready.ntriples)
    nquads = ordered.nquads()
    prefixes = _prefixes(nquads)
    work = Path(tempfile.mkdtemp(prefix=".writing-", dir=folder.parent))
    try:
        entries = []
        for name, spec in FORMATS.items():
            if name == "jsonld":
                data, used = _jsonld(nquads, prefixes)
            else:
                data = _render(ordered, nquads, prefixes, name)
            (work / f"shiquan.{spec.extension}").write_bytes(data)
            entries.append({"format": name, "filename": f"shiquan.{spec.extension}", "size": len(data),
                            "sha256": hashlib.sha256(data).hexdigest()})
        info, iri = _ontology_version(ready)
        manifest = {"version": ready.version, "counts": ready.counts, "ontologyVersion": info,
                    "ontologyVersionIRI": iri, "vocabularies": _vocabularies(used), "dumps": entries}
        (work / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def published(settings: Mapping[str, Any]) -> Published:
    """The dumps of the dataset ``settings`` name, in process (the command line and tests): read from DUMPS_DIR
    when this version was published before, else built from a new store. Raises as :func:`publish` and
    :func:`loading.build_store`."""
    found = _read_manifest(_folder(settings, loading.version_of(_inputs(settings))))
    return found if found is not None else publish(loading.build_store(settings), settings)


def dump_file(settings: Mapping[str, Any], fmt: str) -> Dump:
    """The whole dataset in format ``fmt`` (a FORMATS name, extension or media type), in process.

    Raises BadRequest for an unknown format; as :func:`published` otherwise.
    """
    return published(settings).dumps[format_name(fmt)]


def dump(settings: Mapping[str, Any], fmt: str) -> bytes:
    """The bytes of :func:`dump_file`. Raises as :func:`dump_file`."""
    return dump_file(settings, fmt).data


def dump_url(base_url: str, fmt: str) -> str:
    """Where the server at ``base_url`` serves the dump in ``fmt``. Raises BadRequest for an unknown format."""
    return base_url.rstrip("/") + "/" + DUMP_PATH.format(extension=FORMATS[format_name(fmt)].extension)


def _ontology_version(ready: Assembled) -> tuple[str | None, str | None]:
    """The ontology's (owl:versionInfo, owl:versionIRI) in the assembled data, None where absent."""
    info = iri = None
    data = ready.ntriples.get(str(ONTOLOGY_GRAPH), b"")
    for triple in ox.parse(data, format=ox.RdfFormat.N_TRIPLES):
        if triple.subject == ox.NamedNode(str(ONTOLOGY_IRI)):
            if triple.predicate.value == str(OWL.versionInfo):
                info = triple.object.value
            elif triple.predicate.value == str(OWL.versionIRI):
                iri = triple.object.value
    return info, iri


def _vocabularies(used: Iterable[str]) -> list[str]:
    """Namespace IRIs of ``used`` (the properties and classes the dump uses, as :func:`_jsonld` gives them), sorted."""
    return sorted({m.group(1) for iri in used if (m := _NAMESPACE.match(iri))})


def void(ready: Published, base_url: str, endpoint_url: str) -> Graph:
    """The VoID description of the dataset served at ``base_url`` with its SPARQL endpoint at ``endpoint_url``.

    The dataset ``id/dataset/shiquan`` has titles, licence, endpoint, one
    void:dataDump per format (each with its media type and SHA-256 checksum),
    its triple count, vocabularies, URI space and version, and one void:subset
    per named graph, all read off ``ready``.
    """
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
    g.add((DATASET, VOID.triples, Literal(ready.triples, datatype=XSD.integer)))
    for namespace in ready.vocabularies:
        g.add((DATASET, VOID.vocabulary, URIRef(namespace)))

    info, version_iri = ready.ontology_version, ready.ontology_version_iri
    g.add((ONTOLOGY_IRI, RDF.type, OWL.Ontology))
    if info:
        g.add((ONTOLOGY_IRI, OWL.versionInfo, Literal(info)))
    if version_iri:
        g.add((ONTOLOGY_IRI, OWL.versionIRI, URIRef(version_iri)))
    g.add((DATASET, DCTERMS.conformsTo, URIRef(version_iri) if version_iri else ONTOLOGY_IRI))

    for item in ready.dumps.values():
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
