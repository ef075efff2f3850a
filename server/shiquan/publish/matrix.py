"""A plan's responsibility matrix: for each matter (grouped by category) and level, who pays, quoting the source.

Every fact comes from SPARQL through ``select``, a callable that runs a SELECT and
returns its :class:`~shiquan.sparql.results.Answer`: the web passes the runtime's
``answer`` (so the query workers answer), the command line runs the query on a
store it built. The matrix holds IRIs, never links: where an IRI leads is the
caller's business.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import pyoxigraph as ox
from rdflib import RDF, URIRef
from rdflib.namespace import DCTERMS

from shiquan import labels
from shiquan.publish import rulings, tables
from shiquan.errors import NotFound
from shiquan.sparql.results import Answer, table
from shiquan.vocab import ID, SQ

Select = Callable[[str], Answer]
# The words of the CSV header, by language.
MATRIX_WORDS = {
    "zh": {"category": "类别", "matter": "事项", "matter_iri": "事项IRI", "payer": "支出责任", "quote": "原文"},
    "en": {"category": "category", "matter": "matter", "matter_iri": "matter IRI", "payer": "payer", "quote": "quote"},
}


@dataclass
class Cell:
    """One assignment of a matter to a level: who pays (labelled), the quoted sentence, its section, its caveats."""

    payer: str
    quote: str
    section: str
    assignment: str  # the assignment's IRI
    matter: str = ""  # the matter's label, for the hover text
    by_subordination: bool = False
    interpretation: str = ""

    @property
    def hover(self) -> str:
        """The hover text: the matter named, then the quote, then the caveats."""
        lines = [f"{self.matter}：{self.quote}" if self.matter else self.quote]
        if self.by_subordination:
            lines.append(rulings.SUBORDINATION)
        if self.interpretation:
            lines.append(self.interpretation)
        return "\n".join(lines)


@dataclass
class Row:
    """A matter, with its cells: for each column, the assignments of the matter to that level (often one)."""

    iri: str
    label: str
    cells: list[list[Cell]] = field(default_factory=list)


@dataclass
class Group:
    """The matters of one category ("" and None for matters without one)."""

    iri: str | None
    label: str
    order: int | None
    rows: list[Row] = field(default_factory=list)


@dataclass
class Column:
    """A level: its label, and the plan's own words for it ("县区" for the county level of 市与县区)."""

    iri: str
    label: str
    words: str = ""

    @property
    def text(self) -> str:
        return rulings.in_words(self.words, self.label)


@dataclass
class Target:
    iri: str
    label: str


@dataclass
class Link:
    """A property of the plan (jurisdiction, issuer, based on) with the things it names."""

    name: str
    targets: list[Target]


@dataclass
class Matrix:
    """A plan's header and its responsibility matrix, in one language."""

    iri: str
    slug: str
    title: str
    titles: dict[str, str]
    number: str
    issued: str
    level_pair: str
    links: list[Link]
    columns: list[Column]
    groups: list[Group]
    rulings: list[rulings.Ruling] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many matters the matrix has."""
        return sum(len(g.rows) for g in self.groups)


def plan_matrix(select: Select, plan_iri: str, lang: str) -> Matrix:
    """The responsibility matrix of the plan ``plan_iri`` in ``lang`` ("zh" or "en").

    Raises NotFound for a plan the graph lacks, ValueError for an IRI that SPARQL
    cannot carry.
    """
    return _Building(select, plan_iri, lang).matrix()


class _Building:
    """The steps of building a matrix: the plan's head, its rulings (read by :mod:`rulings`), the columns, the rows."""

    def __init__(self, select: Select, plan: str, lang: str):
        self.select, self.plan, self.lang = select, plan, lang
        self.node = labels.iri_ref(plan)
        self.reader = rulings.Reader(select, lang)

    def rows(self, text: str) -> list[dict]:
        return rulings.solutions(self.select, text)

    def matrix(self) -> Matrix:
        head = self.head()
        found = self.reader.read([self.plan])
        iris = {self.plan, str(SQ.jurisdiction), str(SQ.issuedBy), str(SQ.basedOn)}
        iris |= {str(r["o"]) for r in head if isinstance(r["o"], URIRef)}
        self.reader.learn(iris)
        facts: dict[URIRef, list] = defaultdict(list)
        for r in head:
            facts[r["p"]].append(r["o"])
        columns = self.columns(facts, found)
        matrix = self.header(facts, columns, self.groups(found, columns))
        matrix.rulings = found
        return matrix

    def head(self) -> list[dict]:
        """What the plan says of itself. Raises NotFound when it is no plan."""
        head = self.rows(f"""
            SELECT ?p ?o WHERE {{
                VALUES ?p {{
                    rdf:type dcterms:title sq:documentNumber dcterms:issued sq:levelPair
                    sq:jurisdiction sq:issuedBy sq:basedOn sq:dividesBetween
                }}
                {self.node} ?p ?o .
            }}""")
        if not any(r["p"] == RDF.type and r["o"] == SQ.Plan for r in head):
            raise NotFound(f"no plan <{self.plan}> in the graph")
        return head

    def label(self, iri: str) -> str:
        return self.reader.label(iri)

    def columns(self, facts: dict[URIRef, list], found: list[rulings.Ruling]) -> list[Column]:
        """The levels the plan divides between (higher first), then any other level it assigns to."""
        words = {r.level: r.level_words for r in found if r.level_words}
        divided = [str(level) for level in facts[SQ.dividesBetween]]
        self.reader.learn(divided)
        seen = {r.level: n for n, r in enumerate(found)}
        pair = labels.pick({o.language or "": str(o) for o in facts[SQ.levelPair]}, "zh")
        ranked = self.ranks(divided)
        words |= rulings.level_words(pair, ranked)
        levels = sorted(divided, key=lambda level: (ranked[level], level))
        levels += sorted({r.level for r in found} - set(levels), key=lambda level: (seen[level], level))
        return [Column(level, self.label(level), words.get(level, "")) for level in levels]

    def ranks(self, levels: list[str]) -> dict[str, int]:
        """The rank of each level (a level group: its highest member's), 99 when the graph gives none."""
        if not levels:
            return {}
        values = " ".join(labels.iri_ref(level) for level in levels)
        found = {
            str(r["level"]): int(r["rank"])
            for r in self.rows(f"""
                SELECT ?level (MIN(?r) AS ?rank) WHERE {{
                    VALUES ?level {{ {values} }}
                    {{ ?level sq:rank ?r }} UNION {{ ?level sq:includesLevel/sq:rank ?r }}
                }} GROUP BY ?level""")
            if "rank" in r
        }
        return {level: found.get(level, 99) for level in levels}

    def groups(self, found: list[rulings.Ruling], columns: list[Column]) -> list[Group]:
        """The matters by category in the plan's order (section, then place in the text); a cell per column."""
        categories: dict[str, Group] = {}
        matters: dict[str, dict[str, Row]] = defaultdict(dict)
        cells: dict[tuple[str, str], list[Cell]] = defaultdict(list)
        uncategorised = "未分类" if self.lang == "zh" else "uncategorised"
        for r in found:  # already in the plan's order
            if r.category not in categories:
                order = r.order[1] if r.order and r.order[1] != rulings.FAR else None
                categories[r.category] = Group(r.category or None, r.category_label if r.category else uncategorised, order)
            matters[r.category].setdefault(r.matter, Row(r.matter, r.matter_label))
            cells[(r.matter, r.level)].append(Cell(
                r.payer_label, r.quote, r.section, r.assignment, r.matter_label, r.by_subordination, r.interpretation
            ))
        groups = list(categories.values())
        for group in groups:
            group.rows = list(matters[group.iri or ""].values())
            for row in group.rows:
                row.cells = [cells.get((row.iri, column.iri), []) for column in columns]
        return groups

    def header(self, facts: dict[URIRef, list], columns: list[Column], groups: list[Group]) -> Matrix:
        titles = {t.language or "": str(t) for t in facts[DCTERMS.title]}
        slug = self.plan[len(str(ID) + "plan/") :]
        return Matrix(
            iri=self.plan,
            slug=slug,
            title=labels.pick(titles, self.lang, slug),
            titles=titles,
            number=", ".join(sorted(str(n) for n in facts[SQ.documentNumber])),
            issued=", ".join(sorted(str(d) for d in facts[DCTERMS.issued])),
            level_pair=labels.pick({o.language or "": str(o) for o in facts[SQ.levelPair]}, self.lang),
            links=[
                Link(self.label(str(p)), [Target(str(o), self.label(str(o))) for o in facts[p]])
                for p in (SQ.jurisdiction, SQ.issuedBy, SQ.basedOn)
                if facts[p]
            ],
            columns=columns,
            groups=groups,
        )


# -- renderings ---------------------------------------------------------------------------------


def matrix_csv(matrix: Matrix, lang: str) -> bytes:
    """The plan's rulings as CSV that Excel opens (BOM, CRLF): the table of every ruling (:mod:`tables`), in the
    plan's order, with 文号, section, holder, shares as numbers and the caveats in their own columns."""
    return tables.csv_bytes(tables.ruling_header(lang), (tables.ruling_line(r, lang) for r in matrix.rulings))


def matrix_xlsx(matrix: Matrix, lang: str) -> bytes:
    """The plan's rulings as an XLSX workbook: the same table as :func:`matrix_csv`."""
    lines = [tables.ruling_line(r, lang) for r in matrix.rulings]
    return tables.xlsx_bytes([(matrix.slug, tables.ruling_header(lang), lines)])


def matrix_table(matrix: Matrix, lang: str) -> str:
    """The matrix as an aligned text table: category, matter, then who pays at each level (quotes left out)."""
    words = MATRIX_WORDS[lang]
    variables = [words["category"], words["matter"], *(column.text for column in matrix.columns)]
    rows = [
        tuple(ox.Literal(text) for text in (group.label, row.label, *(" | ".join(c.payer for c in found) for found in row.cells)))
        for group in matrix.groups
        for row in group.rows
    ]
    title = f"{matrix.title} ({matrix.number})" if matrix.number else matrix.title
    return f"{title}\n\n" + table(Answer("solutions", variables, rows))
