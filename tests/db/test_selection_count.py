"""«Подходит сейчас» (`rules.selections.preview`) on a real PostgreSQL: both of its counts equal the reference
evaluator's over random rules, leads, do-not-call lists and campaign windows and limits — whatever statement
shape and plan the count takes."""
import json
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings, strategies as st

from dialer.models import Campaign, DoNotCall, Lead
from rules import evaluate as e
from rules import columns, lead_cache, selections
from rules import window as cw
from rules.model import validate
from tests import rules_strategies as rs

COLUMNS = ["id", "phone", "name", "country", "region", "city", "product", "crm_status", "amount", "birth_date",
           "priority", "attempts", "attempts_today", "attempts_day", "time_zone", "state", "created_at",
           "next_call_at", "last_attempt_at", "callback", "attrs", "external_id"]
# the product's default written out: the tests' own `window.DEFAULT` is "any hour" (tests/conftest.py)
NINE_TO_NINE = {"from": "09:00", "to": "21:00", "weekend": {"from": "10:00", "to": "20:00"}, "weekend_days": [6, 7]}
CAMPAIGN_WINDOWS = [cw.ANY_HOUR, NINE_TO_NINE, {"from": "08:00", "to": "20:00", "weekend": None, "weekend_days": [7]}]


@st.composite
def cases(draw):
    now = draw(rs.moments)
    leads = draw(st.lists(rs.leads(now), min_size=0, max_size=12))
    rule = draw(rs.rules(now))
    listed = draw(st.sets(st.sampled_from(rs.PHONES), max_size=2))
    campaign = {"calling_window": draw(st.sampled_from(CAMPAIGN_WINDOWS)),
                "max_per_day": draw(st.sampled_from([None, 1, 2])),
                "min_pause_minutes": draw(st.sampled_from([None, 30, 600]))}
    return now, leads, rule, listed, campaign


def load(leads, listed, campaign) -> tuple[int, list[dict]]:
    Lead.delete().execute()
    DoNotCall.delete().execute()
    Campaign.delete().where(Campaign.name == "count").execute()
    cid = Campaign.insert(name="count", **campaign).execute()
    if leads:
        Lead.insert_many([{**lead, "campaign": cid, "external_id": str(i)} for i, lead in enumerate(leads)]).execute()
    if listed:
        DoNotCall.insert_many([{"phone": p} for p in listed]).execute()
    rows = list(Lead.select(*[getattr(Lead, n) for n in COLUMNS]).where(Lead.campaign == cid).dicts())
    return cid, rows


def expected(rows, raw, listed, campaign, now) -> tuple[int, int]:
    """The evaluator's answer: the conditions alone; and every part of the claim under the campaign's window and
    limits (the stricter of each), the do-not-call list included."""
    rule = validate(raw)
    claim = cw.CampaignClaim(cw.parse_stored(json.dumps(campaign["calling_window"])), campaign["max_per_day"],
                             campaign["min_pause_minutes"])
    effective = cw.narrowed(rule, claim)
    by_conditions = [r for r in rows if e.conditions(r, rule, now)]
    now_ = [r for r in by_conditions
            if e.selects(r, effective, now, listed) and cw.is_open(claim.window, r["time_zone"], now)]
    return len(by_conditions), len(now_)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(case=cases())
def test_the_count_equals_the_evaluators(db, case):
    """Both ways of counting: over the campaign's columns in memory (rules/lead_cache.py), when the rule speaks
    only of fields they hold, and the SQL statement, always."""
    now, leads, raw, listed, campaign = case
    cid, rows = load(leads, listed, campaign)
    want = expected(rows, raw, listed, campaign, now)
    got = selections.preview(cid, raw, now)
    assert (got["matches_conditions"], got["matches_now"]) == want
    parsed = validate(raw)
    in_memory = lead_cache.counts(Campaign.get_by_id(cid), parsed, *selections.claim_parts(
        Campaign.get_by_id(cid), parsed, now), now)
    assert in_memory in (None, want)
    assert (in_memory is None) == (not columns.countable(parsed))
    assert tuple(selections.preview_query(Campaign.get_by_id(cid), parsed, now).tuples().first()) == want


def test_each_part_of_now_can_exclude_a_lead(db):
    """One lead per reason it is not callable now, beside one that is: each is left out of «now» and only of it."""
    now = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)  # a Monday, 15:00 in Moscow
    # every row names every column (a multi-row insert takes its columns from the first row)
    base = {"phone": "+79001000001", "time_zone": "Europe/Moscow", "state": "new", "next_call_at": now - timedelta(hours=1),
            "amount": 100, "attempts": 0, "attempts_today": 0, "attempts_day": None, "last_attempt_at": None}
    leads = [base,
             {**base, "state": "done"},
             {**base, "state": "in_progress"},
             {**base, "next_call_at": now + timedelta(minutes=1)},
             {**base, "time_zone": "Asia/Vladivostok"},  # 22:00 there: the campaign's window is closed
             {**base, "attempts": 5},
             {**base, "attempts_today": 3, "attempts_day": now.date()},
             {**base, "last_attempt_at": now - timedelta(minutes=10)},
             {**base, "phone": "+79001000002"},  # on the do-not-call list
             {**base, "amount": 5}]  # fails the conditions: in neither count
    campaign = {"calling_window": NINE_TO_NINE, "max_per_day": 3, "min_pause_minutes": 30}
    rule = {"conditions": [[{"field": "amount", "op": "ge", "value": 50}]], "limits": {"max_attempts": 5}}
    cid, rows = load(leads, {"+79001000002"}, campaign)
    got = selections.preview(cid, rule, now)
    assert (got["matches_conditions"], got["matches_now"]) == (9, 1) == expected(
        rows, rule, {"+79001000002"}, campaign, now)
