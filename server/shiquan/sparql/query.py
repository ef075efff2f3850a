"""Check, run and serialise SPARQL queries: the only module that knows the engine (pyoxigraph)."""

from __future__ import annotations

import csv
import io
import json
import re
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

from shiquan.errors import (
    BadQuery,
    BadRequest,
    Forbidden,
    NotAcceptable,
    QueryTimeout,
    RemoteServiceFailed,
    ResultTooLarge,
    ShiquanError,
)
from shiquan.vocab import PREFIXES, curie

# Media types of the answers, by kind of query.
RESULTS_TYPES = {
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
GRAPH_TYPES = {
    "text/turtle": ox.RdfFormat.TURTLE,
    "application/n-triples": ox.RdfFormat.N_TRIPLES,
    "application/rdf+xml": ox.RdfFormat.RDF_XML,
    "application/ld+json": ox.RdfFormat.JSON_LD,
}
# Short names for a `format` parameter or `--output`, by kind of answer (SPARQLWrapper sends these too).
RESULTS_NAMES = {
    "json": "application/sparql-results+json",
    "xml": "application/sparql-results+xml",
    "csv": "text/csv",
    "tsv": "text/tab-separated-values",
}
GRAPH_NAMES = {
    "turtle": "text/turtle",
    "ttl": "text/turtle",
    "n3": "text/turtle",
    "nt": "application/n-triples",
    "ntriples": "application/n-triples",
    "n-triples": "application/n-triples",
    "xml": "application/rdf+xml",
    "rdf": "application/rdf+xml",
    "rdfxml": "application/rdf+xml",
    "rdf+xml": "application/rdf+xml",
    "json": "application/ld+json",
    "jsonld": "application/ld+json",
    "json-ld": "application/ld+json",
}

# Other media types clients ask for, and the type we answer them with, by kind of answer.
RESULTS_ALIASES = {
    "application/json": "application/sparql-results+json",
    "application/xml": "application/sparql-results+xml",
    "text/xml": "application/sparql-results+xml",
}
GRAPH_ALIASES = {
    "application/json": "application/ld+json",
    "text/plain": "application/n-triples",
    "application/xml": "application/rdf+xml",
    "text/xml": "application/rdf+xml",
    "application/x-turtle": "text/turtle",
}

_SERVICE = re.compile(r"\bSERVICE\b", re.IGNORECASE)

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
# Each limit keeps the engine within a quarter of its stack (200 × 10 KiB, 600 × 3.2 KiB); test_query.py checks
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


def depth(text: str) -> Depth:
    """How deep the engine's parser and evaluator would recurse on ``text``: an upper bound, never an under-count.

    Reads the query with the engine's own lexical rules, so that brackets inside strings, IRIs and comments are
    skipped only where the parser skips them too: "<" after an operand in an expression compares, anywhere else it
    starts an IRI; keywords match as prefixes, as the parser matches them. Stops reading 64 KiB past a limit.
    """
    root = _Frame("root", "", 0, None)
    frames = [root]
    nest = links = run = 0  # open levels (each with its unary operators), chained links, unary operators pending
    deepest = longest = 0
    operand = datatype = False  # the last token ends an operand; the last token is "^^"
    no_gt_from = len(text) + 1  # no ">" at or after this position (an unterminated IRI is looked for once)
    pos, stop = 0, len(text)

    def grown() -> None:
        nonlocal deepest, longest, stop
        deepest = max(deepest, nest + run)
        longest = max(longest, nest + run + links)
        if stop == len(text) and (deepest > MAX_NESTING or longest > MAX_CHAIN):
            stop = min(stop, pos + _READ_ON)

    def link(frame: _Frame, count: int = 1) -> None:
        nonlocal links
        frame.links += count
        links += count
        grown()

    def flush(frame: _Frame) -> None:
        if frame.triple:
            frame.triple = False
            link(frame.group)

    def term() -> None:
        """An operand: a variable, IRI, literal, or bracketed term."""
        nonlocal run, operand
        run, operand = 0, True
        frame = frames[-1]
        if frame.kind in _PATTERNS:
            frame.triple, frame.state = True, _NEXT[frame.state]
        elif frame.kind == "list":  # a collection's item is two triple patterns
            link(frame.group, 2)

    def push(kind: str, closer: str, state: int = _SUBJECT, rows: int = 0) -> None:
        nonlocal nest, run, operand
        parent, unary = frames[-1], run + rows
        if kind in ("list", "node", "term") and parent.kind in ("group", "node", "list"):
            term()  # a bracketed term stands where a variable or IRI would
        frames.append(_Frame(kind, closer, unary, None if kind in ("group", "select") else parent.group, state))
        nest += 1 + unary
        run, operand = 0, False
        grown()

    def pop() -> None:
        nonlocal nest, links, operand
        frame = frames.pop()
        flush(frame)
        nest -= 1 + frame.unary
        links -= frame.links
        parent = frames[-1]
        if parent.kind == "group" and frame.kind in ("group", "select", "expr", "data"):
            parent.state = _SUBJECT  # a sub-group, FILTER, BIND or VALUES ended
        operand = True

    def close(closer: str) -> None:
        if frames[-1].closer == closer:  # a closer that does not match is a syntax error: keep counting the frame
            pop()

    complete = True
    while True:
        if pos >= stop:
            complete = pos >= len(text)
            break
        top = frames[-1]
        if top.kind == "data":
            pos = _PLAIN_DATA.match(text, pos).end()
        elif top.kind == "expr" and not operand and (plain := _PLAIN_LIST.match(text, pos)):
            pos, run = plain.end(), 0
        match = _TOKEN.match(text, pos)
        kind = match.lastgroup
        if kind is None:
            break
        pos = match.end()
        pending = top.filter
        if pending:
            top.filter = 0
        fresh = top.fresh
        if fresh:
            top.fresh = False
        after_datatype, datatype = datatype, False
        expr = top.kind == "expr"
        if kind == "char":
            char = match.group(kind)
        elif kind == "pname":
            if after_datatype:  # "…"^^xsd:int
                operand = True
                continue
            if top.kind == "group" and top.state != _VERB and _FILTER_NAME.match(match.group(kind)):
                top.filter = 1  # "filter:f(" may be FILTER :f(
            elif pending == 2:
                top.filter = 1  # FILTER ex:f(
            term()
            continue
        elif kind == "word":
            word = match.group(kind).upper()
            if expr:
                if word in _VALUE_WORDS:
                    term()
                else:
                    operand = False  # a function's name, IN, NOT, AS, DISTINCT …: an operand comes next
            elif top.kind == "group":
                if fresh and word.startswith("SELECT"):
                    top.kind = "select"
                elif "FILTER" in word or "BIND" in word:
                    flush(top)
                    link(top)
                    top.filter, top.state = 2 if word == "FILTER" else 1, _SUBJECT
                elif word in _ELEMENTS or word == "VALUES":
                    flush(top)
                    link(top)
                    top.state = _SUBJECT
                    top.block = word != "VALUES"
                    top.values = word == "VALUES"
                elif pending:
                    top.filter, top.block = 1, True  # FILTER regex(, FILTER NOT EXISTS {
                else:
                    term()  # a, true, false
            elif top.kind in ("root", "select"):
                top.values = top.values or word == "VALUES"
            else:
                term()  # a, true, false, UNDEF
            continue
        elif kind == "langtag":
            operand = True
            continue
        else:  # a variable, number or blank node
            term()
            continue
        if char in "\"'":
            start = pos - 1
            found = None
            if text.startswith(char * 3, start):
                found = _STRINGS[char * 3].match(text, start)
                if found and not _valid_escapes(found.group()):
                    found = None  # then the parser reads an empty string of two quotes, and goes on
            found = found or _STRINGS[char].match(text, start)
            if found and not _valid_escapes(found.group()):
                found = None
            if found:
                pos = found.end()
                term()
            # else an unterminated string, where the parser stops: read on as code, over-counting at worst
        elif char == "<":
            if expr and operand:  # a comparison
                pos += text.startswith("=", pos)
                link(top)
                operand = False
            elif text.startswith("<(", pos):
                pos += 2
                push("term", ")>>")
            elif text.startswith("<", pos):
                pos += 1
                push("node", ">>")
                link(frames[-1].group, 2)  # a reified triple pattern adds its reification
            else:  # an IRI: the parser reads to the next ">", whatever comes between (and fails when it is no IRI)
                gt = text.find(">", pos) if pos < no_gt_from else -1
                if gt < 0:
                    no_gt_from = min(no_gt_from, pos)
                else:
                    pos = gt + 1
                    if after_datatype:
                        operand = True
                    else:
                        if pending == 2:
                            top.filter = 1  # FILTER <function>(
                        term()
        elif char == ">":
            if expr:
                pos += text.startswith("=", pos)
                link(top)
                operand = False
            elif text.startswith(">", pos):
                pos += 1
                close(">>")
        elif char == ")":
            if top.closer == ")>>" and text.startswith(">>", pos):
                pos += 2
                pop()
            else:
                close(")")
        elif char == "]":
            close("]")
        elif char == "}":
            close("}")
        elif char == "|":
            if top.closer == "|}" and text.startswith("}", pos):
                pos += 1
                pop()
            elif text.startswith("|", pos):
                pos += 1
                link(top)
                operand = False
            else:  # a path alternative
                link(top.group)
                top.state = _VERB
        elif char == "{":
            if text.startswith("|", pos):
                pos += 1
                link(top.group)
                push("node", "|}", _VERB)
            elif top.kind == "data" or top.values:
                top.values = False
                push("data", "}", rows=1)  # and its rows, read with it
            else:
                if top.kind == "group":
                    flush(top)
                    if not (top.block or pending):
                        link(top)  # a group inside a group is joined to what comes before it
                top.block = False
                push("group", "}")
        elif char == "(":
            if expr or (top.kind == "group" and pending):
                push("expr", ")")
            elif top.kind == "data" or top.values:
                push("data", ")")
            elif top.kind in ("root", "select"):  # a SELECT expression, a GROUP BY, HAVING or ORDER BY condition
                link(top)
                push("expr", ")")
            else:  # a collection, or a path
                push("list", ")")
        elif char == "[":
            push("data" if top.kind == "data" else "node", "]", _VERB)
        elif char == "!":
            if text.startswith("=", pos):
                pos += 1
                link(top)
                operand = False
            else:
                run += 1
                grown()
                if top.kind in _PATTERNS:
                    top.state = _VERB
        elif char == "^":
            if text.startswith("^", pos):
                pos += 1
                datatype, operand = True, False
            else:
                run += 1
                grown()
                if top.kind in _PATTERNS:
                    top.state = _VERB
        elif char in "&=":
            pos += char == "&" and text.startswith("&", pos)
            if expr:
                link(top)
            operand = False
        elif char in "+-*/":
            if expr:
                if operand:
                    link(top)
                elif char in "+-":
                    run += 1
                    grown()
                operand = False
            elif char == "/":  # a path step
                link(top.group)
                if top.kind in _PATTERNS:
                    top.state = _VERB
        elif char == "." and (top.kind not in _PATTERNS or top.state in (_SUBJECT, _OBJECT)) and (
            decimal := _DECIMAL.match(text, pos - 1)
        ):
            pos = decimal.end()  # ".5", where a term may stand; elsewhere "." ends a triple pattern
            term()
        elif char in ",;.":
            if top.kind in _PATTERNS:
                flush(top)
                top.state = _SUBJECT if char == "." else _VERB if char == ";" else _OBJECT
            operand = False
        else:  # "*", "?", "~", "$" … in a path or pattern, or no SPARQL at all
            operand = False
    return Depth(deepest, longest, complete)


def _valid_escapes(token: str) -> bool:
    """Whether every \\u and \\U escape in a string token is a code point (not a surrogate, not past U+10FFFF)."""
    if "\\u" not in token and "\\U" not in token:
        return True
    for match in _UNICODE_ESCAPE.finditer(token):
        code = match.group(1) or match.group(2)
        if code and (int(code, 16) > 0x10FFFF or 0xD800 <= int(code, 16) <= 0xDFFF):
            return False
    return True


@dataclass
class Answer:
    """A query's answer, fully read: ``kind`` is "boolean", "solutions" or "graph"."""

    kind: str
    variables: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    triples: list[ox.Triple] = field(default_factory=list)
    boolean: bool | None = None

    @property
    def media_types(self) -> list[str]:
        return list(GRAPH_TYPES if self.kind == "graph" else RESULTS_TYPES)


def service_endpoints(text: str) -> list[str]:
    """The IRIs a query calls with SERVICE (variables count as "?var").

    Raises BadQuery when the query cannot be parsed.
    """
    from rdflib.plugins.sparql.parser import parseQuery

    try:
        tree = parseQuery(text)
    except Exception as exc:  # pyparsing errors and bare Exception for unknown prefixes
        raise BadQuery(f"SPARQL syntax error: {exc}") from exc
    prologue = {p.prefix: str(p.iri) for p in tree[0] if getattr(p, "name", "") == "PrefixDecl" and "iri" in p}
    found: list[str] = []

    def walk(node) -> None:
        if getattr(node, "name", None) == "ServiceGraphPattern":
            term = node.get("term")
            if getattr(term, "name", None) == "pname":
                found.append(prologue.get(term.get("prefix") or "", "") + (term.get("localname") or ""))
            elif hasattr(term, "n3") and term.__class__.__name__ == "Variable":
                found.append(f"?{term}")
            else:
                found.append(str(term))
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                walk(value)

    walk(tree[1])
    return found


def check(text: str, service_allowlist: Sequence[str] = ()) -> None:
    """Refuse what this endpoint never runs: a query nested too deeply for the engine, SERVICE off ``service_allowlist``.

    Raises BadQuery for a query deeper than MAX_NESTING or MAX_CHAIN (see :func:`depth`) and for a query that
    mentions SERVICE but cannot be parsed; Forbidden naming a SERVICE endpoint off the allowlist.
    """
    measured = depth(text)
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
    if not _SERVICE.search(text):
        return
    allowed = set(service_allowlist)
    for endpoint in service_endpoints(text):
        if endpoint not in allowed:
            raise Forbidden(
                f"SERVICE <{endpoint.lstrip('?')}> is not allowed: federated queries may only call "
                f"endpoints on the configured allowlist ({', '.join(sorted(allowed)) or 'empty'})"
            )


def _refuse_update(text: str, exc: SyntaxError) -> None:
    """Raise Forbidden when ``text``, which is no query, is a SPARQL Update; else BadQuery."""
    from rdflib.plugins.sparql.parser import parseUpdate

    try:
        update = parseUpdate(text)
    except Exception:  # not an update either: report the query parser's own message
        raise BadQuery(f"SPARQL syntax error: {exc}") from exc
    operations = [getattr(op, "name", "update") for op in update.get("request", [])]
    names = ", ".join(sorted({re.sub(r"(?<!^)(?=[A-Z])", " ", n).upper() for n in operations})) or "UPDATE"
    raise Forbidden(f"SPARQL Update ({names}) is not allowed: this endpoint is read-only") from exc


def relay_services(text: str, service_allowlist: Sequence[str], relay: str) -> str:
    """``text`` with each allowlisted SERVICE endpoint IRI replaced by ``{relay}{its index}``.

    Raises BadQuery when a SERVICE endpoint is not written as a full IRI (a
    prefixed name or a variable cannot be relayed).
    """
    for index, endpoint in enumerate(service_allowlist):
        text = text.replace(f"<{endpoint}>", f"<{relay}{index}>")
    stray = [e for e in service_endpoints(text) if not e.startswith(relay)]
    if stray:
        raise BadQuery(f"write SERVICE endpoints as full IRIs, e.g. <{stray[0].lstrip('?')}>; prefixed names and variables are not relayed")
    return text


def _graphs(iris: Iterable[str] | None) -> list[ox.NamedNode] | None:
    if iris is None:
        return None
    try:
        return [ox.NamedNode(iri) for iri in iris]
    except ValueError as exc:
        raise BadQuery(f"bad graph IRI: {exc}") from exc


def run(
    store: ox.Store,
    text: str,
    *,
    default_graph_uris: Sequence[str] | None = None,
    named_graph_uris: Sequence[str] | None = None,
    service_allowlist: Sequence[str] = (),
    service_relay: str | None = None,
    timeout_s: float | None = None,
    max_rows: int | None = None,
) -> Answer:
    """Run one SPARQL query over ``store`` and read its whole answer.

    The default graph is the union of all named graphs unless
    ``default_graph_uris`` names graphs (SPARQL Protocol ``default-graph-uri``).
    With ``service_relay`` (a URL prefix), each SERVICE call goes to
    ``{service_relay}{index in the allowlist}`` instead, where the server relays
    it under its per-call time limit (see :func:`relay_services`).
    Raises BadQuery (syntax, with the parser's position), Forbidden (SPARQL
    Update, SERVICE off the allowlist), ResultTooLarge (over ``max_rows``),
    QueryTimeout (over ``timeout_s`` while the answer is read) and
    RemoteServiceFailed (a SERVICE call failed).
    """
    check(text, service_allowlist)
    if service_relay and _SERVICE.search(text):
        text = relay_services(text, service_allowlist, service_relay)
    kwargs: dict = {"prefixes": None}
    default = _graphs(default_graph_uris)
    named = _graphs(named_graph_uris)
    if default:
        kwargs["default_graph"] = default
    else:
        kwargs["use_default_graph_as_union"] = True
    if named:
        kwargs["named_graphs"] = named
    deadline = time.perf_counter() + timeout_s if timeout_s else None
    try:
        result = store.query(text, **kwargs)
    except SyntaxError as exc:  # pyoxigraph: "error at 1:7: expected …"
        _refuse_update(text, exc)
    # pyoxigraph's results may only be dropped in the thread that made them. An exception raised while reading
    # keeps the reading frames, and with them the result, alive until the garbage collector frees them, maybe in
    # another thread; so the exception leaves without its traceback, after this thread has dropped the result.
    error: Exception
    try:
        return _read(result, max_rows, deadline, timeout_s)
    except OSError as exc:  # raised while evaluating: only a SERVICE call does I/O beyond the store
        if not _SERVICE.search(text):
            raise
        error = RemoteServiceFailed(f"a SERVICE call failed: {exc}")
    except ShiquanError as exc:
        error = exc.with_traceback(None)
    finally:
        del result
    raise error


def _read(result, max_rows: int | None, deadline: float | None, timeout_s: float | None) -> Answer:
    """Read a pyoxigraph result in full, within the row and time limits."""
    if isinstance(result, ox.QueryBoolean):
        return Answer("boolean", boolean=bool(result))
    if isinstance(result, ox.QuerySolutions):
        names = [v.value for v in result.variables]
        width = range(len(names))
        rows = [tuple(s[i] for i in width) for s in _bounded(result, "rows", max_rows, deadline, timeout_s)]
        return Answer("solutions", variables=names, rows=rows)
    return Answer("graph", triples=list(_bounded(result, "triples", max_rows, deadline, timeout_s)))


def _bounded(items, what: str, max_items: int | None, deadline: float | None, timeout_s: float | None):
    """Yield ``items``, raising ResultTooLarge past ``max_items`` and QueryTimeout past ``deadline``."""
    for count, item in enumerate(items, 1):
        if max_items is not None and count > max_items:
            raise ResultTooLarge(f"the answer has more than {max_items} {what}; add a LIMIT or narrow the query")
        if deadline and count % 256 == 0 and time.perf_counter() > deadline:
            raise QueryTimeout(f"the query ran over the {timeout_s:g} s limit and was stopped")
        yield item
    if deadline and time.perf_counter() > deadline:
        raise QueryTimeout(f"the query ran over the {timeout_s:g} s limit and was stopped")


# ---------------------------------------------------------------- serialisation


def _json_term(term) -> dict:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            out["datatype"] = term.datatype.value
        return out
    return {
        "type": "triple",
        "value": {"subject": _json_term(term.subject), "predicate": _json_term(term.predicate), "object": _json_term(term.object)},
    }


def _xml_term(term) -> str:
    if isinstance(term, ox.NamedNode):
        return f"<uri>{escape(term.value)}</uri>"
    if isinstance(term, ox.BlankNode):
        return f"<bnode>{escape(term.value)}</bnode>"
    if isinstance(term, ox.Literal):
        if term.language:
            return f"<literal xml:lang={quoteattr(term.language)}>{escape(term.value)}</literal>"
        if term.datatype.value != "http://www.w3.org/2001/XMLSchema#string":
            return f"<literal datatype={quoteattr(term.datatype.value)}>{escape(term.value)}</literal>"
        return f"<literal>{escape(term.value)}</literal>"
    return (
        f"<triple><subject>{_xml_term(term.subject)}</subject><predicate>{_xml_term(term.predicate)}</predicate>"
        f"<object>{_xml_term(term.object)}</object></triple>"
    )


def _csv_value(term) -> str:
    if term is None:
        return ""
    if isinstance(term, ox.BlankNode):
        return f"_:{term.value}"
    if isinstance(term, (ox.NamedNode, ox.Literal)):
        return term.value
    return str(term)


def serialize(answer: Answer, media_type: str) -> bytes:
    """The answer in ``media_type`` (one of ``answer.media_types``). Raises ValueError otherwise."""
    if media_type not in answer.media_types:
        raise ValueError(f"{media_type} cannot carry a {answer.kind} answer")
    if answer.kind == "graph":
        return ox.serialize(answer.triples, format=GRAPH_TYPES[media_type], prefixes=PREFIXES)
    fmt = RESULTS_TYPES[media_type]
    if fmt == "json":
        if answer.kind == "boolean":
            doc = {"head": {}, "boolean": answer.boolean}
        else:
            bindings = [
                {name: _json_term(term) for name, term in zip(answer.variables, row) if term is not None}
                for row in answer.rows
            ]
            doc = {"head": {"vars": answer.variables}, "results": {"bindings": bindings}}
        return json.dumps(doc, ensure_ascii=False).encode("utf-8")
    if fmt == "xml":
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">']
        if answer.kind == "boolean":
            parts.append(f"<head/><boolean>{'true' if answer.boolean else 'false'}</boolean>")
        else:
            parts.append("<head>" + "".join(f"<variable name={quoteattr(v)}/>" for v in answer.variables) + "</head><results>")
            for row in answer.rows:
                cells = "".join(
                    f"<binding name={quoteattr(name)}>{_xml_term(term)}</binding>"
                    for name, term in zip(answer.variables, row)
                    if term is not None
                )
                parts.append(f"<result>{cells}</result>")
            parts.append("</results>")
        parts.append("</sparql>\n")
        return "".join(parts).encode("utf-8")
    if answer.kind == "boolean":
        end = "\r\n" if fmt == "csv" else "\n"
        return (("_askResult" if fmt == "csv" else "?_askResult") + end + ("true" if answer.boolean else "false") + end).encode()
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(answer.variables)
        writer.writerows([_csv_value(term) for term in row] for row in answer.rows)
        return buffer.getvalue().encode("utf-8")
    lines = ["\t".join(f"?{v}" for v in answer.variables)]
    lines += ["\t".join("" if term is None else str(term) for term in row) for row in answer.rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def parse_accept(header: str) -> list[tuple[str, float]]:
    """The media ranges of an Accept header with their q-values, malformed parts skipped."""
    ranges = []
    for part in header.split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        if not re.fullmatch(r"[\w.+*-]+/[\w.+*-]+", media):
            continue
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(max(float(value), 0.0), 1.0)
                except ValueError:
                    q = 0.0
        ranges.append((media, q))
    return ranges


def negotiate(kind: str, accept: str | None, fmt: str | None = None) -> str:
    """The media type to answer a ``kind`` answer ("boolean", "solutions", "graph") in.

    ``fmt`` (a short name such as "csv", or a media type) overrides ``accept``.
    No Accept header, or */*, gives SPARQL JSON for results and Turtle for graphs.
    Raises BadRequest for an unknown ``fmt``, NotAcceptable when nothing we
    produce fits, listing what we do produce.
    """
    offered = list(GRAPH_TYPES if kind == "graph" else RESULTS_TYPES)
    aliases = GRAPH_ALIASES if kind == "graph" else RESULTS_ALIASES
    if fmt:
        name = fmt.lower()
        names = GRAPH_NAMES if kind == "graph" else RESULTS_NAMES
        wanted = names.get(name) or aliases.get(name, name)
        known = {*RESULTS_NAMES, *GRAPH_NAMES, *RESULTS_TYPES, *GRAPH_TYPES, *RESULTS_ALIASES, *GRAPH_ALIASES}
        if name not in known:
            raise BadRequest(f"unknown format {fmt!r}; use one of {', '.join(sorted({*RESULTS_NAMES, *GRAPH_NAMES}))} or a media type")
        if wanted not in offered:
            raise NotAcceptable(f"format {fmt!r} cannot carry a {kind} answer; use one of {', '.join(offered)}")
        return wanted
    if not accept or not accept.strip():
        return offered[0]
    best, best_q, best_rank = None, 0.0, (9, 0)
    for position, (media, q) in enumerate(parse_accept(accept)):
        target = aliases.get(media, media)
        if media == "*/*":
            matches, specificity = offered[:1], 2
        elif media.endswith("/*"):
            matches, specificity = [o for o in offered if o.startswith(media[:-1])][:1], 1
        else:
            matches, specificity = [target] if target in offered else [], 0
        for match in matches:
            rank = (specificity, position)
            if q > best_q or (q == best_q and q > 0 and rank < best_rank):
                best, best_q, best_rank = match, q, rank
    if best is None:
        raise NotAcceptable(f"cannot answer a {kind} query in {accept.strip()!r}; available: {', '.join(offered)}")
    return best


def compact(term) -> str:
    """A short human reading of a term: prefixed names, literal values with their language."""
    if term is None:
        return ""
    if isinstance(term, ox.NamedNode):
        return curie(term.value)
    if isinstance(term, ox.Literal):
        return f"{term.value}@{term.language}" if term.language else term.value
    return str(term)


def table(answer: Answer) -> str:
    """The answer as an aligned text table (SELECT), a word (ASK) or Turtle (graph)."""
    if answer.kind == "boolean":
        return "true" if answer.boolean else "false"
    if answer.kind == "graph":
        return serialize(answer, "text/turtle").decode("utf-8")
    cells = [[compact(t) for t in row] for row in answer.rows]
    widths = [_width(v) for v in answer.variables]
    for row in cells:
        widths = [max(w, _width(c)) for w, c in zip(widths, row)]
    lines = ["  ".join(_pad(v, w) for v, w in zip(answer.variables, widths)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(_pad(c, w) for c, w in zip(row, widths)).rstrip() for row in cells]
    lines.append(f"({len(cells)} row{'s' if len(cells) != 1 else ''})")
    return "\n".join(lines)


def _width(text: str) -> int:
    """Display width: CJK and full-width characters take two columns."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - _width(text))
