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

import csv
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from shiquan import labels
from shiquan.sparql.results import Answer
from shiquan.terms import to_rdflib
from shiquan.vocab import ID, PREFIXES

Select = Callable[[str], Answer]
Rows = Callable[[str], list[dict]]
# Runs a SELECT and gives its solutions as tuples of lexical values in the order of the variables, unbound as
# None or "" (as SPARQL's CSV results write it): see :func:`table_of`.
Table = Callable[[str], list[tuple]]
PROLOGUE = "".join(f"PREFIX {p}: <{PREFIXES[p]}>\n" for p in ("dcterms", "rdf", "rdfs", "skos", "sq"))
PLAN_PREFIX = str(ID) + "plan/"
# The caveat of a ruling made 按照隶属关系, by language.
SUBORDINATION_WORDS = {"zh": "按照隶属关系", "en": "by subordination (按照隶属关系)"}
SUBORDINATION = SUBORDINATION_WORDS["zh"]
# An editorial note that marks a ruling resting on the project's reading of the text opens with these words
# (data/haidong-dongzhengban-2024-96.ttl, and what `shiquan extract` writes for a ruling carried by subordination).
INTERPRETATION_MARKS = ("Interpretation:", "解读：")
# Plans read per round of queries when every ruling of the graph is streamed (bounded memory, few round trips): a
# round is six queries. Smaller rounds keep a query worker's copied memory down (each round touches new pages of
# the store; a worker over WORKER_MEMORY_MB is replaced): /download/rulings.csv of the 3-province graph (49,352
# rulings) served from memory took 8.2, 15.4 and 8.7 s with 25 plans a round, 15.2, 12.6 and 12.6 s with 100
# (load average about 5.5).
CHUNK = 25
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
    words: dict[str, str] = field(default_factory=dict)  # level → the plan's words for it (:func:`level_words`)
    found: dict[str, int] = field(default_factory=dict)  # a quote (spaces removed) → where it stands in ``text``


def table_of(select: Select) -> Table:
    """A :data:`Table` over ``select``: each solution's lexical values, None where unbound."""
    return lambda text: [tuple(None if term is None else term.value for term in row) for row in select(text).rows]


def csv_rows(body: bytes) -> list[tuple]:
    """The solutions of a SPARQL CSV results document (the header skipped): a :data:`Table`'s rows, unbound as "".

    A server hands the table of every ruling this way (``Runtime.query`` with ``Accept: text/csv``): the worker
    writes plain text and this process splits it in C, where pickled pyoxigraph terms cost about 9 µs each.
    """
    rows = csv.reader(io.StringIO(body.decode("utf-8"), newline=""))
    next(rows, None)
    return [tuple(row) for row in rows]


def values(table: Table, text: str) -> list[tuple]:
    """Run a SELECT (with PROLOGUE) through ``table``: its solutions as tuples of lexical values. Reading values,
    not rdflib terms, keeps a chunk of thousands of rulings cheap; "" and None both stand for unbound."""
    return table(PROLOGUE + text)


def chosenof(table: Table, name: str, iris: Iterable[str], body: str) -> Iterator[tuple]:
    """:func:`values` of the SELECT ``body`` run with ``VALUES ?name`` bound to ``iris``, 400 at a time (sorted).
    Asking by the IRIs already in hand keeps the engine off the joins that found them. Raises ValueError for an
    IRI that SPARQL cannot carry."""
    ordered = sorted(set(iris))
    for start in range(0, len(ordered), 400):
        batch = " ".join(labels.iri_ref(i) for i in ordered[start : start + 400])
        yield from values(table, body.replace("{VALUES}", f"VALUES ?{name} {{ {batch} }}"))


def truth(value: str | None) -> bool:
    """An xsd:boolean's lexical value as a bool (unbound: False)."""
    return value in ("true", "1")


class Reader:
    """Reads the rulings of plans; labels are asked once and kept, so that streaming many plans stays cheap.

    A chunk of plans costs six queries: the plans' facts, their assignments (only what varies per assignment),
    the sections they stand in, the categories of the matters not met before, the joint payers' shares and the
    interpretations; then the labels not met before.
    """

    def __init__(self, select: Select, lang: str, matter: str | None = None, table: Table | None = None):
        """``matter`` (an IRI): read only the rulings on that matter; ``table``: how the rows of the assignments are
        read (default: :func:`table_of` ``select``). Raises ValueError for an IRI SPARQL cannot carry."""
        self.select, self.lang = select, lang
        self.table = table or table_of(select)
        self.labels: dict[str, dict[str, str]] = {}
        self.named: dict[str, str] = {}  # IRI → its label in ``lang`` (or its short form), as label() gives it
        self.categories: dict[str, list[tuple[str, str | None]]] = {}  # matter → (category, order) each
        self.only = f"VALUES ?matter {{ {labels.iri_ref(matter)} }}" if matter else ""

    def rows(self, text: str) -> list[dict]:
        return solutions(self.select, text)

    def label(self, iri: str) -> str:
        named = self.named.get(iri)
        if named is None:
            named = self.named[iri] = labels.pick(self.labels.get(iri, {}), self.lang, labels.compact(iri) if iri else "")
        return named

    def learn(self, iris: Iterable[str]) -> None:
        """Look up the labels of the IRIs not seen yet."""
        wanted = {i for i in iris if i and i not in self.labels}
        if wanted:
            found = labels.lookup(self.rows, wanted)
            self.labels.update({i: found.get(i, {}) for i in wanted})
            for iri in wanted:
                self.named.pop(iri, None)

    def read(self, plans: list[str]) -> list[Ruling]:
        """The rulings of ``plans`` (IRIs), plan by plan in the order given, each plan's in its own order.

        Raises ValueError for an IRI that SPARQL cannot carry.
        """
        if not plans:
            return []
        chosen = " ".join(labels.iri_ref(p) for p in plans)
        facts = self.plan_facts(chosen, plans)
        found = self.assignments(chosen)
        sections = self.sections({row[7] for row in found if row[7]})
        categories = self.matter_categories({row[2] for row in found})
        shares = self.shares({row[5] for row in found if row[5]})
        notes = self.notes(chosen)
        self.learn({iri for row in found for iri in row[2:5]} | {row[5] for row in found if row[5] not in shares}
                   | {c for row in found for c, _ in categories[row[2]]} | {s.level for ms in shares.values() for s in ms})
        rulings = [
            self.ruling(row, facts[row[1]], section, category, shares, notes)
            for row in found
            for section in sections.get(row[7], [NO_SECTION])
            for category in categories[row[2]] or [NO_CATEGORY]
        ]
        position = {p: n for n, p in enumerate(plans)}
        rulings.sort(key=lambda r: (position[r.plan], r.order))
        return rulings

    def plan_facts(self, chosen: str, plans: list[str]) -> dict[str, PlanFacts]:
        facts = {p: PlanFacts(p) for p in plans}
        for r in self.rows(f"""
            SELECT ?plan ?number ?pair ?level ?rank ?content WHERE {{
                VALUES ?plan {{ {chosen} }}
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
        for plan in facts.values():
            plan.words = level_words(plan.pair, plan.divides)
        return facts

    def assignments(self, chosen: str) -> list[tuple]:
        """What varies per assignment: (a, plan, matter, level, holder, payer, quote, provision, bySubordination).
        The facts shared by many assignments (sections, categories, shares, labels) are read apart, once each."""
        return values(self.table, f"""
            SELECT ?a ?plan ?matter ?level ?holder ?payer ?quote ?p ?sub WHERE {{
                VALUES ?plan {{ {chosen} }} {self.only}
                ?a sq:statedIn ?plan ; sq:matter ?matter ; sq:level ?level .
                OPTIONAL {{ ?a sq:fiscalPowerHolder ?holder }}
                OPTIONAL {{ ?a sq:payer ?payer }}
                OPTIONAL {{ ?a sq:sourceText ?quote }}
                OPTIONAL {{ ?a sq:provision ?p }}
                OPTIONAL {{ ?a sq:bySubordination ?sub }}
            }}""")

    def sections(self, provisions: set[str]) -> dict[str, list[tuple]]:
        """For each of ``provisions`` that has a section number: (number, title, order) each."""
        found: dict[str, list[tuple]] = defaultdict(list)
        for p, *section in chosenof(self.table, "p", provisions, """
            SELECT ?p ?section ?stitle ?sorder WHERE {
                {VALUES} ?p sq:sectionNumber ?section .
                OPTIONAL { ?p sq:order ?sorder } OPTIONAL { ?p dcterms:title ?stitle }
            }"""):
            found[p].append(tuple(section))
        return found

    def matter_categories(self, matters: set[str]) -> dict[str, list[tuple[str, str | None]]]:
        """Each matter's categories with their order: a small table, kept, so that each matter is asked once."""
        wanted = {m for m in matters if m not in self.categories}
        for matter in wanted:
            self.categories[matter] = []
        for matter, category, order in chosenof(self.table, "matter", wanted, """
            SELECT ?matter ?category ?corder WHERE {
                {VALUES} ?matter sq:category ?category . OPTIONAL { ?category sq:order ?corder }
            }"""):
            self.categories[matter].append((category, order or None))
        return self.categories

    def shares(self, payers: set[str]) -> dict[str, list[Share]]:
        """For each joint payer among ``payers``, its member levels with their percentages where stated. Asked by
        the payers themselves: joined to the plans' assignments instead, the shares' OPTIONAL made the query five
        times slower (52 ms against 9 ms for 40 plans of a 3-province graph)."""
        members: dict[str, dict[str, Share]] = defaultdict(dict)
        for payer, member, percentage in chosenof(self.table, "payer", payers, """
            SELECT ?payer ?member ?percentage WHERE {
                {VALUES} ?payer a sq:JointPayer ; sq:memberLevel ?member .
                OPTIONAL { ?payer sq:share ?share . ?share sq:shareLevel ?member ; sq:percentage ?percentage }
            }"""):
            members[payer][member] = Share(member, "", number(percentage) if percentage else None)
        return {payer: list(found.values()) for payer, found in members.items()}

    def notes(self, chosen: str) -> dict[str, dict[str, str]]:
        """The interpretations among the editorial notes on the plans' assignments (INTERPRETATION_MARKS), by language."""
        notes: dict[str, dict[str, str]] = defaultdict(dict)
        for r in self.rows(f"""
            SELECT ?a ?note WHERE {{
                VALUES ?plan {{ {chosen} }} {self.only}
                ?a sq:statedIn ?plan ; sq:matter ?matter ; skos:editorialNote ?note .
            }}"""):
            if str(r["note"]).startswith(INTERPRETATION_MARKS):
                notes[str(r["a"])][r["note"].language or ""] = str(r["note"])
        return notes

    def ruling(self, row: tuple, plan: PlanFacts, section: tuple, category: tuple, shares: dict[str, list[Share]],
               notes: dict) -> Ruling:
        """One ruling from an assignment's row (see :meth:`assignments`) and the facts read apart."""
        assignment, _, matter, level, holder, payer, quote, _, sub = row
        payer, quote, words = payer or "", quote or "", plan.words
        joint = payer in shares
        members = sorted(shares.get(payer, []), key=lambda s: (plan.divides.get(s.level, 99), s.level))
        members = [Share(s.level, words.get(s.level) or self.label(s.level), s.percentage) for s in members]
        matter_label = self.label(matter)
        ruling = Ruling(
            assignment=assignment, plan=plan.iri, number=plan.number,
            section=section[0] or "", section_title=section[1] or "",
            category=category[0] or "", category_label=self.label(category[0] or ""),
            matter=matter, matter_label=matter_label,
            level=level, level_words=words.get(level, ""), level_label=self.label(level),
            holder=self.label(holder or ""), payer=payer,
            payer_label=self.payer_text(payer, members, joint, words), shares=members if joint else [], joint=joint,
            by_subordination=truth(sub),
            interpretation=labels.pick(notes.get(assignment, {}), self.lang),
            quote=quote,
        )
        ruling.order = self.order(section[2], category[1], plan, ruling)
        return ruling

    def payer_text(self, payer: str, members: list[Share], joint: bool, words: dict[str, str]) -> str:
        """Who pays: a level in the plan's words with its label beside ("县区（县级）"), another payer's label, or a
        joint payer's members in the plan's words with their shares."""
        if not joint:
            return in_words(words.get(payer, ""), self.label(payer)) if payer else ""
        joined = "、" if self.lang == "zh" else ", "
        return joined.join(s.words + (f" {s.percentage:f}%" if s.percentage is not None else "") for s in members)

    def order(self, section: str | None, category: str | None, plan: PlanFacts, ruling: Ruling) -> tuple:
        """Section order, then the quote's place in the plan's text, then the matter's place in the quote."""
        quote = _SPACE.sub("", ruling.quote)
        at = plan.found.get(quote)
        if at is None:
            at = plan.found[quote] = plan.text.find(quote) if quote and plan.text else -1
        within = place(ruling.matter_label, quote)
        return (int(section) if section else FAR, int(category) if category else FAR,
                at if at >= 0 else FAR, quote if at < 0 else "",
                within, ruling.matter_label, ruling.matter, plan.divides.get(ruling.level, 99),
                ruling.assignment)


# A provision without a section number, a matter without a category: the columns stay empty.
NO_SECTION: tuple = (None, None, None)
NO_CATEGORY: tuple = (None, None)


def read(select: Select, plans: list[str], lang: str) -> list[Ruling]:
    """The rulings of ``plans`` in ``lang``: see :meth:`Reader.read`. Raises ValueError for a bad IRI."""
    return Reader(select, lang).read(plans)


def every_plan(select: Select) -> list[str]:
    """The IRIs of every plan under /id/plan/ with at least one ruling, in IRI order. Each plan is asked whether it
    has a ruling (EXISTS), rather than every ruling for its plan: 24 ms against 350 ms on a 3-province graph, and
    over the 10 s query limit on the 31-province graph in an on-disk store."""
    rows = solutions(select, """
        SELECT DISTINCT ?plan WHERE { ?plan a sq:Plan . FILTER EXISTS { ?a sq:statedIn ?plan } } ORDER BY ?plan""")
    return [str(r["plan"]) for r in rows if slug_of(str(r["plan"]))]


def stream(select: Select, lang: str, plans: list[str] | None = None, table: Table | None = None) -> Iterator[Ruling]:
    """Every ruling of ``plans`` (default: of the whole graph), read CHUNK plans at a time so that memory stays flat;
    ``table`` as for :class:`Reader`. The next chunk is read in a thread while the caller takes this one, so that
    the worker evaluating its queries and the caller writing rows work at the same time. Raises as :meth:`Reader.read`."""
    reader = Reader(select, lang, table=table)
    plans = every_plan(select) if plans is None else plans
    chunks = [plans[start : start + CHUNK] for start in range(0, len(plans), CHUNK)]
    if not chunks:
        return
    with ThreadPoolExecutor(1, thread_name_prefix="shiquan-rulings") as ahead:
        coming = ahead.submit(reader.read, chunks[0])
        for after in [*chunks[1:], None]:
            found = coming.result()
            if after is not None:
                coming = ahead.submit(reader.read, after)
            yield from found


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
