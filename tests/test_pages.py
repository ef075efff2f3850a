"""The human-facing pages with the Flask test client: the query page, /id/… and /ontology, plan matrices.

Expected values come from the source text (data/sources/), the example query files, the
hand-checked matter lists of test_data.EXPECTED and the ontology files, never from the pages' code.
"""

from __future__ import annotations

import csv
import io
import json
import re
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import pytest
from rdflib import OWL, RDF, RDFS, Graph, Literal, URIRef

from shiquan.web import assets
from shiquan.publish import docs
from shiquan.graph import loading
from shiquan.vocab import ID, ONTOLOGY_IRI, SQ

from .conftest import HAIDONG_PLAN, QUERIES, SOURCE, app_with, normalised
from .test_data import EXPECTED

PLAN_SLUG = "haidong-dongzhengban-2024-96"
PATENT_AWARDS = ID["matter/zhuanli-jiangli"]
COUNTY_ASSIGNMENT = ID[f"assignment/{PLAN_SLUG}/zhuanli-jiangli/county"]
IP_USE_CATEGORY = ID["category/zhishichanquan-yunyong-cujin"]
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"


# ------------------------------------------------------------------ a small HTML tree, enough for these pages


class Element:
    def __init__(self, tag: str, attrs: dict[str, str | None], parent: Element | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Element | str] = []

    @property
    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def iter(self):
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> list[Element]:
        return [
            e for e in self.iter()
            if (tag is None or e.tag == tag) and (cls is None or cls in e.classes)
            and all(e.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())
        ]

    def find(self, tag: str | None = None, cls: str | None = None, **attrs: str) -> Element:
        found = self.find_all(tag, cls, **attrs)
        assert found, f"no <{tag or '*'} class={cls!r} {attrs}> in the page"
        return found[0]


class _Builder(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Element("#document", {}, None)

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), self.current)
        self.current.children.append(element)
        if tag not in self.VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def page(response) -> Element:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "text/html"
    builder = _Builder()
    builder.feed(response.get_data(as_text=True))
    builder.close()
    return builder.root


def text_of(root: Element) -> str:
    return re.sub(r"\s+", " ", root.text)


def example_questions() -> list[tuple[str, str, str]]:
    """(file stem, en question, zh question) of every example query, read from its first two lines."""
    found = []
    for path in sorted(QUERIES.glob("*.rq")):
        first, second = path.read_text(encoding="utf-8").splitlines()[:2]
        found.append((path.stem, first.removeprefix("# en: ").strip(), second.removeprefix("# zh: ").strip()))
    return found


def source_paragraph(phrase: str) -> str:
    """The paragraph (line) of the source text that holds ``phrase``."""
    lines = [line for line in SOURCE.read_text(encoding="utf-8").splitlines() if phrase in line]
    assert len(lines) == 1, lines
    return lines[0]


def source_categories() -> list[str]:
    """The headings （一）…（七） of 二、主要内容 in the source, in order."""
    text = SOURCE.read_text(encoding="utf-8")
    main = text[text.index("二、主要内容") : text.index("三、保障措施")]
    return re.findall(r"^（[一二三四五六七]）(\S+)$", main, flags=re.MULTILINE)


# ------------------------------------------------------------------ fixtures


def _stand_in_assets(folder) -> None:
    """A YASGUI folder with stand-in files: these tests check the page, not the YASGUI build."""
    installed = assets.assets_dir({"ASSETS_DIR": str(folder)})
    installed.mkdir(parents=True)
    (installed / "yasgui.min.js").write_text("/* stand-in for the YASGUI build */\n", encoding="utf-8")
    (installed / "yasgui.min.css").write_text("/* stand-in for the YASGUI build */\n", encoding="utf-8")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("assets")
    _stand_in_assets(folder)
    with app_with(ASSETS_DIR=str(folder)) as app:
        yield app


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def plain_client(tmp_path_factory):
    """A server whose YASGUI files are not installed (its assets folder is empty)."""
    with app_with(ASSETS_DIR=str(tmp_path_factory.mktemp("no-assets"))) as app:
        yield app.test_client()


# ------------------------------------------------------------------ the query page


def test_query_page_lists_every_example_query_with_both_questions(client):
    root = page(client.get("/"))
    links = {a.attrs["data-example"]: a for a in root.find_all("a", "example")}
    expected = example_questions()
    assert len(expected) >= 10
    assert set(links) == {stem for stem, _, _ in expected}
    for stem, en, zh in expected:
        assert text_of(links[stem].find(lang="en")).strip() == en
        assert text_of(links[stem].find(lang="zh")).strip() == zh


def test_query_page_carries_each_example_text_for_the_editor(client):
    root = page(client.get("/"))
    carried = {e["name"]: e["text"] for e in json.loads(root.find("script", id="shiquan-examples").text)}
    assert carried == {p.stem: p.read_text(encoding="utf-8") for p in QUERIES.glob("*.rq")}


def test_query_page_references_only_same_origin_assets(client):
    response = client.get("/")
    root = page(response)
    references = [
        e.attrs.get("src") or e.attrs.get("href") or e.attrs.get("data") or ""
        for e in root.iter()
        if e.tag in {"script", "link", "img", "iframe", "source", "embed", "object", "audio", "video"}
    ]
    assert references
    for reference in references:
        parts = urlsplit(reference)
        assert not parts.netloc and parts.scheme in ("", "data"), reference
    scripts = [e.attrs["src"] for e in root.find_all("script") if "src" in e.attrs]
    assert "/assets/yasgui/yasgui.min.js" in {urlsplit(s).path for s in scripts}
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]


def test_query_page_points_yasgui_at_this_servers_endpoint(client):
    root = page(client.get("/"))
    assert root.find("div", id="yasgui").attrs["data-endpoint"] == "/sparql"


def test_yasgui_files_are_served_by_the_app(client):
    with client.get("/assets/yasgui/yasgui.min.js") as response:
        assert response.status_code == 200
        assert response.get_data(as_text=True).startswith("/* stand-in for the YASGUI build */")
        assert response.mimetype in ("text/javascript", "application/javascript")


def test_only_the_yasgui_files_are_served_as_assets(client):
    response = client.get("/assets/yasgui/package.json")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_query_page_without_yasgui_is_a_plain_form_that_says_so(plain_client):
    root = page(plain_client.get("/"))
    notice = text_of(root.find(id="rich-unavailable"))
    assert "富编辑器" in notice and "unavailable" in notice
    form = root.find("form", id="plain-form")
    assert form.attrs["action"] == "/sparql" and form.attrs["method"] == "get"
    assert form.find("textarea").attrs["name"] == "query"
    assert form.find("select").attrs["name"] == "format"
    options = [o.attrs["value"] for o in root.find("select", id="plain-example").find_all("option")]
    assert options == [stem for stem, _, _ in example_questions()]
    assert not [e for e in root.find_all("script") if "yasgui" in e.attrs.get("src", "")]
    assert not root.find_all("link", rel="stylesheet", href="/assets/yasgui/yasgui.min.css")
    assert plain_client.get("/assets/yasgui/yasgui.min.js").status_code == 404


def test_plain_form_loads_the_chosen_example_without_javascript(plain_client):
    root = page(plain_client.get("/?example=06-divisions-under-haidong"))
    textarea = root.find("textarea", id="plain-query")
    assert textarea.text == (QUERIES / "06-divisions-under-haidong.rq").read_text(encoding="utf-8")


def test_plain_form_query_runs_on_the_endpoint(plain_client):
    text = (QUERIES / "06-divisions-under-haidong.rq").read_text(encoding="utf-8")
    response = plain_client.get(f"/sparql?query={quote(text)}&format=csv")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "630202" in body and "乐都区" in body


# ------------------------------------------------------------------ linked data: /id/…


def test_resource_page_shows_its_labels_in_chinese_and_english(client):
    root = page(client.get("/id/matter/zhuanli-jiangli", headers={"Accept": BROWSER_ACCEPT}))
    heading = root.find("h1")
    assert text_of(heading.find(lang="zh")).strip() == "专利奖励"
    assert text_of(heading.find(lang="en")).strip() == "patent awards"


def test_resource_page_shows_its_types(client):
    root = page(client.get("/id/matter/zhuanli-jiangli"))
    types = root.find("p", "types")
    assert "/ontology#Matter" in {a.attrs["href"] for a in types.find_all("a")}


def test_resource_page_lists_incoming_links(client):
    root = page(client.get("/id/matter/zhuanli-jiangli"))
    incoming = root.find("section", "incoming")
    hrefs = {a.attrs["href"] for a in incoming.find_all("a")}
    assert f"/id/assignment/{PLAN_SLUG}/zhuanli-jiangli/county" in hrefs
    assert "/ontology#matter" in hrefs  # the property, sq:matter, by its ontology page


def test_resource_page_links_onward_to_this_server(client):
    root = page(client.get("/id/matter/zhuanli-jiangli"))
    outgoing = root.find("section", "outgoing")
    hrefs = {a.attrs["href"] for a in outgoing.find_all("a")}
    assert "/id/category/zhishichanquan-yunyong-cujin" in hrefs
    assert not [a for a in root.find_all("a") if a.attrs.get("href", "").startswith(str(ID))]


def test_resource_page_names_ontology_properties_in_both_languages(client, settings):
    root = page(client.get("/id/matter/zhuanli-jiangli"))
    link = root.find("section", "outgoing").find("a", href="/ontology#category")
    ontology = loading.read_ontology(settings)
    labels = {label.language: str(label) for label in ontology.objects(SQ.category, RDFS.label)}
    assert text_of(link.find(lang="zh")).strip() == labels["zh"]
    assert text_of(link.find(lang="en")).strip() == labels["en"]


def test_resource_page_links_other_iris_out(client):
    root = page(client.get("/id/matter/zhuanli-jiangli"))
    external = root.find("a", href="http://www.w3.org/2004/02/skos/core#Concept")  # sq:Matter ⊑ skos:Concept
    assert external.attrs["rel"] == "external"


def test_plan_page_links_to_its_matrix(client):
    root = page(client.get(f"/id/plan/{PLAN_SLUG}"))
    assert root.find("a", href=f"/plans/{PLAN_SLUG}")
    assert "海东市知识产权领域市与县区财政事权和支出责任划分改革方案" in text_of(root.find("h1"))


def test_resource_in_turtle_holds_its_outgoing_and_incoming_triples(client):
    response = client.get("/id/matter/zhuanli-jiangli", headers={"Accept": "text/turtle"})
    assert response.status_code == 200 and response.mimetype == "text/turtle"
    assert "Accept" in response.headers["Vary"]
    graph = Graph().parse(data=response.get_data(as_text=True), format="turtle")
    assert (PATENT_AWARDS, RDFS.label, Literal("专利奖励", lang="zh")) in graph
    assert (PATENT_AWARDS, SQ.category, IP_USE_CATEGORY) in graph
    assert (COUNTY_ASSIGNMENT, SQ.matter, PATENT_AWARDS) in graph


# rdflib 7's JSON-LD parser builds a ConjunctiveGraph itself and warns that it is deprecated.
@pytest.mark.filterwarnings("ignore:ConjunctiveGraph is deprecated:DeprecationWarning")
def test_resource_in_json_ld_holds_its_triples(client):
    response = client.get("/id/matter/zhuanli-jiangli", headers={"Accept": "application/ld+json"})
    assert response.status_code == 200 and response.mimetype == "application/ld+json"
    graph = Graph().parse(data=response.get_data(as_text=True), format="json-ld")
    assert (PATENT_AWARDS, RDFS.label, Literal("patent awards", lang="en")) in graph
    assert (COUNTY_ASSIGNMENT, SQ.matter, PATENT_AWARDS) in graph


@pytest.mark.parametrize(
    ("fmt", "media_type", "parser"),
    [("nt", "application/n-triples", "nt"), ("rdfxml", "application/rdf+xml", "xml"), ("turtle", "text/turtle", "turtle")],
)
def test_format_parameter_chooses_the_rdf_format(client, fmt, media_type, parser):
    response = client.get(f"/id/matter/zhuanli-jiangli?format={fmt}", headers={"Accept": BROWSER_ACCEPT})
    assert response.status_code == 200 and response.mimetype == media_type
    graph = Graph().parse(data=response.get_data(as_text=True), format=parser)
    assert (PATENT_AWARDS, RDF.type, SQ.Matter) in graph


def test_browsers_and_clients_without_accept_get_html(client):
    assert client.get("/id/matter/zhuanli-jiangli", headers={"Accept": BROWSER_ACCEPT}).mimetype == "text/html"
    assert client.get("/id/matter/zhuanli-jiangli").mimetype == "text/html"


@pytest.mark.parametrize(
    "path",
    [
        "/id/matter/no-such-matter",  # well formed, but the graph says nothing about it
        "/id/plan/haidong-dongzhengban-2024-97",
        "/id/Matter/zhuanli-jiangli",  # malformed: upper case
        "/id/matter/zhuanli_jiangli",  # malformed: underscore
        "/id/matter/zhuanli--jiangli",  # malformed: double hyphen
        "/id/matter/",  # malformed: empty segment
        "/id/matter",  # malformed: no slug
        "/id/matter/%3E%20%7D%20UNION%20%7B",  # an attempt at SPARQL injection
    ],
)
def test_unknown_or_malformed_id_is_404_with_json_body(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_accept_that_nothing_fits_is_406_listing_the_formats(client):
    response = client.get("/id/matter/zhuanli-jiangli", headers={"Accept": "image/png"})
    assert response.status_code == 406
    body = response.get_json()
    assert body["error"] == "not_acceptable" and "text/turtle" in body["message"]


# ------------------------------------------------------------------ /ontology


@pytest.fixture(scope="module")
def ontology_terms(settings):
    return docs.terms(loading.read_ontology(settings))


def test_ontology_page_documents_every_term_with_both_labels_and_definitions(client, ontology_terms):
    root = page(client.get("/ontology", headers={"Accept": BROWSER_ACCEPT}))
    assert len(ontology_terms) > 50
    for term in ontology_terms:
        block = root.find("article", "term", id=term.anchor)
        text = text_of(block)
        for lang in ("zh", "en"):
            assert term.labels[lang] in text, (term.name, lang)
            assert term.definitions[lang] in text, (term.name, lang)


def test_ontology_page_heads_with_title_version_licence_and_change_notes(client, settings):
    ontology = loading.read_ontology(settings)
    text = text_of(page(client.get("/ontology")).find("header", "ontology-head"))
    for title in ontology.objects(ONTOLOGY_IRI, URIRef("http://purl.org/dc/terms/title")):
        assert str(title) in text
    assert str(ontology.value(ONTOLOGY_IRI, OWL.versionInfo)) in text
    assert "https://creativecommons.org/licenses/by/4.0/" in text
    for note in ontology.objects(ONTOLOGY_IRI, URIRef("http://www.w3.org/2004/02/skos/core#changeNote")):
        assert str(note) in text


def test_ontology_page_links_facts_to_term_anchors(client):
    root = page(client.get("/ontology"))
    county = root.find("article", "term", id="CountyLevel")
    assert county.find("a", href="#TownshipLevel")  # sq:CountyLevel sq:higherLevelThan sq:TownshipLevel


def test_ontology_in_turtle_is_the_ontology_graph(client, settings):
    response = client.get("/ontology", headers={"Accept": "text/turtle"})
    assert response.status_code == 200 and response.mimetype == "text/turtle"
    graph = Graph().parse(data=response.get_data(as_text=True), format="turtle")
    assert (ONTOLOGY_IRI, RDF.type, OWL.Ontology) in graph
    assert (SQ.Plan, RDFS.label, Literal("plan", lang="en")) in graph
    assert len(graph) == len(loading.read_ontology(settings))


# ------------------------------------------------------------------ plan matrices


@pytest.fixture(scope="module")
def matrix(client):
    return page(client.get(f"/plans/{PLAN_SLUG}")).find("table", "matrix")


def test_matrix_groups_rows_under_the_seven_categories_of_the_source(matrix):
    headings = [text_of(tbody.find("tr", "category-row")) for tbody in matrix.find_all("tbody", "category")]
    categories = source_categories()
    assert len(categories) == 7
    assert [re.sub(r"^\s*\d+\s*", "", h).strip() for h in headings] == categories


def test_matrix_has_one_row_per_matter(matrix):
    rows = [text_of(tr.find("th")).strip() for tr in matrix.find_all("tr", "matter-row")]
    matters = {label for (_, _, _, label, _, _) in EXPECTED}
    assert len(matters) == 26
    assert len(rows) == 26 and set(rows) == matters


def test_matrix_columns_are_the_city_then_the_county_level(matrix):
    columns = [text_of(th).strip() for th in matrix.find("thead").find_all("th", "level")]
    # in the plan's own words (市与县区), each level's label beside
    assert columns == ["市（市级）", "县区（县级）"]


def test_matrix_cell_for_patent_awards_at_county_level_names_the_county_and_quotes_the_source(matrix):
    row = matrix.find("tr", "matter-row", data_matter=str(PATENT_AWARDS))
    cells = row.find_all("td", "cell")
    county = cells[1]
    assert text_of(county.find("a", "payer")).strip() == "县区（县级）"
    quote_ = county.attrs["title"]
    assert quote_.startswith("专利奖励：")  # the hover names the matter
    quote_ = quote_[len("专利奖励：") :]
    assert "县区级专利奖励" in quote_ and "由县区承担支出责任" in quote_
    assert normalised(quote_) == normalised(source_paragraph("县区级专利奖励"))
    assert text_of(county.find("span", "section")).strip() == "二（三）"
    assert "由市级承担支出责任" in cells[0].attrs["title"]


def test_matrix_as_csv_has_a_header_and_one_row_per_matter(client):
    response = client.get(f"/plans/{PLAN_SLUG}", headers={"Accept": "text/csv"})
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))
    header, data = rows[0], rows[1:]
    assert header[4:6] == ["事项", "层级（方案用语）"]
    assert len(data) == 52  # one line per ruling: 26 matters at two levels
    patent = next(r for r in data if r[4] == "专利奖励" and r[5] == "县区")
    assert patent[6] == "县级" and "县区级专利奖励" in patent[header.index("原文")]


def test_matrix_format_parameter_gives_csv(client):
    response = client.get(f"/plans/{PLAN_SLUG}?format=csv", headers={"Accept": BROWSER_ACCEPT})
    assert response.mimetype == "text/csv"
    assert len(list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig"))))) == 53


def test_matrix_in_english(client):
    root = page(client.get(f"/plans/{PLAN_SLUG}?lang=en"))
    assert root.find("html").attrs["lang"] == "en"
    table = root.find("table", "matrix")
    columns = [text_of(th).strip() for th in table.find("thead").find_all("th", "level")]
    assert columns == ["市（prefectural level）", "县区（county level）"]
    row = table.find("tr", "matter-row", data_matter=str(PATENT_AWARDS))
    assert text_of(row.find("th")).strip() == "patent awards"
    assert text_of(row.find_all("td", "cell")[1]).split()[0] == "县区（county"  # the plan's word, the label beside
    assert root.find("a", href=f"/plans/{PLAN_SLUG}?lang=zh")


def test_matrix_links_to_the_other_language_and_to_csv(client):
    root = page(client.get(f"/plans/{PLAN_SLUG}"))
    hrefs = {a.attrs.get("href") for a in root.find_all("a")}
    assert f"/plans/{PLAN_SLUG}?lang=en" in hrefs
    assert f"/plans/{PLAN_SLUG}?lang=zh&format=csv" in hrefs


def test_plan_without_assignments_shows_its_header_and_says_so(client):
    root = page(client.get("/plans/china-guobanfa-2023-48"))
    assert "国办发〔2023〕48号" in text_of(root.find("header", "plan-head"))
    assert "尚无" in text_of(root.find(id="no-assignments"))
    assert not root.find_all("table", "matrix")
    english = page(client.get("/plans/china-guobanfa-2023-48?lang=en"))
    assert "no assignments" in text_of(english.find(id="no-assignments"))


@pytest.mark.parametrize("slug", ["no-such-plan-2099-1", "Haidong", "haidong_dongzhengban"])
def test_unknown_plan_is_404(client, slug):
    response = client.get(f"/plans/{slug}")
    assert response.status_code == 404
    assert response.get_json()["error"] == "not_found"


def test_matrix_of_a_resource_that_is_no_plan_is_404(client):
    assert client.get("/plans/zhuanli-jiangli").status_code == 404


def test_unknown_matrix_language_is_400(client):
    assert client.get(f"/plans/{PLAN_SLUG}?lang=fr").status_code == 400


def test_haidong_plan_iri_is_what_the_matrix_describes(client):
    root = page(client.get(f"/plans/{PLAN_SLUG}"))
    assert root.find("a", href="/id/plan/" + HAIDONG_PLAN.rsplit("/", 1)[1])


# ------------------------------------------------------------------ a matrix with a joint payer and a level group

JOINT_PLAN = """\
@base <https://w3id.org/shiquan/id/> .
@prefix dcterms: <http://purl.org/dc/terms/> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix sq: <https://w3id.org/shiquan/ontology#> .

<plan/ceshi-ceshifa-2099-1> a sq:Plan ;
    dcterms:title "测试领域中央与地方财政事权和支出责任划分改革方案"@zh ;
    sq:documentNumber "测试发〔2099〕1号" ;
    sq:dividesBetween sq:LocalLevels , sq:CentralLevel .

<category/ceshi-leibie> a sq:MatterCategory ;
    rdfs:label "测试类别"@zh , "test category"@en ;
    sq:order 1 .

<matter/ceshi-shixiang-jia> a sq:Matter ;
    rdfs:label "测试事项甲"@zh , "test matter A"@en ;
    sq:category <category/ceshi-leibie> .

<matter/ceshi-shixiang-yi> a sq:Matter ;
    rdfs:label "测试事项乙"@zh , "test matter B"@en ;
    sq:category <category/ceshi-leibie> .

<joint-payer/ceshi-ceshifa-2099-1/ceshi-shixiang-jia/central> a sq:JointPayer ;
    sq:memberLevel sq:CentralLevel , sq:LocalLevels ;
    sq:share <payment-share/ceshi-ceshifa-2099-1/ceshi-shixiang-jia/central/central> ,
        <payment-share/ceshi-ceshifa-2099-1/ceshi-shixiang-jia/central/local> .

<payment-share/ceshi-ceshifa-2099-1/ceshi-shixiang-jia/central/central> a sq:PaymentShare ;
    sq:shareLevel sq:CentralLevel ;
    sq:percentage 70.0 .

<payment-share/ceshi-ceshifa-2099-1/ceshi-shixiang-jia/central/local> a sq:PaymentShare ;
    sq:shareLevel sq:LocalLevels ;
    sq:percentage 30.0 .

<assignment/ceshi-ceshifa-2099-1/ceshi-shixiang-jia/central> a sq:Assignment ;
    sq:statedIn <plan/ceshi-ceshifa-2099-1> ;
    sq:matter <matter/ceshi-shixiang-jia> ;
    sq:level sq:CentralLevel ;
    sq:payer <joint-payer/ceshi-ceshifa-2099-1/ceshi-shixiang-jia/central> ;
    sq:sourceText "测试事项甲，确认为中央与地方共同财政事权，由中央与地方共同承担支出责任。" .

<assignment/ceshi-ceshifa-2099-1/ceshi-shixiang-yi/local> a sq:Assignment ;
    sq:statedIn <plan/ceshi-ceshifa-2099-1> ;
    sq:matter <matter/ceshi-shixiang-yi> ;
    sq:level sq:LocalLevels ;
    sq:payer sq:LocalLevels ;
    sq:sourceText "测试事项乙，确认为地方财政事权，由地方承担支出责任。" .
"""


@pytest.fixture(scope="module")
def joint_client(tmp_path_factory):
    """A server over one hand-written plan: a joint payer with shares, and a level group (sq:LocalLevels)."""
    data = tmp_path_factory.mktemp("joint") / "ceshi-ceshifa-2099-1.ttl"
    data.write_text(JOINT_PLAN, encoding="utf-8")
    with app_with(DATA_PATHS=[str(data)], VALIDATE_ON_LOAD=False) as app:
        yield app.test_client()


def test_matrix_puts_level_groups_after_ranked_levels(joint_client):
    table = page(joint_client.get("/plans/ceshi-ceshifa-2099-1")).find("table", "matrix")
    assert [text_of(th).strip() for th in table.find("thead").find_all("th", "level")] == ["中央", "地方"]


def test_matrix_cell_of_a_joint_payer_names_its_members_with_shares(joint_client):
    table = page(joint_client.get("/plans/ceshi-ceshifa-2099-1")).find("table", "matrix")
    row = table.find("tr", "matter-row", data_matter=str(ID["matter/ceshi-shixiang-jia"]))
    central, local = row.find_all("td", "cell")
    assert text_of(central.find("a", "payer")).strip() == "中央 70%、地方 30%"
    assert central.attrs["title"] == "测试事项甲：测试事项甲，确认为中央与地方共同财政事权，由中央与地方共同承担支出责任。"
    assert "empty" in local.classes and not text_of(local).strip() and "title" not in local.attrs


def test_matrix_csv_gives_each_share_as_a_number(joint_client):
    response = joint_client.get("/plans/ceshi-ceshifa-2099-1?format=csv&lang=en")
    header, *rows = csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")))
    shared = next(r for r in rows if r[4] == "test matter A")
    assert [shared[header.index(k)] for k in ("share 1 (%)", "share 2 (%)")] == ["70", "30"]
    assert {r[4] for r in rows} == {"test matter A", "test matter B"}
