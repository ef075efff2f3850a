"""Matters: the phrases a ruling lists, their IRI slugs, and the sq:Matter each names.

A matter loses its level words (市级, 县区级以下, 全市 …) and a trailing 等/等事项, and reuses a
matter of ``known`` whose zh label or altLabel matches. Slugs are the pinyin of the Chinese
phrase (专利奖励 → zhuanli-jiangli), never a translation.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass

from pypinyin import Style, lazy_pinyin
from rdflib import RDF, RDFS, Graph, Literal, URIRef
from rdflib.namespace import SKOS

from shiquan.extract.rulings import LOCAL, C, covered_levels, levels
from shiquan.extract.text import CANON, WS
from shiquan.vocab import SQ

with warnings.catch_warnings():
    # jieba 0.42 imports pkg_resources, which recent setuptools deprecate with a warning at import time.
    warnings.filterwarnings("ignore", message=".*pkg_resources.*")
    import jieba

jieba.setLogLevel(logging.WARNING)  # jieba logs each dictionary load at DEBUG to stderr
_SEGMENTER = jieba.Tokenizer()

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


def joined_pinyin(text: str) -> str:
    """The pinyin of a short name in one piece: 东政办 → dongzhengban, 海东 → haidong."""
    return re.sub(r"[^a-z0-9]", "", "".join(lazy_pinyin(text, style=Style.NORMAL)).lower())


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
# Lead-ins that say how a level carries out a matter, not what it is: 按照统一部署自主实施的专利奖励 → 专利奖励.
LEAD_IN = re.compile(
    r"^(?:(?:按照|根据|依照|依据)[^，、；。的]{1,20}?)?(?:自主|自行|组织|统一|具体|负责)(?:实施|开展|组织|承担|推进)的"
)
_ANAPHORA = re.compile(r"^(?:上述|以上|前述|前款|本款)")
# The matters of a level's own departments (职能部门及所属机构承担的事项), ruled by subordination.
DEPARTMENTS = re.compile(
    r"(?:职能)?部门(?:及其?|和)?(?:所属|下属|直属)(?:机构|单位|事业单位)(?:承担|负责|实施)的(?:事项|事务|工作)"
)
# Verbs that may open another wording of a matter in the same list (开展X beside X).
VERBS_BEFORE = ("开展", "组织", "推进", "推动", "实施", "做好", "加强")


def key(text: str) -> str:
    """How phrases are compared: no whitespace, canonical punctuation."""
    return WS.sub("", text).translate(CANON)


@dataclass
class Phrase:
    """One matter as printed in a ruling, with its readings."""

    printed: str
    label: str
    variants: list[str]
    prefix_levels: list[URIRef]
    lead_in: str = ""


class Matters:
    """Split matter lists into matters and find or mint a sq:Matter for each."""

    def __init__(self, known: Graph, pair: list[URIRef]):
        self.index: dict[str, URIRef] = {}
        for node in known.subjects(RDF.type, SQ.Matter):
            for prop in (RDFS.label, SKOS.altLabel):
                for label in known.objects(node, prop):
                    if isinstance(label, Literal) and label.language == "zh":
                        self.index.setdefault(key(str(label)), node)
        self.known_keys = set(self.index)
        words = [re.escape(w) for w in sorted(_PREFIX_WORDS, key=len, reverse=True)]
        words += [_PREFIX_PLAN[lv] for lv in covered_levels(pair) if lv in _PREFIX_PLAN]
        one = "(?:" + "|".join(words) + ")"
        self.prefix = re.compile(rf"^{one}(?:[和、与及]{one})*的?")
        self.split_mark = re.compile(rf"^(?:对|在|开展|组织|推动|指导)?{one}")

    def strip(self, phrase: str) -> tuple[str, list[URIRef]]:
        """The phrase without its leading level words, and the levels those words name."""
        m = self.prefix.match(phrase)
        if not m or m.end() == len(phrase):
            return phrase, []
        named, _ = levels(m.group())
        return phrase[m.end() :], named

    def phrase(self, printed: str) -> Phrase | None:
        raw = _TRAILING.sub("", printed.strip("，、；：。"))
        lead, prefix_levels = self.strip(raw)
        label = _MID_LEVEL.sub("", lead)
        label = _TRAILING.sub("", label).strip("，、；：")
        if not label:
            return None
        variants = list(dict.fromkeys([label, lead, raw, printed]))
        lead_in = LEAD_IN.match(label)
        phrase = Phrase(printed, label, variants, prefix_levels)
        if lead_in and lead_in.end() < len(label):
            phrase.lead_in = lead_in.group()
            phrase.variants.append(label[lead_in.end() :])
        return phrase

    def lookup(self, phrase: Phrase) -> URIRef | None:
        """The known or minted matter a phrase names; a lead-in is trimmed only to match one (``trimmed``)."""
        for variant in phrase.variants:
            found = self.index.get(key(variant))
            if found is not None:
                return found
        return None

    def trimmed(self, phrase: Phrase) -> bool:
        """Whether the phrase matches its matter only once its lead-in (按照…自主实施的) is trimmed."""
        return bool(phrase.lead_in) and all(self.index.get(key(v)) is None for v in phrase.variants[:-1])

    def near(self, label: str) -> list[tuple[str, URIRef]]:
        """Matters already named whose label holds this one or is held in it (four characters at least)."""
        own = key(label)
        found: dict[URIRef, str] = {}
        for other in self.known_keys:
            node = self.index[other]
            if other != own and min(len(other), len(own)) >= 4 and (other in own or own in other):
                found.setdefault(node, other)
        return sorted((text, node) for node, text in found.items())[:3]

    def split(self, text: str) -> list[Phrase]:
        """The matters a matter list names; a list that only refers back (上述事项) names none."""
        text = re.sub(r"^.*(?:^|，)将", "", text)
        text = re.sub(r"(?:，?(?:按照?|根据|依)隶属关系)?[，、；：]*$", "", text)
        phrases: list[Phrase] = []
        for piece in re.split(r"[，；]", text.translate(CANON)):
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
            if self.index.get(key(label[start:])) is not None:
                return [label[start:]]
            for cut in cuts:
                if cut > start and self.index.get(key(label[start:cut])) is not None:
                    rest = parts_from(cut + 1)
                    if rest:
                        return [label[start:cut], *rest]
            return None

        parts = parts_from(0)
        if not parts or len(parts) < 2:
            return [phrase]
        return [Phrase(phrase.printed, part, [part], phrase.prefix_levels) for part in parts]
