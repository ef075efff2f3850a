"""A plan's responsibility matrix: for each matter (grouped by category) and level, who pays, quoting the source.

Every fact comes from SPARQL through ``select``, a callable that runs a SELECT and
returns its :class:`~shiquan.sparql.results.Answer`: the web passes the runtime's
``answer`` (so the query workers answer), the command line runs the query on a
store it built. The matrix holds IRIs, never links: where an IRI leads is the
caller's business.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

import pyoxigraph as ox
from rdflib import RDF, URIRef
from rdflib.namespace import DCTERMS

from shiquan import labels
from shiquan.errors import NotFound
from shiquan.sparql.results import Answer, table
from shiquan.terms import to_rdflib
from shiquan.vocab import ID, PREFIXES, SQ

Select = Callable[[str], Answer]
# The prologue of the queries built here (values are never pasted in: IRIs go through labels.iri_ref).
PROLOGUE = "".join(f"PREFIX {p}: <{PREFIXES[p]}>\n" for p in ("dcterms", "rdf", "rdfs", "skos", "sq"))
# The words of the CSV header, by language.
MATRIX_WORDS = {
    "zh": {"category": "类别", "matter": "事项", "matter_iri": "事项IRI", "payer": "支出责任", "quote": "原文"},
    "en": {"category": "category", "matter": "matter", "matter_iri": "matter IRI", "payer": "payer", "quote": "quote"},
}


def solutions(select: Select, text: str) -> list[dict]:
    """Run a SELECT (with PROLOGUE); its solutions as dicts of rdflib terms, unbound variables left out."""
    answer = select(PROLOGUE + text)
    return [
        {name: to_rdflib(term) for name, term in zip(answer.variables, row) if term is not None}
        for row in answer.rows
    ]


@dataclass
class Cell:
    """One assignment of a matter to a level: who pays (labelled), the quoted sentence, its section."""

    payer: str
    quote: str
    section: str
    assignment: str  # the assignment's IRI


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
    iri: str
    label: str


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


def _number(literal) -> str:
    """A percentage as written in a cell: 70.0 as "70"."""
    try:
        value = Decimal(str(literal))
    except InvalidOperation:
        return str(literal)
    return f"{value.normalize():f}"


class _Building:
    """The steps of building a matrix: the queries, the labels, the columns, then the groups of rows."""

    def __init__(self, select: Select, plan: str, lang: str):
        self.select, self.plan, self.lang = select, plan, lang
        self.node = labels.iri_ref(plan)
        self.labels: dict[str, dict[str, str]] = {}
        self.ranks: dict[str, int] = {}
        self.members: dict[str, list[tuple[str, str | None]]] = defaultdict(list)

    def rows(self, text: str) -> list[dict]:
        return solutions(self.select, text)

    def matrix(self) -> Matrix:
        head = self.head()
        assignments = self.assignments()
        self.ranks = self.level_ranks()
        self.members = self.joint_members()
        iris = {self.plan, str(SQ.jurisdiction), str(SQ.issuedBy), str(SQ.basedOn)}
        iris |= {str(r["o"]) for r in head if isinstance(r["o"], URIRef)}
        for r in assignments:
            iris |= {str(v) for v in r.values() if isinstance(v, URIRef)}
        iris |= {m for found in self.members.values() for m, _ in found}
        self.labels = labels.lookup(self.rows, iris)
        facts: dict[URIRef, list] = defaultdict(list)
        for r in head:
            facts[r["p"]].append(r["o"])
        columns = self.columns(facts, assignments)
        return self.header(facts, columns, self.groups(assignments, columns))

    # -- the queries ------------------------------------------------------------------------

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

    def assignments(self) -> list[dict]:
        return self.rows(f"""
            SELECT ?a ?matter ?level ?payer ?quote ?section ?category ?order WHERE {{
                ?a sq:statedIn {self.node} ; sq:matter ?matter ; sq:level ?level .
                OPTIONAL {{ ?a sq:payer ?payer }}
                OPTIONAL {{ ?a sq:sourceText ?quote }}
                OPTIONAL {{ ?a sq:provision/sq:sectionNumber ?section }}
                OPTIONAL {{ ?matter sq:category ?category . OPTIONAL {{ ?category sq:order ?order }} }}
            }}""")

    def level_ranks(self) -> dict[str, int]:
        """The rank of every level the plan divides between, assigns to or names in a joint payer."""
        return {
            str(r["level"]): int(r["rank"])
            for r in self.rows(f"""
                SELECT DISTINCT ?level ?rank WHERE {{
                    {{ {self.node} sq:dividesBetween ?level }}
                    UNION {{ ?a sq:statedIn {self.node} ; sq:level ?level }}
                    UNION {{ ?a sq:statedIn {self.node} ; sq:payer/sq:memberLevel ?level }}
                    ?level sq:rank ?rank .
                }}""")
        }

    def joint_members(self) -> dict[str, list[tuple[str, str | None]]]:
        """For each joint payer of the plan, its member levels with their percentages where stated."""
        members: dict[str, list[tuple[str, str | None]]] = defaultdict(list)
        for r in self.rows(f"""
            SELECT DISTINCT ?payer ?member ?percentage WHERE {{
                ?a sq:statedIn {self.node} ; sq:payer ?payer .
                ?payer a sq:JointPayer ; sq:memberLevel ?member .
                OPTIONAL {{ ?payer sq:share ?share . ?share sq:shareLevel ?member ; sq:percentage ?percentage }}
            }}"""):
            members[str(r["payer"])].append((str(r["member"]), _number(r["percentage"]) if "percentage" in r else None))
        return members

    # -- the matrix -------------------------------------------------------------------------

    def label(self, iri: str) -> str:
        return labels.pick(self.labels.get(iri, {}), self.lang, labels.compact(iri))

    def rank_key(self, level: str) -> tuple:
        """Ranked levels by rank, level groups (no rank) after them."""
        return (self.ranks.get(level) is None, self.ranks.get(level, 0))

    def columns(self, facts: dict[URIRef, list], assignments: list[dict]) -> list[str]:
        """The levels the plan divides between, then any other level it assigns to, by rank."""
        columns = [str(level) for level in facts[SQ.dividesBetween]]
        columns += sorted({str(r["level"]) for r in assignments} - set(columns))
        columns.sort(key=lambda level: (*self.rank_key(level), self.label(level)))
        return columns

    def payer_text(self, payer: str) -> str:
        """Who pays: the payer's label, or a joint payer's members with their shares, by rank."""
        if payer not in self.members:
            return self.label(payer)
        shares = sorted(self.members[payer], key=lambda m: (*self.rank_key(m[0]), m[0]))
        joined = "、" if self.lang == "zh" else ", "
        return joined.join(self.label(m) + (f" {share}%" if share else "") for m, share in shares)

    def groups(self, assignments: list[dict], columns: list[str]) -> list[Group]:
        """The matters by category, categories by their order, matters by label; each with a cell per column."""
        categories: dict[str, Group] = {}
        matters: dict[str, dict[str, Row]] = defaultdict(dict)
        cells: dict[tuple[str, str], list[Cell]] = defaultdict(list)
        uncategorised = "未分类" if self.lang == "zh" else "uncategorised"
        for r in assignments:
            category, matter = str(r.get("category", "")), str(r["matter"])
            if category not in categories:
                order = int(r["order"]) if "order" in r else None
                categories[category] = Group(category or None, self.label(category) if category else uncategorised, order)
            matters[category][matter] = Row(matter, self.label(matter))
            payer = str(r["payer"]) if "payer" in r else ""
            cells[(matter, str(r["level"]))].append(Cell(
                self.payer_text(payer) if payer else "", str(r.get("quote", "")), str(r.get("section", "")), str(r["a"])
            ))
        for found in cells.values():
            found.sort(key=lambda c: c.assignment)
        groups = sorted(categories.values(), key=lambda g: (g.order is None, g.order or 0, g.label))
        for group in groups:
            group.rows = sorted(matters[group.iri or ""].values(), key=lambda m: (m.label, m.iri))
            for row in group.rows:
                row.cells = [cells.get((row.iri, level), []) for level in columns]
        return groups

    def header(self, facts: dict[URIRef, list], columns: list[str], groups: list[Group]) -> Matrix:
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
            columns=[Column(level, self.label(level)) for level in columns],
            groups=groups,
        )


# -- renderings ---------------------------------------------------------------------------------


def _lines(matrix: Matrix, lang: str) -> tuple[list[str], list[list[str]]]:
    """The matrix as a header and one line per matter: category, matter, its IRI, then payer and quote per level."""
    words = MATRIX_WORDS[lang]
    header = [words["category"], words["matter"], words["matter_iri"]]
    for column in matrix.columns:
        header += [f"{column.label} {words['payer']}", f"{column.label} {words['quote']}"]
    lines = []
    for group in matrix.groups:
        for row in group.rows:
            line = [group.label, row.label, row.iri]
            for found in row.cells:
                line += [" | ".join(c.payer for c in found), " | ".join(c.quote for c in found)]
            lines.append(line)
    return header, lines


def matrix_csv(matrix: Matrix, lang: str) -> bytes:
    """The matrix as CSV (UTF-8, CRLF): a header, then one line per matter with the payer and quote of each level."""
    header, lines = _lines(matrix, lang)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(lines)
    return buffer.getvalue().encode("utf-8")


def matrix_table(matrix: Matrix, lang: str) -> str:
    """The matrix as an aligned text table: category, matter, then who pays at each level (quotes left out)."""
    words = MATRIX_WORDS[lang]
    variables = [words["category"], words["matter"], *(column.label for column in matrix.columns)]
    rows = [
        tuple(ox.Literal(text) for text in (group.label, row.label, *(" | ".join(c.payer for c in found) for found in row.cells)))
        for group in matrix.groups
        for row in group.rows
    ]
    title = f"{matrix.title} ({matrix.number})" if matrix.number else matrix.title
    return f"{title}\n\n" + table(Answer("solutions", variables, rows))
