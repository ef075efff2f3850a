"""Dumps of the whole dataset and its VoID description.

A dump holds every named graph the store is loaded from — ontology, data and OWL
RL inferences, as :func:`assembled` gives them — as TriG, N-Quads or
JSON-LD (graph names kept) or Turtle (the union of all graphs). The bytes depend
only on the input files: blank nodes get canonical labels (RDFC-1.0) and quads
are sorted, so the same data always gives the same file and the same checksum.

The dumps of a dataset version are built once, by :func:`publish`, from the prepared store (in a query worker
when the server asks: never in the web process), and kept as files in DUMPS_DIR/<key>/ with a manifest (version,
counts, sizes, checksums, ontology version, vocabularies); the web adapter only reads those files.
``shiquan export`` (:func:`published`) has no store: it parses, sorts and writes the files' graphs while a forked
process loads and infers (or reads a kept store of the same version), then renders the four files in two
processes, each graph's N-Quads a piece of their own (national17, 4.5 M quads: 101.5 s before, on the quiet
machine; see the README's Performance section for the figures after).
"""

from __future__ import annotations

import errno
import fcntl
import functools
import hashlib
import io
import itertools
import json
import multiprocessing
import operator
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from multiprocessing.connection import Connection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pyoxigraph as ox
from rdflib import OWL, RDF, XSD, BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCTERMS, FOAF

from shiquan import formats
from shiquan.graph import loading, store_cache
from shiquan.publish.description import SD, VOID, W3C
from shiquan.errors import BadInput, BadRequest, ShiquanError
from shiquan.vocab import ID, INFERENCES_GRAPH, ONTOLOGY_GRAPH, ONTOLOGY_IRI, PREFIXES

T = TypeVar("T")
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
_TYPE_MARK, _TYPE_IRI = _TYPE_FIRST[1:-1], _TYPE_PREDICATE[2:-2]  # rdf:type as a marked predicate, and its IRI


def _mark_types(ntriples: bytes) -> bytes:
    """``ntriples`` with each rdf:type in predicate position written as _TYPE_FIRST (not in an object or literal)."""
    found, at = [], ntriples.find(_TYPE_PREDICATE)
    while at >= 0:  # a predicate starts at the first space of its line
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
        return b"".join(_quads(name, lines) for name, lines in self.graphs)

    def union(self) -> list[bytes]:
        """The distinct triples of all graphs as N-Triples, in canonical order, in pieces of whole lines."""
        lines = [line for _name, graph in self.graphs for line in graph]
        lines.sort()  # sorted runs, merged
        # equal lines are neighbours once sorted: national3's 0.89 M lines in 0.18 s, against 0.53 s with a dict
        lines = list(map(operator.itemgetter(0), itertools.groupby(lines)))
        return [_unmark(lines[at:at + _PIECE]) for at in range(0, len(lines), _PIECE)]


_PIECE = 1 << 16  # lines in a piece of the union: never one object of 1.3 GB (national17)


def _quads(name: str, lines: list[bytes]) -> bytes:
    """The lines of graph ``name`` (see :func:`_mark_types`) as N-Quads."""
    # a raw newline only ever ends a line, so " .\n" is the end of each triple
    return _unmark(lines).replace(b" .\n", f" <{name}> .\n".encode())


def canonical(ntriples: Mapping[str, bytes]) -> Canonical:
    """Named graphs given as N-Triples ({graph IRI: bytes}) in canonical order (see :class:`Canonical`)."""
    if _has_blank_nodes(ntriples.values()):
        ntriples = _relabelled(ntriples)
    return Canonical(_in_order({name: _sorted(data) for name, data in ntriples.items()}))


def _has_blank_nodes(ntriples: Iterable[bytes]) -> bool:
    """Whether some graph may hold a blank node (then all are relabelled together, see :func:`_relabelled`)."""
    return any(b"_:" in data for data in ntriples)


def _sorted(ntriples: bytes) -> list[bytes]:
    """The lines of one graph's N-Triples, rdf:type marked (:func:`_mark_types`), sorted."""
    lines = _mark_types(ntriples).split(b"\n")
    lines.pop()
    lines.sort()
    return lines


def _in_order(graphs: Mapping[str, list[bytes]]) -> list[tuple[str, list[bytes]]]:
    """``graphs`` ({name: lines}) in canonical order, by "<name>" (so that <g-2> comes before <g>)."""
    return [(name, graphs[name]) for name in sorted(graphs, key=lambda name: f"<{name}>")]


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


def _prefixes(nquads: Iterable[bytes]) -> dict[str, str]:
    """The project prefixes that some IRI of ``nquads`` (N-Quads, in pieces of whole lines) starts with, in
    PREFIXES order.

    Every prefix ends with "#" or "/", so an IRI starting with one is in its namespace. A candidate place in the
    bytes is confirmed by parsing its line (it may be inside a literal)."""
    def uses(namespace: str, piece: bytes) -> bool:
        for marker in [b"<" + namespace.encode(), *_IMPLICIT.get(namespace, [])]:
            at = piece.find(marker)
            while at >= 0:
                line = piece[piece.rfind(b"\n", 0, at) + 1:piece.find(b"\n", at) + 1]
                if any(iri.startswith(namespace) for iri in _iris(ox.parse(line, format=ox.RdfFormat.N_QUADS))):
                    return True
                at = piece.find(marker, at + 1)
        return False

    pieces = list(nquads)
    return {p: ns for p, ns in PREFIXES.items() if any(uses(ns, piece) for piece in pieces)}


def _shortener(prefixes: Mapping[str, str]) -> Callable[[bytes], bytes]:
    """IRI → compact IRI with the first of ``prefixes`` it starts with (not the bare namespace), else itself; in
    UTF-8."""
    pairs = [(p.encode() + b":", ns.encode()) for p, ns in prefixes.items()]
    namespaces = tuple(ns for _p, ns in pairs)
    cache: dict[bytes, bytes] = {}

    def short(iri: bytes) -> bytes:
        found = cache.get(iri)  # first: most IRIs met are predicates, classes and shared objects
        if found is None:
            if not iri.startswith(namespaces):
                return iri
            found = next((p + iri[len(ns):] for p, ns in pairs if iri.startswith(ns) and iri != ns), iri)
            if len(cache) < 100_000:  # predicates, classes and shared objects, not every IRI
                cache[iri] = found
        return found

    return short


def _node_id(term: bytes, short: Callable[[bytes], bytes]) -> bytes:
    """A subject or object of an N-Triples line as its JSON-LD "@id" (valid IRIs need no JSON escape)."""
    return short(term[1:-1]) if term.startswith(b"<") else term


def _json_literal(term: bytes) -> bytes:
    """The lexical form of a literal of an N-Triples line as a JSON string. Without a \\u escape (every control
    character but \\b \\t \\n \\f \\r, and DEL) the N-Triples escapes are the JSON ones."""
    body = term[:term.rindex(b'"') + 1]
    if b"\\u" in body or b"\\U" in body:
        literal = next(ox.parse(b"<http://s> <http://p> " + term + b" .", format=ox.RdfFormat.N_TRIPLES)).object
        return _string(literal.value).encode()
    return body


def _jsonld_value(term: bytes, short: Callable[[bytes], bytes]) -> bytes:
    """One value object of a node, as json.dumps(indent=1) writes it at its depth."""
    if term.endswith(b'"'):  # a simple literal, the most common value
        return b'{\n       "@value": ' + _json_literal(term) + b"\n      }"
    if not term.startswith(b'"'):
        return b'{\n       "@id": "' + _node_id(term, short) + b'"\n      }'
    suffix = term[term.rindex(b'"') + 1:]
    if suffix.startswith(b"@"):
        head = b'{\n       "@language": "' + suffix[1:] + b'",'
    elif suffix:
        head = b'{\n       "@type": "' + short(suffix[3:-1]) + b'",'
    else:
        head = b"{"
    return head + b'\n       "@value": ' + _json_literal(term) + b"\n      }"


def _jsonld_text(term: bytes, short: Callable[[bytes], bytes], texts: dict[bytes, bytes]) -> bytes:
    """:func:`_jsonld_value`, kept in ``texts`` for IRIs (while it holds fewer than 200,000)."""
    if not term.startswith(b"<"):
        return _jsonld_value(term, short)
    text = b'{\n       "@id": "' + short(term[1:-1]) + b'"\n      }'
    if len(texts) < 200_000:
        texts[term] = text
    return text


def _jsonld_node(subject: bytes, groups: list[tuple[bytes, list[bytes]]], short: Callable[[bytes], bytes],
                 texts: dict[bytes, bytes]) -> bytes:
    """One node object: its id, then each predicate with its values; rdf:type as "@type" when all are nodes.
    ``texts`` keeps the text of values met before (IRIs mostly: classes, levels, matters)."""
    parts = [b'    {\n     "@id": "', _node_id(subject, short), b'"']
    for predicate, objects in groups:
        if predicate == _TYPE_MARK and not any(o.startswith(b'"') for o in objects):
            values = [b'"' + _node_id(o, short) + b'"' for o in objects]
            parts += [b',\n     "@type": [\n      ', b",\n      ".join(values), b"\n     ]"]
        else:
            iri = _TYPE_IRI if predicate == _TYPE_MARK else predicate[1:-1]
            values = [texts.get(o) or _jsonld_text(o, short, texts) for o in objects]
            parts += [b',\n     "', short(iri), b'": [\n      ', b",\n      ".join(values), b"\n     ]"]
    parts.append(b"\n    }")
    return b"".join(parts)


def _jsonld_graph(name: str, lines: list[bytes], short: Callable[[bytes], bytes], used: set[bytes],
                  texts: dict[bytes, bytes]) -> bytes:
    """One graph object, from its lines in canonical order (see :func:`_mark_types`); adds the IRIs of its
    predicates and classes to ``used``."""
    nodes, groups = [], []
    subject = predicate = None
    for line in lines:
        s, p, o = line[:-2].split(b" ", 2)
        if s != subject:
            if groups:
                nodes.append(_jsonld_node(subject, groups, short, texts))
            subject, predicate, groups = s, None, []
        if p != predicate:
            predicate, objects = p, []
            groups.append((p, objects))
            used.add(p)
        objects.append(o)
        if p == _TYPE_MARK and o.startswith(b"<"):
            used.add(o)
    nodes.append(_jsonld_node(subject, groups, short, texts))
    head = b'  {\n   "@id": "' + short(name.encode()) + b'",\n   "@graph": [\n'
    return head + b",\n".join(nodes) + b"\n   ]\n  }"


def _jsonld(ordered: Canonical, prefixes: Mapping[str, str]) -> tuple[bytes, set[str]]:
    """JSON-LD of ``ordered`` with ``prefixes`` as its context, and the IRIs of its predicates and classes.

    The bytes are those of json.dumps(indent=1, ensure_ascii=False) of {"@context": prefixes, "@graph": ...} where
    the graph is pyoxigraph's expanded JSON-LD of the quads in canonical order (one node object per subject,
    predicates in order) with IRIs written as compact IRIs and rdf:type as "@type": written here from the N-Triples
    lines, node by node, as that encoder (pure Python with indent) takes minutes on millions of quads.
    """
    short, used, texts = _shortener(prefixes), set(), {}
    graphs = [_jsonld_graph(name, lines, short, used, texts) for name, lines in ordered.graphs if lines]
    context = json.dumps({"@context": dict(prefixes)}, ensure_ascii=False, indent=1)[:-2]
    body = b' "@graph": [\n' + b",\n".join(graphs) + b"\n ]\n}\n" if graphs else b' "@graph": []\n}\n'
    iris = {(_TYPE_IRI if iri == _TYPE_MARK else iri[1:-1]).decode() for iri in used}
    return context.encode() + b",\n" + body, iris


def render(ntriples: Mapping[str, bytes], fmt: str) -> bytes:
    """Serialise named graphs given as N-Triples ({graph IRI: bytes}) in dump format ``fmt``, uncached.

    Raises BadRequest for an unknown format; SyntaxError for data that is not N-Triples.
    """
    name = format_name(fmt)
    rewritten = {g: ox.serialize(ox.parse(data, format=ox.RdfFormat.N_TRIPLES), format=ox.RdfFormat.N_TRIPLES)
                 for g, data in ntriples.items()}  # one triple a line, as pyoxigraph writes them
    ordered = canonical(rewritten)
    nquads = ordered.nquads()
    return b"".join(_render(ordered, [nquads], _prefixes([nquads]), name))


def _render(ordered: Canonical, nquads: list[bytes], prefixes: dict[str, str], name: str) -> list[bytes]:
    """Dump ``name`` of ``ordered``, whose N-Quads are the pieces ``nquads``, in pieces (never joined: national17's
    N-Quads are 1.3 GB)."""
    if name == "nquads":
        return nquads
    if name == "turtle":
        triples = ox.parse(input=_Pieces(ordered.union()), format=ox.RdfFormat.N_TRIPLES, lenient=True)
        return [ox.serialize(triples, format=ox.RdfFormat.TURTLE, prefixes=prefixes)]
    if name == "jsonld":  # pyoxigraph 0.5 writes expanded JSON-LD and ignores prefixes
        return [_jsonld(ordered, prefixes)[0]]
    # pyoxigraph wrote them: no need to check
    quads = ox.parse(input=_Pieces(nquads), format=ox.RdfFormat.N_QUADS, lenient=True)
    return [ox.serialize(quads, format=FORMATS[name].rdf_format, prefixes=prefixes)]


class _Pieces(io.RawIOBase):
    """A binary stream reading ``pieces`` one after the other, without joining them."""

    def __init__(self, pieces: list[bytes]) -> None:
        super().__init__()
        self._pieces, self._index, self._at = pieces, 0, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while self._index < len(self._pieces) and self._at == len(self._pieces[self._index]):
            self._index, self._at = self._index + 1, 0
        if self._index == len(self._pieces):
            return 0
        piece = self._pieces[self._index]
        size = min(len(buffer), len(piece) - self._at)
        buffer[:size] = piece[self._at:self._at + size]
        self._at += size
        return size


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
    the files' graphs are parsed again here (:func:`_stated`), and only the inferences come from
    the store. Raises BadInput for a file that changed since.
    """
    graphs = _stated(config)
    inferred = str(INFERENCES_GRAPH)
    graphs[inferred] = kg.store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(inferred))
    return graphs


def _stated(config: Mapping[str, Any]) -> dict[str, bytes]:
    """The graphs of the ontology and data files of ``config`` as N-Triples, each triple once, literals as
    written, parsed strictly. Raises BadInput naming the file and line of the first error."""
    quads: dict[str, list[ox.Triple]] = {}
    for path, graph, fmt in loading.plan(config):
        for name, triple in loading.read_quads(path, graph, fmt):
            triples = quads.get(name)
            if triples is None:
                triples = quads[name] = []
            triples.append(triple)
    return {name: ox.serialize(list(dict.fromkeys(triples)), format=ox.RdfFormat.N_TRIPLES)
            for name, triples in quads.items()}


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


def file_sha256(path: Path) -> str:
    """The SHA-256 of the file at ``path`` (hex), read in pieces. Raises OSError."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 24):
            digest.update(chunk)
    return digest.hexdigest()


def dumps_dir(settings: Mapping[str, Any]) -> Path:
    """DUMPS_DIR, or ~/.cache/shiquan/dumps."""
    return Path(settings.get("DUMPS_DIR") or Path.home() / ".cache" / "shiquan" / "dumps")


@functools.cache
def code_hash(sources: tuple[Path, ...], layout: str) -> str:
    """A short hash of the bytes of ``sources`` (the modules that write and read a published folder) and its
    ``layout`` version: part of the folder's name, so that files written by other code are written again. Read once
    per process. Raises OSError when a source cannot be read."""
    return hashlib.sha256(b"".join(path.read_bytes() for path in sources) + layout.encode()).hexdigest()[:8]


def _folder(settings: Mapping[str, Any], version: str) -> Path:
    return dumps_dir(settings) / f"{version}-{code_hash((Path(__file__),), DUMPS_LAYOUT)}"


def _read_manifest(folder: Path) -> Published | None:
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    dumps = {d["format"]: Dump(d["format"], folder / d["filename"], manifest["version"], d["size"], d["sha256"])
             for d in manifest["dumps"]}
    return Published(folder, manifest["version"], manifest["counts"], manifest["ontologyVersion"],
                     manifest["ontologyVersionIRI"], manifest["vocabularies"], dumps)


def publish(kg: loading.KnowledgeGraph, settings: Mapping[str, Any], processes: int = 1) -> Published:
    """The dumps of the prepared dataset ``kg`` (filled from ``settings``), written once per version, rendered in
    ``processes`` processes (forked: 1 in a query worker, whose memory the watchdog measures).

    Concurrent callers, in this or other processes, wait for the one that writes them, and a half-written folder is
    never seen (:func:`written_once`). Raises BadInput when DUMPS_DIR cannot be written or a file changed since
    ``kg`` was loaded.
    """
    return _publish(settings, kg.version, lambda: _ordered(assembled(settings, kg)), processes)


def _publish(settings: Mapping[str, Any], version: str, ready: Callable[[], _Ordered], processes: int) -> Published:
    """:func:`publish` of the dataset of ``version``, assembled by ``ready`` only when its dumps are not written yet.
    Raises BadInput when DUMPS_DIR cannot be written; what ``ready`` raises."""
    folder = _folder(settings, version)
    try:
        return written_once(folder, _read_manifest, lambda work: _write(ready(), work, processes))
    except OSError as exc:
        raise BadInput(f"cannot write the dumps: {exc.strerror}", str(folder)) from exc


# A folder being written by :func:`written_once` starts with this; it is never read (a writer killed halfway leaves
# one behind, which the next writer of the same folder removes).
PARTIAL = ".partial-"


def written_once(folder: Path, read: Callable[[Path], T | None], write: Callable[[Path], None]) -> T:
    """What ``read`` finds in ``folder`` (None: nothing whole there), after ``write`` has filled it when it was not
    there: the files of one dataset version, published once (the dumps, the tables of every ruling).

    ``write`` fills a new ``.partial-`` folder beside ``folder``, which is then renamed into place, so that a
    half-written folder is never read; concurrent callers, in this or other processes, wait for the one writing
    (``folder``.lock) and then read what it wrote. Raises OSError, and what ``write`` raises (nothing is left).
    """
    found = read(folder)
    if found is not None:
        return found
    folder.parent.mkdir(parents=True, exist_ok=True)
    with open(folder.with_name(folder.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        found = read(folder)
        if found is None:
            for stale in folder.parent.glob(f"{PARTIAL}{folder.name}-*"):  # a writer's, killed: writers hold the lock
                shutil.rmtree(stale, ignore_errors=True)
            work = Path(tempfile.mkdtemp(prefix=f"{PARTIAL}{folder.name}-", dir=folder.parent))
            try:
                write(work)
                os.replace(work, folder)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            found = read(folder)
    if found is None:
        raise OSError(errno.EIO, f"{folder} was written but cannot be read back")
    return found


@dataclass(frozen=True)
class _Ordered:
    """Assembled data in canonical order, with its N-Quads and the prefixes they use: what the dumps are rendered
    from."""

    ready: Assembled
    ordered: Canonical
    nquads: list[bytes]  # each graph's, in order
    prefixes: dict[str, str]


def _ordered(ready: Assembled) -> _Ordered:
    """``ready`` in canonical order, with its N-Quads and prefixes."""
    ordered = canonical(ready.ntriples)
    nquads = [_quads(name, lines) for name, lines in ordered.graphs]
    return _Ordered(ready, ordered, nquads, _prefixes(nquads))


def _write(source: _Ordered, work: Path, processes: int) -> None:
    """Render every dump of ``source`` and the manifest into the folder ``work``. Raises OSError."""
    ready = source.ready
    written = _render_files(_Job(source.ordered, source.nquads, source.prefixes, work), processes)
    info, iri = _ontology_version(ready)
    manifest = {"version": ready.version, "counts": ready.counts, "ontologyVersion": info,
                "ontologyVersionIRI": iri, "vocabularies": _vocabularies(written["jsonld"][1]),
                "dumps": [written[name][0] for name in FORMATS]}
    (work / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")


@dataclass(frozen=True)
class _Job:
    """What every dump is rendered from, and the folder they are written to."""

    ordered: Canonical
    nquads: list[bytes]
    prefixes: dict[str, str]
    folder: Path


# The job of the processes forked by _render_files: they inherit it (nothing is sent to them but a format name).
_JOB: _Job | None = None
# Longest first, so that two processes finish together (CPU time on national3, 0.9 M quads, load average 6:
# JSON-LD 3.3 s, Turtle 2.6 s with the union's sort, TriG 1.2 s, N-Quads only written).
_BY_LENGTH = ("jsonld", "turtle", "trig", "nquads")


def _render_files(job: _Job, processes: int) -> dict[str, tuple[dict[str, Any], set[str]]]:
    """Each dump of ``job`` written, by format name: (its manifest entry, the IRIs it uses or an empty set), in
    ``processes`` forked processes. Raises OSError."""
    global _JOB
    if processes <= 1:
        return {name: _render_file(name, job) for name in _BY_LENGTH}
    _JOB = job
    try:
        with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
            return dict(zip(_BY_LENGTH, pool.map(_render_file, _BY_LENGTH)))
    finally:
        _JOB = None


def _render_file(name: str, job: _Job | None = None) -> tuple[dict[str, Any], set[str]]:
    """Dump ``name`` of ``job`` (else of _JOB) written to its folder: its manifest entry, and for JSON-LD the IRIs
    of the predicates and classes. Raises OSError."""
    job = job or _JOB
    assert job is not None
    used: set[str] = set()
    if name == "jsonld":
        data, used = _jsonld(job.ordered, job.prefixes)
        pieces = [data]
    else:
        pieces = _render(job.ordered, job.nquads, job.prefixes, name)
    filename = f"shiquan.{FORMATS[name].extension}"
    digest, size = hashlib.sha256(), 0
    with open(job.folder / filename, "wb") as out:
        for piece in pieces:
            out.write(piece)
            digest.update(piece)
            size += len(piece)
    return {"format": name, "filename": filename, "size": size, "sha256": digest.hexdigest()}, used


def published(settings: Mapping[str, Any]) -> Published:
    """The dumps of the dataset ``settings`` name, in process (the command line and tests): read from DUMPS_DIR
    when this version was published before, else built cold (:func:`_cold`), rendered in two processes. Raises
    as :func:`publish` and :func:`loading.build_store`."""
    with _Inferring(settings) as inferring:  # started at once: it needs seconds, the version below a few
        version = loading.version_of(_inputs(settings))
        return _publish(settings, version, lambda: _cold(settings, version, inferring), processes=2)


def _cold(settings: Mapping[str, Any], version: str, inferring: _Inferring) -> _Ordered:
    """What :func:`_ordered` makes of :func:`assembled`, without a store in this process: the files are parsed
    strictly, sorted and written as N-Quads here while a forked process loads them into a store and infers
    (:class:`_Inferring`), on the other core; then the inferences join them. Raises BadInput for a bad file,
    InconsistentGraph for inconsistent data."""
    for path, graph, fmt in loading.plan(settings):
        if loading.format_for(path, fmt) == "json-ld":  # as loading.check_file: remote contexts, nesting, JSON errors
            loading.parse_bytes(path.read_bytes(), "json-ld", str(path), URIRef(graph))
    inferences = str(INFERENCES_GRAPH)
    stated = _stated(settings)
    stated.pop(inferences, None)  # the store's inferences stand for a graph of that name in the files
    if _has_blank_nodes(stated.values()):  # labelled across all graphs: once the inferences are there
        inferred, counts = inferring.result()
        return _ordered(Assembled({**stated, inferences: inferred}, counts, version))
    graphs = {name: _sorted(data) for name, data in stated.items()}
    quads = {name: _quads(name, lines) for name, lines in graphs.items()}
    prefixes = _prefixes(quads.values())
    inferred, counts = inferring.result()
    ready = Assembled({**stated, inferences: inferred}, counts, version)
    if _has_blank_nodes([inferred]):
        return _ordered(ready)
    graphs[inferences] = _sorted(inferred)
    quads[inferences] = _quads(inferences, graphs[inferences])
    prefixes.update(_prefixes([quads[inferences]]))  # a prefix is used when some graph uses it
    ordered = Canonical(_in_order(graphs))
    nquads = [quads[name] for name, _lines in ordered.graphs]
    return _Ordered(ready, ordered, nquads, {p: ns for p, ns in PREFIXES.items() if p in prefixes})


class _Inferring:
    """The store's part of a cold export, in a forked process while this one reads the files: the inferences
    graph as N-Triples and the triples per graph, from a kept store of this dataset (graph.store_cache) when there
    is one, else from a new store filled with the files and inferred. Use as a context manager: leaving it ends
    the process."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        context = multiprocessing.get_context("fork")
        self._answers, answer = context.Pipe(duplex=False)
        self._process = context.Process(target=_inferring_main, args=(dict(settings), answer), daemon=True)
        self._process.start()
        answer.close()

    def __enter__(self) -> _Inferring:
        return self

    def __exit__(self, *_exc: object) -> None:
        if self._process.is_alive():
            self._process.kill()
        self._process.join()
        self._answers.close()

    def result(self) -> tuple[bytes, dict[str, int]]:
        """(the inferences graph as N-Triples, triples per graph). Raises what the process raised (BadInput,
        InconsistentGraph), ShiquanError when it died."""
        try:
            status, value = self._answers.recv()
            if status == "error":
                raise value
            return self._answers.recv_bytes(), value
        except EOFError:
            self._process.join()
            raise ShiquanError(f"preparing the store failed (exit code {self._process.exitcode})") from None


def _inferring_main(settings: dict[str, Any], answer: Connection) -> None:
    """The process of :class:`_Inferring`: sends ("ok", counts) then the inferences' bytes, or ("error", exc)."""
    try:
        entry = store_cache.find(settings)
        if entry is not None:
            store, counts = ox.Store.read_only(entry.store), entry.counts
        else:
            store, counts = _inferred_store(settings)
        data = store.dump(format=ox.RdfFormat.N_TRIPLES, from_graph=ox.NamedNode(str(INFERENCES_GRAPH)))
    except ShiquanError as exc:
        answer.send(("error", exc))
        return
    except Exception as exc:  # noqa: BLE001 - crosses to the parent as what it is
        answer.send(("error", ShiquanError(f"preparing the store failed: {exc!r}")))
        return
    answer.send(("ok", counts))
    answer.send_bytes(data)


def _inferred_store(settings: Mapping[str, Any]) -> tuple[ox.Store, dict[str, int]]:
    """A store filled with the files of ``settings`` as loading.fill fills it, and the triples per graph, but
    read leniently and without fill's checking process: :func:`_cold` parses every file strictly meanwhile.
    Raises BadInput, InconsistentGraph."""
    store = ox.Store()
    loading.load_files(store, loading.plan(settings))
    loading.infer_in(store, settings, threads=loading.cores())
    return store, loading.graph_counts(store, loading.cores())


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
