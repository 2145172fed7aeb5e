"""Results back to the CRM: written with the wrap-up, delivered exactly once in effect, in order per
order, nothing lost across a 10-minute outage (simulated time)."""
from __future__ import annotations

from collections import Counter, defaultdict

import pytest

from dialer.crm import outbox, store, sync
from dialer.dev.fake_leadvertex import fill
from dialer.db import run

from .crm_support import (T0, adapters, claim_answered, fake, leads_of, lv_connection,  # noqa: F401 (fixtures)
                          map_statuses, operator_for, quick_adapters, step, wrap_up)

pytestmark = pytest.mark.asyncio(loop_scope="session")  # the fake CRM runs on the fixtures' loop



async def _connected(db, fake, adapters, orders):
    fill(fake.shops["shop-a"], orders, "1")
    conn = await run(db, store.connection, db, (await run(db, lv_connection, db, fake.port))["id"])
    await sync.pull(db, conn["id"], adapters(conn), T0)  # statuses appear, unmapped: nothing imported yet
    await run(db, map_statuses, db, conn["id"])
    result = await sync.pull(db, conn["id"], adapters(conn), T0)
    assert result["imported"] == orders
    return conn


def _outbox(db):
    return db.execute_sql("SELECT attempt_id, state, tries, external_id, idempotency_key, status_id, comment"
                          " FROM crm_outbox ORDER BY id").fetchall()


async def test_the_outbox_row_commits_with_the_wrap_up(db, fake, adapters):
    conn = await _connected(db, fake, adapters, 2)
    op = await run(db, operator_for, conn["campaign_id"], "ob1")
    attempt = await run(db, claim_answered, db, op, step(T0, 1))
    await run(db, wrap_up, db, op, attempt.id, "accepted", step(T0, 30), None, "клиент согласен")
    await run(db, wrap_up, db, op, attempt.id, "refused", step(T0, 31))  # a repeated submission: no new row
    rows = await run(db, _outbox, db)
    assert [(r[0], r[1], r[3]) for r in rows] == [(attempt.id, "pending", attempt.lead.external_id)]
    second = await run(db, claim_answered, db, op, step(T0, 40))

    def wrap_up_then_fail():
        with db.atomic():
            db.execute_sql("UPDATE attempt SET wrap_up_at = now(), wrap_up_result = 'accepted' WHERE id = %s",
                           (second.id,))
            raise RuntimeError("the engine's transaction fails after the wrap-up")

    with pytest.raises(RuntimeError):  # a wrap-up rolled back takes its outbox row with it
        await run(db, wrap_up_then_fail)
    assert len(await run(db, _outbox, db)) == 1
    assert (await run(db, outbox.delivery_state, db, attempt.id))["state"] == "pending"
    assert (await run(db, outbox.delivery_state, db, 10**9))["state"] == "none"


async def test_delivery_writes_status_comment_and_key(db, fake, adapters):
    conn = await _connected(db, fake, adapters, 1)
    op = await run(db, operator_for, conn["campaign_id"], "ob2")
    attempt = await run(db, claim_answered, db, op, step(T0, 1))
    await run(db, wrap_up, db, op, attempt.id, "callback", step(T0, 30), 60, "после обеда")
    assert await outbox.deliver_due(db, adapters, step(T0, 31)) == {"delivered": 1, "retry": 0}
    order = fake.shops["shop-a"].orders["1"]
    state = await run(db, outbox.delivery_state, db, attempt.id)
    assert state["state"] == "delivered"
    assert order["status"] == "2" and order["comment"] == "Перезвонить: после обеда"
    assert order["additional25"].startswith(f"dialer-{attempt.id}-")
    # our own status change does not come back as a CRM change on the next pull
    lead_before = (await run(db, leads_of, conn["id"]))["1"]
    await sync.pull(db, conn["id"], adapters(conn), step(T0, 60))
    lead_after = (await run(db, leads_of, conn["id"]))["1"]
    assert lead_after.next_call_at == lead_before.next_call_at and lead_after.state == "callable"


async def test_an_order_being_edited_is_written_later(db, fake, adapters):
    conn = await _connected(db, fake, adapters, 1)
    op = await run(db, operator_for, conn["campaign_id"], "ob3")
    attempt = await run(db, claim_answered, db, op, step(T0, 1))
    await run(db, wrap_up, db, op, attempt.id, "accepted", step(T0, 30))
    fake.shops["shop-a"].used.add("1")
    await outbox.deliver_due(db, adapters, step(T0, 31))
    assert fake.shops["shop-a"].writes == []
    state = await run(db, outbox.delivery_state, db, attempt.id)
    assert state["state"] == "pending" and "edited" in state["last_error"]
    fake.shops["shop-a"].used.clear()
    await outbox.deliver_due(db, adapters, step(T0, 31 + outbox.BUSY_RETRY_S))
    assert len(fake.shops["shop-a"].writes) == 1


async def test_a_ten_minute_outage_loses_and_duplicates_nothing(db, fake, adapters):
    """Two operators call 12 orders while the CRM is down for 10 simulated minutes in every way the
    fake can fail, and some answers are lost after the write landed."""
    conn = await _connected(db, fake, adapters, 12)
    ops = [await run(db, operator_for, conn["campaign_id"], f"out{i}") for i in (1, 2)]
    fake.faults.timeout_s = 1.0
    faults = ["5xx", "reset", "non_json", "timeout", "error"]
    results = ["callback", "callback", "accepted", "refused"]
    wrapped: list[tuple[str, int]] = []
    now, n = T0, 0
    outage_start, outage_end = step(T0, 120), step(T0, 720)
    while now < step(T0, 1500):
        down = outage_start <= now < outage_end
        fake.faults.down = faults[int((now - T0).total_seconds() // 60) % len(faults)] if down else ""
        if now in (step(T0, 60), outage_end):  # answers lost before the outage and in its backlog
            fake.faults.lose_answers = 3
        for op in ops:
            attempt = await run(db, claim_answered, db, op, now)
            if attempt is not None and now < step(T0, 1200):
                result = results[n % len(results)]
                n += 1
                await run(db, wrap_up, db, op, attempt.id, result, step(now, 5), 1 if result == "callback" else None)
                wrapped.append((attempt.lead.external_id, attempt.id))
        await outbox.deliver_due(db, adapters, now)
        now = step(now, 10)
    for _ in range(200):  # drain: whatever is still due after the last backoff
        if not any(r[1] == "pending" for r in await run(db, _outbox, db)):
            break
        now = step(now, 60)
        await outbox.deliver_due(db, adapters, now)
    rows = await run(db, _outbox, db)
    writes = fake.shops["shop-a"].writes
    keys = Counter(w["additional25"] for w in writes)
    assert len(wrapped) >= 20 and len(rows) == len(wrapped)
    assert all(r[1] == "delivered" for r in rows), [r for r in rows if r[1] != "delivered"]
    assert set(keys) == {r[4] for r in rows}  # nothing lost
    assert max(keys.values()) == 1  # nothing written twice
    assert any(r[2] > 0 for r in rows)  # the outage was felt
    assert fake.faults.lose_answers == 0  # every lost answer happened; the re-check found those writes
    key_attempt = {r[4]: r[0] for r in rows}
    per_order = defaultdict(list)
    for w in writes:
        per_order[w["id"]].append(key_attempt[w["additional25"]])
    expected = defaultdict(list)
    for ext, attempt_id in wrapped:
        expected[ext].append(attempt_id)
    assert dict(per_order) == dict(expected)  # in order per order
    assert (await run(db, store.connection, db, conn["id"]))["unreachable_since"] is None


async def test_the_registered_job_delivers_on_notify_without_waiting_for_its_poll(db, fake, settings):
    """The trigger's NOTIFY wakes the delivery job: with an hour-long poll the result still arrives."""
    from dataclasses import replace

    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from dialer.crm.jobs import register
    from dialer.dev.testing import until
    adapters = quick_adapters()
    conn = await _connected(db, fake, adapters, 1)
    op = await run(db, operator_for, conn["campaign_id"], "ob4")
    attempt = await run(db, claim_answered, db, op, step(T0, 1))
    scheduler = AsyncIOScheduler(timezone="UTC")
    register(scheduler, replace(settings, crm_outbox_poll_s=3600), db, adapters)
    scheduler.remove_job("crm-pull")  # the simulated clock of this test is not the jobs' clock
    scheduler.start()
    try:
        import asyncio
        await asyncio.sleep(0.5)  # the listener connects
        await run(db, wrap_up, db, op, attempt.id, "accepted", step(T0, 30))
        await asyncio.to_thread(until, lambda: fake.shops["shop-a"].writes, 10, 0.05, "the result in the CRM")
    finally:
        scheduler.shutdown(wait=False)
        await adapters.close()
    assert fake.shops["shop-a"].writes[0]["status"] == "3"
