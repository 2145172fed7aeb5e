"""Pure parsing of a leads CSV file into checked rows and per-line errors (no database here).

Line numbers are those of the file (1-based, the header is line 1) so a user can find the row
in a spreadsheet; a quoted value spanning lines is reported at the line where its row starts.
The file's size, rows, columns and cells are limited while it is read (`dialer.tables`).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import phonenumbers

from rules import zones

from .. import tables
from ..errors import Invalid
from ..phones import normalise_phone
from ..tables import decode, sniff_delimiter
from ..validation import has_control

ALIASES = {"external_id": "external_id", "order_id": "external_id", "id": "external_id",
           "phone": "phone", "name": "name"}
MAX_EXTERNAL_ID = 100
MAX_NAME = 200
MAX_PHONE_INPUT = 40
MAX_ATTR_NAME = 100
MAX_ATTR_VALUE = 2000
# CRM fields the selection rules use as typed columns (header names in English or Russian); the
# values also stay in `attrs` exactly as the file had them
CRM_ALIASES = {"country": "country", "страна": "country", "region": "region", "регион": "region",
               "city": "city", "город": "city", "amount": "amount", "сумма": "amount",
               "birth_date": "birth_date", "дата рождения": "birth_date", "product": "product", "товар": "product",
               "crm_status": "crm_status", "status": "crm_status", "статус": "crm_status", "priority": "priority", "приоритет": "priority",
               # not a lead column: a true value puts the number on the do-not-call list (source "import")
               "do_not_call": "do_not_call", "dnc": "do_not_call", "не звонить": "do_not_call",
               "больше не звонить": "do_not_call"}
YES = {"1", "yes", "y", "true", "да", "д", "+", "x", "х"}
NO = {"0", "no", "n", "false", "нет", "н", "-"}
MAX_CRM_TEXT = 200
MAX_AMOUNT = Decimal("1e12")


@dataclass
class Parsed:
    rows: list[dict] = field(default_factory=list)  # {"line", "external_id", "phone", "name", "attrs"}
    errors: list[dict] = field(default_factory=list)  # {"line", "reason"}
    seen: int = 0  # data rows read (blank lines not counted)


def _bad_header(reason: str, reason_ru: str) -> Invalid:
    return Invalid("csv-invalid-header", f"line 1: {reason}", line=1, message_ru=f"строка 1: {reason_ru}")


def header_columns(cells: list[str]) -> list[str]:
    """Canonical column names; raises when the header cannot describe leads."""
    names = [c.strip().lower() for c in cells]
    columns = []
    for name in names:
        if not name or has_control(name) or len(name) > MAX_ATTR_NAME:
            raise _bad_header(f"column name {name!r} is empty, too long or has control characters",
                              f"пустое, слишком длинное или недопустимое имя столбца {name!r}")
        canonical = ALIASES.get(name, name)
        if canonical in columns:
            raise _bad_header(f"column {canonical!r} appears twice", f"столбец {canonical!r} повторяется")
        columns.append(canonical)
    missing = [c for c in ("external_id", "phone") if c not in columns]
    if missing:
        raise _bad_header(f"no valid header: column(s) {', '.join(missing)} missing "
                          "(expected external_id|order_id|id, phone, [name], ...)",
                          f"нет заголовка: не найдены столбцы {', '.join(missing)}")
    return columns


def check_row(values: dict, region: str) -> tuple[dict | None, str | None]:
    """One data row → (lead fields, None) or (None, reason)."""
    for key, value in values.items():
        allow = "\n\r\t" if key not in ALIASES.values() else ""  # free-text CRM fields may be multi-line
        if has_control(value, allow=allow):
            return None, f"{key}: control characters are not allowed"
    external_id = values["external_id"].strip()
    phone_raw = values["phone"].strip()
    name = values.get("name", "").strip()
    if not external_id:
        return None, "external_id is empty"
    if len(external_id) > MAX_EXTERNAL_ID:
        return None, f"external_id longer than {MAX_EXTERNAL_ID} characters"
    if not phone_raw:
        return None, "phone is empty"
    if len(phone_raw) > MAX_PHONE_INPUT:
        return None, f"phone longer than {MAX_PHONE_INPUT} characters"
    crm, reason = crm_fields(values, region)
    if reason:
        return None, reason
    phone = normalise_phone(phone_raw, crm.get("country") or region)  # the order's country first
    if phone is None:
        return None, f"invalid phone number {phone_raw!r}"
    crm["time_zone"], crm["time_zone_source"] = zones.resolve(crm.get("region", ""), crm.get("city", ""), phone)
    if len(name) > MAX_NAME:
        return None, f"name longer than {MAX_NAME} characters"
    attrs = {k: v.strip() for k, v in values.items() if k not in ("external_id", "phone", "name")}
    for key, value in attrs.items():
        if len(value) > MAX_ATTR_VALUE:
            return None, f"{key} longer than {MAX_ATTR_VALUE} characters"
    return {"external_id": external_id, "phone": phone, "name": name, "attrs": attrs, "crm": crm}, None


def _amount(text: str) -> Decimal | None:
    cleaned = text.replace("\u00a0", "").replace(" ", "").replace(",", ".")
    if not re.fullmatch(r"-?[0-9]+(\.[0-9]{1,2})?", cleaned):
        return None
    value = Decimal(cleaned)
    return value if abs(value) < MAX_AMOUNT else None


def _birth_date(text: str) -> date | None:
    m = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})|(\d{2})\.(\d{2})\.(\d{4})", text)
    if not m:
        return None
    y, mo, d = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(6), m.group(5), m.group(4))
    try:
        value = date(int(y), int(mo), int(d))
    except ValueError:
        return None
    return value if date(1900, 1, 1) <= value <= date.today() else None


def crm_fields(values: dict, region: str) -> tuple[dict, str | None]:
    """The typed CRM columns of a row ({} for a file without them), or the reason the row is refused."""
    out: dict = {}
    for header, raw in values.items():
        column = CRM_ALIASES.get(header)
        text = " ".join(raw.split())
        if column is None or column in out or not text:
            continue
        if column == "country":
            if text.upper() not in phonenumbers.SUPPORTED_REGIONS:
                return {}, f"{header}: {text!r} is not a two-letter country code such as RU"
            out[column] = text.upper()
        elif column == "amount":
            if (amount := _amount(text)) is None:
                return {}, f"{header}: {text!r} is not an amount such as 1500.50"
            out[column] = amount
        elif column == "birth_date":
            if (born := _birth_date(text)) is None:
                return {}, f"{header}: {text!r} is not a past date such as 1980-05-31 or 31.05.1980"
            out[column] = born
        elif column == "priority":
            if not re.fullmatch(r"-?[0-9]{1,9}", text):
                return {}, f"{header}: {text!r} is not a whole number"
            out[column] = int(text)
        elif column == "do_not_call":
            if text.lower() not in YES | NO:
                return {}, f"{header}: {text!r} is not yes or no (1/0, да/нет)"
            out[column] = text.lower() in YES
        else:
            if len(text) > MAX_CRM_TEXT:
                return {}, f"{header} longer than {MAX_CRM_TEXT} characters"
            out[column] = text
    return out, None


def parse(data: bytes | str, region: str) -> Parsed:
    tables.check_size(data)
    text = decode(data)
    records = tables.csv_rows(text, sniff_delimiter(tables.first_line(text)), strict=True)
    header = next((cells for _, cells in records if cells), None)
    if header is None or isinstance(header, str):
        raise _bad_header("the file is empty or has no header row", "файл пуст или без строки заголовка")
    columns = header_columns(header)
    parsed, first_seen = Parsed(), {}
    for line, cells in records:
        parsed.seen += 1
        if isinstance(cells, str):
            parsed.errors.append({"line": line, "reason": cells})
            continue
        _take(parsed, first_seen, line, columns, cells, region)
    return parsed


def _take(parsed: Parsed, first_seen: dict, line: int, columns: list, cells: list, region: str):
    if len(cells) > len(columns) and not any(c.strip() for c in cells[len(columns):]):
        cells = cells[:len(columns)]  # spreadsheets add empty trailing separators
    if len(cells) != len(columns):
        parsed.errors.append({"line": line, "reason": f"expected {len(columns)} columns, got {len(cells)}"})
        return
    row, reason = check_row(dict(zip(columns, cells)), region)
    if row is None:
        parsed.errors.append({"line": line, "reason": reason})
        return
    key = row["external_id"]
    if key in first_seen:
        parsed.errors.append({"line": line, "reason": f"duplicate external_id {key!r} in the file "
                                                      f"(first on line {first_seen[key]})"})
        return
    first_seen[key] = line
    parsed.rows.append({"line": line, **row})
