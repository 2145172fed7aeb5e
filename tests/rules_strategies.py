"""Hypothesis strategies for selection rules and leads: small value domains so conditions hit, moments
near clock changes and local midnights so the time-zone logic is exercised where it breaks."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import strategies as st

ZONES = ["Europe/Moscow", "Europe/Berlin", "America/New_York", "Asia/Vladivostok", "Australia/Lord_Howe",
         "America/St_Johns", "Asia/Kolkata", "Pacific/Chatham", "Europe/London", "Asia/Kathmandu"]
# clock changes of 2026 (UTC) and a plain day
PIVOTS = [datetime(2026, 3, 29, 1, 0), datetime(2026, 10, 25, 1, 0), datetime(2026, 3, 8, 7, 0),
          datetime(2026, 11, 1, 6, 0), datetime(2026, 4, 4, 15, 0), datetime(2026, 10, 3, 15, 30),
          datetime(2026, 4, 5, 13, 45), datetime(2026, 6, 15, 12, 0), datetime(2028, 2, 29, 0, 0)]
TEXTS = ["", "Москва", "Moscow", "Тверь", "a", "ab", "b'; DROP TABLE lead; --", "%", "_"]
ATTR_VALUES = ["", "12", "12.5", "x", "-3", "1e5", "007", "Москва"]
PHONES = ["+79001000001", "+79001000002", "+79001000003", "+4930123456"]
STATES = ["new", "callable", "in_progress", "held", "done", "exhausted"]

moments = st.builds(lambda pivot, minutes: (pivot + timedelta(minutes=minutes)).replace(tzinfo=timezone.utc),
                    st.sampled_from(PIVOTS), st.integers(-36 * 60, 36 * 60))


def near(now: datetime):
    return st.integers(-4 * 24 * 60, 4 * 24 * 60).map(lambda m: now + timedelta(minutes=m))


def leads(now: datetime):
    today = now.date()
    return st.fixed_dictionaries({
        "phone": st.sampled_from(PHONES),
        "name": st.sampled_from(TEXTS), "country": st.sampled_from(["", "RU", "DE"]),
        "region": st.sampled_from(TEXTS), "city": st.sampled_from(TEXTS), "product": st.sampled_from(TEXTS),
        "crm_status": st.sampled_from(["", "new", "debt", "paid"]),
        "amount": st.one_of(st.none(), st.sampled_from([Decimal("0"), Decimal("99.99"), Decimal("100"),
                                                        Decimal("-5.5"), Decimal("12.5")])),
        "birth_date": st.one_of(st.none(), st.just(date(1996, 2, 29)), st.builds(
            lambda years, days: date(today.year - years, today.month, min(today.day, 28)) + timedelta(days=days),
            st.sampled_from([18, 30, 44]), st.integers(-2, 2))),
        "priority": st.integers(-3, 3),
        "attempts": st.integers(0, 4), "attempts_today": st.integers(0, 3),
        "attempts_day": st.one_of(st.none(), st.integers(-2, 1).map(lambda d: today + timedelta(days=d))),
        "time_zone": st.sampled_from(ZONES),
        "state": st.sampled_from(STATES),
        "created_at": near(now), "next_call_at": near(now),
        "last_attempt_at": st.one_of(st.none(), near(now)),
        "callback": st.booleans(),
        "attrs": st.dictionaries(st.sampled_from(["k", "debt", "Регион"]),
                                 st.one_of(st.sampled_from(ATTR_VALUES), st.integers(-20, 20)), max_size=2),
    })


TEXT_FIELDS = ["country", "region", "city", "product", "crm_status", "name", "phone", "time_zone"]
NUMBER_FIELDS = {"amount": st.sampled_from([0, 12.5, 99.99, 100, -5.5]),
                 "priority": st.integers(-3, 3), "attempts": st.integers(0, 4),
                 "attempts_today": st.integers(0, 3), "age": st.sampled_from([17, 18, 29, 30, 44, 45, 66])}
DATE_FIELDS = ["birth_date", "created_at", "last_attempt_at", "next_call_at"]


def _dates(now: datetime):
    return st.integers(-3, 3).map(lambda d: (now.date() + timedelta(days=d)).isoformat())


def conditions(now: datetime):
    text = st.builds(lambda f, op, v: {"field": f, "op": op, "value": v},
                     st.sampled_from(TEXT_FIELDS), st.sampled_from(["eq", "ne", "contains"]),
                     st.sampled_from([t for t in TEXTS if t] + ["+7900", "Europe/Berlin"]))
    text_list = st.builds(lambda f, op, v: {"field": f, "op": op, "value": v},
                          st.sampled_from(TEXT_FIELDS), st.sampled_from(["in", "not_in"]),
                          st.lists(st.sampled_from([t for t in TEXTS if t]), min_size=1, max_size=3))
    empty = st.builds(lambda f, op: {"field": f, "op": op},
                      st.sampled_from(TEXT_FIELDS + list(NUMBER_FIELDS) + DATE_FIELDS + ["attrs.k", "attrs.debt"]),
                      st.sampled_from(["empty", "not_empty"]))
    number = st.sampled_from(list(NUMBER_FIELDS)).flatmap(lambda f: st.one_of(
        st.builds(lambda op, v: {"field": f, "op": op, "value": v},
                  st.sampled_from(["eq", "ne", "gt", "lt", "ge", "le"]), NUMBER_FIELDS[f]),
        st.builds(lambda op, v: {"field": f, "op": op, "value": v}, st.sampled_from(["in", "not_in"]),
                  st.lists(NUMBER_FIELDS[f], min_size=1, max_size=3)),
        st.builds(lambda a, b: {"field": f, "op": "between", "value": sorted([a, b])}, NUMBER_FIELDS[f],
                  NUMBER_FIELDS[f])))
    dates = st.sampled_from(DATE_FIELDS).flatmap(lambda f: st.one_of(
        st.builds(lambda op, v: {"field": f, "op": op, "value": v},
                  st.sampled_from(["eq", "ne", "gt", "lt", "ge", "le"]), _dates(now)),
        st.builds(lambda a, b: {"field": f, "op": "between", "value": sorted([a, b])}, _dates(now), _dates(now)),
        st.builds(lambda n: {"field": f, "op": "today", "value": n}, st.integers(-2, 2)),
        st.builds(lambda a, b: {"field": f, "op": "within", "value": sorted([a, b])},
                  st.integers(-2, 2), st.integers(-2, 2))))
    attrs = st.one_of(
        st.builds(lambda k, op, v: {"field": f"attrs.{k}", "op": op, "value": v}, st.sampled_from(["k", "debt"]),
                  st.sampled_from(["eq", "ne", "contains"]), st.sampled_from([v for v in ATTR_VALUES if v])),
        st.builds(lambda k, op, v: {"field": f"attrs.{k}", "op": op, "value": v}, st.sampled_from(["k", "debt"]),
                  st.sampled_from(["eq", "ne", "gt", "lt", "ge", "le"]), st.sampled_from([-3, 0, 12, 12.5, 7])),
        st.builds(lambda k, op, v: {"field": f"attrs.{k}", "op": op, "value": v}, st.sampled_from(["k", "debt"]),
                  st.sampled_from(["in", "not_in"]), st.lists(st.sampled_from(["12", "x", ""]).filter(bool),
                                                              min_size=1, max_size=2)))
    return st.one_of(text, text_list, empty, number, dates, attrs)


def windows():
    clock = st.integers(0, 24 * 4).map(lambda q: f"{q * 15 // 60:02d}:{q * 15 % 60:02d}")
    return st.one_of(st.none(), st.builds(
        lambda a, b, days, hol: {"from": min(a, b), "to": max(a, b), "days": days, "holidays": hol},
        clock, clock, st.lists(st.integers(1, 7), min_size=1, max_size=7, unique=True),
        st.lists(st.sampled_from(["2026-03-29", "2026-10-25", "2026-11-01", "2026-06-15"]), max_size=2, unique=True),
    ).filter(lambda w: w["from"] < w["to"] and w["from"] != "24:00"))


def rules(now: datetime):
    return st.fixed_dictionaries({
        "conditions": st.lists(st.lists(conditions(now), min_size=1, max_size=3), max_size=3),
        "limits": st.fixed_dictionaries({}, optional={
            "max_attempts": st.integers(1, 4), "max_per_day": st.integers(1, 3),
            "min_pause_minutes": st.sampled_from([0, 30, 60, 24 * 60])}),
        "window": windows(),
        "order": st.sampled_from(["due", "created_at", "priority"]),
    })
