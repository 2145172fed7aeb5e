"""The engine killed between two of an operator's writes (the status is written after the work it follows):
started again on the rows it left, the operator works again and the status row says so. Before, an operator
left "wrap_up" with nothing to wrap up (the wrap-up committed, the Ready after it not) never claimed again and
could not submit a wrap-up either: the chaos test's intermittent freeze."""
from __future__ import annotations

import asyncio
import time

import pytest

from ari_app import events as ev
from ari_app import operator as om
from ari_app import store
from ari_app.classifier import AttemptFacts
from dialer.db import run
from dialer.dev.testing import until
from dialer.models import Attempt, Campaign, Lead, Operator, OperatorCampaign

from .engine_support import engine_actor

LEG = "op-restore-1"


def wrapped_up_then_killed(db, auto_ready: bool, claimed_next: bool):
    """An answered call, ended and wrapped up (as the actor writes them); the engine dies before the status
    write that follows — and, with `claimed_next`, after the next lead's claim committed (never dialled)."""
    c = Campaign.create(name="c", max_attempts=3, retry_delay_s=3600, wrap_up_limit_s=5, auto_ready=auto_ready)
    Lead.insert_many([{"campaign": c.id, "external_id": str(i), "phone": f"+7900300{i:04d}"} for i in range(3)]).execute()
    op = Operator.create(name="o", login="o1", sip_password="secret-123", status="wrap_up", leg_channel=LEG)
    OperatorCampaign.create(operator=op.id, campaign=c.id)
    a = store.claim(db, op.id, "pbx", "t", time.time(), None)
    for field in ("dial_started_at", "answered_at", "bridged_at"):
        store.record(db, a.attempt_id, field, time.time())
    now = time.time()
    store.end_attempt(db, ev.EndAttempt(a.attempt_id, "ANSWERED", AttemptFacts(cause=16, answered=True, bridged=True),
                                        now))
    store.finish_wrap_up(db, op.id, ev.FinishWrapUp(a.attempt_id, "wrap_up_timeout", "", None, now + 1))
    nxt = store.claim(db, op.id, "pbx", "t", now + 2, None) if claimed_next else None
    assert Operator.get_by_id(op.id).status == "wrap_up"  # the Ready that followed was never written
    return op.id, a.attempt_id, nxt


@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")  # the engine's ARI client, unused
@pytest.mark.parametrize("auto_ready,claimed_next,status", [
    (True, False, "ready"),
    (False, False, "paused"),  # the campaign wants «Готов» pressed after each call
    (True, True, "ready"),
])
async def test_a_status_left_one_write_behind_by_a_kill_is_corrected_and_the_operator_claims_again(
        settings, db, auto_ready, claimed_next, status):
    op, first, nxt = await run(db, wrapped_up_then_killed, db, auto_ready, claimed_next)
    async with engine_actor(settings, db, op) as actor:
        # the reconcile: the operator's line is up in its bridge; the never-dialled client's channel is not
        actor.post(ev.Resync(frozenset({LEG}), frozenset({LEG}), at=time.time()))
        await asyncio.to_thread(until, lambda: Operator.get_by_id(op).status == status, 10, 0.05,
                                f"the status row to say {status}")
        if status == "ready":  # working again: a new lead reserved for them
            later = lambda: Attempt.select().where(Attempt.operator == op, Attempt.id > (nxt.attempt_id if nxt else first),
                                                   Attempt.ended_at.is_null()).exists()
            await asyncio.to_thread(until, later, 10, 0.05, "the next lead to be claimed")
        else:
            await asyncio.sleep(0.3)  # nothing may be claimed for a paused operator (checked below)
            assert not Attempt.select().where(Attempt.operator == op, Attempt.id > first).exists()
        if nxt:  # the reservation nobody dialled is closed, never left holding its lead
            closed = Attempt.get_by_id(nxt.attempt_id)
            assert closed.ended_at is not None and closed.outcome == "ERROR"
