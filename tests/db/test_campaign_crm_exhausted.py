"""C8 reaches the CRM: a lead whose attempts run out gets the campaign's final CRM status (or its selection's),
and the status goes to the CRM through the outbox — delivered to the fake LeadVertex like a wrap-up result.
The attempt is ended through the engine's own store function, with the retry delay of its outcome."""
from __future__ import annotations

from datetime import timedelta

import pytest

from ari_app import events as ev
from ari_app import store as engine_store
from ari_app.classifier import AttemptFacts
from dialer.crm import outbox, store, sync
from dialer.db import run
from dialer.dev.fake_leadvertex import fill
from dialer.models import Attempt, Lead
from dialer.services import campaigns
from rules.claim import next_lead

from .crm_support import T0, adapters, fake, lv_connection, map_statuses, operator_for, step  # noqa: F401

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _connected(db, fake, adapters, orders, **settings):
    fill(fake.shops["shop-a"], orders, "1")
    conn = await run(db, store.connection, db, (await run(db, lv_connection, db, fake.port))["id"])
    await sync.pull(db, conn["id"], adapters(conn), T0)
    await run(db, map_statuses, db, conn["id"])
    await sync.pull(db, conn["id"], adapters(conn), T0)
    await run(db, campaigns.update_campaign, conn["campaign_id"], **settings)
    return conn


def _dial_unanswered(db, operator_id, at, outcome="NO_ANSWER"):
    """What the engine does for a call nobody answers: claim, open the attempt, dial, end it."""
    with db.atomic():
        choice = next_lead(db, operator_id, at)
        lead = Lead.get_by_id(choice.lead_id)
        attempt = Attempt.create(lead=lead.id, campaign=lead.campaign_id, operator=operator_id, phone=lead.phone,
                                 reserved_at=at, dial_started_at=at, selection_id=choice.selection_id)
        Lead.update(attempts=Lead.attempts + 1).where(Lead.id == lead.id).execute()
    engine_store.end_attempt(db, ev.EndAttempt(attempt.id, outcome, AttemptFacts(cause=19), at.timestamp()))
    return lead.id, attempt.id


async def test_the_final_status_of_an_exhausted_lead_reaches_the_crm(db, fake, adapters):
    conn = await _connected(db, fake, adapters, 1, max_attempts=1, exhausted_status="9")
    op = await run(db, operator_for, conn["campaign_id"], "ex1")
    lead_id, attempt_id = await run(db, _dial_unanswered, db, op, step(T0, 1))
    lead = await run(db, Lead.get_by_id, lead_id)
    assert lead.state == "exhausted" and lead.crm_status == "9"
    assert await outbox.deliver_due(db, adapters, step(T0, 2)) == {"delivered": 1, "retry": 0}
    order = fake.shops["shop-a"].orders["1"]
    assert order["status"] == "9"
    assert order["additional25"].startswith(f"dialer-{attempt_id}-")
    assert (await run(db, outbox.delivery_state, db, attempt_id))["state"] == "delivered"


async def test_without_a_final_status_nothing_is_sent_and_the_retry_delay_is_the_outcomes(db, fake, adapters):
    conn = await _connected(db, fake, adapters, 1, max_attempts=3, retry_delay_s=3600,
                            retry_delays={"BUSY": 120})
    op = await run(db, operator_for, conn["campaign_id"], "ex2")
    lead_id, _ = await run(db, _dial_unanswered, db, op, step(T0, 1), "BUSY")
    lead = await run(db, Lead.get_by_id, lead_id)
    assert lead.state == "callable" and lead.next_call_at == step(T0, 1) + timedelta(seconds=120)
    assert await outbox.deliver_due(db, adapters, step(T0, 2)) == {"delivered": 0, "retry": 0}
    assert fake.shops["shop-a"].orders["1"]["status"] == "1"
