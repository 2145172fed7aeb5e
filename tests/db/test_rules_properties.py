"""The compiled SQL and the reference evaluator pick exactly the same leads, in the same order, for random
rules and data — moments near clock changes, client-local midnights and "today ± N" included."""
import json
from decimal import Decimal

from hypothesis import HealthCheck, given, settings, strategies as st

from dialer.models import Campaign, DoNotCall, Lead
from rules import compile as c
from rules import evaluate as e
from rules.model import validate
from tests import rules_strategies as rs

COLUMNS = ["id", "phone", "name", "country", "region", "city", "product", "crm_status", "amount", "birth_date",
           "priority", "attempts", "attempts_today", "attempts_day", "time_zone", "state", "created_at",
           "next_call_at", "last_attempt_at", "callback", "attrs", "external_id"]


@st.composite
def cases(draw):
    now = draw(rs.moments)
    leads = draw(st.lists(rs.leads(now), min_size=1, max_size=12))
    rule = draw(rs.rules(now))
    listed = draw(st.sets(st.sampled_from(rs.PHONES), max_size=2))
    return now, leads, rule, listed


def load(leads, listed) -> tuple[int, list[dict]]:
    Lead.delete().execute()
    DoNotCall.delete().execute()
    cid = Campaign.get_or_create(name="p")[0].id
    Lead.insert_many([{**lead, "campaign": cid, "external_id": str(i)} for i, lead in enumerate(leads)]).execute()
    if listed:
        DoNotCall.insert_many([{"phone": p} for p in listed]).execute()
    rows = list(Lead.select(*[getattr(Lead, n) for n in COLUMNS]).where(Lead.campaign == cid).dicts())
    return cid, rows


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(case=cases())
def test_sql_and_evaluator_select_the_same_leads_in_the_same_order(db, case):
    now, leads, raw, listed = case
    rule = validate(raw)
    cid, rows = load(leads, listed)
    sql_ids = [r[0] for r in Lead.select(Lead.id).where((Lead.campaign == cid) & c.selects(rule, now))
               .order_by(*c.ordering(rule)).tuples()]
    py_ids = [r["id"] for r in sorted((r for r in rows if e.selects(r, rule, now, listed)),
                                      key=lambda r: e.order_key(r, rule))]
    assert sql_ids == py_ids


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(case=cases())
def test_each_condition_alone_agrees(db, case):
    """Per condition, including leads the shared part (state, due, do-not-call) would hide."""
    now, leads, raw, _ = case
    rule = validate(raw)
    cid, rows = load(leads, set())
    for group in rule.groups:
        for cond in group:
            sql = {r[0] for r in Lead.select(Lead.id).where((Lead.campaign == cid) & c.condition(cond, now)).tuples()}
            py = {r["id"] for r in rows if e.condition(r, cond, now)}
            assert sql == py, cond
    for part in ("window_open", "within_daily_limit", "pause_over", "attempts_left"):
        sql = {r[0] for r in Lead.select(Lead.id).where((Lead.campaign == cid) & getattr(c, part)(rule, now)).tuples()}
        py = {r["id"] for r in rows if getattr(e, part)(r, rule, now)}
        assert sql == py, part


def test_amounts_compare_as_decimals(db):
    from datetime import datetime, timezone
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    cid, rows = load([{"phone": "+79001000001", "amount": Decimal("0.10"), "next_call_at": now}], set())
    rule = validate({"conditions": [[{"field": "amount", "op": "eq", "value": 0.1}]]})
    assert Lead.select().where(c.conditions(rule, now)).count() == 1
    assert e.conditions(rows[0], rule, now)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                    HealthCheck.too_slow])
@given(case=cases())
def test_the_claims_statement_picks_the_evaluators_first_lead(db, case):
    """The claim's own SQL (calling window as the zones open now) against the evaluator's order."""
    from datetime import timedelta

    from rules import claim
    now, leads, raw, listed = case
    rule = validate(raw)
    cid, rows = load(leads, listed)
    sql, params = claim.lead_query(rule, claim.DIRECT).sql()
    values = {claim.NOW: now, claim.CAMPAIGN: cid, claim.OPERATOR: 1, claim.GRACE_END: now - timedelta(minutes=15),
              claim.OPEN_ZONES: sorted(e.zones_open(rule.window, now)) if rule.window else []}
    with db.atomic():
        got = db.execute_sql(sql, [values[p] if isinstance(p, claim._Param) else p for p in params]).fetchone()
    expected = sorted((r for r in rows if e.selects(r, rule, now, listed)), key=lambda r: e.order_key(r, rule))
    assert (got[0] if got else None) == (expected[0]["id"] if expected else None)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(case=cases(), size=st.integers(1, 6))
def test_the_claim_queue_is_the_evaluators_first_leads_and_its_claim_the_first_still_eligible(db, case, size):
    """`rules.queue.fill` queues the evaluator's first `size` leads in order; the queued claim takes the first."""
    from rules import claim, queue

    now, leads, raw, listed = case
    rule = validate(raw)
    cid, rows = load(leads, listed)
    sid = db.execute_sql("INSERT INTO selection (campaign_id, name, rule) VALUES (%s, 'p', %s) RETURNING id",
                         (cid, json.dumps(raw))).fetchone()[0]
    with db.atomic():
        n = queue.fill(db, sid, cid, 1, json.dumps(raw), now, size)
    expected = [r["id"] for r in sorted((r for r in rows if e.selects(r, rule, now, listed)),
                                        key=lambda r: e.order_key(r, rule))]
    queued = [r[0] for r in db.execute_sql("SELECT lead_id FROM claim_queue WHERE selection_id = %s ORDER BY rank",
                                            (sid,)).fetchall()]
    assert n == len(queued) and queued == expected[:size]
    sql, params = claim.lead_query(rule, claim.QUEUED).sql()
    values = {claim.NOW: now, claim.CAMPAIGN: cid, claim.OPERATOR: 1, claim.GRACE_END: now - claim.BOUND_GRACE,
              claim.OPEN_ZONES: sorted(e.zones_open(rule.window, now)) if rule.window else [],
              claim.SELECTION: sid, claim.VERSION: 1, claim.LIMIT: size}
    with db.atomic():
        got = db.execute_sql(sql, [values[p] if isinstance(p, claim._Param) else p for p in params]).fetchone()
    assert (got[0] if got else None) == (expected[0] if expected else None)
    db.execute_sql("DELETE FROM claim_queue; DELETE FROM selection")


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                   HealthCheck.too_slow])
@given(case=cases())
def test_the_window_as_open_zones_selects_the_same_leads(db, case):
    now, leads, raw, listed = case
    rule = validate(raw)
    cid, rows = load(leads, listed)
    by_zone = {r[0] for r in Lead.select(Lead.id).where(
        (Lead.campaign == cid) & c.selects(rule, now, c.window_by_zones(rule, now))).tuples()}
    assert by_zone == {r["id"] for r in rows if e.selects(r, rule, now, listed)}
