"""The Haidong plan's data checked against its source text, not against a copy of the data.

EXPECTED lists, for each category of 二、主要内容 and each level, every matter as the source prints
it and the normalised matter it is (hand-checked against the source). The tests find each
printed phrase in the right paragraph of the source, read the ruling of its sentence, and
require exactly one assignment in the graph that matches it.
"""

from __future__ import annotations

import re

import pytest
from rdflib import RDF, RDFS, Graph, Literal, URIRef
from rdflib.namespace import SKOS

from shiquan.graph import loading
from shiquan.vocab import SQ

from .conftest import HAIDONG_PLAN, SOURCE, normalised

CITY, COUNTY = SQ.PrefecturalLevel, SQ.CountyLevel
RULING = {"由市级承担支出责任": CITY, "由县区承担支出责任": COUNTY}
CATEGORY_NUMERALS = "一二三四五六七"

# (category number, level, phrase as printed, normalised matter label, by subordination, interpretation)
EXPECTED = [
    (1, CITY, "市级制定实施全市知识产权战略、规划、政策", "制定实施知识产权战略、规划、政策", False, False),
    (1, CITY, "市级知识产权统计调查分析发布", "知识产权统计调查分析发布", False, False),
    (1, COUNTY, "县区级制定实施县区知识产权战略、规划、政策", "制定实施知识产权战略、规划、政策", False, False),
    (1, COUNTY, "知识产权统计调查分析发布", "知识产权统计调查分析发布", False, False),
    (2, CITY, "市级著作权管理部门办理的国内作者或其他著作权人作品的登记", "国内作者或其他著作权人作品的登记", False, False),
    (2, COUNTY, "县区级以下办理的国内作者或其他著作权人作品的登记", "国内作者或其他著作权人作品的登记", False, False),
    (3, CITY, "加强知识产权运用促进的有关工作", "加强知识产权运用促进的有关工作", False, False),
    (3, CITY, "市级知识产权转移转化促进和知识产权交易运营监督管理", "知识产权转移转化促进和知识产权交易运营监督管理", False, False),
    (3, CITY, "市级重大经济科技活动知识产权评议", "重大经济科技活动知识产权评议", False, False),
    (3, CITY, "市级专利奖励", "专利奖励", False, False),
    (3, CITY, "对市级重点产业发展开展专利导航", "对重点产业发展开展专利导航", False, False),
    (3, CITY, "市级知识产权服务业监管", "知识产权服务业监管", False, False),
    (3, COUNTY, "加强知识产权运用促进的有关工作", "加强知识产权运用促进的有关工作", False, False),
    (3, COUNTY, "县区级知识产权转移转化促进和知识产权交易运营监督管理", "知识产权转移转化促进和知识产权交易运营监督管理", False, False),
    (3, COUNTY, "县区级重大经济科技活动知识产权评议", "重大经济科技活动知识产权评议", False, False),
    (3, COUNTY, "县区级专利奖励", "专利奖励", False, False),
    (3, COUNTY, "对县区级重点产业发展开展专利导航", "对重点产业发展开展专利导航", False, False),
    (3, COUNTY, "县区级知识产权服务业监管", "知识产权服务业监管", False, False),
    (4, CITY, "市级知识产权保护体系建设", "知识产权保护体系建设", False, False),
    (4, CITY, "市级涉外知识产权纠纷应对机制建设", "涉外知识产权纠纷应对机制建设", False, False),
    (4, CITY, "市级知识产权保护状况评价和绩效监督考核", "知识产权保护状况评价和绩效监督考核", False, False),
    (4, CITY, "市级知识产权保护专项行动", "知识产权保护专项行动", False, False),
    (4, CITY, "市级知识产权执法、快速协同保护、维权援助、知识产权侵权纠纷的行政裁决和行政调解", "知识产权执法、快速协同保护、维权援助、知识产权侵权纠纷的行政裁决和行政调解", False, False),
    (4, CITY, "市级软件正版化工作组织推进", "软件正版化工作组织推进", False, False),
    (4, COUNTY, "县区级知识产权保护体系建设", "知识产权保护体系建设", False, False),
    (4, COUNTY, "县区级涉外知识产权纠纷应对机制建设", "涉外知识产权纠纷应对机制建设", False, False),
    (4, COUNTY, "县区级知识产权保护状况评价和绩效监督考核", "知识产权保护状况评价和绩效监督考核", False, False),
    (4, COUNTY, "县区级知识产权保护专项行动", "知识产权保护专项行动", False, False),
    (4, COUNTY, "县区级知识产权执法、快速协同保护、维权援助、知识产权侵权纠纷的行政裁决和行政调解", "知识产权执法、快速协同保护、维权援助、知识产权侵权纠纷的行政裁决和行政调解", False, False),
    (4, COUNTY, "县区级软件正版化工作组织推进", "软件正版化工作组织推进", False, False),
    (5, CITY, "市级知识产权公共服务体系建设", "知识产权公共服务体系建设", False, False),
    (5, CITY, "推动知识产权信息的传播利用和融合应用", "推动知识产权信息的传播利用和融合应用", False, False),
    (5, CITY, "市级知识产权信息化、智能化基础设施建设和网络安全防护", "知识产权信息化、智能化基础设施建设和网络安全防护", False, False),
    (5, CITY, "市级知识产权风险预测预警", "知识产权风险预测预警", False, False),
    (5, COUNTY, "县区级知识产权公共服务体系建设", "知识产权公共服务体系建设", False, False),
    (5, COUNTY, "推动知识产权信息在县区传播利用和融合应用", "推动知识产权信息的传播利用和融合应用", False, False),
    (5, COUNTY, "县区级知识产权信息化、智能化基础设施建设和网络安全防护", "知识产权信息化、智能化基础设施建设和网络安全防护", False, False),
    (5, COUNTY, "县区级知识产权风险预测预警", "知识产权风险预测预警", False, False),
    (6, CITY, "市级与外国地方政府和地方组织开展知识产权合作交流", "与外国地方政府和地方组织开展知识产权合作交流", False, False),
    (6, COUNTY, "县区与外国地方政府和地方组织开展知识产权合作交流", "与外国地方政府和地方组织开展知识产权合作交流", False, False),
    (7, CITY, "知识产权人才队伍建设", "知识产权人才队伍建设", True, False),
    (7, CITY, "知识产权领域法治宣传教育", "知识产权领域法治宣传教育", True, False),
    (7, CITY, "区域间知识产权合作交流", "区域间知识产权合作交流", True, False),
    (7, CITY, "知识产权培训基地建设", "知识产权培训基地建设", True, False),
    (7, CITY, "高等学校知识产权学科、学院、学位建设", "高等学校知识产权学科、学院、学位建设", True, False),
    (7, CITY, "市级职能部门及所属机构承担的事项", "职能部门及所属机构承担的事项", False, False),
    # The county paragraph of （七） rules only the matters of county departments; the matters the city
    # paragraph rules by subordination reach the county level through it (an interpretation, flagged).
    (7, COUNTY, "县区级职能部门及所属机构承担的事项", "知识产权人才队伍建设", True, True),
    (7, COUNTY, "县区级职能部门及所属机构承担的事项", "知识产权领域法治宣传教育", True, True),
    (7, COUNTY, "县区级职能部门及所属机构承担的事项", "区域间知识产权合作交流", True, True),
    (7, COUNTY, "县区级职能部门及所属机构承担的事项", "知识产权培训基地建设", True, True),
    (7, COUNTY, "县区级职能部门及所属机构承担的事项", "高等学校知识产权学科、学院、学位建设", True, True),
    (7, COUNTY, "县区级职能部门及所属机构承担的事项", "职能部门及所属机构承担的事项", False, False),
]


def source_paragraphs() -> dict[tuple[int, URIRef], str]:
    """The city and county paragraphs of each category of 二、主要内容, read from the source."""
    text = SOURCE.read_text(encoding="utf-8")
    main = text[text.index("二、主要内容") : text.index("三、保障措施")]
    # Join a word broken across lines, then split into non-empty paragraphs.
    paragraphs = [normalised(p) for p in re.split(r"\n\s*\n", main) if normalised(p)]
    found = {}
    for number, numeral in enumerate(CATEGORY_NUMERALS, 1):
        at = next(i for i, p in enumerate(paragraphs) if p.startswith(f"（{numeral}）"))
        found[(number, CITY)] = paragraphs[at + 1]
        found[(number, COUNTY)] = paragraphs[at + 2]
    return found


def sentence_with(paragraph: str, phrase: str) -> str:
    start = paragraph.index(phrase)
    begin = paragraph.rfind("。", 0, start) + 1
    return paragraph[begin : paragraph.index("。", start) + 1]


@pytest.fixture(scope="module")
def graph() -> Graph:
    graphs = loading.read_paths([SOURCE.parent.parent])
    return loading.union(graphs.values())


def plan_assignments(graph: Graph) -> list[URIRef]:
    return list(graph.subjects(SQ.statedIn, URIRef(HAIDONG_PLAN)))


def matter_labelled(graph: Graph, label: str) -> URIRef:
    matters = list(graph.subjects(RDFS.label, Literal(label, lang="zh")))
    assert len(matters) == 1, f"expected one matter labelled {label}, found {matters}"
    assert (matters[0], RDF.type, SQ.Matter) in graph
    return matters[0]


def test_source_paragraphs_are_found_for_all_seven_categories():
    paragraphs = source_paragraphs()
    assert len(paragraphs) == 14
    for (number, level), paragraph in paragraphs.items():
        assert paragraph.startswith(("市级", "县区", "知识产权人才")), (number, paragraph[:10])


@pytest.mark.parametrize("number,level,printed,label,subordinate,interpreted", EXPECTED)
def test_every_matter_of_the_source_has_its_assignment(graph, number, level, printed, label, subordinate, interpreted):
    paragraph = source_paragraphs()[(number, level)]
    assert printed in paragraph, f"{printed} is not in the source paragraph"
    sentence = sentence_with(paragraph, printed)
    payer = next(level for words, level in RULING.items() if words in sentence)
    assert payer == level
    matter = matter_labelled(graph, label)
    matches = [
        a for a in plan_assignments(graph) if (a, SQ.matter, matter) in graph and (a, SQ.level, level) in graph
    ]
    assert len(matches) == 1, f"expected one assignment of {label} at {level}, found {matches}"
    assignment = matches[0]
    assert graph.value(assignment, SQ.payer) == payer
    assert graph.value(assignment, SQ.fiscalPowerHolder) == payer
    quote = normalised(str(graph.value(assignment, SQ.sourceText)))
    assert printed in quote
    assert quote in normalised(SOURCE.read_text(encoding="utf-8"))
    section = graph.value(graph.value(assignment, SQ.provision), SQ.sectionNumber)
    assert str(section) == f"二（{CATEGORY_NUMERALS[number - 1]}）"
    assert bool(graph.value(assignment, SQ.bySubordination)) == subordinate
    notes = {n.language for n in graph.objects(assignment, SKOS.editorialNote) if "nterpretation" in n or "解读" in n}
    assert (notes == {"zh", "en"}) == interpreted


def test_no_assignment_beyond_the_source(graph):
    assert len(plan_assignments(graph)) == len(EXPECTED) == 52


def test_every_matter_of_the_plan_is_ruled_at_both_levels(graph):
    levels: dict[URIRef, set] = {}
    for assignment in plan_assignments(graph):
        levels.setdefault(graph.value(assignment, SQ.matter), set()).add(graph.value(assignment, SQ.level))
    assert len(levels) == 26
    assert all(found == {CITY, COUNTY} for found in levels.values())


def test_duplicated_clause_makes_no_phantom_matter(graph):
    paragraph = source_paragraphs()[(1, CITY)]
    assert paragraph.count("知识产权统计调查分析发布") == 2
    statistics = [m for m in graph.subjects(RDF.type, SQ.Matter) if any("统计调查" in label for label in graph.objects(m, RDFS.label))]
    assert len(statistics) == 1


def test_patent_awards_is_one_matter_with_two_assignments(graph):
    matter = URIRef("https://w3id.org/shiquan/id/matter/zhuanli-jiangli")
    assert sorted(graph.objects(matter, RDFS.label), key=str)[0] in {Literal("专利奖励", lang="zh"), Literal("patent awards", lang="en")}
    assert len(list(graph.subjects(SQ.matter, matter))) == 2


def test_safeguard_measures_are_the_five_of_the_source(graph):
    text = normalised(SOURCE.read_text(encoding="utf-8"))
    part = text[text.index("三、保障措施") :]
    titles = re.findall(r"（[一二三四五]）([^。]+)。", part)
    measures = {str(graph.value(m, URIRef("http://purl.org/dc/terms/title"))) for m in graph.subjects(RDF.type, SQ.SafeguardMeasure)}
    assert measures == set(titles) and len(titles) == 5


def test_source_text_in_graph_equals_the_source_file(graph):
    text = graph.value(URIRef("https://w3id.org/shiquan/id/text/haidong-dongzhengban-2024-96"), SQ.content)
    assert str(text) == SOURCE.read_text(encoding="utf-8")


def test_notice_records_the_approval_meeting_and_disclosure(graph):
    notice = URIRef("https://w3id.org/shiquan/id/notice/haidong-dongzhengban-2024-96")
    plan = URIRef(HAIDONG_PLAN)
    source = SOURCE.read_text(encoding="utf-8")
    meeting = graph.value(plan, SQ.approvedAt)
    assert str(graph.value(meeting, SQ.meetingNumber)) == "63" and "市政府第63次常务会议" in source
    assert graph.value(notice, SQ.disclosure) == SQ.ForPublicRelease and "宜公开" in source
    assert str(graph.value(notice, SQ.printedOn)) == "2024-12-31" and "2024年12月31日印发" in source
    addressed_to = normalised(source[source.index("各县区人民政府") : source.index("《海东市知识产权")])
    for body in graph.objects(notice, SQ.addressee):
        zh = [str(l) for l in graph.objects(body, RDFS.label) if l.language == "zh"]
        assert zh[0] in addressed_to
    assert len(list(graph.objects(notice, SQ.addressee))) == 3
    for body in graph.objects(notice, SQ.copyTo):
        zh = [str(l) for l in graph.objects(body, RDFS.label) if l.language == "zh"]
        assert zh[0] in normalised(source[source.index("抄送") :])
    assert len(list(graph.objects(notice, SQ.copyTo))) == 16


def test_divisions_carry_their_gb2260_codes(graph):
    codes = {
        "青海省": "630000", "海东市": "630200", "乐都区": "630202", "平安区": "630203",
        "民和回族土族自治县": "630222", "互助土族自治县": "630223", "化隆回族自治县": "630224", "循化撒拉族自治县": "630225",
    }
    for name, code in codes.items():
        division = graph.value(None, RDFS.label, Literal(name, lang="zh"))
        assert str(graph.value(division, SQ.divisionCode)) == code


def test_industrial_park_is_a_zone_not_a_division(graph):
    zone = graph.value(None, RDFS.label, Literal("海东工业园区", lang="zh"))
    assert (zone, RDF.type, SQ.DevelopmentZone) in graph
    assert (zone, RDF.type, SQ.AdministrativeDivision) not in graph
    assert graph.value(zone, SQ.divisionCode) is None
