"""Read a fiscal-power division plan (财政事权和支出责任划分改革方案) from its text into the Shiquan vocabulary.

``read_text`` decodes the bytes of a plan (UTF-8, else GB18030); ``extract`` turns the text into a
graph: the plan with its metadata and source text, the notice that issues it, its numbered
provisions, and one ``sq:Assignment`` per matter and level that its rulings state, each quoting
its sentence (whitespace removed). What the text leaves out can be supplied with ``overrides``;
matters, categories, fields, divisions, bodies and plans already in ``known`` are reused.

The reading is a set of rules for the genre, not a general parser; see ``extract`` for what it
understands. Every sentence of the main content that yields no assignment is reported in
``Extraction.uncovered`` with its line, so nothing is dropped silently.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any

from pypinyin import Style, lazy_pinyin
from rdflib import RDF, RDFS, XSD, Graph, Literal, URIRef
from rdflib.namespace import DCTERMS, SKOS

from shiquan.errors import BadInput
from shiquan.vocab import ID, PREFIXES, SEGMENT_RE, SQ, mint

with warnings.catch_warnings():
    # jieba 0.42 imports pkg_resources, which recent setuptools deprecate with a warning at import time.
    warnings.filterwarnings("ignore", message=".*pkg_resources.*")
    import jieba

jieba.setLogLevel(logging.WARNING)  # jieba logs each dictionary load at DEBUG to stderr
_SEGMENTER = jieba.Tokenizer()

__all__ = ["Extraction", "OVERRIDE_KEYS", "extract", "read_text", "slug"]

OVERRIDE_KEYS = ("document_number", "title", "date", "issuer", "jurisdiction", "level_pair", "field")

# --------------------------------------------------------------------------------------------
# Decoding
# --------------------------------------------------------------------------------------------

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_ODD = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ue000-\uf8ff\ufffd]")


def read_text(data: bytes) -> str:
    """Decode the bytes of a plan: UTF-8 (a byte-order mark is dropped), else GB18030.

    GB18030 is accepted only when the decoded text reads as Chinese: it has Chinese
    characters and no control or private-use characters, which is how other encodings
    that happen to decode show themselves.
    Raises BadInput when the bytes are neither.
    """
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as utf8_error:
        first_bad = utf8_error.start
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        text = None
    if text is not None and _CJK.search(text) and not _ODD.search(text):
        return text
    line = data[:first_bad].count(b"\n") + 1
    raise BadInput(f"the text is neither UTF-8 nor GB18030 (first byte that is not UTF-8: {first_bad})", None, line)


# --------------------------------------------------------------------------------------------
# Slugs
# --------------------------------------------------------------------------------------------


def slug(text: str) -> str:
    """A readable IRI segment for a Chinese phrase: the pinyin of each word, words joined by '-'.

    Words come from jieba's dictionary (专利奖励 → zhuanli-jiangli); ü is written v; Latin letters
    and digits are kept, lower-cased; punctuation is dropped. Returns "" for a phrase with
    nothing to spell.
    """
    parts = []
    for word in _SEGMENTER.lcut(text, HMM=False):
        spelt = "".join(lazy_pinyin(word, style=Style.NORMAL)).lower()
        spelt = re.sub(r"[^a-z0-9]", "", spelt)
        if spelt:
            parts.append(spelt)
    return "-".join(parts)


def _joined_pinyin(text: str) -> str:
    """The pinyin of a short name in one piece: 东政办 → dongzhengban, 海东 → haidong."""
    return re.sub(r"[^a-z0-9]", "", "".join(lazy_pinyin(text, style=Style.NORMAL)).lower())


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
    "盟市": F, "市州": F, "地市": F, "市级": F, "市本级": F, "州级": F, "盟级": F, "市": F, "州": F, "盟": F, "全市": F,
    "县区级以下": K, "县级以下": K, "县区级": K, "县区": K, "区县": K, "县市区": K, "旗县市区": K, "旗县市": K,
    "旗县区": K, "旗县": K, "县市": K, "县级": K, "区级": K, "县": K, "区": K, "旗": K, "全县": K,
    "乡镇": T, "乡级": T, "乡": T, "镇": T,
}
_LEVEL_TOKEN = re.compile("|".join(map(re.escape, sorted(LEVEL_WORDS, key=len, reverse=True))))
_LEVEL_PARENS = re.compile(r"（[市州县区旗盟乡镇、]{1,6}）")
_LEVEL_FILLER = set("与和、及其的各级政府人民财政本以下共同分别均由并")


def _levels(text: str) -> tuple[list[URIRef], int]:
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


def _pair_levels(pair: str) -> list[URIRef]:
    """The levels a plan's wording of its level pair names: 市与县区 → city, county; 省以下 → province, 市县."""
    pair = pair.translate(_CANON)
    if pair.endswith("以下"):
        top, _ = _levels(pair[:-2])
        below = {C: LOCAL, P: PC, F: K}
        if len(top) == 1 and top[0] in below:
            return [top[0], below[top[0]]]
        return []
    levels: list[URIRef] = []
    for side in re.split(r"与|和", pair):
        found, unknown = _levels(side)
        if unknown or not found:
            return []
        levels += [lv for lv in found if lv not in levels]
    return levels if len(levels) >= 2 else []


# --------------------------------------------------------------------------------------------
# Text into paragraphs
# --------------------------------------------------------------------------------------------

# Half-width punctuation, full-width digits and the ratio sign, each replaced by one character,
# so that positions in the canonical text are positions in the printed text.
_CANON = str.maketrans(
    {",": "，", ";": "；", ":": "：", "(": "（", ")": "）", "?": "？", "!": "！", "∶": "：", "％": "%", "．": ".",
     **{chr(0xFF10 + d): str(d) for d in range(10)}}
)
_WS = re.compile(r"\s+")
_TERMINAL = set("。！？；：")
_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_MARKERS = [
    ("A", re.compile(r"([一二三四五六七八九十]{1,3})、")),
    ("B", re.compile(r"（([一二三四五六七八九十]{1,3})）")),
    ("C", re.compile(r"(\d{1,2})[.、](?!\d)")),
    ("D", re.compile(r"（(\d{1,2})）")),
    ("E", re.compile(rf"([{_CIRCLED}])")),
]
_RANK = {"A": 1, "B": 2, "C": 3, "D": 4, "E": 5}
_DATE = r"(\d{4}|[〇零一二三四五六七八九]{4})年([\d一二三四五六七八九十]{1,3})月([\d一二三四五六七八九十]{1,3})日"
_DATE_LINE = re.compile(rf"^{_DATE}(印发)?$")
_TAIL = re.compile(r"^(抄送|抄报|是否宜公开|公开方式|公开属性|附件|（此件|此件|联系人|（联系人)")
_SIGNATURE = re.compile(r"(人民政府|办公室|办公厅|委员会|政府)$")


def _cn_number(text: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十三 → 23; Arabic digits and circled numbers too."""
    if text.isdigit():
        return int(text)
    if text in _CIRCLED:
        return _CIRCLED.index(text) + 1
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)
    return _CN_DIGITS[text]


@dataclass
class Para:
    """A paragraph with whitespace removed: its printed text, its canonical text and each character's line."""

    text: str
    canon: str
    lines: list[int]
    index: int = 0

    def cut(self, start: int, end: int | None = None) -> Para:
        return Para(self.text[start:end], self.canon[start:end], self.lines[start:end], self.index)


def _marker(canon: str) -> tuple[str, int, int, str] | None:
    """The numbering a paragraph opens with: (kind, number, length of the marker, numeral as printed)."""
    for kind, pattern in _MARKERS:
        m = pattern.match(canon)
        if m:
            return kind, _cn_number(m.group(1)), m.end(), m.group(1)
    return None


def _is_plain_line(canon: str, limit: int = 60) -> bool:
    """A short line without sentence punctuation: a heading, title, name or date."""
    return len(canon) <= limit and not re.search(r"[，。；、！？]", canon)


def _paragraphs(text: str) -> list[Para]:
    """Lines joined into paragraphs, rejoining words and sentences broken across lines or pages.

    A line continues the previous one unless the previous one is closed: it ends a sentence, is
    a numbered heading, or (before the first numbered section) is a standalone line such as
    the title, the document number or the date. A line that opens with a number, a date or
    the tail of the document (抄送 …) always starts a paragraph.
    """
    paras: list[Para] = []
    seen_marker = False
    for number, line in enumerate(text.splitlines(), 1):
        compact = _WS.sub("", line)
        if not compact:
            continue
        canon = compact.translate(_CANON)
        opens = _marker(canon) is not None or _DATE_LINE.match(canon) or _TAIL.match(canon)
        if paras and not opens:
            prev = paras[-1]
            head = _marker(prev.canon)
            closed = (
                prev.canon[-1] in _TERMINAL
                or (head is not None and _is_plain_line(prev.canon[head[2]:], 40))
                or (not seen_marker and _is_plain_line(prev.canon))
            )
            if not closed or canon[0] in "，、；：）":
                prev.text += compact
                prev.canon += canon
                prev.lines += [number] * len(compact)
                continue
        paras.append(Para(compact, canon, [number] * len(compact), len(paras)))
        if _marker(canon):
            seen_marker = True
    return paras


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------

_MARKER_LABEL = {"A": "{}", "B": "（{}）", "C": "{}.", "D": "（{}）", "E": "{}"}
_CONTAINER_TITLE = re.compile(r"主要内容|主要任务|具体内容|改革内容|划分|总体|基本原则|事项清单")
_SAFEGUARD_TITLE = re.compile(r"保障|组织实施")


@dataclass
class Section:
    """A numbered part of the plan, with its title and the paragraphs of its own body."""

    kind: str | None
    number: int
    label: str
    parent: Section | None
    title: str | None = None
    line: int = 0
    paras: list[Para] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)

    @property
    def chain(self) -> list[Section]:
        """This section and its ancestors, outermost first, without the root."""
        out, node = [], self
        while node is not None and node.kind is not None:
            out.append(node)
            node = node.parent
        return out[::-1]

    @property
    def section_number(self) -> str:
        return "".join(s.label for s in self.chain)

    @property
    def path(self) -> str:
        return "-".join(str(s.number) for s in self.chain)

    def walk(self) -> Iterable[Section]:
        yield self
        for child in self.children:
            yield from child.walk()


def _split_title(para: Para, marker_end: int) -> tuple[str | None, Para | None]:
    """The title of a numbered paragraph and the rest of its body.

    A short marker line without sentence punctuation is a heading; otherwise a short phrase
    closed by 。 or ： right after the number is an inline title (（一）知识产权保护。…).
    """
    rest = para.cut(marker_end)
    if not rest.canon:
        return None, None
    if _is_plain_line(rest.canon, 40):
        return rest.text.rstrip("：:"), None
    m = re.match(r"([^，。；：、]{1,20})[。：]", rest.canon)
    if m and "确认为" not in m.group(1):
        body = rest.cut(m.end())
        return rest.text[: m.end() - 1], (body if body.canon else None)
    return None, rest


def _sections(paras: list[Para]) -> Section:
    root = Section(None, 0, "", None)
    stack = [root]
    for para in paras:
        head = _marker(para.canon)
        if head is None:
            stack[-1].paras.append(para)
            continue
        kind, number, end, numeral = head
        while len(stack) > 1 and _RANK[stack[-1].kind] >= _RANK[kind]:
            stack.pop()
        label = _MARKER_LABEL[kind].format(numeral)
        section = Section(kind, number, label, stack[-1], line=para.lines[0])
        section.title, body = _split_title(para, end)
        if body is not None:
            section.paras.append(body)
        stack[-1].children.append(section)
        stack.append(section)
    return root


# --------------------------------------------------------------------------------------------
# Rulings
# --------------------------------------------------------------------------------------------

_VERB = r"(?:确认为|确定为|明确为|界定为|认定为|列为|划为)"
_HOLD = re.compile(
    rf"(?P<pre>(?:按照?|根据|依)隶属关系，?)?(?P<resp>分别|均|统一)?{_VERB}(?P<holder>[^，；。：]{{1,24}}?)(?P<shared>共同)?的?财政事权"
)
_TRAILER = re.compile(r"转移支付|给予支持|予以支持|给予补助|给予适当|奖补|补助|统筹")
_SHARE_HINT = re.compile(r"\d+(?:\.\d+)?(?:%|：\d)")
_SHARE_TOKEN = re.compile(rf"(?P<ratio>\d+(?:\.\d+)?(?:：\d+(?:\.\d+)?)+)|(?P<pct>\d+(?:\.\d+)?)%|(?P<lvl>{_LEVEL_TOKEN.pattern})")
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


def _clauses(para: Para, section: Section | None) -> tuple[list[Clause], list[tuple[int, int]]]:
    """The rulings of a paragraph, and the spans of all its sentences."""
    canon, clauses, sentences = para.canon, [], []
    start = 0
    for m in list(_SENTENCE_END.finditer(canon)) + [None]:
        end = m.end() if m else len(canon)
        if end > start:
            sentences.append((start, end))
        start = end
    for s, e in sentences:
        holds = []
        for h in _HOLD.finditer(canon, s, e):
            levels, unknown = _levels(h.group("holder"))
            if levels and not unknown:
                holds.append((h, levels))
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
            payers, _ = _levels(rest[:payer_end]) if stated else ([], 0)
            shared = bool(h.group("shared"))
            members = payers if len(payers) >= 2 else holders
            shares, note = _shares(canon[h.end() : h.end() + end], members) if (shared or len(payers) >= 2) else (None, None)
            clauses.append(
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
                    share_note=note,
                )
            )
            clause_start = clause_end
    return clauses, sentences


# --------------------------------------------------------------------------------------------
# Matters
# --------------------------------------------------------------------------------------------

_PREFIX_WORDS = [
    "县区级以下", "县级以下", "县（区）级", "县（区）", "市（州）级", "市（州）", "市州级", "市州", "市县级", "市县",
    "市本级", "省本级", "中央本级", "中央级", "县区级", "市级", "县级", "区级", "省级", "州级", "乡级", "乡镇级",
    "全省性", "全省", "全市", "全县", "各县区", "各县（区）", "县区", "区县", "旗县", "全国性",
]
_PREFIX_PLAN = {C: "中央", LOCAL: "地方(?![性标政组立特志])"}
_MID_LEVEL = re.compile(
    r"(?<![健完齐安周保成万十顾])全(?:市|省|县)"
    r"|(?:县区|县（区）|市（州）|市州|市县|县|区|市|省|州|乡镇|乡)级(?:以下|以上)?"
    r"|(?<![在于向到至从])(?:县区|县（区）|市县|区县)"
)
_TRAILING = re.compile(r"(?:等事项|等)$")
_ANAPHORA = re.compile(r"^(?:上述|以上|前述|前款|本款)")
_DEPARTMENTS = re.compile(r"(?:职能)?部门(?:及其?|和)?(?:所属|下属|直属)(?:机构|单位|事业单位)(?:承担|负责|实施)的(?:事项|事务|工作)")
_VERBS_BEFORE = ("开展", "组织", "推进", "推动", "实施", "做好", "加强")


def _key(text: str) -> str:
    """How phrases are compared: no whitespace, canonical punctuation."""
    return _WS.sub("", text).translate(_CANON)


@dataclass
class Phrase:
    """One matter as printed in a ruling, with its readings."""

    printed: str
    label: str
    variants: list[str]
    prefix_levels: list[URIRef]


class _Matters:
    """Split matter lists into matters and find or mint a sq:Matter for each."""

    def __init__(self, known: Graph, pair: list[URIRef]):
        self.index: dict[str, URIRef] = {}
        for node in known.subjects(RDF.type, SQ.Matter):
            for prop in (RDFS.label, SKOS.altLabel):
                for label in known.objects(node, prop):
                    if isinstance(label, Literal) and label.language == "zh":
                        self.index.setdefault(_key(str(label)), node)
        words = [re.escape(w) for w in sorted(_PREFIX_WORDS, key=len, reverse=True)]
        words += [_PREFIX_PLAN[lv] for lv in _covered_levels(pair) if lv in _PREFIX_PLAN]
        one = "(?:" + "|".join(words) + ")"
        self.prefix = re.compile(rf"^{one}(?:[和、与及]{one})*的?")
        self.split_mark = re.compile(rf"^(?:对|在|开展|组织|推动|指导)?{one}")

    def strip(self, phrase: str) -> tuple[str, list[URIRef]]:
        """The phrase without its leading level words, and the levels those words name."""
        m = self.prefix.match(phrase)
        if not m or m.end() == len(phrase):
            return phrase, []
        levels, _ = _levels(m.group())
        return phrase[m.end() :], levels

    def phrase(self, printed: str) -> Phrase | None:
        raw = _TRAILING.sub("", printed.strip("，、；：。"))
        lead, levels = self.strip(raw)
        label = _MID_LEVEL.sub("", lead)
        label = _TRAILING.sub("", label).strip("，、；：")
        if not label:
            return None
        variants = list(dict.fromkeys([label, lead, raw, printed]))
        return Phrase(printed, label, variants, levels)

    def lookup(self, phrase: Phrase) -> URIRef | None:
        for variant in phrase.variants:
            found = self.index.get(_key(variant))
            if found is not None:
                return found
        return None

    def split(self, text: str) -> list[Phrase]:
        """The matters a matter list names; a list that only refers back (上述事项) names none."""
        text = re.sub(r"^.*(?:^|，)将", "", text)
        text = re.sub(r"(?:，?(?:按照?|根据|依)隶属关系)?[，、；：]*$", "", text)
        phrases: list[Phrase] = []
        for piece in re.split(r"[，；]", text.translate(_CANON)):
            for item in self._split_enumeration(piece) if piece else []:
                phrase = None if _ANAPHORA.match(item) else self.phrase(item)
                if phrase is not None:
                    phrases.extend(self._split_known(phrase))
        return phrases

    def _split_enumeration(self, piece: str) -> list[str]:
        """Split at 、 only where the next item opens with level words of its own (…、市级专利奖励、…)."""
        items = piece.split("、")
        out = [items[0]]
        for item in items[1:]:
            if self.split_mark.match(item):
                out.append(item)
            else:
                out[-1] += "、" + item
        return out

    def _split_known(self, phrase: Phrase) -> list[Phrase]:
        """A phrase that is no known matter but joins known matters with 和, 及 or 、 becomes those matters."""
        if not self.index or self.lookup(phrase) is not None:
            return [phrase]
        label = phrase.label
        cuts = [i for i, ch in enumerate(label) if ch in "和及、"][:10]

        def parts_from(start: int) -> list[str] | None:
            if self.index.get(_key(label[start:])) is not None:
                return [label[start:]]
            for cut in cuts:
                if cut > start and self.index.get(_key(label[start:cut])) is not None:
                    rest = parts_from(cut + 1)
                    if rest:
                        return [label[start:cut], *rest]
            return None

        parts = parts_from(0)
        if not parts or len(parts) < 2:
            return [phrase]
        return [Phrase(phrase.printed, part, [part], phrase.prefix_levels) for part in parts]


# --------------------------------------------------------------------------------------------
# Metadata
# --------------------------------------------------------------------------------------------

_DOCNUM = re.compile(r"(?P<prefix>[\u4e00-\u9fff]{1,10}?)[〔\[［【（]\s*(?P<year>(?:19|20)\d{2})\s*[〕\]］】）]\s*第?(?P<num>\d{1,5})\s*号")
_DOCNUM_STRICT = re.compile(r"^[^\s〔〕]+〔[0-9]{4}〕[1-9][0-9]*号$")
_CITATION = re.compile(r"《(?P<title>[^》]{4,120})》（(?P<docnum>[^）]{4,30})）")
_PLAN_TITLE = re.compile(r"^[^，。：；《》]*财政事权[^，。：；《》]*(?:方案|意见|办法)$")
_NOTICE_TITLE = re.compile(r"^(?P<issuer>[\u4e00-\u9fff]*?)关于(?:印发|转发)(?P<what>[^，。：；]+?)的通知$")
_PAIR_SIDE = "[中央地方省自治区市州盟县区旗乡镇（）、]"
_PAIR = re.compile(rf"(?P<pair>{_PAIR_SIDE}{{1,8}}?(?:与{_PAIR_SIDE}{{1,12}}?|以下))(?:政府)?(?:间)?财政事权")
_DIVISION_NAME = re.compile(
    r"^(?P<name>(?:(?!领域|与|财政|关于|知识产权)[\u4e00-\u9fff]){1,12}?(?:特别行政区|自治区|自治州|自治县|自治旗|省|市|地区|州|盟|县|区|旗))"
)
_DIVISION_STEM = re.compile(r"^(?P<stem>.+?)(?:[\u4e00-\u9fff]{1,2}族)*(?:自治区|自治州|自治县|自治旗|特别行政区|省|市|地区|州|盟|县|区|旗)$")
_BODY_SUFFIX = re.compile(r"(?:人民政府办公厅|人民政府办公室|人民政府|办公厅|办公室)$")


def _document_number(text: str, *, cited: bool = True) -> tuple[str, str, str, str] | None:
    """The first 文号 in ``text``, normalised to X〔YYYY〕N号, with its prefix, year and number.

    With ``cited`` false, a number in parentheses (a citation such as 《…》（青政〔2024〕36号）) is passed over.
    """
    canon = text.translate(_CANON)
    for m in _DOCNUM.finditer(canon):
        if not cited and m.start() > 0 and canon[m.start() - 1] == "（":
            continue
        prefix, year, num = m.group("prefix"), m.group("year"), str(int(m.group("num")))
        return f"{prefix}〔{year}〕{num}号", prefix, year, num
    return None


def _parse_date(text: str) -> dt.date | None:
    m = re.search(_DATE, text)
    if not m:
        return None

    def number(part: str) -> int:
        if part.isdigit():
            return int(part)
        if len(part) == 4 and all(ch in _CN_DIGITS for ch in part):
            return int("".join(str(_CN_DIGITS[ch]) for ch in part))
        return _cn_number(part)

    try:
        return dt.date(number(m.group(1)), number(m.group(2)), number(m.group(3)))
    except (ValueError, KeyError):
        return None


def _division_name(text: str) -> str | None:
    m = _DIVISION_NAME.match(text)
    return m.group("name") if m else None


def _division_slug(name: str) -> str:
    if name in ("中华人民共和国", "中国", "全国"):
        return "china"
    return _joined_pinyin(_division_stem(name))


def _division_stem(name: str) -> str:
    """海东市 → 海东, 民和回族土族自治县 → 民和, 内蒙古自治区 → 内蒙古."""
    m = _DIVISION_STEM.match(name)
    return m.group("stem") if m else name


def _division_level(name: str, fallback: URIRef | None) -> URIRef | None:
    if name in ("中华人民共和国", "中国", "全国"):
        return C
    for suffix, level in (("省", P), ("自治区", P), ("特别行政区", P), ("市", F), ("州", F), ("盟", F), ("地区", F),
                          ("县", K), ("区", K), ("旗", K)):
        if name.endswith(suffix):
            return fallback if (suffix == "市" and fallback == P) else level
    return fallback


def _body_slug(name: str) -> str:
    """海东市人民政府办公室 → haidong-shi-renminzhengfu-bangongshi: the place in one piece, then the words of the rest."""
    place = _division_name(name)
    if not place or place == name:
        return slug(name)
    stem = _division_stem(place)
    return "-".join(part for part in (_joined_pinyin(stem), slug(name[len(stem) :])) if part)


def _pair_in(text: str) -> str | None:
    """A plan's wording of its level pair in ``text``: 市与县区, 省与市（州）县, 中央与地方, 省以下 …"""
    text = text.translate(_CANON)
    anchored = re.search(rf"领域{_PAIR.pattern}", text)
    for m in ([anchored] if anchored else []) + list(_PAIR.finditer(text)):
        pair = m.group("pair")
        while len(pair) > 3 and pair[0] == pair[1]:  # 青海省省以下 → 省以下
            pair = pair[1:]
        if _pair_levels(pair):
            return pair
    return None


def _field_in(title: str, jurisdiction: str | None) -> str | None:
    if jurisdiction and title.startswith(jurisdiction):
        title = title[len(jurisdiction) :]
    m = re.match(r"^([\u4e00-\u9fff]{2,12}?)领域", title)
    return m.group(1) if m else None


# --------------------------------------------------------------------------------------------
# The graph
# --------------------------------------------------------------------------------------------


@dataclass
class Extraction:
    """What ``extract`` read from a plan.

    ``graph`` holds the plan in the project's vocabulary (instance IRIs minted by
    ``vocab.mint``, no blank nodes), without repeating what ``known`` already says;
    ``plan`` is the plan's IRI; ``uncovered`` lists (line, sentence) for each sentence of
    the main content that became no assignment.
    """

    graph: Graph
    plan: URIRef
    uncovered: list[tuple[int, str]] = field(default_factory=list)


class _Builder:
    """Adds resources to the output graph, minting IRIs that neither clash with ``known`` nor with each other."""

    def __init__(self, known: Graph):
        self.known = known
        self.graph = Graph()
        for prefix, ns in PREFIXES.items():
            self.graph.bind(prefix, ns)
        self.by_label: dict[tuple[URIRef, str], URIRef] = {}
        for kind in (SQ.MatterCategory, SQ.PolicyField, SQ.AdministrativeDivision, SQ.Body):
            for node in known.subjects(RDF.type, kind):
                for prop in (RDFS.label, SKOS.altLabel):
                    for label in known.objects(node, prop):
                        if isinstance(label, Literal) and label.language == "zh":
                            self.by_label.setdefault((kind, _key(str(label))), node)
        self.plans_by_number = {
            str(num): plan for plan, num in known.subject_objects(SQ.documentNumber) if (plan, RDF.type, SQ.Plan) in known
        }

    def fresh(self, kind: str, base: str, *more: str) -> URIRef:
        """A minted IRI ``kind/base/…`` not yet used in ``known`` or the output (a number is added when it is)."""
        base = base or kind
        candidate, n = mint(kind, base, *more), 1
        while (candidate, None, None) in self.known or (candidate, None, None) in self.graph:
            n += 1
            candidate = mint(kind, f"{base}-{n}", *more)
        return candidate

    def named(self, kind: URIRef, type_slug: str, label: str, extra: Mapping[URIRef, Any] | None = None, iri_slug: str | None = None) -> URIRef:
        """The known or already minted resource of ``kind`` labelled ``label``, else a new one."""
        key = (kind, _key(label))
        if key in self.by_label:
            return self.by_label[key]
        node = self.fresh(type_slug, iri_slug or (_body_slug(label) if kind == SQ.Body else slug(label)))
        self.graph.add((node, RDF.type, kind))
        self.graph.add((node, RDFS.label, Literal(label, lang="zh")))
        for prop, value in (extra or {}).items():
            if value is not None:
                self.graph.add((node, prop, value))
        self.by_label[key] = node
        return node


def _note(graph: Graph, node: URIRef, en: str, zh: str) -> None:
    graph.add((node, SKOS.editorialNote, Literal(en, lang="en")))
    graph.add((node, SKOS.editorialNote, Literal(zh, lang="zh")))


def _level_list(levels: Iterable[URIRef], lang: str) -> str:
    names = [LEVEL_NAMES[lv][1 if lang == "zh" else 2] for lv in levels]
    return "与".join(names) if lang == "zh" else " and ".join(names)


def _check_overrides(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    unknown = sorted(set(given) - set(OVERRIDE_KEYS))
    if unknown:
        raise BadInput(f"unknown override {', '.join(unknown)}; use {', '.join(OVERRIDE_KEYS)}")
    if "document_number" in given:
        found = _document_number(str(given["document_number"]))
        if not found or not _DOCNUM_STRICT.match(found[0]):
            raise BadInput(f"document number {given['document_number']!r} is not of the form X〔YYYY〕N号")
    if "date" in given:
        value = given["date"]
        if isinstance(value, dt.date):
            pass
        else:
            try:
                given["date"] = dt.date.fromisoformat(str(value))
            except ValueError:
                parsed = _parse_date(str(value))
                if parsed is None:
                    raise BadInput(f"date {value!r} is neither YYYY-MM-DD nor YYYY年M月D日") from None
                given["date"] = parsed
    if "level_pair" in given and not _pair_levels(str(given["level_pair"])):
        raise BadInput(f"level pair {given['level_pair']!r} names no two levels (e.g. 市与县区, 中央与地方, 省以下)")
    return given


def extract(text: str, *, known: Graph | None = None, overrides: Mapping[str, Any] | None = None) -> Extraction:
    """Read a division plan's text into a graph in the Shiquan vocabulary.

    Understood: numbering 一、/（一）/1./(1)/①; categories as heading lines or inline titles
    (（一）知识产权保护。…); rulings "[将]…，[按照隶属关系][分别]确认为X财政事权，由X承担支出
    责任" for exclusive powers, "确认为X与Y共同财政事权，由X与Y共同承担…" for shared ones with
    or without ratios (6:4, 分别承担60%、40%, X承担60%，Y承担40%), several rulings in one
    sentence, and level pairs such as 中央与地方, 省与市县, 省与市（州）县, 市与县区, 市与县（区）,
    市与区 and 省以下, with 市县 and 地方 read as level groups. Matters lose their level words
    (市级, 县区级以下, 全市 …) and a trailing 等/等事项, and reuse a matter of ``known`` whose zh
    label or altLabel matches. A ruling by subordination for one level is carried to the other
    level when that level's paragraph in the same section rules its own departments' matters
    (flagged with a skos:editorialNote).

    ``overrides`` supplies or replaces metadata: document_number, title, date (YYYY-MM-DD or
    2024年12月31日), issuer, jurisdiction (a name such as 海东市, or a division IRI), level_pair
    (such as 市与县区) and field (such as 知识产权).

    Raises BadInput when the text states no ruling (it is not a plan of this genre), when a
    document number, title or level pair is neither in the text nor in ``overrides``, and for
    unknown or malformed overrides.
    """
    known = known if known is not None else Graph()
    given = _check_overrides(overrides)
    paras = _paragraphs(text)

    # Where the plan's own text begins: after its title line, else at its first numbered section.
    title_at = next((p.index for p in paras if _PLAN_TITLE.match(p.canon) and "关于" not in p.canon), None)
    first_marker = next((p.index for p in paras if _marker(p.canon)), None)
    body_start = title_at + 1 if title_at is not None else (first_marker if first_marker is not None else 0)
    tail_at = next((p.index for p in paras[body_start:] if p.index > body_start and (_TAIL.match(p.canon) or _DATE_LINE.match(p.canon))), len(paras))
    while tail_at - 1 > body_start and _is_plain_line(paras[tail_at - 1].canon, 30) and _SIGNATURE.search(paras[tail_at - 1].canon):
        tail_at -= 1
    body = paras[body_start:tail_at]
    body_first_marker = next((i for i, p in enumerate(body) if _marker(p.canon)), len(body))
    front = paras[:body_start] + body[:body_first_marker]
    root = _sections(body)

    # The rulings, section by section; the main content is every top-level part that has any.
    clauses: list[Clause] = []
    sentences: dict[int, tuple[Section | None, list[tuple[int, int]]]] = {}
    for section in root.walk():
        for para in section.paras:
            found, spans = _clauses(para, section if section.kind else None)
            clauses += found
            sentences[para.index] = (section, spans)
    if not clauses:
        raise BadInput(
            "no division rulings found: the text does not read as a 财政事权和支出责任划分 plan "
            "(no sentence such as '…，确认为市级财政事权，由市级承担支出责任。')"
        )

    # Metadata.
    builder = _Builder(known)
    graph = builder.graph
    front_text = [p.canon for p in front]
    notice_title = notice_issuer = notice_what = None
    # The notice's title: one line, else two lines that a break has parted.
    for width in (1, 2):
        for i in range(len(front) - width + 1):
            m = _NOTICE_TITLE.match("".join(front_text[i : i + width]))
            if m:
                notice_title = "".join(p.text for p in front[i : i + width])
                notice_issuer, notice_what = m.group("issuer") or None, m.group("what").strip("《》")
                break
        if notice_title:
            break

    docnum = None
    if "document_number" in given:
        docnum = _document_number(str(given["document_number"]))
    else:
        docnum = next((found for p in front if (found := _document_number(p.canon, cited=False))), None)
    if docnum is None:
        raise BadInput("no document number (文号 such as 东政办〔2024〕96号) in the text; supply overrides['document_number']")
    number, prefix, year, num = docnum

    title = given.get("title")
    if title is None:
        heading = paras[title_at].text if title_at is not None else None
        cited = next(
            (m.group(1) for p in front for m in re.finditer(r"《([^》]+)》", p.canon) if "印发" in p.canon and _PLAN_TITLE.match(m.group(1)) and "关于" not in m.group(1)),
            None,
        )
        title = heading or cited or notice_what
    if not title:
        raise BadInput("no title (a heading or 《…》 naming the plan) in the text; supply overrides['title']")
    title = _WS.sub("", str(title))

    pair_text = given.get("level_pair") or _pair_in(title) or (_pair_in(notice_title) if notice_title else None)
    if pair_text is None:
        for canon in front_text:
            pair_text = _pair_in(canon)
            if pair_text:
                break
    if pair_text is not None:
        pair = _pair_levels(str(pair_text))
    else:
        exclusive = []
        for clause in clauses:
            for level in clause.holders:
                if level not in exclusive:
                    exclusive.append(level)
        if len(exclusive) != 2:
            raise BadInput("no level pair (such as 市与县区) in the title or text; supply overrides['level_pair']")
        pair = sorted(exclusive, key=lambda lv: RANK[lv])
    pair = sorted(pair, key=lambda lv: RANK[lv])

    issuer_name = given.get("issuer") or notice_issuer
    if not issuer_name:
        for canon in front_text:
            m = re.match(r"^(.+?)文件$", canon)
            if m:
                issuer_name = m.group(1)
                break

    if not issuer_name:  # the signature above the date at the end
        issuer_name = next((p.text for p in paras[tail_at:] if _is_plain_line(p.canon, 30) and _SIGNATURE.search(p.canon)), None)

    date = given.get("date")
    if date is None:
        for para in front + paras[tail_at:]:
            if _DATE_LINE.match(para.canon):
                date = _parse_date(para.canon)
                if date:
                    break

    jurisdiction_name = None
    jurisdiction: URIRef | None = None
    if "jurisdiction" in given:
        value = str(given["jurisdiction"])
        if value.startswith(str(ID)):
            jurisdiction = URIRef(value)
        else:
            jurisdiction_name = value
    elif prefix.startswith("国") or pair[0] == C:
        jurisdiction_name = "中华人民共和国"
    else:
        jurisdiction_name = _division_name(title) or (_division_name(_BODY_SUFFIX.sub("", issuer_name)) if issuer_name else None)

    if jurisdiction is not None:
        jurisdiction_slug = str(jurisdiction).rsplit("/", 1)[-1]
    elif jurisdiction_name:
        jurisdiction_slug = _division_slug(jurisdiction_name)
        jurisdiction = builder.named(
            SQ.AdministrativeDivision, "division", jurisdiction_name,
            {SQ.level: _division_level(jurisdiction_name, pair[0])}, iri_slug=jurisdiction_slug,
        )
    else:
        jurisdiction_slug = ""
    plan_slug = "-".join(part for part in (jurisdiction_slug, _joined_pinyin(prefix), year, num) if part)
    if not SEGMENT_RE.match(plan_slug):
        raise BadInput(f"cannot spell a plan IRI from the document number {number!r}")
    plan = mint("plan", plan_slug)

    field_name = given.get("field") or _field_in(title, jurisdiction_name)
    policy_field = builder.named(SQ.PolicyField, "field", field_name) if field_name else None

    # The plan.
    graph.add((plan, RDF.type, SQ.Plan))
    graph.add((plan, DCTERMS.title, Literal(title, lang="zh")))
    graph.add((plan, SQ.documentNumber, Literal(number)))
    if date:
        graph.add((plan, DCTERMS.issued, Literal(date.isoformat(), datatype=XSD.date)))
    issuer = builder.named(SQ.Body, "body", _WS.sub("", issuer_name)) if issuer_name else None
    if issuer is not None:
        graph.add((plan, SQ.issuedBy, issuer))
    if jurisdiction is not None:
        graph.add((plan, SQ.jurisdiction, jurisdiction))
    for level in pair:
        graph.add((plan, SQ.dividesBetween, level))
    if pair_text:
        graph.add((plan, SQ.levelPair, Literal(str(pair_text), lang="zh")))
    if policy_field is not None:
        graph.add((plan, SQ.field, policy_field))
    source = mint("text", plan_slug)
    graph.add((plan, SQ.text, source))
    graph.add((source, RDF.type, SQ.SourceText))
    graph.add((source, DCTERMS.format, Literal("text/plain")))
    graph.add((source, DCTERMS.language, Literal("zh")))
    graph.add((source, SQ.content, Literal(text)))
    _note(
        graph, plan,
        "Extracted from the plan's text by shiquan extract; not yet checked by hand.",
        "由 shiquan extract 从方案原文自动抽取，尚未经人工核对。",
    )
    if notice_title:
        notice = mint("notice", plan_slug)
        graph.add((notice, RDF.type, SQ.Notice))
        graph.add((notice, DCTERMS.title, Literal(notice_title, lang="zh")))
        graph.add((notice, SQ.documentNumber, Literal(number)))
        graph.add((notice, SQ.transmits, plan))
        graph.add((notice, SQ.text, source))
        if date:
            graph.add((notice, DCTERMS.issued, Literal(date.isoformat(), datatype=XSD.date)))
        if issuer is not None:
            graph.add((notice, SQ.issuedBy, issuer))

    # The plans it implements, as cited in its preamble: 《…》（X〔YYYY〕N号）.
    for para in front:
        for m in _CITATION.finditer(para.canon):
            cited_number = _document_number(m.group("docnum"))
            if cited_number is None or cited_number[0] == number:
                continue
            parent = _cited_plan(builder, m.group("title"), cited_number, number)
            if parent is not None:
                graph.add((plan, SQ.basedOn, parent))

    # Provisions: every numbered part without sub-parts, in the order of the text.
    main_parts = [s for s in root.children if any(c.section is not None and c.section.chain[0] is s for c in clauses)]
    provisions: dict[int, URIRef] = {}
    order = 0
    ruled = {id(c.section) for c in clauses if c.section is not None}
    categories: dict[int, URIRef | None] = {}
    for section in root.walk():
        if section.kind is None or (section.children and id(section) not in ruled):
            continue
        order += 1
        node = mint("provision", plan_slug, section.path)
        provisions[id(section)] = node
        top = section.chain[0]
        is_safeguard = top not in main_parts and top.title and _SAFEGUARD_TITLE.search(top.title) and section is not top
        graph.add((node, RDF.type, SQ.SafeguardMeasure if is_safeguard else SQ.Provision))
        graph.add((node, SQ.provisionOf, plan))
        graph.add((node, SQ.sectionNumber, Literal(section.section_number)))
        graph.add((node, SQ.order, Literal(order)))
        if section.title:
            graph.add((node, DCTERMS.title, Literal(section.title, lang="zh")))
        if id(section) in ruled:
            category = _category(builder, section, policy_field, field_name)
            categories[id(section)] = category
            graph.add((node, SQ.category, category))
        elif section.paras:
            graph.add((node, DCTERMS.description, Literal("".join(p.text for p in section.paras), lang="zh")))

    # Assignments.
    matters = _Matters(known, pair)
    assigned: dict[tuple[URIRef, URIRef], URIRef] = {}
    covered: set[tuple[int, int]] = set()
    clause_matters: list[list[tuple[URIRef, Phrase]]] = []

    def new_matter(phrase: Phrase, section: Section | None) -> URIRef:
        node = builder.fresh("matter", slug(phrase.label) or "shixiang")
        graph.add((node, RDF.type, SQ.Matter))
        graph.add((node, RDFS.label, Literal(phrase.label, lang="zh")))
        category = categories.get(id(section)) if section is not None else None
        graph.add((node, SQ.category, category or _category(builder, section, policy_field, field_name)))
        matters.index[_key(phrase.label)] = node
        return node

    def note_wording(node: URIRef, phrase: Phrase) -> None:
        """Keep another wording of a matter minted here (开展X beside X) as its skos:altLabel."""
        if (node, RDF.type, SQ.Matter) not in graph:
            return
        wording = phrase.label
        labels = {_key(str(o)) for p in (RDFS.label, SKOS.altLabel) for o in graph.objects(node, p)}
        if _key(wording) not in labels:
            graph.add((node, SKOS.altLabel, Literal(wording, lang="zh")))
            matters.index.setdefault(_key(wording), node)

    def add_assignment(clause: Clause, matter: URIRef, level: URIRef, holder: URIRef, payer: URIRef, quote: str) -> URIRef | None:
        if (matter, level) in assigned:
            return None
        matter_slug = str(matter).rsplit("/", 1)[-1]
        if not SEGMENT_RE.match(matter_slug):
            matter_slug = slug(str(known.value(matter, RDFS.label) or "")) or "shixiang"
        node = mint("assignment", plan_slug, matter_slug, LEVEL_NAMES[level][0])
        graph.add((node, RDF.type, SQ.Assignment))
        graph.add((node, SQ.statedIn, plan))
        graph.add((node, SQ.matter, matter))
        graph.add((node, SQ.level, level))
        graph.add((node, SQ.fiscalPowerHolder, holder))
        graph.add((node, SQ.payer, payer))
        if clause.section is not None and id(clause.section) in provisions:
            graph.add((node, SQ.provision, provisions[id(clause.section)]))
        graph.add((node, SQ.sourceText, Literal(quote)))
        if clause.by_subordination:
            graph.add((node, SQ.bySubordination, Literal(True)))
        assigned[(matter, level)] = node
        return node

    for clause in clauses:
        phrases = matters.split(clause.matter_canon)
        # Items without level words of their own take those of the first item (市级A，B，…).
        first = phrases[0].prefix_levels if phrases else []
        list_level = first if len(first) == 1 else []
        found: list[tuple[URIRef, Phrase]] = []
        twins: list[tuple[URIRef, Phrase, Phrase]] = []
        for phrase in phrases:
            node = matters.lookup(phrase)
            twin = next(((n, p) for n, p in found if n == node), None) if node is not None else None
            if twin is None:  # 开展X beside X in one list names X twice
                twin = next(((n, p) for n, p in found if any(phrase.label == v + p.label for v in _VERBS_BEFORE)), None)
            if twin is not None:
                twins.append((twin[0], twin[1], phrase))
                note_wording(twin[0], phrase)
                continue
            if node is None:
                node = new_matter(phrase, clause.section)
            note_wording(node, phrase)
            found.append((node, phrase))
        clause_matters.append(found)
        made: dict[URIRef, list[URIRef]] = {}
        for node, phrase in found:
            for level, holder, payer in _rulings(graph, clause, phrase, list_level, _covered_levels(pair), plan_slug, node):
                assignment = add_assignment(clause, node, level, holder, payer, clause.quote)
                if assignment is None:
                    earlier = assigned[(node, level)]
                    if (earlier, SQ.sourceText, Literal(clause.quote)) not in graph:
                        _note(
                            graph, earlier,
                            f"The plan rules this matter at this level again, in the sentence at line {clause.para.lines[clause.sentence[0]]}: "
                            f"{clause.quote} Only the first ruling is recorded.",
                            f"方案在第{clause.para.lines[clause.sentence[0]]}行再次就本事项在该层级作出划分：{clause.quote}此处仅记录首次划分。",
                        )
                    continue
                made.setdefault(node, []).append(assignment)
                if not clause.payer_stated:
                    _note(
                        graph, assignment,
                        "The plan names no payer for this ruling; by the principle that whoever holds the fiscal power pays, the holder is recorded as payer.",
                        "方案未载明本项支出责任由谁承担；按“谁的财政事权谁承担支出责任”的原则，记为财政事权归属方。",
                    )
        for node, first, second in twins:
            for assignment in made.get(node, []):
                _note(
                    graph, assignment,
                    f"The sentence names this matter twice ({first.printed} and {second.printed}); it is one matter and one assignment.",
                    f"该句两次列出本事项（“{first.printed}”与“{second.printed}”），记为一个事项、一项划分。",
                )
        if made:
            covered.add((clause.para.index, clause.sentence[0]))

    if not assigned:
        where = "; ".join(f"line {clause.para.lines[clause.sentence[0]]}: {clause.quote}" for clause in clauses[:3])
        raise BadInput(f"division rulings found, but none names a matter that could be read ({where})")

    # A ruling by subordination for one level reaches the other level through that level's
    # ruling on the matters of its own departments, in the same section.
    for clause, found in zip(clauses, clause_matters):
        if not clause.by_subordination or clause.shared or not found:
            continue
        ruled_levels = set(clause.holders)
        for other in clauses:
            if other.section is not clause.section or other.shared or other.respective or len(other.holders) != 1:
                continue
            level = other.holders[0]
            if level in ruled_levels or level not in _covered_levels(pair) or not _DEPARTMENTS.search(other.matter_canon):
                continue
            payer = other.payers[0] if len(other.payers) == 1 else level
            for node, _phrase in found:
                added = add_assignment(other, node, level, level, payer, other.quote)
                if added is None:
                    continue
                graph.add((added, SQ.bySubordination, Literal(True)))
                first = "、".join(LEVEL_NAMES[lv][1] for lv in clause.holders)
                first_en = " and ".join(LEVEL_NAMES[lv][2] for lv in clause.holders)
                zh, en = LEVEL_NAMES[level][1], LEVEL_NAMES[level][2]
                _note(
                    graph, added,
                    f"Interpretation: the plan rules this matter 按照隶属关系 (by subordination) only for the {first_en}; "
                    f"the {en} paragraph of the same section rules that matters undertaken by {en} functional departments and "
                    f"the institutions under them are {en} powers paid by the {en}. Read together by subordination, the {en} "
                    f"instance of this matter is a {en} power. The quote is the {en} sentence.",
                    f"解读：方案仅在{first}段落中将本事项“按照隶属关系”确认为{first}财政事权；同一条款的{zh}段落规定{zh}职能部门及所属机构"
                    f"承担的事项为{zh}财政事权、由{zh}承担支出责任。按隶属关系合并理解，本事项在{zh}层级为{zh}财政事权。摘录为{zh}段落原句。",
                )

    # Coverage: every sentence of the main content that became no assignment.
    uncovered: list[tuple[int, str]] = []
    ruling_roots = [p.index for p in root.paras if any(c.para.index == p.index for c in clauses)]
    for section in [root, *main_parts]:
        for part in section.walk() if section.kind else [root]:
            for para in part.paras:
                if part.kind is None and not (ruling_roots and ruling_roots[0] <= para.index <= ruling_roots[-1]):
                    continue
                for s, e in sentences.get(para.index, (None, []))[1]:
                    if (para.index, s) not in covered and para.text[s:e].strip("。；，"):
                        uncovered.append((para.lines[s], para.text[s:e]))
    uncovered.sort()
    return Extraction(graph, plan, uncovered)



def _covered_levels(pair: list[URIRef]) -> set[URIRef]:
    """The levels a plan divides between and those its level groups include."""
    out = set(pair)
    if LOCAL in out:
        out |= {P, F, K, T}
    if PC in out:
        out |= {F, K}
    return out


def _rulings(
    graph: Graph, clause: Clause, phrase: Phrase, list_levels: list[URIRef], allowed: set[URIRef], plan_slug: str, matter: URIRef
) -> list[tuple[URIRef, URIRef, URIRef]]:
    """(level, holder, payer) for each assignment a clause makes about one matter; shared powers and joint payers are added to ``graph``.

    The level is the one the matter's own level words name (县区级专利奖励), else that of the first
    item of its list, else the holder's (or each member's, for a shared power).
    """
    matter_slug = str(matter).rsplit("/", 1)[-1]

    def named(candidates: set[URIRef]) -> list[URIRef] | None:
        for levels in (phrase.prefix_levels, list_levels):
            if len(levels) == 1 and levels[0] in candidates:
                return levels
        return None

    if clause.shared:
        members = clause.holders if len(clause.holders) >= 2 else clause.payers
        levels = named(set(members)) or members
        out = []
        for level in levels:
            level_slug = LEVEL_NAMES[level][0]
            power = mint("shared-power", plan_slug, matter_slug, level_slug)
            graph.add((power, RDF.type, SQ.SharedFiscalPower))
            graph.add((power, RDFS.label, Literal(f"{_level_list(members, 'zh')}共同财政事权", lang="zh")))
            graph.add((power, RDFS.label, Literal(f"shared fiscal power of the {_level_list(members, 'en')}", lang="en")))
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
        return [(level, holder, _payer(graph, clause, plan_slug, matter_slug, LEVEL_NAMES[level][0], clause.payers))]
    payer = clause.payers[0] if clause.payers else holder
    return [(level, holder, payer)]


def _payer(graph: Graph, clause: Clause, plan_slug: str, matter_slug: str, level_slug: str, members: list[URIRef]) -> URIRef:
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
    graph.add((node, RDFS.label, Literal(f"{_level_list(payers, 'zh')}共同承担" + (f"（{stated_zh}）" if stated_zh else ""), lang="zh")))
    graph.add((node, RDFS.label, Literal(f"joint payer: the {_level_list(payers, 'en')}" + (f" ({stated_en})" if stated_en else ""), lang="en")))
    for level, percentage in shares.items():
        share = mint("payment-share", plan_slug, matter_slug, level_slug, LEVEL_NAMES[level][0])
        graph.add((node, SQ.share, share))
        graph.add((share, RDF.type, SQ.PaymentShare))
        graph.add((share, SQ.shareLevel, level))
        graph.add((share, SQ.percentage, Literal(percentage, datatype=XSD.decimal)))
    if clause.share_note:
        _note(
            graph, node,
            f"The plan states cost-sharing figures ({clause.share_note}) that could not be read as one share per payer level adding up to 100 %; no shares are recorded.",
            f"方案载有分担比例（{clause.share_note}），但无法读作各承担层级合计100%的份额，故未记录分担比例。",
        )
    return node


def _category(builder: _Builder, section: Section | None, policy_field: URIRef | None, field_name: str | None) -> URIRef:
    """The category of the matters ruled in ``section``: a known category its headings name, else its innermost heading."""
    chain = section.chain if section is not None else []
    titled = [s.title for s in reversed(chain) if s.title]
    for title in titled:
        found = builder.by_label.get((SQ.MatterCategory, _key(title)))
        if found is not None:
            return found
    for title in titled:
        if not _CONTAINER_TITLE.search(title):
            return builder.named(SQ.MatterCategory, "category", title, {SQ.field: policy_field})
    label = f"{field_name}领域事项" if field_name else "未分类事项"
    node = builder.named(SQ.MatterCategory, "category", label, {SQ.field: policy_field})
    if (node, SKOS.editorialNote, None) not in builder.graph and (node, None, None) in builder.graph:
        _note(
            builder.graph, node,
            "The plan names no category for these matters; the extractor grouped them under this heading.",
            "方案未为这些事项标明类别，由抽取程序归入此类。",
        )
    return node


def _cited_plan(builder: _Builder, cited_title: str, cited_number: tuple[str, str, str, str], citing: str) -> URIRef | None:
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
    pair_text = _pair_in(title)
    if pair_text is None:
        return None
    pair = sorted(_pair_levels(pair_text), key=lambda lv: RANK[lv])
    if prefix.startswith("国") or pair[0] == C:
        name = "中华人民共和国"
    else:
        name = _division_name(title) or (_division_name(_BODY_SUFFIX.sub("", issuer_name)) if issuer_name else None)
    jurisdiction_slug = _division_slug(name) if name else ""
    plan_slug = "-".join(part for part in (jurisdiction_slug, _joined_pinyin(prefix), year, num) if part)
    plan = mint("plan", plan_slug)
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
        graph.add((plan, SQ.jurisdiction, builder.named(SQ.AdministrativeDivision, "division", name, {SQ.level: _division_level(name, pair[0])}, iri_slug=jurisdiction_slug)))
    if issuer_name:
        graph.add((plan, SQ.issuedBy, builder.named(SQ.Body, "body", issuer_name)))
    field_name = _field_in(title, name)
    if field_name:
        graph.add((plan, SQ.field, builder.named(SQ.PolicyField, "field", field_name)))
    _note(
        graph, plan,
        f"Known only from its citation in {citing}: number, title and issuer as cited; its date and text are not in that source.",
        f"仅见于{citing}的引用：文号、标题和发文机关按引用记录；其日期和原文不在该来源中。",
    )
    return plan
