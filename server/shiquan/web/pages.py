"""Human-facing pages: the query page, linked-data pages for /id/… and /ontology, plan responsibility matrices.

Every fact on these pages comes from the store through SPARQL run by the workers
(``runtime().answer`` / ``runtime().query``); nothing here reads the graph's files.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    current_app,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from rdflib import OWL, RDF, RDFS, XSD, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, SKOS

from shiquan import labels as labelling
from shiquan.labels import LABEL_PROPERTIES, LANGS, compact, iri_ref, lang_order, pick
from shiquan.web import assets
from shiquan.publish import charts as charting
from shiquan.publish import docs
from shiquan.publish import matrix as matrices
from shiquan.publish import rulings
from shiquan.sparql import results as query
from shiquan import formats, vocab
from shiquan.terms import to_rdflib
from shiquan.errors import BadRequest, NotFound
from shiquan.vocab import ID, ONTOLOGY_IRI, PREFIXES, SQ, mint
from shiquan.web import choose
from shiquan.web import respond
from shiquan.web import runtime

bp = Blueprint("pages", __name__)

HTML = "text/html"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The RDF formats a resource page links to, in the order shown: media type → (name shown, format parameter).
RDF_FORMATS = {
    formats.TURTLE.media_type: ("Turtle", "turtle"),
    formats.JSON_LD.media_type: ("JSON-LD", "jsonld"),
    formats.N_TRIPLES.media_type: ("N-Triples", "nt"),
    formats.RDF_XML.media_type: ("RDF/XML", "rdfxml"),
}
RDF_TYPES = list(RDF_FORMATS)
INFERENCES_GRAPH = str(vocab.INFERENCES_GRAPH)
ONTOLOGY_GRAPH = str(vocab.ONTOLOGY_GRAPH)
YASGUI_FILES = {Path(name).name for name in assets.YASGUI["files"]}
ECHARTS_FILES = {Path(name).name for name in assets.ECHARTS["files"]}
_LONG_LITERAL = 400


def _html(template: str, vary: bool = True, **context) -> Response:
    return respond(render_template(template, **context), HTML, vary=vary)


# ------------------------------------------------------------------ SPARQL helpers


def select(text: str) -> list[dict]:
    """Run a SELECT (with the matrix module's PROLOGUE) in a worker; its solutions as dicts of rdflib terms."""
    return rulings.solutions(runtime().answer, text)


def _graph(answer: query.Answer) -> Graph:
    graph = Graph()
    for t in answer.triples:
        graph.add((to_rdflib(t.subject), to_rdflib(t.predicate), to_rdflib(t.object)))
    return graph


def _labels(iris: Iterable[str]) -> dict[str, dict[str, str]]:
    """Labels of ``iris`` by language (see :func:`shiquan.labels.lookup`), asked of the workers."""
    return labelling.lookup(select, iris)


# ------------------------------------------------------------------ showing terms


def href_for(iri: str) -> str:
    """Where a link to ``iri`` goes: this server's /id/… and /ontology#Term pages for our IRIs, else the IRI itself."""
    if iri.startswith(str(ID)):
        return url_for("pages.resource", rest=iri[len(str(ID)) :])
    if iri.startswith(str(SQ)):
        return url_for("pages.ontology", _anchor=iri[len(str(SQ)) :] or None)
    if iri == str(ONTOLOGY_IRI):
        return url_for("pages.ontology")
    return iri


@dataclass
class Shown:
    """A term as a page shows it: a link with its labels, or a literal with its language or datatype."""

    kind: str  # "iri", "literal" or "blank"
    text: str
    iri: str | None = None
    href: str | None = None
    external: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    lang: str | None = None
    datatype: str | None = None
    inferred: bool = False

    @property
    def long(self) -> bool:
        return self.kind == "literal" and (len(self.text) > _LONG_LITERAL or self.text.count("\n") > 3)


def show(term, labels: dict[str, dict[str, str]], inferred: bool = False) -> Shown:
    if isinstance(term, URIRef):
        iri = str(term)
        href = href_for(iri)
        return Shown("iri", compact(iri), iri, href, not href.startswith("/"), labels.get(iri, {}), inferred=inferred)
    if isinstance(term, Literal):
        datatype = str(term.datatype) if term.datatype and term.datatype != XSD.string else None
        shown_type = compact(datatype) if datatype else None
        return Shown("literal", str(term), lang=term.language, datatype=shown_type, inferred=inferred)
    return Shown("blank", f"_:{term}", inferred=inferred)


@bp.app_template_filter("href")
def href(iri: str) -> str:
    """The template filter that links an IRI: see :func:`href_for`."""
    return href_for(iri)


@bp.app_template_filter("curie_href")
def curie_href(text: str) -> str | None:
    """Where a prefixed name (or ``<iri>``) of the generated term documentation links: sq: terms to their anchor."""
    if text.startswith("<") and text.endswith(">"):
        return href_for(text[1:-1])
    prefix, colon, local = text.partition(":")
    if not colon or prefix not in PREFIXES or not local:
        return None
    if prefix == "sq":
        return f"#{local}"
    return href_for(PREFIXES[prefix] + local)


# ------------------------------------------------------------------ the query page


@dataclass(frozen=True)
class Example:
    name: str
    en: str
    zh: str
    text: str


def examples(folder: str | Path) -> list[Example]:
    """The example queries of ``folder``, with the questions of their first two lines (``# en: …``, ``# zh: …``)."""
    found = []
    for path in sorted(Path(folder).glob("*.rq")):
        text = path.read_text(encoding="utf-8")
        questions = {"en": "", "zh": ""}
        for line in text.splitlines()[:2]:
            match = re.match(r"#\s*(en|zh):\s*(.*)", line)
            if match:
                questions[match.group(1)] = match.group(2).strip()
        found.append(Example(path.stem, questions["en"] or path.stem, questions["zh"] or path.stem, text))
    return found


def _plans() -> list[dict]:
    """Every plan under /id/plan/, newest first, with its title and document number."""
    rows = select("""
        SELECT ?plan (SAMPLE(?t) AS ?title) (SAMPLE(?n) AS ?number) (SAMPLE(?d) AS ?issued) WHERE {
            ?plan a sq:Plan .
            OPTIONAL { ?plan dcterms:title ?t }
            OPTIONAL { ?plan sq:documentNumber ?n }
            OPTIONAL { ?plan dcterms:issued ?d }
        } GROUP BY ?plan ORDER BY DESC(?issued) ?plan""")
    plans = []
    for row in rows:
        iri = str(row["plan"])
        if not iri.startswith(str(ID) + "plan/"):
            continue
        slug = iri[len(str(ID) + "plan/") :]
        plans.append({
            "iri": iri,
            "slug": slug,
            "href": href_for(iri),
            "matrix": url_for("pages.plan", slug=slug) if "/" not in slug else None,
            "title": str(row.get("title", slug)),
            "number": str(row.get("number", "")),
        })
    return plans


# The plan the example queries are written for; the query page's plan picker puts another plan in its place.
EXAMPLE_PLAN = str(mint("plan", "haidong-dongzhengban-2024-96"))


def for_plan(found: list[Example], plan: str) -> list[Example]:
    """The examples with every mention of :data:`EXAMPLE_PLAN` replaced by ``plan`` (an IRI)."""
    return [Example(e.name, e.en, e.zh, e.text.replace(f"<{EXAMPLE_PLAN}>", f"<{plan}>")) for e in found]


def _picked(plans: list[dict]) -> dict | None:
    """The plan of the ``plan`` parameter (a slug), one of ``plans``. Raises NotFound for another slug."""
    slug = request.args.get("plan")
    if not slug:
        return None
    picked = next((p for p in plans if p["slug"] == slug), None)
    if picked is None:
        raise NotFound(f"no plan {slug!r} in the graph: pick one of the plans listed on the query page")
    return picked


@bp.get("/")
def index():
    """The query page: YASGUI over /sparql with the example queries a click away, or a plain form without it; with
    ``plan`` (a slug), the examples are written for that plan. Raises NotFound for a plan not in the graph."""
    config = current_app.config
    plans = _plans()
    picked = _picked(plans)
    found = examples(config["QUERIES_DIR"])
    if picked:
        found = for_plan(found, picked["iri"])
    chosen = next((e for e in found if e.name == request.args.get("example")), None)
    return _html(
        "query.html",
        vary=False,
        examples=found,
        examples_data=[asdict(e) for e in found],
        chosen=chosen,
        rich=assets.present(config),
        yasgui_version=assets.YASGUI["version"],
        endpoint=url_for("sparql.sparql"),
        prefixes={k: v for k, v in PREFIXES.items() if k not in ("sh", "sqs")} | {"id": str(ID)},
        plans=plans,
        picked=picked,
        example_plan=EXAMPLE_PLAN,
    )


@bp.get("/assets/yasgui/<name>")
def yasgui_asset(name: str):
    """The pinned YASGUI build, served by this server (never from a CDN)."""
    folder = assets.assets_dir(current_app.config)
    if name not in YASGUI_FILES or not (folder / name).is_file():
        raise NotFound(f"no asset {name!r}: run `shiquan assets` to install the YASGUI build")
    return send_from_directory(folder, name, max_age=86400)


@bp.get("/assets/echarts/<name>")
def echarts_asset(name: str):
    """The pinned Apache ECharts build, served by this server (never from a CDN)."""
    folder = assets.assets_dir(current_app.config, assets.ECHARTS)
    if name not in ECHARTS_FILES or not (folder / name).is_file():
        raise NotFound(f"no asset {name!r}: run `shiquan assets` to install the ECharts build")
    return send_from_directory(folder, name, max_age=86400)


@bp.app_context_processor
def chart_library() -> dict:
    """Whether the pages can draw charts (the ECharts build is installed), and where its script is."""
    config = current_app.config
    if not assets.present(config, assets.ECHARTS):
        return {"echarts_src": None}
    return {"echarts_src": url_for("pages.echarts_asset", name="echarts.min.js", v=assets.ECHARTS["version"])}


# ------------------------------------------------------------------ linked data


def _rdf(text: str, media_type: str, what: str) -> Response:
    """The triples a CONSTRUCT ``text`` gives, in ``media_type``. Raises NotFound when there are none."""
    answer = runtime().answer(text)
    if not answer.triples:
        raise NotFound(f"the graph says nothing about {what}")
    return respond(query.serialize(answer, media_type), media_type)


def _alternates(path: str) -> list[dict]:
    return [{"type": t, "name": name, "href": f"{path}?format={param}"} for t, (name, param) in RDF_FORMATS.items()]


def _value_order(s: Shown) -> tuple:
    return (s.inferred, s.kind != "iri", lang_order(s.lang), pick(s.labels, "zh", s.text))


def _property_order(item: tuple[URIRef, list[Shown]]) -> tuple:
    # type and names first, then the vocabulary's own properties, then what inference alone adds
    prop, values = item
    first = {RDF.type: 0, RDFS.label: 1, SKOS.prefLabel: 2, DCTERMS.title: 3}
    return (first.get(prop, 9), all(v.inferred for v in values), not str(prop).startswith(str(SQ)), compact(str(prop)))


def _grouped(graphs: dict[tuple, set[str]], labels: dict[str, dict[str, str]], direction: str) -> list[dict]:
    """The values of the resource's properties in ``direction`` ("out" or "in"), property by property."""
    by_property: dict[URIRef, list[Shown]] = defaultdict(list)
    for (d, p, x), where in graphs.items():
        if d == direction:
            by_property[p].append(show(x, labels, inferred=where == {INFERENCES_GRAPH}))
    return [
        {"property": show(p, labels), "objects": sorted(values, key=_value_order)}
        for p, values in sorted(by_property.items(), key=_property_order)
    ]


def _names(graphs: dict[tuple, set[str]], labels: dict[str, dict[str, str]]) -> list[dict]:
    """The resource's own names (label properties by preference, then languages by preference)."""
    name_triples = [(p, x) for (d, p, x) in graphs if d == "out" and p in LABEL_PROPERTIES and isinstance(x, Literal)]
    return [
        {"property": show(p, labels), "value": show(x, labels)}
        for p, x in sorted(name_triples, key=lambda px: (LABEL_PROPERTIES.index(px[0]), lang_order(px[1].language), str(px[1])))
    ]


def _across(matter: str) -> list[list[rulings.Ruling]]:
    """Every plan's rulings on ``matter``, one list per plan (see :func:`rulings.of_matter`), labelled in Chinese."""
    grouped: dict[str, list[rulings.Ruling]] = {}
    for ruling in rulings.of_matter(runtime().answer, matter, "zh"):
        grouped.setdefault(ruling.plan, []).append(ruling)
    return list(grouped.values())


@bp.get("/id/<path:rest>")
def resource(rest: str):
    """Describe ``https://w3id.org/shiquan/id/{rest}``: an HTML page, or its triples in an RDF format."""
    parts = rest.split("/")
    try:
        iri = str(mint(parts[0], *parts[1:]))
    except ValueError:
        raise NotFound(
            f"no resource /id/{rest}: instance paths are lower-case ASCII words joined by '-', separated by '/'"
        ) from None
    media_type = choose([HTML, *RDF_TYPES], request.args.get("format"))
    node = iri_ref(iri)
    if media_type != HTML:
        construct = f"CONSTRUCT {{ {node} ?p ?o . ?s ?q {node} }} WHERE {{ {{ {node} ?p ?o }} UNION {{ ?s ?q {node} }} }}"
        return _rdf(construct, media_type, f"<{iri}>")
    rows = select(f"""
        SELECT DISTINCT ?dir ?p ?x ?g WHERE {{
            {{ GRAPH ?g {{ {node} ?p ?x }} BIND("out" AS ?dir) }}
            UNION
            {{ GRAPH ?g {{ ?x ?p {node} }} BIND("in" AS ?dir) }}
        }}""")
    if not rows:
        raise NotFound(f"the graph says nothing about <{iri}>")
    graphs: dict[tuple, set[str]] = defaultdict(set)
    for row in rows:
        graphs[(str(row["dir"]), row["p"], row["x"])].add(str(row["g"]))
    named = {iri} | {str(p) for (_, p, _) in graphs} | {str(x) for (_, _, x) in graphs if isinstance(x, URIRef)}
    labels = _labels(named)

    outgoing = _grouped(graphs, labels, "out")
    types = next((g["objects"] for g in outgoing if g["property"].iri == str(RDF.type)), [])
    names = _names(graphs, labels)
    matrix = None
    if any(t.iri == str(SQ.Plan) for t in types) and iri.startswith(str(ID) + "plan/") and len(parts) == 2:
        matrix = url_for("pages.plan", slug=parts[1])
    across = _across(iri) if any(t.iri == str(SQ.Matter) for t in types) else None
    return _html(
        "resource.html",
        iri=iri,
        path=rest,
        labels=labels.get(iri, {}),
        names=names,
        types=types,
        outgoing=outgoing,
        incoming=_grouped(graphs, labels, "in"),
        matrix=matrix,
        across=across,
        alternates=_alternates(request.path),
    )


@bp.get("/ontology")
def ontology():
    """The ontology: reference documentation generated from its annotations, or the ontology graph as RDF."""
    media_type = choose([HTML, *RDF_TYPES], request.args.get("format"))
    text = f"CONSTRUCT {{ ?s ?p ?o }} WHERE {{ GRAPH {iri_ref(ONTOLOGY_GRAPH)} {{ ?s ?p ?o }} }}"
    if media_type != HTML:
        return _rdf(text, media_type, "the ontology")
    graph = _graph(runtime().answer(text))
    if (ONTOLOGY_IRI, RDF.type, OWL.Ontology) not in graph:
        raise NotFound("the ontology is not loaded")
    terms = docs.terms(graph)
    groups = [
        {"en": en, "zh": zh, "anchor": en.lower().replace(" ", "-"), "terms": [t for t in terms if t.kind == kind]}
        for kind, en, zh in docs.KINDS
    ]
    return _html(
        "ontology.html", header=docs.header(graph), groups=groups, namespace=str(SQ), alternates=_alternates(request.path)
    )


# ------------------------------------------------------------------ plan matrices


PLAN_WORDS = {
    "zh": {
        "matrix": "事权和支出责任划分表", "number": "文号", "issued": "印发日期", "pair": "划分层级", "matter": "事项",
        "empty": "该方案尚无事权划分数据。", "count": "项事项", "switch": "English", "csv": "下载 CSV",
        "page": "方案详情", "interpretation": "解读",
        "hint": "每格为承担支出责任的一方；悬停可见原文，小字为条款编号。空格表示方案未就该事项在该层级作出划分。",
    },
    "en": {
        "matrix": "Responsibility matrix", "number": "Document number", "issued": "Issued", "pair": "Levels divided",
        "matter": "Matter", "empty": "This plan holds no assignments yet.", "count": "matters", "switch": "中文",
        "csv": "Download CSV", "page": "Plan details", "interpretation": "interpretation",
        "hint": "Each cell names who bears the expenditure; hover for the quoted sentence; the small print is the "
        "section number. An empty cell means the plan rules nothing on that matter for that level.",
    },
}


@bp.get("/plans/<slug>")
def plan(slug: str):
    """The responsibility matrix of plan ``https://w3id.org/shiquan/id/plan/{slug}``: HTML (zh or en) or CSV."""
    try:
        iri = str(mint("plan", slug))
    except ValueError:
        raise NotFound(f"no plan {slug!r}: plan slugs are lower-case ASCII words joined by '-'") from None
    lang = request.args.get("lang", "zh")
    if lang not in LANGS:
        raise BadRequest(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    fmt = request.args.get("format")
    media_type = XLSX if fmt == "xlsx" else choose([HTML, "text/csv"], fmt)
    matrix = matrices.plan_matrix(runtime().answer, iri, lang)
    if media_type != HTML:
        body = matrices.matrix_xlsx(matrix, lang) if media_type == XLSX else matrices.matrix_csv(matrix, lang)
        response = respond(body, media_type)
        response.headers["Content-Disposition"] = f'attachment; filename="{slug}.{lang}.{fmt or "csv"}"'
        return response
    return _html("plan.html", plan=matrix, lang=lang, other="en" if lang == "zh" else "zh", t=PLAN_WORDS[lang],
                 charts=charting.plan_charts(matrix, lang) if matrix.groups else None)
