"""A query's answer: one writer per results format, content negotiation, the size limit, a text table."""

from __future__ import annotations

import csv
import functools
import io
import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

import pyoxigraph as ox

from shiquan import formats
from shiquan.errors import BadRequest, NotAcceptable, ResultTooLarge
from shiquan.vocab import PREFIXES, curie

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"


def answer_types(kind: str) -> list[str]:
    """The media types a ``kind`` answer ("boolean", "solutions", "graph") can be written in, the default first."""
    return formats.media_types(formats.GRAPH_ANSWERS if kind == "graph" else formats.RESULTS)


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
        return answer_types(self.kind)


# ---------------------------------------------------------------- the size limit


def too_large(max_rows: int, what: str) -> ResultTooLarge:
    """The error for an answer of more than ``max_rows`` ``what`` ("rows" or "triples")."""
    return ResultTooLarge(f"the answer has more than {max_rows} {what}; add a LIMIT or narrow the query")


def check_size(answer: Answer, max_rows: int | None) -> None:
    """Raise ResultTooLarge when ``answer`` holds more than ``max_rows`` rows or triples."""
    size, what = (len(answer.triples), "triples") if answer.kind == "graph" else (len(answer.rows), "rows")
    if max_rows is not None and size > max_rows:
        raise too_large(max_rows, what)


# ---------------------------------------------------------------- writers, one per format


def _json_term(term) -> dict:
    if isinstance(term, ox.NamedNode):
        return {"type": "uri", "value": term.value}
    if isinstance(term, ox.BlankNode):
        return {"type": "bnode", "value": term.value}
    if isinstance(term, ox.Literal):
        out = {"type": "literal", "value": term.value}
        if term.language:
            out["xml:lang"] = term.language
        elif term.datatype.value != _XSD_STRING:
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
        if term.datatype.value != _XSD_STRING:
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


def _word(boolean: bool | None) -> str:
    return "true" if boolean else "false"


# json.dumps(..., ensure_ascii=False) builds a JSONEncoder on every call (its options are not the defaults): one
# made once writes the same text in 30% less time per row (14 against 20 µs for a row of two terms, load average 10).
_JSON = json.JSONEncoder(ensure_ascii=False).encode


def _json_parts(answer: Answer):
    """SPARQL 1.1 Query Results JSON, in pieces (a row each): the same text as ``json.dumps`` of the whole."""
    if answer.kind == "boolean":
        yield json.dumps({"head": {}, "boolean": answer.boolean})
        return
    yield '{"head": {"vars": ' + _JSON(answer.variables) + '}, "results": {"bindings": ['
    for index, row in enumerate(answer.rows):
        binding = {name: _json_term(term) for name, term in zip(answer.variables, row) if term is not None}
        yield (", " if index else "") + _JSON(binding)
    yield "]}}"


def _xml_parts(answer: Answer):
    """SPARQL Query Results XML, in pieces (a row each)."""
    yield '<?xml version="1.0" encoding="UTF-8"?>\n<sparql xmlns="http://www.w3.org/2005/sparql-results#">'
    if answer.kind == "boolean":
        yield f"<head/><boolean>{_word(answer.boolean)}</boolean>"
    else:
        yield "<head>" + "".join(f"<variable name={quoteattr(v)}/>" for v in answer.variables) + "</head><results>"
        for row in answer.rows:
            cells = "".join(
                f"<binding name={quoteattr(name)}>{_xml_term(term)}</binding>"
                for name, term in zip(answer.variables, row)
                if term is not None
            )
            yield f"<result>{cells}</result>"
        yield "</results>"
    yield "</sparql>\n"


def _csv_parts(answer: Answer):
    """SPARQL 1.1 Query Results CSV, in pieces: lexical values only; an ASK answer as the column ``_askResult``."""
    if answer.kind == "boolean":
        yield f"_askResult\r\n{_word(answer.boolean)}\r\n"
        return
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(answer.variables)
    for row in answer.rows:
        writer.writerow([_csv_value(term) for term in row])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue()


def _tsv_parts(answer: Answer):
    """SPARQL 1.1 Query Results TSV, in pieces: terms in SPARQL syntax; an ASK answer as the column ``?_askResult``."""
    if answer.kind == "boolean":
        yield f"?_askResult\n{_word(answer.boolean)}\n"
        return
    yield "\t".join(f"?{v}" for v in answer.variables) + "\n"
    for row in answer.rows:
        yield "\t".join("" if term is None else str(term) for term in row) + "\n"


class _Budget:
    """Bytes written up to ``limit`` (None: no limit); raises ResultTooLarge as soon as a write goes past it. Also a
    file for pyoxigraph's serializer (which writes in buffers of ~8 KB)."""

    def __init__(self, limit: int | None):
        self.limit, self.size, self.parts = limit, 0, []

    def write(self, data) -> int:
        self.size += len(data)
        if self.limit is not None and self.size > self.limit:
            raise ResultTooLarge(f"the answer is larger than {self.limit} bytes (MAX_RESULT_BYTES); add a LIMIT, "
                                 "select fewer or shorter values, or narrow the query")
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def text(self, pieces) -> bytes:
        for piece in pieces:
            self.write(piece.encode("utf-8"))
        return b"".join(self.parts)


def write_json(answer: Answer, max_bytes: int | None = None) -> bytes:
    """SPARQL 1.1 Query Results JSON. Raises ResultTooLarge past ``max_bytes``."""
    return _Budget(max_bytes).text(_json_parts(answer))


def write_xml(answer: Answer, max_bytes: int | None = None) -> bytes:
    """SPARQL Query Results XML. Raises ResultTooLarge past ``max_bytes``."""
    return _Budget(max_bytes).text(_xml_parts(answer))


def write_csv(answer: Answer, max_bytes: int | None = None) -> bytes:
    """SPARQL 1.1 Query Results CSV. Raises ResultTooLarge past ``max_bytes``."""
    return _Budget(max_bytes).text(_csv_parts(answer))


def write_tsv(answer: Answer, max_bytes: int | None = None) -> bytes:
    """SPARQL 1.1 Query Results TSV. Raises ResultTooLarge past ``max_bytes``."""
    return _Budget(max_bytes).text(_tsv_parts(answer))


WRITERS: dict[str, Callable[..., bytes]] = {
    formats.RESULTS_JSON.media_type: write_json,
    formats.RESULTS_XML.media_type: write_xml,
    formats.RESULTS_CSV.media_type: write_csv,
    formats.RESULTS_TSV.media_type: write_tsv,
}


def write_graph(answer: Answer, media_type: str, max_bytes: int | None = None) -> bytes:
    """The triples of a graph answer in the RDF format of ``media_type``, with the project's prefixes. Raises
    ResultTooLarge past ``max_bytes``."""
    budget = _Budget(max_bytes)
    ox.serialize(answer.triples, budget, format=formats.BY_MEDIA_TYPE[media_type].rdf_format, prefixes=PREFIXES)
    return b"".join(budget.parts)


def serialize(answer: Answer, media_type: str, max_bytes: int | None = None) -> bytes:
    """The answer in ``media_type`` (one of ``answer.media_types``), checked against ``max_bytes`` as it is
    written. Raises ValueError for another media type, ResultTooLarge past ``max_bytes``."""
    if media_type not in answer.media_types:
        raise ValueError(f"{media_type} cannot carry a {answer.kind} answer")
    if answer.kind == "graph":
        return write_graph(answer, media_type, max_bytes)
    return WRITERS[media_type](answer, max_bytes)


# ---------------------------------------------------------------- content negotiation


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


# Every short name a `format` parameter may use: the answers', and the pages'.
_KNOWN_NAMES = {n for f in (*formats.RESULTS, *formats.GRAPH_ANSWERS, formats.HTML, formats.JSON) for n in f.short_names}
_KNOWN_TYPES = {t for f in formats.BY_MEDIA_TYPE.values() for t in (f.media_type, *f.synonyms, *f.accepted_as)}


def _covers(offered: str, media: str) -> bool:
    """Whether a client asking for exactly ``media`` takes ``offered``: the same type, a synonym or a looser type."""
    known = formats.BY_MEDIA_TYPE.get(offered)
    return media == offered or (known is not None and (media in known.synonyms or media in known.accepted_as))


def _named(offered: Sequence[str], fmt: str) -> str | None:
    """The first of ``offered`` that a ``format`` value (a short name or a media type) names."""
    name = fmt.lower()
    for media in offered:
        known = formats.BY_MEDIA_TYPE.get(media)
        if _covers(media, name) or (known is not None and name in known.short_names):
            return media
    return None


# Accept headers up to this long have their choice remembered (a client sends the same one on every request; reading
# it took ~25 µs of a 0.4 ms seed lookup); a longer one is read each time, so that no client fills the memory.
_REMEMBERED_ACCEPT = 256


def _by_accept(offered: Sequence[str], accept: str) -> str | None:
    """The best of ``offered`` for an Accept header (see :func:`negotiate` for the rule); None when none fits."""
    if len(accept) <= _REMEMBERED_ACCEPT:
        return _remembered_by_accept(tuple(offered), accept)
    return _read_accept(offered, accept)


@functools.lru_cache(maxsize=1024)
def _remembered_by_accept(offered: tuple[str, ...], accept: str) -> str | None:
    return _read_accept(offered, accept)


def _read_accept(offered: Sequence[str], accept: str) -> str | None:
    """:func:`_by_accept`, read afresh."""
    best, best_q, best_rank = None, 0.0, (9, 0)
    for position, (media, q) in enumerate(parse_accept(accept)):
        if media == "*/*":
            match, specificity = offered[0], 2
        elif media.endswith("/*"):
            match, specificity = next((o for o in offered if o.startswith(media[:-1])), None), 1
        else:
            match, specificity = next((o for o in offered if o == media), None) or next(
                (o for o in offered if _covers(o, media)), None
            ), 0
        rank = (specificity, position)
        if match and (q > best_q or (q == best_q and q > 0 and rank < best_rank)):
            best, best_q, best_rank = match, q, rank
    return best


def negotiate(offered: str | Sequence[str], accept: str | None, fmt: str | None = None) -> str:
    """The media type to answer in: one of ``offered`` (media types, best first), or of a ``kind`` answer's types
    when ``offered`` is a kind ("boolean", "solutions", "graph").

    ``fmt`` (a ``format`` parameter: a short name such as "csv", or a media type) overrides ``accept``. No Accept
    header gives the first offered type (SPARQL JSON for results, Turtle for graphs). The rule for a header: the
    highest q-value wins; at equal q, an exact media type beats ``type/*``, which beats ``*/*``, and then the range
    written first wins. A media type also matches the offered type it is a synonym of or that it asks for loosely
    (``application/json`` for SPARQL JSON results or JSON-LD, where only those are offered); ``type/*`` and ``*/*``
    stand for the first offered type they cover; q=0 never matches.
    Raises BadRequest for a ``fmt`` that names no format we know, NotAcceptable when nothing offered fits,
    listing what is.
    """
    kind = offered if isinstance(offered, str) else None
    types = answer_types(kind) if kind else list(offered)
    if fmt:
        wanted = _named(types, fmt)
        if wanted:
            return wanted
        if fmt.lower() not in _KNOWN_NAMES | _KNOWN_TYPES:
            raise BadRequest(f"unknown format {fmt!r}; use one of {', '.join(sorted(_KNOWN_NAMES))} or a media type")
        what = f"a {kind} answer" if kind else "this answer"
        raise NotAcceptable(f"format {fmt!r} cannot carry {what}; use one of {', '.join(types)}")
    if not accept or not accept.strip():
        return types[0]
    best = _by_accept(types, accept)
    if best is None:
        what = f" a {kind} query" if kind else ""
        raise NotAcceptable(f"cannot answer{what} in {accept.strip()!r}; available: {', '.join(types)}")
    return best


# ---------------------------------------------------------------- for people


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
        return _word(answer.boolean)
    if answer.kind == "graph":
        return serialize(answer, formats.TURTLE.media_type).decode("utf-8")
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
