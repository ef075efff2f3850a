"""Every ruling of a plan, as a researcher reads it: one record per assignment, with its caveats, in the plan's order.

The matrix, the comparison, the plans index and the tables to take away all read rulings here, so that a
ruling is read one way everywhere. ``select`` runs a SELECT and gives its solutions (see
:func:`shiquan.publish.matrix.solutions`): the web passes the workers' ``answer``, the command line a store.

The order is the plan's own: the section's ``sq:order``, then where the quoted sentence stands in the plan's
text (``sq:text``/``sq:content``), then where the matter's label stands in that sentence; a plan whose text
the graph lacks falls back on the quote, then the matter's label.

A level is named in the plan's own words: ``sq:levelPair`` ("市与县区") split at 与 gives the words of the
levels of ``sq:dividesBetween``, the higher level first (a level group ranks as its highest member).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from rdflib import Literal

from shiquan import labels
from shiquan.sparql.results import Answer
from shiquan.terms import to_rdflib
from shiquan.vocab import ID, PREFIXES

Select = Callable[[str], Answer]
Rows = Callable[[str], list[dict]]
PROLOGUE = "".join(f"PREFIX {p}: <{PREFIXES[p]}>\n" for p in ("dcterms", "rdf", "rdfs", "skos", "sq"))
PLAN_PREFIX = str(ID) + "plan/"
# The caveat of a ruling made 按照隶属关系, by language.
SUBORDINATION_WORDS = {"zh": "按照隶属关系", "en": "by subordination (按照隶属关系)"}
SUBORDINATION = SUBORDINATION_WORDS["zh"]
# An editorial note that marks a ruling resting on the project's reading of the text opens with these words
# (data/haidong-dongzhengban-2024-96.ttl, and what `shiquan extract` writes for a ruling carried by subordination).
INTERPRETATION_MARKS = ("Interpretation:", "解读：")
# Plans read per round of queries when every ruling of the graph is streamed (bounded memory, few round trips).
CHUNK = 40
_SPACE = re.compile(r"\s+")
FAR = 10**9


def solutions(select: Select, text: str) -> list[dict]:
    """Run a SELECT (with PROLOGUE); its solutions as dicts of rdflib terms, unbound variables left out."""
    answer = select(PROLOGUE + text)
    return [
        {name: to_rdflib(term) for name, term in zip(answer.variables, row) if term is not None}
        for row in answer.rows
    ]


def slug_of(plan: str) -> str:
    """The slug of a plan IRI under /id/plan/ ("" for any other IRI)."""
    return plan[len(PLAN_PREFIX) :] if plan.startswith(PLAN_PREFIX) else ""


def number(literal) -> Decimal | None:
    """A percentage as a number (70.0 → Decimal("70")), or None when it is none."""
    try:
        return Decimal(str(literal)).normalize()
    except InvalidOperation:
        return None


def level_words(pair: str, levels: dict[str, int]) -> dict[str, str]:
    """The plan's words for each level it divides between: "市与县区" with {市级: 3, 县级: 4} → 市, 县区.

    ``levels`` gives each level of ``sq:dividesBetween`` its rank (a group: its highest member's). Levels and
    words that do not pair one to one give no words.
    """
    words = [w for w in pair.split("与") if w]
    ordered = sorted(levels, key=lambda level: (levels[level], level))
    if len(words) != len(ordered):
        return {}
    return dict(zip(ordered, words))


def in_words(words: str, label: str) -> str:
    """A level in the plan's words with its label beside ("县区（县级）"), or its label alone."""
    return f"{words}（{label}）" if words and words != label else label


def place(label: str, quote: str) -> int:
    """Where a matter's label stands in a quote: the whole label, else its first four or two characters, else its
    last four (the quote may put level words inside the phrase: 市级制定实施全市知识产权战略); FAR when nowhere."""
    for probe in (label, label[:4], label[-4:], label[:2]):
        at = quote.find(probe) if len(probe) >= 2 else -1
        if at >= 0:
            return at
    return FAR


@dataclass
class Share:
    level: str
    words: str
    percentage: Decimal | None


@dataclass
class Ruling:
    """One assignment of a plan, labelled in one language, with its caveats."""

    assignment: str
    plan: str
    number: str
    section: str
    section_title: str
    category: str
    category_label: str
    matter: str
    matter_label: str
    level: str
    level_words: str
    level_label: str
    holder: str
    payer: str
    payer_label: str
    shares: list[Share]
    joint: bool
    by_subordination: bool
    interpretation: str
    quote: str
    order: tuple = ()

    @property
    def level_text(self) -> str:
        """The level in the plan's words with the level's label beside: "县区（县级）"."""
        return in_words(self.level_words, self.level_label)

    def payer_key(self) -> tuple:
        """Who pays, comparable across plans: the payer IRI, or a joint payer's members and shares."""
        if self.joint:
            return ("joint", tuple(sorted((s.level, s.percentage or Decimal(-1)) for s in self.shares)))
        return ("level", self.payer)


@dataclass
class PlanFacts:
    """What reading a plan's rulings needs of the plan itself."""

    iri: str
    number: str = ""
    pair: str = ""
    divides: dict[str, int] = field(default_factory=dict)
    text: str = ""


class Reader:
    """Reads the rulings of plans; labels are asked once and kept, so that streaming many plans stays cheap."""

    def __init__(self, select: Select, lang: str, matter: str | None = None):
        """``matter`` (an IRI): read only the rulings on that matter. Raises ValueError for an IRI SPARQL cannot carry."""
        self.select, self.lang = select, lang
        self.labels: dict[str, dict[str, str]] = {}
        self.only = f"VALUES ?matter {{ {labels.iri_ref(matter)} }}" if matter else ""

    def rows(self, text: str) -> list[dict]:
        return solutions(self.select, text)

    def label(self, iri: str) -> str:
        return labels.pick(self.labels.get(iri, {}), self.lang, labels.compact(iri) if iri else "")

    def learn(self, iris: Iterable[str]) -> None:
        """Look up the labels of the IRIs not seen yet."""
        wanted = {i for i in iris if i and i not in self.labels}
        if wanted:
            found = labels.lookup(self.rows, wanted)
            self.labels.update({i: found.get(i, {}) for i in wanted})

    def read(self, plans: list[str]) -> list[Ruling]:
        """The rulings of ``plans`` (IRIs), plan by plan in the order given, each plan's in its own order.

        Raises ValueError for an IRI that SPARQL cannot carry.
        """
        if not plans:
            return []
        values = " ".join(labels.iri_ref(p) for p in plans)
        facts = self.plan_facts(values, plans)
        found = self.assignments(values)
        shares = self.shares({str(r["payer"]) for r in found if r.get("joint") is not None and r["joint"].toPython()})
        notes = self.notes(values)
        self.learn({str(v) for r in found for k, v in r.items() if k in ("matter", "level", "holder", "payer", "category")}
                   | {s.level for members in shares.values() for s in members})
        rulings = [self.ruling(r, facts[str(r["plan"])], shares, notes) for r in found]
        position = {p: n for n, p in enumerate(plans)}
        rulings.sort(key=lambda r: (position[r.plan], r.order))
        return rulings

    def plan_facts(self, values: str, plans: list[str]) -> dict[str, PlanFacts]:
        facts = {p: PlanFacts(p) for p in plans}
        for r in self.rows(f"""
            SELECT ?plan ?number ?pair ?level ?rank ?content WHERE {{
                VALUES ?plan {{ {values} }}
                {{ ?plan sq:documentNumber ?number }}
                UNION {{ ?plan sq:levelPair ?pair }}
                UNION {{ ?plan sq:dividesBetween ?level .
                         OPTIONAL {{ ?level sq:rank ?own }}
                         OPTIONAL {{ SELECT ?level (MIN(?r) AS ?top) WHERE {{ ?level sq:includesLevel/sq:rank ?r }}
                                     GROUP BY ?level }}
                         BIND(COALESCE(?own, ?top, 99) AS ?rank) }}
                UNION {{ ?plan sq:text/sq:content ?content }}
            }}"""):
            plan = facts[str(r["plan"])]
            if "number" in r:
                plan.number = ", ".join(sorted({*filter(None, plan.number.split(", ")), str(r["number"])}))
            if "pair" in r and (not plan.pair or r["pair"].language == "zh"):
                plan.pair = str(r["pair"])
            if "level" in r:
                plan.divides[str(r["level"])] = int(r["rank"])
            if "content" in r:
                plan.text = _SPACE.sub("", str(r["content"]))
        return facts

    def assignments(self, values: str) -> list[dict]:
        return self.rows(f"""
            SELECT ?a ?plan ?matter ?level ?holder ?payer ?joint ?quote ?section ?stitle ?sorder ?category ?corder ?sub
            WHERE {{
                VALUES ?plan {{ {values} }} {self.only}
                ?a sq:statedIn ?plan ; sq:matter ?matter ; sq:level ?level .
                OPTIONAL {{ ?a sq:fiscalPowerHolder ?holder }}
                OPTIONAL {{ ?a sq:payer ?payer . BIND(EXISTS {{ ?payer a sq:JointPayer }} AS ?joint) }}
                OPTIONAL {{ ?a sq:sourceText ?quote }}
                OPTIONAL {{ ?a sq:provision ?p . ?p sq:sectionNumber ?section .
                           OPTIONAL {{ ?p sq:order ?sorder }} OPTIONAL {{ ?p dcterms:title ?stitle }} }}
                OPTIONAL {{ ?matter sq:category ?category . OPTIONAL {{ ?category sq:order ?corder }} }}
                OPTIONAL {{ ?a sq:bySubordination ?sub }}
            }}""")

    def shares(self, payers: set[str]) -> dict[str, list[Share]]:
        """For each joint payer, its member levels with their percentages where stated."""
        members: dict[str, dict[str, Share]] = defaultdict(dict)
        ordered = sorted(payers)
        for start in range(0, len(ordered), 400):
            values = " ".join(labels.iri_ref(p) for p in ordered[start : start + 400])
            for r in self.rows(f"""
                SELECT ?payer ?member ?percentage WHERE {{
                    VALUES ?payer {{ {values} }}
                    ?payer sq:memberLevel ?member .
                    OPTIONAL {{ ?payer sq:share ?share . ?share sq:shareLevel ?member ; sq:percentage ?percentage }}
                }}"""):
                members[str(r["payer"])][str(r["member"])] = Share(
                    str(r["member"]), "", number(r["percentage"]) if "percentage" in r else None
                )
        return {payer: list(found.values()) for payer, found in members.items()}

    def notes(self, values: str) -> dict[str, dict[str, str]]:
        """The interpretations among the editorial notes on the plans' assignments (INTERPRETATION_MARKS), by language."""
        notes: dict[str, dict[str, str]] = defaultdict(dict)
        for r in self.rows(f"""
            SELECT ?a ?note WHERE {{
                VALUES ?plan {{ {values} }} {self.only}
                ?a sq:statedIn ?plan ; sq:matter ?matter ; skos:editorialNote ?note .
            }}"""):
            if str(r["note"]).startswith(INTERPRETATION_MARKS):
                notes[str(r["a"])][r["note"].language or ""] = str(r["note"])
        return notes

    def ruling(self, r: dict, plan: PlanFacts, shares: dict[str, list[Share]], notes: dict) -> Ruling:
        words = level_words(plan.pair, plan.divides)
        level, payer, matter = str(r["level"]), str(r.get("payer", "")), str(r["matter"])
        joint = bool(r.get("joint", Literal(False)).toPython()) and payer in shares
        members = sorted(shares.get(payer, []), key=lambda s: (plan.divides.get(s.level, 99), s.level))
        members = [Share(s.level, words.get(s.level) or self.label(s.level), s.percentage) for s in members]
        quote = str(r.get("quote", ""))
        matter_label = self.label(matter)
        ruling = Ruling(
            assignment=str(r["a"]), plan=plan.iri, number=plan.number,
            section=str(r.get("section", "")), section_title=str(r.get("stitle", "")),
            category=str(r.get("category", "")), category_label=self.label(str(r.get("category", ""))),
            matter=matter, matter_label=matter_label,
            level=level, level_words=words.get(level, ""), level_label=self.label(level),
            holder=self.label(str(r.get("holder", ""))), payer=payer,
            payer_label=self.payer_text(payer, members, joint, words), shares=members if joint else [], joint=joint,
            by_subordination=bool(r["sub"].toPython()) if "sub" in r else False,
            interpretation=labels.pick(notes.get(str(r["a"]), {}), self.lang),
            quote=quote,
        )
        ruling.order = self.order(r, plan, ruling)
        return ruling

    def payer_text(self, payer: str, members: list[Share], joint: bool, words: dict[str, str]) -> str:
        """Who pays: a level in the plan's words with its label beside ("县区（县级）"), another payer's label, or a
        joint payer's members in the plan's words with their shares."""
        if not joint:
            return in_words(words.get(payer, ""), self.label(payer)) if payer else ""
        joined = "、" if self.lang == "zh" else ", "
        return joined.join(s.words + (f" {s.percentage:f}%" if s.percentage is not None else "") for s in members)

    def order(self, r: dict, plan: PlanFacts, ruling: Ruling) -> tuple:
        """Section order, then the quote's place in the plan's text, then the matter's place in the quote."""
        quote = _SPACE.sub("", ruling.quote)
        at = plan.text.find(quote) if quote and plan.text else -1
        within = place(ruling.matter_label, quote)
        section = int(r["sorder"]) if "sorder" in r else FAR
        category = int(r["corder"]) if "corder" in r else FAR
        return (section, category, at if at >= 0 else FAR, quote if at < 0 else "",
                within, ruling.matter_label, ruling.matter, plan.divides.get(ruling.level, 99),
                ruling.assignment)


def read(select: Select, plans: list[str], lang: str) -> list[Ruling]:
    """The rulings of ``plans`` in ``lang``: see :meth:`Reader.read`. Raises ValueError for a bad IRI."""
    return Reader(select, lang).read(plans)


def every_plan(select: Select) -> list[str]:
    """The IRIs of every plan under /id/plan/ with at least one ruling, in IRI order."""
    rows = solutions(select, "SELECT DISTINCT ?plan WHERE { ?a sq:statedIn ?plan . ?plan a sq:Plan } ORDER BY ?plan")
    return [str(r["plan"]) for r in rows if slug_of(str(r["plan"]))]


def stream(select: Select, lang: str, plans: list[str] | None = None) -> Iterator[Ruling]:
    """Every ruling of ``plans`` (default: of the whole graph), read CHUNK plans at a time so that memory stays flat."""
    reader = Reader(select, lang)
    plans = every_plan(select) if plans is None else plans
    for start in range(0, len(plans), CHUNK):
        yield from reader.read(plans[start : start + CHUNK])


def of_matter(select: Select, matter: str, lang: str) -> list[Ruling]:
    """Every plan's rulings on ``matter`` (an IRI), plan by plan (oldest first, then by IRI), each plan's in its own
    order, level by level. Raises ValueError for an IRI that SPARQL cannot carry."""
    rows = solutions(select, f"""
        SELECT ?plan (SAMPLE(?d) AS ?issued) WHERE {{
            ?a sq:matter {labels.iri_ref(matter)} ; sq:statedIn ?plan . ?plan a sq:Plan .
            OPTIONAL {{ ?plan dcterms:issued ?d }}
        }} GROUP BY ?plan ORDER BY ?issued ?plan""")
    plans = [str(r["plan"]) for r in rows if slug_of(str(r["plan"]))]
    reader = Reader(select, lang, matter)
    return [ruling for start in range(0, len(plans), CHUNK) for ruling in reader.read(plans[start : start + CHUNK])]
