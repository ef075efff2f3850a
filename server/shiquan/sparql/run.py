"""Run a client's SPARQL query on the embedded store: the one module that calls ``store.query`` for it."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Sequence

import pyoxigraph as ox

from shiquan.errors import BadQuery, QueryTimeout, RemoteServiceFailed, ShiquanError
from shiquan.sparql.results import Answer, negotiate, serialize, too_large
from shiquan.sparql.text import BASE_IRI, Inspection, inspect, refuse_update, relay_services, tokens
# pyoxigraph refuses a query that calls a function it does not know; SPARQL makes such a call an expression error
# (a FILTER on it rejects the row, a BIND leaves its variable unbound). The engine names one function at a time.
_UNKNOWN_FUNCTION = re.compile(r"The custom (?:aggregate )?function <([^>]*)> is not supported")
_UNKNOWN_FUNCTIONS_MAX = 64


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
    base_iri: str = BASE_IRI,
) -> Answer:
    """Run one SPARQL query over ``store`` and read its whole answer.

    Relative IRIs resolve against ``base_iri`` (the dataset's base unless the query says BASE). A call of a
    function the engine does not know is an expression error, as SPARQL says, not a failure. ``SELECT *`` lists
    its variables in the order they first appear in the query text.

    The default graph is the union of all named graphs unless
    ``default_graph_uris`` names graphs (SPARQL Protocol ``default-graph-uri``).
    With ``service_relay`` (a URL prefix), each SERVICE call goes to
    ``{service_relay}{index in the allowlist}`` instead, where the server relays
    it under its per-call time limit (see :func:`text.relay_services`).
    Raises BadQuery (syntax, with the parser's position), Forbidden (SPARQL
    Update, SERVICE off the allowlist), ResultTooLarge (over ``max_rows``),
    QueryTimeout (over ``timeout_s`` while the answer is read) and
    RemoteServiceFailed (a SERVICE call failed).
    """
    seen = inspect(text, service_allowlist)
    return _execute(
        store, text, seen, default_graph_uris=default_graph_uris, named_graph_uris=named_graph_uris,
        service_allowlist=service_allowlist, service_relay=service_relay, timeout_s=timeout_s, max_rows=max_rows,
        base_iri=base_iri,
    )


def respond(
    store: ox.Store, text: str, *, accept: str | None = None, fmt: str | None = None, **options
) -> tuple[str, bytes]:
    """Run ``text`` as :func:`run` does and write its answer in the format the client negotiated.

    The format is negotiated before the query runs, on the kind of answer its form promises, so that an Accept
    we cannot meet costs no evaluation (as with a remote store). Returns (media type, bytes).
    ``max_bytes`` (MAX_RESULT_BYTES) bounds the written answer. Raises as :func:`run`, BadRequest and
    NotAcceptable as :func:`results.negotiate`, ResultTooLarge past ``max_bytes``.
    """
    seen: Inspection = inspect(text, options.get("service_allowlist", ()))
    media_type = negotiate(seen.kind, accept, fmt) if seen.kind else None
    max_bytes = options.pop("max_bytes", None)
    answer = _execute(store, text, seen, **options)
    if answer.kind != seen.kind:  # not a form we read (the engine parsed what we could not): negotiate now
        media_type = negotiate(answer.kind, accept, fmt)
    return media_type, serialize(answer, media_type, max_bytes)


def _execute(
    store: ox.Store, text: str, seen: Inspection, *, default_graph_uris=None, named_graph_uris=None,
    service_allowlist=(), service_relay=None, timeout_s=None, max_rows=None, base_iri=BASE_IRI,
) -> Answer:
    """Run ``text``, already inspected (``seen``), and read its answer. Raises as :func:`run`.

    The default graph is the union of the named graphs only when neither the request (``default_graph_uris``) nor
    the query (FROM, FROM NAMED: ``seen.names_dataset``) says what it is.
    """
    if service_relay and seen.calls:
        text = relay_services(text, seen.calls, service_allowlist, service_relay)
    kwargs: dict = {"prefixes": None, "base_iri": base_iri}
    default = _graphs(default_graph_uris)
    named = _graphs(named_graph_uris)
    if default:
        kwargs["default_graph"] = default
    elif not seen.names_dataset:
        kwargs["use_default_graph_as_union"] = True
    if named:
        kwargs["named_graphs"] = named
    deadline = time.perf_counter() + timeout_s if timeout_s else None
    try:
        result = _query(store, text, kwargs, seen)
    except (OSError, RuntimeError, SyntaxError) as exc:  # an ASK evaluates here: its SERVICE call failed
        if not seen.calls:
            raise
        raise _service_failed(exc, seen, service_relay) from None
    # pyoxigraph's results may only be dropped in the thread that made them. An exception raised while reading
    # keeps the reading frames, and with them the result, alive until the garbage collector frees them, maybe in
    # another thread; so the exception leaves without its traceback, after this thread has dropped the result.
    error: Exception
    try:
        return _read(result, max_rows, deadline, timeout_s, text)
    except (OSError, RuntimeError, SyntaxError) as exc:  # a SERVICE call that failed, or gave no SPARQL answer
        if not seen.calls:
            raise
        error = _service_failed(exc, seen, service_relay)
    except ShiquanError as exc:
        error = exc.with_traceback(None)
    finally:
        del result
    raise error


def _query(store: ox.Store, text: str, kwargs: dict, seen: Inspection):
    """``store.query``, with each function the engine does not know defined as one that always fails (unbound).

    Raises BadQuery (syntax) and Forbidden (SPARQL Update) as :func:`text.refuse_update`.
    """
    unknown: dict[ox.NamedNode, object] = {}
    while True:
        try:
            return store.query(text, custom_functions=unknown or None, **kwargs)
        except SyntaxError as exc:  # pyoxigraph: "error at 1:7: expected …"
            if seen.calls and not str(exc).startswith("error at"):  # an ASK evaluates here: a SERVICE answer
                raise  # that did not parse
            refuse_update(text, exc)
        except RuntimeError as exc:
            name = _UNKNOWN_FUNCTION.search(str(exc))
            if name is None or len(unknown) >= _UNKNOWN_FUNCTIONS_MAX:
                raise
            unknown[ox.NamedNode(name[1])] = _expression_error


def _expression_error(*_args) -> None:
    """An unknown function's value: none, an expression error."""
    return None


def _service_failed(exc: Exception, seen: Inspection, relay: str | None) -> RemoteServiceFailed:
    """The 502 for a query whose SERVICE call failed: it names the endpoints, not the relay they were sent to."""
    endpoints = ", ".join(f"<{endpoint}>" for endpoint in dict.fromkeys(seen.services))
    message = str(exc).replace(relay, "the relay to endpoint ") if relay else str(exc)
    return RemoteServiceFailed(f"a SERVICE call to {endpoints} failed: {message}")


def star_order(text: str, names: Sequence[str]) -> list[str]:
    """The projected variables ``names`` of query ``text`` in the order a reader sees them: for ``SELECT *``, by
    their first appearance in the text (as Jena and the SPARQL spec's examples list them); else unchanged.

    A text without "*" is no ``SELECT *``: it is not read again (its tokens took ~50 µs of a 0.2 ms lookup)."""
    if "*" not in text:
        return list(names)
    found = tokens(text)
    select = next((i for i, t in enumerate(found) if t.word == "SELECT"), None)
    if select is None:
        return list(names)
    after = found[select + 1:select + 3]
    star = after[1] if after and after[0].word in ("DISTINCT", "REDUCED") and len(after) > 1 else after[0] if after else None
    if star is None or star.text != "*":
        return list(names)
    first: dict[str, int] = {}
    for position, token in enumerate(found):
        if token.kind == "variable":
            first.setdefault(token.text[1:], position)
    return sorted(names, key=lambda name: first.get(name, len(found)))


def _read(result, max_rows: int | None, deadline: float | None, timeout_s: float | None, text: str = "") -> Answer:
    """Read a pyoxigraph result in full, within the row and time limits (``text``: the query, for ``SELECT *``)."""
    if isinstance(result, ox.QueryBoolean):
        return Answer("boolean", boolean=bool(result))
    if isinstance(result, ox.QuerySolutions):
        engine = [v.value for v in result.variables]
        names = star_order(text, engine) if text else engine
        columns = [engine.index(name) for name in names]
        rows = [tuple(s[i] for i in columns) for s in _bounded(result, "rows", max_rows, deadline, timeout_s)]
        return Answer("solutions", variables=names, rows=rows)
    return Answer("graph", triples=list(_bounded(result, "triples", max_rows, deadline, timeout_s)))


def _bounded(items, what: str, max_items: int | None, deadline: float | None, timeout_s: float | None):
    """Yield ``items``, raising ResultTooLarge past ``max_items`` and QueryTimeout past ``deadline``."""
    for count, item in enumerate(items, 1):
        if max_items is not None and count > max_items:
            raise too_large(max_items, what)
        if deadline and count % 256 == 0 and time.perf_counter() > deadline:
            raise QueryTimeout(f"the query ran over the {timeout_s:g} s limit and was stopped")
        yield item
    if deadline and time.perf_counter() > deadline:
        raise QueryTimeout(f"the query ran over the {timeout_s:g} s limit and was stopped")
