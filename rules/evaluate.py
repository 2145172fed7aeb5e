"""The reference evaluator: the same rules as `rules.compile`, in plain Python over one lead (a dict of
its columns). SQL's three-valued logic is kept: a comparison with a missing value (NULL) is never true.
"""
from __future__ import annotations

import json
import re
import threading
from datetime import date, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from zoneinfo import ZoneInfo, available_timezones

from .compile import CALLABLE_STATES, NUMBER_RE
from .model import ATTR, ATTR_PREFIX, DATE, DATETIME, TEXT, Condition, Rule, Window, valid_zone

_NUMBER = re.compile(NUMBER_RE)


def local_now(lead: dict, now: datetime) -> datetime:
    return now.astimezone(_zone(lead["time_zone"])).replace(tzinfo=None)


def local_today(lead: dict, now: datetime) -> date:
    return local_now(lead, now).date()


def age(birth: date | None, today: date) -> int | None:
    """PostgreSQL's `date_part('year', age(today, birth))`: whole years; for a birth date after today, minus the
    whole years from today to it (`age` counts back from the later date)."""
    if birth is None:
        return None
    if birth > today:
        return -(birth.year - today.year - ((birth.month, birth.day) < (today.month, today.day)))
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def _attr_text(lead: dict, key: str) -> str | None:
    """What PostgreSQL's `attrs->>key` gives: strings as they are, other JSON values as JSON text."""
    value = lead["attrs"].get(key)
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _attr_number(lead: dict, key: str) -> Decimal | None:
    text = _attr_text(lead, key)
    return Decimal(text) if text is not None and _NUMBER.match(text) else None


def column(lead: dict, name: str, now: datetime):
    if name == "age":
        return age(lead["birth_date"], local_today(lead, now))
    if name == "attempts_today":
        return lead["attempts_today"] if lead["attempts_day"] == local_today(lead, now) else 0
    return lead[name]


def _target(lead: dict, cond: Condition, now: datetime):
    if cond.kind == ATTR:
        key = cond.field[len(ATTR_PREFIX):]
        numeric = cond.op in ("gt", "lt", "ge", "le", "between") or (
            cond.op in ("eq", "ne") and not isinstance(cond.value, str)) or (
            cond.op in ("in", "not_in") and not isinstance(cond.value[0], str))
        return _attr_number(lead, key) if numeric else _attr_text(lead, key)
    value = column(lead, cond.field, now)
    if cond.kind == DATETIME and value is not None:
        return value.astimezone(ZoneInfo(lead["time_zone"])).date()
    return value


def condition(lead: dict, cond: Condition, now: datetime) -> bool:
    f, v = _target(lead, cond, now), cond.value
    if cond.op == "empty":
        return f is None or (cond.kind in (TEXT, ATTR) and f == "")
    if cond.op == "not_empty":
        return f is not None and not (cond.kind in (TEXT, ATTR) and f == "")
    if f is None:  # NULL compared with anything is not true
        return False
    if cond.kind in (DATE, DATETIME) and cond.op in ("today", "within"):
        today = local_today(lead, now)
        if cond.op == "today":
            return f == today + timedelta(days=v)
        return today + timedelta(days=v[0]) <= f <= today + timedelta(days=v[1])
    match cond.op:
        case "eq":
            return f == v
        case "ne":
            return f != v
        case "gt":
            return f > v
        case "lt":
            return f < v
        case "ge":
            return f >= v
        case "le":
            return f <= v
        case "in":
            return f in v
        case "not_in":
            return f not in v
        case "between":
            return v[0] <= f <= v[1]
        case "contains":
            return v in f
    raise ValueError(f"unknown operator {cond.op!r}")


def conditions(lead: dict, rule: Rule, now: datetime) -> bool:
    return not rule.groups or any(all(condition(lead, c, now) for c in g) for g in rule.groups)


def window_open(lead: dict, rule: Rule, now: datetime) -> bool:
    w = rule.window
    if w is None:
        return True
    local = local_now(lead, now)
    return (local.time() >= w.start and (w.end is None or local.time() < w.end)
            and local.isoweekday() in w.days and local.date() not in w.holidays)


def within_daily_limit(lead: dict, rule: Rule, now: datetime) -> bool:
    n = rule.limits.max_per_day
    return n is None or column(lead, "attempts_today", now) < n


def attempts_left(lead: dict, rule: Rule, now: datetime) -> bool:
    n = rule.limits.max_attempts
    return n is None or lead["attempts"] < n


def pause_over(lead: dict, rule: Rule, now: datetime) -> bool:
    n = rule.limits.min_pause_minutes
    last = lead["last_attempt_at"]
    return not n or last is None or last <= now - timedelta(minutes=n)


def callable_now(lead: dict, now: datetime, do_not_call: set[str] | frozenset = frozenset()) -> bool:
    return lead["state"] in CALLABLE_STATES and lead["next_call_at"] <= now and lead["phone"] not in do_not_call


def limits(lead: dict, rule: Rule, now: datetime) -> bool:
    return attempts_left(lead, rule, now) and within_daily_limit(lead, rule, now) and pause_over(lead, rule, now)


def selects(lead: dict, rule: Rule, now: datetime, do_not_call: set[str] | frozenset = frozenset()) -> bool:
    return (callable_now(lead, now, do_not_call) and conditions(lead, rule, now) and window_open(lead, rule, now)
            and limits(lead, rule, now))


def order_key(lead: dict, rule: Rule):
    """The claim's order as a sort key (ascending)."""
    if rule.order == "priority":
        return (not lead["callback"], -lead["priority"], lead["created_at"], lead["id"])
    if rule.order == "created_at":
        return (not lead["callback"], lead["created_at"], lead["id"])
    return (not lead["callback"], lead["next_call_at"], lead["id"])


TZDATA = "/usr/share/zoneinfo/tzdata.zi"  # one file naming every zone and link: read in a millisecond


@lru_cache(maxsize=1)
def zone_names() -> tuple[str, ...]:
    """Every zone a lead may have (computed on first use: scanning the zone directory takes ~1 s,
    too long for the engine's start)."""
    try:
        with open(TZDATA, encoding="utf-8") as f:
            names = {parts[1] if parts[0] == "Z" else parts[2] for parts in (line.split() for line in f)
                     if parts and parts[0] in ("Z", "L") and len(parts) >= 2 + (parts[0] == "L")}
    except OSError:
        names = available_timezones()
    return tuple(sorted(z for z in names if valid_zone(z)))


@lru_cache(maxsize=None)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)  # held here so ZoneInfo's own cache does not drop it and read it from disk again


def zones_open(window: Window, now: datetime) -> frozenset[str]:
    """The zones whose local time is inside the window at `now`. Windows are whole minutes and zone
    offsets whole quarter-hours, so the answer holds for the whole UTC minute of `now`; it is worked
    out once per window and minute (under a lock: a hundred claimers must not all do it at once)."""
    key = (window, now.replace(second=0, microsecond=0))
    found = _open.get(key)
    if found is None:
        with _open_lock:
            found = _open.get(key)
            if found is None:
                rule = Rule(window=window)
                found = frozenset(z for z in zone_names() if window_open({"time_zone": z}, rule, key[1]))
                if len(_open) >= 512:
                    _open.clear()
                _open[key] = found
    return found


_open: dict = {}
_open_lock = threading.Lock()
