"""Where SPARQL on oxigraph would answer otherwise than pySHACL on rdflib: rdflib's reading of values,
when SPARQL REGEX (Rust syntax) gives Python's answer, and REPLACE and REGEX evaluated as rdflib does."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from datetime import time as time_of_day
from decimal import Decimal

import pyoxigraph as ox
from rdflib import RDF, XSD, Literal, Node, URIRef

from shiquan.graph.shacl.store import Term
from shiquan.terms import XSD_STRING, to_rdflib


def _string_form(value: Node) -> str:
    """The string of a value that pySHACL tests for sh:pattern and the length constraints."""
    if isinstance(value, Literal) and value.value is not None and value.datatype in (None, RDF.langString, XSD.string):
        return str(value.value)
    return str(value)


_PYTHON_TYPES: dict[URIRef, type | tuple[type, ...]] = {
    XSD.string: (str, bytes),
    XSD.integer: int,
    XSD.float: float,
    XSD.decimal: Decimal,
    XSD.boolean: bool,
    XSD.date: date,
    XSD.time: time_of_day,
    XSD.dateTime: datetime,
}


def _well_typed(value: Literal, datatype: URIRef) -> bool:
    """Whether pySHACL accepts ``value``, a literal of ``datatype``, as well-typed: rdflib's reading of it."""
    if getattr(value, "ill_typed", None) is True:
        return False
    wanted = _PYTHON_TYPES.get(datatype)
    return wanted is None or isinstance(value.value, wanted)


def _order(value: Literal, bound: Literal) -> int:
    """The order of two literals as pySHACL's range constraints see it (may raise TypeError)."""
    if value.eq(bound):
        return 0
    if value.value.__class__ in (datetime, time_of_day):
        if value.value == bound.value:
            return 0
        if value.value > bound.value:
            return 1
    elif value > bound:
        return 1
    return -1


_META_ESCAPES = set("\\.^$|?*+()[]{}-/")
_CLASS_ESCAPES = set("dDsSwW")
_QUANTIFIER = re.compile(r"\{(\d+)(,(\d*))?\}")


def _rust_agrees(pattern: str, flags: str) -> bool:
    """Whether Rust's regex finds a match exactly where Python's ``re.search`` does, on printable-ASCII text.

    True only for a conservative subset of syntax: literals, escaped metacharacters,
    ``\\d \\s \\w`` and their negations, ``.``, ``^``, ``$``, groups, ``(?:``, alternation,
    greedy and lazy quantifiers, and plain character classes with ranges; with the
    ``i`` flag the pattern must be ASCII. On text without newlines or non-ASCII
    characters the two engines read such a pattern alike.
    """
    if "i" in flags and not pattern.isascii():
        return False
    i, n = 0, len(pattern)
    after_atom = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            if i + 1 >= n or (pattern[i + 1] not in _META_ESCAPES and pattern[i + 1] not in _CLASS_ESCAPES):
                return False
            i, after_atom = i + 2, True
        elif ch == "[":
            end = _class_end(pattern, i)
            if end < 0:
                return False
            i, after_atom = end + 1, True
        elif ch == "(":
            if pattern.startswith("(?", i) and not pattern.startswith("(?:", i):
                return False
            i, after_atom = i + (3 if pattern.startswith("(?:", i) else 1), False
        elif ch in "*+?{":
            match = _QUANTIFIER.match(pattern, i) if ch == "{" else None
            if not after_atom or (ch == "{" and (match is None or (match.group(3) and int(match.group(3)) < int(match.group(1))))):
                return False
            i = match.end() if match else i + 1
            if i < n and pattern[i] == "?":
                i += 1
            if i < n and pattern[i] in "*+?{":
                return False
            after_atom = False
        elif ch in "}]":
            return False
        else:
            i, after_atom = i + 1, ch not in "|^$"
    return True


def _class_atom(pattern: str, i: int) -> tuple[int, bool]:
    """The end of the character-class item at ``i`` and whether it is a single character (-1 if not plain)."""
    ch = pattern[i]
    if ch == "\\":
        if i + 1 >= len(pattern):
            return -1, False
        if pattern[i + 1] in _CLASS_ESCAPES:
            return i + 2, False
        return (i + 2, True) if pattern[i + 1] in _META_ESCAPES else (-1, False)
    return (-1, False) if ch in "[]&~-" else (i + 1, True)


def _class_end(pattern: str, start: int) -> int:
    """The index of the ``]`` closing the plain character class at ``start``, or -1 if it is not plain."""
    i, n, items = start + 1, len(pattern), 0
    if i < n and pattern[i] == "^":
        i += 1
    while i < n:
        if pattern[i] == "]":
            return i if items else -1
        end, single = _class_atom(pattern, i)
        if end < 0:
            return -1
        i, items = end, items + 1
        if i < n and pattern[i] == "-":
            if not single or i + 1 >= n or pattern[i + 1] == "]":
                return -1
            end, single = _class_atom(pattern, i + 1)
            if end < 0 or not single:
                return -1
            i = end
    return -1


def _string_argument(term: Term) -> Literal:
    """A SPARQL function's string argument, refused (ValueError) as rdflib refuses it."""
    value = to_rdflib(term)
    if not isinstance(value, Literal) or (value.datatype is not None and value.datatype != XSD.string):
        raise ValueError("not a string literal")
    return value


def _string_text(term: Term) -> tuple[str, str | None]:
    """The text and language of a SPARQL function's string argument, refused (ValueError) as rdflib refuses it.

    A simple or language-tagged literal is read directly: rdflib reads it as the same text and language, and building
    its rdflib literal cost most of REPLACE (17 against 6 us a call on an assignment's quote; quoteInSource took
    1.08 s of CPU on national3 before, 0.90 s after, medians of six runs on a loaded machine).
    """
    if isinstance(term, ox.Literal) and (term.language or term.datatype.value == XSD_STRING):
        return term.value, term.language
    value = _string_argument(term)
    return str(value), value.language


def _regex_flags(term: Term | None) -> int:
    flags = {"i": re.IGNORECASE, "s": re.DOTALL, "m": re.MULTILINE}
    return 0 if term is None else sum({flags.get(f, 0) for f in str(to_rdflib(term))})


def _memoised(fn: Callable[..., Term | None]) -> Callable[..., Term | None]:
    """``fn`` answering each tuple of arguments once; an error (ValueError, re.error) is an unbound result."""
    answers: dict[tuple, Term | None] = {}
    missing = object()

    def wrapped(*args: Term) -> Term | None:
        # One look-up, not two: hashing the arguments is most of a remembered answer's cost (pyoxigraph hashes a
        # plan's whole source text each time: 1.4 to 1.8 against 2.6 to 3.8 us a remembered call on 1,800 characters).
        answer = answers.get(args, missing)
        if answer is missing:
            try:
                answer = fn(*args)
            except (ValueError, TypeError, re.error):
                answer = None
            answers[args] = answer
        return answer

    return wrapped


def _rdflib_replace(text: Term, pattern: Term, replacement: Term, flags: Term | None = None) -> Term:
    """REPLACE as rdflib evaluates it: Python's re.sub, ``$1`` read as ``\\1``, and the flags passed as count.
    Raises ValueError for an argument that is not a string literal, re.error for a bad pattern."""
    string, language = _string_text(text)
    substitute = re.sub("\\$([0-9]*)", r"\\\1", _string_text(replacement)[0])
    result = re.sub(_string_text(pattern)[0], substitute, string, count=_regex_flags(flags))
    return ox.Literal(result, language=language) if language else ox.Literal(result)


def _rdflib_regex(text: Term, pattern: Term, flags: Term | None = None) -> Term:
    """REGEX as rdflib evaluates it: Python's re.search."""
    found = re.search(_string_text(pattern)[0], _string_text(text)[0], _regex_flags(flags))
    return ox.Literal(found is not None)


_RDFLIB_FUNCTIONS = {"REPLACE": _rdflib_replace, "REGEX": _rdflib_regex}
