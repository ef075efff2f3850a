"""Read RDF files into named graphs and fill the embedded pyoxigraph store.

Every file becomes one named graph, ``https://w3id.org/shiquan/graph/{file stem}``,
except quad files (TriG, N-Quads), whose graphs keep their own names. The ontology
files share ``graph/ontology``; OWL RL inferences go to ``graph/inferences``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.parsers import expat

import pyoxigraph as ox
from rdflib import SH, Graph, URIRef

from shiquan import formats
from shiquan.graph import reasoning
from shiquan.errors import BadInput, ShiquanError
from shiquan.terms import to_rdflib
from shiquan.vocab import INFERENCES_GRAPH, ONTOLOGY_GRAPH, PREFIXES, SQS, graph_name

log = logging.getLogger(__name__)

# The RDF formats we read, from the one table (shiquan.formats): file suffix → format name (the CLI's --format
# takes these names too), and format name → pyoxigraph parser.
FORMATS = {suffix: f.name for suffix, f in formats.RDF_BY_SUFFIX.items()}
FORMAT_NAMES = formats.RDF_NAMES
PARSERS = {name: f.rdf_format for name, f in formats.RDF_BY_NAME.items()}



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


# Deepest nesting read in an upload (XML elements, JSON arrays and objects) unless the settings say otherwise
# (MAX_UPLOAD_DEPTH): RDF/XML 50,000 deep cost pyoxigraph 31 s of CPU (quadratic), 1,000 deep ~15 ms.
MAX_DEPTH = 1000


def check_json_ld(text: str, source: str, max_depth: int = MAX_DEPTH) -> None:
    """Read JSON-LD ``text`` as JSON before pyoxigraph does, and refuse what it must not read: a remote @context
    (we never fetch) and arrays or objects nested deeper than ``max_depth``.

    Raises BadInput naming ``source`` (and the line of a JSON syntax error).
    """
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadInput(f"JSON syntax error: {exc.msg}", source, exc.lineno) from exc
    except RecursionError as exc:
        raise BadInput(f"JSON nested more than {max_depth} deep (MAX_UPLOAD_DEPTH)", source) from exc
    todo: list[tuple[Any, int]] = [(document, 1)]
    while todo:
        node, depth = todo.pop()
        if depth > max_depth:
            raise BadInput(f"JSON nested more than {max_depth} deep (MAX_UPLOAD_DEPTH)", source)
        if isinstance(node, dict):
            for key, value in node.items():
                contexts = value if isinstance(value, list) else [value]
                if key == "@context" and any(isinstance(ctx, str) for ctx in contexts):
                    remote = next(ctx for ctx in contexts if isinstance(ctx, str))
                    raise BadInput(f"remote JSON-LD context {remote!r} is not fetched; inline the context", source)
                todo.append((value, depth + 1))
        elif isinstance(node, list):
            todo.extend((item, depth + 1) for item in node)


class _Refused(Exception):
    """Raised by the expat handlers of :func:`check_xml` to stop at what they refuse."""


def check_xml(data: bytes, source: str, max_depth: int = MAX_DEPTH) -> None:
    """Read RDF/XML ``data`` once with expat, as UTF-8, before pyoxigraph does, and refuse what could make it
    expand or labour: any entity declaration or external DTD (nine nested internal entities, 932 bytes, took a
    worker to 9 GB), elements nested deeper than ``max_depth``, and anything expat does not read as well-formed
    XML, so that pyoxigraph only reads what was checked whole. Linear: expat stops at the declaration, before any
    expansion.

    Raises BadInput naming ``source``, the reason and the line.
    """
    parser = expat.ParserCreate(encoding="UTF-8")  # as pyoxigraph reads it, whatever the declaration says
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    depth = 0

    def doctype(_name, system_id, _public_id, _has_internal_subset) -> None:
        if system_id:
            raise _Refused("an external DTD is not read (<!DOCTYPE … SYSTEM>); remove the document type declaration")

    def entity(name, *_rest) -> None:
        raise _Refused(f"entity declarations are refused (<!ENTITY {name} …>): they can make a small upload expand "
                       "without bound; write the IRIs out in full, or send Turtle")

    def start(_name, _attributes) -> None:
        nonlocal depth
        depth += 1
        if depth > max_depth:
            raise _Refused(f"XML elements nested more than {max_depth} deep (MAX_UPLOAD_DEPTH)")

    def end(_name) -> None:
        nonlocal depth
        depth -= 1

    parser.StartDoctypeDeclHandler, parser.EntityDeclHandler = doctype, entity
    parser.StartElementHandler, parser.EndElementHandler = start, end
    try:
        parser.Parse(data, True)
    except _Refused as exc:
        raise BadInput(str(exc), source, parser.CurrentLineNumber) from None
    except expat.ExpatError as exc:
        raise BadInput(f"syntax error: {expat.ErrorString(exc.code)}", source, exc.lineno) from None


def _xml_error_line(data: bytes) -> int | None:
    """The line of the first XML well-formedness error (pyoxigraph's RDF/XML errors carry none)."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        return exc.lineno
    return None


def parse_bytes(data: bytes, fmt: str, source: str, default_graph: URIRef) -> dict[URIRef, Graph]:
    """Parse RDF ``data`` in format ``fmt`` (a name of FORMAT_NAMES) into named graphs.

    Triples outside any named graph go to ``default_graph``. Nothing is fetched
    from the network and nothing expands: remote JSON-LD contexts, XML entity
    declarations and nesting deeper than MAX_DEPTH are refused.
    Raises BadInput naming ``source`` and the line the parser stopped at.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInput(f"not UTF-8 (byte {exc.start})", source, line) from exc
    if fmt == "json-ld":
        check_json_ld(text, source)
    elif fmt == "xml":
        check_xml(data, source)
    graphs: dict[URIRef, Graph] = {}
    try:
        for quad in ox.parse(data, format=PARSERS[fmt], base_iri=str(default_graph)):
            name = quad.graph_name
            key = URIRef(name.value) if isinstance(name, ox.NamedNode) else default_graph
            graph = graphs.get(key)
            if graph is None:
                graph = graphs[key] = Graph(identifier=key)
            graph.add((to_rdflib(quad.subject), to_rdflib(quad.predicate), to_rdflib(quad.object)))
    except (SyntaxError, ValueError) as exc:
        raise bad_rdf(exc, fmt, source, lambda: data) from exc
    return graphs


def bad_rdf(exc: Exception, fmt: str, source: str, data: Callable[[], bytes]) -> BadInput:
    """The BadInput for a pyoxigraph parse error of ``source``, with the line it stopped at.

    ``data`` gives the bytes, read only when the parser's message needs them
    (an encoding error, or RDF/XML, whose errors carry no line).
    """
    if isinstance(exc, SyntaxError):  # pyoxigraph: "Parser error at line 3 column 2: …", lineno set
        message = re.sub(r"^Parser error at line \d+( between columns \d+ and \d+| column \d+)?: ", "", exc.msg)
        line = exc.lineno if exc.lineno is not None or fmt != "xml" else _xml_error_line(data())
        return BadInput(f"syntax error: {message}", source, line)
    raw = data()
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return BadInput(f"not UTF-8 (byte {bad.start})", source, raw[: bad.start].count(b"\n") + 1)
    return BadInput(str(exc), source)


def load_bytes(store: ox.Store, data: bytes, fmt: str, source: str, graph: URIRef, max_depth: int = MAX_DEPTH) -> None:
    """Parse RDF ``data`` strictly into ``store``: triples to ``graph``, quads to their own graphs.

    Nothing is fetched and nothing expands: remote JSON-LD contexts, XML entity declarations and nesting deeper
    than ``max_depth`` are refused before pyoxigraph reads the data. Raises BadInput naming ``source``, the
    reason and the line the parser stopped at.
    """
    if fmt == "json-ld":
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadInput(f"not UTF-8 (byte {exc.start})", source, data[: exc.start].count(b"\n") + 1) from exc
        check_json_ld(text, source, max_depth)
    elif fmt == "xml":
        check_xml(data, source, max_depth)
    try:
        store.load(data, format=PARSERS[fmt], base_iri=str(graph), to_graph=ox.NamedNode(str(graph)))
    except (SyntaxError, ValueError) as exc:
        raise bad_rdf(exc, fmt, source, lambda: data) from exc


def infer_in(store: ox.Store, config: Mapping[str, Any], progress: Progress | None = None, threads: int = 1) -> int:
    """Add the OWL RL inferences of everything in ``store`` to its inferences graph, its queries on ``threads``
    threads (see :func:`reasoning.materialise`); returns how many triples it added. Raises BadInput for an
    unreadable ontology, InconsistentGraph."""
    return reasoning.materialise(store, ontology_rules(config), ox.NamedNode(str(INFERENCES_GRAPH)), progress, threads)


def ontology_rules(config: Mapping[str, Any]) -> reasoning.Rules:
    """The OWL RL rules of the ontology of ``config`` (:func:`reasoning.rules`), read once per version of its files.
    Raises BadInput for an unreadable ontology, InconsistentGraph."""
    return _rules(config["ONTOLOGY_DIR"], fingerprint(rdf_files([config["ONTOLOGY_DIR"]])))


def cores() -> int:
    """How many queries a whole dataset's inferences and validation run at once: the cores this process may use.
    An upload's validation, in a query worker, runs on one (a worker must not take a second core from the others)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def read_file(path: Path, fmt: str | None = None, graph: URIRef | None = None) -> dict[URIRef, Graph]:
    """Parse one RDF file into named graphs (see :func:`parse_bytes`).

    The default graph name is ``graph/{file stem}`` (lower-cased, other
    characters turned into hyphens) unless ``graph`` is given.
    Raises BadInput for an unreadable file, unknown format or bad RDF.
    """
    fmt = format_for(path, fmt)
    if graph is None:
        graph = default_graph(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise unreadable(path, exc) from exc
    return parse_bytes(data, fmt, str(path), graph)


def default_graph(path: Path) -> URIRef:
    """The named graph for the triples of ``path``: ``graph/{file stem}``, lower-cased, other characters as hyphens."""
    return graph_name(re.sub(r"[^a-z0-9]+", "-", path.name.split(".")[0].lower()).strip("-") or "data")


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
    """All SHACL shapes as one graph, each ``sqs:message`` (a shape's message in Chinese, written apart because
    Apache Jena takes one sh:message per shape) also as an sh:message. Raises BadInput."""
    graph = Graph()
    for path in rdf_files([config["SHAPES_DIR"]]):
        for part in read_file(path, graph=graph_name("shapes")).values():
            graph += part
    for shape, message in list(graph.subject_objects(SQS.message)):
        graph.add((shape, SH.message, message))
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
    """The embedded store and what was loaded into it.

    ``sources`` names, for each graph filled from files, the files that state
    its triples (the ontology graph and quad files' graphs included).
    """

    store: ox.Store | None
    triples_per_graph: dict[str, int] = field(default_factory=dict)
    load_seconds: float = 0.0
    version: str = ""
    sources: dict[str, tuple[str, ...]] = field(default_factory=dict)
    path: str | None = None  # the folder of an on-disk store, which each process opens for itself (store None)

    @property
    def triple_count(self) -> int:
        return sum(self.triples_per_graph.values())


Progress = Callable[[str, int, int], None]
"""Told ``(stage, done, total)`` as a long job advances."""

# From this many bytes of input on, files are checked strictly in another process while the store loads them
# leniently: the parse errors are the same, and the load takes the time of the slower of the two, not the sum.
PARALLEL_CHECK_BYTES = 32 * 1024 * 1024


def fingerprint(files: list[Path]) -> tuple:
    """What identifies the current contents of ``files`` without reading them: paths, sizes, modification times."""
    return tuple((str(p.resolve()), p.stat().st_mtime_ns, p.stat().st_size) for p in files)


def version_of(files: list[Path]) -> str:
    """A hash of the files' names and bytes: it changes exactly when the data does. Raises BadInput."""
    digest = hashlib.sha256()
    for path in files:
        digest.update(str(path.name).encode() + b"\0")
        try:
            with path.open("rb") as stream:
                while chunk := stream.read(1 << 24):
                    digest.update(chunk)
        except OSError as exc:
            raise unreadable(path, exc) from exc
        digest.update(b"\0")
    return digest.hexdigest()[:16]


def unreadable(path: Path, exc: OSError) -> BadInput:
    """The error for a file that cannot be read."""
    return BadInput(f"cannot read: {exc.strerror}", str(path))


def read_quads(path: Path, graph: str, fmt: str | None = None) -> Iterator[tuple[str, ox.Triple]]:
    """The triples of ``path`` (in ``fmt``, else by extension), parsed strictly, each with the graph it goes to
    (``graph`` unless the file names one). Raises BadInput naming the file and line of the first error."""
    fmt = format_for(path, fmt)
    try:
        for quad in ox.parse(path=str(path), format=PARSERS[fmt], base_iri=graph):
            yield (quad.graph_name.value if isinstance(quad.graph_name, ox.NamedNode) else graph), quad.triple
    except (SyntaxError, ValueError) as exc:
        raise bad_rdf(exc, fmt, str(path), path.read_bytes) from exc
    except OSError as exc:
        raise unreadable(path, exc) from exc


def plan(config: Mapping[str, Any], fmt: str | None = None) -> list[tuple[Path, str, str | None]]:
    """Each ontology and data file of ``config`` with the graph it fills and its format (``fmt`` for data files
    when given, else by extension). Raises BadInput for an unknown format."""
    ontology_files = rdf_files([config["ONTOLOGY_DIR"]])
    planned = [(path, str(ONTOLOGY_GRAPH), None) for path in ontology_files]
    planned += [(path, str(default_graph(path)), fmt) for path in rdf_files(config["DATA_PATHS"])]
    for path, _graph, given in planned:
        format_for(path, given)
    return planned


def check_file(path: Path, graph: str, fmt: str | None = None) -> list[str]:
    """Parse ``path`` (in ``fmt``, else by extension) strictly, and return the graphs its triples go to (``graph``
    by default).

    Raises BadInput naming the file and line of the first error.
    """
    if format_for(path, fmt) == "json-ld":  # refuses remote contexts, names JSON errors
        parse_bytes(path.read_bytes(), "json-ld", str(path), URIRef(graph))
    return sorted({name for name, _triple in read_quads(path, graph, fmt)})


def check_files(plan: list[tuple[Path, str, str | None]]) -> dict[str, list[str]]:
    """:func:`check_file` for each (file, default graph, format); returns file → graphs. Raises BadInput at the first
    error."""
    return {str(path): check_file(path, graph, fmt) for path, graph, fmt in plan}


def _check_elsewhere(plan: list[tuple[Path, str, str | None]]) -> subprocess.Popen:
    """Start :func:`check_files` in a new Python process (read its answer with :func:`_checked`)."""
    code = "from shiquan.graph.loading import _check_main; _check_main()"
    argument = json.dumps([[str(path), graph, fmt] for path, graph, fmt in plan])
    return subprocess.Popen([sys.executable, "-c", code, argument], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _check_main() -> None:
    """The checking process: files, graphs and formats as JSON in argv[1]; prints file → graphs and the files'
    version, or the BadInput, as JSON."""
    plan = [(Path(path), graph, fmt) for path, graph, fmt in json.loads(sys.argv[1])]
    try:
        answer = {"graphs": check_files(plan), "version": version_of([path for path, _graph, _fmt in plan])}
    except BadInput as exc:
        answer = {"error": [exc.message, exc.source, exc.line]}
    sys.stdout.write(json.dumps(answer))


def _checked(process: subprocess.Popen) -> tuple[dict[str, list[str]], str]:
    """What the checking process found: file → graphs, and the files' version. Raises its BadInput, or
    ShiquanError when it failed otherwise."""
    out, err = process.communicate()
    try:
        answer = json.loads(out)
    except ValueError:
        raise ShiquanError(f"checking the files failed: {err.decode('utf-8', 'replace').strip()[-500:]}") from None
    if "error" in answer:
        raise BadInput(*answer["error"])
    return answer["graphs"], answer["version"]


@functools.lru_cache(maxsize=4)
def _rules(ontology_dir: str, _fingerprint: tuple) -> reasoning.Rules:
    return reasoning.rules(read_ontology({"ONTOLOGY_DIR": ontology_dir}))


def fill(store: ox.Store, config: Mapping[str, Any], progress: Progress | None = None, fmt: str | None = None) -> KnowledgeGraph:
    """Load the ontology and data files of ``config`` into ``store``, and their OWL RL inferences.

    The data files are read in format ``fmt`` when given, else by extension.
    Each file goes to its graph (see the module docstring). Every file is
    parsed strictly (in another process, at the same time as the load and the
    inferences, from PARALLEL_CHECK_BYTES on), so a bad file is refused with
    its name and line, before anything the inferences raise. Raises BadInput for unreadable or bad files, InconsistentGraph when
    the inferences contradict the ontology.
    """
    started = time.perf_counter()
    tell = progress or (lambda stage, done, total: None)
    planned = plan(config, fmt)
    files = [path for path, _graph, _fmt in planned]
    size = sum(path.stat().st_size for path in files)
    checking = _check_elsewhere(planned) if size >= PARALLEL_CHECK_BYTES else None
    try:
        if checking is None:
            graphs_of, version = check_files(planned), version_of(files)
        counts = _load_and_infer(store, config, planned, tell, checking)
        if checking is not None:
            graphs_of, version = _checked(checking)
    finally:
        if checking is not None and checking.poll() is None:
            checking.kill()
            checking.communicate()
    sources: dict[str, list[str]] = {}
    for path, graphs in graphs_of.items():
        for graph in graphs:
            sources.setdefault(graph, []).append(path)
    kg = KnowledgeGraph(store, counts, time.perf_counter() - started, version, {g: tuple(p) for g, p in sources.items()})
    log.info("loaded %d triples in %d graphs in %.2f s", kg.triple_count, len(counts), kg.load_seconds)
    return kg


def _load_and_infer(store: ox.Store, config: Mapping[str, Any], planned: list[tuple[Path, str, str | None]],
                    tell: Progress, checking: subprocess.Popen | None) -> dict[str, int]:
    """Load ``planned`` into ``store`` (:func:`load_files`), add the inferences (:func:`infer_in`) and count the
    triples of each graph; returns graph → triples, for the graphs holding any, sorted by name.

    Two steps run on a thread beside the others, and change no quad: the ontology's rules (rdflib and owlrl, in
    Python) are read while pyoxigraph loads the files without the GIL, and the stated graphs, which the inferences
    do not change, are counted while the inferences run (the inferences graph is counted before them, and what
    they add is their own count). Raises as :func:`fill`: when the inferences fail, the strict check (``checking``)
    is waited for, so that a bad file is refused for what it is, not for what its misreading implies.
    """
    inferences = ox.NamedNode(str(INFERENCES_GRAPH))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="loading") as aside:
        rules = aside.submit(ontology_rules, config)
        load_files(store, planned, tell)
        rules.result()
        stated = aside.submit(graph_counts, store, 1, inferences)
        before = reasoning.triples_in(store, inferences)
        try:
            # The inferences do not wait for the check (national17: its strict parse ends before the load does)
            added = infer_in(store, config, tell, cores())
        except BaseException:
            if checking is not None:
                _checked(checking)
            raise
        counts = stated.result()
    if before + added:
        counts[inferences.value] = before + added
    return dict(sorted(counts.items()))


def load_files(store: ox.Store, planned: list[tuple[Path, str, str | None]], tell: Progress | None = None) -> None:
    """Load each (file, graph, format) of ``planned`` into ``store``, leniently (:func:`fill` checks them strictly).
    Raises BadInput naming the file and line where even the lenient parser stops."""
    tell = tell or (lambda stage, done, total: None)
    for done, (path, graph, given) in enumerate(planned, 1):
        tell("loading files", done - 1, len(planned))
        name = format_for(path, given)
        # Store.load, not bulk_load: on national3 an in-memory store filled by bulk_load answered the mix's
        # queries 1.5-3x slower (a-payer-per-level 0.28 against 0.09 ms) and was not prepared faster (7.4-8.4
        # against 5.2-6.5 s with the inferences), measured one after the other.
        try:
            store.load(path=str(path), format=PARSERS[name], base_iri=graph, to_graph=ox.NamedNode(graph), lenient=True)
        except (SyntaxError, ValueError) as exc:
            raise bad_rdf(exc, name, str(path), path.read_bytes) from exc
    tell("loading files", len(planned), len(planned))


def graph_counts(store: ox.Store, threads: int = 1, leave_out: ox.NamedNode | None = None) -> dict[str, int]:
    """The number of triples in each named graph of ``store`` that holds any (but ``leave_out``), counted on
    ``threads`` threads."""
    graphs = sorted((graph for graph in store.named_graphs() if graph != leave_out), key=lambda graph: graph.value)
    with ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="counting") as pool:
        counts = list(pool.map(functools.partial(reasoning.triples_in, store), graphs))
    return {graph.value: n for graph, n in zip(graphs, counts) if n}


def build_store(config: Mapping[str, Any], path: str | None = None, progress: Progress | None = None,
                fmt: str | None = None) -> KnowledgeGraph:
    """Load the ontology, the data and the OWL RL inferences into a new store (see :func:`fill`).

    The store is in memory, or on disk at ``path``, emptied first and emptied
    again when loading fails, so that no half-loaded store is left behind.
    Raises as :func:`fill`.
    """
    store = ox.Store(path) if path else ox.Store()
    if path:
        store.clear()
    try:
        kg = fill(store, config, progress, fmt)
    except BaseException:
        if path:
            store.clear()
        raise
    if path:
        store.flush()
    return kg
