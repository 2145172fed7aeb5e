"""The selection rule as data (SPEC C1–C9): its fields, operators and validation (pure).

A rule is JSON a supervisor edits. `validate(data)` returns a `Rule` or raises `Invalid` listing every
problem with its path (`conditions[0][1].value`) in English and Russian; nothing is saved then.

    {"conditions": [[{"field": "region", "op": "eq", "value": "Москва"}, ...], ...],  # OR of AND groups
     "limits": {"max_attempts": 5, "max_per_day": 2, "min_pause_minutes": 60},
     "window": {"from": "09:00", "to": "21:00", "days": [1, 2, 3, 4, 5], "holidays": ["2026-01-01"]},
     "order": "due" | "created_at" | "priority",  # due callbacks always come first
     "skill": {"name": "debt", "level": 5},        # or null
     "exhausted_status": "no_answer_final"}        # CRM status when the attempts run out ("" keeps it)
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from dialer.errors import Invalid
from dialer.validation import has_control

TEXT, NUMBER, INTEGER, DATE, DATETIME, ATTR = "text", "number", "integer", "date", "datetime", "attr"

# field → (type, nullable); `age` and `attempts_today` are derived in the client's local today
FIELDS = {
    "country": (TEXT, False), "region": (TEXT, False), "city": (TEXT, False), "product": (TEXT, False),
    "crm_status": (TEXT, False), "name": (TEXT, False), "external_id": (TEXT, False), "phone": (TEXT, False),
    "time_zone": (TEXT, False),
    "amount": (NUMBER, True), "priority": (INTEGER, False), "attempts": (INTEGER, False),
    "attempts_today": (INTEGER, False), "age": (INTEGER, True),
    "birth_date": (DATE, True), "created_at": (DATETIME, False), "last_attempt_at": (DATETIME, True),
    "next_call_at": (DATETIME, False),
}
ATTR_PREFIX = "attrs."
ATTR_KEY_RE = re.compile(r"^[\w][\w .-]{0,99}$")  # letters (any script), digits, _, space, dot, dash

OPS = {
    TEXT: ("eq", "ne", "in", "not_in", "contains", "empty", "not_empty"),
    NUMBER: ("eq", "ne", "gt", "lt", "ge", "le", "in", "not_in", "between", "empty", "not_empty"),
    DATE: ("eq", "ne", "gt", "lt", "ge", "le", "between", "today", "within", "empty", "not_empty"),
    ATTR: ("eq", "ne", "in", "not_in", "contains", "gt", "lt", "ge", "le", "between", "empty", "not_empty"),
}
OPS[INTEGER] = OPS[NUMBER]
OPS[DATETIME] = OPS[DATE]
ALL_OPS = sorted({op for ops in OPS.values() for op in ops})
NO_VALUE = ("empty", "not_empty")

ORDERS = ("due", "created_at", "priority")  # due: by next call time, the oldest due first
MAX_GROUPS, MAX_CONDITIONS, MAX_LIST = 20, 50, 500
MAX_TEXT = 200
MAX_ABS_NUMBER = Decimal("1e12")
MAX_DAYS = 3650  # "today ± N days" reaches ten years at most
MIN_DATE, MAX_DATE = date(1900, 1, 1), date(2200, 12, 31)
INTEGER_RANGES = {"age": (0, 150), "attempts": (0, 1000), "attempts_today": (0, 1000),
                  "priority": (-1_000_000_000, 1_000_000_000)}
ZONE_RE = re.compile(r"^(Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific)"
                     r"(/[A-Za-z0-9_+-]+){1,2}$")


@dataclass(frozen=True)
class Condition:
    field: str
    op: str
    value: object = None  # str | Decimal | int | date | tuple of those | (lo, hi) | None

    @property
    def kind(self) -> str:
        return ATTR if self.field.startswith(ATTR_PREFIX) else FIELDS[self.field][0]


@dataclass(frozen=True)
class Limits:
    max_attempts: int | None = None
    max_per_day: int | None = None
    min_pause_minutes: int | None = None


@dataclass(frozen=True)
class Window:
    start: time = time(0, 0)
    end: time | None = None  # None: until midnight
    days: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)  # ISO: 1 = Monday
    holidays: tuple[date, ...] = ()


@dataclass(frozen=True)
class Rule:
    groups: tuple[tuple[Condition, ...], ...] = ()  # OR of AND groups; no groups: every lead
    limits: Limits = field(default_factory=Limits)
    window: Window | None = None
    order: str = "due"
    skill: str | None = None
    skill_level: int | None = None
    exhausted_status: str = ""


class Problems:
    """Collects every mistake with its path, so the editor can mark each field at once."""

    def __init__(self):
        self.items: list[dict] = []

    def add(self, path: str, message: str, message_ru: str):
        self.items.append({"field": path, "message": f"{path}: {message}", "message_ru": f"{path}: {message_ru}"})

    def raise_if_any(self):
        if self.items:
            first = self.items[0]
            more = f" (and {len(self.items) - 1} more)" if len(self.items) > 1 else ""
            more_ru = f" (и ещё {len(self.items) - 1})" if len(self.items) > 1 else ""
            raise Invalid("invalid-rule", first["message"] + more, field=first["field"],
                          message_ru=first["message_ru"] + more_ru, problems=self.items)


def _key(parent: str, key) -> str:
    """The path of an unknown key; a key that cannot be shown names its parent."""
    if not isinstance(key, str) or not key or len(key) > 60 or has_control(key):
        return parent or "rule"
    return f"{parent}.{key}" if parent else key


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _text(p: Problems, path: str, v, allow_empty=False) -> str | None:
    if not isinstance(v, str):
        p.add(path, "must be a string", "должно быть строкой")
        return None
    if has_control(v):
        p.add(path, "must not contain control characters", "не должно содержать управляющих символов")
        return None
    if not v and not allow_empty:
        p.add(path, "must not be empty", "не может быть пустым")
        return None
    if len(v) > MAX_TEXT:
        p.add(path, f"must be at most {MAX_TEXT} characters", f"не длиннее {MAX_TEXT} символов")
        return None
    return v


def _number(p: Problems, path: str, v, integer=False, bounds=None) -> Decimal | int | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v)):
        p.add(path, "must be a number", "должно быть числом")
        return None
    if integer and not _is_int(v):
        p.add(path, "must be a whole number", "должно быть целым числом")
        return None
    lo, hi = bounds or (-MAX_ABS_NUMBER, MAX_ABS_NUMBER)
    if not lo <= Decimal(str(v)) <= hi:
        p.add(path, f"must be between {lo} and {hi}", f"должно быть от {lo} до {hi}")
        return None
    return v if integer else Decimal(str(v))


def _date(p: Problems, path: str, v) -> date | None:
    try:
        d = date.fromisoformat(v) if isinstance(v, str) and len(v) == 10 else None
    except ValueError:
        d = None
    if d is None:
        p.add(path, "must be a date YYYY-MM-DD", "должно быть датой ГГГГ-ММ-ДД")
        return None
    if not MIN_DATE <= d <= MAX_DATE:
        p.add(path, f"must be between {MIN_DATE} and {MAX_DATE}", f"должно быть от {MIN_DATE} до {MAX_DATE}")
        return None
    return d


def _scalar(p: Problems, path: str, kind: str, fname: str, v):
    if kind == TEXT:
        return _text(p, path, v)
    if kind == INTEGER:
        return _number(p, path, v, integer=True, bounds=INTEGER_RANGES.get(fname))
    if kind == NUMBER:
        return _number(p, path, v)
    if kind in (DATE, DATETIME):
        return _date(p, path, v)
    # an attribute: text, or a number when compared by size
    if isinstance(v, str):
        return _text(p, path, v)
    return _number(p, path, v)


def _value(p: Problems, path: str, kind: str, fname: str, op: str, v):
    if op in NO_VALUE:
        if v is not None:
            p.add(path, f"'{op}' takes no value", f"для «{op}» значение не нужно")
        return None
    if op in ("in", "not_in"):
        if not isinstance(v, list) or not v:
            p.add(path, "must be a non-empty list", "должно быть непустым списком")
            return None
        if len(v) > MAX_LIST:
            p.add(path, f"at most {MAX_LIST} values", f"не больше {MAX_LIST} значений")
            return None
        items = [_scalar(p, f"{path}[{i}]", kind, fname, x) for i, x in enumerate(v)]
        if any(x is None for x in items):
            return None
        if kind == ATTR and len({type(x) is str for x in items}) > 1:
            p.add(path, "must be all texts or all numbers", "должны быть либо все строки, либо все числа")
            return None
        return tuple(dict.fromkeys(items))
    if op in ("today", "within"):
        if op == "today":
            return _number(p, path, v, integer=True, bounds=(-MAX_DAYS, MAX_DAYS))
        if not isinstance(v, list) or len(v) != 2:
            p.add(path, "must be [from, to] days from today", "должно быть [с, по] дней от сегодня")
            return None
        lo, hi = (_number(p, f"{path}[{i}]", x, integer=True, bounds=(-MAX_DAYS, MAX_DAYS)) for i, x in enumerate(v))
        return _ordered(p, path, lo, hi)
    if op == "between":
        if not isinstance(v, list) or len(v) != 2:
            p.add(path, "must be [from, to]", "должно быть [от, до]")
            return None
        lo, hi = (_scalar(p, f"{path}[{i}]", kind, fname, x) for i, x in enumerate(v))
        if kind == ATTR and (isinstance(lo, str) or isinstance(hi, str)):
            p.add(path, "must be two numbers", "должно быть двумя числами")
            return None
        return _ordered(p, path, lo, hi)
    if op in ("gt", "lt", "ge", "le") and kind == ATTR:
        return _number(p, path, v)
    if op == "contains" and kind == ATTR and not isinstance(v, str):
        p.add(path, "must be a string", "должно быть строкой")
        return None
    return _scalar(p, path, kind, fname, v)


def _ordered(p, path, lo, hi):
    if lo is None or hi is None:
        return None
    if lo > hi:
        p.add(path, "the first value must not be greater than the second", "первое значение больше второго")
        return None
    return (lo, hi)


def _condition(p: Problems, path: str, c) -> Condition | None:
    if not isinstance(c, dict):
        p.add(path, "must be an object {field, op, value}", "должно быть объектом {field, op, value}")
        return None
    extra = sorted(set(c) - {"field", "op", "value"})
    if extra:
        p.add(_key(path, extra[0]), "unknown key", "неизвестный ключ")
    fname, op = c.get("field"), c.get("op")
    if not isinstance(fname, str) or not (fname in FIELDS or (
            fname.startswith(ATTR_PREFIX) and ATTR_KEY_RE.match(fname[len(ATTR_PREFIX):]))):
        shown = fname if isinstance(fname, str) and len(fname) <= 60 and not has_control(fname) else "?"
        p.add(f"{path}.field", f"unknown field {shown!r}", f"неизвестное поле {shown!r}")
        return None
    kind = ATTR if fname.startswith(ATTR_PREFIX) else FIELDS[fname][0]
    if op not in OPS[kind]:
        shown = op if isinstance(op, str) and len(op) <= 30 and not has_control(op) else "?"
        p.add(f"{path}.op", f"operator {shown!r} does not apply to {fname} (use one of: {', '.join(OPS[kind])})",
              f"оператор {shown!r} не подходит для {fname} (допустимы: {', '.join(OPS[kind])})")
        return None
    before = len(p.items)
    value = _value(p, f"{path}.value", kind, fname, op, c.get("value"))
    if len(p.items) > before:
        return None
    return Condition(fname, op, value)


def _groups(p: Problems, raw) -> tuple:
    if raw is None:
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_GROUPS:
        p.add("conditions", f"must be a list of at most {MAX_GROUPS} groups",
              f"должно быть списком не более чем из {MAX_GROUPS} групп")
        return ()
    groups = []
    for i, g in enumerate(raw):
        if not isinstance(g, list) or not g or len(g) > MAX_CONDITIONS:
            p.add(f"conditions[{i}]", f"a group is a list of 1 to {MAX_CONDITIONS} conditions",
                  f"группа — список от 1 до {MAX_CONDITIONS} условий")
            continue
        groups.append(tuple(_condition(p, f"conditions[{i}][{j}]", c) for j, c in enumerate(g)))
    return tuple(groups)


def _optional_int(p: Problems, raw: dict, key: str, lo: int, hi: int) -> int | None:
    v = raw.get(key)
    if v is None:
        return None
    if not _is_int(v) or not lo <= v <= hi:
        p.add(f"limits.{key}", f"must be a whole number from {lo} to {hi}", f"должно быть целым числом от {lo} до {hi}")
        return None
    return v


def _limits(p: Problems, raw) -> Limits:
    if raw is None:
        return Limits()
    if not isinstance(raw, dict):
        p.add("limits", "must be an object", "должно быть объектом")
        return Limits()
    for key in sorted(set(raw) - {"max_attempts", "max_per_day", "min_pause_minutes"}):
        p.add(_key("limits", key), "unknown limit", "неизвестное ограничение")
    return Limits(_optional_int(p, raw, "max_attempts", 1, 100), _optional_int(p, raw, "max_per_day", 1, 50),
                  _optional_int(p, raw, "min_pause_minutes", 0, 525_600))


def _clock(p: Problems, path: str, v, allow_24=False) -> time | None:
    m = re.fullmatch(r"([01][0-9]|2[0-4]):([0-5][0-9])", v) if isinstance(v, str) else None
    if m is None or (m.group(1) == "24" and (m.group(2) != "00" or not allow_24)):
        p.add(path, "must be a time HH:MM", "должно быть временем ЧЧ:ММ")
        return None
    return None if m.group(1) == "24" else time(int(m.group(1)), int(m.group(2)))


def _window(p: Problems, raw) -> Window | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        p.add("window", "must be an object", "должно быть объектом")
        return None
    for key in sorted(set(raw) - {"from", "to", "days", "holidays"}):
        p.add(_key("window", key), "unknown key", "неизвестный ключ")
    before = len(p.items)
    start = _clock(p, "window.from", raw.get("from", "00:00"))
    end = _clock(p, "window.to", raw.get("to", "24:00"), allow_24=True)
    if start is not None and end is not None and end <= start:
        p.add("window.to", "must be later than the start of the window", "должно быть позже начала окна")
    days = raw.get("days", [1, 2, 3, 4, 5, 6, 7])
    if not isinstance(days, list) or not days or not all(_is_int(d) and 1 <= d <= 7 for d in days):
        p.add("window.days", "must be a non-empty list of weekdays 1 (Monday) to 7 (Sunday)",
              "должно быть непустым списком дней недели от 1 (пн) до 7 (вс)")
        days = []
    holidays = raw.get("holidays", [])
    if not isinstance(holidays, list) or len(holidays) > 366:
        p.add("window.holidays", "must be a list of at most 366 dates", "должно быть списком не более 366 дат")
        holidays = []
    dates = [_date(p, f"window.holidays[{i}]", h) for i, h in enumerate(holidays)]
    if len(p.items) > before:
        return None
    return Window(start, end, tuple(sorted(set(days))), tuple(sorted(set(dates))))


def _skill(p: Problems, raw) -> tuple[str | None, int | None]:
    if raw is None:
        return None, None
    if not isinstance(raw, dict) or set(raw) - {"name", "level"}:
        p.add("skill", "must be an object {name, level}", "должно быть объектом {name, level}")
        return None, None
    name, level = raw.get("name"), raw.get("level")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]{1,40}", name):
        p.add("skill.name", "a skill name is 1 to 40 of a-z, 0-9, _", "название навыка — от 1 до 40 символов a-z, 0-9, _")
        name = None
    if not _is_int(level) or not 1 <= level <= 10:
        p.add("skill.level", "must be a whole number from 1 to 10", "должно быть целым числом от 1 до 10")
        level = None
    return (name, level) if name and level else (None, None)


KEYS = ("conditions", "limits", "window", "order", "skill", "exhausted_status")


def validate(data) -> Rule:
    p = Problems()
    if not isinstance(data, dict):
        p.add("rule", "must be an object", "должно быть объектом")
        p.raise_if_any()
    for key in sorted(set(data) - set(KEYS)):
        p.add(_key("", key), "unknown key", "неизвестный ключ")
    groups = _groups(p, data.get("conditions"))
    limits = _limits(p, data.get("limits"))
    window = _window(p, data.get("window"))
    order = data.get("order", "due")
    if order not in ORDERS:
        p.add("order", f"must be one of: {', '.join(ORDERS)}", f"допустимые значения: {', '.join(ORDERS)}")
    skill, level = _skill(p, data.get("skill"))
    status = _text(p, "exhausted_status", data.get("exhausted_status", ""), allow_empty=True)
    p.raise_if_any()
    return Rule(groups, limits, window, order, skill, level, status)


def to_json(rule: Rule) -> dict:
    """The canonical JSON of a valid rule (what is stored): validate(to_json(r)) == r."""
    def plain(v):
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, date):
            return v.isoformat()
        if isinstance(v, Decimal):
            return int(v) if v == v.to_integral_value() and abs(v) < 2**53 else float(v)
        return v

    w = rule.window
    return {
        "conditions": [[{"field": c.field, "op": c.op, **({} if c.op in NO_VALUE else {"value": plain(c.value)})}
                        for c in g] for g in rule.groups],
        "limits": {k: v for k, v in vars(rule.limits).items() if v is not None},
        "window": None if w is None else {
            "from": w.start.strftime("%H:%M"), "to": "24:00" if w.end is None else w.end.strftime("%H:%M"),
            "days": list(w.days), "holidays": [d.isoformat() for d in w.holidays]},
        "order": rule.order,
        "skill": None if rule.skill is None else {"name": rule.skill, "level": rule.skill_level},
        "exhausted_status": rule.exhausted_status,
    }


def valid_zone(name: str) -> bool:
    """An IANA area/location name (never a fixed offset such as UTC+3 or Etc/GMT-3)."""
    if not isinstance(name, str) or not ZONE_RE.match(name):
        return False
    try:
        ZoneInfo(name)
    except (KeyError, ValueError, OSError):
        return False
    return True


LABELS = {  # field → (Russian, English), for the selection editor
    "country": ("Страна", "Country"), "region": ("Регион", "Region"), "city": ("Город", "City"),
    "product": ("Товар", "Product"), "crm_status": ("Статус в CRM", "CRM status"), "name": ("Имя", "Name"),
    "external_id": ("Номер заказа", "Order id"), "phone": ("Телефон", "Phone"),
    "time_zone": ("Часовой пояс клиента", "Client's time zone"), "amount": ("Сумма", "Amount"),
    "priority": ("Приоритет", "Priority"), "attempts": ("Попыток всего", "Attempts in total"),
    "attempts_today": ("Попыток сегодня", "Attempts today"), "age": ("Возраст клиента", "Client's age"),
    "birth_date": ("Дата рождения", "Birth date"), "created_at": ("Дата создания", "Created"),
    "last_attempt_at": ("Последняя попытка", "Last attempt"), "next_call_at": ("Следующий звонок", "Next call"),
}
OP_LABELS = {
    "eq": ("равно", "equals"), "ne": ("не равно", "not equals"), "gt": (">", ">"), "lt": ("<", "<"),
    "ge": ("≥", "≥"), "le": ("≤", "≤"), "in": ("в списке", "in list"), "not_in": ("не в списке", "not in list"),
    "contains": ("содержит", "contains"), "empty": ("пусто", "is empty"), "not_empty": ("не пусто", "is not empty"),
    "between": ("между", "between"), "today": ("сегодня ± N дней", "today ± N days"),
    "within": ("от сегодня + N до сегодня + M дней", "from today + N to today + M days"),
}


def catalogue() -> dict:
    """What the editor offers: fields with their type and operators, orders, limits' ranges."""
    return {
        "fields": [{"field": name, "type": kind, "nullable": nullable, "ops": list(OPS[kind]),
                    "label_ru": LABELS[name][0], "label_en": LABELS[name][1]}
                   for name, (kind, nullable) in FIELDS.items()],
        "attribute": {"prefix": ATTR_PREFIX, "ops": list(OPS[ATTR]),
                      "label_ru": "Поле CRM", "label_en": "CRM field"},
        "ops": {op: {"label_ru": ru, "label_en": en, "takes_value": op not in NO_VALUE}
                for op, (ru, en) in OP_LABELS.items()},
        "orders": list(ORDERS),
        "limits": {"max_attempts": [1, 100], "max_per_day": [1, 50], "min_pause_minutes": [0, 525_600]},
    }
