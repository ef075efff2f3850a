"""The plans index: every plan of the graph with its 文号, title, jurisdiction, level pair, date, parent, number of
rulings, and its status, derived from the data:

- ``unreviewed``: extracted by ``shiquan extract`` and not yet checked by hand (``sq:reviewed false``);
- ``none``: no ruling recorded, and why: the graph holds no text of the plan (``sq:text``), as for
  青政〔2024〕36号 and 国办发〔2023〕48号, known only as cited; or its text is held but no ruling was read from it;
- ``partial``: rulings recorded, but some sections of its main content (provisions with a ``sq:category``)
  have none: which ones is listed;
- ``recorded``: every such section has rulings.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from rdflib import Literal

from shiquan import labels
from shiquan.publish.rulings import Select, slug_of, solutions

STATUS_WORDS = {
    "recorded": {"zh": "已录入划分", "en": "rulings recorded"},
    "partial": {"zh": "部分录入", "en": "partial"},
    "none": {"zh": "未录入划分", "en": "no rulings recorded"},
    "unreviewed": {"zh": "已抽取，未经人工核对", "en": "extracted, not reviewed"},
}
REASONS = {
    "no_text": {"zh": "图谱未收录该方案原文，故无划分数据。",
                "en": "the graph does not hold the plan's text, so it has no rulings."},
    "no_ruling_read": {"zh": "图谱收录了原文，但未从中读出划分。",
                       "en": "the graph holds its text, but no ruling was read from it."},
    "sections": {"zh": "以下条款无划分：", "en": "no rulings in sections: "},
}


@dataclass
class Named:
    iri: str
    label: str


@dataclass
class PlanEntry:
    """One plan as the index shows it."""

    iri: str
    slug: str
    title: str = ""
    number: str = ""
    issued: str = ""
    level_pair: str = ""
    jurisdiction: Named | None = None
    parent: Named | None = None
    parent_number: str = ""
    rulings: int = 0
    has_text: bool = False
    reviewed: bool | None = None
    missing: list[str] = field(default_factory=list)
    status: str = ""
    status_text: str = ""
    reason: str = ""

    @property
    def comparable(self) -> bool:
        return self.rulings > 0


def _status(entry: PlanEntry, lang: str) -> None:
    """Set the entry's status, its words and the reason, from what the data says (see the module's docstring)."""
    if entry.reviewed is False:
        entry.status = "unreviewed"
    elif entry.rulings == 0:
        entry.status = "none"
        entry.reason = REASONS["no_ruling_read" if entry.has_text else "no_text"][lang]
    elif entry.missing:
        entry.status = "partial"
        entry.reason = REASONS["sections"][lang] + "、".join(entry.missing)
    else:
        entry.status = "recorded"
    entry.status_text = STATUS_WORDS[entry.status][lang]


class _Index:
    """The queries of the index, one per kind of fact, then the labels."""

    def __init__(self, select: Select, lang: str, plans: list[str] | None):
        self.select, self.lang = select, lang
        self.values = f"VALUES ?plan {{ {' '.join(labels.iri_ref(p) for p in plans)} }}" if plans else ""

    def rows(self, text: str) -> list[dict]:
        return solutions(self.select, text)

    def build(self) -> list[PlanEntry]:
        entries: dict[str, PlanEntry] = {}
        for r in self.rows(f"""
            SELECT ?plan ?p ?o WHERE {{
                {self.values}
                ?plan a sq:Plan .
                VALUES ?p {{ dcterms:title sq:documentNumber dcterms:issued sq:levelPair sq:jurisdiction sq:text
                            sq:reviewed }}
                OPTIONAL {{ ?plan ?p ?o }}
            }}"""):
            plan = str(r["plan"])
            if slug_of(plan):
                self.fact(entries.setdefault(plan, PlanEntry(plan, slug_of(plan))), r)
        self.parents(entries)
        self.counts(entries)
        self.missing(entries)
        self.name(entries)
        for entry in entries.values():
            _status(entry, self.lang)
        return sorted(entries.values(), key=lambda e: (e.issued == "", [-ord(c) for c in e.issued], e.slug))

    def fact(self, entry: PlanEntry, r: dict) -> None:
        o, p = r.get("o"), str(r["p"]).rsplit("#", 1)[-1].rsplit("/", 1)[-1]
        if o is None:
            return
        if p == "title" and (not entry.title or o.language == self.lang):
            entry.title = str(o)
        elif p == "documentNumber":
            entry.number = str(o)
        elif p == "issued":
            entry.issued = str(o)
        elif p == "levelPair":
            entry.level_pair = str(o)
        elif p == "jurisdiction":
            entry.jurisdiction = Named(str(o), "")
        elif p == "text":
            entry.has_text = True
        elif p == "reviewed" and isinstance(o, Literal):
            entry.reviewed = bool(o.toPython())

    def parents(self, entries: dict[str, PlanEntry]) -> None:
        """The plan each one implements directly (sq:basedOn, the inferred chain left out)."""
        for r in self.rows(f"""
            SELECT ?plan ?parent ?number WHERE {{
                {self.values}
                ?plan a sq:Plan ; sq:basedOn ?parent .
                FILTER NOT EXISTS {{ ?plan sq:basedOn ?mid . ?mid sq:basedOn ?parent . FILTER(?mid != ?parent) }}
                OPTIONAL {{ ?parent sq:documentNumber ?number }}
            }}"""):
            if str(r["plan"]) in entries:
                entry = entries[str(r["plan"])]
                entry.parent = Named(str(r["parent"]), "")
                entry.parent_number = str(r.get("number", ""))

    def counts(self, entries: dict[str, PlanEntry]) -> None:
        for r in self.rows(f"""
            SELECT ?plan (COUNT(?a) AS ?n) WHERE {{ {self.values} ?plan a sq:Plan . ?a sq:statedIn ?plan }}
            GROUP BY ?plan"""):
            if str(r["plan"]) in entries:
                entries[str(r["plan"])].rulings = int(r["n"])

    def missing(self, entries: dict[str, PlanEntry]) -> None:
        """The sections of the main content (provisions with a category) that hold no ruling, in the plan's order."""
        found: dict[str, list[tuple[int, str]]] = defaultdict(list)
        for r in self.rows(f"""
            SELECT ?plan ?section ?order WHERE {{
                {self.values}
                ?p sq:provisionOf ?plan ; sq:category ?category ; sq:sectionNumber ?section .
                OPTIONAL {{ ?p sq:order ?order }}
                FILTER NOT EXISTS {{ ?a sq:provision ?p }}
            }}"""):
            found[str(r["plan"])].append((int(r["order"]) if "order" in r else 0, str(r["section"])))
        for plan, sections in found.items():
            if plan in entries:
                entries[plan].missing = [s for _, s in sorted(sections)]

    def name(self, entries: dict[str, PlanEntry]) -> None:
        named = [n for e in entries.values() for n in (e.jurisdiction, e.parent) if n is not None]
        found = labels.lookup(self.rows, {n.iri for n in named})
        for n in named:
            n.label = labels.pick(found.get(n.iri, {}), self.lang, labels.compact(n.iri))


def index(select: Select, lang: str, plans: list[str] | None = None) -> list[PlanEntry]:
    """Every plan under /id/plan/ (or only ``plans``), newest first, with its status in ``lang``.

    Raises ValueError for an IRI of ``plans`` that SPARQL cannot carry.
    """
    return _Index(select, lang, plans).build()
