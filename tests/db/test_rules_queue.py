"""The claim queue on a real PostgreSQL: it orders, the rule decides; stale, old or missing queues are not used."""
import threading
import time
from datetime import datetime, timedelta, timezone

from ari_app import events as ev
from ari_app import store
from ari_app.classifier import AttemptFacts
from dialer.models import Attempt, Campaign, ClaimQueue, Lead, Operator, OperatorCampaign
from rules import claim, dnc, queue, selections

BIG = {"conditions": [[{"field": "amount", "op": "ge", "value": 500}]], "order": "priority"}


def campaign(leads=20, operators=1, rules=(BIG,)):
    """Leads 1..n: amount 100·i (so 5.. match BIG), priority n-i (lower ids first by priority)."""
    c = Campaign.create(name="q", retry_delay_s=3600)
    Lead.insert_many([{"campaign": c.id, "external_id": str(i), "phone": f"+7900100{i:04d}", "amount": 100 * i,
                       "priority": leads - i, "next_call_at": datetime.now(timezone.utc) - timedelta(minutes=5)}
                      for i in range(1, leads + 1)]).execute()
    sel = [selections.create_selection(c.id, f"s{k}", r) for k, r in enumerate(rules)]
    ops = [Operator.create(name=f"o{i}", login=f"q{i}", sip_password="secret-123") for i in range(operators)]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": c.id} for o in ops]).execute()
    return c, sel, ops


def amounts_claimed(db, op, n):
    """n claims by the operator, each attempt ended unanswered (the lead waits for its retry)."""
    got = []
    for _ in range(n):
        c = store.claim(db, op.id, "pbx", "t", time.time(), None)
        got.append(None if c is None else int(Lead.get_by_id(Attempt.get_by_id(c.attempt_id).lead_id).amount))
        if c is not None:
            store.record(db, c.attempt_id, "dial_started_at", time.time())
            store.end_attempt(db, ev.EndAttempt(c.attempt_id, "NO_ANSWER", AttemptFacts(cause=19), time.time()))
    return got


def queued(selection_id):
    return [q.lead_id for q in ClaimQueue.select().where(ClaimQueue.selection_id == selection_id)
            .order_by(ClaimQueue.rank)]


def test_a_fill_queues_the_selections_leads_in_its_order_and_claims_take_them_in_that_order(db):
    c, [s], [op] = campaign()
    assert queue.fill(db, s["id"], c.id, s["version"], db.execute_sql(
        "SELECT rule::text FROM selection WHERE id = %s", (s["id"],)).fetchone()[0]) == 16
    assert [int(Lead.get_by_id(i).amount) for i in queued(s["id"])] == [100 * i for i in range(5, 21)]
    assert amounts_claimed(db, op, 3) == [500, 600, 700]
    assert len(queued(s["id"])) == 13  # a claimed lead leaves the queue in the statement opening its attempt


def test_the_job_fills_missing_stale_half_taken_queues_and_drops_the_queues_of_changed_selections(db):
    c, [s, rest], [op] = campaign(rules=(BIG, {}))
    first = queue.refill(db, size=4)
    assert (first.filled, first.leads) == (2, 8)
    assert queue.refill(db, size=4).filled == 0  # fresh and full: nothing to do
    amounts_claimed(db, op, 3)  # 3 of the 4 queued for BIG
    assert queue.refill(db, size=4).filled == 1
    assert len(queued(s["id"])) == 4
    later = datetime.now(timezone.utc) + queue.REFRESH + timedelta(seconds=1)
    assert queue.refill(db, now=later, size=4).filled == 2  # older than REFRESH: both again
    selections.update_selection(rest["id"], enabled=False)
    queue.refill(db, size=4)
    assert queued(rest["id"]) == []
    assert db.execute_sql("SELECT count(*) FROM claim_queue_fill WHERE selection_id = %s", (rest["id"],)).fetchone()[0] == 0


def test_a_queued_lead_that_no_longer_passes_the_rule_is_not_called(db):
    c, [s], [op] = campaign()
    queue.refill(db)
    first, second, third = queued(s["id"])[:3]
    dnc.add(Lead.get_by_id(first).phone, source="supervisor")  # listed after the fill
    Lead.update(amount=10).where(Lead.id == second).execute()  # no longer matches
    assert amounts_claimed(db, op, 1) == [int(Lead.get_by_id(third).amount)]


def test_a_saved_rule_is_used_by_the_next_claim_even_with_a_queue_of_the_old_one(db):
    c, [s], [op] = campaign()
    queue.refill(db)
    selections.update_selection(s["id"], rule={"conditions": [[{"field": "amount", "op": "le", "value": 300}]],
                                               "order": "priority"})
    assert amounts_claimed(db, op, 4) == [100, 200, 300, None]


def test_a_complete_queue_taken_to_the_end_means_nothing_until_the_next_fill(db):
    c, [s], [op] = campaign(leads=8)  # 4 leads match BIG
    queue.refill(db, size=10)  # all 4 fit: the queue is complete
    Lead.update(amount=5000).where(Lead.amount == 100).execute()  # matches from now on, first by priority
    assert amounts_claimed(db, op, 5) == [500, 600, 700, 800, None]  # not queued: waits for the next fill
    queue.refill(db, now=datetime.now(timezone.utc) + queue.REFRESH + timedelta(seconds=1))
    assert amounts_claimed(db, op, 1) == [5000]


def test_a_queue_cut_at_its_size_and_taken_to_the_end_sends_the_claim_walking(db):
    c, [s], [op] = campaign(leads=8)  # 4 leads match BIG
    queue.refill(db, size=2)
    assert amounts_claimed(db, op, 5) == [500, 600, 700, 800, None]  # the last two by the direct walk


def test_a_complete_but_empty_queue_passes_to_the_next_selection_without_walking(db):
    c, [s, rest], [op] = campaign(leads=8, rules=(BIG, {"order": "priority"}))
    Lead.update(amount=1).execute()  # BIG matches nothing
    queue.refill(db)
    assert queued(s["id"]) == [] and len(queued(rest["id"])) == 8
    assert amounts_claimed(db, op, 1) == [1]


def test_new_leads_make_the_campaigns_queues_untrusted_until_the_next_fill(db):
    c, [s], [op] = campaign(leads=4)  # nothing matches BIG
    queue.refill(db)
    assert queued(s["id"]) == []
    Lead.insert(campaign=c.id, external_id="new", phone="+79001009999", amount=5000, priority=0).execute()
    assert db.execute_sql("SELECT count(*) FROM claim_queue_fill").fetchone()[0] == 0
    assert amounts_claimed(db, op, 1) == [5000]  # found at once by the direct walk


def test_a_queue_the_job_stopped_filling_is_not_used(db):
    c, [s], [op] = campaign()
    long_ago = datetime.now(timezone.utc) - queue.TRUSTED - timedelta(seconds=1)
    queue.refill(db, now=long_ago)
    Lead.update(amount=1).where(Lead.id.in_(queued(s["id"])[:2])).execute()
    Lead.update(amount=10_000).where(Lead.amount == 100).execute()  # now first by priority, not queued
    assert amounts_claimed(db, op, 1) == [10_000]


def test_concurrent_claimers_with_the_queue_never_share_a_lead(db):
    c, [s], ops = campaign(leads=60, operators=12, rules=({"order": "priority"},))
    queue.refill(db, size=20)
    barrier = threading.Barrier(len(ops), timeout=20)
    got = []

    def claimer(op):
        with db.connection_context():
            barrier.wait()
            for _ in range(4):
                r = store.claim(db, op.id, "pbx", "t", time.time(), None)
                got.append(Attempt.get_by_id(r.attempt_id).lead_id)
                store.record(db, r.attempt_id, "dial_started_at", time.time())
                store.end_attempt(db, ev.EndAttempt(r.attempt_id, "NO_ANSWER", AttemptFacts(cause=19), time.time()))

    threads = [threading.Thread(target=claimer, args=(o,)) for o in ops]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(got) == 48 and len(set(got)) == 48


def test_the_fill_statement_leaves_other_operators_callbacks_to_them_until_the_grace_ends(db):
    c, [s], [op] = campaign(leads=6, rules=({"order": "priority"},))
    other = Operator.create(name="other", login="q-other", sip_password="secret-123")
    now = datetime.now(timezone.utc)
    Lead.update(assigned_operator_id=other.id, callback=True, next_call_at=now - timedelta(minutes=1)).where(
        Lead.external_id == "6").execute()
    queue.refill(db)
    assert Lead.get(Lead.external_id == "6").id not in queued(s["id"])
    Lead.update(next_call_at=now - claim.BOUND_GRACE - timedelta(minutes=1)).where(Lead.external_id == "6").execute()
    queue.refill(db, now=now + queue.REFRESH + timedelta(seconds=1))
    assert queued(s["id"])[0] == Lead.get(Lead.external_id == "6").id  # a due callback first, for anyone now
