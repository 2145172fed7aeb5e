"""The claim on a real PostgreSQL: concurrent claimers never share a lead; attempts end and release leads."""
import threading
import time

from ari_app import events as ev
from ari_app import store
from ari_app.classifier import AttemptFacts
from dialer.models import Attempt, Campaign, Lead, Operator, OperatorCampaign


def setup_campaign(leads=50, operators=20, **kw):
    c = Campaign.create(name="c", **kw)
    Lead.insert_many([{"campaign": c.id, "external_id": str(i), "phone": f"+7900000{i:04d}"} for i in range(leads)]).execute()
    ops = [Operator.create(name=f"o{i}", login=f"o{i}", sip_password="secret-123") for i in range(operators)]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": c.id} for o in ops]).execute()
    return c, ops


def test_simultaneous_claims_get_different_leads(db):
    _, ops = setup_campaign(operators=12)  # within the connection pool: every claimer holds a connection
    barrier = threading.Barrier(len(ops), timeout=20)
    results = {}

    def claim(op):
        with db.connection_context():
            barrier.wait()
            results[op.id] = store.claim(db, op.id, "pbx", "t", time.time(), None)

    threads = [threading.Thread(target=claim, args=(op,)) for op in ops]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    leads = [Attempt.get_by_id(r.attempt_id).lead_id for r in results.values()]
    assert len(leads) == 12 and len(set(leads)) == 12
    assert Lead.select().where(Lead.state == "in_progress").count() == 12
    assert {o.attempt_id for o in Operator.select()} == {r.attempt_id for r in results.values()}


def test_nothing_callable_outside_the_pool_or_before_the_next_call_time(db):
    c, ops = setup_campaign(leads=2, operators=2)
    outsider = Operator.create(name="x", login="x1", sip_password="secret-123")
    assert store.claim(db, outsider.id, "pbx", "t", time.time(), None) is None
    db.execute_sql("UPDATE lead SET next_call_at = now() + interval '1 hour'")
    assert store.claim(db, ops[0].id, "pbx", "t", time.time(), None) is None
    Campaign.update(active=False).execute()
    db.execute_sql("UPDATE lead SET next_call_at = now() - interval '1 hour'")
    assert store.claim(db, ops[0].id, "pbx", "t", time.time(), None) is None


def end(attempt_id, outcome, cause, placed=True):
    if placed:
        store.record(Attempt._meta.database, attempt_id, "dial_started_at", time.time())
    return ev.EndAttempt(attempt_id, outcome, AttemptFacts(cause=cause), time.time())


def test_an_ended_attempt_reschedules_or_exhausts_its_lead_and_frees_the_operator(db):
    c, [op] = setup_campaign(leads=1, operators=1, max_attempts=2, retry_delay_s=60)
    first = store.claim(db, op.id, "pbx", "t", time.time(), None)
    store.end_attempt(db, end(first.attempt_id, "BUSY", 17))
    lead = Lead.get()
    assert (lead.state, lead.attempts, lead.last_outcome) == ("callable", 1, "BUSY")
    assert Operator.get().attempt_id is None
    assert store.claim(db, op.id, "pbx", "t", time.time(), None) is None  # the retry delay holds it back
    db.execute_sql("UPDATE lead SET next_call_at = now() - interval '1 second'")
    second = store.claim(db, op.id, "pbx", "t", time.time(), None)
    store.end_attempt(db, end(second.attempt_id, "NO_ANSWER", 19))
    store.end_attempt(db, end(second.attempt_id, "ERROR", 34))  # a second end changes nothing
    assert Lead.get().state == "exhausted"
    assert Attempt.get_by_id(second.attempt_id).outcome == "NO_ANSWER"


def test_answered_lead_waits_for_the_wrap_up_which_closes_or_postpones_it(db):
    c, [op] = setup_campaign(leads=1, operators=1)
    a = store.claim(db, op.id, "pbx", "t", time.time(), None)
    store.end_attempt(db, end(a.attempt_id, "ANSWERED", 16))
    assert Lead.get().state == "in_progress" and Operator.get().attempt_id == a.attempt_id
    store.finish_wrap_up(db, op.id, ev.FinishWrapUp(a.attempt_id, "callback", "", 60, time.time()))
    lead = Lead.get()
    assert lead.state == "callable" and Operator.get().attempt_id is None
    assert 3500 < (lead.next_call_at - lead.last_attempt_at).total_seconds() < 3700


def test_a_call_asterisk_refused_to_place_does_not_use_up_the_lead(db):
    c, [op] = setup_campaign(leads=1, operators=1, max_attempts=1, retry_delay_s=3600)
    a = store.claim(db, op.id, "pbx", "t", time.time(), None)
    store.end_attempt(db, ev.EndAttempt(a.attempt_id, "ERROR", AttemptFacts(failure="ARI → 503"), time.time(),
                                        error="ARI → 503"))
    lead = Lead.get()
    assert (lead.state, lead.attempts, lead.attempts_today) == ("callable", 0, 0)  # the day's count too
    assert Attempt.get_by_id(a.attempt_id).error == "ARI → 503"  # the attempt itself stays on record
    assert store.claim(db, op.id, "pbx", "t", time.time(), None) is not None
