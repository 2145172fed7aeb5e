"""Pure parsing of an operators CSV (the bulk import of «Операторы»): rows and per-line problems, no database.

Columns (header required, any order, `;` `,` or TAB, UTF-8; Russian names accepted):
  name · login · sip_password (empty: generated) · campaigns (names or numbers, `|` between them) ·
  skills (`sales:5|vip:3`, level 1–10).
Line numbers are the file's own (the header is line 1), so a person finds the row in a spreadsheet.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from .. import tables
from ..errors import Invalid

MAX_LINES = 5000
COLUMNS = {"name": "name", "имя": "name", "фио": "name", "оператор": "name",
           "login": "login", "логин": "login",
           "sip_password": "sip_password", "password": "sip_password", "пароль": "sip_password",
           "campaigns": "campaigns", "кампании": "campaigns", "pools": "campaigns", "пулы": "campaigns",
           "skills": "skills", "навыки": "skills"}
REQUIRED = ("name", "login")
SKILL_RE = re.compile(r"^([a-z0-9_]{1,40})\s*[:=]\s*(\d{1,2})$")


@dataclass
class Line:
    number: int
    name: str
    login: str
    sip_password: str | None
    campaigns: list[str] = field(default_factory=list)  # lower-case names or numbers, as written
    skills: dict[str, int] = field(default_factory=dict)


@dataclass
class Parsed:
    lines: list[Line] = field(default_factory=list)
    problems: list[dict] = field(default_factory=list)


def _problem(line: int, field_: str, message: str, message_ru: str) -> dict:
    return {"line": line, "field": field_, "message": message, "message_ru": message_ru}


def header(cells: list[str]) -> list[str | None]:
    """Each column's meaning (None: a column we do not read); a missing required one refuses the file."""
    names = [COLUMNS.get(c.strip().lower()) for c in cells]
    missing = [r for r in REQUIRED if r not in names]
    if missing:
        raise Invalid("invalid-header", f"the header must have the columns {', '.join(REQUIRED)}"
                      f" (missing: {', '.join(missing)}); optional: sip_password, campaigns, skills",
                      message_ru=f"в заголовке должны быть столбцы {', '.join(REQUIRED)}"
                      f" (нет: {', '.join(missing)}); необязательные: sip_password, campaigns, skills")
    doubled = sorted({n for n in names if n and names.count(n) > 1})
    if doubled:
        raise Invalid("invalid-header", f"columns named twice: {', '.join(doubled)}",
                      message_ru=f"столбцы указаны дважды: {', '.join(doubled)}")
    return names


def skills(text: str) -> tuple[dict[str, int], str | None]:
    """`sales:5|vip:3` → {"sales": 5, "vip": 3}; the second value is what is wrong, if anything."""
    out: dict[str, int] = {}
    for part in (p.strip() for p in re.split(r"[|,]", text) if p.strip()):
        m = SKILL_RE.match(part.lower())
        if not m or not 1 <= int(m.group(2)) <= 10:
            return {}, part
        if m.group(1) in out:
            return {}, part
        out[m.group(1)] = int(m.group(2))
    return out, None


def parse(data: bytes | str) -> Parsed:
    text = tables.decode(data)
    delimiter = tables.sniff_delimiter(tables.first_line(text))
    rows = tables.csv_rows(text, delimiter)
    parsed = Parsed()
    columns = None
    seen: dict[str, int] = {}
    for number, cells in rows:
        if columns is None:
            if isinstance(cells, str):
                raise Invalid("invalid-header", f"the header cannot be read: {cells}",
                              message_ru=f"заголовок не читается: {cells}")
            columns = header(cells)
            continue
        if isinstance(cells, str):
            parsed.problems.append(_problem(number, "line", cells, "строка CSV не читается"))
            continue
        if len(parsed.lines) + len(parsed.problems) >= MAX_LINES:
            raise Invalid("file-too-large", f"more than {MAX_LINES} operators: split the file",
                          message_ru=f"больше {MAX_LINES} операторов: разделите файл")
        values = {c: (cells[i].strip() if i < len(cells) else "") for i, c in enumerate(columns) if c}
        line = Line(number, values.get("name", ""), values.get("login", ""), values.get("sip_password") or None)
        line.campaigns = [c.strip().lower() for c in values.get("campaigns", "").split("|") if c.strip()]
        line.skills, wrong = skills(values.get("skills", ""))
        if wrong is not None:
            parsed.problems.append(_problem(number, "skills", f"{wrong!r}: write skill:level, level 1 to 10,"
                                            " each skill once, '|' between them",
                                            f"«{wrong}»: пишите навык:уровень, уровень от 1 до 10,"
                                            " каждый навык один раз, «|» между ними"))
        if line.login and line.login in seen:
            parsed.problems.append(_problem(number, "login", f"{line.login!r} is also on line {seen[line.login]}",
                                            f"«{line.login}» уже есть в строке {seen[line.login]}"))
        seen.setdefault(line.login, number)
        parsed.lines.append(line)
    if columns is None:
        raise Invalid("invalid-header", "the file is empty", message_ru="файл пуст")
    if not parsed.lines and not parsed.problems:
        raise Invalid("import-empty", "the file has no operators", message_ru="в файле нет операторов")
    return parsed
