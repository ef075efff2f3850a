"""/sparql: the query side of the SPARQL 1.1 Protocol, read-only."""

from __future__ import annotations

import hashlib
import json
import socket
import urllib.error
import urllib.request

from flask import Blueprint, Response, request, url_for

from shiquan import formats
from shiquan.errors import (
    BadRequest,
    Forbidden,
    GatewayTimeout,
    NotFound,
    RemoteServiceFailed,
    UnsupportedMediaType,
)
from shiquan.publish.description import service_description
from shiquan.sparql.text import SERVICE
from shiquan.web import choose
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
        params = request.form.copy()
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
    tag = _etag(texts[0], accept, fmt, defaults, named)
    if tag and tag in request.if_none_match:
        response = Response(status=304)
        response.set_etag(tag)
        return response
    relay = _relay_base() if runtime().settings["SERVICE_ALLOWLIST"] else None
    media_type, body = runtime().query(
        text=texts[0], accept=accept, fmt=fmt, default_graph_uris=defaults, named_graph_uris=named, service_relay=relay
    )
    response = respond(body, media_type)
    if tag:
        response.set_etag(tag)
        response.headers["Cache-Control"] = "no-cache"
    return response


def _relay_base() -> str:
    """Where this server's own workers reach the SERVICE relay: the address it is bound to, not the public host."""
    host = str(runtime().settings.get("HOST") or "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{request.environ.get('SERVER_PORT', '80')}" + url_for("sparql.relay", index=0)[:-1]


def _etag(text: str, *request_parts) -> str | None:
    """An entity tag for an answer: the dataset's version and the request that asked for it.

    The store is read-only, so the same request on the same version gets the same answer; a query
    calling SERVICE depends on another endpoint and gets no tag, and so does every answer from a remote
    store, which has no version.
    """
    if not runtime().version or SERVICE.search(text):
        return None
    digest = hashlib.sha256(json.dumps([text, *request_parts], ensure_ascii=False).encode("utf-8")).hexdigest()[:20]
    return f"{runtime().version}-{digest}"


LOOPBACK = {"127.0.0.1", "::1"}
RELAYED_HEADERS = ("Content-Type", "Accept", "User-Agent")


@bp.route("/_service/<int:index>", methods=["GET", "POST"])
def relay(index: int):
    """Relay one SERVICE call of a query worker to allowlisted endpoint ``index``, under SERVICE_TIMEOUT_S.

    Only the workers on this machine call it; it forwards nowhere but the allowlist.
    """
    if request.remote_addr not in LOOPBACK:
        raise Forbidden("the SERVICE relay only serves this server's own query workers")
    allowlist = runtime().settings["SERVICE_ALLOWLIST"]
    if not 0 <= index < len(allowlist):
        raise NotFound(f"no allowlisted SERVICE endpoint number {index}")
    target = allowlist[index] + (("&" if "?" in allowlist[index] else "?") + request.query_string.decode() if request.query_string else "")
    headers = {name: request.headers[name] for name in RELAYED_HEADERS if name in request.headers}
    data = request.get_data() if request.method == "POST" else None
    limit = float(runtime().settings["SERVICE_TIMEOUT_S"])
    try:
        with urllib.request.urlopen(urllib.request.Request(target, data=data, headers=headers, method=request.method), timeout=limit) as answer:
            body, status, content_type = answer.read(), answer.status, answer.headers.get("Content-Type", "application/octet-stream")
    except urllib.error.HTTPError as exc:
        body, status, content_type = exc.read(), exc.code, exc.headers.get("Content-Type", "text/plain")
    except (TimeoutError, socket.timeout) as exc:
        raise GatewayTimeout(f"SERVICE <{allowlist[index]}> did not answer within {limit:g} s") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise RemoteServiceFailed(f"SERVICE <{allowlist[index]}> failed: {getattr(exc, 'reason', exc)}") from exc
    return Response(body, status=status, content_type=content_type)
