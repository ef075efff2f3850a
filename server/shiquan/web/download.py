"""/download and /.well-known/void: the whole dataset as files, and its VoID description."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)

from werkzeug.wsgi import wrap_file

from shiquan import formats
from shiquan.publish import export
from shiquan.errors import NotFound
from shiquan.web import choose
from shiquan.web import respond
from shiquan.web import runtime

bp = Blueprint("download", __name__)

HTML = "text/html"
INDEX_TYPES = [HTML, formats.JSON.media_type]
VOID_TYPES = formats.media_types(formats.GRAPH_ANSWERS)


def _entries(ready: export.Published) -> list[dict]:
    """Each dump with its URL, size and checksum, in export.FORMATS order."""
    return [
        {
            "format": item.name,
            "name": item.format.w3c_name,
            "mediaType": item.format.media_type,
            "filename": item.filename,
            "url": url_for("download.dump", extension=item.format.extension, _external=True),
            "size": item.size,
            "sha256": item.sha256,
            "graphNames": item.format.quads,
        }
        for item in ready.dumps.values()
    ]


@bp.get("/download")
def index():
    """The list of dumps, with size and SHA-256, as an HTML page or JSON."""
    media_type = choose(INDEX_TYPES, request.args.get("format"))
    ready = runtime().dumps()
    body = {
        "dataset": str(export.DATASET),
        "version": ready.version,
        "ontologyVersion": ready.ontology_version,
        "triples": ready.triples,
        "license": str(export.LICENCE),
        "void": url_for("download.void", _external=True),
        "sparqlEndpoint": url_for("sparql.sparql", _external=True),
        "dumps": _entries(ready),
    }
    if media_type == HTML:
        return respond(render_template("download.html", titles=export.TITLES, **body), HTML)
    response = jsonify(body)
    response.vary.add("Accept")
    return response


@bp.get("/download/shiquan.<extension>")
def dump(extension: str):
    """One dump as a file to save; ``ETag`` is the dataset version and format, so a matching If-None-Match gets 304."""
    name = export.BY_EXTENSION.get(extension)
    if name is None:
        known = ", ".join(f"shiquan.{e}" for e in export.BY_EXTENSION)
        raise NotFound(f"no dump shiquan.{extension}; available: {known}")
    item = runtime().dumps().dumps[name]
    etag = f"{item.version}-{name}"
    if request.if_none_match.contains_weak(etag):
        response = Response(status=304, mimetype=item.format.media_type)
    else:
        # Streamed from the file by the WSGI server's file wrapper, never read whole into this process.
        response = respond(wrap_file(request.environ, item.path.open("rb")), item.format.media_type, vary=False)
        response.direct_passthrough = True
        response.content_length = item.size
        response.headers["Content-Disposition"] = f'attachment; filename="{item.filename}"'
    response.set_etag(etag)
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get("/.well-known/void")
def void():
    """The VoID description of the dataset: Turtle, or another RDF format by Accept or ``format``."""
    media_type = choose(VOID_TYPES, request.args.get("format"))
    graph = export.void(runtime().dumps(), request.url_root, url_for("sparql.sparql", _external=True))
    return respond(graph.serialize(format=formats.BY_MEDIA_TYPE[media_type].rdflib, encoding="utf-8"), media_type)


@bp.get("/id/dataset/shiquan")
def dataset():
    """The dataset's IRI resolves to its VoID description, with the request's query string as it came (``format``).

    The parameters are never keyword arguments of url_for, which reads ``_scheme``, ``_external``, ``_method`` … as
    instructions (``?_scheme=javascript`` made the redirect a javascript: URL, ``?_method=POST`` a 500).
    """
    target, query = url_for("download.void"), request.query_string.decode("utf-8")  # UTF-8: checked before_request
    return redirect(f"{target}?{query}" if query else target, 303)
