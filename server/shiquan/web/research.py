"""The researcher's pages over the core (publish.plans, publish.compare, publish.tables, publish.search): /plans,
/compare, /search and the table of every ruling (/download/rulings.csv, .xlsx). Every fact comes from the workers
(``runtime().answer``), or from the files of the tables published for the served version (DUMPS_DIR)."""

from __future__ import annotations

from dataclasses import asdict

from flask import Blueprint, Response, jsonify, render_template, request, send_file, stream_with_context

from shiquan import formats
from shiquan.errors import BadRequest
from shiquan.labels import LANGS
from shiquan.publish import charts as charting
from shiquan.publish import compare as comparing
from shiquan.publish import plans as index
from shiquan.publish import rulings, search as searching, tables
from shiquan.web import choose, respond, runtime

bp = Blueprint("research", __name__)

HTML, JSON = "text/html", "application/json"
TABLE_TYPES = tables.TABLE_TYPES


def _lang() -> str:
    """The ``lang`` parameter (zh by default). Raises BadRequest for another language."""
    lang = request.args.get("lang", "zh")
    if lang not in LANGS:
        raise BadRequest(f"unknown language {lang!r}; use one of {', '.join(LANGS)}")
    return lang


def _download(body: bytes, media_type: str, filename: str) -> Response:
    response = respond(body, media_type)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/plans")
def plans():
    """Every plan with its 文号, title, jurisdiction, level pair, date, parent, number of rulings and status."""
    lang = _lang()
    media_type = choose([HTML, JSON], request.args.get("format"))
    found = index.index(runtime().answer, lang)
    if media_type == JSON:
        return jsonify({"plans": [asdict(e) | {"comparable": e.comparable} for e in found]})
    return respond(render_template("plans.html", plans=found, lang=lang, other="en" if lang == "zh" else "zh"), HTML)


@bp.get("/compare")
def compare():
    """Compare the plans named by ``plan`` (two or more slugs): HTML, JSON by Accept, or ``format=csv|xlsx``."""
    lang = _lang()
    fmt = request.args.get("format")
    slugs = request.args.getlist("plan")
    if fmt in TABLE_TYPES:
        found = comparing.compare(runtime().answer, slugs, lang)
        header, lines = comparing.table_lines(found, lang)
        name = "compare-" + "-vs-".join(slugs)
        if fmt == "csv":
            return _download(tables.csv_bytes(header, lines), tables.CSV_TYPE, f"{name}.{lang}.csv")
        return _download(tables.xlsx_bytes([("compare", header, lines)]), tables.XLSX_TYPE, f"{name}.{lang}.xlsx")
    media_type = choose([HTML, JSON], fmt)
    found = comparing.compare(runtime().answer, slugs, lang)
    if media_type == JSON:
        return jsonify(comparing.as_json(found))
    chart = charting.compare_chart(found, lang) if found.compared else None
    return respond(render_template("compare.html", c=found, lang=lang, slugs=slugs, words=comparing.CLASS_WORDS,
                                   classes=comparing.CLASSES, other="en" if lang == "zh" else "zh", charts=chart), HTML)


@bp.get("/download/rulings.<extension>")
def all_rulings(extension: str):
    """The table of every ruling of the graph: the file published for the served version (written once after the
    server is ready, :func:`tables.publish_rulings`), with Content-Length and the version's ETag; until it is
    there, or without a keeper to write it, built live (the CSV streamed a few plans at a time)."""
    lang = _lang()
    if extension not in TABLE_TYPES:
        raise BadRequest(f"no table rulings.{extension}; available: rulings.csv, rulings.xlsx")
    served = runtime()  # held here: the rulings are read in a thread of their own (rulings.stream)
    published = tables.published_rulings(served.settings, served.version, lang, extension)
    if published is not None:
        return _published(published)
    return _live(served, lang, extension)


def _published(table: tables.TableFile) -> Response:
    """A published table, streamed from its file by the WSGI server's file wrapper (304 for a matching ETag, ranges
    as asked); werkzeug adds the CSV's charset."""
    response = send_file(table.path, mimetype=tables.TABLE_TYPES[table.extension], as_attachment=True, download_name=table.filename, etag=table.etag, conditional=True,
                         max_age=None)
    response.headers["Cache-Control"] = "no-cache"
    return response


def _live(served, lang: str, extension: str) -> Response:
    """The table read now from the workers: the CSV streamed as it is read, the XLSX built whole."""
    header = tables.ruling_header(lang)

    def table(text: str) -> list[tuple]:
        return rulings.csv_rows(served.query(text=text, accept=formats.RESULTS_CSV.media_type)[1])

    found = rulings.stream(served.answer, lang, table=table)
    filename = tables.ruling_filename(lang, extension)
    if extension == "xlsx":
        lines = [tables.ruling_line(r, lang) for r in found]
        return _download(tables.xlsx_bytes([("rulings", header, lines)]), tables.XLSX_TYPE, filename)
    body = stream_with_context(tables.csv_lines(header, (tables.ruling_line(r, lang) for r in found)))
    response = Response(body, content_type=f"{tables.CSV_TYPE}; charset=utf-8")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@bp.get("/search")
def search():
    """Matters, plans and quotes holding the keyword ``q`` (Chinese or English): HTML, or JSON by Accept. Raises
    BadRequest for an empty or overlong keyword."""
    lang = _lang()
    media_type = choose([HTML, JSON], request.args.get("format"))
    try:
        found = searching.search(runtime().answer, request.args.get("q"), lang)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if media_type == JSON:
        return jsonify(asdict(found))
    return respond(render_template("search.html", found=found, lang=lang, other="en" if lang == "zh" else "zh"), HTML)
