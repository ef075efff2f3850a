"""SHACL-SPARQL constraints, rewritten to run for all focus nodes at once."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rdflib import OWL, RDF, RDFS, SH, Graph, Literal, Node

from shiquan.errors import BadInput
from shiquan.graph.shacl.compat import _RDFLIB_FUNCTIONS, _memoised
from shiquan.graph.shacl.components import Focus, _Raw, _Shape
from shiquan.graph.shacl.store import Row, Term, _data_namespaces, _rdflib
from shiquan.sparql.text import Token as _Token
from shiquan.sparql.text import tokens as _tokens
from shiquan.terms import to_rdflib

_AGGREGATES = {"COUNT", "SUM", "MIN", "MAX", "AVG", "SAMPLE", "GROUP_CONCAT"}
_THIS_BOUND = re.compile(r"([\s{}()])[$?]this")  # pySHACL pre-binds $this when this matches
# Words that keep a NOT EXISTS block from being rewritten into OPTIONAL (see _SparqlConstraint.query).
_NOT_PLAIN = {"OPTIONAL", "MINUS", "BIND", "VALUES", "GRAPH", "SERVICE", "SELECT", "UNION", "EXISTS"}


@dataclass
class _Frame:
    """A ``{ … }`` group met while reading a query: what kind it is and what was seen in it."""

    kind: str  # "where" (the query's own), "exists", "select" (a sub-select) or "group"
    parens: int = 0
    projecting: bool = False  # a sub-select before its WHERE group
    mentions_this: bool = False
    selects_this: bool = False
    limited: bool = False


def _is_this(token: _Token) -> bool:
    """Whether ``token`` is the variable $this (or ?this), which SHACL-SPARQL pre-binds to the focus node."""
    return token.kind == "variable" and token.text[1:] == "this"


def _plain_not_exists(tokens: list[_Token], where: int, close: int) -> list[tuple[int, int, int]]:
    """The ``FILTER NOT EXISTS { … }`` blocks directly in the WHERE group whose body is triples and filters only.

    Each as the indexes of its FILTER, its opening and its closing brace.
    """
    blocks, depth, i = [], 0, where + 1
    while i < close:
        t = tokens[i]
        depth += (t.text == "{") - (t.text == "}")
        if depth == 0 and t.word == "FILTER" and [x.word for x in tokens[i + 1:i + 3]] == ["NOT", "EXISTS"] \
                and tokens[i + 3].text == "{":
            j, inner, plain = i + 4, 1, True
            while inner:
                inner += (tokens[j].text == "{") - (tokens[j].text == "}")
                plain &= tokens[j].text != "{" and tokens[j].word not in _NOT_PLAIN
                j += 1
            if plain:
                blocks.append((i, i + 3, j - 1))
            i = j
            continue
        i += 1
    return blocks


def _matching_brace(tokens: list[_Token], opening: int) -> int:
    """The index of the ``}`` closing the ``{`` at ``opening``."""
    depth = 0
    for i in range(opening, len(tokens)):
        depth += (tokens[i].text == "{") - (tokens[i].text == "}")
        if depth == 0:
            return i
    raise ValueError("unbalanced braces")


def _union_chains(tokens: list[_Token], where: int, close: int) -> list[tuple[int, int]]:
    """The ``{ … } UNION { … } …`` chains directly in the WHERE group, each as the indexes of its first ``{`` and
    last ``}``."""
    chains, i = [], where + 1
    while i < close:
        t = tokens[i]
        if t.text == "{" and tokens[i - 1].word not in ("OPTIONAL", "MINUS", "EXISTS") \
                and tokens[i - 2].word not in ("GRAPH", "SERVICE"):
            end = _matching_brace(tokens, i)
            last = end
            while tokens[last + 1].word == "UNION":
                last = _matching_brace(tokens, last + 2)
            if last != end:
                chains.append((i, last))
            i = last + 1
        elif t.text == "{":
            i = _matching_brace(tokens, i) + 1
        else:
            i += 1
    return chains


class _Compiling(Protocol):
    """What a SPARQL constraint asks of the compiler that reads it (:class:`~.compile._Compiler`)."""

    graph: Graph

    def name(self, node: Node) -> str: ...

    def refuse(self, shape: Node, what: Node, why: str = "") -> BadInput: ...

    def path(self, shape: _Shape) -> str: ...

    def function(self, key: tuple, fn: Callable[..., Term]) -> str: ...


class _SparqlConstraint:
    """A sh:sparql constraint rewritten to run for all focus nodes at once.

    pySHACL pre-binds ``$this`` to one focus node per query. Here the focus nodes are
    joined first in the query's outermost group, which gives the same solutions where
    ``$this`` appears in triple patterns, anywhere in the outermost group, or in (NOT)
    EXISTS. Other uses (a FILTER or BIND on ``$this`` in a nested group or sub-select, a
    sub-select using ``$this`` without selecting it or with LIMIT, top-level aggregates
    not grouped by ``$this``, top-level LIMIT) raise BadInput, as do MINUS, VALUES and
    SERVICE, which pySHACL refuses too.
    """

    def __init__(self, compiler: _Compiling, shape: _Shape, node: Node):
        g = compiler.graph
        self.compiler, self.shape, self.node = compiler, shape, node
        selects = list(g.objects(node, SH.select))
        if len(selects) != 1 or not (isinstance(selects[0], Literal) and isinstance(selects[0].value, str)):
            if (node, SH.ask, None) in g:
                raise compiler.refuse(shape.node, SH.ask, "SPARQL constraints need sh:select")
            raise self._bad("it needs exactly one string sh:select")
        self.select = str(selects[0].value)
        self.messages = list(dict.fromkeys(g.objects(node, SH.message)))
        if self.messages and not (isinstance(self.messages[0], Literal) and isinstance(self.messages[0].value, str)):
            raise self._bad("sh:message must be a string")
        deactivated = list(g.objects(node, SH.deactivated))
        if deactivated and not (isinstance(deactivated[0], Literal) and isinstance(deactivated[0].value, bool)):
            raise self._bad("sh:deactivated must be a boolean")
        self.deactivated = bool(deactivated and deactivated[0].value)
        self.selects_this = False

    def _bad(self, why: str) -> BadInput:
        return BadInput(f"SPARQL constraint {self.compiler.name(self.node)} of shape "
                        f"{self.compiler.name(self.shape.node)}: {why}")

    def _prefixes(self) -> dict[str, str]:
        """The data graph's prefixes (rdflib's fallback), under rdf, rdfs, owl and the sh:prefixes pySHACL declares."""
        g = self.compiler.graph
        prefixes = {p: str(ns) for p, ns in _data_namespaces().namespaces()}
        prefixes.update({"rdf": str(RDF), "rdfs": str(RDFS), "owl": str(OWL)})
        named = set(g.objects(g.identifier, SH.declare))
        ontologies = set(g.subjects(RDF.type, OWL.Ontology))
        everywhere = named | {d for o in ontologies for d in g.objects(o, SH.declare)}
        for value in g.objects(self.node, SH.prefixes):
            own = set(g.objects(value, SH.declare))
            for declaration in (own | named) if own and value in ontologies else (everywhere | own):
                names = list(g.objects(declaration, SH.prefix))
                namespaces = list(g.objects(declaration, SH.namespace))
                if len(names) != 1 or len(namespaces) != 1 or not isinstance(names[0], Literal):
                    raise self._bad("each sh:declare needs one sh:prefix and one sh:namespace")
                namespace = namespaces[0]
                prefixes[str(names[0].value)] = str(namespace.value if isinstance(namespace, Literal) else namespace)
        return prefixes

    def query(self, focus: Focus) -> str:
        """The constraint's query for all the focus nodes of ``focus``; BadInput where that would answer otherwise.

        Besides joining the focus nodes, two rewrites keep oxigraph fast and pySHACL's answers:
        a top-level ``FILTER NOT EXISTS { triples FILTER … }`` becomes the equivalent
        ``OPTIONAL { … BIND (true AS ?m) } FILTER (!BOUND(?m))`` (oxigraph evaluates a
        join or path inside EXISTS once per row without the row's bindings), and REPLACE
        and REGEX call Python functions that evaluate them as rdflib does, remembering
        answers (a plan's source text is cleaned once, not once per assignment).
        """
        text = self._text()
        tokens = _tokens(text)
        form = next((i for i, t in enumerate(tokens) if t.word in ("SELECT", "ASK", "CONSTRUCT", "DESCRIBE")), None)
        if form is None or tokens[form].word != "SELECT":
            raise self._bad("sh:select must hold a SELECT query")
        projection = _Projection.read(tokens, form, self._bad)
        close = self._check_where(tokens, projection.where)
        self._check_modifiers(tokens[close + 1:], projection.aggregates)
        self.selects_this = bool(_THIS_BOUND.search(text)) and projection.selects_this
        rewritten = _Rewriting(text, tokens, self._functions(tokens)).query(projection, close, focus)
        return "".join(f"PREFIX {p}: <{ns}>\n" for p, ns in self._prefixes().items()) + rewritten

    def _text(self) -> str:
        """The sh:select text with $PATH written out; BadInput for what pySHACL refuses or is not compiled."""
        text = self.select
        words = {t.word for t in _tokens(text)}
        for word in ("MINUS", "VALUES", "SERVICE"):
            if word in words:
                raise self._bad(f"{word} is not allowed in a SPARQL constraint")
        if re.search(r"[$?](currentShape|shapesGraph)\b", text):
            raise self._bad("$currentShape and $shapesGraph are not compiled")
        if re.search(r"([\s{}()])[$?]PATH\b", text):
            if not self.shape.is_property:
                raise self._bad("$PATH in a constraint of a shape without sh:path")
            text = re.sub(r"([\s{}()])[$?]PATH\b", lambda m: m.group(1) + self.compiler.path(self.shape), text)
        return text

    def _check_modifiers(self, modifiers: list[_Token], aggregates: bool) -> None:
        """Refuse LIMIT and OFFSET, and aggregation not grouped by $this, after the WHERE group."""
        words_after = [t.word for t in modifiers]
        if "LIMIT" in words_after or "OFFSET" in words_after:
            raise self._bad("LIMIT and OFFSET would apply to all focus nodes together; not compiled")
        if "GROUP" in words_after:
            keys = modifiers[words_after.index("GROUP"):]
            keys = keys[: next((k for k, t in enumerate(keys) if t.word in ("HAVING", "ORDER")), len(keys))]
            if not any(_is_this(t) for t in keys):
                raise self._bad("an aggregating query must GROUP BY $this to be compiled")
        elif aggregates or "HAVING" in words_after:
            raise self._bad("an aggregating query must GROUP BY $this to be compiled")

    def _functions(self, tokens: list[_Token]) -> dict[int, str]:
        """The REPLACE and REGEX calls among ``tokens`` (by index), each with the function that evaluates it as
        rdflib does."""
        return {k: self.compiler.function((t.word,), _memoised(_RDFLIB_FUNCTIONS[t.word])) for k, t in enumerate(tokens)
                if t.word in _RDFLIB_FUNCTIONS and k + 1 < len(tokens) and tokens[k + 1].text == "("}

    def _check_where(self, tokens: list[_Token], start: int) -> int:
        """Refuse the uses of $this that joining the focus nodes first would not bind; the WHERE's closing brace."""
        frames: list[_Frame] = []
        for i in range(start, len(tokens)):
            t = tokens[i]
            if t.text == "{":
                previous, following = tokens[i - 1].word, tokens[i + 1].word if i + 1 < len(tokens) else ""
                if frames and frames[-1].kind == "select":
                    frames[-1].projecting = False
                kind = ("where" if not frames else "exists" if previous == "EXISTS"
                        else "select" if following == "SELECT" else "group")
                frames.append(_Frame(kind, projecting=kind == "select"))
            elif t.text == "}":
                frame = frames.pop()
                if frame.kind == "select" and frame.mentions_this and (not frame.selects_this or frame.limited):
                    raise self._bad("a sub-select that uses $this must select it, without LIMIT or OFFSET")
                if not frames:
                    return i
            elif not frames:
                continue
            elif t.text in "()":
                frames[-1].parens += 1 if t.text == "(" else -1
            elif t.word in ("LIMIT", "OFFSET") and frames[-1].kind == "select":
                frames[-1].limited = True
            elif t.text == "*" and frames[-1].kind == "select" and frames[-1].projecting and frames[-1].parens == 0:
                frames[-1].selects_this = True
            elif _is_this(t):
                kinds = [f.kind for f in frames]
                in_exists = "exists" in kinds and "select" not in kinds[kinds.index("exists"):]
                for frame in frames:
                    if frame.kind == "select":
                        frame.mentions_this = True
                        frame.selects_this |= frame.projecting and frame.parens == 0
                if not (in_exists or kinds == ["where"] or frames[-1].parens == 0):
                    raise self._bad("$this in an expression inside a nested group or sub-select is not compiled")
        raise self._bad("unbalanced braces")

    def collect(self, rows: list[Row]) -> list[_Raw]:
        """Results as pySHACL makes them: one per focus node and distinct solution, a ?failure once per focus."""
        shape = self.shape
        seen: set[tuple] = set()
        failed: set[Term] = set()
        raws: list[_Raw] = []
        for row in rows:
            focus = row["this"]
            bound = {name: to_rdflib(term) for name, term in row.items()}
            if not self.selects_this:
                del bound["this"]
            own_value = None if shape.is_property else focus
            if "failure" in bound:
                del bound["failure"]
                if focus not in failed:
                    failed.add(focus)
                    raws.append(self._raw(focus, own_value, None, bound))
                continue
            this, path, value = bound.pop("this", None), bound.pop("path", None), bound.pop("value", None)
            if this is None and path is None and value is None:
                continue
            key = (focus, this, path, value, frozenset(bound.items()))
            if key in seen:
                continue
            seen.add(key)
            value_term = row["value"] if value is not None else own_value
            template_values = dict(bound)
            for name, term in (("this", this), ("path", path), ("value", _rdflib(value_term))):
                if term is not None:
                    template_values[name] = term
            raws.append(self._raw(focus, value_term, path, template_values))
        return raws

    def _raw(self, focus: Term, value: Term | None, path: Node | None, values: dict[str, Node]) -> _Raw:
        own = list(self.shape.messages)
        messages: list[Node] = []
        for message in [m for m in self.messages if m not in own] + own:  # as pySHACL: the constraint's, then the shape's
            messages.append(Literal(_fill(str(message.value), values)) if isinstance(message, Literal) else message)
        return _Raw(focus, self.shape, SH.SPARQLConstraintComponent, value,
                    path if path is not None else self.shape.path, self.node, messages)


@dataclass
class _Projection:
    """What a SELECT's projection says: where it ends, whether it selects ``*`` or $this, whether it aggregates."""

    after_select: int  # the end of SELECT [DISTINCT|REDUCED] in the text
    where: int  # the index of the WHERE group's opening brace
    selects_this: bool
    aggregates: bool

    @classmethod
    def read(cls, tokens: list[_Token], form: int, bad: Callable[[str], BadInput]) -> _Projection:
        """Read the projection of the SELECT at token ``form``; ``bad`` makes the error for a refused query."""
        i = form + 1
        while i < len(tokens) and tokens[i].word in ("DISTINCT", "REDUCED"):
            i += 1
        after_select = tokens[i - 1].end
        star, selected, aggregates, depth = False, set(), False, 0
        while i < len(tokens) and tokens[i].text != "{" and not (tokens[i].word == "WHERE" and depth == 0):
            t = tokens[i]
            depth += (t.text == "(") - (t.text == ")")
            star |= t.text == "*" and depth == 0
            aggregates |= t.word in _AGGREGATES
            if t.kind == "variable" and depth == 0:
                selected.add(t.text[1:])
            if t.word == "AS" and i + 1 < len(tokens) and _is_this(tokens[i + 1]):
                raise bad("$this cannot be bound with AS")
            i += 1
        while i < len(tokens) and tokens[i].text != "{":
            i += 1
        if i >= len(tokens):
            raise bad("no WHERE clause")
        return cls(after_select, i, star or "this" in selected, aggregates)


@dataclass
class _Rewriting:
    """A constraint's text rewritten for all focus nodes: $this joined first, plain NOT EXISTS blocks made
    OPTIONAL, and REPLACE and REGEX (the tokens at the indexes of ``functions``) replaced by their functions."""

    text: str
    tokens: list[_Token]
    functions: dict[int, str]

    def span(self, start: int, end: int) -> str:
        """The text from ``start`` to ``end`` with REPLACE and REGEX turned into their functions."""
        pieces, at = [], start
        for k, replacement in self.functions.items():
            if start <= self.tokens[k].start and self.tokens[k].end <= end:
                pieces += [self.text[at:self.tokens[k].start], replacement]
                at = self.tokens[k].end
        return "".join(pieces) + self.text[at:end]

    def query(self, projection: _Projection, close: int, focus: Focus) -> str:
        """The rewritten query, its WHERE group closing at token ``close``.

        A UNION directly in the WHERE group becomes a sub-select of all its variables (the same solutions, as
        SPARQL joins a group's elements): oxigraph then evaluates it once and joins it by hashing, where it
        evaluated each branch once per focus node: 0.70 s of CPU against 0.97 s for levelsAmongPlanLevels on
        national3 (medians of six runs on a loaded machine).
        """
        tokens, span, where = self.tokens, self.span, projection.where
        edits = [(first, last, "union") for first, last in _union_chains(tokens, where, close)]
        edits += [(filter_at, close_at, open_at) for filter_at, open_at, close_at in
                  _plain_not_exists(tokens, where, close)]
        body, at, absent = [], tokens[where].end, []
        for start, end, kind in sorted(edits):
            body.append(span(at, tokens[start].start))
            if kind == "union":
                body.append(f"{{ SELECT * WHERE {{ {span(tokens[start].start, tokens[end].end)} }} }}")
            else:
                marker = f"?shacl_absent_{len(absent)}"
                absent.append(f" OPTIONAL {{ {span(tokens[kind].end, tokens[end].start)} "
                              f"BIND (true AS {marker}) }} FILTER (!BOUND({marker}))")
            at = tokens[end].end
        body.append(span(at, tokens[close].start))
        added = "" if projection.selects_this else " ?this"
        return (span(0, projection.after_select) + added + span(projection.after_select, tokens[where].end)
                + f" {focus('?this')} " + "".join(body) + "".join(absent) + " "
                + span(tokens[close].start, len(self.text)))


def _fill(template: str, values: dict[str, Node]) -> str:
    """Fill ``{?var}`` and ``{$var}`` as pySHACL does (each value is a ``re.sub`` replacement string)."""
    for name, value in values.items():
        template = re.sub("{{[?$]{}}}".format(name), str(value), template)
    return template
