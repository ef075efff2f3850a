"""A small SPARQL tokenizer for reading SHACL-SPARQL constraints (to be folded into shiquan.sparql.text)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKENS = re.compile(
    r"""(?P<space>\s+)
      | (?P<comment>\#[^\n]*)
      | (?P<string>'''(?:[^'\\]|\\.|'(?!''))*'''|\"\"\"(?:[^"\\]|\\.|"(?!""))*\"\"\"|'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
      | (?P<iri><[^<>"{}|^`\\\s]*>)
      | (?P<var>[?$]\w+)
      | (?P<pname>(?:[A-Za-z][\w.-]*)?:[\w.:%-]*)
      | (?P<word>[A-Za-z_]\w*)
      | (?P<other>.)""",
    re.X | re.S,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    start: int
    end: int

    @property
    def word(self) -> str:
        return self.text.upper() if self.kind == "word" else ""

    @property
    def is_this(self) -> bool:
        return self.kind == "var" and self.text[1:] == "this"


def _tokens(text: str) -> list[_Token]:
    """SPARQL text as tokens, without spaces and comments."""
    return [_Token(m.lastgroup or "", m.group(), m.start(), m.end())
            for m in _TOKENS.finditer(text) if m.lastgroup not in ("space", "comment")]


@dataclass
class _Frame:
    """A ``{ … }`` group met while reading a query: what kind it is and what was seen in it."""

    kind: str  # "where" (the query's own), "exists", "select" (a sub-select) or "group"
    parens: int = 0
    projecting: bool = False  # a sub-select before its WHERE group
    mentions_this: bool = False
    selects_this: bool = False
    limited: bool = False
