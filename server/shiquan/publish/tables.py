"""Tables to take away: CSV that Excel opens (UTF-8 with a byte order mark) and XLSX (openpyxl).

Excel reads a CSV file without a byte order mark in the system's code page (GBK on a Chinese Windows PC), so
类别 shows as 绫诲埆: every CSV here starts with the UTF-8 BOM (EF BB BF) and ends its lines with CRLF. Python
reads it back with ``encoding="utf-8-sig"``. XLSX keeps numbers as numbers (shares, percentages).

One table of every ruling (:func:`ruling_header`, :func:`ruling_line`) serves the plan's matrix download, the
whole graph's download and the CLI; :mod:`compare` gives its own lines to the same writers.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from shiquan.errors import BadRequest
from shiquan.graph import loading
from shiquan.labels import LANGS
from shiquan.publish import export, rulings
from shiquan.publish.rulings import Ruling
from shiquan.sparql import run

BOM = "\ufeff"
CSV_TYPE = "text/csv"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Cell = str | Decimal | int | None
# Characters of CSV gathered before they are handed on as one chunk (a streamed table's lines).
CSV_CHUNK = 1 << 16
# The columns of the table of every ruling, by language.
RULING_COLUMNS = {
    "zh": ("方案", "文号", "条款", "类别", "事项", "层级（方案用语）", "层级", "事权归属", "支出责任",
           "份额1层级", "份额1（%）", "份额2层级", "份额2（%）", "按照隶属关系", "解读说明", "原文", "划分IRI"),
    "en": ("plan", "document number", "section", "category", "matter", "level (plan's words)", "level",
           "fiscal power holder", "payer", "share 1 level", "share 1 (%)", "share 2 level", "share 2 (%)",
           "by subordination", "interpretation", "quote", "assignment IRI"),
}
YES = {"zh": "是", "en": "yes"}


def ruling_header(lang: str) -> list[str]:
    return list(RULING_COLUMNS[lang])


def ruling_line(ruling: Ruling, lang: str) -> list[Cell]:
    """One ruling as a line of the table: shares as numbers, caveats in their own columns."""
    shares: list[Cell] = []
    for share in ruling.shares[:2]:
        shares += [share.words, share.percentage]
    shares += [None] * (4 - len(shares))
    return [
        ruling.plan, ruling.number, ruling.section, ruling.category_label, ruling.matter_label,
        ruling.level_words or ruling.level_label, ruling.level_label, ruling.holder, ruling.payer_label, *shares,
        YES[lang] if ruling.by_subordination else "", ruling.interpretation, ruling.quote, ruling.assignment,
    ]


def _text(cell: Cell) -> str:
    if cell is None:
        return ""
    if isinstance(cell, Decimal):
        return f"{cell:f}"
    return str(cell)


def csv_lines(header: Sequence[str], lines: Iterable[Sequence[Cell]]) -> Iterator[bytes]:
    """The table as CSV in chunks of bytes: the BOM and the header first, then about CSV_CHUNK bytes of lines at a
    time, CRLF line ends. A chunk per line cost the WSGI server a write per ruling."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")

    def take() -> bytes:
        data = buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
        return data

    buffer.write(BOM)
    writer.writerow(header)
    yield take()
    for line in lines:
        writer.writerow([_text(cell) for cell in line])
        if buffer.tell() >= CSV_CHUNK:
            yield take()
    if buffer.tell():
        yield take()


def csv_bytes(header: Sequence[str], lines: Iterable[Sequence[Cell]]) -> bytes:
    """The table as one CSV document (see :func:`csv_lines`)."""
    return b"".join(csv_lines(header, lines))


def xlsx_bytes(sheets: Sequence[tuple[str, Sequence[str], Iterable[Sequence[Cell]]]]) -> bytes:
    """An XLSX workbook, one sheet per (title, header, lines); numbers stay numbers, the header row is frozen."""
    book = _workbook()
    for title, header, lines in sheets:
        sheet = _sheet(book, title, header)
        for line in lines:
            sheet.append([_xlsx(cell) for cell in line])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _workbook():
    from openpyxl import Workbook

    return Workbook(write_only=True)


def _sheet(book, title: str, header: Sequence[str]):
    """A new sheet of the write-only ``book``: its header row in bold, frozen."""
    from openpyxl.styles import Font

    sheet = book.create_sheet(title=title[:31])
    sheet.freeze_panes = "A2"
    sheet.append([_header_cell(sheet, name, Font) for name in header])
    return sheet


def _header_cell(sheet, name: str, font):
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=name)
    cell.font = font(bold=True)
    return cell


def _xlsx(cell: Cell):
    if isinstance(cell, Decimal):
        return int(cell) if cell == cell.to_integral_value() else float(cell)
    return cell


# The table of every ruling as files, written once per dataset version (export.written_once) by the keeper's child
# after the server is ready (runtime._kept_job) and streamed from there by /download/rulings.* and `shiquan rulings`.
TABLE_EXTENSIONS = ("csv", "xlsx")
TABLE_TYPES = {"csv": CSV_TYPE, "xlsx": XLSX_TYPE}
# Bump when the tables' bytes change for the same data and code, so that tables kept in DUMPS_DIR are written again.
TABLES_LAYOUT = "1"


@dataclass(frozen=True)
class TableFile:
    """One published table of every ruling: its file, the dataset version it holds, its size and SHA-256."""

    path: Path
    version: str
    lang: str
    extension: str
    size: int
    sha256: str

    @property
    def filename(self) -> str:
        return self.path.name

    @property
    def etag(self) -> str:
        """The folder (dataset version and table code) and the file: a new version or code, a new tag."""
        return f"{self.path.parent.name}.{self.lang}.{self.extension}"


def ruling_filename(lang: str, extension: str) -> str:
    return f"shiquan-rulings.{lang}.{extension}"


def rulings_folder(settings: Mapping[str, Any], version: str, extension: str) -> Path:
    """DUMPS_DIR/<version>-rulings-<code>-<extension>: the tables of one format, in each language; ``code`` hashes
    the code that reads and writes them."""
    code = export.code_hash((Path(rulings.__file__), Path(__file__)), TABLES_LAYOUT)
    return export.dumps_dir(settings) / f"{version}-rulings-{code}-{extension}"


def _read_tables(folder: Path) -> dict[tuple[str, str], TableFile] | None:
    """The tables a whole folder holds by (language, extension), None when it is not there or not whole (a language
    or a file missing, or a file not of the size its manifest gives)."""
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
        found = {(t["lang"], t["extension"]): TableFile(folder / t["filename"], manifest["version"], t["lang"],
                                                         t["extension"], t["size"], t["sha256"])
                 for t in manifest["tables"]}
        if {lang for lang, _ in found} == set(LANGS) and all(t.path.stat().st_size == t.size for t in found.values()):
            return found
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None


def published_rulings(settings: Mapping[str, Any], version: str | None, lang: str, extension: str) -> TableFile | None:
    """The published table of every ruling of dataset ``version`` in ``lang`` as ``extension``, None when there is
    none whole (not written yet, being written, or damaged: then the table is built live)."""
    if not version:
        return None
    if extension not in TABLE_EXTENSIONS:
        return None
    found = _read_tables(rulings_folder(settings, version, extension))
    return found.get((lang, extension)) if found else None


def publish_rulings(select: rulings.Select, settings: Mapping[str, Any], version: str,
                    extensions: Sequence[str] = TABLE_EXTENSIONS) -> dict[tuple[str, str], TableFile]:
    """The tables of every ruling of dataset ``version`` (read through ``select``) in each language, as each of
    ``extensions`` (CSV and XLSX), written once into DUMPS_DIR (:func:`export.written_once`), one folder per format
    in the order given, each served as soon as it is there. The XLSX takes the longer (openpyxl writes a cell in about 20 µs; on the 3-province
    graph, 18,746 rulings, CSV 0.3 s and XLSX 7.4 s, with 2.6 s of reading the rulings for each). Raises OSError,
    ValueError and what :func:`rulings.stream` raises."""
    found: dict[tuple[str, str], TableFile] = {}
    for extension in extensions:
        found.update(export.written_once(rulings_folder(settings, version, extension), _read_tables,
                                         lambda work, e=extension: _write_tables(select, version, e, work)))
    return found


def _write_tables(select: rulings.Select, version: str, extension: str, work: Path) -> None:
    """Each language's table as ``extension``, and the manifest, into ``work``. Raises as :func:`publish_rulings`."""
    entries = []
    for lang in LANGS:
        path = work / ruling_filename(lang, extension)
        with path.open("wb") as out:
            write_rulings(rulings.stream(select, lang), lang, extension, out)
        entries.append({"lang": lang, "extension": extension, "filename": path.name, "size": path.stat().st_size,
                        "sha256": export.file_sha256(path)})
    manifest = {"version": version, "tables": entries}
    (work / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")


def write_rulings(found: Iterable[Ruling], lang: str, extension: str, out: BinaryIO) -> None:
    """The table of the rulings ``found`` to ``out``: as CSV (the bytes the live download streams) or as an XLSX
    workbook (``extension``). Raises OSError."""
    header = ruling_header(lang)
    lines = (ruling_line(ruling, lang) for ruling in found)
    if extension == "csv":
        for chunk in csv_lines(header, lines):
            out.write(chunk)
        return
    book = _workbook()
    sheet = _sheet(book, "rulings", header)
    for line in lines:
        sheet.append([_xlsx(cell) for cell in line])
    book.save(out)


def rulings_table(settings: Mapping[str, Any], lang: str, extension: str, out: BinaryIO) -> None:
    """The table of every ruling of the data ``settings`` name, in ``lang`` as ``extension`` (csv, xlsx), written
    to ``out``: copied from the file published for the data's version when there is one, else built in this
    process from a new store (the command line). Raises BadRequest for another extension, BadInput when the
    data cannot be read, OSError."""
    if extension not in TABLE_EXTENSIONS:
        raise BadRequest(f"no table format {extension!r}; use one of {', '.join(TABLE_EXTENSIONS)}")
    version = loading.version_of([path for path, _graph, _fmt in loading.plan(settings)])
    found = published_rulings(settings, version, lang, extension)
    if found is not None:
        with found.path.open("rb") as source:
            shutil.copyfileobj(source, out, 1 << 20)
        return
    kg = loading.build_store(settings)
    write_rulings(rulings.stream(lambda text: run.run(kg.store, text), lang), lang, extension, out)


