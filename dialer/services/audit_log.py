"""Reading the audit log (SPEC I1): filter by any field, page through, export CSV and XLSX for a period."""
from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from .. import audit
from . import fields as f

PAGE = 100
EXPORT_MAX_ROWS = 200_000
EXPORT_MAX_DAYS = 366
COLUMNS = ("id", "at", "user_id", "user_name", "user_role", "action", "name", "object_type", "object_id",
           "changes", "ip")


@dataclass(frozen=True)
class Filter:
    since: datetime | None = None     # inclusive
    until: datetime | None = None     # exclusive
    user: str = ""                    # part of the user's name
    user_id: int | None = None
    role: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    text: str = ""                    # part of the readable name
    before_id: int | None = None      # paging: entries older than this one


def _day(field: str, value: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(date.fromisoformat(value), datetime.min.time(), tzinfo=timezone.utc)
    except ValueError:
        raise f.invalid(field, "must be a date YYYY-MM-DD", "должно быть датой ГГГГ-ММ-ДД") from None


def parse_filter(params: dict[str, str]) -> Filter:
    """Query-string values (all strings) into a checked Filter; dates are whole days, `to` inclusive."""
    def txt(key, max_len=200):
        return f.text(key, params.get(key, "") or "", max_len=max_len)

    def num(key):
        value = params.get(key, "") or ""
        if not value:
            return None
        if not value.isdigit() or not f.is_id(int(value)):
            raise f.invalid(key, "must be a positive whole number", "должно быть целым положительным числом")
        return int(value)

    action = txt("action")
    if action and action not in audit.ACTIONS:
        f.choice("action", action, audit.ACTIONS)
    since, until = _day("from", params.get("from", "")), _day("to", params.get("to", ""))
    if until is not None:
        until += timedelta(days=1)
    if since and until and since >= until:
        raise f.invalid("to", "must not be before 'from'", "не может быть раньше «с»")
    return Filter(since=since, until=until, user=txt("user"), user_id=num("user_id"), role=txt("role"),
                  action=action, object_type=txt("object_type"), object_id=txt("object_id"), text=txt("text"),
                  before_id=num("before_id"))


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def where(flt: Filter) -> tuple[str, list]:
    """Fixed SQL fragments and their parameters: no user text ever becomes SQL."""
    parts, params = [], []
    checks = [("at >= %s", flt.since), ("at < %s", flt.until), ("user_name ILIKE %s", flt.user and _like(flt.user)),
              ("user_id = %s", flt.user_id), ("user_role ILIKE %s", flt.role and _like(flt.role)),
              ("action = %s", flt.action or None), ("object_type = %s", flt.object_type or None),
              ("object_id = %s", flt.object_id or None), ("name ILIKE %s", flt.text and _like(flt.text)),
              ("id < %s", flt.before_id)]
    for fragment, value in checks:
        if value:
            parts.append(fragment)
            params.append(value)
    return (" WHERE " + " AND ".join(parts)) if parts else "", params


def search(flt: Filter, limit: int = PAGE) -> list[dict]:
    clause, params = where(flt)
    cur = f.database().execute_sql(f"SELECT {', '.join(COLUMNS)} FROM audit_log{clause} ORDER BY id DESC LIMIT %s",
                                   (*params, limit))
    return [dict(zip(COLUMNS, row)) for row in cur.fetchall()]


def _export_rows(flt: Filter) -> list[dict]:
    if flt.since is None or flt.until is None:
        raise f.invalid("from", "an export needs a period: 'from' and 'to'", "для выгрузки нужен период: «с» и «по»")
    if (flt.until - flt.since).days > EXPORT_MAX_DAYS:
        raise f.invalid("to", f"the period must be at most {EXPORT_MAX_DAYS} days",
                        f"период не длиннее {EXPORT_MAX_DAYS} дней")
    clause, params = where(flt)
    cur = f.database().execute_sql(f"SELECT {', '.join(COLUMNS)} FROM audit_log{clause} ORDER BY at, id LIMIT %s",
                                   (*params, EXPORT_MAX_ROWS))
    return [dict(zip(COLUMNS, row)) for row in cur.fetchall()]


def _cells(row: dict) -> list:
    return [row["id"], row["at"].isoformat(timespec="microseconds"), row["user_id"] or "", row["user_name"],
            row["user_role"], row["action"], row["name"], row["object_type"], row["object_id"],
            json.dumps(row["changes"], ensure_ascii=False, sort_keys=True), row["ip"]]


def _safe_cell(value):
    # a cell starting with = + - @ would run as a formula in a spreadsheet
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# XLSX is XML 1.0, which cannot hold C0 controls other than tab, LF and CR, nor U+FFFE/U+FFFF: openpyxl
# refuses the first (an e-mail typed with a control character in a failed sign-in made the export a 500)
# and writes an unreadable file with the second. Stored text is whatever people typed, so such characters
# are written as visible escapes (\x01) rather than dropped: the log still shows what was there.
_NOT_IN_XLSX = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xlsx_cell(value):
    if isinstance(value, str):
        value = _NOT_IN_XLSX.sub(lambda m: f"\\x{ord(m[0]):02x}" if ord(m[0]) < 0x100 else f"\\u{ord(m[0]):04x}",
                                 value)
    return _safe_cell(value)  # after the escapes: "\x01=…" must not become "=…"


def export_csv(flt: Filter) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in _export_rows(flt):
        writer.writerow([_safe_cell(v) for v in _cells(row)])
    return ("\ufeff" + out.getvalue()).encode()  # BOM: spreadsheet programs then read UTF-8


def export_xlsx(flt: Filter) -> bytes:
    from openpyxl import Workbook

    book = Workbook(write_only=True)
    sheet = book.create_sheet("audit")
    sheet.append(list(COLUMNS))
    for row in _export_rows(flt):
        sheet.append([_xlsx_cell(v) for v in _cells(row)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def ensure_partitions(months_ahead: int = 3) -> int:
    """The job's work: create the monthly partitions that are missing (this month and months ahead)."""
    return f.database().execute_sql("SELECT audit_log_ensure_partitions(%s)", (months_ahead,)).fetchone()[0]
