"""Run a client's SPARQL query on the embedded store: the one module that calls ``store.query`` for it."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import pyoxigraph as ox

from shiquan.errors import BadQuery, QueryTimeout, RemoteServiceFailed, ShiquanError
from shiquan.sparql.results import Answer, negotiate, serialize, too_large
from shiquan.sparql.text import Inspection, inspect, refuse_update, relay_services


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
    )


def respond(
    store: ox.Store, text: str, *, accept: str | None = None, fmt: str | None = None, **options
) -> tuple[str, bytes]:
    """Run ``text`` as :func:`run` does and write its answer in the format the client negotiated.

    The format is negotiated before the query runs, on the kind of answer its form promises, so that an Accept
    we cannot meet costs no evaluation (as with a remote store). Returns (media type, bytes).
    Raises as :func:`run`, and BadRequest and NotAcceptable as :func:`results.negotiate`.
    """
    seen: Inspection = inspect(text, options.get("service_allowlist", ()))
    media_type = negotiate(seen.kind, accept, fmt) if seen.kind else None
    answer = _execute(store, text, seen, **options)
    if answer.kind != seen.kind:  # not a form we read (the engine parsed what we could not): negotiate now
        media_type = negotiate(answer.kind, accept, fmt)
    return media_type, serialize(answer, media_type)


def _execute(
    store: ox.Store, text: str, seen: Inspection, *, default_graph_uris=None, named_graph_uris=None, service_allowlist=(),
    service_relay=None, timeout_s=None, max_rows=None,
) -> Answer:
    """Run ``text``, already inspected (``seen``), and read its answer. Raises as :func:`run`."""
    if service_relay and seen.calls:
        text = relay_services(text, seen.calls, service_allowlist, service_relay)
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
        if seen.calls and not str(exc).startswith("error at"):  # an ASK evaluates here: its SERVICE answer did not parse
            raise _service_failed(exc, seen, service_relay) from None
        refuse_update(text, exc)
    except (OSError, RuntimeError) as exc:  # an ASK evaluates here: its SERVICE call failed
        if not seen.calls:
            raise
        raise _service_failed(exc, seen, service_relay) from None
    # pyoxigraph's results may only be dropped in the thread that made them. An exception raised while reading
    # keeps the reading frames, and with them the result, alive until the garbage collector frees them, maybe in
    # another thread; so the exception leaves without its traceback, after this thread has dropped the result.
    error: Exception
    try:
        return _read(result, max_rows, deadline, timeout_s)
    except (OSError, RuntimeError, SyntaxError) as exc:  # a SERVICE call that failed, or gave no SPARQL answer
        if not seen.calls:
            raise
        error = _service_failed(exc, seen, service_relay)
    except ShiquanError as exc:
        error = exc.with_traceback(None)
    finally:
        del result
    raise error


def _service_failed(exc: Exception, seen: Inspection, relay: str | None) -> RemoteServiceFailed:
    """The 502 for a query whose SERVICE call failed: it names the endpoints, not the relay they were sent to."""
    endpoints = ", ".join(f"<{endpoint}>" for endpoint in dict.fromkeys(seen.services))
    message = str(exc).replace(relay, "the relay to endpoint ") if relay else str(exc)
    return RemoteServiceFailed(f"a SERVICE call to {endpoints} failed: {message}")


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
            raise too_large(max_items, what)
        if deadline and count % 256 == 0 and time.perf_counter() > deadline:
            raise QueryTimeout(f"the query ran over the {timeout_s:g} s limit and was stopped")
        yield item
    if deadline and time.perf_counter() > deadline:
        raise QueryTimeout(f"the query ran over the {timeout_s:g} s limit and was stopped")
