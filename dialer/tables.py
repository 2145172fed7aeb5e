"""Uploaded tables (CSV, XLSX) read as a stream of rows, every limit enforced while reading — file size, size
unpacked, rows, columns, cell size — so that a small hostile file cannot take the process's memory or time.

Blocking and CPU-bound: code on an event loop runs it in a worker thread (`asyncio.to_thread`, `dialer.db.run`).
Rows come as (line, cells): the line is the file's own (CSV: where the record starts, the header being 1;
XLSX: the sheet's row number), so a user can find it in a spreadsheet. Blank rows are skipped.
"""
from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from .errors import Invalid

DELIMITERS = ";,\t"


@dataclass(frozen=True)
class Limits:
    file: int = 20 * 1024 * 1024  # bytes as uploaded (what the web accepts for an import)
    rows: int = 200_000  # data rows, the header not counted
    columns: int = 256  # up to the last non-empty cell of a row
    cell: int = 32_767  # characters: Excel's own limit for a cell
    record: int = 1024 * 1024  # characters of one CSV record: bounds the cells the csv module builds for it
    # XLSX: zipfile never unpacks more than a part declares, so declared sizes bound the work. The sheet is
    # streamed; the shared strings are held whole by openpyxl, the other parts are small in any real file.
    unpacked: int = 256 * 1024 * 1024
    unpacked_part: int = 64 * 1024 * 1024
    # XLSX: this many blank rows in a row end the table. openpyxl yields every row number up to the last one
    # present (a lone cell in row 1 048 576 gives a million empty rows), and keeps each parsed <row> element.
    blank_run: int = 1000


LIMITS = Limits()  # read at each call: tests replace it


def too_large(what: str, limit: int, reason: str, reason_ru: str, line: int | None = None) -> Invalid:
    where, where_ru = (f"line {line}: ", f"строка {line}: ") if line is not None else ("", "")
    details = {"limit": what, "max": limit} | ({"line": line} if line is not None else {})
    return Invalid("file-too-large", f"{where}{reason}", message_ru=f"{where_ru}{reason_ru}", **details)


def unreadable(reason: str, reason_ru: str) -> Invalid:
    return Invalid("invalid-file", reason, message_ru=reason_ru)


def check_size(data: bytes | str, limits: Limits | None = None) -> None:
    limits = limits or LIMITS
    if len(data) > limits.file:
        mb = limits.file // (1024 * 1024)
        raise too_large("file", limits.file, f"the file is larger than {mb} MB: split it",
                        f"файл больше {mb} МБ: разделите его")


def decode(data: bytes | str) -> str:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as e:
            raise Invalid("csv-not-utf8", f"the file is not UTF-8 (byte {e.start})",
                          message_ru=f"файл не в кодировке UTF-8 (байт {e.start})") from None
    return data.removeprefix("\ufeff")  # Excel writes a BOM before UTF-8 CSV


def sniff_delimiter(header_line: str) -> str:
    """The header's most frequent of `;` `,` TAB; Russian Excel writes `;`, most tools `,`."""
    counts = {d: header_line.count(d) for d in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def first_line(text: str) -> str:
    return next((line for line in io.StringIO(text) if line.strip()), "")


class _Counter:
    """The limits every row is held to, whatever the format: rows, columns, cell size."""

    def __init__(self, limits: Limits):
        self.limits = limits
        self.rows = 0  # non-blank rows so far, the header included

    def take(self, line: int, cells: list[str]) -> None:
        limits = self.limits
        self.rows += 1
        if self.rows > limits.rows + 1:
            raise too_large("rows", limits.rows, f"more than {limits.rows} rows: split the file",
                            f"больше {limits.rows} строк: разделите файл", line)
        width = len(cells)
        while width and not cells[width - 1].strip():
            width -= 1  # spreadsheets pad rows with empty cells
        if width > limits.columns:
            raise too_large("columns", limits.columns, f"more than {limits.columns} columns",
                            f"больше {limits.columns} столбцов", line)
        for column, cell in enumerate(cells[:width], 1):
            if len(cell) > limits.cell:
                raise too_large("cell", limits.cell, f"column {column}: a cell longer than {limits.cell} characters",
                                f"столбец {column}: ячейка длиннее {limits.cell} символов", line)


def csv_rows(text: str, delimiter: str, *, strict: bool = False,
             limits: Limits | None = None) -> Iterator[tuple[int, list[str] | str]]:
    """(first line of the record, cells) per non-blank CSV record; a malformed record gives its csv error as
    a string in place of the cells (the caller decides whether that refuses the file or only the row)."""
    limits = limits or LIMITS
    check_size(text, limits)
    counter = _Counter(limits)
    record = [0]  # characters of the record being read

    def lines():
        for line in io.StringIO(text, newline=""):
            record[0] += len(line)
            if record[0] > limits.record:
                raise too_large("record", limits.record, f"a row longer than {limits.record} characters",
                                f"строка длиннее {limits.record} символов", start)
            yield line

    reader = csv.reader(lines(), delimiter=delimiter, strict=strict)
    while True:
        start = reader.line_num + 1
        record[0] = 0
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            counter.take(start, [])
            yield start, f"malformed CSV: {e}"
            continue
        if not any(c.strip() for c in cells):
            continue  # blank lines, often at the end of exported files
        counter.take(start, cells)
        yield start, cells


def xlsx_rows(data: bytes, limits: Limits | None = None) -> Iterator[tuple[int, list[str]]]:
    """(row number, cells as text) per non-blank row of the first sheet. The sheet's declared <dimension> is
    ignored (A1:XFD1048576 would make openpyxl pad a million rows of 16 384 cells); the table ends at its last
    row or at a long run of blank rows."""
    import openpyxl  # a few MB of modules: loaded when a spreadsheet comes, not at every start

    limits = limits or LIMITS
    check_size(data, limits)
    _check_unpacked(data, limits)
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # zip and XML errors of a broken file come in many types
        raise _broken(e) from None
    try:
        sheet = book.worksheets[0]
        sheet.reset_dimensions()
        counter, blank = _Counter(limits), 0
        rows = iter(sheet.iter_rows(values_only=True))
        number = 0
        while True:
            try:
                values = next(rows, None)
            except Exception as e:  # a bad row number, a shared string that is not there, a CRC error ...
                raise _broken(e) from None
            if values is None:
                return
            number += 1
            cells = ["" if v is None else _cell(v) for v in values]
            if not any(c.strip() for c in cells):
                blank += 1
                if blank >= limits.blank_run:
                    return
                continue
            blank = 0
            counter.take(number, cells)
            yield number, cells
    finally:
        book.close()


def _broken(e: Exception) -> Invalid:
    return unreadable(f"not a readable XLSX file ({type(e).__name__})", f"файл XLSX не читается ({type(e).__name__})")


def _check_unpacked(data: bytes, limits: Limits) -> None:
    try:
        parts = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, ValueError) as e:
        raise _broken(e) from None
    total = sum(p.file_size for p in parts)
    mb = limits.unpacked // (1024 * 1024)
    if total > limits.unpacked:
        raise too_large("unpacked", limits.unpacked, f"the spreadsheet unpacks to more than {mb} MB",
                        f"таблица в распакованном виде больше {mb} МБ")
    part_mb = limits.unpacked_part // (1024 * 1024)
    for p in parts:
        if p.file_size > limits.unpacked_part and not p.filename.startswith("xl/worksheets/"):
            raise too_large("unpacked", limits.unpacked_part, f"{p.filename[:100]} unpacks to more than {part_mb} MB",
                            f"{p.filename[:100]} в распакованном виде больше {part_mb} МБ")


def _cell(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # Excel stores phone numbers typed as numbers as floats
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)
