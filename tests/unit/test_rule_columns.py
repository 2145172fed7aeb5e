"""«Подходит сейчас» over a campaign's columns (rules/columns.py) equals the reference evaluator (rules/evaluate.py)
over random leads, rules, do-not-call lists and campaign windows; exact comparisons of stored decimals; slots
reused and compacted without losing a lead. (Against the SQL count: tests/db/test_selection_count.py.)"""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from rules import columns as cl
from rules import evaluate as e
from rules import window as cw
from rules.compile import CALLABLE_STATES
from rules.model import validate
from tests import rules_strategies as rs

NINE_TO_NINE = {"from": "09:00", "to": "21:00", "weekend": {"from": "10:00", "to": "20:00"}, "weekend_days": [6, 7]}


def local_day(moment, zone):
    return None if moment is None else moment.astimezone(ZoneInfo(zone)).date().toordinal()


def row(i: int, lead: dict, listed: set) -> tuple:
    """A lead as rules.lead_cache.ROW_SQL reads it (the conversions PostgreSQL does there, in Python)."""
    z, birth, amount = lead["time_zone"], lead["birth_date"], lead["amount"]
    return (i, lead["state"] in CALLABLE_STATES, lead["phone"] in listed, cl.microseconds(lead["next_call_at"]),
            None if lead["last_attempt_at"] is None else cl.microseconds(lead["last_attempt_at"]),
            local_day(lead["created_at"], z), local_day(lead["next_call_at"], z), local_day(lead["last_attempt_at"], z),
            lead["attempts"], lead["attempts_today"],
            None if lead["attempts_day"] is None else lead["attempts_day"].toordinal(), lead["priority"],
            None if birth is None else birth.toordinal(), None if birth is None else birth.year,
            None if birth is None else birth.month * 100 + birth.day,
            None if amount is None else int(amount * 100), z, lead["region"], lead["city"], lead["country"],
            lead["product"], lead["crm_status"])


def held_fields_only(raw: dict) -> dict:
    """The rule without its conditions on fields the columns do not hold (those are counted in SQL)."""
    groups = [[c for c in g if c["field"] in cl.COUNTABLE] for g in raw["conditions"]]
    return {**raw, "conditions": [g for g in groups if g]}


@st.composite
def cases(draw):
    now = draw(rs.moments)
    return (now, draw(st.lists(rs.leads(now), max_size=15)), held_fields_only(draw(rs.rules(now))),
            draw(st.sets(st.sampled_from(rs.PHONES), max_size=2)),
            draw(st.sampled_from([cw.ANY_HOUR, NINE_TO_NINE])), draw(st.sampled_from([None, 1, 2])),
            draw(st.sampled_from([None, 30, 600])))


@settings(max_examples=200, deadline=None)
@given(case=cases())
def test_the_columns_count_as_the_evaluator_does(case):
    now, leads, raw, listed, window, per_day, pause = case
    rule = validate(raw)
    assert cl.countable(rule)
    claim = cw.CampaignClaim(cw.validate(window), per_day, pause)
    effective = cw.narrowed(rule, claim)
    cols = cl.LeadColumns()
    cols.write([row(i, lead, listed) for i, lead in enumerate(leads, start=1)])
    clock = cl.Clock(now, {z: now.astimezone(ZoneInfo(z)).date() for z in rs.ZONES})
    got = cl.count(cols, rule, effective, cw.combined_zones(claim.window, rule.window, now), clock)
    met = [lead for lead in leads if e.conditions(lead, rule, now)]
    callable_now = [lead for lead in met if e.selects(lead, effective, now, listed)
                    and cw.is_open(claim.window, lead["time_zone"], now)]
    assert got == (len(met), len(callable_now))


NOW = rs.PIVOTS[5].replace(tzinfo=ZoneInfo("UTC"))  # 2026-10-03 15:30 UTC
TODAY = NOW.date()
BASE = {"phone": "+79001000001", "name": "", "country": "", "region": "", "city": "", "product": "", "crm_status": "",
        "amount": None, "birth_date": None, "priority": 0, "attempts": 0, "attempts_today": 0, "attempts_day": None,
        "time_zone": "Europe/Moscow", "state": "new", "created_at": NOW, "next_call_at": NOW, "last_attempt_at": None,
        "callback": False, "attrs": {}}
# each field's values on both sides of every value a rule below compares it with, NULL included
LEADS = {
    "amount": [{"amount": a} for a in (None, Decimal("-5.5"), Decimal("0"), Decimal("12.5"), Decimal("99.99"),
                                       Decimal("100"), Decimal("100.01"))],
    "priority": [{"priority": p} for p in range(-4, 5)],
    "attempts": [{"attempts": n} for n in range(0, 6)],
    "attempts_today": [{"attempts_today": n, "attempts_day": d} for n in range(0, 5)
                       for d in (None, TODAY, TODAY - timedelta(days=1))],
    "age": [{"birth_date": b} for b in (None, date(1996, 2, 29), date(2026, 12, 1))] + [
        {"birth_date": date(TODAY.year - y, TODAY.month, TODAY.day) + timedelta(days=d)}
        for y in (17, 18, 30, 44) for d in (-1, 0, 1)],
    "birth_date": [{"birth_date": None}] + [{"birth_date": TODAY + timedelta(days=d)} for d in range(-4, 5)],
    **{f: [{f: None}] * (f == "last_attempt_at") + [{f: NOW + timedelta(hours=h)} for h in range(-96, 97, 5)]
       for f in ("created_at", "next_call_at", "last_attempt_at")},
}
VALUES = {"amount": [0, Decimal("12.5"), Decimal("99.99"), 100, Decimal("-5.5"), Decimal("12.345")],
          "priority": [-3, 0, 3], "attempts": [0, 2, 4], "attempts_today": [0, 1, 3], "age": [0, 17, 18, 30, 44],
          **{f: [(TODAY + timedelta(days=d)).isoformat() for d in (-3, -1, 0, 1, 3)]
             for f in ("birth_date", "created_at", "next_call_at", "last_attempt_at")}}


def rules_on(field: str):
    dated = field in ("birth_date", "created_at", "next_call_at", "last_attempt_at")
    values = [v if isinstance(v, (int, str)) else float(v) for v in VALUES[field]]  # as JSON brings them
    for op in ("eq", "ne", "gt", "lt", "ge", "le"):
        for v in values:
            yield {"field": field, "op": op, "value": v}
    yield {"field": field, "op": "between", "value": sorted([values[1], values[-1]])}
    yield {"field": field, "op": "empty"}
    yield {"field": field, "op": "not_empty"}
    if dated:
        for n in (-2, 0, 2):
            yield {"field": field, "op": "today", "value": n}
        yield {"field": field, "op": "within", "value": [-2, 0]}
    else:
        yield {"field": field, "op": "in", "value": values[:2]}
        yield {"field": field, "op": "not_in", "value": values[:2]}


@pytest.mark.parametrize("field", sorted(LEADS))
def test_every_operator_on_every_held_field_against_values_on_both_sides(field):
    leads = [{**BASE, **changed, "time_zone": z} for changed in LEADS[field]
             for z in ("Europe/Moscow", "Pacific/Chatham", "America/St_Johns")]
    cols = cl.LeadColumns()
    cols.write([row(i, lead, set()) for i, lead in enumerate(leads, start=1)])
    clock = cl.Clock(NOW, {z: NOW.astimezone(ZoneInfo(z)).date() for z in rs.ZONES})
    hits = 0
    for cond in rules_on(field):
        rule = validate({"conditions": [[cond]]})
        want = len([lead for lead in leads if e.conditions(lead, rule, NOW)])
        assert cl.count(cols, rule, rule, None, clock)[0] == want, cond
        hits += 0 < want < len(leads)
    assert hits > 10  # the values split the leads: each comparison above could fail


@pytest.mark.parametrize("stored, op, value, want", [
    # amounts in kopecks against values finer than a kopeck: never equal, ordered exactly
    (1234, "eq", Decimal("12.345"), False), (1234, "ne", Decimal("12.345"), True),
    (1234, "gt", Decimal("12.345"), False), (1235, "gt", Decimal("12.345"), True),
    (1234, "lt", Decimal("12.345"), True), (1235, "lt", Decimal("12.345"), False),
    (1235, "ge", Decimal("12.345"), True), (1234, "le", Decimal("12.345"), True),
    (1234, "eq", Decimal("12.34"), True), (1234, "ge", Decimal("12.34"), True), (1234, "gt", Decimal("12.34"), False),
    (-550, "lt", Decimal("-5.499"), True), (-550, "gt", Decimal("-5.501"), True), (-550, "eq", -5, False),
    (100_000_000_000_000, "eq", Decimal("1e12"), True),
])
def test_stored_decimals_compare_exactly(stored, op, value, want):
    assert bool(cl._compare(np.array([stored], dtype=np.int64), op, Fraction(value) * 100)[0]) is want


def test_a_lead_written_again_keeps_its_slot_and_the_gone_are_compacted_away():
    lead = {**{k: None for k in ("last_attempt_at", "birth_date", "amount", "attempts_day")},
            "state": "new", "phone": "+79001000001", "next_call_at": rs.PIVOTS[0].replace(tzinfo=ZoneInfo("UTC")),
            "created_at": rs.PIVOTS[0].replace(tzinfo=ZoneInfo("UTC")), "attempts": 0, "attempts_today": 0,
            "priority": 0, "time_zone": "Europe/Moscow", "region": "", "city": "", "country": "", "product": "",
            "crm_status": ""}
    cols = cl.LeadColumns()
    cols.write([row(i, {**lead, "region": f"r{i % 3}"}, set()) for i in range(1, 10_001)])
    cols.write([row(5, {**lead, "region": "Москва"}, set())])
    assert len(cols) == 10_000 and cols.used == 10_000
    cols.remove(range(1, 9_001))
    assert len(cols) == 1_000 and cols.used == 1_000  # compacted: fewer than half the slots held a lead
    rule = validate({"conditions": [[{"field": "region", "op": "eq", "value": "r1"}]]})
    now = rs.PIVOTS[0].replace(tzinfo=ZoneInfo("UTC"))
    clock = cl.Clock(now, {"Europe/Moscow": date(2026, 3, 29)})
    assert cl.count(cols, rule, rule, None, clock)[0] == len([i for i in range(9_001, 10_001) if i % 3 == 1])
    cols.write([row(9_004, {**lead, "region": "r0"}, set()), row(20_000, {**lead, "region": "r1"}, set())])
    assert cl.count(cols, rule, rule, None, clock)[0] == len([i for i in range(9_001, 10_001) if i % 3 == 1])
