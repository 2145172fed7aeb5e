"""Exports of every report table (SPEC G6): CSV (UTF-8 with BOM, `,` or `;`), XLSX (typed cells) and PDF (DejaVu,
the filters printed on it), and the printable daily shift summary.

Every writer is a generator of bytes chunks: CSV is written as its rows come; XLSX is built by openpyxl's
write-only workbook in a temporary file (rows go to disk as they come) and then read out in chunks; a PDF is
built whole by fpdf2, so the call list in a PDF is capped at PDF_MAX_CALLS rows (CSV and XLSX carry them all).
Text cells are formula-safe: control characters are stripped and a leading = + - @ gets a ' in front.
"""
from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from typing import Callable, Iterable, Iterator

from ..outcomes import ORDER, Outcome
from ..settings import REPO_ROOT
from . import reports
from .reports import Filter

CHUNK = 64 * 1024
PDF_MAX_CALLS = 2000
FONT_DIR = REPO_ROOT / "dialer" / "fonts"
MEDIA = {"csv": "text/csv; charset=utf-8", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "pdf": "application/pdf"}


@dataclass(frozen=True)
class Col:
    key: str
    ru: str
    en: str
    kind: str = "text"   # text | int | float | pct | seconds | hours | datetime | date | bool

    def title(self, lang: str) -> str:
        return self.ru if lang == "ru" else self.en


def _outcome_cols() -> list[Col]:
    out = []
    for o in ORDER:
        out += [Col(f"n_{o.value}", o.label_ru, o.label_en, "int"), Col(f"pct_{o.value}", f"{o.label_ru}, %",
                                                                          f"{o.label_en}, %", "pct")]
    return out


KPI_COLS = [Col("attempts", "Попыток", "Attempts", "int"), *_outcome_cols(),
            Col("contact_pct", "Дозвон, %", "Contact rate, %", "pct"),
            Col("avg_talk_s", "Средний разговор, с", "Average talk, s", "seconds"),
            Col("avg_wrap_s", "Средняя постобработка, с", "Average wrap-up, s", "seconds"),
            Col("lost_pct", "Упущено (LOST), %", "Abandoned (LOST), %", "pct")]
HOUR_COLS = [Col("login_h", "Часов в системе", "Hours signed in", "hours"),
             Col("calls_per_hour", "Звонков в час", "Calls per operator-hour", "float"),
             Col("talk_min_per_hour", "Минут разговора в час", "Talk minutes per operator-hour", "float")]
TABLES = {
    "campaigns": ("Кампании", "Campaigns", [Col("name", "Кампания", "Campaign"), *KPI_COLS]),
    "operators": ("Операторы", "Operators", [Col("name", "Оператор", "Operator"), *KPI_COLS, *HOUR_COLS]),
    "days": ("По дням", "By day", [Col("key", "День", "Day", "date"), Col("attempts", "Попыток", "Attempts", "int"),
                                   *_outcome_cols()]),
    "hours": ("По часам", "By hour", [Col("key", "Час", "Hour", "int"), Col("attempts", "Попыток", "Attempts", "int"),
                                      *_outcome_cols()]),
    "calls": ("Звонки", "Calls", [
        Col("id", "№", "No.", "int"), Col("ended_at", "Завершён", "Ended", "datetime"),
        Col("campaign", "Кампания", "Campaign"), Col("operator", "Оператор", "Operator"),
        Col("client", "Клиент", "Client"), Col("order_id", "Заказ", "Order"), Col("phone", "Телефон", "Phone"),
        Col("outcome", "Исход", "Outcome"), Col("talk_s", "Разговор, с", "Talk, s", "seconds"),
        Col("wrap_s", "Постобработка, с", "Wrap-up, s", "seconds"), Col("result", "Результат", "Result"),
        Col("manual", "Ручной набор", "Manual dial", "bool")]),
}
KPI_TABLE = ("Показатели", "Key figures")
SHEETS = ("kpis", "days", "hours", "campaigns", "operators")   # a whole report, in this order


# ---- cells ------------------------------------------------------------------------------------------------
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ufffe\uffff]")


def safe_text(value: str) -> str:
    """Control characters stripped (XML 1.0 cannot hold them, and they corrupt CSV); a text that a spreadsheet
    would run as a formula (= + - @, also after a tab or CR) gets a ' in front."""
    value = _CONTROL.sub("", value).replace("\t", " ").replace("\r", " ")
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def typed(value, kind: str, lang: str = "ru"):
    """A cell's value for XLSX: numbers stay numbers, instants become local naive datetimes, text is made safe."""
    if value is None:
        return None
    if kind == "bool":
        return bool(value)
    if kind in ("int",):
        return int(value)
    if kind in ("float", "pct", "seconds", "hours"):
        return round(float(value), 2)
    if kind == "datetime":
        return value.replace(tzinfo=None, microsecond=0) if isinstance(value, datetime) else value
    if kind == "date":
        return date.fromisoformat(value) if isinstance(value, str) else value
    return safe_text(str(value))


def shown(value, kind: str, lang: str = "ru", decimal: str = ".", formula_safe: bool = True) -> str:
    """A cell as text (CSV; a PDF, where nothing runs as a formula, without the ' in front)."""
    if value is None:
        return ""
    if kind == "bool":
        return ("да" if value else "нет") if lang == "ru" else ("yes" if value else "no")
    if kind == "int":
        return str(int(value))
    if kind in ("float", "pct", "seconds", "hours"):
        return f"{float(value):.1f}".replace(".", decimal)
    if kind == "datetime":
        return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else str(value)
    return safe_text(str(value)) if formula_safe else _CONTROL.sub("", str(value))


def flatten(r: dict) -> dict:
    """A report row (kpis() with its outcomes list, or a histogram bar) as flat columns."""
    out = dict(r)
    if "outcomes" in r:
        for o in r["outcomes"]:
            out[f"n_{o['code']}"], out[f"pct_{o['code']}"] = o["n"], o["pct"]
    if "counts" in r:
        total = sum(r["counts"].values())
        out["attempts"] = total
        for code, n in r["counts"].items():
            out[f"n_{code}"], out[f"pct_{code}"] = n, reports.pct(n, total)
    return out


def call_row(r: dict, lang: str) -> dict:
    o = Outcome(r["outcome"]) if r.get("outcome") else None
    return {**r, "outcome": (o.label_ru if lang == "ru" else o.label_en) if o else ""}


# ---- what each table holds -------------------------------------------------------------------------------
def report_tables(rep: dict, lang: str) -> dict[str, tuple[str, list[Col], Iterable[dict]]]:
    title = lambda key: TABLES[key][0] if lang == "ru" else TABLES[key][1]  # noqa: E731
    kpi_cols = [Col("name", "", ""), *KPI_COLS, *HOUR_COLS]
    return {"kpis": (KPI_TABLE[0] if lang == "ru" else KPI_TABLE[1], kpi_cols,
                     [flatten({**rep["kpis"], "name": "Итого" if lang == "ru" else "Total"})]),
            "days": (title("days"), TABLES["days"][2], [flatten(d) for d in rep["by_day"]]),
            "hours": (title("hours"), TABLES["hours"][2], [flatten(h) for h in rep["by_hour"]]),
            "campaigns": (title("campaigns"), TABLES["campaigns"][2],
                          [flatten(r) for r in rep["campaigns"]] + [flatten({**rep["totals"], "name": _total(lang)})]),
            "operators": (title("operators"), TABLES["operators"][2],
                          [flatten({**r, "name": r["name"] or _no_operator(lang)}) for r in rep["operators"]]
                          + [flatten({**rep["totals"], "name": _total(lang)})])}


def _total(lang: str) -> str:
    return "Итого" if lang == "ru" else "Total"


def _no_operator(lang: str) -> str:
    return "(без оператора)" if lang == "ru" else "(no operator)"


def describe(flt: Filter, lang: str) -> list[tuple[str, str]]:
    """The filters as printed on a PDF and above a CSV: (label, value) in the user's language."""
    ru = lang == "ru"

    def listed(table, ids):
        found = reports.names(table, ids)
        return ", ".join(found.get(i, str(i)) for i in ids) if ids else ("все" if ru else "all")

    outcomes = ", ".join((Outcome(o).label_ru if ru else Outcome(o).label_en) for o in flt.outcomes)
    return [("Период" if ru else "Period", f"{flt.start:%d.%m.%Y} — {flt.end:%d.%m.%Y}"),
            ("Часовой пояс" if ru else "Time zone", flt.zone),
            ("Кампании" if ru else "Campaigns", listed("campaign", flt.campaigns)),
            ("Операторы" if ru else "Operators", listed("operator", flt.operators)),
            ("Выборки" if ru else "Selections", listed("selection", flt.selections)),
            ("Исходы" if ru else "Outcomes", outcomes or ("все" if ru else "all"))]


# ---- CSV --------------------------------------------------------------------------------------------------
def csv_chunks(sections: Iterable[tuple[str, list[Col], Iterable[dict]]], lang: str, sep: str = ",",
               preface: list[tuple[str, str]] = ()) -> Iterator[bytes]:
    """UTF-8 with a BOM (spreadsheet programs then read it as UTF-8); with `;` the decimal mark is a comma, as a
    spreadsheet in a Russian locale expects. Sections are separated by an empty line and start with their title."""
    decimal = "," if sep == ";" else "."
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\r\n")
    buf.write("\ufeff")
    for label, value in preface:
        writer.writerow([safe_text(label), safe_text(value)])
    first = not preface
    for title, cols, rows in sections:
        if not first:
            writer.writerow([])
        if title:
            writer.writerow([safe_text(title)])
        first = False
        writer.writerow([c.title(lang) for c in cols])
        for r in rows:
            writer.writerow([shown(r.get(c.key), c.kind, lang, decimal) for c in cols])
            if buf.tell() > CHUNK:
                yield buf.getvalue().encode()
                buf.seek(0)
                buf.truncate()
    yield buf.getvalue().encode()


# ---- XLSX -------------------------------------------------------------------------------------------------
def xlsx_chunks(sections: Iterable[tuple[str, list[Col], Iterable[dict]]], lang: str,
                preface: list[tuple[str, str]] = ()) -> Iterator[bytes]:
    """One sheet per section, typed cells (numbers, dates), a frozen header. The workbook is write-only: rows go
    to a temporary file as they come, so memory stays flat however many rows there are."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    book = Workbook(write_only=True)
    if preface:
        sheet = book.create_sheet("Фильтры" if lang == "ru" else "Filters")
        for label, value in preface:
            sheet.append([safe_text(label), safe_text(value)])
    used: set[str] = set()
    for title, cols, rows in sections:
        name = _sheet_name(title, used)
        sheet = book.create_sheet(name)
        sheet.freeze_panes = "A2"
        bold = Font(bold=True)
        header = []
        for c in cols:
            cell = WriteOnlyCell(sheet, value=c.title(lang))
            cell.font = bold
            header.append(cell)
        sheet.append(header)
        for r in rows:
            sheet.append([typed(r.get(c.key), c.kind, lang) for c in cols])
    fd, path = tempfile.mkstemp(suffix=".xlsx", prefix="dialer-report-")
    os.close(fd)
    try:
        book.save(path)
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)


def _sheet_name(title: str, used: set[str]) -> str:
    base = re.sub(r"[\[\]:*?/\\]", " ", title or "Лист")[:28] or "Лист"
    name, i = base, 2
    while name in used:
        name, i = f"{base} {i}", i + 1
    used.add(name)
    return name


# ---- dispatch ---------------------------------------------------------------------------------------------
def export(kind: str, sections: Callable[[], Iterable[tuple[str, list[Col], Iterable[dict]]]], lang: str,
           sep: str = ",", preface: list[tuple[str, str]] = (), pdf: Callable[[], bytes] | None = None
           ) -> Iterator[bytes]:
    if kind == "csv":
        yield from csv_chunks(sections(), lang, sep, preface)
    elif kind == "xlsx":
        yield from xlsx_chunks(sections(), lang, preface)
    else:
        assert pdf is not None
        data = pdf()
        for i in range(0, len(data), CHUNK):
            yield data[i:i + CHUNK]
