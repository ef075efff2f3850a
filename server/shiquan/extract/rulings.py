"""Levels of government and the rulings that give them powers and payments.

A ruling is "[将]…，[按照隶属关系][分别]确认为X财政事权，由X承担支出责任" for an exclusive power,
"确认为X与Y共同财政事权，由X与Y共同承担…" for a shared one, with or without ratios (6:4,
分别承担60%、40%, X承担60%，Y承担40%); a sentence may hold several. ``clauses`` finds them in a
paragraph; ``rulings`` turns one about one matter into (level, holder, payer), adding the shared
powers and joint payers (with their shares) to the graph.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from rdflib import RDF, RDFS, XSD, Graph, Literal, URIRef
from rdflib.namespace import SKOS

from shiquan.extract.text import CANON, Para, Section
from shiquan.vocab import SQ, mint

# --------------------------------------------------------------------------------------------
# Levels
# --------------------------------------------------------------------------------------------

C, P, F, K, T = SQ.CentralLevel, SQ.ProvincialLevel, SQ.PrefecturalLevel, SQ.CountyLevel, SQ.TownshipLevel
LOCAL, PC = SQ.LocalLevels, SQ.PrefecturalAndCountyLevels

# level → (IRI slug, Chinese label as in the ontology, English label)
LEVEL_NAMES: dict[URIRef, tuple[str, str, str]] = {
    C: ("central", "中央", "central level"),
    P: ("province", "省级", "provincial level"),
    F: ("city", "市级", "prefectural level"),
    K: ("county", "县级", "county level"),
    T: ("township", "乡级", "township level"),
    LOCAL: ("local", "地方", "local levels"),
    PC: ("city-county", "市县", "prefectural and county levels"),
}
RANK = {C: 1, LOCAL: 2, P: 2, PC: 3, F: 3, K: 4, T: 5}

# How plans name levels, after parenthesised level words are dropped (市（州）县 → 市县, 县（区） → 县).
LEVEL_WORDS: dict[str, URIRef] = {
    "中央": C, "中央级": C, "中央本级": C, "全国": C, "全国性": C,
    "地方": LOCAL,
    "自治区": P, "省级": P, "省本级": P, "省": P, "全省": P, "全省性": P,
    "市州县": PC, "市县": PC, "州县": PC, "市县级": PC,
    "盟市": F, "市州": F, "地市": F, "市级": F, "市本级": F, "州级": F, "盟级": F, "市": F, "州": F, "盟": F,
    "全市": F,
    "县区级以下": K, "县级以下": K, "县区级": K, "县区": K, "区县": K, "县市区": K, "旗县市区": K, "旗县市": K,
    "旗县区": K, "旗县": K, "县市": K, "县级": K, "区级": K, "县": K, "区": K, "旗": K, "全县": K,
    "乡镇": T, "乡级": T, "乡": T, "镇": T,
}
_LEVEL_TOKEN = re.compile("|".join(map(re.escape, sorted(LEVEL_WORDS, key=len, reverse=True))))
_LEVEL_PARENS = re.compile(r"（[市州县区旗盟乡镇、]{1,6}）")
_LEVEL_FILLER = set("与和、及其的各级政府人民财政本以下共同分别均由并")


def levels(text: str) -> tuple[list[URIRef], int]:
    """The levels a phrase names, in order, and how many of its characters are not level words."""
    text = _LEVEL_PARENS.sub("", text)
    found: list[URIRef] = []
    unknown, i = 0, 0
    while i < len(text):
        m = _LEVEL_TOKEN.match(text, i)
        if m:
            if LEVEL_WORDS[m.group()] not in found:
                found.append(LEVEL_WORDS[m.group()])
            i = m.end()
            continue
        if text[i] not in _LEVEL_FILLER:
            unknown += 1
        i += 1
    return found, unknown


def pair_levels(pair: str) -> list[URIRef]:
    """The levels a plan's wording of its level pair names: 市与县区 → city, county; 省以下 → province, 市县."""
    pair = pair.translate(CANON)
    if pair.endswith("以下"):
        top, _ = levels(pair[:-2])
        below = {C: LOCAL, P: PC, F: K}
        if len(top) == 1 and top[0] in below:
            return [top[0], below[top[0]]]
        return []
    named: list[URIRef] = []
    for side in re.split(r"与|和", pair):
        found, unknown = levels(side)
        if unknown or not found:
            return []
        named += [lv for lv in found if lv not in named]
    return named if len(named) >= 2 else []


def covered_levels(pair: list[URIRef]) -> set[URIRef]:
    """The levels a plan divides between and those its level groups include."""
    out = set(pair)
    if LOCAL in out:
        out |= {P, F, K, T}
    if PC in out:
        out |= {F, K}
    return out


def _level_list(named: Iterable[URIRef], lang: str) -> str:
    names = [LEVEL_NAMES[lv][1 if lang == "zh" else 2] for lv in named]
    return "与".join(names) if lang == "zh" else " and ".join(names)


def note(graph: Graph, node: URIRef, en: str, zh: str) -> None:
    """Add an editorial note in English and Chinese to ``node``."""
    graph.add((node, SKOS.editorialNote, Literal(en, lang="en")))
    graph.add((node, SKOS.editorialNote, Literal(zh, lang="zh")))


# --------------------------------------------------------------------------------------------
# Rulings
# --------------------------------------------------------------------------------------------

_VERB = r"(?:确认为|确定为|明确为|界定为|认定为|列为|划为)"
_HOLD = re.compile(
    rf"(?P<pre>(?:按照?|根据|依)隶属关系，?)?(?P<resp>分别|均|统一)?{_VERB}"
    r"(?P<holder>[^，；。：]{1,24}?)(?P<shared>共同)?的?财政事权"
)
_TRAILER = re.compile(r"转移支付|给予支持|予以支持|给予补助|给予适当|奖补|补助|统筹")
_SHARE_HINT = re.compile(r"\d+(?:\.\d+)?(?:%|：\d)")
_SHARE_TOKEN = re.compile(
    r"(?P<ratio>\d+(?:\.\d+)?(?:：\d+(?:\.\d+)?)+)|(?P<pct>\d+(?:\.\d+)?)%"
    rf"|(?P<lvl>{_LEVEL_TOKEN.pattern})"
)
_SENTENCE_END = re.compile(r"[。！？]")


@dataclass
class Clause:
    """One ruling: the matters it names and who holds and pays, with the words it is quoted by."""

    section: Section | None
    para: Para
    sentence: tuple[int, int]
    quote: str
    matter_canon: str
    holders: list[URIRef]
    shared: bool
    respective: bool
    by_subordination: bool
    payers: list[URIRef]
    payer_stated: bool
    shares: dict[URIRef, Decimal] | None = None
    share_note: str | None = None
    holder_words: str = ""
    payer_words: str = ""

    @property
    def cut_off(self) -> bool:
        """The sentence stops before its closing 。 and before the payer is named: the text was cut short."""
        closed = self.para.canon[self.sentence[1] - 1] in "。！？；"
        return not closed and not self.payer_stated


def _payer_extent(rest: str) -> tuple[int, bool]:
    """How far the payer part of a ruling reaches into ``rest`` (the text after 财政事权), and whether it names a payer."""
    semi = rest.find("；")
    limit = rest if semi < 0 else rest[:semi]
    at = limit.find("支出责任")
    if at >= 0:
        end = at + 4
        after = re.match(r"由[^，；。]{0,20}?(?:承担|负担)", limit[end:])
        if after and not re.search(r"承担|负担|分担", limit[:at]):
            end += after.end()
        return end, True
    m = re.match(r"，?[^，；。]{0,30}?(?:承担|负担|分担)[^，；。]*", limit)
    if not m:
        return 0, False
    end = m.end()
    while True:  # 省级承担70%，市县承担30%
        more = re.match(r"，([^，；。]*(?:承担|负担|分担)[^，；。]*)", limit[end:])
        if not more or not _SHARE_HINT.search(more.group(1)):
            break
        end += more.end()
    return end, True


def _shares(region: str, members: list[URIRef]) -> tuple[dict[URIRef, Decimal] | None, str | None]:
    """Cost-sharing shares stated in ``region`` for the payer levels ``members``, or a note why none are recorded."""
    tokens = [(m.lastgroup, m.group(m.lastgroup), m.start()) for m in _SHARE_TOKEN.finditer(region)]
    ratios = [t for t in tokens if t[0] == "ratio"]
    pcts = [t for t in tokens if t[0] == "pct"]
    if not ratios and not pcts:
        return None, None
    stated = "、".join(t[1] + ("%" if t[0] == "pct" else "") for t in ratios + pcts)
    pairs: list[tuple[URIRef, Fraction]] = []
    if len(ratios) == 1 and not pcts:
        parts = [Fraction(x) for x in ratios[0][1].split("：")]
        if len(parts) == len(members) and sum(parts) > 0:
            pairs = [(level, part * 100 / sum(parts)) for level, part in zip(members, parts)]
    elif pcts and not ratios:
        adjacent = []
        for i, token in enumerate(tokens):
            if token[0] == "pct":
                if i == 0 or tokens[i - 1][0] != "lvl":
                    adjacent = []
                    break
                adjacent.append((LEVEL_WORDS[tokens[i - 1][1]], Fraction(token[1])))
        if adjacent and len(adjacent) == len(pcts):
            pairs = adjacent
        elif len(pcts) == len(members):
            pairs = [(level, Fraction(p[1])) for level, p in zip(members, pcts)]
    shares: dict[URIRef, Decimal] = {}
    for level, value in pairs:
        if level in shares or level not in members:
            shares = {}
            break
        decimal = _exact_decimal(value)
        if decimal is None:
            shares = {}
            break
        shares[level] = decimal
    if shares and set(shares) == set(members) and sum(shares.values()) == 100:
        return shares, None
    return None, stated


def _exact_decimal(value: Fraction) -> Decimal | None:
    den = value.denominator
    for prime in (2, 5):
        while den % prime == 0:
            den //= prime
    if den != 1:
        return None
    text = format(Decimal(value.numerator) / Decimal(value.denominator), "f")
    return Decimal(text.rstrip("0").rstrip(".") if "." in text else text)


def _sentences(canon: str) -> list[tuple[int, int]]:
    """The (start, end) of each sentence of a paragraph, its closing 。！？ included."""
    sentences = []
    start = 0
    for m in list(_SENTENCE_END.finditer(canon)) + [None]:
        end = m.end() if m else len(canon)
        if end > start:
            sentences.append((start, end))
        start = end
    return sentences


def clauses(para: Para, section: Section | None) -> tuple[list[Clause], list[tuple[int, int]]]:
    """The rulings of a paragraph, and the spans of all its sentences."""
    canon, found, sentences = para.canon, [], _sentences(para.canon)
    for s, e in sentences:
        holds = []
        for h in _HOLD.finditer(canon, s, e):
            holders, unknown = levels(h.group("holder"))
            if holders and not unknown:
                holds.append((h, holders))
        clause_start = s
        for k, (h, holders) in enumerate(holds):
            bound = holds[k + 1][0].start() if k + 1 < len(holds) else e
            rest = canon[h.end() : bound]
            payer_end, stated = _payer_extent(rest)
            end = payer_end
            while True:
                more = re.match(r"，([^，；。]*)", rest[end:])
                if not more or not (_TRAILER.search(more.group(1)) or _SHARE_HINT.search(more.group(1))):
                    break
                end += more.end()
            if k + 1 < len(holds):
                clause_end = h.end() + end
                if clause_end < e and canon[clause_end] in "，；":
                    clause_end += 1
            else:
                clause_end = e
            quote_span = (s, e) if len(holds) == 1 else (clause_start, clause_end)
            payers, _ = levels(rest[:payer_end]) if stated else ([], 0)
            shared = bool(h.group("shared"))
            members = payers if len(payers) >= 2 else holders
            sharing = shared or len(payers) >= 2
            shares, share_note = _shares(canon[h.end() : h.end() + end], members) if sharing else (None, None)
            found.append(
                Clause(
                    section=section,
                    para=para,
                    sentence=(s, e),
                    quote=para.text[quote_span[0] : quote_span[1]],
                    matter_canon=canon[clause_start : h.start()],
                    holders=holders,
                    shared=shared,
                    respective=not shared and len(holders) >= 2,
                    by_subordination=bool(h.group("pre")) or "隶属关系" in canon[clause_start : h.end()],
                    payers=payers,
                    payer_stated=stated and bool(payers),
                    shares=shares,
                    share_note=share_note,
                    holder_words=h.group("holder"),
                    payer_words=rest[:payer_end] if stated else "",
                )
            )
            clause_start = clause_end
    return found, sentences


# --------------------------------------------------------------------------------------------
# Rulings into holders and payers
# --------------------------------------------------------------------------------------------


def rulings(
    graph: Graph,
    clause: Clause,
    own_levels: list[URIRef],
    list_levels: list[URIRef],
    allowed: set[URIRef],
    plan_slug: str,
    matter: URIRef,
) -> list[tuple[URIRef, URIRef, URIRef]]:
    """(level, holder, payer) for each assignment a clause makes about one matter.

    Shared powers and joint payers are added to ``graph``. The level is the one the matter's own
    level words name (``own_levels``: 县区级专利奖励), else that of the first item of its list
    (``list_levels``), else the holder's (or each member's, for a shared power).
    """
    matter_slug = str(matter).rsplit("/", 1)[-1]

    def named(candidates: set[URIRef]) -> list[URIRef] | None:
        for stated in (own_levels, list_levels):
            if len(stated) == 1 and stated[0] in candidates:
                return stated
        return None

    if clause.shared:
        members = clause.holders if len(clause.holders) >= 2 else clause.payers
        out = []
        for level in named(set(members)) or members:
            level_slug = LEVEL_NAMES[level][0]
            power = mint("shared-power", plan_slug, matter_slug, level_slug)
            graph.add((power, RDF.type, SQ.SharedFiscalPower))
            graph.add((power, RDFS.label, Literal(f"{_level_list(members, 'zh')}共同财政事权", lang="zh")))
            en = f"shared fiscal power of the {_level_list(members, 'en')}"
            graph.add((power, RDFS.label, Literal(en, lang="en")))
            for member in members:
                graph.add((power, SQ.memberLevel, member))
            out.append((level, power, _payer(graph, clause, plan_slug, matter_slug, level_slug, members)))
        return out
    if clause.respective:
        payers = clause.payers if len(clause.payers) == len(clause.holders) else clause.holders
        return [(holder, holder, payer) for holder, payer in zip(clause.holders, payers)]
    holder = clause.holders[0]
    level = (named(allowed) or [holder])[0]
    if len(clause.payers) >= 2:
        level_slug = LEVEL_NAMES[level][0]
        return [(level, holder, _payer(graph, clause, plan_slug, matter_slug, level_slug, clause.payers))]
    payer = clause.payers[0] if clause.payers else holder
    return [(level, holder, payer)]


def _payer(
    graph: Graph, clause: Clause, plan_slug: str, matter_slug: str, level_slug: str, members: list[URIRef]
) -> URIRef:
    """The payer of a shared ruling: one level when the plan names one, else a joint payer with its shares."""
    payers = clause.payers if clause.payers else members
    if len(payers) == 1:
        return payers[0]
    node = mint("joint-payer", plan_slug, matter_slug, level_slug)
    graph.add((node, RDF.type, SQ.JointPayer))
    for member in payers:
        graph.add((node, SQ.memberLevel, member))
    shares = clause.shares or {}
    stated_zh = "、".join(f"{LEVEL_NAMES[lv][1]}{shares[lv]}%" for lv in payers if lv in shares)
    stated_en = ", ".join(f"{LEVEL_NAMES[lv][2]} {shares[lv]} %" for lv in payers if lv in shares)
    zh = f"{_level_list(payers, 'zh')}共同承担" + (f"（{stated_zh}）" if stated_zh else "")
    en = f"joint payer: the {_level_list(payers, 'en')}" + (f" ({stated_en})" if stated_en else "")
    graph.add((node, RDFS.label, Literal(zh, lang="zh")))
    graph.add((node, RDFS.label, Literal(en, lang="en")))
    for level, percentage in shares.items():
        share = mint("payment-share", plan_slug, matter_slug, level_slug, LEVEL_NAMES[level][0])
        graph.add((node, SQ.share, share))
        graph.add((share, RDF.type, SQ.PaymentShare))
        graph.add((share, SQ.shareLevel, level))
        graph.add((share, SQ.percentage, Literal(percentage, datatype=XSD.decimal)))
    if clause.share_note:
        note(
            graph, node,
            f"The plan states cost-sharing figures ({clause.share_note}) that could not be read as one share per "
            "payer level adding up to 100 %; no shares are recorded.",
            f"方案载有分担比例（{clause.share_note}），但无法读作各承担层级合计100%的份额，故未记录分担比例。",
        )
    return node
