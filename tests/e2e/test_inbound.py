"""Clients who call back (SPEC A1) end to end: the sim's client calls pbx from their number; the engine's router
rings the operator who talked to them last, or the configured pool for unknown numbers, or holds them and then
plays a message and schedules a callback. Real pbx + sim, the engine in its own process."""
from __future__ import annotations

import base64
import json
import urllib.parse
import urllib.request
from datetime import datetime, timezone

import pytest

from dialer.dev.testing import command_all, make_operators, until
from dialer.models import Attempt, Lead, Operator
from dialer.services import campaigns

pytestmark = pytest.mark.e2e
CLIENT = "79000031001"


def campaign(name: str) -> int:
    return campaigns.create_campaign(name=name, max_attempts=1, retry_delay_s=3600, ring_timeout_s=5,
                                     wrap_up_limit_s=1)["id"]


def past_call(cid: int, operator_id: int, phone: str = CLIENT) -> int:
    """A lead whose last answered call was with this operator (played by the test: the call is history)."""
    db = Attempt._meta.database
    lead = Lead.create(campaign=cid, external_id=f"L{phone}", phone=f"+{phone}", name="Клиент Перезвонил",
                       state="done", last_attempt_at=datetime.now(timezone.utc))
    db.execute_sql("INSERT INTO attempt (lead_id, campaign_id, operator_id, phone, reserved_at, answered_at, bridged_at,"
                   " ended_at, outcome, wrap_up_at) VALUES (%s, %s, %s, %s, now(), now(), now(), now(), 'ANSWERED', now())",
                   (lead.id, cid, operator_id, f"+{phone}"))
    return lead.id


def call_pbx_from(settings, caller_number: str) -> str:
    """The sim's client dials our number with their own number as caller ID (the sim's ARI)."""
    query = urllib.parse.urlencode({"endpoint": "PJSIP/74950001111@pbx", "extension": "talk",
                                    "context": "client-callback", "priority": 1, "callerId": caller_number})
    req = urllib.request.Request(f"http://127.0.0.1:{settings.sim_http_port}/ari/channels?{query}", method="POST")
    req.add_header("Authorization", "Basic " + base64.b64encode(f"dialer:{settings.ari_password}".encode()).decode())
    with urllib.request.urlopen(req, timeout=5) as resp:
        return json.loads(resp.read())["id"]


def inbound_attempt():
    return Attempt.select().where(Attempt.id > 1).order_by(Attempt.id.desc()).first()


def direction(attempt_id: int) -> str:
    return Attempt._meta.database.execute_sql("SELECT direction FROM attempt WHERE id = %s", (attempt_id,)).fetchone()[0]


def ready_and_idle(ops) -> None:
    command_all([o["id"] for o in ops], "ready")
    until(lambda: Operator.select().where(Operator.id.in_([o["id"] for o in ops]), Operator.status == "ready",
                                          Operator.leg_channel.is_null(False)).count() == len(ops), 30,
          message="operators Ready with their lines up")


def test_a_client_calling_back_reaches_the_operator_who_talked_to_them_last_and_their_panel_shows_the_lead(engine):
    from dialer.dev import instances
    from dialer.services import panel
    cid = campaign("Обратные звонки")
    first, last = make_operators(engine.settings, cid, 2)
    lead_id = past_call(cid, last["id"])
    ready_and_idle([first, last])  # the other operator has been free longer: the last one still gets the call
    call_pbx_from(engine.settings, CLIENT)
    until(lambda: (a := inbound_attempt()) is not None and a.bridged_at is not None, 20, message="the call bridged")
    a = inbound_attempt()
    assert (a.lead_id, a.operator_id, direction(a.id)) == (lead_id, last["id"], "inbound")
    card = until(lambda: panel.state(last["id"])["call"], 5, message="the panel's call card")
    assert card["attempt_id"] == a.id and "Клиент Перезвонил" in json.dumps(card, ensure_ascii=False, default=str)
    assert card["direction"] == "inbound" and card["calling_back"]["known"]  # the panel's «Клиент перезванивает»
    assert card["calling_back"]["last"]["outcome"] == "ANSWERED"
    instances.rx(engine.settings, "sim", "channel request hangup all")
    until(lambda: Attempt.get_by_id(a.id).ended_at is not None, 15, message="the call to end")
    assert Attempt.get_by_id(a.id).outcome == "ANSWERED"


@pytest.fixture
def unknown_pool(monkeypatch):
    monkeypatch.setenv("DIALER_INBOUND_UNKNOWN_CAMPAIGN", "2")  # the second campaign the test creates


def test_an_unknown_number_goes_to_the_configured_pool(unknown_pool, engine):
    orders = campaign("Заказы")
    callers = campaign("Входящие с неизвестных номеров")
    [outsider] = make_operators(engine.settings, orders, 1, prefix="ord")
    [desk] = make_operators(engine.settings, callers, 1, prefix="desk")
    ready_and_idle([outsider, desk])
    call_pbx_from(engine.settings, "79000031777")
    until(lambda: (a := Attempt.select().first()) is not None and a.bridged_at is not None, 20,
          message="the unknown caller bridged")
    a = Attempt.select().first()
    assert (a.operator_id, a.campaign_id, a.phone) == (desk["id"], callers, "+79000031777")


@pytest.fixture
def short_hold(monkeypatch):
    monkeypatch.setenv("DIALER_INBOUND_HOLD_S", "2")


def test_nobody_ready_holds_the_client_then_a_message_and_a_callback_to_the_last_operator(short_hold, engine):
    cid = campaign("Обратные звонки")
    [op] = make_operators(engine.settings, cid, 1)  # never Ready
    lead_id = past_call(cid, op["id"])
    call_pbx_from(engine.settings, CLIENT)
    until(lambda: (a := inbound_attempt()) is not None and a.ended_at is not None, 20, message="the wait to end")
    a = inbound_attempt()
    assert (a.outcome, a.operator_id, direction(a.id)) == ("LOST", None, "inbound")
    assert (a.ended_at - a.answered_at).total_seconds() >= 2  # held for the whole wait
    lead = Lead.get_by_id(lead_id)
    assert (lead.state, lead.callback, lead.assigned_operator_id) == ("callable", True, op["id"])


def test_a_taken_inbound_call_is_followed_after_an_engine_restart_to_its_end_and_the_wrap_up(engine):
    """The engine is killed while an operator talks to a client who called; the new engine re-adopts the call (it is
    not released as a caller left waiting), and the client's hang-up still ends it ANSWERED with the operator in
    wrap-up."""
    from dialer.dev import instances
    cid = campaigns.create_campaign(name="Обратные звонки", max_attempts=1, retry_delay_s=3600, ring_timeout_s=5,
                                    wrap_up_limit_s=0)["id"]  # no limit: the wrap-up waits for the operator
    [op] = make_operators(engine.settings, cid, 1)
    past_call(cid, op["id"])
    ready_and_idle([op])
    client = call_pbx_from(engine.settings, CLIENT)
    until(lambda: (a := inbound_attempt()) is not None and a.bridged_at is not None, 20, message="the call bridged")
    a = inbound_attempt()
    engine.kill()
    engine.restart()  # returns once the new engine has reconciled pbx
    assert Attempt.get_by_id(a.id).ended_at is None  # re-adopted, not released
    instances.rx(engine.settings, "sim", f"channel request hangup {client}")
    until(lambda: Attempt.get_by_id(a.id).ended_at is not None, 15, message="the call's end recorded")
    ended = Attempt.get_by_id(a.id)
    assert (ended.outcome, ended.operator_id, direction(a.id)) == ("ANSWERED", op["id"], "inbound"), ended.error
    until(lambda: Operator.get_by_id(op["id"]).status == "wrap_up", 10, message="the operator in wrap-up")
    assert Operator.get_by_id(op["id"]).attempt_id == a.id
