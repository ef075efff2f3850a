"""SHACL validation after OWL RL inference; results as a ``Report``.

Two engines give the same results: the shapes compiled to SPARQL and run on
the embedded store (:mod:`server.shacl`, used by default, fit for millions of
triples), and pySHACL over owlrl's closure (:func:`validate_graph`, the
reference, fit for thousands).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyshacl
from rdflib import RDF, RDFS, SH, Graph, Literal, Node, URIRef
from rdflib.namespace import DCTERMS, SKOS

from shiquan.graph import loading
from shiquan.graph import reasoning
from shiquan.errors import BadInput
from shiquan.vocab import PREFIXES, SQ, curie

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Result:
    """One validation result, with the labels a reader needs beside the IRIs.

    ``source_shape`` is the named rule that failed: the SPARQL constraint
    (sh:sourceConstraint) for SHACL-SPARQL rules, else the shape itself.
    """

    focus_node: Node
    source_shape: Node
    severity: URIRef
    messages: tuple[Literal, ...]
    path: Node | None = None
    value: Node | None = None
    focus_labels: tuple[Literal, ...] = ()
    value_labels: tuple[Literal, ...] = ()
    constraint: Node | None = None

    def message(self, lang: str) -> str:
        """The message in ``lang``, else in English, else any."""
        for wanted in (lang, "en", None):
            for msg in self.messages:
                if wanted is None or msg.language == wanted:
                    return str(msg)
        return ""

    def focus_label(self, lang: str) -> str | None:
        return _pick(self.focus_labels, lang)

    def value_label(self, lang: str) -> str | None:
        return _pick(self.value_labels, lang)


def _pick(labels: tuple[Literal, ...], lang: str) -> str | None:
    for label in labels:
        if label.language == lang:
            return str(label)
    return str(labels[0]) if labels else None


SEVERITY = {SH.Violation: "Violation", SH.Warning: "Warning", SH.Info: "Info"}


def _short(node) -> str:
    return "" if node is None else curie(str(node))


@dataclass
class Report:
    """The outcome of a validation run: conforms when no result is a violation."""

    results: list[Result] = field(default_factory=list)
    graph: Graph = field(default_factory=Graph)

    @property
    def violations(self) -> list[Result]:
        return [r for r in self.results if r.severity == SH.Violation]

    @property
    def conforms(self) -> bool:
        return not self.violations

    def text(self, lang: str = "en") -> str:
        """A readable report: each result with focus node and label, path, value and message in ``lang``."""
        if not self.results:
            return "符合约束：没有违规。\n" if lang == "zh" else "Conforms: no violations.\n"
        counts = Counter(SEVERITY.get(r.severity, "Result") for r in self.results)
        summary = ", ".join(f"{n} {kind.lower()}{'s' if n != 1 else ''}" for kind, n in sorted(counts.items()))
        lines = [("Conforms" if self.conforms else "Does not conform") + f": {summary}.", ""]
        for r in self.results:
            lines.append(f"[{SEVERITY.get(r.severity, r.severity)}] {_short(r.source_shape)}")
            label = r.focus_label(lang)
            lines.append(f"  focus:   {_short(r.focus_node)}" + (f"  {label}" if label else ""))
            if r.path is not None:
                lines.append(f"  path:    {_short(r.path)}")
            if r.value is not None:
                value_label = r.value_label(lang)
                shown = _short(r.value) if not isinstance(r.value, Literal) else f'"{r.value}"'
                lines.append(f"  value:   {shown}" + (f"  {value_label}" if value_label else ""))
            lines.append(f"  message: {r.message(lang)}")
            lines.append("")
        return "\n".join(lines).rstrip() + "\n"

    def to_json(self, lang: str = "en") -> dict:
        """The report as a JSON-ready dict: conforms, counts, and each result with messages in every language."""

        def node(term):
            return None if term is None else str(term)

        return {
            "conforms": self.conforms,
            "violations": len(self.violations),
            "results": [
                {
                    "severity": SEVERITY.get(r.severity, str(r.severity)),
                    "sourceShape": node(r.source_shape),
                    "focusNode": node(r.focus_node),
                    "focusLabel": r.focus_label(lang),
                    "path": node(r.path),
                    "value": node(r.value),
                    "valueLabel": r.value_label(lang),
                    "message": r.message(lang),
                    "messages": {m.language or "": str(m) for m in r.messages},
                }
                for r in self.results
            ],
        }

    def turtle(self) -> str:
        """The SHACL validation report graph in Turtle."""
        for prefix, ns in PREFIXES.items():
            self.graph.bind(prefix, ns)
        return self.graph.serialize(format="turtle")


def _labels(data: Graph, node: Node) -> tuple[Literal, ...]:
    """Labels of ``node``; an assignment is named by its matter and level."""
    labels = [o for o in data.objects(node, RDFS.label) if isinstance(o, Literal)]
    labels += [o for o in data.objects(node, SKOS.prefLabel) if isinstance(o, Literal)]
    labels += [o for o in data.objects(node, DCTERMS.title) if isinstance(o, Literal)]
    if labels or (node, RDF.type, SQ.Assignment) not in data:
        return tuple(labels)
    composed = []
    for lang, sep in (("zh", "·"), ("en", " · ")):
        parts = []
        for prop in (SQ.matter, SQ.level):
            for obj in data.objects(node, prop):
                names = [str(l) for l in data.objects(obj, RDFS.label) if getattr(l, "language", None) == lang]
                parts.append(names[0] if names else str(obj))
        if parts:
            composed.append(Literal(sep.join(parts), lang=lang))
    return tuple(composed)


def _with_languages(messages: list[Literal], templates: list[Literal]) -> tuple[Literal, ...]:
    """Give back the language tags that pySHACL drops when it fills a SPARQL message template."""
    restored = []
    for message in messages:
        if message.language is None:
            for template in templates:
                parts = re.split(r"\{[?$][A-Za-z_][A-Za-z0-9_]*\}", str(template))
                if template.language and re.fullmatch(".*?".join(map(re.escape, parts)), str(message), re.DOTALL):
                    message = Literal(str(message), lang=template.language)
                    break
        restored.append(message)
    return tuple(sorted(restored, key=str))


def _results(report: Graph, data: Graph, shapes: Graph) -> list[Result]:
    results = []
    for node in report.objects(None, SH.result):
        focus = report.value(node, SH.focusNode)
        value = report.value(node, SH.value)
        rule = report.value(node, SH.sourceConstraint) or report.value(node, SH.sourceShape)
        messages = _with_languages(list(report.objects(node, SH.resultMessage)), list(shapes.objects(rule, SH.message)))
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
                focus_labels=_labels(data, focus),
                value_labels=_labels(data, value) if value is not None else (),
                constraint=report.value(node, SH.sourceConstraintComponent),
            )
        )
    results.sort(key=lambda r: (str(r.focus_node), str(r.source_shape), str(r.value)))
    return results


def validate_graph(data: Graph, shapes: Graph, ontology: Graph) -> Report:
    """Validate ``data`` with ``ontology`` and its OWL RL closure (by owlrl) against ``shapes``, with pySHACL.

    The reference the SPARQL engine of :mod:`server.shacl` is tested against;
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


def validate_bytes(data: bytes, fmt: str, source: str, config: Mapping[str, Any]) -> Report:
    """Validate uploaded RDF with the ontology and their OWL RL inferences, by the SPARQL engine.

    Raises BadInput for RDF that cannot be read, InconsistentGraph when the
    inferences contradict the ontology.
    """
    import pyoxigraph as ox

    from shiquan.graph import shacl

    store = ox.Store()
    for path in loading.rdf_files([config["ONTOLOGY_DIR"]]):
        loading.load_bytes(store, path.read_bytes(), loading.format_for(path), str(path), loading.ONTOLOGY_GRAPH)
    loading.load_bytes(store, data, fmt, source, loading.graph_name("upload"))
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
    from shiquan.graph import reasoning
    from shiquan.graph import shacl

    for path in [*loading.rdf_files([config["SHAPES_DIR"]]), Path(shacl.__file__), Path(reasoning.__file__)]:
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
    refers to) with the SPARQL engine of :mod:`server.shacl`; a violation is laid
    at the door of every file that states something about its focus node. A
    dataset that conformed once (this or an earlier run, `shiquan validate`
    included) is not checked again: its verdict is kept in VALIDATED_DIR, named
    by a hash of everything the verdict depends on. Returns the report, or None
    when the verdict was kept; raises BadInput listing the files and their
    first violations.
    """
    from shiquan.graph import shacl

    verdict = _verdict_file(kg, config)
    if verdict is not None and verdict.exists():
        log.info("the data conformed to the shapes before (%s): not checked again", verdict)
        return None
    report = shacl.validate_store(kg.store, schema(config)[0], progress=shapes_progress(progress))
    if report.conforms:
        record_conformance(kg, config)
        return report
    faults: dict[str, list[Result]] = {}
    for result in report.violations:
        found = kg.store.query(f"SELECT DISTINCT ?g WHERE {{ GRAPH ?g {{ {result.focus_node.n3()} ?p ?o }} }}")
        for row in found:
            for path in kg.sources.get(row[0].value, ()):
                faults.setdefault(path, []).append(result)
    lines = []
    for path, results in sorted(faults.items()):
        shown = "; ".join(f"{_short(r.focus_node)}: {r.message('en')}" for r in results[:3])
        more = f" (and {len(results) - 3} more)" if len(results) > 3 else ""
        lines.append(f"{path} violates the shapes: {shown}{more}")
    if not lines:
        lines.append(f"the data violates the shapes ({len(report.violations)} violations)")
    raise BadInput("refused to load: " + " | ".join(lines) + " — fix the data, or load it anyway with --no-validate")
