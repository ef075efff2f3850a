"""The outcome of a SHACL validation, whichever engine ran it: results with their labels, and its renderings.

A :class:`Report` is read as text (``shiquan validate``), JSON (``/validate``) or
the SHACL report graph in Turtle.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from rdflib import SH, Graph, Literal, Node, URIRef

from shiquan.vocab import PREFIXES, curie


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


def short(node) -> str:
    """A node as reports show it: its CURIE, "" for none."""
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
            lines.append(f"[{SEVERITY.get(r.severity, r.severity)}] {short(r.source_shape)}")
            label = r.focus_label(lang)
            lines.append(f"  focus:   {short(r.focus_node)}" + (f"  {label}" if label else ""))
            if r.path is not None:
                lines.append(f"  path:    {short(r.path)}")
            if r.value is not None:
                value_label = r.value_label(lang)
                shown = short(r.value) if not isinstance(r.value, Literal) else f'"{r.value}"'
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


def with_languages(messages: list[Literal], templates: list[Literal]) -> tuple[Literal, ...]:
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
