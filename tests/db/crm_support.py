"""Helpers of the CRM database tests: a fake LeadVertex on the test's loop, a mapped connection,
and a claim → answered → wrap-up cycle through the engine's own store functions."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import aiohttp
import pytest
from peewee import SQL

from ari_app import events as ev
from ari_app import store as engine_store
from dialer.crm import connections
from dialer.crm.adapters import Adapters
from dialer.dev.fake_leadvertex import FakeCrm, start
from dialer.crm.leadvertex import LeadVertex
from dialer.models import Attempt, Lead, Operator
from dialer.services import campaigns, operators
from rules.claim import next_lead

STATUS_ACTIONS = {"1": "call", "2": "postpone", "3": "final", "4": "final", "5": "hold", "9": "final"}
RESULTS = [{"result_code": "accepted", "status_id": "3", "comment_template": "{result_title}: {comment}"},
           {"result_code": "callback", "status_id": "2", "comment_template": "Перезвонить: {comment}"},
           {"result_code": "refused", "status_id": "4", "comment_template": "{result}"}]
T0 = datetime(2026, 11, 26, 9, 0, tzinfo=timezone.utc)


def lv_connection(db, port: int, shop: str = "shop-a", token: str | None = None, campaign_id=None,
                  name="LeadVertex A") -> dict:
    from dialer.dev.fake_leadvertex import sample_shops
    if campaign_id is None:
        campaign_id = campaigns.create_campaign(f"Кампания {name}")["id"]
    conn = connections.create_connection(db, {
        "kind": "leadvertex", "campaign_id": campaign_id, "name": name,
        "base_url": f"http://127.0.0.1:{port}/{shop}/api/admin",
        "token": token or sample_shops()[shop].token, "pull_interval_s": 30, "alert_after_s": 120})
    return conn


def map_statuses(db, conn_id: int, actions=STATUS_ACTIONS, results=RESULTS) -> None:
    connections.set_status_map(db, conn_id, [{"status_id": s, "action": a, "postpone_minutes": 30}
                                             for s, a in actions.items()])
    connections.set_result_map(db, conn_id, results)


def quick_adapters() -> Adapters:
    """Short timeouts: a test's simulated outage must not wait 15 s per call."""
    timeout = aiohttp.ClientTimeout(total=0.5)
    return Adapters(lambda c: LeadVertex(c["base_url"], c["token"], c["key_field"], timeout=timeout))


def leads_of(conn_id: int) -> dict[str, Lead]:
    return {lead.external_id: lead for lead in Lead.select().where(SQL("crm_connection_id = %s", [conn_id]))}


def operator_for(campaign_id: int, login: str) -> int:
    return operators.create_operator(f"Оператор {login}", login, f"secret-{login}-123", [campaign_id])["id"]


def claim_answered(db, operator_id: int, now: datetime) -> Attempt | None:
    """What the engine does up to "answered and hung up": the claim, the attempt, the lead in progress."""
    with db.atomic():
        choice = next_lead(db, operator_id, now)
        if choice is None:
            return None
        lead = Lead.get_by_id(choice.lead_id)
        attempt = Attempt.create(lead=lead.id, campaign=lead.campaign_id, operator=operator_id, phone=lead.phone,
                                 reserved_at=now, answered_at=now, ended_at=now, outcome="ANSWERED")
        Lead.update(state="in_progress", attempts=Lead.attempts + 1).where(Lead.id == lead.id).execute()
        Operator.update(attempt_id=attempt.id).where(Operator.id == operator_id).execute()
    return attempt


def wrap_up(db, operator_id: int, attempt_id: int, result: str, at: datetime, postpone_minutes=None,
            comment="ок") -> None:
    engine_store.finish_wrap_up(db, operator_id, ev.FinishWrapUp(attempt_id, result, comment, postpone_minutes,
                                                                at.timestamp()))


def step(t: datetime, seconds: float) -> datetime:
    return t + timedelta(seconds=seconds)


# fixtures of the modules that talk to the fake CRM (they import them by name)
@pytest.fixture
async def fake():
    crm = FakeCrm()
    runner, crm.port = await start(crm)
    yield crm
    await runner.cleanup()


@pytest.fixture
async def adapters():
    a = quick_adapters()
    yield a
    await a.close()
