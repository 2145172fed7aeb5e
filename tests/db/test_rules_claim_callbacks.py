"""Bound callbacks of every kind never break a claim (issue 12, defect 3): a callback of the operator's own
that no selection lets them call (its campaign paused, its number listed, its window closed, its limit
reached, not due yet) must not stop the claim; a callable lead is still returned when there is one — the
operator's own due callback first."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

from ari_app import store
from dialer.models import Attempt, Campaign, DoNotCall, Lead, Operator, OperatorCampaign
from rules import claim

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)  # a Monday: 15:00 in Moscow, 08:00 in New York
OPEN_ZONE, CLOSED_ZONE = "Europe/Moscow", "America/New_York"
WINDOWED_RULE = {"window": {"from": "09:00", "to": "21:00", "days": [1, 2, 3, 4, 5, 6, 7]},
                 "limits": {"max_attempts": 2}}
# campaigns: "windowed" has a selection with a calling window and an attempt limit; "plain" has no selection
# (every callable lead); "paused" is in the operator's pool but not active; "foreign" is outside the pool
CAMPAIGNS = ("windowed", "plain", "paused", "foreign")
DUE = {"due": NOW - timedelta(minutes=1), "past_grace": NOW - claim.BOUND_GRACE - timedelta(minutes=1),
       "later": NOW + timedelta(hours=1)}

leads = st.lists(st.fixed_dictionaries({
    "campaign": st.sampled_from(CAMPAIGNS),
    "owner": st.sampled_from(["me", "other", None]),  # a callback bound to an operator, or none
    "due": st.sampled_from(list(DUE)),
    "state": st.sampled_from(["callable", "new", "done"]),
    "listed": st.booleans(),  # the number is on the do-not-call list
    "zone": st.sampled_from([OPEN_ZONE, CLOSED_ZONE]),
    "attempts": st.sampled_from([0, 2]),  # 2: the windowed selection's limit is reached
}), min_size=1, max_size=8)


def callback(campaign="windowed", owner="me", due="due", state="callable", listed=False, zone=OPEN_ZONE, attempts=0):
    return {"campaign": campaign, "owner": owner, "due": due, "state": state, "listed": listed, "zone": zone,
            "attempts": attempts}


# every kind of due callback of one's own that cannot be claimed, beside a lead anyone may take
UNCLAIMABLE = [callback(campaign="paused"), callback(listed=True), callback(zone=CLOSED_ZONE),
               callback(attempts=2), callback(campaign="foreign")]
POOL_LEAD = callback(campaign="plain", owner=None)


def claimable(lead: dict) -> bool:
    """The reference: may the operator "me" call this lead now?"""
    return (lead["campaign"] in ("windowed", "plain") and lead["due"] != "later"
            and lead["state"] in ("new", "callable") and not lead["listed"]
            and (lead["campaign"] == "plain" or (lead["zone"] == OPEN_ZONE and lead["attempts"] < 2))
            and (lead["owner"] in (None, "me") or lead["due"] == "past_grace"))


@dataclass
class World:
    campaigns: dict[str, int]
    operators: dict[str, int]


@pytest.fixture
def world(db) -> World:
    campaigns = {name: Campaign.create(name=name, active=name != "paused").id for name in CAMPAIGNS}
    operators = {who: Operator.create(name=who, login=who, sip_password="secret-123").id for who in ("me", "other")}
    OperatorCampaign.insert_many([{"operator": operators[who], "campaign": campaigns[name]}
                                  for who in operators for name in CAMPAIGNS if name != "foreign"]).execute()
    db.execute_sql("INSERT INTO selection (campaign_id, name, rule) VALUES (%s, 'windowed', %s)",
                   (campaigns["windowed"], json.dumps(WINDOWED_RULE)))
    return World(campaigns, operators)


def load(db, w: World, drawn: list[dict]) -> dict[int, dict]:
    """The drawn leads in the database (anything of an earlier example removed first), by id."""
    db.execute_sql("UPDATE operator SET attempt_id = NULL; DELETE FROM attempt_event; DELETE FROM attempt;"
                   " DELETE FROM lead; DELETE FROM do_not_call")
    by_id = {}
    for i, lead in enumerate(drawn):
        phone = f"+7900100{i:04d}"
        by_id[Lead.insert(campaign=w.campaigns[lead["campaign"]], external_id=str(i), phone=phone,
                          state=lead["state"], next_call_at=DUE[lead["due"]], time_zone=lead["zone"],
                          attempts=lead["attempts"], callback=lead["owner"] is not None,
                          assigned_operator_id=w.operators.get(lead["owner"])).execute()] = lead
        if lead["listed"]:
            DoNotCall.insert(phone=phone).execute()
    return by_id


def expected(by_id: dict[int, dict]) -> set[int]:
    """The leads the claim may return: the operator's own callable callbacks if any, else any callable lead."""
    callable_ids = {i for i, lead in by_id.items() if claimable(lead)}
    own = {i for i in callable_ids if by_id[i]["owner"] == "me"}
    return own or callable_ids


SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@SETTINGS
@given(drawn=leads)
@example(drawn=[UNCLAIMABLE[0], POOL_LEAD]).via("the bound callback's campaign is paused")
@example(drawn=[UNCLAIMABLE[1], POOL_LEAD]).via("the bound callback's number is on the do-not-call list")
@example(drawn=[UNCLAIMABLE[2], POOL_LEAD]).via("outside the bound callback's calling window")
@example(drawn=[UNCLAIMABLE[3], POOL_LEAD]).via("the bound callback's selection limit is reached")
@example(drawn=[*UNCLAIMABLE, callback(campaign="windowed", owner=None)]).via("all of them at once")
def test_next_lead_never_raises_and_still_finds_a_callable_lead(db, world, drawn):
    by_id = load(db, world, drawn)
    with db.atomic() as tx:  # the lead stays locked only until the rollback
        choice = claim.next_lead(db, world.operators["me"], NOW)
        tx.rollback()
    want = expected(by_id)
    if want:
        assert choice is not None and choice.lead_id in want, (choice, drawn)
    else:
        assert choice is None, (choice, drawn)


@SETTINGS
@given(drawn=leads)
@example(drawn=[*UNCLAIMABLE, POOL_LEAD]).via("every kind of unclaimable bound callback beside a pool lead")
def test_the_engines_claim_opens_an_attempt_whenever_a_callable_lead_exists(db, world, drawn):
    """The same through the engine's own statement (`ari_app.store.claim`: lead found, locked and its attempt
    opened in one statement)."""
    by_id = load(db, world, drawn)
    got = store.claim(db, world.operators["me"], "pbx", "t", NOW.timestamp(), None)
    want = expected(by_id)
    if want:
        assert got is not None and Attempt.get_by_id(got.attempt_id).lead_id in want, drawn
    else:
        assert got is None and Attempt.select().count() == 0, drawn
