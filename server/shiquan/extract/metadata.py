"""A plan's metadata: its 文号, date, level pair, field, jurisdiction and issuer, and the plans it cites.

What the text leaves out can be supplied with ``overrides`` (``OVERRIDE_KEYS``, checked by
``check_overrides``). Divisions and bodies get slugs from the pinyin of their names, the place in
one piece (海东市人民政府办公室 → haidong-shi-renminzhengfu-bangongshi); a plan's slug is its
jurisdiction and its 文号 in pinyin (haidong-dongzhengban-2024-96).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from rdflib import RDF, Literal, URIRef
from rdflib.namespace import DCTERMS

from shiquan.errors import BadInput
from shiquan.extract.matters import joined_pinyin, slug
from shiquan.extract.rulings import RANK, C, F, K, P, note, pair_levels
from shiquan.extract.text import CANON, CN_DIGITS, DATE, cn_number
from shiquan.vocab import SQ, mint

if TYPE_CHECKING:
    from shiquan.extract.build import Builder

OVERRIDE_KEYS = ("document_number", "title", "date", "issuer", "jurisdiction", "level_pair", "field")

# The brackets sites print around a 文号's year: 〔〕, the small form ﹝﹞, [] ［］, （） () and 【】
# (half-width parentheses are read as full-width ones, see text.CANON).
OPEN, CLOSE = "〔﹝\\[［【（", "〕﹞\\]］】）"
_NUMBER = rf"[{OPEN}]\s*(?:19|20)\d{{2}}\s*[{CLOSE}]\s*第?\d{{1,5}}\s*号"
_DOCNUM = re.compile(
    rf"(?P<prefix>[\u4e00-\u9fff]{{1,10}}?)[{OPEN}]\s*(?P<year>(?:19|20)\d{{2}})\s*[{CLOSE}]\s*第?(?P<num>\d{{1,5}})\s*号"
)
CITATION = re.compile(rf"《(?P<title>[^》]{{4,120}})》（(?P<docnum>[^《》（）]{{1,20}}?{_NUMBER})）")
FLAGS = {key: "--" + key.replace("_", "-") for key in
         ("document_number", "title", "date", "issuer", "jurisdiction", "level_pair", "field")}
PLAN_TITLE = re.compile(r"^[^，。：；《》]*财政事权[^，。：；《》]*(?:方案|意见|办法)$")
NOTICE_TITLE = re.compile(r"^(?P<issuer>[\u4e00-\u9fff]*?)关于(?:印发|转发)(?P<what>[^，。：；]+?)的通知$")
_PAIR_SIDE = "[中央地方省自治区市州盟县区旗乡镇（）、]"
_PAIR = re.compile(rf"(?P<pair>{_PAIR_SIDE}{{1,8}}?(?:与{_PAIR_SIDE}{{1,12}}?|以下))(?:政府)?(?:间)?财政事权")
_DIVISION_NAME = re.compile(
    r"^(?P<name>(?:(?!领域|与|财政|关于|知识产权)[\u4e00-\u9fff]){1,12}?"
    r"(?:特别行政区|自治区|自治州|自治县|自治旗|省|市|地区|州|盟|县|区|旗))"
)
_DIVISION_STEM = re.compile(
    r"^(?P<stem>.+?)(?:[\u4e00-\u9fff]{1,2}族)*(?:自治区|自治州|自治县|自治旗|特别行政区|省|市|地区|州|盟|县|区|旗)$"
)
_BODY_SUFFIX = re.compile(r"(?:人民政府办公厅|人民政府办公室|人民政府|办公厅|办公室)$")


def check_overrides(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """The overrides that are given (not None), with the date as a ``datetime.date``.

    Raises BadInput for an unknown key, a document number not of the form X〔YYYY〕N号, a date
    that is neither YYYY-MM-DD nor YYYY年M月D日, and a level pair that names no two levels.
    """
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(given) - set(OVERRIDE_KEYS))
    if unknown:
        raise BadInput(f"unknown option {', '.join(unknown)}; use {', '.join(FLAGS[k] for k in OVERRIDE_KEYS)}")
    if "document_number" in given:
        check_number_flag(str(given["document_number"]))
    if "date" in given and not isinstance(given["date"], dt.date):
        value = given["date"]
        try:
            given["date"] = dt.date.fromisoformat(str(value))
        except ValueError:
            parsed = parse_date(str(value))
            if parsed is None:
                raise BadInput(f"--date {value!r} is neither YYYY-MM-DD nor YYYY年M月D日") from None
            given["date"] = parsed
    if "level_pair" in given and not pair_levels(str(given["level_pair"])):
        raise BadInput(f"--level-pair {given['level_pair']!r} names no two levels (e.g. 市与县区, 中央与地方, 省以下)")
    return given


def check_number_flag(value: str) -> None:
    """Check a 文号 given with --document-number.

    Raises BadInput when the value is not one 文号 (any of the brackets 〔〕 ﹝﹞ [] （） () 【】 around
    the year) or its serial number is 0.
    """
    canon = "".join(value.split()).translate(CANON)
    found = _DOCNUM.fullmatch(canon)
    if found is None:
        raise BadInput(
            f"--document-number {value!r} is not a 文号: write it as printed, e.g. 东政办〔2024〕96号 "
            "(the year may stand in 〔〕, ﹝﹞, [], （）, () or 【】)"
        )
    if int(found.group("num")) == 0:
        raise BadInput(f"--document-number {value!r}: {zero_number_reason()}")


def zero_number_reason() -> str:
    """Why a 文号 numbered 0 is not one: the number counts an issuer's documents of the year from 1."""
    return (
        "the serial number is 0, but an issuer numbers its documents of each year from 1 "
        "(东政办〔2024〕96号 is its 96th of 2024); give the number printed on the document, or leave "
        "--document-number out when the document has none"
    )


def document_number(text: str, *, cited: bool = True) -> tuple[str, str, str, str] | None:
    """The first 文号 in ``text``, normalised to X〔YYYY〕N号, with its prefix, year and number.

    The year may stand in any bracket sites print (〔〕 ﹝﹞ [] （） () 【】). With ``cited`` false, a number in
    parentheses (a citation such as 《…》（青政〔2024〕36号）) is passed over. A number 0 is returned as found:
    the caller says why it is not a 文号 (``zero_number_reason``).
    """
    canon = text.translate(CANON)
    for m in _DOCNUM.finditer(canon):
        if not cited and m.start() > 0 and canon[m.start() - 1] == "（":
            continue
        prefix, year, num = m.group("prefix"), m.group("year"), str(int(m.group("num")))
        return f"{prefix}〔{year}〕{num}号", prefix, year, num
    return None


def parse_date(text: str) -> dt.date | None:
    """The first date written 2024年12月31日 (digits or Chinese numerals) in ``text``, or None."""
    m = re.search(DATE, text)
    if not m:
        return None

    def number(part: str) -> int:
        if part.isdigit():
            return int(part)
        if len(part) == 4 and all(ch in CN_DIGITS for ch in part):
            return int("".join(str(CN_DIGITS[ch]) for ch in part))
        return cn_number(part)

    try:
        return dt.date(number(m.group(1)), number(m.group(2)), number(m.group(3)))
    except (ValueError, KeyError):
        return None


def division_name(text: str) -> str | None:
    m = _DIVISION_NAME.match(text)
    return m.group("name") if m else None


def division_slug(name: str) -> str:
    if name in ("中华人民共和国", "中国", "全国"):
        return "china"
    return joined_pinyin(_division_stem(name))


def _division_stem(name: str) -> str:
    """海东市 → 海东, 民和回族土族自治县 → 民和, 内蒙古自治区 → 内蒙古."""
    m = _DIVISION_STEM.match(name)
    return m.group("stem") if m else name


def division_level(name: str, fallback: URIRef | None) -> URIRef | None:
    if name in ("中华人民共和国", "中国", "全国"):
        return C
    for suffix, level in (("省", P), ("自治区", P), ("特别行政区", P), ("市", F), ("州", F), ("盟", F), ("地区", F),
                          ("县", K), ("区", K), ("旗", K)):
        if name.endswith(suffix):
            return fallback if (suffix == "市" and fallback == P) else level
    return fallback


def body_slug(name: str) -> str:
    """海东市人民政府办公室 → haidong-shi-renminzhengfu-bangongshi: the place in one piece, then the words of the rest."""
    place = division_name(name)
    if not place or place == name:
        return slug(name)
    stem = _division_stem(place)
    return "-".join(part for part in (joined_pinyin(stem), slug(name[len(stem) :])) if part)


def jurisdiction_name(title: str, issuer_name: str | None, prefix: str, pair: list[URIRef]) -> str | None:
    """The division a plan applies to: the country for a 国… number or a central level, else the one
    its title, or its issuer, opens with."""
    if prefix.startswith("国") or pair[0] == C:
        return "中华人民共和国"
    return division_name(title) or (division_name(_BODY_SUFFIX.sub("", issuer_name)) if issuer_name else None)


def plan_slug_for(jurisdiction_slug: str, prefix: str, year: str, num: str) -> str:
    """A plan's slug: its jurisdiction, then its 文号 in pinyin (haidong-dongzhengban-2024-96)."""
    return "-".join(part for part in (jurisdiction_slug, joined_pinyin(prefix), year, num) if part)


def pair_in(text: str) -> str | None:
    """A plan's wording of its level pair in ``text``: 市与县区, 省与市（州）县, 中央与地方, 省以下 …"""
    text = text.translate(CANON)
    anchored = re.search(rf"领域{_PAIR.pattern}", text)
    for m in ([anchored] if anchored else []) + list(_PAIR.finditer(text)):
        pair = m.group("pair")
        while len(pair) > 3 and pair[0] == pair[1]:  # 青海省省以下 → 省以下
            pair = pair[1:]
        if pair_levels(pair):
            return pair
    return None


def field_in(title: str, jurisdiction: str | None) -> str | None:
    if jurisdiction and title.startswith(jurisdiction):
        title = title[len(jurisdiction) :]
    m = re.match(r"^([\u4e00-\u9fff]{2,12}?)领域", title)
    return m.group(1) if m else None


def cited_plan(
    builder: Builder, cited_title: str, cited_number: tuple[str, str, str, str], citing: str
) -> URIRef | None:
    """The IRI of a plan cited as implemented, described from the citation when ``known`` lacks it.

    Returns None when the cited document is not a plan of the genre (no 财政事权 or no level pair in its title).
    """
    number, prefix, year, num = cited_number
    if number in builder.plans_by_number:
        return builder.plans_by_number[number]
    issuer_name = None
    title = cited_title
    m = re.match(r"^(?P<issuer>[^，。]*?)关于(?:印发|转发)(?P<what>.+?)(?:的通知)?$", cited_title)
    if m:
        issuer_name, title = m.group("issuer") or None, m.group("what").strip("《》")
    if "财政事权" not in title:
        return None
    pair_text = pair_in(title)
    if pair_text is None:
        return None
    pair = sorted(pair_levels(pair_text), key=lambda lv: RANK[lv])
    name = jurisdiction_name(title, issuer_name, prefix, pair)
    jurisdiction_slug = division_slug(name) if name else ""
    plan = mint("plan", plan_slug_for(jurisdiction_slug, prefix, year, num))
    graph = builder.graph
    if (plan, RDF.type, SQ.Plan) in graph or (plan, None, None) in builder.known:
        return plan
    graph.add((plan, RDF.type, SQ.Plan))
    graph.add((plan, DCTERMS.title, Literal(title, lang="zh")))
    graph.add((plan, SQ.documentNumber, Literal(number)))
    for level in pair:
        graph.add((plan, SQ.dividesBetween, level))
    graph.add((plan, SQ.levelPair, Literal(pair_text, lang="zh")))
    if name:
        division = builder.named(
            SQ.AdministrativeDivision, "division", name, {SQ.level: division_level(name, pair[0])},
            iri_slug=jurisdiction_slug,
        )
        graph.add((plan, SQ.jurisdiction, division))
    if issuer_name:
        graph.add((plan, SQ.issuedBy, builder.named(SQ.Body, "body", issuer_name)))
    field_name = field_in(title, name)
    if field_name:
        graph.add((plan, SQ.field, builder.named(SQ.PolicyField, "field", field_name)))
    note(
        graph, plan,
        f"Known only from its citation in {citing}: number, title and issuer as cited; its date and text are not "
        "in that source.",
        f"仅见于{citing}的引用：文号、标题和发文机关按引用记录；其日期和原文不在该来源中。",
    )
    return plan
