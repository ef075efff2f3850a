"""/validate: SHACL validation of uploaded RDF against the project's shapes, with the same inference as the CLI."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, json, render_template, request

from shiquan import formats
from shiquan.errors import BadRequest, ShiquanError, UnsupportedMediaType
from shiquan.web import choose, wants_html
from shiquan.web import respond
from shiquan.web import runtime

bp = Blueprint("validate", __name__)

ANSWERS = formats.media_types((formats.JSON, formats.TURTLE, formats.HTML))


def _upload() -> tuple[bytes, str, str]:
    """(data, format name, source name) of a raw body, a form field or an uploaded file."""
    mimetype = request.mimetype
    if mimetype in formats.RDF_BY_MEDIA_TYPE:
        return request.get_data(), formats.RDF_BY_MEDIA_TYPE[mimetype].name, "request body"
    if mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):  # a form that is not UTF-8 was refused
        fmt = request.form.get("format") or None
        upload = request.files.get("file")
        if upload is not None and upload.filename:
            data, source = upload.read(), Path(upload.filename).name
            known = formats.RDF_BY_SUFFIX.get(Path(upload.filename).suffix.lower())
            fmt = fmt or (known.name if known else None)
        else:
            data, source = request.form.get("data", "").encode("utf-8"), "form field 'data'"
        if not data.strip():
            raise BadRequest("nothing to validate: send RDF in the body, the 'data' field or a 'file' upload")
        fmt = fmt or "turtle"
        if fmt not in formats.RDF_NAMES:
            raise BadRequest(f"unknown format {fmt!r}; use one of {', '.join(formats.RDF_NAMES)}")
        return data, fmt, source
    raise UnsupportedMediaType(
        f"cannot validate {mimetype or 'a body without content type'!r}; send one of {', '.join(sorted(formats.RDF_BY_MEDIA_TYPE))}, "
        "or a form with 'data' or 'file'"
    )


def _page(status: int = 200, **context) -> Response:
    """The validation page: the form, filled with what was sent (``text``, ``fmt``, ``served``), and the report or
    the error (``error``) under it."""
    context = {"formats": formats.RDF_NAMES, "report": None, "error": None, "text": "", "fmt": "turtle",
               "served": False, **context}
    return respond(render_template("validate.html", **context), "text/html", status)


@bp.get("/validate")
def form():
    """A form to paste or upload RDF for validation."""
    return _page(lang=request.args.get("lang", "zh"))


@bp.post("/validate")
def validate() -> Response:
    """Validate the posted RDF, alone or with the served data (``served=1``); the report as JSON (default), Turtle,
    or HTML. On the HTML page an upload that cannot be read is shown under the form, with the status it has."""
    is_form = request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
    offered = ["text/html", *ANSWERS[:2]] if is_form else ANSWERS
    media_type = choose(offered, request.args.get("format"))
    lang = request.args.get("lang") or request.form.get("lang") or "en"
    served = (request.args.get("served") or request.form.get("served") or "") in ("1", "true", "on")
    kept = {"lang": lang, "served": served, "text": request.form.get("data", ""),
            "fmt": request.form.get("format") or "turtle"}
    try:
        data, fmt, source = _upload()
        report = runtime().validate(data, fmt, source, served)
    except ShiquanError as exc:
        # Inline under the form for a browser; an API client posting a form (no Accept, */*) gets the JSON error.
        if media_type != "text/html" or exc.status >= 500 or not wants_html():
            raise
        return _page(exc.status, error=exc, **kept)
    if media_type == "text/turtle":
        return respond(report.turtle(), media_type)
    if media_type == "text/html":
        return _page(report=report, summary=report.text(lang), **kept)
    return respond(json.dumps(report.to_json(lang), ensure_ascii=False), media_type)
