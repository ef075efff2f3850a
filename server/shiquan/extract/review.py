"""A plan's extraction laid out for a researcher to check before adding it: ``markdown`` and ``html``.

Each ruling stands beside its sentence (with its line) and every decision the extractor made: each
matter reused, reused once a lead-in was trimmed, new, or a near match of one already named; how the
holder's and payer's words map to levels; the payer and the shares; then what was left over and why,
and what the text lacked. Both formats are built from the same rows (``rows``).
"""

from __future__ import annotations

import html as html_lib

from rdflib import RDFS, Graph, URIRef

from shiquan import labels
from shiquan.extract.result import REASONS, Decision, Extraction
from shiquan.extract.rulings import LEVEL_NAMES
from shiquan.vocab import SQ

STATUS = {
    "reused": "reused",
    "trimmed": "reused once its lead-in was trimmed",
    "new": "new",
    "near-match": "new, a near match of",
    "twice": "named twice, one matter with",
}
HEADERS = ("line", "sentence", "matters", "levels", "payer and shares", "assignments")


def _name(graph: Graph, node: URIRef | None) -> str:
    """A level, joint payer or matter by its Chinese label (the level table first, then the graph's labels)."""
    if node is None:
        return "—"
    if node in LEVEL_NAMES:
        return LEVEL_NAMES[node][1]
    return labels.pick(labels.by_language(graph, node, RDFS.label), "zh", labels.compact(str(node)))


def _row(graph: Graph, decision: Decision) -> tuple[str, ...]:
    clause = decision.clause
    matters = "; ".join(
        f"{m.label} — {STATUS[m.status]}{' ' + m.detail if m.detail else ''} ({labels.compact(str(m.node))})" for m in decision.matters
    )
    holders = "、".join(LEVEL_NAMES[lv][1] for lv in clause.holders)
    payers = "、".join(LEVEL_NAMES[lv][1] for lv in clause.payers)
    mapped = f"holder {clause.holder_words} → {holders}"
    mapped += f"; payer {clause.payer_words.lstrip('，')} → {payers}" if clause.payer_stated else "; payer not stated: the holder pays"
    if clause.by_subordination:
        mapped += "; by subordination (按照隶属关系)"
    shares = "、".join(f"{LEVEL_NAMES[lv][1]} {pct}%" for lv, pct in (clause.shares or {}).items())
    payer = ("shared: " if clause.shared else "") + (shares or clause.share_note or "no shares stated")
    made = "; ".join(
        f"{_name(graph, graph.value(a, SQ.matter))} @ {_name(graph, graph.value(a, SQ.level))}: "
        f"holder {_name(graph, graph.value(a, SQ.fiscalPowerHolder))}, payer {_name(graph, graph.value(a, SQ.payer))}"
        for a in decision.made
    ) or "none (already assigned above)"
    return str(decision.line), clause.quote, matters, mapped, payer, made


def rows(extraction: Extraction, known: Graph | None = None) -> list[tuple[str, ...]]:
    """One row per ruling: line, sentence, matters and what became of each, level mapping, payer and shares,
    the assignments made."""
    graph = extraction.graph + known if known is not None else extraction.graph
    return [_row(graph, decision) for decision in extraction.decisions]


def _leftovers(extraction: Extraction) -> list[tuple[str, str, str]]:
    return [(str(left.line), left.text, REASONS[left.reason]) for left in extraction.leftovers]


def _notes(extraction: Extraction) -> list[str]:
    return [(f"line {line}: " if line else "") + message for line, message in extraction.notes]


def markdown(extraction: Extraction, source: str, known: Graph | None = None) -> str:
    """The review as Markdown: a table of rulings, then the left-over sections and sentences and the notes."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    out = [f"# Review of {source}", "", f"Plan: <{extraction.plan}>", "", "## Rulings", "",
           "| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    out += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows(extraction, known)]
    out += ["", "## Left over", ""]
    out += [f"- {source}:{line}: {reason}: {text}" for line, text, reason in _leftovers(extraction)] or ["- nothing"]
    out += ["", "## Notes", ""]
    out += [f"- {text}" for text in _notes(extraction)] or ["- none"]
    return "\n".join(out) + "\n"


def html(extraction: Extraction, source: str, known: Graph | None = None) -> str:
    """The review as a standalone HTML page (UTF-8, no scripts): the same sections as ``markdown``."""
    esc = html_lib.escape
    head = "".join(f"<th>{esc(h)}</th>" for h in HEADERS)
    body = "".join(
        "<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows(extraction, known)
    )
    left = "".join(
        f'<li class="leftover"><code>{esc(source)}:{esc(line)}</code> {esc(reason)}: <q>{esc(text)}</q></li>'
        for line, text, reason in _leftovers(extraction)
    ) or "<li>nothing</li>"
    notes = "".join(f'<li class="note">{esc(text)}</li>' for text in _notes(extraction)) or "<li>none</li>"
    return (
        '<!DOCTYPE html>\n<html lang="zh"><head><meta charset="utf-8">'
        f"<title>Review of {esc(source)}</title>"
        "<style>body{font-family:'Noto Sans CJK SC',sans-serif;margin:1.5em}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:.3em;vertical-align:top}</style></head><body>"
        f"<h1>Review of {esc(source)}</h1><p>Plan: <code>{esc(str(extraction.plan))}</code></p>"
        f'<h2>Rulings</h2><table id="rulings"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        f'<h2>Left over</h2><ul id="leftovers">{left}</ul><h2>Notes</h2><ul id="notes">{notes}</ul>'
        "</body></html>\n"
    )
