"""Search the graph by keyword: matters by label, plans by title or 文号, rulings by their quoted sentence.

A keyword is matched as a substring, case-insensitively, in any language of the labels (Chinese or English);
``select`` runs a SELECT and gives its solutions (:func:`shiquan.publish.rulings.solutions`): the web passes the
workers' ``answer``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rdflib import Literal

from shiquan import labels
from shiquan.publish.rulings import Select, solutions

# At most this many hits of each kind; the page says when there were more.
LIMIT = 50
MAX_KEYWORD = 100


@dataclass
class Hit:
    """One thing found: its IRI, its name in the page's language, and where the keyword was seen."""

    iri: str
    name: str
    seen: str = ""
    plan: str = ""
    plan_name: str = ""


@dataclass
class Found:
    keyword: str
    matters: list[Hit] = field(default_factory=list)
    plans: list[Hit] = field(default_factory=list)
    quotes: list[Hit] = field(default_factory=list)
    more: dict[str, bool] = field(default_factory=dict)


def keyword_of(text: str | None) -> str:
    """The keyword of a search box, whitespace trimmed and collapsed. Raises ValueError when it is empty or too long."""
    keyword = " ".join((text or "").split())
    if not keyword:
        raise ValueError("nothing to search for: give a keyword in 'q', such as 专利 or patent")
    if len(keyword) > MAX_KEYWORD:
        raise ValueError(f"the keyword is over {MAX_KEYWORD} characters")
    return keyword


def _matching(variable: str, keyword: str) -> str:
    """A SPARQL filter: ``variable``'s text holds ``keyword``, case aside (the keyword as an escaped literal)."""
    return f"FILTER (CONTAINS(LCASE(STR({variable})), LCASE({Literal(keyword).n3()})))"


class Searcher:
    """Runs the three searches and names what they find in ``lang``."""

    def __init__(self, select: Select, keyword: str, lang: str):
        self.select, self.keyword, self.lang = select, keyword, lang

    def rows(self, text: str) -> list[dict]:
        return solutions(self.select, text)

    def names(self, iris: set[str]) -> dict[str, str]:
        found = labels.lookup(self.rows, iris)
        return {i: labels.pick(found.get(i, {}), self.lang, labels.compact(i)) for i in iris}

    def matters(self) -> list[dict]:
        return self.rows(f"""
            SELECT ?s (SAMPLE(?text) AS ?seen) WHERE {{
                ?s a sq:Matter ; rdfs:label|skos:altLabel ?text . {_matching("?text", self.keyword)}
            }} GROUP BY ?s ORDER BY ?s LIMIT {LIMIT + 1}""")

    def plans(self) -> list[dict]:
        return self.rows(f"""
            SELECT ?s (SAMPLE(?text) AS ?seen) WHERE {{
                ?s a sq:Plan ; dcterms:title|sq:documentNumber|rdfs:label ?text . {_matching("?text", self.keyword)}
            }} GROUP BY ?s ORDER BY ?s LIMIT {LIMIT + 1}""")

    def quotes(self) -> list[dict]:
        return self.rows(f"""
            SELECT ?s (SAMPLE(?text) AS ?seen) (SAMPLE(?p) AS ?plan) (SAMPLE(?m) AS ?matter) WHERE {{
                ?s sq:sourceText ?text ; sq:statedIn ?p ; sq:matter ?m . {_matching("?text", self.keyword)}
            }} GROUP BY ?s ORDER BY ?s LIMIT {LIMIT + 1}""")

    def run(self) -> Found:
        found = Found(self.keyword)
        kinds = {"matters": self.matters(), "plans": self.plans(), "quotes": self.quotes()}
        iris = {str(r[k]) for rows in kinds.values() for r in rows[:LIMIT] for k in ("s", "plan", "matter") if k in r}
        names = self.names(iris)
        for kind, rows in kinds.items():
            found.more[kind] = len(rows) > LIMIT
            hits = getattr(found, kind)
            for r in rows[:LIMIT]:
                subject = str(r["matter"] if kind == "quotes" else r["s"])
                plan = str(r.get("plan", ""))
                hits.append(Hit(str(r["s"]), names.get(subject, subject), str(r.get("seen", "")), plan,
                                names.get(plan, "") if plan else ""))
        return found


def search(select: Select, text: str | None, lang: str) -> Found:
    """Matters, plans and quotes whose words hold the keyword ``text``, named in ``lang``. Raises ValueError for an
    empty or overlong keyword."""
    return Searcher(select, keyword_of(text), lang).run()
