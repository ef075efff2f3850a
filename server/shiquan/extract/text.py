"""A plan's text, read into paragraphs and numbered sections.

``read_text`` decodes the bytes of a plan (UTF-8, else GB18030). ``paragraphs`` removes whitespace
and rejoins words and sentences that line or page breaks parted, keeping each character's line so
that every quote can be traced to the printed text; ``sections`` nests the paragraphs under their
numbering (一、/（一）/1./(1)/①).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from shiquan.errors import BadInput

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
    raise BadInput(
        f"the text is neither UTF-8 nor GB18030 (first byte that is not UTF-8: {first_bad})", None, line
    )


# --------------------------------------------------------------------------------------------
# Text into paragraphs
# --------------------------------------------------------------------------------------------

# Half-width punctuation, full-width digits and the ratio sign, each replaced by one character,
# so that positions in the canonical text are positions in the printed text.
CANON = str.maketrans(
    {",": "，", ";": "；", ":": "：", "(": "（", ")": "）", "?": "？", "!": "！", "∶": "：", "％": "%", "．": ".",
     **{chr(0xFF10 + d): str(d) for d in range(10)}}
)
WS = re.compile(r"\s+")
_TERMINAL = set("。！？；：")
CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_CIRCLED = "①②③④⑤⑥⑦⑧⑨⑩⑪⑫⑬⑭⑮⑯⑰⑱⑲⑳"
_MARKERS = [
    ("A", re.compile(r"([一二三四五六七八九十]{1,3})、")),
    ("B", re.compile(r"（([一二三四五六七八九十]{1,3})）")),
    ("C", re.compile(r"(\d{1,2})[.、](?!\d)")),
    ("D", re.compile(r"（(\d{1,2})）")),
    ("E", re.compile(rf"([{_CIRCLED}])")),
]
_RANK = {"A": 1, "B": 2, "C": 3, "D": 4, "E": 5}
DATE = r"(\d{4}|[〇零一二三四五六七八九]{4})年([\d一二三四五六七八九十]{1,3})月([\d一二三四五六七八九十]{1,3})日"
DATE_LINE = re.compile(rf"^{DATE}(印发)?$")
TAIL = re.compile(r"^(抄送|抄报|是否宜公开|公开方式|公开属性|附件|（此件|此件|联系人|（联系人)")
SIGNATURE = re.compile(r"(人民政府|办公室|办公厅|委员会|政府)$")


def cn_number(text: str) -> int:
    """一 → 1, 十 → 10, 十二 → 12, 二十三 → 23; Arabic digits and circled numbers too."""
    if text.isdigit():
        return int(text)
    if text in _CIRCLED:
        return _CIRCLED.index(text) + 1
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (CN_DIGITS.get(tens, 1) if tens else 1) * 10 + (CN_DIGITS[ones] if ones else 0)
    return CN_DIGITS[text]


@dataclass
class Para:
    """A paragraph with whitespace removed: its printed text, its canonical text and each character's line."""

    text: str
    canon: str
    lines: list[int]
    index: int = 0

    def cut(self, start: int, end: int | None = None) -> Para:
        return Para(self.text[start:end], self.canon[start:end], self.lines[start:end], self.index)


def marker(canon: str) -> tuple[str, int, int, str] | None:
    """The numbering a paragraph opens with: (kind, number, length of the marker, numeral as printed)."""
    for kind, pattern in _MARKERS:
        m = pattern.match(canon)
        if m:
            return kind, cn_number(m.group(1)), m.end(), m.group(1)
    return None


def is_plain_line(canon: str, limit: int = 60) -> bool:
    """A short line without sentence punctuation: a heading, title, name or date."""
    return len(canon) <= limit and not re.search(r"[，。；、！？]", canon)


def paragraphs(text: str) -> list[Para]:
    """Lines joined into paragraphs, rejoining words and sentences broken across lines or pages.

    A line continues the previous one unless the previous one is closed: it ends a sentence, is
    a numbered heading, or (before the first numbered section) is a standalone line such as
    the title, the document number or the date. A line that opens with a number, a date or
    the tail of the document (抄送 …) always starts a paragraph.
    """
    paras: list[Para] = []
    seen_marker = False
    for number, line in enumerate(text.splitlines(), 1):
        compact = WS.sub("", line)
        if not compact:
            continue
        canon = compact.translate(CANON)
        opens = marker(canon) is not None or DATE_LINE.match(canon) or TAIL.match(canon)
        if paras and not opens:
            prev = paras[-1]
            head = marker(prev.canon)
            closed = (
                prev.canon[-1] in _TERMINAL
                or (head is not None and is_plain_line(prev.canon[head[2]:], 40))
                or (not seen_marker and is_plain_line(prev.canon))
            )
            if not closed or canon[0] in "，、；：）":
                prev.text += compact
                prev.canon += canon
                prev.lines += [number] * len(compact)
                continue
        paras.append(Para(compact, canon, [number] * len(compact), len(paras)))
        if marker(canon):
            seen_marker = True
    return paras


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------

_MARKER_LABEL = {"A": "{}", "B": "（{}）", "C": "{}.", "D": "（{}）", "E": "{}"}
CONTAINER_TITLE = re.compile(r"主要内容|主要任务|具体内容|改革内容|划分|总体|基本原则|事项清单")
SAFEGUARD_TITLE = re.compile(r"保障|组织实施")


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
    if is_plain_line(rest.canon, 40):
        return rest.text.rstrip("：:"), None
    m = re.match(r"([^，。；：、]{1,20})[。：]", rest.canon)
    if m and "确认为" not in m.group(1):
        body = rest.cut(m.end())
        return rest.text[: m.end() - 1], (body if body.canon else None)
    return None, rest


def sections(paras: list[Para]) -> Section:
    """The paragraphs nested under their numbering; the root (kind None) holds the unnumbered ones."""
    root = Section(None, 0, "", None)
    stack = [root]
    for para in paras:
        head = marker(para.canon)
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
