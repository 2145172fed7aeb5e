"""The «Кампании» list follows live events by their facts (sql/024_campaign_list_live.sql): each write of leads
sends its net change by state per campaign (`lead.counts`), each change of a pool or of an operator's `active` the
operator's pools as they are (`operator.pool`); the page's picture and its live cursor come from one snapshot, so
the picture plus the events after the cursor are the figures read afresh."""
from __future__ import annotations

import copy
from collections import Counter

import pytest

from dialer.models import Operator, OperatorCampaign
from dialer.services import campaigns
from web import live
from web.pages.campaigns import _list_state


def real(db) -> Counter:
    rows = db.execute_sql("SELECT campaign_id, state, count(*) FROM lead GROUP BY 1, 2").fetchall()
    return Counter({(c, s): n for c, s, n in rows})


def events(db, after: int, kind: str) -> list[dict]:
    return [d for d, in db.execute_sql("SELECT data FROM live_event WHERE id > %s AND kind = %s ORDER BY id",
                                       (after, kind)).fetchall()]


def last_id(db) -> int:
    return db.execute_sql("SELECT coalesce(max(id), 0) FROM live_event").fetchone()[0]


def test_each_write_of_leads_sends_its_net_change_by_state(db):
    a, b = campaigns.create_campaign("A")["id"], campaigns.create_campaign("B")["id"]
    new = ("INSERT INTO lead (campaign_id, external_id, phone)"
           " SELECT %s, 'E' || i, '+7900' || lpad(i::text, 7, '0') FROM generate_series(1, 20) AS i")
    steps = [
        ("insert", new, (a,)),
        ("state", "UPDATE lead SET state = 'callable' WHERE campaign_id = %s AND id %% 2 = 0", (a,)),
        ("move and change", "UPDATE lead SET campaign_id = %s, state = 'held' WHERE id %% 5 = 0", (b,)),
        ("upsert", "INSERT INTO lead (campaign_id, external_id, phone) VALUES (%s, 'E1', '+79001000001'),"
                   " (%s, 'N', '+79001000002') ON CONFLICT (campaign_id, external_id) DO UPDATE SET state = 'done'",
         (a, b)),
        ("delete", "DELETE FROM lead WHERE state = 'done' OR id %% 7 = 0", ()),
    ]
    for name, sql, args in steps:
        before, at = real(db), last_id(db)
        db.execute_sql(sql, args)
        sent = Counter()
        for e in events(db, at, "lead.counts"):
            assert set(e) == {"campaign_id", "leads"}, name
            for state, n in e["leads"].items():
                sent[(e["campaign_id"], state)] += n
        change = Counter(real(db))
        change.subtract(before)
        assert +sent == +change and -sent == -change, name  # the same non-zero changes, signs included

    at = last_id(db)
    db.execute_sql("UPDATE lead SET priority = 3")  # no lead changed state or campaign: nothing to tell
    assert events(db, at, "lead.counts") == []


def test_a_pool_change_sends_the_operators_pools_as_they_are(db):
    a, b = campaigns.create_campaign("A")["id"], campaigns.create_campaign("B")["id"]
    anna = Operator.create(name="Анна", login="anna", status="ready")
    at = last_id(db)
    OperatorCampaign.insert_many([{"operator": anna.id, "campaign": a}, {"operator": anna.id, "campaign": b}]).execute()
    assert events(db, at, "operator.pool") == [{"id": anna.id, "active": True, "status": "ready", "campaign_ids": [a, b]}]

    at = last_id(db)
    OperatorCampaign.delete().where(OperatorCampaign.campaign == a).execute()
    assert [e["campaign_ids"] for e in events(db, at, "operator.pool")] == [[b]]

    at = last_id(db)
    Operator.update(active=False).where(Operator.id == anna.id).execute()
    Operator.update(name="Анна П.").where(Operator.id == anna.id).execute()  # not a pool change: no event
    assert [(e["active"], e["campaign_ids"]) for e in events(db, at, "operator.pool")] == [(False, [b])]

    at = last_id(db)
    db.execute_sql("DELETE FROM operator WHERE id = %s", (anna.id,))  # the pools go with the operator
    assert [(e["id"], e["active"], e["campaign_ids"]) for e in events(db, at, "operator.pool")] == [(anna.id, False, [])]


def test_the_pictures_figures_and_the_events_after_its_cursor_make_the_figures_of_now(db):
    c = campaigns.create_campaign("A")["id"]
    db.execute_sql("INSERT INTO lead (campaign_id, external_id, phone)"
                   " SELECT %s, 'E' || i, '+7900' || lpad(i::text, 7, '0') FROM generate_series(1, 5) AS i", (c,))
    state, cursor = _list_state(db, "Europe/Moscow")
    leads = Counter(state["campaigns"][0]["leads"])
    assert live.missed(db, live.Cursor.parse(cursor)) == []
    db.execute_sql("UPDATE lead SET state = 'callable' WHERE campaign_id = %s AND id %% 2 = 1", (c,))
    for e in live.missed(db, live.Cursor.parse(cursor)):
        if e["kind"] == "lead.counts":
            leads.update(e["data"]["leads"])
    assert +leads == +Counter(campaigns.counters([c])[c]["leads"])


# ---- a user who may see the campaigns but not the calls or the operators (web/live.py REDUCED) --------------------
def _who(perms, operator_id=None):
    from dialer.access import Principal
    return Principal(9, "w", ("r",), frozenset(perms), operator_id=operator_id)


CALL = {"id": 7, "kind": "attempt", "permission": "calls.read", "operator_id": 5,
        "data": {"id": 70, "lead_id": 1, "campaign_id": 3, "operator_id": 5, "outcome": "BUSY", "answered_at": None,
                 "ended_at": "2026-01-01T10:00:00+00:00", "client": "Иван", "order_id": "Z-1", "manual": False}}
GONE = {"id": 8, "kind": "attempt.gone", "permission": "calls.read", "operator_id": 5,
        "data": {"id": 71, "campaign_id": 3, "operator_id": 5}}
STATUS = {"id": 9, "kind": "operator.status", "permission": "operators.read", "operator_id": 5,
          "data": {"id": 5, "name": "Анна", "status": "ready", "since": "2026-01-01T10:00:00+00:00", "attempt_id": None,
                   "pause_reason": None}}
PAUSED = {"id": 10, "kind": "campaign", "permission": "supervisor.view", "operator_id": None,
          "data": {"id": 3, "name": "Подтверждение", "active": False}}
LEADS = {"id": 11, "kind": "lead.counts", "permission": "campaigns.read", "operator_id": None,
         "data": {"campaign_id": 3, "leads": {"new": 1}}}
ALERT = {"id": 12, "kind": "alert", "permission": "supervisor.view", "operator_id": 5, "data": {"id": 1}}
PANEL = {"id": 13, "kind": "panel.changed", "permission": "", "operator_id": 5, "data": {"operator_id": 5}}
CAMPAIGNS = {"campaigns.read"}


@pytest.mark.parametrize("event, perms, operator_id, kind, data", [
    # the campaigns only: the facts the list's counters need, nothing more
    (CALL, CAMPAIGNS, None, "campaign.call",
     {"id": 70, "campaign_id": 3, "ended_at": "2026-01-01T10:00:00+00:00", "outcome": "BUSY"}),
    (GONE, CAMPAIGNS, None, "campaign.call.gone", {"id": 71, "campaign_id": 3}),
    (STATUS, CAMPAIGNS, None, "campaign.operator", {"id": 5, "status": "ready", "since": "2026-01-01T10:00:00+00:00"}),
    (PAUSED, CAMPAIGNS, None, "campaign.active", {"id": 3, "active": False}),
    (LEADS, CAMPAIGNS, None, "lead.counts", LEADS["data"]),  # its own permission: itself
    (ALERT, CAMPAIGNS, None, None, None),  # nothing reduced of anything else
    (PANEL, CAMPAIGNS, None, None, None),
    # who may see the event gets it whole, and not the reduced one as well
    (CALL, CAMPAIGNS | {"calls.read"}, None, "attempt", CALL["data"]),
    (STATUS, CAMPAIGNS | {"operators.read"}, None, "operator.status", STATUS["data"]),
    (PAUSED, CAMPAIGNS | {"supervisor.view"}, None, "campaign", PAUSED["data"]),
    (CALL, {"panel.use"} | CAMPAIGNS, 5, "attempt", CALL["data"]),  # the operator's own call
    (CALL, {"panel.use"} | CAMPAIGNS, 6, "campaign.call", None),  # someone else's: as the campaigns show it
    # neither the event's permission nor the campaigns: nothing
    (CALL, {"reports.read"}, None, None, None),
    (STATUS, {"panel.use"}, 6, None, None),
    (PAUSED, {"operators.read"}, None, None, None),
])
def test_an_event_as_each_principal_may_see_it(event, perms, operator_id, kind, data):
    event = copy.deepcopy(event)
    seen = live.view_of(_who(perms, operator_id), event)
    if kind is None:
        assert seen is None
        return
    assert seen["id"] == event["id"] and seen["kind"] == kind  # the same id: the stream's cursor counts it once
    if data is not None:
        assert seen["data"] == data
    assert live.format_event(seen).endswith(f"event: {kind}\ndata: {live._data(seen)}\n\n")


def test_the_reduced_events_come_from_the_table_and_from_the_hub_alike(settings, db):
    """A reconnect's catch-up (read from `live_event`) and the live hub hand a campaigns-only principal the same
    reduced events, for the rows' own writes: a call and its end, an offer withdrawn, a status, a pause."""
    from dialer.models import Attempt, Lead

    c = campaigns.create_campaign("A")["id"]
    anna = Operator.create(name="Анна", login="anna")
    OperatorCampaign.create(operator=anna.id, campaign=c)
    lead = Lead.create(campaign=c, external_id="1", phone="+79001000001")
    start = live.head(db)
    call = Attempt.create(lead=lead.id, campaign=c, phone=lead.phone, operator=anna.id)
    Attempt.update(ended_at="now()", outcome="BUSY").where(Attempt.id == call.id).execute()
    offer = Attempt.create(lead=lead.id, campaign=c, phone=lead.phone, operator=anna.id)
    Attempt.delete().where(Attempt.id == offer.id).execute()
    Operator.update(status="ready", status_since="now()").where(Operator.id == anna.id).execute()
    campaigns.update_campaign(c, active=False)

    viewer = _who(CAMPAIGNS)
    from_table = [(e["kind"], e["data"]) for e in live.catch_up(db, start, viewer)
                  if e["kind"].startswith("campaign.")]
    assert [k for k, _ in from_table] == ["campaign.call", "campaign.call", "campaign.call", "campaign.call.gone",
                                          "campaign.operator", "campaign.active"]
    assert from_table[1][1]["outcome"] == "BUSY" and from_table[1][1]["ended_at"] and from_table[1][1]["id"] == call.id
    assert from_table[3][1] == {"id": offer.id, "campaign_id": c}
    assert from_table[4][1]["status"] == "ready" and from_table[5][1] == {"id": c, "active": False}
    assert all("client" not in d and "name" not in d and "operator_id" not in d for _, d in from_table)

    hub = live.Hub(settings, db)  # not listening: the table's rows are published by hand
    sub, whole = hub.subscribe(viewer), hub.subscribe(_who(CAMPAIGNS | {"calls.read", "operators.read",
                                                                        "supervisor.view"}))
    for event in live.missed(db, start):
        hub.publish(event)
    got = []
    while not sub.queue.empty():
        got.append(sub.queue.get_nowait())
    assert [(e["kind"], e["data"]) for e in got if e["kind"].startswith("campaign.")] == from_table
    full = []
    while not whole.queue.empty():
        full.append(whole.queue.get_nowait()["kind"])
    assert not [k for k in full if k.startswith("campaign.")] and "attempt" in full and "operator.status" in full
