"""A remote SPARQL 1.1 store in place of the embedded one: queries forwarded, graphs loaded over HTTP.

Queries are checked here before anything is sent (read-only, SERVICE allowlist),
forwarded with the SPARQL 1.1 Protocol (form-encoded POST), and their answers read
within the time and size limits. The answer is passed through byte for byte when
the store gave the negotiated format, and re-serialised otherwise. The default
graph is the union of the served named graphs, and every served graph is a named
graph, as with the embedded store: the dataset is sent with each query
(``default-graph-uri``/``named-graph-uri``) unless the query or the client names
its own. Loading replaces each named graph with one SPARQL 1.1 Update request.

Credentials come from the URL (``http://user:password@host/sparql``) and are sent
by HTTP Basic or Digest authentication, whichever the store asks for.
"""

from __future__ import annotations

import http.client
import logging
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pyoxigraph as ox

from shiquan import formats
from shiquan.errors import BadInput, BadQuery, GatewayTimeout, QueryTimeout, RemoteServiceFailed
from shiquan.sparql.results import Answer, check_size, negotiate, serialize
from shiquan.sparql.text import inspect
from shiquan.vocab import GRAPH

log = logging.getLogger(__name__)

# What we ask the store for when the client's format is one we cannot read back (CSV), in order.
RESULTS_FALLBACK = formats.media_types((formats.RESULTS_JSON, formats.RESULTS_XML))
GRAPH_FALLBACK = formats.media_types((formats.N_TRIPLES, formats.TURTLE))
COUNT_GRAPHS = f"""SELECT ?g (COUNT(*) AS ?n) WHERE {{
    GRAPH ?g {{ ?s ?p ?o }}
    FILTER (STRSTARTS(STR(?g), "{GRAPH}"))
}} GROUP BY ?g"""


def is_url(value: Any) -> bool:
    """Whether ``value`` is an http(s) URL (a remote store) rather than a folder."""
    return isinstance(value, str) and re.match(r"https?://", value, re.IGNORECASE) is not None


def store_url(settings: Mapping[str, Any]) -> str | None:
    """The remote store's URL: STORE_URL, or STORE_PATH when it is an http(s) URL; None for the embedded store."""
    for key in ("STORE_URL", "STORE_PATH"):
        if is_url(settings.get(key)):
            return settings[key]
    return None


@dataclass(frozen=True)
class Endpoint:
    """A SPARQL endpoint's URL without credentials, and the credentials the URL carried."""

    url: str
    user: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        """Split ``user:password@`` off ``url``. Raises BadInput for anything but an http(s) URL."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            raise BadInput(f"not an http(s) URL of a SPARQL endpoint: {url!r}")
        netloc = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
        if parts.port:
            netloc += f":{parts.port}"
        clean = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))
        user = urllib.parse.unquote(parts.username) if parts.username else None
        password = urllib.parse.unquote(parts.password) if parts.password else None
        return cls(clean, user, password)

    def post(self, form: Sequence[tuple[str, str]], accept: str, timeout_s: float) -> tuple[str, bytes]:
        """POST ``form`` and read the whole answer within ``timeout_s``; returns (media type, bytes).

        Raises BadQuery when the store answers 400, RemoteServiceFailed for any
        other error status or when it cannot be reached, QueryTimeout past the limit.
        """
        handlers = []
        if self.user is not None:
            passwords = urllib.request.HTTPPasswordMgrWithDefaultRealm()
            passwords.add_password(None, self.url, self.user, self.password or "")
            handlers = [urllib.request.HTTPBasicAuthHandler(passwords), urllib.request.HTTPDigestAuthHandler(passwords)]
        opener = urllib.request.build_opener(*handlers)
        request = urllib.request.Request(
            self.url,
            data=urllib.parse.urlencode(form).encode("utf-8"),
            headers={"Accept": accept, "Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
        deadline = time.monotonic() + timeout_s
        late = QueryTimeout(f"the store at {self.url} did not answer within the {timeout_s:g} s limit")
        try:
            # The timeout bounds every wait on the socket; the deadline bounds the whole answer.
            with opener.open(request, timeout=timeout_s) as response:
                chunks = []
                while chunk := response.read(1 << 16):
                    chunks.append(chunk)
                    if time.monotonic() > deadline:
                        raise late
                return response.headers.get_content_type(), b"".join(chunks)
        except urllib.error.HTTPError as exc:
            message = _message(exc.read())
            if exc.code == 400:
                raise BadQuery(f"the store refused the query: {message}") from exc
            raise RemoteServiceFailed(f"the store at {self.url} answered {exc.code}: {message}") from exc
        except TimeoutError as exc:
            raise late from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError):
                raise late from exc
            raise RemoteServiceFailed(f"cannot reach the store at {self.url}: {exc.reason}") from exc
        except OSError as exc:  # connection reset, refused while reading
            raise RemoteServiceFailed(f"the store at {self.url} failed: {exc}") from exc


def _message(body: bytes) -> str:
    """The first paragraph of an error body, on one line (Virtuoso appends the query after a blank line)."""
    text = body.decode("utf-8", errors="replace").strip()
    first = re.split(r"\n\s*\n", text, maxsplit=1)[0]
    return " ".join(first.split())[:500] or "no message"


class RemoteStore:
    """The store at ``url`` (a SPARQL 1.1 query endpoint), queried under ``settings``' limits."""

    def __init__(self, url: str, settings: Mapping[str, Any]):
        self.endpoint = Endpoint.parse(url)
        self.allowlist = list(settings.get("SERVICE_ALLOWLIST") or [])
        self.max_rows = settings.get("MAX_RESULT_ROWS")
        self.timeout_s = float(settings["QUERY_TIMEOUT_S"])
        self.graphs: list[str] = []

    @property
    def url(self) -> str:
        return self.endpoint.url

    def counts(self) -> dict[str, int]:
        """Triples per Shiquan named graph (``https://w3id.org/shiquan/graph/…``); these are the graphs served.

        Raises RemoteServiceFailed and QueryTimeout.
        """
        answer = self._answer(COUNT_GRAPHS, "solutions", None, None, self.timeout_s, max_rows=None, dataset=False)
        found = {row[0].value: int(row[1].value) for row in answer.rows if row[0] is not None and row[1] is not None}
        self.graphs = sorted(found)
        return found

    def reachable(self, timeout_s: float = 5.0) -> bool:
        """Whether the store answers a trivial query within ``timeout_s``."""
        try:
            self.endpoint.post([("query", "SELECT * WHERE {} LIMIT 1")], RESULTS_FALLBACK[0], timeout_s)
        except (RemoteServiceFailed, QueryTimeout, BadQuery):
            return False
        return True

    def query(
        self, *, text: str, accept: str | None = None, fmt: str | None = None,
        default_graph_uris: Sequence[str] | None = None, named_graph_uris: Sequence[str] | None = None,
        timeout_s: float | None = None,
    ) -> tuple[str, bytes]:
        """Answer ``text`` from the store in the format the client negotiated; returns (media type, bytes).

        Raises Forbidden (update, SERVICE off the allowlist), BadQuery (syntax, or
        refused by the store), BadRequest and NotAcceptable (format), QueryTimeout,
        ResultTooLarge and RemoteServiceFailed.
        """
        seen = inspect(text, self.allowlist, parse=True)  # nothing but a query is ever sent
        wanted = negotiate(seen.kind, accept, fmt)
        form = self._form_fields(text, seen.names_dataset, default_graph_uris, named_graph_uris)
        media_type, body = self.endpoint.post(form, _accept(seen.kind, wanted), timeout_s or self.timeout_s)
        answer, as_sent = _parse(seen.kind, media_type, body, self.url)
        check_size(answer, self.max_rows)
        if media_type == wanted and as_sent:
            return wanted, body
        return wanted, serialize(answer, wanted)

    def answer(self, text: str, timeout_s: float | None = None) -> Answer:
        """The whole answer to ``text`` (for pages built from several queries). Raises as :meth:`query`."""
        seen = inspect(text, self.allowlist, parse=True)
        return self._answer(text, seen.kind, seen.names_dataset, None, timeout_s or self.timeout_s, self.max_rows)

    def _answer(self, text, kind, own_dataset, graphs, timeout_s, max_rows, dataset=True) -> Answer:
        form = self._form_fields(text, own_dataset, graphs, graphs) if dataset else [("query", text)]
        fallback = GRAPH_FALLBACK if kind == "graph" else RESULTS_FALLBACK
        media_type, body = self.endpoint.post(form, _accept(kind, fallback[0]), timeout_s)
        answer, _ = _parse(kind, media_type, body, self.url)
        check_size(answer, max_rows)
        return answer

    def _form_fields(self, text, own_dataset, default_graph_uris, named_graph_uris) -> list[tuple[str, str]]:
        """The query and its dataset: what the client named, else (unless the query has FROM) all served graphs."""
        form = [("query", text)]
        if own_dataset and not default_graph_uris and not named_graph_uris:
            return form
        form += [("default-graph-uri", g) for g in default_graph_uris or self.graphs]
        form += [("named-graph-uri", g) for g in named_graph_uris or self.graphs]
        return form


def _accept(kind: str, wanted: str) -> str:
    """An Accept header asking for ``wanted`` when we can read it back, then for the formats we always can."""
    fallback = GRAPH_FALLBACK if kind == "graph" else RESULTS_FALLBACK
    readable = wanted != "text/csv"
    types = ([wanted] if readable else []) + [t for t in fallback if t != wanted]
    return ", ".join(t if i == 0 else f"{t};q=0.{9 - i}" for i, t in enumerate(types))


def _parse(kind: str, media_type: str, body: bytes, url: str) -> tuple[Answer, bool]:
    """Read the store's answer; returns it and whether ``body`` may be passed on as it is.

    Raises RemoteServiceFailed when the answer is not what was asked for or does not parse.
    """
    try:
        if kind == "graph":
            rdf_format = ox.RdfFormat.from_media_type(media_type)
            if rdf_format is None:
                raise ValueError(f"an answer in {media_type} for a graph query")
            return Answer("graph", triples=[q.triple for q in ox.parse(body, format=rdf_format)]), True
        results_format = ox.QueryResultsFormat.from_media_type(media_type)
        if results_format is None:
            raise ValueError(f"an answer in {media_type} for a {kind} query")
        result = ox.parse_query_results(body, format=results_format)
    except (SyntaxError, ValueError) as exc:
        raise RemoteServiceFailed(f"the store at {url} gave an unreadable answer: {exc}") from exc
    if isinstance(result, ox.QueryBoolean):
        return Answer("boolean", boolean=bool(result)), kind == "boolean"
    names = [v.value for v in result.variables]
    rows = [tuple(solution[i] for i in range(len(names))) for solution in result]
    if kind == "boolean":
        # Virtuoso 7.2 answers ASK as one row holding 1 (true) or no row (false), openlink/virtuoso-opensource#464.
        return Answer("boolean", boolean=any(v is not None and v.value not in ("0", "false") for r in rows for v in r)), False
    return Answer("solutions", variables=names, rows=rows), True


def replace_graphs(url: str, ntriples: Mapping[str, bytes], timeout_s: float = 300.0) -> None:
    """Replace each named graph of ``ntriples`` ({graph IRI: N-Triples}) in the store at ``url``.

    ``url`` is the store's SPARQL 1.1 Update endpoint (with credentials when it
    needs them). One request per graph drops the graph and inserts its triples,
    so a graph is never seen half loaded; graphs not in ``ntriples`` are left alone.
    Raises BadInput (bad URL), BadQuery (the store refused the update), RemoteServiceFailed and QueryTimeout.
    """
    endpoint = Endpoint.parse(url)
    for name in sorted(ntriples):
        iri = ox.NamedNode(name)
        update = f"DROP SILENT GRAPH {iri} ;\nINSERT DATA {{ GRAPH {iri} {{\n{ntriples[name].decode('utf-8')}\n}} }}"
        started = time.perf_counter()
        endpoint.post([("update", update)], "*/*", timeout_s)
        log.info("replaced %s in %s in %.2f s", name, endpoint.url, time.perf_counter() - started)


# ---------------------------------------------------------------- one bounded call, for the SERVICE relay

# How often the watchdog of a forwarded call looks at its deadline and at its caller (seconds).
_WATCH_EVERY_S = 0.05


def forward(url: str, method: str, body: bytes | None, headers: Mapping[str, str], timeout_s: float,
            cancelled: threading.Event | None = None) -> tuple[int, str, bytes]:
    """Send one HTTP request to ``url`` and read its whole answer within ``timeout_s`` in all (connecting, sending,
    waiting and reading together, however slowly the other end drips), following no redirect; stop as soon as
    ``cancelled`` is set (the caller is gone). Returns (status, content type, body) for any status but 3xx.

    A watchdog thread shuts the connection down at the deadline, so no single read can outlast it.
    Raises GatewayTimeout past ``timeout_s``, RemoteServiceFailed for a redirect, when cancelled, and when the
    endpoint cannot be reached or gives no HTTP answer.
    """
    parts = urllib.parse.urlsplit(url)
    connection_class = http.client.HTTPSConnection if parts.scheme.lower() == "https" else http.client.HTTPConnection
    connection = connection_class(parts.hostname or "", parts.port, timeout=timeout_s)
    target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
    done, cut = threading.Event(), []
    watchdog = threading.Thread(target=_watch, args=(connection, time.monotonic() + timeout_s, cancelled, done, cut),
                                daemon=True, name="shiquan-relay-watchdog")
    watchdog.start()
    try:
        connection.request(method, target, body=body, headers=dict(headers))
        response = connection.getresponse()
        if 300 <= response.status < 400:
            raise RemoteServiceFailed(f"SERVICE <{url}> answered {response.status}, a redirect to "
                                      f"{response.getheader('Location', 'nowhere')}: redirects are not followed")
        chunks = []
        while chunk := response.read1(1 << 16):
            chunks.append(chunk)
        if cut:
            raise _stopped(url, cut[0], timeout_s)
        return response.status, response.getheader("Content-Type", "application/octet-stream"), b"".join(chunks)
    except (OSError, http.client.HTTPException) as exc:
        if cut or isinstance(exc, TimeoutError):
            raise _stopped(url, cut[0] if cut else "deadline", timeout_s) from None
        raise RemoteServiceFailed(f"SERVICE <{url}> failed: {exc}") from None
    finally:
        done.set()
        connection.close()
        watchdog.join()


def _watch(connection, deadline: float, cancelled: threading.Event | None, done: threading.Event, cut: list) -> None:
    """Shut ``connection`` down at ``deadline`` or once ``cancelled`` is set, unless ``done`` is set first; say which
    in ``cut``."""
    while not done.wait(_WATCH_EVERY_S):
        reason = "deadline" if time.monotonic() >= deadline else "cancelled" if cancelled and cancelled.is_set() else ""
        if reason:
            cut.append(reason)
            sock = connection.sock
            if sock is not None:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            return


def _stopped(url: str, reason: str, timeout_s: float) -> Exception:
    if reason == "cancelled":
        return RemoteServiceFailed(f"SERVICE <{url}> was stopped: the query that called it has ended")
    return GatewayTimeout(f"SERVICE <{url}> did not answer within {timeout_s:g} s")
