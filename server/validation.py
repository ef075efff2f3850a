"""SHACL validation with pySHACL after OWL RL inference; results as a ``Report``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pyshacl
from rdflib import RDF, RDFS, SH, Graph, Literal, Node, URIRef
from rdflib.namespace import DCTERMS, SKOS

from . import loading, reasoning
from .vocab import SQ


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
    """Validate ``data`` with ``ontology`` and its OWL RL closure against ``shapes``.

    Raises InconsistentGraph when the closure finds a contradiction.
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


def validate_paths(paths: list[str], config: Mapping[str, Any], fmt: str | None = None) -> Report:
    """Validate the RDF files under ``paths`` (the configured data when empty).

    Raises BadInput for an unreadable or unparseable file, InconsistentGraph
    when the closure finds a contradiction.
    """
    graphs = loading.read_paths(paths or config["DATA_PATHS"], fmt)
    return validate_graph(loading.union(graphs.values()), loading.read_shapes(config), loading.read_ontology(config))
