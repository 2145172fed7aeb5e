"""XLSX files for the import tests, built the way a hostile or a big real file is: a workbook written by
openpyxl, then its sheet's XML patched in the zip (the declared <dimension>, rows appended)."""
from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from xml.sax.saxutils import escape

import openpyxl

SHEET = "xl/worksheets/sheet1.xml"


def workbook(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def patched(data: bytes, *, dimension: str | None = None, extra_rows: Iterable[str] = (),
            stored: bool = False) -> bytes:
    """The workbook with its sheet's declared dimension replaced and `extra_rows` (XML of <row> elements)
    appended to its data; `stored`: the sheet uncompressed (a big file is built in a moment)."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            part = src.read(item.filename)
            if item.filename != SHEET:
                dst.writestr(item, part)
                continue
            text = part.decode()
            if dimension is not None:
                text, n = re.subn(r'<dimension ref="[^"]*"\s*/>', f'<dimension ref="{dimension}"/>', text)
                assert n == 1, "the sheet has no <dimension> to patch"
            head, tail = text.split("</sheetData>")
            body = head.encode() + "".join(extra_rows).encode() + b"</sheetData>" + tail.encode()
            dst.writestr(zipfile.ZipInfo(SHEET, item.date_time), body,
                         compress_type=zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED)
    return out.getvalue()


def row(number: int, cells: Iterable[str]) -> str:
    """A <row> of inline strings from column A on."""
    return f'<row r="{number}">' + "".join(
        f'<c r="{_column(i)}{number}" t="inlineStr"><is><t>{escape(c)}</t></is></c>'
        for i, c in enumerate(cells, 1)) + "</row>"


def _column(index: int) -> str:
    letters = ""
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
