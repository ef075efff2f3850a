"""Read RDF files into named graphs and fill the embedded pyoxigraph store.

Every file becomes one named graph, ``https://w3id.org/shiquan/graph/{file stem}``,
except quad files (TriG, N-Quads), whose graphs keep their own names. The ontology
files share ``graph/ontology``; OWL RL inferences go to ``graph/inferences``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

import pyoxigraph as ox
from rdflib import BNode, Graph, Literal, Node, URIRef

from . import reasoning
from .errors import BadInput
from .vocab import PREFIXES, graph_name

log = logging.getLogger(__name__)

# File extension → format name; the CLI's --format takes these names too.
FORMATS: dict[str, str] = {
    ".ttl": "turtle",
    ".nt": "nt",
    ".trig": "trig",
    ".nq": "nquads",
    ".jsonld": "json-ld",
    ".json": "json-ld",
    ".rdf": "xml",
    ".owl": "xml",
    ".xml": "xml",
}
FORMAT_NAMES = sorted(set(FORMATS.values()))
# Media type → format name, for uploads and for serialising with rdflib (whose names these are).
MEDIA_TYPES: dict[str, str] = {
    "text/turtle": "turtle",
    "application/x-turtle": "turtle",
    "application/n-triples": "nt",
    "application/trig": "trig",
    "application/n-quads": "nquads",
    "application/ld+json": "json-ld",
    "application/rdf+xml": "xml",
}
PARSERS = {
    "turtle": ox.RdfFormat.TURTLE,
    "nt": ox.RdfFormat.N_TRIPLES,
    "trig": ox.RdfFormat.TRIG,
    "nquads": ox.RdfFormat.N_QUADS,
    "json-ld": ox.RdfFormat.JSON_LD,
    "xml": ox.RdfFormat.RDF_XML,
}
XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
RDF_LANG_STRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"

ONTOLOGY_GRAPH = graph_name("ontology")
INFERENCES_GRAPH = graph_name("inferences")


def format_for(path: Path, fmt: str | None = None) -> str:
    """Return the rdflib format name for ``path``: ``fmt`` when given, else by extension.

    Raises BadInput for an unknown format or extension.
    """
    if fmt is not None:
        if fmt not in FORMAT_NAMES:
            raise BadInput(f"unknown format {fmt!r}; use one of {', '.join(FORMAT_NAMES)}", str(path))
        return fmt
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        known = ", ".join(sorted(FORMATS))
        raise BadInput(f"cannot tell the RDF format from the extension; use {known} or --format", str(path)) from None


def _refuse_remote_contexts(node: Any, source: str) -> None:
    """Refuse JSON-LD whose @context names a document to fetch: we never fetch."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                for ctx in value if isinstance(value, list) else [value]:
                    if isinstance(ctx, str):
                        raise BadInput(f"remote JSON-LD context {ctx!r} is not fetched; inline the context", source)
            _refuse_remote_contexts(value, source)
    elif isinstance(node, list):
        for item in node:
            _refuse_remote_contexts(item, source)


def _xml_error_line(data: bytes) -> int | None:
    """The line of the first XML well-formedness error (pyoxigraph's RDF/XML errors carry none)."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        return exc.lineno
    return None


def to_rdflib(term: Any) -> Node:
    """The rdflib term for a pyoxigraph term (xsd:string literals become plain literals, as rdflib parses them)."""
    if isinstance(term, ox.NamedNode):
        return URIRef(term.value)
    if isinstance(term, ox.BlankNode):
        return BNode(term.value)
    if isinstance(term, ox.Literal):
        if term.language:
            return Literal(term.value, lang=term.language)
        datatype = term.datatype.value
        return Literal(term.value) if datatype == XSD_STRING else Literal(term.value, datatype=URIRef(datatype))
    raise ValueError(f"RDF-star triple terms are not supported: {term}")


def parse_bytes(data: bytes, fmt: str, source: str, default_graph: URIRef) -> dict[URIRef, Graph]:
    """Parse RDF ``data`` in format ``fmt`` (a name of FORMAT_NAMES) into named graphs.

    Triples outside any named graph go to ``default_graph``. Nothing is fetched
    from the network: remote JSON-LD contexts are refused, and XML external
    entities are not resolved.
    Raises BadInput naming ``source`` and the line the parser stopped at.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInput(f"not UTF-8 (byte {exc.start})", source, line) from exc
    if fmt == "json-ld":
        try:
            _refuse_remote_contexts(json.loads(text), source)
        except json.JSONDecodeError as exc:
            raise BadInput(f"JSON syntax error: {exc.msg}", source, exc.lineno) from exc
        except RecursionError as exc:
            raise BadInput("JSON nested too deeply to read", source) from exc
    graphs: dict[URIRef, Graph] = {}
    try:
        for quad in ox.parse(data, format=PARSERS[fmt], base_iri=str(default_graph)):
            name = quad.graph_name
            key = URIRef(name.value) if isinstance(name, ox.NamedNode) else default_graph
            graph = graphs.get(key)
            if graph is None:
                graph = graphs[key] = Graph(identifier=key)
            graph.add((to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object)))
    except SyntaxError as exc:  # pyoxigraph: "Parser error at line 3 column 2: …", lineno set
        message = re.sub(r"^Parser error at line \d+( between columns \d+ and \d+| column \d+)?: ", "", exc.msg)
        line = exc.lineno if exc.lineno is not None or fmt != "xml" else _xml_error_line(data)
        raise BadInput(f"syntax error: {message}", source, line) from exc
    except ValueError as exc:
        raise BadInput(str(exc), source) from exc
    return graphs


def read_file(path: Path, fmt: str | None = None, graph: URIRef | None = None) -> dict[URIRef, Graph]:
    """Parse one RDF file into named graphs (see :func:`parse_bytes`).

    The default graph name is ``graph/{file stem}`` (lower-cased, other
    characters turned into hyphens) unless ``graph`` is given.
    Raises BadInput for an unreadable file, unknown format or bad RDF.
    """
    fmt = format_for(path, fmt)
    if graph is None:
        graph = graph_name(re.sub(r"[^a-z0-9]+", "-", path.name.split(".")[0].lower()).strip("-") or "data")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read: {exc.strerror}", str(path)) from exc
    return parse_bytes(data, fmt, str(path), graph)


def rdf_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders (not recursively) into the RDF files they hold, sorted.

    Raises BadInput for a path that does not exist.
    """
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in FORMATS))
        elif path.exists():
            files.append(path)
        else:
            raise BadInput("no such file or folder", str(path))
    return files


def merge_into(target: dict[URIRef, Graph], graphs: Mapping[URIRef, Graph]) -> None:
    """Add each named graph of ``graphs`` to ``target``, merging graphs of one name."""
    for name, graph in graphs.items():
        if name in target:
            target[name] += graph
        else:
            target[name] = graph


def read_paths(paths: Iterable[str | Path], fmt: str | None = None) -> dict[URIRef, Graph]:
    """Parse every RDF file under ``paths`` into named graphs. Raises BadInput."""
    graphs: dict[URIRef, Graph] = {}
    for path in rdf_files(paths):
        merge_into(graphs, read_file(path, fmt))
    return graphs


def read_ontology(config: Mapping[str, Any]) -> Graph:
    """The ontology and its alignments as one graph. Raises BadInput."""
    graph = Graph(identifier=ONTOLOGY_GRAPH)
    for path in rdf_files([config["ONTOLOGY_DIR"]]):
        for part in read_file(path, graph=ONTOLOGY_GRAPH).values():
            graph += part
    return graph


def read_shapes(config: Mapping[str, Any]) -> Graph:
    """All SHACL shapes as one graph. Raises BadInput."""
    graph = Graph()
    for path in rdf_files([config["SHAPES_DIR"]]):
        for part in read_file(path, graph=graph_name("shapes")).values():
            graph += part
    return graph


def union(graphs: Iterable[Graph]) -> Graph:
    """One graph holding the triples of all ``graphs``."""
    result = Graph()
    for graph in graphs:
        result += graph
    for prefix, ns in PREFIXES.items():
        result.bind(prefix, ns)
    return result


@dataclass
class KnowledgeGraph:
    """The embedded store and what was loaded into it."""

    store: ox.Store
    triples_per_graph: dict[str, int] = field(default_factory=dict)
    load_seconds: float = 0.0
    version: str = ""

    @property
    def triple_count(self) -> int:
        return sum(self.triples_per_graph.values())


@dataclass(frozen=True)
class Assembled:
    """Named graphs as N-Triples, ready for a store, and the version of the inputs they come from."""

    ntriples: dict[str, bytes]
    counts: dict[str, int]
    version: str


_CACHE: dict[tuple, Assembled] = {}


def _inputs(config: Mapping[str, Any]) -> list[Path]:
    return rdf_files([config["ONTOLOGY_DIR"]]) + rdf_files(config["DATA_PATHS"])


def assemble(config: Mapping[str, Any]) -> dict[URIRef, Graph]:
    """Ontology, data and OWL RL inferences as named graphs, ready for a store.

    Raises BadInput for unreadable files and InconsistentGraph when the
    closure finds a contradiction.
    """
    graphs: dict[URIRef, Graph] = {ONTOLOGY_GRAPH: read_ontology(config)}
    merge_into(graphs, read_paths(config["DATA_PATHS"]))
    graphs[INFERENCES_GRAPH] = reasoning.infer(union(graphs.values()))
    return graphs


def fingerprint(files: list[Path]) -> tuple:
    """What identifies the current contents of ``files`` without reading them: paths, sizes, modification times."""
    return tuple((str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


def assembled(config: Mapping[str, Any]) -> Assembled:
    """:func:`assemble`, serialised, and kept for as long as no input file changes.

    The version is a hash of the input files' bytes, so it changes exactly when
    the data does. Raises BadInput and InconsistentGraph.
    """
    files = _inputs(config)
    key = fingerprint(files)
    if key not in _CACHE:
        digest = hashlib.sha256()
        for path in files:
            digest.update(str(path.name).encode() + b"\0" + path.read_bytes() + b"\0")
        graphs = assemble(config)
        _CACHE.clear()
        _CACHE[key] = Assembled(
            {str(name): graph.serialize(format="nt", encoding="utf-8") for name, graph in graphs.items()},
            {str(name): len(graph) for name, graph in graphs.items()},
            digest.hexdigest()[:16],
        )
    return _CACHE[key]


def build_store(config: Mapping[str, Any], path: str | None = None) -> KnowledgeGraph:
    """Load the ontology, the data and the OWL RL inferences into a store.

    The store is in memory, or on disk at ``path`` (emptied first).
    Raises BadInput and InconsistentGraph (see :func:`assemble`).
    """
    started = time.perf_counter()
    ready = assembled(config)
    store = ox.Store(path) if path else ox.Store()
    if path:
        store.clear()
    for name in sorted(ready.ntriples):
        store.bulk_load(ready.ntriples[name], format=ox.RdfFormat.N_TRIPLES, to_graph=ox.NamedNode(name))
    if path:
        store.flush()
    kg = KnowledgeGraph(store, dict(ready.counts), time.perf_counter() - started, ready.version)
    log.info("loaded %d triples in %d graphs in %.2f s", kg.triple_count, len(kg.triples_per_graph), kg.load_seconds)
    return kg
