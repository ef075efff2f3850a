"""The HTTP adapters: blueprints over the core modules, one error body shape, CORS."""

from __future__ import annotations

import logging

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from .. import query
from ..errors import NotAcceptable, ShiquanError

log = logging.getLogger(__name__)

TEXT_TYPES = ("text/", "application/sparql-results+", "application/ld+json", "application/n-triples", "application/rdf+xml", "application/json")


# No HTML page loads anything from another origin; YASGUI sets inline styles.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'self'"
)

# Short names for a `format` parameter on pages and reports (RDF names come from query.GRAPH_NAMES).
PAGE_NAMES = {"html": "text/html", "json": "application/json", "csv": "text/csv"}


def runtime():
    """The running server's store description and workers."""
    return current_app.extensions["shiquan"]


def respond(body: bytes | str, media_type: str, status: int = 200, vary: bool = True) -> Response:
    """A response with a charset on textual types and ``Vary: Accept`` where the type was negotiated."""
    content_type = f"{media_type}; charset=utf-8" if media_type.startswith(TEXT_TYPES) else media_type
    response = Response(body, status=status, content_type=content_type)
    if vary:
        response.vary.add("Accept")
    return response


def choose(offered: list[str], fmt: str | None = None) -> str:
    """The best of ``offered`` media types for this request's Accept header (first one when absent).

    ``fmt`` — a short name or media type from a ``format`` parameter — wins over
    the header. Raises NotAcceptable listing ``offered``.
    """
    if fmt:
        name = fmt.lower()
        for names in (PAGE_NAMES, query.GRAPH_NAMES, query.RESULTS_NAMES, {name: name}):
            if names.get(name) in offered:
                return names[name]
        raise NotAcceptable(f"format {fmt!r} is not available here; available: {', '.join(offered)}")
    header = request.headers.get("Accept", "")
    if not header.strip():
        return offered[0]
    best, best_q = None, 0.0
    for position, (media, q) in enumerate(query.parse_accept(header)):
        if media == "*/*":
            match = offered[0]
        elif media.endswith("/*"):
            match = next((o for o in offered if o.startswith(media[:-1])), None)
        else:
            match = media if media in offered else None
        if match and q > best_q:
            best, best_q = match, q
    if best is None:
        raise NotAcceptable(f"cannot answer in {header.strip()!r}; available: {', '.join(offered)}")
    return best


def _error_body(code: str, message: str, status: int) -> Response:
    response = jsonify({"error": code, "message": message})
    response.status_code = status
    return response


def register_errors(app: Flask) -> None:
    """One JSON body shape for every error: ``{"error": code, "message": text}``; CORS on every answer, CSP on pages."""

    @app.errorhandler(ShiquanError)
    def shiquan_error(exc: ShiquanError):
        if exc.status >= 500 and exc.code == "internal_error":
            return _error_body(exc.code, "internal error", exc.status)
        return _error_body(exc.code, str(exc), exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            limit = app.config["MAX_BODY_BYTES"]
            return _error_body("payload_too_large", f"the request body is over the limit of {limit} bytes", 413)
        code = (exc.name or "error").lower().replace(" ", "_")
        response = _error_body(code, exc.description or exc.name, exc.code or 500)
        if exc.code == 405 and exc.valid_methods:
            response.headers["Allow"] = ", ".join(exc.valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error_body("internal_error", "internal error", 500)

    @app.after_request
    def headers(response: Response) -> Response:
        if response.mimetype == "text/html":
            response.headers["Content-Security-Policy"] = CSP
            response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Access-Control-Allow-Origin"] = "*"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, HEAD, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Accept, Content-Type, If-None-Match"
            response.headers["Access-Control-Max-Age"] = "86400"
        response.headers["Access-Control-Expose-Headers"] = "Content-Type, ETag"
        return response
