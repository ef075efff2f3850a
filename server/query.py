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

from .errors import (
    BadQuery,
    BadRequest,
    Forbidden,
    NotAcceptable,
    QueryTimeout,
    RemoteServiceFailed,
    ResultTooLarge,
    ShiquanError,
)
from .vocab import PREFIXES, curie

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
# Strings, IRIs and comments (whose brackets do not nest), or one bracket.
_TOKENS = re.compile(
    r'"""[\s\S]*?"""|\'\'\'[\s\S]*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\''
    r'|<[^<>"{}|^`\\\s]*>|#[^\n]*|[{(\[]|[})\]]'
)
# Deeper nesting than this is refused before parsing: the engine's parser recurses and would crash.
MAX_NESTING = 200


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


def nesting(text: str) -> int:
    """The deepest nesting of {…}, (…) and […] in a query, strings, IRIs and comments aside."""
    depth = deepest = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in "{([":
            depth += 1
            deepest = max(deepest, depth)
        elif token in "})]":
            depth -= 1
    return deepest


def check(text: str, service_allowlist: Sequence[str] = ()) -> None:
    """Refuse what this endpoint never runs: too deep a nesting, SERVICE off ``service_allowlist``.

    Raises BadQuery for nesting deeper than MAX_NESTING and for a query that
    mentions SERVICE but cannot be parsed; Forbidden naming a SERVICE endpoint
    off the allowlist.
    """
    depth = nesting(text)
    if depth > MAX_NESTING:
        raise BadQuery(f"the query nests {{…}}, (…) or […] {depth} levels deep; at most {MAX_NESTING} are allowed")
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
