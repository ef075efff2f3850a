"""The HTTP adapters: blueprints over the core modules, one error body shape, CORS."""

from __future__ import annotations

import codecs
import logging
import urllib.parse
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestURITooLarge

from shiquan.errors import BadInput, BadRequest, PayloadTooLarge, ShiquanError
from shiquan.sparql.results import negotiate

log = logging.getLogger(__name__)

TEXT_TYPES = ("text/", "application/sparql-results+", "application/ld+json", "application/n-triples", "application/rdf+xml", "application/json")


# No HTML page loads anything from another origin; YASGUI sets inline styles.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'self'"
)
# Every other answer (JSON, RDF, dumps, scripts, the HTTP server's own errors): no framing by another origin.
DATA_CSP = "frame-ancestors 'self'"
# On every response, pages or not, the app's or the HTTP server's own (web/server.py): no framing by another
# origin, no type sniffing, and no URL of this server (a query in a GET) sent to another site as Referer.
SECURITY_HEADERS = (
    ("X-Frame-Options", "SAMEORIGIN"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "same-origin"),
)


def public_base_url(settings: Mapping[str, Any]) -> str:
    """The server's public base URL: PUBLIC_BASE_URL, or ``http://HOST:PORT`` (``localhost`` when HOST binds every
    address). Raises BadInput when PUBLIC_BASE_URL is not an http(s) URL with a host and no query or fragment."""
    configured = settings.get("PUBLIC_BASE_URL")
    if not configured:
        host = str(settings.get("HOST") or "")
        host = "localhost" if host in ("", "0.0.0.0", "::") else f"[{host}]" if ":" in host else host
        return f"http://{host}:{settings['PORT']}"
    parts = urllib.parse.urlsplit(str(configured))
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise BadInput(f"PUBLIC_BASE_URL {configured!r} is not an http(s) URL of a host with no query or fragment")
    return str(configured).rstrip("/")


class PublicBase:
    """WSGI middleware: each request's scheme, host and root path are those of the public base URL, whatever its
    ``Host`` header says, so that every absolute URL the app makes (url_for's ``_external``, ``request.url_root``)
    comes from configuration. A proxy serving the app under a path prefix strips it before passing the request on.
    """

    def __init__(self, app: Flask) -> None:
        public_base_url(app.config)  # a malformed PUBLIC_BASE_URL stops the start
        self.app, self.wsgi_app = app, app.wsgi_app

    def __call__(self, environ: dict, start_response):
        parts = urllib.parse.urlsplit(public_base_url(self.app.config))
        environ["wsgi.url_scheme"] = parts.scheme
        environ["HTTP_HOST"] = parts.netloc
        environ["SCRIPT_NAME"] = parts.path
        return self.wsgi_app(environ, start_response)


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
    """The best of ``offered`` media types for this request's Accept header, or as ``fmt`` (a ``format`` parameter)
    names one: see :func:`results.negotiate`, whose rule it is. Raises BadRequest and NotAcceptable as it does."""
    return negotiate(offered, request.headers.get("Accept"), fmt)


def _not_utf8(name: str, byte: int) -> str:
    """The message for a parameter ``name`` whose value is not UTF-8 from byte ``byte`` on."""
    if name == "query":
        return f"the query is not UTF-8 (byte {byte})"
    return f"the {name!r} parameter is not UTF-8 (byte {byte})"


def form_decoded(data: bytes) -> bytes:
    """``data``, a name or value of a query string or form body, with "+" read as a space and each %XX escape decoded:
    ``urllib.parse.unquote_to_bytes`` of it, byte for byte. Where every "%" starts an escape, the escapes are decoded
    in C, as the ``\\xXX`` escapes they become (backslashes doubled first): about 10 µs for a query of the mix with
    Chinese comments, against 90 µs for urllib's loop, which decodes a text that holds a "%" of no escape."""
    plain = data.replace(b"+", b" ")
    if b"%" not in plain:
        return plain
    try:
        return codecs.escape_decode(plain.replace(b"\\", b"\\\\").replace(b"%", b"\\x"))[0]
    except ValueError:  # a "%" not followed by two hex digits, which urllib keeps as it is
        return urllib.parse.unquote_to_bytes(plain)


def form_pairs(data: bytes) -> list[tuple[str, str]]:
    """The (name, value) pairs of a query string or form body, as ``urllib.parse.parse_qsl`` reads them with
    ``keep_blank_values`` (Werkzeug's reading of a form). Raises UnicodeDecodeError for a name or value that is not
    UTF-8 once decoded (:func:`_undecodable` refuses those before any endpoint runs)."""
    pairs = []
    for pair in data.split(b"&"):
        if pair:
            name, _, value = pair.partition(b"=")
            pairs.append((form_decoded(name).decode("utf-8"), form_decoded(value).decode("utf-8")))
    return pairs


def _undecodable(pairs: bytes) -> str | None:
    """A message naming the first parameter of a query string or form body that is not UTF-8 once percent-decoded.

    Werkzeug would keep its invalid escapes as text ("%FF"), so that another query than the client's would run.
    The whole string decodes as UTF-8 exactly when each name and value does ("&", "=" and the escapes' characters
    are ASCII, which no UTF-8 sequence holds), so the parameters are read one by one only to name a bad one.
    """
    try:
        form_decoded(pairs).decode("utf-8")
        return None
    except UnicodeDecodeError:
        pass
    for pair in pairs.split(b"&"):
        name, _, value = pair.partition(b"=")
        try:
            label = form_decoded(name).decode("utf-8")
        except UnicodeDecodeError as exc:
            return f"a parameter name is not UTF-8 (byte {exc.start})"
        try:
            form_decoded(value).decode("utf-8")
        except UnicodeDecodeError as exc:
            return _not_utf8(label, exc.start)
    return None


def _unreadable_form(body: bytes) -> str | None:
    """A message when a form body is not UTF-8 even before percent-decoding: Werkzeug reads no parameter from it."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        lead = "missing query: " if request.endpoint == "sparql.sparql" and "query" not in request.args else ""
        return f"{lead}the form body is not UTF-8 (byte {exc.start}), so none of its parameters can be read"
    return None


def _refuse_unreadable_parameters() -> None:
    """Refuse a query string over MAX_BODY_BYTES, or a query string or form body with a parameter that is not UTF-8.

    Raises RequestURITooLarge (414) and BadRequest, before any endpoint reads a parameter.
    """
    limit = current_app.config["MAX_BODY_BYTES"]
    if len(request.query_string) > limit:  # only when the WSGI server passes one this long (waitress: 256 KiB)
        raise RequestURITooLarge(f"the query string is over the limit of {limit} bytes: send a long query in a POST body")
    message = _undecodable(request.query_string)
    if message is None and request.mimetype == "application/x-www-form-urlencoded":
        body = request.get_data()  # kept for the form parser
        message = _unreadable_form(body) or _undecodable(body)
    if message:
        raise BadRequest(message)


# What an error page's heading says, by status, in Chinese and English; any other status gets the 4xx or 5xx one.
ERROR_TITLES = {
    400: ("请求有误", "Bad request"),
    403: ("不允许的请求", "Forbidden"),
    404: ("未找到", "Not found"),
    405: ("不支持的请求方法", "Method not allowed"),
    406: ("无法提供所请求的格式", "Not acceptable"),
    413: ("请求内容过大", "Payload too large"),
    415: ("不支持的内容类型", "Unsupported media type"),
    422: ("无法完成该请求", "Unprocessable request"),
    4: ("请求有误", "Bad request"),
    5: ("服务器暂时无法处理", "Server error"),
}


def wants_html() -> bool:
    """Whether this request's Accept header prefers an HTML page to JSON, as a browser's does. A client that sends
    no Accept header, ``*/*`` or equal preference gets JSON, the API's body."""
    best = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return best == "text/html" and request.accept_mimetypes["text/html"] > request.accept_mimetypes["application/json"]


def _error_page(code: str, message: str, status: int) -> Response:
    """The error as a page of the site: its status, its heading in Chinese and English, and the message."""
    zh, en = ERROR_TITLES.get(status) or ERROR_TITLES[5 if status >= 500 else 4]
    page = render_template("error.html", status=status, code=code, message=message, zh=zh, en=en)
    return respond(page, "text/html", status)


def _error_body(code: str, message: str, status: int) -> Response:
    """The one error body: JSON ``{"error": code, "message": text}`` for API clients, a page for browsers (by
    Accept)."""
    if wants_html():
        try:
            return _error_page(code, message, status)
        except Exception:  # a page that cannot be drawn must not hide the error: the JSON body says it
            log.exception("could not render the error page for %s", code)
    response = jsonify({"error": code, "message": message})
    response.status_code = status
    response.vary.add("Accept")
    return response


def register_errors(app: Flask) -> None:
    """One JSON body shape for every error: ``{"error": code, "message": text}``, or the same as a page of the site for
    a browser (an Accept header that prefers text/html); CORS and SECURITY_HEADERS on every
    answer, the pages' CSP on pages and DATA_CSP on everything else.

    Parameters that are not UTF-8, and query strings over the body limit, are refused before any endpoint reads them.
    """
    app.before_request(_refuse_unreadable_parameters)

    @app.errorhandler(ShiquanError)
    def shiquan_error(exc: ShiquanError):
        if exc.status >= 500 and exc.code == "internal_error":
            return _error_body(exc.code, "internal error", exc.status)
        return _error_body(exc.code, str(exc), exc.status)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if exc.code == 413:
            limit = app.config["MAX_BODY_BYTES"]
            too_large = PayloadTooLarge(f"the request body is over the limit of {limit} bytes")
            return _error_body(too_large.code, str(too_large), too_large.status)
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
        response.headers["Content-Security-Policy"] = CSP if response.mimetype == "text/html" else DATA_CSP
        for name, value in SECURITY_HEADERS:
            response.headers[name] = value
        response.headers["Access-Control-Allow-Origin"] = "*"
        if request.method == "OPTIONS":
            response.headers["Access-Control-Allow-Methods"] = "GET, POST, HEAD, OPTIONS"
            response.headers["Access-Control-Allow-Headers"] = "Accept, Content-Type, If-None-Match"
            response.headers["Access-Control-Max-Age"] = "86400"
        response.headers["Access-Control-Expose-Headers"] = "Content-Type, ETag"
        return response
