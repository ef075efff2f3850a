"""Validation of the dataset against the SHACL shapes, after OWL RL inference: the one place that picks an engine.

Two engines give the same :class:`~shiquan.graph.report.Report`: the shapes compiled
to SPARQL and run on the embedded store (:mod:`shiquan.graph.shacl`, used by default,
fit for millions of triples), and pySHACL over owlrl's closure (:func:`validate_graph`,
the reference, fit for thousands). :func:`validate` runs either on files,
:func:`validate_upload` checks one upload, and :func:`refuse_invalid_store` guards a
store before it is served, keeping the verdict of a dataset that conformed.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pyoxigraph as ox
import pyshacl
from rdflib import SH, Graph

from shiquan import labels, vocab
from shiquan.errors import BadInput
from shiquan.graph import loading, reasoning, shacl
from shiquan.graph.report import Report, Result, short, with_languages

log = logging.getLogger(__name__)
ENGINES = ("sparql", "pyshacl")


def _results(report: Graph, data: Graph, shapes: Graph) -> list[Result]:
    """The results of pySHACL's ``report`` graph, labelled from ``data``, their messages given back their languages."""
    results = []
    for node in report.objects(None, SH.result):
        focus = report.value(node, SH.focusNode)
        value = report.value(node, SH.value)
        rule = report.value(node, SH.sourceConstraint) or report.value(node, SH.sourceShape)
        messages = with_languages(list(report.objects(node, SH.resultMessage)), list(shapes.objects(rule, SH.message)))
        report.remove((node, SH.resultMessage, None))
        for message in messages:
            report.add((node, SH.resultMessage, message))
        results.append(
            Result(
                focus_node=focus,
                source_shape=rule,
                severity=report.value(node, SH.resultSeverity),
                messages=messages,
                path=report.value(node, SH.resultPath),
                value=value,
                focus_labels=labels.in_graph(data, focus),
                value_labels=labels.in_graph(data, value) if value is not None else (),
                constraint=report.value(node, SH.sourceConstraintComponent),
            )
        )
    results.sort(key=lambda r: (str(r.focus_node), str(r.source_shape), str(r.value)))
    return results


def validate_graph(data: Graph, shapes: Graph, ontology: Graph) -> Report:
    """Validate ``data`` with ``ontology`` and its OWL RL closure (by owlrl) against ``shapes``, with pySHACL.

    The reference the SPARQL engine of :mod:`shiquan.graph.shacl` is tested against;
    fine for thousands of triples. Raises InconsistentGraph when the closure
    finds a contradiction.
    """
    combined = loading.union([ontology, data])
    combined += reasoning.infer(combined)
    _conforms, report_graph, _text = pyshacl.validate(
        combined,
        shacl_graph=shapes,
        inference="none",
        allow_warnings=True,
        advanced=False,
    )
    return Report(_results(report_graph, combined, shapes), report_graph)


@functools.lru_cache(maxsize=4)
def _schema(shapes_dir: str, ontology_dir: str) -> tuple[Graph, Graph]:
    return loading.read_shapes({"SHAPES_DIR": shapes_dir}), loading.read_ontology({"ONTOLOGY_DIR": ontology_dir})


def schema(config: Mapping[str, Any]) -> tuple[Graph, Graph]:
    """The shapes graph and the ontology graph, read once per process. Raises BadInput."""
    return _schema(config["SHAPES_DIR"], config["ONTOLOGY_DIR"])


def validate_paths(paths: list[str], config: Mapping[str, Any], fmt: str | None = None) -> Report:
    """Validate the RDF files under ``paths`` (the configured data when empty).

    Raises BadInput for an unreadable or unparseable file, InconsistentGraph
    when the closure finds a contradiction.
    """
    graphs = loading.read_paths(paths or config["DATA_PATHS"], fmt)
    return validate_graph(loading.union(graphs.values()), *schema(config))


def validate(settings: Mapping[str, Any], *, paths: list[str] | None = None, engine: str = "sparql",
             fmt: str | None = None, progress: loading.Progress | None = None) -> Report:
    """Validate the RDF files under ``paths`` (the configured data when none) with ``engine``.

    "sparql": the files are loaded, with the ontology and their inferences, into an
    embedded store and checked by the compiled shapes; a conforming dataset read by
    extension (``fmt`` None) leaves its verdict for :func:`refuse_invalid_store`.
    "pyshacl": :func:`validate_paths`, the reference. Raises BadInput for an unknown
    engine or an unreadable or unparseable file, InconsistentGraph when the closure
    finds a contradiction.
    """
    if engine not in ENGINES:
        raise BadInput(f"unknown validation engine {engine!r}; use one of {', '.join(ENGINES)}")
    if paths:
        settings = {**settings, "DATA_PATHS": list(paths)}
    if engine == "pyshacl":
        return validate_paths(settings["DATA_PATHS"], settings, fmt)
    kg = loading.build_store(settings, progress=progress, fmt=fmt)
    report = shacl.validate_store(kg.store, schema(settings)[0], progress=shapes_progress(progress), threads=loading.cores())
    if report.conforms and fmt is None:
        record_conformance(kg, settings)
    return report


def _add_served(store: ox.Store, served: ox.Store) -> None:
    """Copy the served data's stated triples (not the ontology, read again, nor the inferences, made again over the
    upload too) into the upload's graph of ``store``, so that a triple both hold is one triple: a shape that counts
    or sums (a joint payer's shares) sees it once."""
    skipped = {ox.NamedNode(str(vocab.INFERENCES_GRAPH)), ox.NamedNode(str(vocab.ONTOLOGY_GRAPH))}
    upload = ox.NamedNode(str(loading.graph_name("upload")))
    store.extend(ox.Quad(q.subject, q.predicate, q.object, upload)
                 for q in served.quads_for_pattern(None, None, None, None) if q.graph_name not in skipped)


def validate_upload(data: bytes, fmt: str, source: str, config: Mapping[str, Any],
                    served: ox.Store | None = None) -> Report:
    """Validate uploaded RDF with the ontology and their OWL RL inferences, by the SPARQL engine; with ``served`` (the
    served store), the upload together with the served data, so that what it reuses (matters, plans, levels) is there.

    Raises BadInput for RDF that cannot be read or that could expand (XML entities, nesting past
    MAX_UPLOAD_DEPTH), InconsistentGraph when the inferences contradict the ontology.
    """
    store = ox.Store()
    if served is not None:
        _add_served(store, served)
    for path in loading.rdf_files([config["ONTOLOGY_DIR"]]):
        loading.load_bytes(store, path.read_bytes(), loading.format_for(path), str(path), vocab.ONTOLOGY_GRAPH)
    loading.load_bytes(store, data, fmt, source, loading.graph_name("upload"),
                       int(config.get("MAX_UPLOAD_DEPTH") or loading.MAX_DEPTH))
    loading.infer_in(store, config)
    return shacl.validate_store(store, schema(config)[0])


def shapes_progress(progress: loading.Progress | None):
    """The engine's progress callback (done, total, check) as a stage of ``progress``."""
    if progress is None:
        return None
    return lambda done, total, _check: progress("checking shapes", done, total)


def _verdict_file(kg: loading.KnowledgeGraph, config: Mapping[str, Any]) -> Path | None:
    """Where the verdict "this dataset conforms" is kept: named by a hash of the data and ontology (the store's
    version), the shapes and the engine's code, so that any change to one of them asks for a new check."""
    folder = config.get("VALIDATED_DIR")
    if folder == "":
        return None
    digest = hashlib.sha256(kg.version.encode())
    engine = sorted(Path(shacl.__file__).parent.glob("*.py"))  # the engine is the whole shacl package
    for path in [*loading.rdf_files([config["SHAPES_DIR"]]), *engine, Path(reasoning.__file__)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return Path(folder or Path.home() / ".cache" / "shiquan" / "validated") / digest.hexdigest()[:32]


def record_conformance(kg: loading.KnowledgeGraph, config: Mapping[str, Any]) -> None:
    """Keep the verdict that ``kg``'s dataset conforms (see :func:`refuse_invalid_store`); a folder that cannot be
    written only costs a check next time."""
    verdict = _verdict_file(kg, config)
    if verdict is None:
        return
    try:
        verdict.parent.mkdir(parents=True, exist_ok=True)
        verdict.write_text(f"{kg.version} conforms\n", encoding="utf-8")
    except OSError as exc:
        log.warning("cannot keep the validation verdict in %s: %s", verdict.parent, exc.strerror)


def refuse_invalid_store(kg: loading.KnowledgeGraph, config: Mapping[str, Any], progress: loading.Progress | None = None) -> Report | None:
    """Refuse to serve a store whose data violates the shapes, naming each file at fault.

    The store's graphs are validated as a whole (a plan needs the registers it
    refers to) with the SPARQL engine of :mod:`shiquan.graph.shacl`; a violation is laid
    at the door of every file that states something about its focus node. A
    dataset that conformed once (this or an earlier run, `shiquan validate`
    included) is not checked again: its verdict is kept in VALIDATED_DIR, named
    by a hash of everything the verdict depends on. Returns the report, or None
    when the verdict was kept; raises BadInput listing the files and their
    first violations.
    """
    verdict = _verdict_file(kg, config)
    if verdict is not None and verdict.exists():
        log.info("the data conformed to the shapes before (%s): not checked again", verdict)
        return None
    report = shacl.validate_store(kg.store, schema(config)[0], progress=shapes_progress(progress), threads=loading.cores())
    if not report.conforms:
        raise _refusal(kg, report)
    record_conformance(kg, config)
    return report


def _refusal(kg: loading.KnowledgeGraph, report: Report) -> BadInput:
    """The refusal of a store whose ``report`` has violations: each file stating something about a focus node at
    fault, with its first three violations."""
    faults: dict[str, list[Result]] = {}
    for result in report.violations:
        found = kg.store.query(f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ {result.focus_node.n3()} ?p ?o }} }}")
        for row in found:
            for path in kg.sources.get(row[0].value, ()):
                faults.setdefault(path, []).append(result)
    lines = []
    for path, results in sorted(faults.items()):
        shown = "; ".join(f"{short(r.focus_node)}: {r.message('en')}" for r in results[:3])
        more = f" (and {len(results) - 3} more)" if len(results) > 3 else ""
        lines.append(f"{path} violates the shapes: {shown}{more}")
    if not lines:
        lines.append(f"the data violates the shapes ({len(report.violations)} violations)")
    return BadInput("refused to load: " + " | ".join(lines) + " — fix the data, or load it anyway with --no-validate")
