"""A validated rule → a peewee expression over `lead` (parameterised SQL, never built from strings).

`now` is the current moment: a datetime, or a peewee node the claim fills in later (a `Value` whose
converter leaves it alone — next to a date column peewee would otherwise turn it into a date). Every date the rule speaks of is the client's local date in the lead's IANA time
zone; `rules.evaluate` is the same logic in plain Python, and the property tests hold them equal.
"""
from __future__ import annotations

from datetime import datetime

from peewee import SQL, Case, Cast, Expression, Value, fn

from dialer.models import DoNotCall, Lead

from .model import ATTR, ATTR_PREFIX, DATE, DATETIME, TEXT, Condition, Rule

CALLABLE_STATES = ("new", "callable")
# an attribute is compared as a number only when it looks like one, so the cast never fails
NUMBER_RE = r"^-?[0-9]{1,15}(\.[0-9]{1,6})?$"


def local_now(now):
    """The client's wall-clock time: `timezone(lead.time_zone, now)` (a timestamp without zone)."""
    return fn.timezone(Lead.time_zone, moment(now))


def local_today(now):
    return Cast(local_now(now), "date")


def _plain(value):
    return value


def moment(now):
    """A datetime as a parameter no column converter touches."""
    return Value(now, converter=_plain) if isinstance(now, datetime) else now


def attr_text(key: str):
    return Expression(Lead.attrs, "->>", Value(key, converter=_plain))  # a key, not a JSON document


def attr_number(key: str):
    text = attr_text(key)
    return Case(None, [(Expression(text, "~", Value(NUMBER_RE)), Cast(text, "numeric"))], None)


def column(name: str, now):
    """The SQL of a rule field; derived fields are computed in the client's local today."""
    if name == "age":
        return fn.date_part("year", fn.age(local_today(now), Lead.birth_date))
    if name == "attempts_today":
        return Case(None, [(Lead.attempts_day == local_today(now), Lead.attempts_today)], 0)
    return getattr(Lead, name)


def _date_of(cond: Condition, now):
    field = column(cond.field, now)
    if cond.kind == DATETIME:
        return Cast(fn.timezone(Lead.time_zone, field), "date")
    return field


def _target(cond: Condition, now):
    if cond.kind == ATTR:
        key = cond.field[len(ATTR_PREFIX):]
        numeric = cond.op in ("gt", "lt", "ge", "le", "between") or (
            cond.op in ("eq", "ne") and not isinstance(cond.value, str)) or (
            cond.op in ("in", "not_in") and not isinstance(cond.value[0], str))
        return attr_number(key) if numeric else attr_text(key)
    if cond.kind in (DATE, DATETIME):
        return _date_of(cond, now)
    return column(cond.field, now)


def condition(cond: Condition, now):
    f, v = _target(cond, now), cond.value
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
            return f.in_(list(v))
        case "not_in":
            return f.not_in(list(v))
        case "between":
            return f.between(v[0], v[1])
        case "contains":
            return fn.strpos(f, v) > 0
        case "today":
            return f == local_today(now) + v
        case "within":
            return f.between(local_today(now) + v[0], local_today(now) + v[1])
        case "empty":
            return f.is_null() | (f == "") if cond.kind in (TEXT, ATTR) else f.is_null()
        case "not_empty":
            return f.is_null(False) & (f != "") if cond.kind in (TEXT, ATTR) else f.is_null(False)
    raise ValueError(f"unknown operator {cond.op!r}")  # validated rules never get here


def _all(parts):
    expr = None
    for p in parts:
        expr = p if expr is None else (expr & p)
    return expr if expr is not None else SQL("TRUE")


def _any(parts):
    expr = None
    for p in parts:
        expr = p if expr is None else (expr | p)
    return expr if expr is not None else SQL("FALSE")


def conditions(rule: Rule, now):
    if not rule.groups:
        return SQL("TRUE")
    return _any([_all([condition(c, now) for c in g]) for g in rule.groups])


def window_open(rule: Rule, now):
    w = rule.window
    if w is None:
        return SQL("TRUE")
    local = local_now(now)
    parts = [Cast(local, "time") >= w.start]
    if w.end is not None:
        parts.append(Cast(local, "time") < w.end)
    if len(w.days) < 7:
        parts.append(fn.date_part("isodow", local).in_(list(w.days)))
    if w.holidays:
        parts.append(Cast(local, "date").not_in(list(w.holidays)))
    return _all(parts)


def window_by_zones(rule: Rule, now: datetime):
    """The same as `window_open` for a known moment, as the list of zones where the window is open:
    no clock conversion for every row (the claim, the preview and the idle counts use it)."""
    from .evaluate import zones_open  # the evaluator owns the per-zone arithmetic

    if rule.window is None:
        return SQL("TRUE")
    return in_zones(sorted(zones_open(rule.window, now)))


def in_zones(zones: list[str]):
    """The lead's zone is one of `zones` ([]: none), as one array parameter: as an IN list of the ~220 zones where
    a window is open by day, peewee took 15–18 ms to build the «Подходит сейчас» statement (against 2 ms), about
    the time of the plain count of the campaign it is compared with (bench.campaign_pages); the server looks a
    constant array up by hash as it did the list."""
    return Lead.time_zone == fn.ANY(Cast(Value(list(zones), unpack=False, converter=_plain), "text[]"))


def within_daily_limit(rule: Rule, now):
    n = rule.limits.max_per_day
    if n is None:
        return SQL("TRUE")
    if n < 1:  # never validated so (1..50); the plain form is right for any n
        return column("attempts_today", now) < n
    # the same as `column("attempts_today") < n` for n ≥ 1 (another day's count is 0), with the client's local
    # date computed only for a lead already at the limit: a count over a campaign evaluates it per lead, and the
    # zone conversion was a quarter of the "matches now" count's time (bench.campaign_pages)
    return (Lead.attempts_today < n) | (Lead.attempts_day.is_null()) | (Lead.attempts_day != local_today(now))


def attempts_left(rule: Rule, now):
    n = rule.limits.max_attempts
    return SQL("TRUE") if n is None else Lead.attempts < n


def pause_over(rule: Rule, now):
    n = rule.limits.min_pause_minutes
    if not n:
        return SQL("TRUE")
    return Lead.last_attempt_at.is_null() | (Lead.last_attempt_at <= moment(now) - fn.make_interval(0, 0, 0, 0, 0, n))


def not_listed():
    """The number is not on the do-not-call list (checked for every lead, whatever its campaign)."""
    return ~fn.EXISTS(DoNotCall.select(SQL("1")).where(DoNotCall.phone == Lead.phone))


def due(now):
    """In a callable state and its next call time has come."""
    return Lead.state.in_(CALLABLE_STATES) & (Lead.next_call_at <= moment(now))


def callable_now(now):
    """Shared by every selection: in a callable state, due, and not on the do-not-call list."""
    return due(now) & not_listed()


def limits(rule: Rule, now):
    return attempts_left(rule, now) & within_daily_limit(rule, now) & pause_over(rule, now)


def selects(rule: Rule, now, window=None, unlisted=None):
    """Everything a rule asks of a lead to be called at `now` (the campaign is added by the caller);
    `window` replaces the calling-window part (see `window_by_zones`), `unlisted` the do-not-call look-up (a
    count over many leads joins the list once instead: `rules.selections.preview`)."""
    # the do-not-call look-up last: inside an aggregate's FILTER (the "matches now" count) the parts are
    # evaluated in this order, and the look-up is the dearest
    return (due(now) & conditions(rule, now) & (window_open(rule, now) if window is None else window)
            & limits(rule, now) & (not_listed() if unlisted is None else unlisted))


def ordering(rule: Rule):
    """Due callbacks first, then the selection's order; matches the claim indexes of sql/003_rules.sql."""
    if rule.order == "priority":
        return [Lead.callback.desc(), Lead.priority.desc(), Lead.created_at, Lead.id]
    if rule.order == "created_at":
        return [Lead.callback.desc(), Lead.created_at, Lead.id]
    return [Lead.callback.desc(), Lead.next_call_at, Lead.id]
