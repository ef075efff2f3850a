"""Compare plans: their rulings aligned on the same ``sq:Matter`` at each level, each difference classified.

Levels are mapped through level groups: a plan ruling for 市县 (``sq:PrefecturalAndCountyLevels``) or 地方
(``sq:LocalLevels``) rules for each level the group ``sq:includesLevel``, so its ruling stands in the columns
of the city and the county levels of a 市与县区 plan. A payer that is the ruling's own level group pays, in such a
column, as that column's level.

Classes of difference (a cell may have more than one):

- ``only``: ruled by one plan only (some of the plans rule the matter at that level, the others do not);
- ``payer``: the payer differs (both exclusive, or both shared between other levels);
- ``exclusive_shared``: exclusive in one plan and shared in the other;
- ``shares``: shared by the same levels, with other shares;
- ``subordination``: ruled 按照隶属关系 (by subordination) in one plan and not in the other.

A plan without rulings cannot be compared: the comparison names it with the reason, and leaves it out.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from shiquan import labels
from shiquan.errors import BadRequest, NotFound
from shiquan.publish import plans as index
from shiquan.publish import rulings as reading
from shiquan.publish.rulings import Ruling, Select, solutions
from shiquan.vocab import mint

CLASSES = ("only", "payer", "exclusive_shared", "shares", "subordination")
CLASS_WORDS = {
    "only": {"zh": "仅一方划分", "en": "ruled by one plan only"},
    "payer": {"zh": "支出责任承担方不同", "en": "payer differs"},
    "exclusive_shared": {"zh": "一方独立承担、一方共同承担", "en": "exclusive in one, shared in the other"},
    "shares": {"zh": "分担比例不同", "en": "shares differ"},
    "subordination": {"zh": "一方按照隶属关系", "en": "by subordination in one"},
    "same": {"zh": "一致", "en": "agree"},
}
CANNOT = {"zh": "无法比较：", "en": "cannot be compared: "}
YES = {"zh": "是", "en": "yes"}


@dataclass
class Column:
    level: str
    label: str


@dataclass
class Cell:
    """One matter at one level: each plan's rulings there (empty when it rules nothing) and the classes found."""

    level: str
    rulings: list[list[Ruling]]
    classes: list[str]


@dataclass
class Row:
    category: str
    category_label: str
    matter: str
    label: str
    cells: list[Cell] = field(default_factory=list)

    @property
    def classes(self) -> list[str]:
        return [c for c in CLASSES if any(c in cell.classes for cell in self.cells)]


@dataclass
class Comparison:
    """Plans compared (those with rulings), those left out with why, the columns, the rows and the counts."""

    plans: list[index.PlanEntry]
    left_out: list[index.PlanEntry]
    columns: list[Column]
    rows: list[Row]
    counts: dict[str, Counter]  # category label → class → cells
    totals: Counter

    @property
    def compared(self) -> bool:
        return len(self.plans) >= 2


def plan_iris(slugs: list[str]) -> list[str]:
    """The IRIs of plan slugs. Raises BadRequest for fewer than two slugs, a repeated or malformed one."""
    if len(slugs) < 2:
        raise BadRequest("name at least two plans to compare (plan=<slug>&plan=<slug>)")
    if len(set(slugs)) != len(slugs):
        raise BadRequest(f"a plan is named twice: {', '.join(slugs)}")
    iris = []
    for slug in slugs:
        try:
            iris.append(str(mint("plan", slug)))
        except ValueError:
            raise BadRequest(f"no plan {slug!r}: plan slugs are lower-case ASCII words joined by '-'") from None
    return iris


def compare(select: Select, slugs: list[str], lang: str) -> Comparison:
    """Compare the plans ``slugs`` in ``lang``.

    Raises BadRequest for fewer than two slugs or a malformed one, NotFound for a plan the graph lacks.
    """
    iris = plan_iris(slugs)
    entries = {e.iri: e for e in index.index(select, lang, iris)}
    for iri, slug in zip(iris, slugs):
        if iri not in entries:
            raise NotFound(f"no plan {slug!r} in the graph")
    chosen = [entries[i] for i in iris]
    for entry in chosen:
        if not entry.comparable:
            entry.reason = CANNOT[lang] + entry.reason
    compared = [e for e in chosen if e.comparable]
    left_out = [e for e in chosen if not e.comparable]
    if len(compared) < 2:
        return Comparison(compared, left_out, [], [], {}, Counter())
    reader = reading.Reader(select, lang)
    found = reader.read([e.iri for e in compared])
    return _Aligning(reader, [e.iri for e in compared], found).comparison(compared, left_out)


class _Aligning:
    """The steps: the level groups, the columns, the cells, the classes, the counts."""

    def __init__(self, reader: reading.Reader, plans: list[str], found: list[Ruling]):
        """``reader``: the one that read ``found``; the labels it has learnt are not asked again."""
        self.select, self.plans, self.found, self.lang, self.reader = reader.select, plans, found, reader.lang, reader
        levels = {r.level for r in found} | {s.level for r in found for s in r.shares}
        self.members = self.groups(levels)
        reader.learn(levels | {m for ms in self.members.values() for m in ms})

    def groups(self, levels: set[str]) -> dict[str, set[str]]:
        """The levels each level group includes."""
        values = " ".join(labels.iri_ref(level) for level in sorted(levels))
        members: dict[str, set[str]] = defaultdict(set)
        for r in solutions(self.select, f"SELECT ?g ?m WHERE {{ VALUES ?g {{ {values} }} ?g sq:includesLevel ?m }}"):
            members[str(r["g"])].add(str(r["m"]))
        return members

    def columns(self) -> list[str]:
        """Every level ruled, a group replaced by its members that another plan rules for."""
        by_plan: dict[str, set[str]] = defaultdict(set)
        for r in self.found:
            by_plan[r.plan].add(r.level)
        columns: list[str] = []
        for r in self.found:
            others = set().union(*(levels for plan, levels in by_plan.items() if plan != r.plan))
            for level in sorted(self.members.get(r.level, set()) & others) or [r.level]:
                if level not in columns:
                    columns.append(level)
        rank = {level: n for n, level in enumerate(columns)}
        return sorted(columns, key=lambda level: (min((rank[c] for c in columns if level in self.members.get(c, ())),
                                                      default=rank[level]), rank[level]))

    def place(self, ruling: Ruling, columns: list[str]) -> list[str]:
        """The columns a ruling stands in: its level, or the members of its level group that are columns."""
        if ruling.level in columns:
            return [ruling.level]
        return [c for c in columns if c in self.members.get(ruling.level, ())]

    def payer(self, ruling: Ruling, column: str) -> tuple:
        """Who pays, comparable across plans: the ruling's own level group paying reads as the column's level."""
        def mapped(level: str) -> str:
            return column if level == ruling.level and level != column else level

        if ruling.joint:
            return ("joint", tuple(sorted(mapped(s.level) for s in ruling.shares)),
                    tuple(sorted((mapped(s.level), s.percentage) for s in ruling.shares)))
        return ("level", mapped(ruling.payer), ())

    def classes(self, here: list[list[Ruling]], column: str) -> list[str]:
        """The classes of difference between the plans' rulings in one cell."""
        if any(not found for found in here):
            return ["only"]
        payers = [self.payer(found[0], column) for found in here]
        kinds = {p[0] for p in payers}
        classes = []
        if len(kinds) > 1:
            classes.append("exclusive_shared")
        elif len({p[:2] for p in payers}) > 1:
            classes.append("payer")
        elif kinds == {"joint"} and len({p[2] for p in payers}) > 1:
            classes.append("shares")
        if len({found[0].by_subordination for found in here}) > 1:
            classes.append("subordination")
        return classes

    def comparison(self, compared: list[index.PlanEntry], left_out: list[index.PlanEntry]) -> Comparison:
        columns = self.columns()
        cells: dict[tuple[str, str], list[list[Ruling]]] = defaultdict(lambda: [[] for _ in self.plans])
        rows: dict[str, Row] = {}
        position = {p: n for n, p in enumerate(self.plans)}
        for r in sorted(self.found, key=lambda r: (r.order[:2], position[r.plan], r.order)):
            rows.setdefault(r.matter, Row(r.category, r.category_label, r.matter, r.matter_label))
            for column in self.place(r, columns):
                cells[(r.matter, column)][position[r.plan]].append(r)
        counts: dict[str, Counter] = defaultdict(Counter)
        totals: Counter = Counter()
        for row in rows.values():
            for column in columns:
                here = cells.get((row.matter, column))
                if here is None:
                    row.cells.append(Cell(column, [[] for _ in self.plans], []))
                    continue
                found = self.classes(here, column)
                row.cells.append(Cell(column, here, found))
                counts[row.category_label].update(found)
                totals.update(found)
        shown = [Column(c, self.reader.label(c)) for c in columns]
        return Comparison(compared, left_out, shown, list(rows.values()), dict(counts), totals)


def table_lines(found: Comparison, lang: str) -> tuple[list[str], list[list]]:
    """The comparison as a table: one line per matter and level, each plan's payer and quote, then the classes."""
    header = ["类别" if lang == "zh" else "category", "事项" if lang == "zh" else "matter",
              "层级" if lang == "zh" else "level"]
    for plan in found.plans:
        header += [f"{plan.number or plan.slug} {w}" for w in (("支出责任", "按照隶属关系", "原文") if lang == "zh"
                                                             else ("payer", "by subordination", "quote"))]
    header.append("差异" if lang == "zh" else "differences")
    lines = []
    labels = {c.level: c.label for c in found.columns}
    for row in found.rows:
        for cell in row.cells:
            if not any(cell.rulings):
                continue
            line = [row.category_label, row.label, labels[cell.level]]
            for here in cell.rulings:
                line += [" | ".join(r.payer_label for r in here),
                         YES[lang] if any(r.by_subordination for r in here) else "",
                         " | ".join(r.quote for r in here)]
            line.append("；".join(CLASS_WORDS[c][lang] for c in cell.classes) or CLASS_WORDS["same"][lang])
            lines.append(line)
    return header, lines


def as_json(found: Comparison) -> dict:
    """The comparison as JSON: the plans (with those left out and why), the counts, and every cell with its rulings."""
    def ruling(r: Ruling) -> dict:
        return {"assignment": r.assignment, "payer": r.payer_label, "quote": r.quote,
                "bySubordination": r.by_subordination, "interpretation": r.interpretation}

    return {
        "compared": found.compared,
        "plans": [{"slug": p.slug, "number": p.number, "title": p.title} for p in found.plans],
        "leftOut": [{"slug": p.slug, "number": p.number, "title": p.title, "reason": p.reason} for p in found.left_out],
        "columns": [{"level": c.level, "label": c.label} for c in found.columns],
        "totals": dict(found.totals),
        "counts": {category: dict(counted) for category, counted in found.counts.items()},
        "rows": [
            {"matter": row.matter, "label": row.label, "category": row.category_label,
             "cells": [{"level": cell.level, "classes": cell.classes, "rulings": [[ruling(r) for r in here] for here in cell.rulings]}
                       for cell in row.cells if any(cell.rulings)]}
            for row in found.rows
        ],
    }
