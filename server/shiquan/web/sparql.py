"""/sparql: the query side of the SPARQL 1.1 Protocol, read-only."""

from __future__ import annotations

import collections
import contextlib
import hashlib
import io
import json
import re
import secrets
import threading

from flask import Blueprint, Response, current_app, request, url_for
from werkzeug.datastructures import MultiDict

from shiquan import formats
from shiquan.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    RemoteServiceFailed,
    UnsupportedMediaType,
)
from shiquan.publish.description import service_description
from shiquan.runtime import remote
from shiquan.sparql.text import may_hold, service_calls
from shiquan.web import choose, form_pairs
from shiquan.web import respond
from shiquan.web import runtime

bp = Blueprint("sparql", __name__)

DESCRIPTION_TYPES = formats.media_types(formats.GRAPH_ANSWERS)


def _parameters():
    """(query texts, all parameters) of the request, by the Protocol's three ways of sending a query."""
    if request.method in ("GET", "HEAD"):
        params = request.args
        return params.getlist("query"), params
    mimetype = request.mimetype
    if not mimetype and not request.get_data():
        return request.args.getlist("query"), request.args
    if mimetype == "application/x-www-form-urlencoded":  # its bytes are UTF-8: web.register_errors checked them
        # Read here as Werkzeug's request.form would, at a tenth of the cost (see form_decoded).
        params = MultiDict(form_pairs(request.get_data()))
        for key, values in request.args.lists():
            params.setlist(key, params.getlist(key) + values)
        return params.getlist("query"), params
    if mimetype == "application/sparql-query":
        try:
            text = request.get_data().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest(f"the query is not UTF-8 (byte {exc.start})") from exc
        return [text], request.args
    if mimetype == "application/sparql-update":
        raise Forbidden("SPARQL Update is not allowed: this endpoint is read-only")
    raise UnsupportedMediaType(
        f"cannot read a query sent as {mimetype or 'no content type'!r}; send application/x-www-form-urlencoded "
        "or application/sparql-query"
    )


def _description():
    media_type = choose(DESCRIPTION_TYPES, request.args.get("format"))
    graph = service_description(request.base_url, runtime().counts, runtime().settings)
    return respond(graph.serialize(format=formats.BY_MEDIA_TYPE[media_type].rdflib, encoding="utf-8"), media_type)


@bp.route("/sparql", methods=["GET", "POST"])
def sparql():
    """Answer a SPARQL query (GET, POST form, POST application/sparql-query), or describe the service."""
    texts, params = _parameters()
    if "update" in params:
        if texts:
            raise BadRequest("a request may carry a query or an update, not both")
        raise Forbidden("SPARQL Update is not allowed: this endpoint is read-only")
    if not texts:
        if request.method in ("GET", "HEAD") and not params:
            return _description()
        raise BadRequest("missing query: send it as the 'query' parameter or as an application/sparql-query body")
    if len(texts) > 1:
        raise BadRequest("a request may carry only one query")
    if not texts[0].strip():
        raise BadRequest("the query is empty")
    accept, fmt = request.headers.get("Accept"), params.get("format")
    defaults, named = params.getlist("default-graph-uri") or None, params.getlist("named-graph-uri") or None
    with _relays().open() as relay:
        media_type, body = runtime().query(
            text=texts[0], accept=accept, fmt=fmt, default_graph_uris=defaults, named_graph_uris=named, service_relay=relay
        )
    tag = _etag(texts[0], accept, fmt, defaults, named)
    # Only an answer that was given can be "not modified": a refusal or an error is never a 304.
    if tag and request.method in ("GET", "HEAD") and request.if_none_match.contains_weak(tag):
        response = Response(status=304)
    else:
        response = respond(body, media_type)
        if tag:  # the same request gets the same answer until the data changes: AnswerCache may replay it
            request.environ[AnswerCache.REPLAYABLE] = body
    if tag:
        # Weak: the same request on the same version gets an equivalent answer, not always the same bytes (a
        # DESCRIBE's or an unordered SELECT's rows can come in another order after a restart of the engine).
        response.set_etag(tag, weak=True)
        response.headers["Cache-Control"] = "no-cache"
    return response


# Functions whose value changes from one evaluation to the next (NOW, RAND, UUID, STRUUID, BNODE), found anywhere in
# the text, in any case: over-reading ("known", "brand") only costs a tag and a replay.
_VOLATILE = re.compile("now|rand|uuid|bnode", re.IGNORECASE)
_JSON = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps's text, without building an encoder on every call


def _etag(text: str, *request_parts) -> str | None:
    """An entity tag for an answer: the dataset's version and the request that asked for it.

    The store is read-only, so the same request on the same version gets the same answer; a query that may call
    SERVICE (anywhere the engine can read one) depends on another endpoint and gets no tag, nor does one that may
    call a function whose value changes between evaluations (_VOLATILE), nor any answer from a remote store, which
    has no version. The two regexes only read a text that :func:`may_hold` one of their words (one pass over a text
    that holds none). Raises BadQuery as :func:`service_calls` for a text whose SERVICE places it refuses.
    """
    version = runtime().version
    if not version:
        return None
    if may_hold(text, "now", "rand", "uuid", "bnode", "service") and (_VOLATILE.search(text) or service_calls(text)):
        return None
    return f"{version}-{hashlib.sha256(_JSON([text, *request_parts]).encode('utf-8')).hexdigest()[:20]}"


class AnswerCache:
    """WSGI middleware: the last answers of /sparql, replayed byte for byte (status, headers, body) to the same
    request while the same dataset is served, without Flask or a worker.

    An answer is kept only when the view marked it replayable (it has an entity tag: see :func:`_etag`) and it
    came from the backend that was serving both before and after the request (a reload in between keeps nothing);
    the whole cache is dropped when the served backend changes, and nothing is replayed once its store is lost
    (the keeper died: queries are refused with 503 until the restart). A request is "the same" when all the view reads
    of it is the same: method (GET or POST), path, query string, content type, body and Accept; one that carries
    If-None-Match, a body over KEY_BYTES or a body of unknown length goes to the app. Bounded by ANSWER_CACHE_MB,
    least recently used first out; an answer over 1/32 of it is not kept. The limits of a query (time, memory,
    rows, bytes, SERVICE) were all met by the run whose answer is replayed.
    """

    REPLAYABLE = "shiquan.replayable"  # environ key: the body of an answer the view marked replayable
    KEY_BYTES = 64 * 1024  # query string and body of a request that may be replayed, at most
    HEADERS = ("CONTENT_TYPE", "HTTP_ACCEPT")

    def __init__(self, app, wsgi_app) -> None:
        self.app, self.wsgi_app = app, wsgi_app
        self.capacity = int(float(app.config.get("ANSWER_CACHE_MB") or 0) * 1024 * 1024)
        self.entries: collections.OrderedDict[tuple, tuple[str, list, bytes, int]] = collections.OrderedDict()
        self.size, self.backend = 0, None
        self.hits = self.misses = 0
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response):
        key = self._key(environ) if self.capacity else None
        if key is None:
            return self.wsgi_app(environ, start_response)
        backend = self.app.extensions["shiquan"].backend
        if backend.pool.lost:  # the store is gone: every query is refused (503), none replayed
            return self.wsgi_app(environ, start_response)
        with self._lock:
            if backend is not self.backend:
                self.entries.clear()
                self.size, self.backend = 0, backend
            entry = self.entries.get(key)
            if entry is None:
                self.misses += 1
            else:
                self.entries.move_to_end(key)
                self.hits += 1
        if entry is not None:
            start_response(entry[0], list(entry[1]))
            return [entry[2]]
        answered: list = []

        def capture(status, headers, exc_info=None):
            answered[:] = [status, headers]
            return start_response(status, headers, exc_info)

        result = self.wsgi_app(environ, capture)
        body = environ.get(self.REPLAYABLE)
        if body is not None and answered and answered[0].startswith("200 "):
            self._keep(key, backend, answered[0], list(answered[1]), body)
        return result

    def _key(self, environ: dict) -> tuple | None:
        """What the view reads of this request, or None when it is not to be replayed; reads the body of a POST
        and puts it back for the app."""
        method = environ.get("REQUEST_METHOD")
        if environ.get("PATH_INFO") != "/sparql" or method not in ("GET", "POST") or "HTTP_IF_NONE_MATCH" in environ:
            return None
        query = environ.get("QUERY_STRING", "")
        body = b""
        if method == "POST":
            try:
                length = int(environ.get("CONTENT_LENGTH") or "")
            except ValueError:
                return None
            if not 0 <= length <= self.KEY_BYTES - len(query):
                return None
            body = environ["wsgi.input"].read(length)
            environ["wsgi.input"] = io.BytesIO(body)
        elif len(query) > self.KEY_BYTES:
            return None
        return (method, query, body, *(environ.get(name) for name in self.HEADERS))

    def _keep(self, key: tuple, backend, status: str, headers: list, body: bytes) -> None:
        """Keep an answer given by ``backend``, the one serving when the request came in, if it still serves."""
        cost = len(body) + sum(len(part) for part in key if part) + 64 * len(headers)
        if cost > self.capacity // 32 or self.app.extensions["shiquan"].backend is not backend:
            return
        with self._lock:
            if backend is not self.backend or key in self.entries:
                return
            self.entries[key] = (status, headers, body, cost)
            self.size += cost
            while self.size > self.capacity:
                _key, (_status, _headers, _body, dropped) = self.entries.popitem(last=False)
                self.size -= dropped


# ---------------------------------------------------------------- the SERVICE relay

LOOPBACK = {"127.0.0.1", "::1"}
RELAYED_HEADERS = ("Content-Type", "Accept", "User-Agent")


class Relays:
    """The relay's open doors: one per query that may call SERVICE, named by a token in its relay URL and closed
    when the query's request ends (its calls then stop), and a cap on the calls relayed at once (two per worker:
    a worker makes one at a time, and one more may still be ending), so that no endpoint, however slow, can hold
    more than that many of the server's threads."""

    def __init__(self, calls_at_once: int):
        self.doors: dict[str, threading.Event] = {}
        self.slots = threading.BoundedSemaphore(calls_at_once)

    @contextlib.contextmanager
    def open(self):
        """A relay URL prefix for one query (None without an allowlist), valid until the block ends."""
        if not runtime().settings["SERVICE_ALLOWLIST"]:
            yield None
            return
        token, ended = secrets.token_urlsafe(16), threading.Event()
        self.doors[token] = ended
        try:
            yield _relay_base(token)
        finally:
            ended.set()
            self.doors.pop(token, None)


def _relays() -> Relays:
    relays = current_app.extensions.get("shiquan.relays")
    if relays is None:
        relays = current_app.extensions.setdefault("shiquan.relays", Relays(2 * max(1, int(runtime().settings["WORKERS"]))))
    return relays


def _relay_base(token: str) -> str:
    """Where this server's own workers reach the SERVICE relay: the address it is bound to, not the public host."""
    host = str(runtime().settings.get("HOST") or "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{request.environ.get('SERVER_PORT', '80')}" + url_for("sparql.relay", token=token, index=0)[:-1]


@bp.route("/_service/<token>/<int:index>", methods=["GET", "POST"])
def relay(token: str, index: int):
    """Relay one SERVICE call of a running query to allowlisted endpoint ``index``: the whole call within
    SERVICE_TIMEOUT_S, no redirect followed, stopped when the query's request ends.

    Only the workers on this machine call it, with the token of a query still running; it forwards nowhere but the
    allowlist.
    """
    if request.remote_addr not in LOOPBACK:
        raise Forbidden("the SERVICE relay only serves this server's own query workers")
    relays = _relays()
    ended = relays.doors.get(token)
    if ended is None:
        raise NotFound("no running query relays its SERVICE calls here")
    allowlist = runtime().settings["SERVICE_ALLOWLIST"]
    if not 0 <= index < len(allowlist):
        raise NotFound(f"no allowlisted SERVICE endpoint number {index}")
    query = request.query_string.decode("latin-1")
    target = allowlist[index] + (("&" if "?" in allowlist[index] else "?") + query if query else "")
    headers = {name: request.headers[name] for name in RELAYED_HEADERS if name in request.headers}
    data = request.get_data() if request.method == "POST" else None
    if not relays.slots.acquire(blocking=False):
        raise RemoteServiceFailed(f"SERVICE <{allowlist[index]}> was not called: too many SERVICE calls are running")
    try:
        status, content_type, body = remote.forward(
            target, request.method, data, headers, float(runtime().settings["SERVICE_TIMEOUT_S"]), ended
        )
    finally:
        relays.slots.release()
    return Response(body, status=status, content_type=content_type)
