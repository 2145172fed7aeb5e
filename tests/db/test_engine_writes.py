"""The engine's writes on a real PostgreSQL: each may run twice (a retry after a commit whose answer was lost)
and changes nothing the second time; a released or unplaced call leaves its lead as it was (a callback stays
a callback of its operator); a manual dial never puts a lead that was out of the queue back in it; the
attempt of a claim whose answer was lost is given back."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from ari_app import events as ev
from ari_app import offer_store, store
from ari_app.classifier import AttemptFacts
from dialer.models import Alert, Attempt, Campaign, Lead, MissedOffer, Operator, OperatorCampaign

PAST = datetime.now(timezone.utc) - timedelta(minutes=5)


def setup(leads=1, **kw):
    c = Campaign.create(name="c", max_attempts=3, retry_delay_s=3600, **kw)
    Lead.insert_many([{"campaign": c.id, "external_id": str(i), "phone": f"+7900200{i:04d}", "next_call_at": PAST}
                      for i in range(leads)]).execute()
    op = Operator.create(name="o", login="o1", sip_password="secret-123")
    OperatorCampaign.create(operator=op.id, campaign=c.id)
    return c, op


def claim(db, op):
    return store.claim(db, op.id, "pbx", "t", time.time(), None)


def lead_of(attempt_id) -> Lead:
    return Lead.get_by_id(Attempt.get_by_id(attempt_id).lead_id)


def lead_row(lead_id):
    lead = Lead.get_by_id(lead_id)
    return (lead.state, lead.attempts, lead.attempts_today, lead.callback, lead.assigned_operator_id, lead.next_call_at)


def snapshot(db) -> dict:
    tables = ("attempt", "attempt_event", "lead", "operator", "missed_offer", "alert", "do_not_call")
    return {t: db.execute_sql(f"SELECT * FROM {t} ORDER BY 1").fetchall() for t in tables}


def end(attempt_id, outcome="NO_ANSWER", cause=19, at=None):
    return ev.EndAttempt(attempt_id, outcome, AttemptFacts(cause=cause, answered=outcome == "ANSWERED",
                                                            bridged=outcome == "ANSWERED"), at or time.time())


# ---- every write may run twice --------------------------------------------------------------------------
T = time.time()
WRITES = {
    "record": lambda db, op, a: store.record(db, a, "dial_started_at", T, {"x": 1}),
    "end_attempt": lambda db, op, a: store.end_attempt(db, end(a, at=T)),
    "save_operator": lambda db, op, a: store.save_operator(db, op, "ready", "leg", "opb1", False),
    "offer_started": lambda db, op, a: offer_store.offer_started(db, a, T, 15),
    "offer_accepted": lambda db, op, a: offer_store.offer_accepted(db, a, T),
    "release_offer": lambda db, op, a: offer_store.release_offer(db, a, T, True),
    "release_orphans": lambda db, op, a: offer_store.release_orphans(db, op, T),
    "save_missed_offers": lambda db, op, a: offer_store.save_missed_offers(db, op, 2),
}


@pytest.mark.parametrize("name", sorted(WRITES))
def test_a_write_run_twice_changes_nothing_the_second_time(db, name):
    _, op = setup()
    a = claim(db, op)
    WRITES[name](db, op.id, a.attempt_id)
    once = snapshot(db)
    WRITES[name](db, op.id, a.attempt_id)
    assert snapshot(db) == once


def test_the_missed_offers_alert_is_raised_once_however_often_its_write_runs(db):
    _, op = setup(leads=2)
    for _ in range(2):  # two offers missed in a row; the write of the alert runs twice
        offer_store.release_offer(db, claim(db, op).attempt_id, time.time(), missed=True)
    offer_store.missed_offers_alert(db, op.id, 2)
    offer_store.missed_offers_alert(db, op.id, 2)
    assert Alert.select().count() == 1 and MissedOffer.select().count() == 2
    offer_store.release_offer(db, claim(db, op).attempt_id, time.time() + 1, missed=True)  # a later miss
    offer_store.missed_offers_alert(db, op.id, 3)
    assert Alert.select().count() == 2


def test_releasing_an_offer_dialled_meanwhile_keeps_its_timeline(db):
    _, op = setup()
    a = claim(db, op)
    store.record(db, a.attempt_id, "dial_started_at", time.time())
    offer_store.release_offer(db, a.attempt_id, time.time(), missed=True)
    assert Attempt.get_by_id(a.attempt_id).ended_at is None
    kinds = [k for (k,) in db.execute_sql("SELECT kind FROM attempt_event WHERE attempt_id = %s ORDER BY id",
                                          (a.attempt_id,)).fetchall()]
    assert kinds == ["reserved", "dial_started"] and MissedOffer.select().count() == 0


# ---- a callback stays a callback until a call is placed ------------------------------------------------
def callback_lead(op):
    lead = Lead.select().order_by(Lead.id.desc()).get()  # the last: first in line only as a callback
    Lead.update(state="callable", callback=True, assigned_operator_id=op.id, next_call_at=PAST).where(
        Lead.id == lead.id).execute()
    return lead.id


def test_a_missed_offer_of_a_callback_keeps_it_the_operators_callback(db):
    _, op = setup(leads=3)
    lead_id = callback_lead(op)
    a = claim(db, op)
    assert Attempt.get_by_id(a.attempt_id).lead_id == lead_id  # the bound callback first
    offer_store.release_offer(db, a.attempt_id, time.time(), missed=True)
    state, attempts, today, callback, assigned, _ = lead_row(lead_id)
    assert (state, attempts, today, callback, assigned) == ("callable", 0, 0, True, op.id)
    again = claim(db, op)  # still first in line for its operator
    assert Attempt.get_by_id(again.attempt_id).lead_id == lead_id


def test_a_callback_whose_call_was_never_placed_stays_a_callback_and_one_placed_is_used_up(db):
    _, op = setup(leads=2)
    lead_id = callback_lead(op)
    a = claim(db, op)
    store.end_attempt(db, ev.EndAttempt(a.attempt_id, "ERROR", AttemptFacts(failure="ARI → 503"), time.time(),
                                        error="ARI → 503"))
    assert lead_row(lead_id)[:5] == ("callable", 0, 0, True, op.id)
    b = claim(db, op)
    assert Attempt.get_by_id(b.attempt_id).lead_id == lead_id
    store.record(db, b.attempt_id, "dial_started_at", time.time())
    store.end_attempt(db, end(b.attempt_id))
    assert lead_row(lead_id)[:4] == ("callable", 1, 1, False)


# ---- a manual dial never puts a lead back in the queue ---------------------------------------------------
def manual(db, op, lead_id):
    return offer_store.open_manual_attempt(db, op.id, "pbx", "t", time.time(), lead_id)


@pytest.mark.parametrize("state", ["done", "exhausted", "held"])
def test_an_unanswered_manual_dial_of_a_lead_out_of_the_queue_leaves_it_there(db, state):
    _, op = setup()
    lead = Lead.get()
    Lead.update(state=state, attempts=1).execute()  # below the campaign's 3: the usual rules would re-queue it
    a = manual(db, op, lead.id)
    assert Lead.get_by_id(lead.id).state == "in_progress"
    store.record(db, a.attempt_id, "dial_started_at", time.time())
    store.end_attempt(db, end(a.attempt_id, "BUSY", 17))
    after = Lead.get_by_id(lead.id)
    assert (after.state, after.attempts, after.last_outcome) == (state, 2, "BUSY")  # counted, not re-queued
    assert claim(db, op) is None


def test_a_manual_dial_never_placed_gives_the_attempt_back_and_leaves_the_lead_where_it_was(db):
    _, op = setup()
    lead = Lead.get()
    Lead.update(state="done", attempts=1).execute()
    a = manual(db, op, lead.id)
    store.end_attempt(db, ev.EndAttempt(a.attempt_id, "ERROR", AttemptFacts(failure="softphone"), time.time()))
    assert (Lead.get_by_id(lead.id).state, Lead.get_by_id(lead.id).attempts) == ("done", 1)
    b = manual(db, op, lead.id)  # and a manual dial given back (a lost answer) the same
    offer_store.release_orphans(db, op.id, time.time())
    assert Attempt.get_or_none(Attempt.id == b.attempt_id) is None
    assert (Lead.get_by_id(lead.id).state, Lead.get_by_id(lead.id).attempts) == ("done", 1)


def test_an_answered_manual_dial_of_a_done_lead_waits_for_the_wrap_up_which_decides(db):
    _, op = setup()
    lead = Lead.get()
    Lead.update(state="done").execute()
    a = manual(db, op, lead.id)
    store.record(db, a.attempt_id, "dial_started_at", time.time())
    store.end_attempt(db, end(a.attempt_id, "ANSWERED", 16))
    assert Lead.get_by_id(lead.id).state == "in_progress"
    store.finish_wrap_up(db, op.id, ev.FinishWrapUp(a.attempt_id, "callback", "", 60, time.time()))
    assert (Lead.get_by_id(lead.id).state, Lead.get_by_id(lead.id).callback) == ("callable", True)


def test_a_manual_dial_of_a_callable_lead_follows_the_usual_rules(db):
    _, op = setup()
    lead = Lead.get()
    a = manual(db, op, lead.id)
    store.record(db, a.attempt_id, "dial_started_at", time.time())
    store.end_attempt(db, end(a.attempt_id))
    assert Lead.get_by_id(lead.id).state == "callable"


# ---- a claim whose answer was lost ---------------------------------------------------------------------
def test_the_attempt_of_a_claim_whose_answer_was_lost_is_given_back_and_the_operator_can_claim(db):
    _, op = setup(leads=2)
    lost = claim(db, op)  # committed; the engine heard only an error
    lost_lead = Attempt.get_by_id(lost.attempt_id).lead_id
    with pytest.raises(Exception, match="attempt_live_operator_uq"):
        with db.atomic():
            claim(db, op)  # why it matters: the next claim fails for as long as the attempt is open
    assert offer_store.release_orphans(db, op.id, time.time()) == 1
    assert Attempt.get_or_none(Attempt.id == lost.attempt_id) is None
    assert Operator.get_by_id(op.id).attempt_id is None
    assert lead_row(lost_lead)[:3] == ("callable", 0, 0)
    assert claim(db, op) is not None


def test_giving_back_lost_claims_leaves_a_dialled_attempt_alone(db):
    _, op = setup()
    a = claim(db, op)
    store.record(db, a.attempt_id, "dial_started_at", time.time())
    assert offer_store.release_orphans(db, op.id, time.time()) == 0
    assert Attempt.get_by_id(a.attempt_id).ended_at is None
