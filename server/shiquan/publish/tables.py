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
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from shiquan.publish.rulings import Ruling

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
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    for title, header, lines in sheets:
        sheet = book.create_sheet(title=title[:31])
        sheet.freeze_panes = "A2"
        sheet.append([_header_cell(sheet, name, Font) for name in header])
        for line in lines:
            sheet.append([_xlsx(cell) for cell in line])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _header_cell(sheet, name: str, font):
    from openpyxl.cell import WriteOnlyCell

    cell = WriteOnlyCell(sheet, value=name)
    cell.font = font(bold=True)
    return cell


def _xlsx(cell: Cell):
    if isinstance(cell, Decimal):
        return int(cell) if cell == cell.to_integral_value() else float(cell)
    return cell
