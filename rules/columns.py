"""A campaign's leads as columns of the fields a rule reads (numpy arrays), and «Подходит сейчас» counted over
them: `rules.compile`'s logic, vectorised (pure; `rules.lead_cache` keeps the columns current).

The editor counts a draft rule on every pause in typing. In SQL that count tests each of the campaign's leads,
~3.5× a plain count of them even when PostgreSQL reads one index only (docs/rules.md); over columns held in
memory it is a few array operations (bench.campaign_pages). The answers are the same, not close: SQL's
three-valued logic, the client's local dates and the stored decimals are reproduced exactly, and the property
tests hold this module equal to `rules.evaluate` and to the SQL count.

The values come as PostgreSQL computes them (`lead_cache.ROW_SQL`): times as microseconds, the local dates of
the time fields in the lead's own zone as day numbers (`date.toordinal()`), amounts in kopecks, texts as they
are. A rule on a field kept only in the rows (the name, the number, the order id, a CRM attribute) is counted
in SQL (`countable`).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from fractions import Fraction

import numpy as np

from .compile import CALLABLE_STATES
from .model import ATTR, DATE, DATETIME, TEXT, Condition, Rule

ROW = ("id", "callable", "listed", "next_call_us", "last_attempt_us", "created_day", "next_day", "last_day",
       "attempts", "attempts_today", "attempts_day", "priority", "birth_day", "birth_year", "birth_md",
       "amount_cents", "time_zone", "region", "city", "country", "product", "crm_status")
TEXTS = ("time_zone", "region", "city", "country", "product", "crm_status")
NULLABLE = ("last_attempt_us", "last_day", "attempts_day", "birth_day", "birth_year", "birth_md", "amount_cents")
FLAGS = ("callable", "listed")
# rule field → (column, its scale: the stored value is the field's value × scale)
SCALED = {"amount": ("amount_cents", 100), "priority": ("priority", 1), "attempts": ("attempts", 1),
          "birth_date": ("birth_day", 1), "created_at": ("created_day", 1), "next_call_at": ("next_day", 1),
          "last_attempt_at": ("last_day", 1)}
COUNTABLE = set(TEXTS) | set(SCALED) | {"attempts_today", "age"}
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
MICROSECOND = timedelta(microseconds=1)
assert set(CALLABLE_STATES) == {"new", "callable"}  # lead_cache.ROW_SQL computes `callable` with these


def countable(rule: Rule) -> bool:
    """Whether every condition speaks of a field these columns hold."""
    return all(c.kind != ATTR and c.field in COUNTABLE for g in rule.groups for c in g)


def microseconds(moment: datetime) -> int:
    return (moment - EPOCH) // MICROSECOND


class LeadColumns:
    """One campaign's leads, a slot each; a lead written again overwrites its slot, one gone frees it."""

    def __init__(self):
        self.slot: dict[int, int] = {}  # lead id → slot
        self.used = 0  # slots 0..used-1 were given out; `alive` says which still hold a lead
        self.alive = np.zeros(0, dtype=bool)
        self.values: dict[str, np.ndarray] = {}
        self.null: dict[str, np.ndarray] = {}
        self.categories: dict[str, list[str]] = {c: [] for c in TEXTS}
        self.code: dict[str, dict[str, int]] = {c: {} for c in TEXTS}
        self._grow(1024)

    def __len__(self) -> int:
        return len(self.slot)

    def _grow(self, capacity: int) -> None:
        def grown(a, dtype):
            out = np.zeros(capacity, dtype=dtype)
            out[:len(a)] = a
            return out

        self.alive = grown(self.alive, bool)
        for c in ROW[1:]:
            dtype = bool if c in FLAGS else np.int32 if c in TEXTS else np.int64
            self.values[c] = grown(self.values.get(c, np.zeros(0, dtype=dtype)), dtype)
        for c in NULLABLE:
            self.null[c] = grown(self.null.get(c, np.zeros(0, dtype=bool)), bool)

    def write(self, rows: list[tuple]) -> None:
        """Leads as `ROW` tuples: new ones take a slot, known ones are overwritten."""
        if not rows:
            return
        columns = list(zip(*rows))
        known = list(map(self.slot.get, columns[0]))
        if None in known:
            fresh = [i for i, s in zip(columns[0], known) if s is None]
            self.slot.update(zip(fresh, range(self.used, self.used + len(fresh))))
            self.used += len(fresh)
            known = list(map(self.slot.__getitem__, columns[0]))
        if self.used > len(self.alive):
            self._grow(max(self.used, 2 * len(self.alive)))
        at = np.array(known, dtype=np.int64)
        self.alive[at] = True
        for c, column in zip(ROW[1:], columns[1:]):
            if c in TEXTS:
                code = self.code[c]
                for text in set(column).difference(code):
                    code[text] = len(self.categories[c])
                    self.categories[c].append(text)
                self.values[c][at] = list(map(code.__getitem__, column))
            elif c in NULLABLE:
                # through float64 (None → NaN, in C): exact, as every value is below 2⁵³ (microseconds until the
                # year 2255, kopecks below 10¹⁴, day numbers)
                floats = np.array(column, dtype=np.float64)
                null = np.isnan(floats)
                self.null[c][at] = null
                self.values[c][at] = np.where(null, 0, floats).astype(np.int64)
            else:
                self.values[c][at] = column

    def remove(self, lead_ids) -> None:
        for i in lead_ids:
            s = self.slot.pop(i, None)
            if s is not None:
                self.alive[s] = False
        if self.used > 4096 and len(self.slot) < self.used // 2:
            self._compact()

    def _compact(self) -> None:
        keep = np.flatnonzero(self.alive[:self.used])
        by_slot = {s: i for i, s in self.slot.items()}
        self.slot = {by_slot[int(s)]: k for k, s in enumerate(keep)}
        self.used = len(keep)
        self.alive = self.alive[keep]
        self.values = {c: a[keep] for c, a in self.values.items()}
        self.null = {c: a[keep] for c, a in self.null.items()}
        self._grow(max(1024, 2 * self.used))


@dataclass(frozen=True)
class Clock:
    """`now`, and the client's local today in each zone the leads have (as PostgreSQL computes it:
    `timezone(zone, now)::date`, lead_cache)."""
    now: datetime
    today: dict[str, date]


def count(cols: LeadColumns, rule: Rule, effective: Rule, zones: list[str] | None, clock: Clock) -> tuple[int, int]:
    """(leads meeting the rule's conditions, of them callable now) — `rules.selections.preview`'s two counts:
    `effective` is the rule under the campaign's limits, `zones` where both windows are open (None: all)."""
    v = _Vectors(cols, clock)
    alive = cols.alive[:cols.used]
    met = alive if not rule.groups else alive & _any(
        [_all([_condition(v, c) for c in g], cols.used) for g in rule.groups], cols.used)
    now = met & v.col("callable") & ~v.col("listed") & (v.col("next_call_us") <= microseconds(clock.now))
    if zones is not None:
        now &= v.by_zone({z: True for z in zones}, False)
    now &= _limits(v, effective)
    return int(np.count_nonzero(met)), int(np.count_nonzero(now))


class _Vectors:
    """The columns of the used slots, and what is derived from the local today (computed once per count)."""

    def __init__(self, cols: LeadColumns, clock: Clock):
        self.cols, self.clock, self.n = cols, clock, cols.used
        self._today = None

    def col(self, name: str) -> np.ndarray:
        return self.cols.values[name][:self.n]

    def null(self, name: str) -> np.ndarray:
        return self.cols.null[name][:self.n] if name in self.cols.null else np.zeros(self.n, dtype=bool)

    def by_zone(self, table: dict, missing) -> np.ndarray:
        """A value for each lead looked up by its zone."""
        per_code = np.array([table.get(z, missing) for z in self.cols.categories["time_zone"]] or [missing])
        return per_code[self.col("time_zone")]

    def today(self) -> np.ndarray:
        if self._today is None:
            self._today = self.by_zone({z: d.toordinal() for z, d in self.clock.today.items()}, 0)
        return self._today

    def today_md(self) -> tuple[np.ndarray, np.ndarray]:
        return (self.by_zone({z: d.year for z, d in self.clock.today.items()}, 0),
                self.by_zone({z: d.month * 100 + d.day for z, d in self.clock.today.items()}, 0))

    def attempts_today(self) -> np.ndarray:
        day, null = self.col("attempts_day"), self.null("attempts_day")
        return np.where(~null & (day == self.today()), self.col("attempts_today"), 0)

    def age(self) -> tuple[np.ndarray, np.ndarray]:
        """PostgreSQL's `date_part('year', age(today, birth_date))`: whole years, negative for a birth date after
        today (`age` then counts from the later date back)."""
        ty, tmd = self.today_md()
        by, bmd = self.col("birth_year"), self.col("birth_md")
        born = self.col("birth_day") <= self.today()
        years = np.where(born, ty - by - (tmd < bmd), -(by - ty - (bmd < tmd)))
        return years, self.null("birth_day")


def _all(parts, n):
    out = np.ones(n, dtype=bool)
    for p in parts:
        out &= p
    return out


def _any(parts, n):
    out = np.zeros(n, dtype=bool)
    for p in parts:
        out |= p
    return out


def _target(v: _Vectors, cond: Condition) -> tuple[np.ndarray, np.ndarray, int]:
    """The field as (stored values, NULL mask, scale)."""
    if cond.field == "attempts_today":
        return v.attempts_today(), np.zeros(v.n, dtype=bool), 1
    if cond.field == "age":
        years, null = v.age()
        return years, null, 1
    column, scale = SCALED[cond.field]
    return v.col(column), v.null(column), scale


def _number(value, scale: int) -> Fraction:
    if isinstance(value, date):
        return Fraction(value.toordinal())
    return Fraction(value) * scale  # an int or a Decimal: exactly


def _compare(x: np.ndarray, op: str, r: Fraction) -> np.ndarray:
    """x (integers) op r (a rational), exactly: x > r ⇔ x > ⌊r⌋, x ≥ r ⇔ x ≥ ⌈r⌉, and so on."""
    lo, hi = r.numerator // r.denominator, -(-r.numerator // r.denominator)
    match op:
        case "eq":
            return x == lo if lo == hi else np.zeros(len(x), dtype=bool)
        case "ne":
            return x != lo if lo == hi else np.ones(len(x), dtype=bool)
        case "gt":
            return x > lo
        case "ge":
            return x >= hi
        case "lt":
            return x < hi
        case "le":
            return x <= lo
    raise ValueError(op)


def _condition(v: _Vectors, cond: Condition) -> np.ndarray:
    if cond.kind == TEXT:
        return _text(v, cond)
    x, null, scale = _target(v, cond)
    op, value = cond.op, cond.value
    if op == "empty":
        return null.copy()
    if op == "not_empty":
        return ~null
    if cond.kind in (DATE, DATETIME) and op in ("today", "within"):
        today = v.today()
        if op == "today":
            met = x == today + value
        else:
            met = (x >= today + value[0]) & (x <= today + value[1])
    elif op == "in":
        met = _any([_compare(x, "eq", _number(e, scale)) for e in value], v.n)
    elif op == "not_in":
        met = _all([_compare(x, "ne", _number(e, scale)) for e in value], v.n)
    elif op == "between":
        met = _compare(x, "ge", _number(value[0], scale)) & _compare(x, "le", _number(value[1], scale))
    else:
        met = _compare(x, op, _number(value, scale))
    return met & ~null  # a comparison with NULL is never true


def _text(v: _Vectors, cond: Condition) -> np.ndarray:
    """A text field: the condition decided once for each distinct value, then looked up by each lead's value (the
    columns are NOT NULL; equality is PostgreSQL's, exact characters, under a deterministic collation)."""
    op, value = cond.op, cond.value
    match op:
        case "eq":
            test = value.__eq__
        case "ne":
            test = value.__ne__
        case "in":
            test = set(value).__contains__
        case "not_in":
            return ~_text(v, Condition(cond.field, "in", value))
        case "contains":
            test = lambda t: value in t  # noqa: E731 — strpos(t, value) > 0
        case "empty":
            test = lambda t: t == ""  # noqa: E731
        case "not_empty":
            test = lambda t: t != ""  # noqa: E731
        case _:
            raise ValueError(f"unknown operator {op!r}")
    per_code = np.array([bool(test(t)) for t in v.cols.categories[cond.field]] or [False])
    return per_code[v.col(cond.field)]


def _limits(v: _Vectors, rule: Rule) -> np.ndarray:
    out = np.ones(v.n, dtype=bool)
    n = rule.limits.max_attempts
    if n is not None:
        out &= v.col("attempts") < n
    n = rule.limits.max_per_day
    if n is not None:
        out &= v.attempts_today() < n
    n = rule.limits.min_pause_minutes
    if n:
        last = microseconds(v.clock.now - timedelta(minutes=n))
        out &= v.null("last_attempt_us") | (v.col("last_attempt_us") <= last)
    return out
