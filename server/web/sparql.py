"""/sparql: the query side of the SPARQL 1.1 Protocol, read-only."""

from __future__ import annotations

from flask import Blueprint, request

from ..description import service_description
from ..errors import BadRequest, Forbidden, UnsupportedMediaType
from ..loading import MEDIA_TYPES
from . import choose, respond, runtime

bp = Blueprint("sparql", __name__)

DESCRIPTION_TYPES = ["text/turtle", "application/n-triples", "application/rdf+xml", "application/ld+json"]


def _parameters():
    """(query texts, all parameters) of the request, by the Protocol's three ways of sending a query."""
    if request.method in ("GET", "HEAD"):
        params = request.args
        return params.getlist("query"), params
    mimetype = request.mimetype
    if not mimetype and not request.get_data():
        return request.args.getlist("query"), request.args
    if mimetype == "application/x-www-form-urlencoded":
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
    return respond(graph.serialize(format=MEDIA_TYPES[media_type], encoding="utf-8"), media_type)


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
    media_type, body = runtime().query(
        text=texts[0],
        accept=request.headers.get("Accept"),
        fmt=params.get("format"),
        default_graph_uris=params.getlist("default-graph-uri") or None,
        named_graph_uris=params.getlist("named-graph-uri") or None,
    )
    return respond(body, media_type)
