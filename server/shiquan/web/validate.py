"""/validate: SHACL validation of uploaded RDF against the project's shapes, with the same inference as the CLI."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, json, render_template, request

from shiquan import formats
from shiquan.errors import BadRequest, UnsupportedMediaType
from shiquan.web import choose
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


@bp.get("/validate")
def form():
    """A form to paste or upload RDF for validation."""
    return render_template("validate.html", formats=formats.RDF_NAMES, report=None, lang=request.args.get("lang", "zh"))


@bp.post("/validate")
def validate() -> Response:
    """Validate the posted RDF; the report as JSON (default), Turtle, or HTML."""
    is_form = request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data")
    offered = ["text/html", *ANSWERS[:2]] if is_form else ANSWERS
    media_type = choose(offered, request.args.get("format"))
    data, fmt, source = _upload()
    report = runtime().validate(data, fmt, source)
    lang = request.args.get("lang") or request.form.get("lang") or "en"
    if media_type == "text/turtle":
        return respond(report.turtle(), media_type)
    if media_type == "text/html":
        page = render_template("validate.html", formats=formats.RDF_NAMES, report=report, lang=lang, text=report.text(lang))
        return respond(page, media_type)
    return respond(json.dumps(report.to_json(lang), ensure_ascii=False), media_type)
