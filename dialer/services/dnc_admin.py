"""The «Больше не звонить» page's use cases (SPEC C10): search the list, add a number with a reason, remove one,
import a CSV file and export the list. Single numbers go through `rules.dnc` (it normalises and audits); a file
is all or nothing: any wrong line refuses it, every wrong line named by its number, and nothing is written."""
from __future__ import annotations

import csv
import io
import itertools
import re
from dataclasses import dataclass, field

from rules import dnc

from .. import audit, tables
from .. import validation as f
from ..errors import Conflict, Invalid, NotFound
from ..phones import normalise_phone

PAGE = 100
MAX_QUERY = 100
MAX_IMPORT = 100_000  # numbers in one file; a bigger list is split (the audit entry names every number added)
PHONE_HEADERS = {"phone", "телефон", "номер", "number"}
REASON_HEADERS = {"reason", "причина", "комментарий", "comment"}
EXPORT_COLUMNS = ("phone", "added_at", "reason", "source")
_PHONE_TEXT = re.compile(r"^[\d\s()+\-.]+$")


def _db():
    return f.database()


# ---- search --------------------------------------------------------------------------------------------------
def phone_digits(query: str) -> str | None:
    """The digits to look for when the query is a number written any way ("8 (900) 12-3" → "7900123"),
    None when it is words (then the reason is searched)."""
    if not _PHONE_TEXT.match(query) or not any(c.isdigit() for c in query):
        return None
    digits = re.sub(r"\D", "", query)
    if len(digits) >= 4 and digits[0] == "8" and not query.lstrip().startswith("+"):
        digits = "7" + digits[1:]  # a Russian number written from its start with the trunk prefix 8
    return digits


def search(query: str = "", limit: int = PAGE) -> dict:
    """{"numbers": [...], "total": all on the list, "found": matching, "more": bool}; newest first."""
    q = f.text("q", query, max_len=MAX_QUERY).strip()
    where, params = "", []
    digits = phone_digits(q) if q else None
    if digits is not None:
        where, params = "WHERE phone LIKE %s", [f"%{digits}%"]
    elif q:
        escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where, params = "WHERE reason ILIKE %s", [f"%{escaped}%"]
    db = _db()
    rows = db.execute_sql(f"SELECT phone, added_at, reason, source, attempt_id FROM do_not_call {where} "
                          "ORDER BY added_at DESC, phone LIMIT %s", (*params, limit + 1)).fetchall()
    total = db.execute_sql("SELECT count(*) FROM do_not_call").fetchone()[0]
    found = total if not where else db.execute_sql(f"SELECT count(*) FROM do_not_call {where}", params).fetchone()[0]
    numbers = [{"phone": p, "added_at": f.iso(at), "reason": r, "source": s, "attempt_id": a}
               for p, at, r, s, a in rows[:limit]]
    return {"numbers": numbers, "total": total, "found": found, "more": len(rows) > limit, "q": q}


# ---- one number ----------------------------------------------------------------------------------------------
def add(phone, reason) -> str:
    """Put a number on the list with a reason (required here: the page is where a person decides it)."""
    number = dnc.phone_number(phone)
    reason = f.text("reason", reason, max_len=dnc.MAX_REASON, min_len=1, multiline=True)
    if not dnc.add(number, reason, "supervisor"):
        raise Conflict("do-not-call-listed", f"{number} is already on the do-not-call list", field="phone",
                       message_ru=f"{number} уже в списке «Больше не звонить»")
    return number


def remove(phone) -> str:
    number = dnc.phone_number(phone)
    if not dnc.remove(number):
        raise NotFound("do-not-call-not-listed", f"{number} is not on the do-not-call list", field="phone",
                       message_ru=f"{number} нет в списке «Больше не звонить»")
    return number


# ---- a file --------------------------------------------------------------------------------------------------
@dataclass
class Parsed:
    numbers: dict[str, str] = field(default_factory=dict)  # E.164 → reason, first line of a number wins
    problems: list[dict] = field(default_factory=list)  # {"line", "field", "message", "message_ru"}
    rows: int = 0


def _problem(line: int, field_: str, message: str, message_ru: str) -> dict:
    return {"line": line, "field": field_, "message": f"line {line}: {message}",
            "message_ru": f"строка {line}: {message_ru}"}


def _columns(cells: list[str]) -> tuple[int, int | None] | None:
    """(phone column, reason column) of a header row; None when the row is data (a bare list of numbers)."""
    names = [c.strip().lower().lstrip("\ufeff") for c in cells]
    phone = next((i for i, n in enumerate(names) if n in PHONE_HEADERS), None)
    if phone is None:
        if names and phone_digits(names[0]) is not None:
            return None
        raise Invalid("invalid-header", "the first line must name the columns: phone[, reason]",
                      message_ru="первая строка должна называть столбцы: phone (телефон)[, reason (причина)]")
    return phone, next((i for i, n in enumerate(names) if n in REASON_HEADERS), None)


def _delimiter(text: str) -> str:
    """The header's delimiter; a bare list of numbers may have none on its first line but reasons further on."""
    for line in itertools.islice((ln for ln in io.StringIO(text) if ln.strip()), 20):
        if any(d in line for d in tables.DELIMITERS):
            return tables.sniff_delimiter(line)
    return ","


def parse(data: bytes | str) -> Parsed:
    """Pure: a CSV of numbers (with a header `phone;reason`, or one number per line) → numbers and problems."""
    tables.check_size(data)
    text = tables.decode(data)
    records = tables.csv_rows(text, _delimiter(text), strict=True)
    parsed, columns, first = Parsed(), None, True
    for line, cells in records:
        if isinstance(cells, str):
            parsed.problems.append(_problem(line, "line", cells, "строка CSV не читается"))
            continue
        if first:
            first = False
            columns = _columns(cells)
            if columns is not None:
                continue
            columns = (0, 1)  # a bare list: the number, then an optional reason
        parsed.rows += 1
        if parsed.rows > MAX_IMPORT:
            raise Invalid("file-too-large", f"more than {MAX_IMPORT} numbers: split the file",
                          message_ru=f"больше {MAX_IMPORT} номеров: разделите файл")
        _take(parsed, line, cells, *columns)
    if parsed.rows == 0 and not parsed.problems:
        raise Invalid("import-empty", "the file has no numbers", message_ru="в файле нет номеров")
    return parsed


def _take(parsed: Parsed, line: int, cells: list[str], phone_at: int, reason_at: int | None) -> None:
    raw = cells[phone_at].strip() if phone_at < len(cells) else ""
    reason = cells[reason_at].strip() if reason_at is not None and reason_at < len(cells) else ""
    number = normalise_phone(raw, dnc.DEFAULT_REGION) if raw and len(raw) <= 40 and not f.has_control(raw) else None
    if number is None:
        parsed.problems.append(_problem(line, "phone", f"{raw!r} is not a phone number",
                                        f"{raw!r} — неверный номер телефона"))
        return
    if len(reason) > dnc.MAX_REASON or f.has_control(reason, allow="\n\r\t"):
        parsed.problems.append(_problem(line, "reason", f"the reason is longer than {dnc.MAX_REASON} characters "
                                        "or has control characters",
                                        f"причина длиннее {dnc.MAX_REASON} символов или с управляющими символами"))
        return
    parsed.numbers.setdefault(number, reason)


def import_csv(data: bytes | str, default_reason: str = "") -> dict:
    """Numbers of a file onto the list in one transaction and one audit entry naming every number added;
    numbers already listed keep their reason. Any wrong line refuses the whole file."""
    default_reason = f.text("reason", default_reason, max_len=dnc.MAX_REASON, multiline=True).strip()
    parsed = parse(data)
    if parsed.problems:
        lines = len({p["line"] for p in parsed.problems})
        raise Invalid("import-invalid", f"{lines} line(s) of the file need correcting; nothing was imported",
                      message_ru=f"строк с ошибками: {lines}; ничего не импортировано", problems=parsed.problems)
    db = _db()
    phones = list(parsed.numbers)
    reasons = [parsed.numbers[p] or default_reason or "CSV" for p in phones]
    with db.atomic():
        added = [r[0] for r in db.execute_sql(
            "INSERT INTO do_not_call (phone, reason, source) SELECT p, r, 'import' FROM unnest(%s::text[], %s::text[])"
            " AS t(p, r) ON CONFLICT (phone) DO NOTHING RETURNING phone", (phones, reasons)).fetchall()]
        if added:
            audit.record(db, "created", "do_not_call", "import", name="do-not-call: file imported",
                         new={"rows": parsed.rows, "added": len(added), "phones": sorted(added)})
    return {"rows": parsed.rows, "numbers": len(phones), "added": len(added), "already": len(phones) - len(added)}


def export_csv() -> str:
    """The whole list as CSV (`;`, UTF-8 with a BOM for spreadsheets); the import reads it back."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(EXPORT_COLUMNS)
    cursor = _db().execute_sql("SELECT phone, added_at, reason, source FROM do_not_call ORDER BY phone")
    for phone, added_at, reason, source in cursor:
        writer.writerow((phone, f.iso(added_at), _safe_cell(reason), source))
    return out.getvalue()


def _safe_cell(value: str) -> str:
    """A spreadsheet must not run a reason as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value
