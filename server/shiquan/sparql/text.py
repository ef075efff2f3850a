"""Everything that reads a query's text before the engine does.

The depth bound (how deep the engine would recurse, measured with its own lexical rules), the query form and
dataset clause, the SERVICE endpoints a query calls (checked against the allowlist), the refusal of SPARQL Update,
the relaying of SERVICE calls, and the engine's tokens for other readers of SPARQL text (SHACL-SPARQL rewriting).
:func:`inspect` is the one entry: the embedded and the remote store both call it before anything runs.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from shiquan.errors import BadQuery, Forbidden
from shiquan.vocab import ID

# Relative IRIs in a query resolve against the dataset's base, the base of its data files (`@base`): `<plan/x>` in
# a query is the plan that `<plan/x>` in data/ names. A query's own BASE overrides it. The SERVICE guard resolves
# endpoints against the same base as the engine (run.py gives it to store.query).
BASE_IRI = str(ID)

# Kind of answer by query form: rdflib's names, and the engine's keywords.
KINDS = {"SelectQuery": "solutions", "AskQuery": "boolean", "ConstructQuery": "graph", "DescribeQuery": "graph"}
_FORMS = {"SELECT": "solutions", "ASK": "boolean", "CONSTRUCT": "graph", "DESCRIBE": "graph"}

# ---------------------------------------------------------------- how deep the engine recurses

# The engine (pyoxigraph 0.5) parses with a recursive-descent (PEG) parser, then walks the trees it built with
# recursive functions, and has no depth limit of its own: past some depth a worker's stack (8 MiB) overflows and the
# process dies with SIGSEGV. Two measures bound that depth before the engine sees the query:
#
# - nesting: each level of {…}, (…), […], <<…>>, <<(…)>> and {|…|}, and each unary operator (a chain !!!…!x
#   recurses without any bracket). The parser spends 0.6–10 KiB of stack per level (a function call such as
#   STR( or a NOT EXISTS { costs the most); in 8 MiB it crashes at ~830 levels of FILTER NOT EXISTS {, ~960 of STR(,
#   ~1,300 of collections, ~2,200 of {, ~4,700 of ( in an expression and ~9,400 of !.
# - chain: the nesting plus, at each level, the links chained into one left-deep tree: the operands of
#   || && = < + - * / …, the triple patterns, path steps and OPTIONAL/MINUS/UNION/BIND/FILTER/VALUES/GRAPH of a group,
#   and the expressions of a SELECT or GROUP BY. A tree node costs up to 3.2 KiB: in 8 MiB a group of ~2,600 triple
#   patterns, BINDs or MINUSes crashes, and so do ~6,500 UNIONs and ~9,400 operands of ||.
#
# Each limit keeps the engine within a quarter of its stack (200 × 10 KiB, 600 × 3.2 KiB); test_text.py checks
# the margin against the installed engine. Over-counting is harmless, under-counting crashes a worker, so the scanner
# mirrors the parser's lexer: a "<" after an operand inside an expression is a comparison, elsewhere it starts an IRI.
MAX_NESTING = 200
MAX_CHAIN = 600

_PN_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c\u200d\u2070-\u218f\u2c00-\u2fef"
    "\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd"
)
_PN_U = _PN_BASE + "_"
_PN = _PN_U + "\\-0-9\u00b7\u0300-\u036f\u203f\u2040"
_PLX = r"%[0-9A-Fa-f]{2}|\\[_~.\-!$&'()*+,;=/?#@%]"
_ESCAPE = r"\\[tbnrf\"'\\]|\\u[0-9A-Fa-f]{4}|\\U[0-9A-Fa-f]{8}"
# The engine's terminals. Its PN_LOCAL allows a single run of dots ("ex:a.b.c" is "ex:a.b" then ".c"), its
# white space is space, tab, CR and LF only, and an escape of no code point (\uD800) fails the whole string.
_SPACE = r"(?:[ \t\r\n]++|#[^\r\n]*+)*+"
_VARIABLE = f"[?$][{_PN_U}0-9][{_PN_U}0-9\u00b7\u0300-\u036f\u203f\u2040]*+"
_NUMBER = r"[0-9]++(?:\.[0-9]*+)?+[eE][+-]?[0-9]++|[0-9]*+\.[0-9]++(?:[eE][+-]?[0-9]++)?+|[0-9]++"
_PNAME = (
    f"(?:[{_PN_BASE}][{_PN}]*+(?:\\.++[{_PN}]++)*+)?:"
    f"(?:(?:[{_PN_U}:0-9]|{_PLX})(?:[{_PN}:]|{_PLX})*+(?:\\.++(?:[{_PN}:]|{_PLX})++)?+)?+"
)
_BLANK = f"_:[{_PN_U}0-9][{_PN}]*+(?:\\.++[{_PN}]++)*+"
_TOKEN = re.compile(
    f"{_SPACE}(?:(?P<variable>{_VARIABLE})|(?P<number>(?=[0-9])(?:{_NUMBER}))|(?P<blank>{_BLANK})|(?P<pname>{_PNAME})"
    r"|(?P<word>[A-Za-z][A-Za-z0-9_]*+)|(?P<langtag>@[a-zA-Z]++(?:-[a-zA-Z0-9]++)*+)|(?P<char>[\s\S])|\Z)"
)
# Runs of tokens that change no depth, read by one regex: the values of a VALUES block, a list of operands such as
# IN (1, 2, …). Their strings admit only escapes of a code point; a "<<" (a triple term nests) is no IRI.
_IRI = r"<[^<>\"{}|^`\\\x00-\x20]*+>"  # a plain IRI (a failed match stops at the first character no IRI holds)
_GOOD_ESCAPE = r"\\[tbnrf\"'\\]|\\u(?![dD][89a-fA-F])[0-9A-Fa-f]{4}|\\U(?:000[0-9A-Fa-f]|0010)[0-9A-Fa-f]{4}"
_LITERAL = (
    f'(?:"""(?:(?:""|")?+(?:[^"\\\\]++|{_GOOD_ESCAPE}))*+"""|\'\'\'(?:(?:\'\'|\')?+(?:[^\'\\\\]++|{_GOOD_ESCAPE}))*+\'\'\''
    f'|"(?:[^"\\\\\\n\\r]++|{_GOOD_ESCAPE})*+"|\'(?:[^\'\\\\\\n\\r]++|{_GOOD_ESCAPE})*+\')'
    f"(?:@[a-zA-Z]++(?:-[a-zA-Z0-9]++)*+|\\^\\^(?:{_IRI}|{_PNAME}))?+"
)
_VALUE = f"{_VARIABLE}|[+-]?(?:{_NUMBER})|{_PNAME}|{_IRI}|{_LITERAL}"
_PLAIN_DATA = re.compile(f"(?:{_SPACE}(?:{_VALUE}|[A-Za-z]++|\\((?:{_SPACE}(?:{_VALUE}|[A-Za-z]++))*+{_SPACE}\\)))*+")
_PLAIN_LIST = re.compile(f"(?:{_SPACE}(?:{_VALUE}|true|false){_SPACE},)++")
_DECIMAL = re.compile(f"(?=\\.[0-9])(?:{_NUMBER})")
_STRINGS = {
    '"""': re.compile(f'"""(?:(?:""|")?+(?:[^"\\\\]++|{_ESCAPE}))*+"""'),
    "'''": re.compile(f"'''(?:(?:''|')?+(?:[^'\\\\]++|{_ESCAPE}))*+'''"),
    '"': re.compile(f'"(?:[^"\\\\\\n\\r]++|{_ESCAPE})*+"'),
    "'": re.compile(f"'(?:[^'\\\\\\n\\r]++|{_ESCAPE})*+'"),
}
_UNICODE_ESCAPE = re.compile(r"\\(?:u([0-9A-Fa-f]{4})|U([0-9A-Fa-f]{8})|[\s\S])")
# The parser matches keywords as prefixes, without a word boundary: "FILTERregex(", "trueFILTER(" and, where the
# prefix "filter:" is undeclared, "filter:f(" all start a FILTER.
_FILTER_NAME = re.compile(r"(?:true|false)?filter", re.IGNORECASE | re.ASCII)
_ELEMENTS = {"OPTIONAL", "MINUS", "UNION", "GRAPH", "SERVICE", "LATERAL"}
_VALUE_WORDS = {"TRUE", "FALSE"}
# Where a group's triple pattern stands: before its subject, its verb, its object, or after its object.
_SUBJECT, _VERB, _OBJECT, _AFTER = range(4)
_NEXT = (_VERB, _OBJECT, _AFTER, _AFTER)
_PATTERNS = ("group", "node")
# Once a limit is passed, read this much further only, for the message.
_READ_ON = 64 * 1024


@dataclass(frozen=True)
class Depth:
    """How deep the engine would recurse on a query (see MAX_NESTING and MAX_CHAIN); ``complete`` is False when
    the reading stopped early, past a limit."""

    nesting: int
    chain: int
    complete: bool = True


class _Frame:
    """An open bracket: what it holds (``kind``) and, in a group of patterns, where its triple pattern stands.

    Kinds: "root" (outside any bracket), "group" ({…} of patterns), "select" (a sub-select's {…}), "expr" (an
    expression's (…)), "list" (a collection or path (…)), "node" ([…], <<…>>, {|…|}), "term" (<<(…)>>), "data"
    (VALUES).
    """

    __slots__ = ("block", "closer", "filter", "fresh", "group", "kind", "links", "state", "triple", "unary", "values")

    def __init__(self, kind: str, closer: str, unary: int, group: _Frame | None, state: int = _SUBJECT):
        self.kind, self.closer, self.unary, self.links = kind, closer, unary, 0
        self.group = group or self  # whose chain its triple patterns join: the enclosing root, group or select
        self.state, self.triple = state, False  # a triple pattern begun since the last separator
        self.filter = 0  # after FILTER or BIND: 1, the next "(" is an expression's; 2, a function name may come first
        self.values = False  # after VALUES: the next "(" and "{" hold data
        self.block = False  # after OPTIONAL, GRAPH …: the next "{" is their block, not a group of its own
        self.fresh = True  # nothing read in it yet (a group that starts with SELECT is a sub-select)


def _string_end(text: str, start: int) -> int | None:
    """Where the string that opens at ``start`` ends as the engine reads it; None when it reads none there.

    A long string with an escape of no code point fails as a whole: the parser then reads an empty string of two
    quotes, and goes on.
    """
    quote = text[start]
    found = None
    if text.startswith(quote * 3, start):
        found = _STRINGS[quote * 3].match(text, start)
        if found and not _valid_escapes(found.group()):
            found = None
    found = found or _STRINGS[quote].match(text, start)
    if found and not _valid_escapes(found.group()):
        found = None
    return found.end() if found else None


def _valid_escapes(token: str) -> bool:
    """Whether every \\u and \\U escape in a string token is a code point (not a surrogate, not past U+10FFFF)."""
    if "\\u" not in token and "\\U" not in token:
        return True
    for match in _UNICODE_ESCAPE.finditer(token):
        code = match.group(1) or match.group(2)
        if code and (int(code, 16) > 0x10FFFF or 0xD800 <= int(code, 16) <= 0xDFFF):
            return False
    return True


class _Scanner:
    """One reading of a query with the engine's lexical rules: how deep it nests and chains, its form, its FROM.

    Brackets inside strings, IRIs and comments are skipped only where the parser skips them too: "<" after an operand
    in an expression compares, anywhere else it starts an IRI; keywords match as prefixes, as the parser matches them.
    Each character that may open or close a bracket has one method, by family; they share the reading's state here.
    """

    def __init__(self, text: str):
        self.text = text
        self.frames = [_Frame("root", "", 0, None)]
        self.nest = self.links = self.run = 0  # open levels (each with its unary operators), chained links, unary operators pending
        self.deepest = self.longest = 0
        self.operand = self.datatype = False  # the last token ends an operand; the last token is "^^"
        self.after_datatype = False  # the token before this one is "^^"
        self.pending = 0  # the filter state of the frame before this token (see _Frame.filter)
        self.no_gt_from = len(text) + 1  # no ">" at or after this position (an unterminated IRI is looked for once)
        self.pos, self.stop = 0, len(text)
        self.form: str | None = None  # the kind of answer, by the first keyword after the prologue
        self.dataset = False  # FROM or FROM NAMED at the top level

    def read(self) -> Depth:
        """Read to the end, or 64 KiB past a limit."""
        while self.pos < self.stop:
            if not self._token():
                return Depth(self.deepest, self.longest, True)
        return Depth(self.deepest, self.longest, self.pos >= len(self.text))

    # ------------------------------------------------------------ the counts

    def grown(self) -> None:
        self.deepest = max(self.deepest, self.nest + self.run)
        self.longest = max(self.longest, self.nest + self.run + self.links)
        if self.stop == len(self.text) and (self.deepest > MAX_NESTING or self.longest > MAX_CHAIN):
            self.stop = min(self.stop, self.pos + _READ_ON)

    def link(self, frame: _Frame, count: int = 1) -> None:
        frame.links += count
        self.links += count
        self.grown()

    def flush(self, frame: _Frame) -> None:
        if frame.triple:
            frame.triple = False
            self.link(frame.group)

    def term(self) -> None:
        """An operand: a variable, IRI, literal, or bracketed term."""
        self.run, self.operand = 0, True
        frame = self.frames[-1]
        if frame.kind in _PATTERNS:
            frame.triple, frame.state = True, _NEXT[frame.state]
        elif frame.kind == "list":  # a collection's item is two triple patterns
            self.link(frame.group, 2)

    def unary(self, top: _Frame) -> None:
        self.run += 1
        self.grown()
        if top.kind in _PATTERNS:
            top.state = _VERB

    def push(self, kind: str, closer: str, state: int = _SUBJECT, rows: int = 0) -> None:
        parent, unary = self.frames[-1], self.run + rows
        if kind in ("list", "node", "term") and parent.kind in ("group", "node", "list"):
            self.term()  # a bracketed term stands where a variable or IRI would
        self.frames.append(_Frame(kind, closer, unary, None if kind in ("group", "select") else parent.group, state))
        self.nest += 1 + unary
        self.run, self.operand = 0, False
        self.grown()

    def pop(self) -> None:
        frame = self.frames.pop()
        self.flush(frame)
        self.nest -= 1 + frame.unary
        self.links -= frame.links
        parent = self.frames[-1]
        if parent.kind == "group" and frame.kind in ("group", "select", "expr", "data"):
            parent.state = _SUBJECT  # a sub-group, FILTER, BIND or VALUES ended
        self.operand = True

    def close(self, closer: str) -> None:
        if self.frames[-1].closer == closer:  # a closer that does not match is a syntax error: keep counting the frame
            self.pop()

    # ------------------------------------------------------------ tokens

    def _token(self) -> bool:
        """Read one token; False at the end of the text."""
        top, text = self.frames[-1], self.text
        if top.kind == "data":
            self.pos = _PLAIN_DATA.match(text, self.pos).end()
        elif top.kind == "expr" and not self.operand and (plain := _PLAIN_LIST.match(text, self.pos)):
            self.pos, self.run = plain.end(), 0
        match = _TOKEN.match(text, self.pos)
        kind = match.lastgroup
        if kind is None:
            return False
        self.pos = match.end()
        self.pending = top.filter
        if self.pending:
            top.filter = 0
        fresh = top.fresh
        if fresh:
            top.fresh = False
        self.after_datatype, self.datatype = self.datatype, False
        if kind == "char":
            char = match.group(kind)
            _CHAR_METHODS.get(char, _Scanner._other)(self, top, char)
        elif kind == "pname":
            self._pname(top, match.group(kind))
        elif kind == "word":
            self._word(top, match.group(kind).upper(), fresh)
        elif kind == "langtag":
            self.operand = True
        else:  # a variable, number or blank node
            self.term()
        return True

    def _pname(self, top: _Frame, name: str) -> None:
        if self.after_datatype:  # "…"^^xsd:int
            self.operand = True
            return
        if top.kind == "group" and top.state != _VERB and _FILTER_NAME.match(name):
            top.filter = 1  # "filter:f(" may be FILTER :f(
        elif self.pending == 2:
            top.filter = 1  # FILTER ex:f(
        self.term()

    def _word(self, top: _Frame, word: str, fresh: bool) -> None:
        if top.kind == "expr":
            if word in _VALUE_WORDS:
                self.term()
            else:
                self.operand = False  # a function's name, IN, NOT, AS, DISTINCT …: an operand comes next
        elif top.kind == "group":
            self._group_word(top, word, fresh)
        elif top.kind in ("root", "select"):
            top.values = top.values or word == "VALUES"
            if top.kind == "root":
                self._top_word(word)
        else:
            self.term()  # a, true, false, UNDEF

    def _group_word(self, top: _Frame, word: str, fresh: bool) -> None:
        if fresh and word.startswith("SELECT"):
            top.kind = "select"
        elif "FILTER" in word or "BIND" in word:
            self.flush(top)
            self.link(top)
            top.filter, top.state = 2 if word == "FILTER" else 1, _SUBJECT
        elif word in _ELEMENTS or word == "VALUES":
            self.flush(top)
            self.link(top)
            top.state = _SUBJECT
            top.block = word != "VALUES"
            top.values = word == "VALUES"
        elif self.pending:
            top.filter, top.block = 1, True  # FILTER regex(, FILTER NOT EXISTS {
        else:
            self.term()  # a, true, false

    def _top_word(self, word: str) -> None:
        """A keyword outside any bracket: the query form (after PREFIX and BASE), FROM."""
        if self.form is None and word not in ("PREFIX", "BASE"):
            self.form = next((kind for form, kind in _FORMS.items() if word.startswith(form)), "")
        self.dataset = self.dataset or word.startswith("FROM")

    # ------------------------------------------------------------ characters, one method per family

    def _string(self, top: _Frame, char: str) -> None:
        end = _string_end(self.text, self.pos - 1)
        if end is not None:
            self.pos = end
            self.term()
        # else an unterminated string, where the parser stops: read on as code, over-counting at worst

    def _less(self, top: _Frame, char: str) -> None:
        """A comparison, "<<(", "<<", or an IRI."""
        text = self.text
        if top.kind == "expr" and self.operand:  # a comparison
            self.pos += text.startswith("=", self.pos)
            self.link(top)
            self.operand = False
        elif text.startswith("<(", self.pos):
            self.pos += 2
            self.push("term", ")>>")
        elif text.startswith("<", self.pos):
            self.pos += 1
            self.push("node", ">>")
            self.link(self.frames[-1].group, 2)  # a reified triple pattern adds its reification
        else:  # an IRI: the parser reads to the next ">", whatever comes between (and fails when it is no IRI)
            gt = text.find(">", self.pos) if self.pos < self.no_gt_from else -1
            if gt < 0:
                self.no_gt_from = min(self.no_gt_from, self.pos)
            elif self.after_datatype:
                self.pos = gt + 1
                self.operand = True
            else:
                self.pos = gt + 1
                if self.pending == 2:
                    top.filter = 1  # FILTER <function>(
                self.term()

    def _greater(self, top: _Frame, char: str) -> None:
        if top.kind == "expr":
            self.pos += self.text.startswith("=", self.pos)
            self.link(top)
            self.operand = False
        elif self.text.startswith(">", self.pos):
            self.pos += 1
            self.close(">>")

    def _close_paren(self, top: _Frame, char: str) -> None:
        if top.closer == ")>>" and self.text.startswith(">>", self.pos):
            self.pos += 2
            self.pop()
        else:
            self.close(")")

    def _close(self, top: _Frame, char: str) -> None:
        self.close(char)

    def _bar(self, top: _Frame, char: str) -> None:
        if top.closer == "|}" and self.text.startswith("}", self.pos):
            self.pos += 1
            self.pop()
        elif self.text.startswith("|", self.pos):
            self.pos += 1
            self.link(top)
            self.operand = False
        else:  # a path alternative
            self.link(top.group)
            top.state = _VERB

    def _brace(self, top: _Frame, char: str) -> None:
        if self.text.startswith("|", self.pos):
            self.pos += 1
            self.link(top.group)
            self.push("node", "|}", _VERB)
        elif top.kind == "data" or top.values:
            top.values = False
            self.push("data", "}", rows=1)  # and its rows, read with it
        else:
            if top.kind == "group":
                self.flush(top)
                if not (top.block or self.pending):
                    self.link(top)  # a group inside a group is joined to what comes before it
            top.block = False
            self.push("group", "}")

    def _paren(self, top: _Frame, char: str) -> None:
        if top.kind == "expr" or (top.kind == "group" and self.pending):
            self.push("expr", ")")
        elif top.kind == "data" or top.values:
            self.push("data", ")")
        elif top.kind in ("root", "select"):  # a SELECT expression, a GROUP BY, HAVING or ORDER BY condition
            self.link(top)
            self.push("expr", ")")
        else:  # a collection, or a path
            self.push("list", ")")

    def _bracket(self, top: _Frame, char: str) -> None:
        self.push("data" if top.kind == "data" else "node", "]", _VERB)

    def _bang(self, top: _Frame, char: str) -> None:
        if self.text.startswith("=", self.pos):
            self.pos += 1
            self.link(top)
            self.operand = False
        else:
            self.unary(top)

    def _caret(self, top: _Frame, char: str) -> None:
        if self.text.startswith("^", self.pos):
            self.pos += 1
            self.datatype, self.operand = True, False
        else:
            self.unary(top)

    def _logical(self, top: _Frame, char: str) -> None:
        """"&&" and "=" (and a stray "&")."""
        self.pos += char == "&" and self.text.startswith("&", self.pos)
        if top.kind == "expr":
            self.link(top)
        self.operand = False

    def _arithmetic(self, top: _Frame, char: str) -> None:
        if top.kind == "expr":
            if self.operand:
                self.link(top)
            elif char in "+-":
                self.unary(top)
            self.operand = False
        elif char == "/":  # a path step
            self.link(top.group)
            if top.kind in _PATTERNS:
                top.state = _VERB

    def _dot(self, top: _Frame, char: str) -> None:
        if (top.kind not in _PATTERNS or top.state in (_SUBJECT, _OBJECT)) and (
            decimal := _DECIMAL.match(self.text, self.pos - 1)
        ):
            self.pos = decimal.end()  # ".5", where a term may stand; elsewhere "." ends a triple pattern
            self.term()
        else:
            self._separator(top, char)

    def _separator(self, top: _Frame, char: str) -> None:
        if top.kind in _PATTERNS:
            self.flush(top)
            top.state = _SUBJECT if char == "." else _VERB if char == ";" else _OBJECT
        self.operand = False

    def _other(self, top: _Frame, char: str) -> None:
        """"*", "?", "~", "$" … in a path or pattern, or no SPARQL at all."""
        self.operand = False


_CHARS = {
    '"': "_string", "'": "_string", "<": "_less", ">": "_greater", ")": "_close_paren", "]": "_close", "}": "_close",
    "|": "_bar", "{": "_brace", "(": "_paren", "[": "_bracket", "!": "_bang", "^": "_caret", "&": "_logical",
    "=": "_logical", "+": "_arithmetic", "-": "_arithmetic", "*": "_arithmetic", "/": "_arithmetic", ".": "_dot",
    ",": "_separator", ";": "_separator",
}
_CHAR_METHODS = {char: getattr(_Scanner, name) for char, name in _CHARS.items()}  # looked up once, not per token


def depth(text: str) -> Depth:
    """How deep the engine's parser and evaluator would recurse on ``text``: an upper bound, never an under-count.

    Reads the query with the engine's own lexical rules (see :class:`_Scanner`). Stops reading 64 KiB past a limit.
    """
    return _Scanner(text).read()


# ---------------------------------------------------------------- tokens, for other readers of SPARQL text


@dataclass(frozen=True)
class Token:
    """A token of SPARQL text: ``kind`` is "variable", "number", "blank", "pname", "word", "langtag", "string",
    "iri" or "char"; ``start`` and ``end`` are its offsets in the text."""

    kind: str
    text: str
    start: int
    end: int

    @property
    def word(self) -> str:
        """A keyword or function name in upper case; "" for any other token."""
        return self.text.upper() if self.kind == "word" else ""


_IRI_TOKEN = re.compile(_IRI)
# Keywords the engine reads as prefixes of a longer bare word ("trueSERVICE" is true then SERVICE, "SERVICESILENT"
# is SERVICE then SILENT); no built-in function's name starts with one of them, so a bare word is split after each.
_GLUED = re.compile(r"(?:true|false|service|silent|filter|optional|minus|union|graph|bind|values|not|exists)(?=[a-z])",
                    re.IGNORECASE)


def tokens(text: str) -> list[Token]:
    """``text`` as tokens by the engine's terminals, without spaces and comments: strings and IRIs whole.

    Context-free, unlike the depth reading: "<" starts an IRI wherever one can be read from it. A bare word that
    starts with a keyword the engine reads as a prefix is split there, as the engine reads it ("SERVICESILENT").
    """
    found, pos = [], 0
    while (match := _TOKEN.match(text, pos)).lastgroup is not None:
        kind, start, end = match.lastgroup, match.start(match.lastgroup), match.end()
        if kind == "char" and text[start] in "\"'":
            string_end = _string_end(text, start)
            kind, end = ("string", string_end) if string_end is not None else (kind, end)
        elif kind == "char" and text[start] == "<" and (iri := _IRI_TOKEN.match(text, start)):
            kind, end = "iri", iri.end()
        elif kind == "word":
            while glued := _GLUED.match(text, start, end):
                found.append(Token(kind, glued.group(), start, glued.end()))
                start = glued.end()
        found.append(Token(kind, text[start:end], start, end))
        pos = end
    return found


# ---------------------------------------------------------------- SERVICE, wherever the engine can read it

# The engine (pyoxigraph 0.5.13) matches keywords case-insensitively as prefixes, without a word boundary, and its
# parser backtracks: it reads SERVICE glued to the token before ("?o.SERVICE", "1SERVICE", "trueSERVICE",
# "{…}SERVICE") and to SILENT ("SERVICESILENT"), and "service:x" as SERVICE :x when "service:" is no declared
# prefix. Which of those places is code depends on the parse (a "<" compares or opens an IRI, a "#" comments or
# sits in an IRI), so no reading beside the engine can prove where the keyword stands. Instead every "service", in
# any case and anywhere in the text (strings, IRIs and comments included), is read as if it were the keyword: where
# the engine's SERVICE syntax follows it (white space and comments, SILENT, an endpoint, white space, "{"), it is a
# call. Over-reading costs the refusal of a string or comment that spells a whole call to an endpoint off the
# allowlist; under-reading would let the engine call anywhere.
_SERVICE_WORD = re.compile("service", re.IGNORECASE)
# The characters other than ASCII letters that a case-blind regex matches for an ASCII letter: "İ" and "ı" for "i",
# "K" (Kelvin) for "k", "ſ" for "s" (Python's re, checked over every code point).
_CASE_BLIND_EXTRA = ("\u0130", "\u0131", "\u212a", "\u017f")


def may_hold(text: str, *words: str) -> bool:
    """Whether a case-blind regex for one of the lowercase ASCII ``words`` may match in ``text``: False only where none
    can, as the text's UTF-8 bytes lowered hold none of them and the text none of _CASE_BLIND_EXTRA. 5 µs for a query
    of the mix with Chinese comments, where such a regex searched a text that is not ASCII in 20 to 70 µs."""
    lowered = text.encode("utf-8", "surrogatepass").lower()
    if any(word.encode("ascii") in lowered for word in words):
        return True
    return not text.isascii() and any(char in text for char in _CASE_BLIND_EXTRA)
_SILENT = re.compile(f"{_SPACE}silent", re.IGNORECASE)
# An endpoint as the engine reads it: <IRI> (anything up to ">", then resolved against BASE), ?var or $var, or a
# prefixed name. A name is read here as the longest run of characters that are not the engine's white space, "#",
# "{", "<" or ">" (escapes kept whole): the engine's own name is a prefix of that run, and when it is shorter the
# character after it is none the SERVICE syntax allows, so the engine does not read a call there either. Whether the
# run is one name, and which IRI it is, the engine itself says (see _resolve).
_ENDPOINT = re.compile(f"{_SPACE}(?P<term><[^>]*+>|(?:\\\\[\\s\\S]|[^ \\t\\r\\n#{{<>\\\\])++)")
_GROUP = re.compile(f"{_SPACE}\\{{")
# The prologue, as the engine reads it: BASE <iri> and PREFIX p: <iri>, in any case, glued or not.
_DECLARATION = re.compile(f"{_SPACE}(?:base{_SPACE}<[^>]*+>|prefix{_SPACE}[^ \\t\\r\\n#<:]*+:{_SPACE}<[^>]*+>)", re.I)
_MORE_PROLOGUE = re.compile(f"{_SPACE}(?:base|prefix)", re.IGNORECASE)
# Most places that spell a SERVICE call in one query: each costs the engine a parse of the prologue to resolve.
MAX_SERVICE_CALLS = 32


@dataclass(frozen=True)
class ServiceCall:
    """A place where the engine can read a SERVICE call: the endpoint (the IRI the engine resolves, or "?var" for a
    variable) and where its term stands in the text (``start``, ``end``), as written (``term``)."""

    endpoint: str
    term: str
    start: int
    end: int


def service_calls(text: str, *, strict: bool = False) -> list[ServiceCall]:
    """Every SERVICE call the engine can read in ``text`` (see _SERVICE_WORD): a superset of the calls it makes.

    A place whose endpoint the engine cannot resolve (an undeclared prefix, a name that is no name) is no call for
    it, and is left out; with ``strict`` (a remote store, whose engine may declare prefixes of its own) it is refused.
    Raises BadQuery for more than MAX_SERVICE_CALLS places, for a prologue this reading cannot follow, and with
    ``strict`` for an endpoint it cannot resolve.
    """
    if not may_hold(text, "service"):
        return []
    places = []
    for word in _SERVICE_WORD.finditer(text):
        starts = [word.end()]
        if silent := _SILENT.match(text, word.end()):
            starts.append(silent.end())  # SERVICE SILENT <x>, and SERVICE silentx:y as the name "silentx:y"
        for start in starts:
            endpoint = _ENDPOINT.match(text, start)
            if endpoint and _GROUP.match(text, endpoint.end()):
                places.append((endpoint.group("term"), endpoint.start("term"), endpoint.end("term")))
    if not places:
        return []
    if len(places) > MAX_SERVICE_CALLS:
        raise BadQuery(f"the query spells {len(places)} SERVICE calls; at most {MAX_SERVICE_CALLS} are allowed")
    # Resolved against the base the embedded engine is given (run.BASE_IRI); for a remote store, whose base is its
    # own, against none, so that a relative IRI is refused there (strict) rather than read as another endpoint.
    terms = [term for term, _start, _end in places if term[0] not in "?$"]
    resolved = _resolve(_prologue(text), terms, None if strict else BASE_IRI)
    calls = []
    for term, start, end in places:
        endpoint = term if term[0] in "?$" else resolved.get(term)
        if endpoint is None and strict:
            raise BadQuery(f"the SERVICE endpoint {term} is not an IRI this endpoint can resolve")
        if endpoint is not None:
            calls.append(ServiceCall(endpoint, term, start, end))
    return calls


def _prologue(text: str) -> str:
    """The text of the query's prologue (BASE and PREFIX declarations), as far as the engine reads it.

    Raises BadQuery when a BASE or PREFIX follows that this reading cannot follow (the engine would refuse it, or
    read more than this reading: either way nothing can be resolved as it would be).
    """
    end = 0
    while declaration := _DECLARATION.match(text, end):
        end = declaration.end()
    if _MORE_PROLOGUE.match(text, end):
        raise BadQuery("SPARQL syntax error: a BASE or PREFIX declaration that cannot be read")
    return text[:end]


def _resolve(prologue: str, terms: Sequence[str], base_iri: str | None) -> dict[str, str]:
    """The IRI the engine makes of each of ``terms`` (IRIs and prefixed names) after ``prologue``; a term it cannot
    read as one IRI is left out. The engine reads them in a query of its own that calls nothing (no SERVICE can be
    spelled without "{", which no term holds): one query for all, or one each when one of them fails."""
    import pyoxigraph as ox

    store = ox.Store()

    def ask(batch: Sequence[str]) -> list | None:
        columns = " ".join(f"({term} AS ?e{i})" for i, term in enumerate(batch))
        try:
            row = next(iter(store.query(f"{prologue}\nSELECT {columns} {{}}", base_iri=base_iri)))
        except SyntaxError:
            return None
        return [row[i] for i in range(len(batch))]

    unique = list(dict.fromkeys(terms))
    values = ask(unique) if unique else []
    found = dict(zip(unique, values)) if values is not None else {t: (ask([t]) or [None])[0] for t in unique}
    return {term: value.value for term, value in found.items() if isinstance(value, ox.NamedNode)}


# ---------------------------------------------------------------- what a query is, before it runs


@dataclass(frozen=True)
class Inspection:
    """What reading a query before the engine found: its kind of answer ("solutions", "boolean", "graph"; None when
    it is no query), whether it names its own dataset (FROM, FROM NAMED), and the SERVICE calls it can make
    (``calls``; ``services``, their endpoints)."""

    kind: str | None
    names_dataset: bool
    calls: tuple[ServiceCall, ...] = ()

    @property
    def services(self) -> tuple[str, ...]:
        return tuple(call.endpoint for call in self.calls)


def inspect(text: str, allowlist: Sequence[str] = (), *, parse: bool = False) -> Inspection:
    """Read query ``text`` once before the engine: refuse what this endpoint never runs, and say what it is.

    The depth, the query form and FROM are read with the engine's lexical rules, the SERVICE calls wherever the
    engine can read one (:func:`service_calls`). With ``parse`` (a remote store, to which nothing but a query may be
    sent) rdflib parses the text too, and the kind and dataset clause come from that parse.
    Raises BadQuery for a query deeper than MAX_NESTING or MAX_CHAIN (see :func:`depth`), for SERVICE places
    :func:`service_calls` refuses, and for text rdflib cannot parse when it parses; Forbidden for a SPARQL Update it
    parses, for a SERVICE endpoint off ``allowlist`` and for a variable SERVICE endpoint.
    """
    scanner = _Scanner(text)
    _refuse_depth(scanner.read())
    calls = tuple(service_calls(text, strict=parse))
    _refuse_services(calls, allowlist)
    if not parse:
        return Inspection(scanner.form or None, scanner.dataset, calls)
    tree = _parse(text)
    return Inspection(KINDS[tree[1].name], "datasetClause" in tree[1], calls)


def _refuse_depth(measured: Depth) -> None:
    over = "" if measured.complete else "at least "
    if measured.nesting > MAX_NESTING:
        raise BadQuery(
            f"the query is nested too deeply: {over}{measured.nesting} levels deep in {{…}}, (…), […], <<…>> and "
            f"unary operators such as !; at most {MAX_NESTING} are allowed"
        )
    if measured.chain > MAX_CHAIN:
        raise BadQuery(
            f"the query is nested too deeply: its patterns and operators chain {over}{measured.chain} levels deep "
            "(each bracket, each triple pattern, path step, OPTIONAL, MINUS, UNION, BIND or FILTER of a group, each "
            f"operand of || && + - * / …); at most {MAX_CHAIN} are allowed: split the query, or list values in VALUES "
            "or IN"
        )


def _refuse_services(calls: Sequence[ServiceCall], allowlist: Sequence[str]) -> None:
    allowed = set(allowlist)
    for call in calls:
        if call.endpoint[0] in "?$":
            raise Forbidden(
                f"SERVICE {call.endpoint} is not allowed: a variable endpoint cannot be checked against the "
                "allowlist before the query runs; write the endpoint's IRI"
            )
        if call.endpoint not in allowed:
            raise Forbidden(
                f"SERVICE <{call.endpoint}> is not allowed: federated queries may only call "
                f"endpoints on the configured allowlist ({', '.join(sorted(allowed)) or 'empty'})"
            )


def _parse(text: str):
    """rdflib's parse tree of query ``text``. Raises as :func:`refuse_update` when it is no query rdflib reads."""
    from rdflib.plugins.sparql.parser import parseQuery

    try:
        return parseQuery(text)
    except Exception as exc:  # pyparsing errors and bare Exception for unknown prefixes
        refuse_update(text, exc)


def refuse_update(text: str, exc: Exception) -> None:
    """Raise Forbidden when ``text``, which ``exc`` says is no query, is a SPARQL Update; else BadQuery with ``exc``."""
    from rdflib.plugins.sparql.parser import parseUpdate

    try:
        update = parseUpdate(text)
    except Exception:  # not an update either: report the query parser's own message
        raise BadQuery(f"SPARQL syntax error: {exc}") from exc
    operations = [getattr(op, "name", "update") for op in update.get("request", [])]
    names = ", ".join(sorted({re.sub(r"(?<!^)(?=[A-Z])", " ", n).upper() for n in operations})) or "UPDATE"
    raise Forbidden(f"SPARQL Update ({names}) is not allowed: this endpoint is read-only") from exc


def relay_services(text: str, calls: Sequence[ServiceCall], service_allowlist: Sequence[str], relay: str) -> str:
    """``text`` with the endpoint term of each of ``calls`` (inspected: all on the allowlist) replaced by
    ``<{relay}{its index in the allowlist}>``, and nothing else: a string that mentions an endpoint stays as it is.

    Raises BadQuery when two calls' terms overlap (the engine reads one of them; which cannot be told here), and
    Forbidden when the rewritten text still spells a call that does not go to the relay.
    """
    index = {endpoint: i for i, endpoint in enumerate(service_allowlist)}
    ordered = sorted(set(calls), key=lambda call: (call.start, call.end))
    for before, after in zip(ordered, ordered[1:]):
        if after.start < before.end:
            raise BadQuery(f"the SERVICE endpoints {before.term} and {after.term} overlap: write one IRI after SERVICE")
    for call in reversed(ordered):
        text = f"{text[: call.start]}<{relay}{index[call.endpoint]}>{text[call.end :]}"
    stray = [call.endpoint for call in service_calls(text) if not call.endpoint.startswith(relay)]
    if stray:
        raise Forbidden(f"SERVICE <{stray[0]}> cannot be relayed")
    return text
