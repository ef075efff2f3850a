"""The extractor (shiquan.extract): on the Haidong source against the curated data, and on plan texts
written for these tests (tests/fixtures/plans/), one group of the genre's variants each.

Every expected assignment below is written out by hand from the fixture's text, never computed by the
code under test. An assignment is compared as (matter label, level, holder, payer, section, quote), where
a shared power is ("shared", its levels) and a joint payer ("joint", its levels with their percentages).
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from rdflib import RDF, RDFS, XSD, BNode, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, SKOS

from shiquan import extract
from shiquan.graph import loading
from shiquan.graph import validation
from shiquan.errors import BadInput
from shiquan.vocab import ID, SQ

from .conftest import DATA, FIXTURES, HAIDONG_PLAN, SOURCE, normalised

PLANS = FIXTURES / "plans"
C, P, F, K = SQ.CentralLevel, SQ.ProvincialLevel, SQ.PrefecturalLevel, SQ.CountyLevel
LOCAL, PC = SQ.LocalLevels, SQ.PrefecturalAndCountyLevels


def shared(*levels):
    return ("shared", frozenset(levels))


def joint(*members):
    """A joint payer: levels, or (level, percentage) pairs."""
    return ("joint", frozenset(m if isinstance(m, tuple) else (m, None) for m in members))


def joint_shares(*pairs):
    return ("joint", frozenset((level, Decimal(pct)) for level, pct in pairs))


def iri(path: str) -> URIRef:
    return ID[path]


@pytest.fixture(scope="module")
def known() -> Graph:
    """The project's data: the matters, categories, divisions, bodies and plans to reuse."""
    return loading.union(loading.read_paths([DATA]).values())


@pytest.fixture(scope="module")
def schema(settings):
    return validation.schema(settings)


def read_plan(name: str) -> str:
    return extract.read_text((PLANS / name).read_bytes())


def describe(node, graph: Graph):
    """A holder or payer as the tests write it: a level, ("shared", levels) or ("joint", {(level, percentage)})."""
    if (node, RDF.type, SQ.SharedFiscalPower) in graph:
        return shared(*graph.objects(node, SQ.memberLevel))
    if (node, RDF.type, SQ.JointPayer) in graph:
        shares = {graph.value(s, SQ.shareLevel): graph.value(s, SQ.percentage).toPython() for s in graph.objects(node, SQ.share)}
        return ("joint", frozenset((level, shares.get(level)) for level in graph.objects(node, SQ.memberLevel)))
    return node


def assignments(result: extract.Extraction, known: Graph | None = None) -> set[tuple]:
    graph = result.graph + known if known is not None else result.graph
    rows = set()
    for a in result.graph.subjects(SQ.statedIn, result.plan):
        matter = graph.value(a, SQ.matter)
        label = next(str(l) for l in graph.objects(matter, RDFS.label) if l.language == "zh")
        section = graph.value(graph.value(a, SQ.provision), SQ.sectionNumber)
        rows.add(
            (
                label,
                graph.value(a, SQ.level),
                describe(graph.value(a, SQ.fiscalPowerHolder), graph),
                describe(graph.value(a, SQ.payer), graph),
                str(section) if section is not None else None,
                str(graph.value(a, SQ.sourceText)),
            )
        )
    return rows


def assignment_of(result: extract.Extraction, label: str, level: URIRef, known: Graph | None = None) -> URIRef:
    graph = result.graph + known if known is not None else result.graph
    found = [
        a for a in result.graph.subjects(SQ.statedIn, result.plan)
        if graph.value(a, SQ.level) == level and Literal(label, lang="zh") in set(graph.objects(graph.value(a, SQ.matter), RDFS.label))
    ]
    assert len(found) == 1, found
    return found[0]


# --- decoding -------------------------------------------------------------------------------------


def test_read_text_decodes_utf8_and_drops_a_byte_order_mark():
    assert extract.read_text("\ufeff专利奖励".encode("utf-8")) == "专利奖励"


def test_read_text_detects_gb18030():
    text = SOURCE.read_text(encoding="utf-8")
    assert extract.read_text(text.encode("gb18030")) == text


def test_read_text_refuses_bytes_that_are_neither_utf8_nor_gb18030():
    with pytest.raises(BadInput, match="neither UTF-8 nor GB18030"):
        extract.read_text("专利奖励".encode("utf-16"))


def test_slug_spells_words_in_pinyin():
    assert extract.slug("专利奖励") == "zhuanli-jiangli"


# --- the Haidong plan against the curated data ------------------------------------------------------


@pytest.fixture(scope="module")
def haidong(known) -> extract.Extraction:
    return extract.extract(extract.read_text(SOURCE.read_bytes()), known=known)


def comparable(graph: Graph, plan: URIRef) -> set[tuple]:
    return {
        (
            plan,
            graph.value(a, SQ.matter),
            graph.value(a, SQ.level),
            graph.value(a, SQ.fiscalPowerHolder),
            graph.value(a, SQ.payer),
            normalised(str(graph.value(a, SQ.sourceText))),
        )
        for a in graph.subjects(SQ.statedIn, plan)
    }


def test_haidong_assignments_equal_the_curated_ones(haidong, known):
    plan = URIRef(HAIDONG_PLAN)
    assert haidong.plan == plan
    expected = comparable(known, plan)
    assert len(expected) == 52
    assert comparable(haidong.graph, plan) == expected


def test_haidong_sections_and_subordination_equal_the_curated_ones(haidong, known):
    def rows(graph):
        return {
            (
                graph.value(a, SQ.matter),
                graph.value(a, SQ.level),
                str(graph.value(graph.value(a, SQ.provision), SQ.sectionNumber)),
                bool(graph.value(a, SQ.bySubordination)),
                {n.language for n in graph.objects(a, SKOS.editorialNote) if "nterpretation" in n or "解读" in n} == {"zh", "en"},
            )
            for a in graph.subjects(SQ.statedIn, URIRef(HAIDONG_PLAN))
        }

    assert rows(haidong.graph + known) == rows(known)


def test_haidong_provisions_equal_the_curated_ones(haidong, known):
    def rows(graph):
        return {
            (
                graph.value(p, RDF.type),
                str(graph.value(p, SQ.sectionNumber)),
                str(graph.value(p, DCTERMS.title)),
                int(graph.value(p, SQ.order)),
                graph.value(p, SQ.category),
                str(graph.value(p, DCTERMS.description)),
            )
            for p in graph.subjects(SQ.provisionOf, URIRef(HAIDONG_PLAN))
        }

    assert len(rows(known)) == 13
    assert rows(haidong.graph) == rows(known)


def test_haidong_metadata_is_read_from_the_text(haidong):
    graph, plan = haidong.graph, haidong.plan
    assert graph.value(plan, SQ.documentNumber) == Literal("东政办〔2024〕96号")
    assert graph.value(plan, DCTERMS.title) == Literal("海东市知识产权领域市与县区财政事权和支出责任划分改革方案", lang="zh")
    assert graph.value(plan, DCTERMS.issued) == Literal("2024-12-31", datatype=XSD.date)
    assert graph.value(plan, SQ.issuedBy) == iri("body/haidong-shi-renmin-zhengfu-bangongshi")
    assert graph.value(plan, SQ.jurisdiction) == iri("division/haidong")
    assert set(graph.objects(plan, SQ.basedOn)) == {iri("plan/qinghai-qingzheng-2024-36")}
    assert set(graph.objects(plan, SQ.dividesBetween)) == {F, K}
    assert graph.value(plan, SQ.levelPair) == Literal("市与县区", lang="zh")
    assert graph.value(plan, SQ.field) == iri("field/zhishichanquan")


def test_haidong_main_content_is_covered_entirely(haidong):
    assert haidong.uncovered == []


def test_haidong_reuses_every_known_matter_and_category(haidong):
    assert list(haidong.graph.subjects(RDF.type, SQ.Matter)) == []
    assert list(haidong.graph.subjects(RDF.type, SQ.MatterCategory)) == []


def test_haidong_extraction_passes_the_shapes(haidong, schema):
    data = loading.union(g for name, g in loading.read_paths([DATA]).items() if "haidong-dongzhengban" not in str(name))
    data += haidong.graph
    report = validation.validate_graph(data, *schema)
    assert report.conforms, report.text()


def test_haidong_duplicated_clause_makes_no_phantom_matter_without_known_matters():
    result = extract.extract(SOURCE.read_text(encoding="utf-8"))
    city = "市级制定实施全市知识产权战略、规划、政策,市级知识产权统计调查分析发布,开展全市知识产权统计调查分析发布,确认为市级财政事权,由市级承担支出责任。"
    ruled = {
        str(result.graph.value(result.graph.value(a, SQ.matter), RDFS.label))
        for a in result.graph.subjects(SQ.sourceText, Literal(city))
    }
    assert ruled == {"制定实施知识产权战略、规划、政策", "知识产权统计调查分析发布"}
    statistics = [m for m in result.graph.subjects(RDF.type, SQ.Matter) if "统计调查" in str(result.graph.value(m, RDFS.label))]
    assert len(statistics) == 1


def test_haidong_without_known_plans_describes_the_cited_provincial_plan():
    result = extract.extract(SOURCE.read_text(encoding="utf-8"))
    parent = iri("plan/qinghai-qingzheng-2024-36")
    graph = result.graph
    assert (result.plan, SQ.basedOn, parent) in graph
    assert graph.value(parent, SQ.documentNumber) == Literal("青政〔2024〕36号")
    assert graph.value(parent, DCTERMS.title) == Literal("青海省知识产权领域省与市（州）县财政事权和支出责任划分改革实施方案", lang="zh")
    assert set(graph.objects(parent, SQ.dividesBetween)) == {P, PC}
    assert graph.value(graph.value(parent, SQ.jurisdiction), RDFS.label) == Literal("青海省", lang="zh")
    assert {n.language for n in graph.objects(parent, SKOS.editorialNote)} == {"zh", "en"}


# --- 市与县区: exclusive and shared powers, with and without ratios ------------------------------------

SHIFAN = "shifan-shizhengban-2025-7.txt"
SHIFAN_LIST = "将市级专利转化专项资金管理、市级知识产权运营平台建设等事项，确认为市级财政事权，由市级承担支出责任。"
SHIFAN_MEDIATION = "知识产权纠纷人民调解，确认为市与县区共同财政事权，由市与县区共同承担支出责任。"
SHIFAN_SIXTY = "知识产权维权援助站点建设，确认为市与县区共同财政事权，由市级和县区分别承担60%、40%的支出责任。"
SHIFAN_RATIO = "县区级商标品牌指导站建设，确认为市与县区共同财政事权，由市级与县区按6:4比例分担支出责任。"


def test_shared_powers_with_and_without_ratios(known):
    result = extract.extract(read_plan(SHIFAN), known=known)
    assert assignments(result, known) == {
        ("专利转化专项资金管理", F, F, F, "二（一）", SHIFAN_LIST),
        ("知识产权运营平台建设", F, F, F, "二（一）", SHIFAN_LIST),
        ("专利转化专项资金管理", K, K, K, "二（一）", "县区级专利转化专项资金管理，确认为县区财政事权，由县区承担支出责任。"),
        ("知识产权纠纷人民调解", F, shared(F, K), joint(F, K), "二（二）", SHIFAN_MEDIATION),
        ("知识产权纠纷人民调解", K, shared(F, K), joint(F, K), "二（二）", SHIFAN_MEDIATION),
        ("知识产权维权援助站点建设", F, shared(F, K), joint_shares((F, 60), (K, 40)), "二（二）", SHIFAN_SIXTY),
        ("知识产权维权援助站点建设", K, shared(F, K), joint_shares((F, 60), (K, 40)), "二（二）", SHIFAN_SIXTY),
        ("商标品牌指导站建设", K, shared(F, K), joint_shares((F, 60), (K, 40)), "二（二）", SHIFAN_RATIO),
    }


def test_a_main_content_sentence_without_ruling_is_reported_with_its_line():
    result = extract.extract(read_plan(SHIFAN))
    assert result.uncovered == [(37, "各县区可结合实际细化本地事项清单。")]


def test_metadata_of_a_city_plan_and_its_notice(known):
    result = extract.extract(read_plan(SHIFAN), known=known)
    graph, plan = result.graph, result.plan
    assert plan == iri("plan/shifan-shizhengban-2025-7")
    assert graph.value(plan, SQ.documentNumber) == Literal("示政办〔2025〕7号")
    assert graph.value(plan, DCTERMS.title) == Literal("示范市知识产权领域市与县区财政事权和支出责任划分改革方案", lang="zh")
    assert graph.value(plan, DCTERMS.issued) == Literal("2025-03-14", datatype=XSD.date)
    assert graph.value(graph.value(plan, SQ.issuedBy), RDFS.label) == Literal("示范市人民政府办公室", lang="zh")
    assert graph.value(graph.value(plan, SQ.jurisdiction), RDFS.label) == Literal("示范市", lang="zh")
    assert graph.value(graph.value(plan, SQ.jurisdiction), SQ.level) == F
    assert set(graph.objects(plan, SQ.dividesBetween)) == {F, K}
    notice = iri("notice/shifan-shizhengban-2025-7")
    assert graph.value(notice, SQ.transmits) == plan
    assert graph.value(notice, DCTERMS.title) == Literal("示范市人民政府办公室关于印发示范市知识产权领域市与县区财政事权和支出责任划分改革方案的通知", lang="zh")


def test_plans_extracted_separately_link_up_through_their_document_numbers():
    city = extract.extract(read_plan(SHIFAN))
    province = extract.extract(read_plan("yangli-yangzhengban-2024-12.txt"))
    assert province.plan == iri("plan/yangli-yangzhengban-2024-12")
    assert set(city.graph.objects(city.plan, SQ.basedOn)) == {province.plan}
    assert set(province.graph.objects(province.plan, SQ.basedOn)) == {iri("plan/china-guobanfa-2023-48")}


# --- 省与市县: a level group, numbering 1. and (1), half-width punctuation ---------------------------------

YANGLI_CENTRE = "知识产权保护中心建设，确认为省与市县共同财政事权，省级承担70%，市县承担30%。"


def test_province_and_city_county_group_with_numbering_1_and_parenthesised_numbers(known):
    result = extract.extract(read_plan("yangli-yangzhengban-2024-12.txt"), known=known)
    assert assignments(result, known) == {
        ("专利奖励", P, P, P, "一1.（1）", "省级专利奖励,确认为省级财政事权,由省级承担支出责任。"),
        ("专利奖励", PC, PC, PC, "一1.（2）", "市县专利奖励，确认为市县财政事权，由市县承担支出责任。"),
        ("知识产权保护中心建设", P, shared(P, PC), joint_shares((P, 70), (PC, 30)), "一2.（1）", YANGLI_CENTRE),
        ("知识产权保护中心建设", PC, shared(P, PC), joint_shares((P, 70), (PC, 30)), "一2.（1）", YANGLI_CENTRE),
    }
    assert set(result.graph.objects(result.plan, SQ.dividesBetween)) == {P, PC}
    assert result.graph.value(result.plan, SQ.levelPair) == Literal("省与市县", lang="zh")


def test_known_matters_and_categories_are_reused_by_label(known):
    result = extract.extract(read_plan("yangli-yangzhengban-2024-12.txt"), known=known)
    awards = assignment_of(result, "专利奖励", P, known)
    assert result.graph.value(awards, SQ.matter) == iri("matter/zhuanli-jiangli")
    assert result.graph.value(awards, SQ.provision) == iri("provision/yangli-yangzhengban-2024-12/1-1-1")
    assert result.graph.value(iri("provision/yangli-yangzhengban-2024-12/1-1-1"), SQ.category) == iri("category/zhishichanquan-yunyong-cujin")
    centre = result.graph.value(assignment_of(result, "知识产权保护中心建设", P, known), SQ.matter)
    assert centre == iri("matter/zhishichanquan-baohu-zhongxin-jianshe")
    assert result.graph.value(centre, SQ.category) == iri("category/zhishichanquan-baohu")


# --- 中央与地方: inline categories, 将…确认为…, transfer support, 8:2, two rulings in one sentence -----------

GUOBANFA_SHARED = "跨区域样例服务协作，确认为中央与地方共同财政事权，由中央与地方按照8:2的比例分担支出责任。"


def test_central_and_local_plan_with_inline_categories(known):
    result = extract.extract(read_plan("china-guobanfa-2099-3.txt"), known=known)
    assert assignments(result, known) == {
        ("样例事务发展规划编制", C, C, C, "一（一）", "将全国性样例事务发展规划编制，确认为中央财政事权，由中央承担支出责任。"),
        ("样例设施日常运行维护", LOCAL, LOCAL, LOCAL, "一（二）", "地方样例设施日常运行维护，确认为地方财政事权，由地方承担支出责任，中央财政通过转移支付给予支持。"),
        ("跨区域样例服务协作", C, shared(C, LOCAL), joint_shares((C, 80), (LOCAL, 20)), "一（二）", GUOBANFA_SHARED),
        ("跨区域样例服务协作", LOCAL, shared(C, LOCAL), joint_shares((C, 80), (LOCAL, 20)), "一（二）", GUOBANFA_SHARED),
        ("样例信息平台建设", C, C, C, "一（三）", "样例信息平台建设，确认为中央财政事权，由中央承担支出责任；"),
        ("样例信息终端配置", LOCAL, LOCAL, LOCAL, "一（三）", "地方样例信息终端配置，确认为地方财政事权，由地方承担支出责任。"),
    }
    titles = {str(result.graph.value(p, DCTERMS.title)) for p in result.graph.subjects(SQ.provisionOf, result.plan) if result.graph.value(p, SQ.category)}
    assert titles == {"宏观管理", "设施运行", "信息化建设"}


def test_national_plan_metadata(known):
    result = extract.extract(read_plan("china-guobanfa-2099-3.txt"), known=known)
    graph, plan = result.graph, result.plan
    assert plan == iri("plan/china-guobanfa-2099-3")
    assert graph.value(plan, SQ.jurisdiction) == iri("division/china")
    assert graph.value(plan, SQ.issuedBy) == iri("body/guowuyuan-bangongting")
    assert graph.value(plan, DCTERMS.issued) == Literal("2099-01-05", datatype=XSD.date)
    assert set(graph.objects(plan, SQ.dividesBetween)) == {C, LOCAL}
    assert graph.value(graph.value(plan, SQ.field), RDFS.label) == Literal("样例事务", lang="zh")


# --- 市与县（区）: a ruling by subordination carried to the county level --------------------------------------

CHENGSHUI_SUB = "知识产权宣传周活动，知识产权志愿服务等事项，按照隶属关系确认为市级财政事权，由市级承担支出责任。"
CHENGSHUI_DEPT = "县（区）级部门及所属单位承担的事项，确认为县（区）财政事权，由县（区）承担支出责任。"


def test_by_subordination_reaches_the_level_whose_paragraph_rules_its_departments(known):
    result = extract.extract(read_plan("chengshui-chengzhengban-2025-21.txt"), known=known)
    assert assignments(result, known) == {
        ("知识产权发展规划编制", F, F, F, "一", "市级知识产权发展规划编制，确认为市级财政事权，由市级承担支出责任。"),
        ("知识产权发展规划编制", K, K, K, "一", "县（区）级知识产权发展规划编制，确认为县（区）财政事权，由县（区）承担支出责任。"),
        ("知识产权宣传周活动", F, F, F, "二", CHENGSHUI_SUB),
        ("知识产权志愿服务", F, F, F, "二", CHENGSHUI_SUB),
        ("知识产权宣传周活动", K, K, K, "二", CHENGSHUI_DEPT),
        ("知识产权志愿服务", K, K, K, "二", CHENGSHUI_DEPT),
        ("部门及所属单位承担的事项", K, K, K, "二", CHENGSHUI_DEPT),
    }
    assert set(result.graph.objects(result.plan, SQ.dividesBetween)) == {F, K}
    assert result.graph.value(result.plan, SQ.levelPair) == Literal("市与县（区）", lang="zh")


def test_carried_rulings_are_flagged_by_subordination_with_notes_in_both_languages(known):
    result = extract.extract(read_plan("chengshui-chengzhengban-2025-21.txt"), known=known)
    graph = result.graph

    def flags(label, level):
        a = assignment_of(result, label, level, known)
        return bool(graph.value(a, SQ.bySubordination)), {n.language for n in graph.objects(a, SKOS.editorialNote)}

    assert flags("知识产权宣传周活动", F) == (True, set())
    assert flags("知识产权宣传周活动", K) == (True, {"zh", "en"})
    assert flags("知识产权志愿服务", K) == (True, {"zh", "en"})
    assert flags("部门及所属单位承担的事项", K) == (False, set())


def test_category_headings_reuse_known_categories_by_alternative_label(known):
    result = extract.extract(read_plan("chengshui-chengzhengban-2025-21.txt"), known=known)
    graph = result.graph
    assert graph.value(iri("provision/chengshui-chengzhengban-2025-21/1"), SQ.category) == iri("category/zhishichanquan-hongguan-guanli")
    assert graph.value(iri("provision/chengshui-chengzhengban-2025-21/2"), SQ.category) == iri("category/zhishichanquan-lingyu-qita-shixiang")


# --- 市与区: several levels in one paragraph, words broken across lines and pages ---------------------------

JIANGBIN = "jiangbin-jiangzhengban-2025-4.txt"
JIANGBIN_BOTH = "市级和区级专利导航服务，分别确认为市级、区级财政事权，由市级、区级分别承担支出责任。"


def test_paragraphs_ruling_several_levels_and_words_broken_across_lines(known):
    result = extract.extract(read_plan(JIANGBIN), known=known)
    assert assignments(result, known) == {
        ("专利导航服务", F, F, F, "二1.", JIANGBIN_BOTH),
        ("专利导航服务", K, K, K, "二1.", JIANGBIN_BOTH),
        ("知识产权质押融资风险补偿", F, F, F, "二1.", "市级知识产权质押融资风险补偿，确认为市级财政事权，由市级承担支出责任；"),
        ("知识产权质押融资贴息", K, K, K, "二1.", "区级知识产权质押融资贴息，确认为区级财政事权，由区级承担支出责任。"),
        ("知识产权公共服务网点运行", K, K, K, "二2.", "知识产权公共服务网点运行，确认为区级财政事权。"),
    }
    assert result.uncovered == [(24, "上述事项所需经费纳入年度预算。")]


def test_a_ruling_without_payer_records_the_holder_and_says_so(known):
    result = extract.extract(read_plan(JIANGBIN), known=known)
    a = assignment_of(result, "知识产权公共服务网点运行", K, known)
    assert {n.language for n in result.graph.objects(a, SKOS.editorialNote)} == {"zh", "en"}


# --- 省以下, GB18030 ----------------------------------------------------------------------------------------

BEILING_SHARED = "知识产权人才培养，确认为省与市县共同财政事权，由省级与市县按5:5比例分担支出责任。"


def test_gb18030_plan_below_the_province(known):
    data = (PLANS / "beiling-beizhengban-2025-9.gb18030.txt").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    result = extract.extract(extract.read_text(data), known=known)
    assert result.plan == iri("plan/beiling-beizhengban-2025-9")
    assert assignments(result, known) == {
        ("知识产权战略实施", P, P, P, "一（一）（1）", "全省性知识产权战略实施，确认为省级财政事权，由省级承担支出责任。"),
        ("知识产权统计调查", PC, PC, PC, "一（一）（2）", "市县知识产权统计调查，确认为市县财政事权，由市县承担支出责任。"),
        ("知识产权人才培养", P, shared(P, PC), joint_shares((P, 50), (PC, 50)), "一（一）（3）", BEILING_SHARED),
        ("知识产权人才培养", PC, shared(P, PC), joint_shares((P, 50), (PC, 50)), "一（一）（3）", BEILING_SHARED),
    }
    assert result.graph.value(result.plan, SQ.levelPair) == Literal("省以下", lang="zh")
    assert set(result.graph.objects(result.plan, SQ.dividesBetween)) == {P, PC}


# --- what is not a plan, and what the text lacks -------------------------------------------------------------


def test_a_text_that_is_not_a_plan_is_refused():
    with pytest.raises(BadInput, match="no division rulings found"):
        extract.extract(read_plan("not-a-plan.txt"))


def test_an_empty_text_is_refused():
    with pytest.raises(BadInput, match="no division rulings found"):
        extract.extract("")


SHORT_PLAN = "测政办〔2025〕1号\n\n测试市知识产权领域市与县区财政事权和支出责任划分改革方案\n\n一、主要内容\n\n{}\n"


def test_rulings_that_only_refer_back_are_refused_with_their_lines():
    with pytest.raises(BadInput, match="none names a matter.*line 7: 上述事项确认为市级财政事权"):
        extract.extract(SHORT_PLAN.format("上述事项确认为市级财政事权，由市级承担支出责任。"))


def test_a_ratio_without_exact_percentages_records_no_shares_and_says_why():
    result = extract.extract(SHORT_PLAN.format("专利奖励，确认为市与县区共同财政事权，由市级和县区按1:2比例分担支出责任。"))
    payers = set(result.graph.subjects(RDF.type, SQ.JointPayer))
    assert payers and not list(result.graph.subjects(RDF.type, SQ.PaymentShare))
    for payer in payers:
        assert {n.language for n in result.graph.objects(payer, SKOS.editorialNote)} == {"zh", "en"}


def test_the_level_is_the_one_the_matter_names_when_it_differs_from_the_holder():
    result = extract.extract(SHORT_PLAN.format("县区级专利奖励，确认为市级财政事权，由县区承担支出责任。"))
    assert assignments(result) == {("专利奖励", K, F, K, "一", "县区级专利奖励，确认为市级财政事权，由县区承担支出责任。")}


def test_a_missing_document_number_is_noted_unknown_and_the_flag_still_supplies_it():
    text = read_plan(JIANGBIN).replace("江政办〔2025〕4号", "")
    result = extract.extract(text)
    assert result.graph.value(result.plan, SQ.documentNumber) is None
    assert any("--document-number" in message for _line, message in result.notes)
    result = extract.extract(text, overrides={"document_number": "江政办﹝2025﹞4号"})
    assert result.plan == iri("plan/jiangbin-jiangzhengban-2025-4")


def test_overrides_replace_what_the_text_says(known):
    result = extract.extract(
        read_plan(JIANGBIN),
        known=known,
        overrides={"title": "江滨市市与区知识产权事权方案", "date": "2025年7月1日", "issuer": "江滨市人民政府", "jurisdiction": "海东市"},
    )
    graph, plan = result.graph, result.plan
    assert plan == iri("plan/haidong-jiangzhengban-2025-4")
    assert graph.value(plan, DCTERMS.title) == Literal("江滨市市与区知识产权事权方案", lang="zh")
    assert graph.value(plan, DCTERMS.issued) == Literal("2025-07-01", datatype=XSD.date)
    assert graph.value(graph.value(plan, SQ.issuedBy), RDFS.label) == Literal("江滨市人民政府", lang="zh")
    assert graph.value(plan, SQ.jurisdiction) == iri("division/haidong")


@pytest.mark.parametrize(
    "pair,levels",
    [
        ("中央与地方", {C, LOCAL}),
        ("省与市县", {P, PC}),
        ("省与市（州）县", {P, PC}),
        ("省以下", {P, PC}),
        ("市与县区", {F, K}),
        ("市与县（区）", {F, K}),
        ("市与区", {F, K}),
    ],
)
def test_level_pair_override_names_the_levels_divided(pair, levels):
    result = extract.extract(read_plan(JIANGBIN), overrides={"level_pair": pair})
    assert set(result.graph.objects(result.plan, SQ.dividesBetween)) == levels
    assert result.graph.value(result.plan, SQ.levelPair) == Literal(pair, lang="zh")


def test_an_unknown_override_is_refused():
    with pytest.raises(BadInput, match="unknown option colour"):
        extract.extract(read_plan(JIANGBIN), overrides={"colour": "red"})


def test_a_level_pair_naming_no_levels_is_refused():
    with pytest.raises(BadInput, match="--level-pair"):
        extract.extract(read_plan(JIANGBIN), overrides={"level_pair": "甲与乙"})


# --- every plan text: IRIs, no blank nodes, shapes ----------------------------------------------------------

PLAN_FILES = sorted(p.name for p in PLANS.glob("*.txt") if p.name != "not-a-plan.txt")


@pytest.mark.parametrize("name", PLAN_FILES)
def test_extraction_has_no_blank_nodes_and_only_readable_iris(name, known):
    graph = extract.extract(read_plan(name), known=known).graph
    nodes = {n for triple in graph for n in (triple[0], triple[2])}
    assert not any(isinstance(n, BNode) for n in nodes)
    ours = [str(n) for n in nodes if isinstance(n, URIRef) and str(n).startswith(str(ID))]
    assert ours and all(re.fullmatch(r"https://w3id\.org/shiquan/id/[a-z]+(-[a-z]+)*(/[a-z0-9]+(-[a-z0-9]+)*)+", n) for n in ours)


@pytest.mark.parametrize("with_known", [True, False], ids=["with-data", "alone"])
@pytest.mark.parametrize("name", PLAN_FILES)
def test_extraction_passes_the_shapes(name, with_known, known, schema):
    result = extract.extract(read_plan(name), known=known if with_known else None)
    data = result.graph + known if with_known else result.graph
    report = validation.validate_graph(data, *schema)
    assert report.conforms, report.text()


# --- plans as published on government sites (issue 15) ---------------------------------------------------------

WEB_COPY = "qinglan-web-copy.txt"  # no 文号, a ﹝﹞ citation, a referral section, a last section cut short
WEB_PLAN = iri("plan/qinglan-zhishichanquan-2099-03-14")  # jurisdiction 青岚市, field 知识产权, date line 2099年3月14日


@pytest.fixture(scope="module")
def web_copy(known):
    return extract.extract(read_plan(WEB_COPY), known=known)


def test_a_plan_without_a_document_number_gets_an_iri_from_jurisdiction_field_and_date(web_copy):
    assert web_copy.plan == WEB_PLAN
    assert web_copy.graph.value(WEB_PLAN, SQ.documentNumber) is None


def test_an_unknown_document_number_is_said_in_both_languages(web_copy):
    notes = {n.language: str(n) for n in web_copy.graph.objects(WEB_PLAN, SKOS.editorialNote) if "文号" in n}
    assert notes["zh"].startswith("文号不详") and notes["en"].startswith("Document number (文号) unknown")


def test_a_parent_cited_in_small_form_brackets_keeps_its_based_on_link(web_copy):
    parent = web_copy.graph.value(WEB_PLAN, SQ.basedOn)
    assert parent == iri("plan/ganling-ganlingzhengbanfa-2099-44")
    assert web_copy.graph.value(parent, SQ.documentNumber) == Literal("甘岭政办发〔2099〕44号")


def test_every_section_and_sentence_left_over_is_reported_with_why(web_copy):
    assert [(left.line, left.text, left.reason) for left in web_copy.leftovers] == [
        (25, "（三）知识产权保护", "section"),
        (27, "知识产权保护相关事项，按照青岚市市场监管领域财政事权和支出责任划分改革方案执行。", "referral"),
        (33, "县区级知识产权公共服务体系建设，确认为县区财政事权，由县区承", "cut-off"),
    ]


def test_a_ruling_cut_off_before_its_payer_makes_no_assignment(web_copy):
    county = iri("assignment/qinglan-zhishichanquan-2099-03-14/zhishichanquan-gonggong-fuwu-tixi-jianshe/county")
    city = iri("assignment/qinglan-zhishichanquan-2099-03-14/zhishichanquan-gonggong-fuwu-tixi-jianshe/city")
    assert (county, None, None) not in web_copy.graph and (city, RDF.type, SQ.Assignment) in web_copy.graph


def test_a_lead_in_is_trimmed_so_the_matter_of_the_haidong_plan_is_reused(web_copy):
    city = iri("assignment/qinglan-zhishichanquan-2099-03-14/zhuanli-jiangli/city")
    assert web_copy.graph.value(city, SQ.matter) == iri("matter/zhuanli-jiangli")
    assert any(line == 21 and "按照统一部署自主实施的" in message for line, message in web_copy.notes)


def test_a_new_matter_like_a_known_one_is_reported_as_a_near_match(known):
    result = extract.extract(SHORT_PLAN.format("市级专利奖励资金管理，确认为市级财政事权，由市级承担支出责任。"), known=known)
    assert any("near match" in message and "专利奖励" in message for _line, message in result.notes)


@pytest.mark.parametrize("number", ["青政办﹝2099﹞7号", "青政办[2099]7号", "青政办（2099）7号", "青政办(2099)7号",
                                    "青政办【2099】7号", "青政办〔2099〕7号"])
def test_every_bracket_form_of_a_document_number_is_read_in_the_text_and_the_flag(number):
    text = f"{number}\n\n" + read_plan(WEB_COPY)
    assert extract.extract(text).plan == iri("plan/qinglan-qingzhengban-2099-7")
    flagged = extract.extract(read_plan(WEB_COPY), overrides={"document_number": number})
    assert flagged.graph.value(flagged.plan, SQ.documentNumber) == Literal("青政办〔2099〕7号")


def test_a_document_number_0_is_refused_saying_numbers_start_at_1():
    with pytest.raises(BadInput, match="--document-number.*serial number is 0.*from 1"):
        extract.extract(read_plan(WEB_COPY), overrides={"document_number": "青政办〔2099〕0号"})


def test_a_document_number_0_in_the_text_is_left_out_with_the_reason():
    text = "青政办〔2099〕0号\n\n" + read_plan(WEB_COPY)
    result = extract.extract(text)
    assert result.plan == WEB_PLAN
    assert any(line == 1 and "serial number is 0" in message for line, message in result.notes)


def test_a_text_without_title_or_number_is_read_and_says_so():
    text = "二、主要内容\n（一）知识产权保护\n市级知识产权执法，确认为市级财政事权，由市级承担支出责任。\n" \
           "县区级知识产权执法，确认为县区财政事权，由县区承担支出责任。\n"
    result = extract.extract(text)
    assert result.graph.value(result.plan, DCTERMS.title) is None
    assert re.fullmatch(r"https://w3id\.org/shiquan/id/plan/[0-9a-f]{10}", str(result.plan))
    assert any("--title" in message for _line, message in result.notes)
    assert "标题不详" in " ".join(map(str, result.graph.objects(result.plan, SKOS.editorialNote)))


# --- the command line: extract --strict and --review, add ----------------------------------------------------

@pytest.fixture
def runner():
    from click.testing import CliRunner

    return CliRunner()


def test_extract_strict_exits_1_naming_each_leftover_file_and_line(runner, tmp_path):
    from shiquan.cli import main

    path = PLANS / WEB_COPY
    result = runner.invoke(main, ["extract", "--strict", str(path), "-o", str(tmp_path / "q.ttl")])
    assert result.exit_code == 1
    assert f"{path}:25: no assignment (a section" in result.stderr
    assert f"{path}:27: no assignment (a referral" in result.stderr
    assert f"{path}:33: no assignment (the sentence is cut off" in result.stderr


def test_extract_flag_with_a_bad_document_number_exits_2_naming_the_flag(runner, tmp_path):
    from shiquan.cli import main

    result = runner.invoke(main, ["extract", str(PLANS / WEB_COPY), "--document-number", "青政办7号"])
    assert result.exit_code == 2 and "--document-number '青政办7号' is not a 文号" in result.stderr


def test_extract_review_markdown_shows_each_ruling_with_its_decisions(runner, tmp_path):
    from shiquan.cli import main

    review = tmp_path / "review.md"
    result = runner.invoke(main, ["extract", str(PLANS / WEB_COPY), "-o", str(tmp_path / "q.ttl"), "--review", str(review)])
    assert result.exit_code == 0, result.stderr
    text = review.read_text(encoding="utf-8")
    assert "| 21 | 市级按照全市统一部署自主实施的专利奖励，确认为市级财政事权，由市级承担支出责任。 |" in text
    assert "reused once its lead-in was trimmed 按照统一部署自主实施的 (matter/zhuanli-jiangli)" in text
    assert "holder 县区 → 县级; payer 由县区承担支出责任 → 县级" in text
    assert f"{WEB_COPY}:27: a referral" in text


def test_extract_review_html_reads_in_chromium(runner, tmp_path):
    import subprocess

    from shiquan.cli import main

    review = tmp_path / "review.html"
    runner.invoke(main, ["extract", str(PLANS / WEB_COPY), "-o", str(tmp_path / "q.ttl"), "--review", str(review)])
    dom = subprocess.run(
        ["/usr/bin/chromium", "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", review.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert "<td>市级按照全市统一部署自主实施的专利奖励，确认为市级财政事权，由市级承担支出责任。</td>" in dom
    assert "cut off" in dom and "县区级知识产权公共服务体系建设，确认为县区财政事权，由县区承" in dom


def test_add_writes_the_plan_under_its_slug_and_refuses_it_twice_without_replace(runner, tmp_path):
    import shutil

    from shiquan.cli import main

    folder = tmp_path / "data"
    shutil.copytree(DATA, folder)
    first = runner.invoke(main, ["add", str(PLANS / WEB_COPY), "--data", str(folder)])
    assert first.exit_code == 0, first.stderr
    added = folder / "qinglan-zhishichanquan-2099-03-14.ttl"
    assert (WEB_PLAN, RDF.type, SQ.Plan) in Graph().parse(added)
    again = runner.invoke(main, ["add", str(PLANS / WEB_COPY), "--data", str(folder)])
    assert again.exit_code == 2 and "already in the data" in again.stderr and "--replace" in again.stderr
    replaced = runner.invoke(main, ["add", str(added), "--data", str(folder), "--replace"])
    assert replaced.exit_code == 0, replaced.stderr


def test_add_refuses_a_plan_that_violates_the_shapes_with_the_report(runner, tmp_path):
    import shutil

    from shiquan.cli import main

    folder = tmp_path / "data"
    shutil.copytree(DATA, folder)
    bad = tmp_path / "bad.ttl"
    bad.write_text(
        "@prefix sq: <https://w3id.org/shiquan/ontology#> .\n"
        "<https://w3id.org/shiquan/id/plan/ceshi-2099> a sq:Plan .\n"
        "<https://w3id.org/shiquan/id/assignment/ceshi-2099/a/city> a sq:Assignment ;\n"
        "    sq:statedIn <https://w3id.org/shiquan/id/plan/ceshi-2099> .\n", encoding="utf-8")
    result = runner.invoke(main, ["add", str(bad), "--data", str(folder)])
    assert result.exit_code == 1 and "PlanShape-documentNumberOrNote" in result.stderr
    assert not (folder / "ceshi-2099.ttl").exists()
