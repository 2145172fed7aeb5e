"""The operator panel's calls end to end: real pbx + sim Asterisk, real PostgreSQL, the engine in its own
process; requests go in through the panel's use cases, as the browser sends them."""
from __future__ import annotations

import pytest

from dialer.models import Alert, Attempt, Campaign, Lead, MissedOffer, Operator
from dialer.services import panel
from dialer.dev.testing import add_leads, make_operators, until

pytestmark = pytest.mark.e2e


def campaign(**kw):
    from dialer.services import campaigns

    values = dict(name="Подтверждение заказов", max_attempts=3, retry_delay_s=3600, ring_timeout_s=5,
                  wrap_up_limit_s=0)
    values.update({k: v for k, v in kw.items() if k in values})
    cid = campaigns.create_campaign(**values)["id"]
    extra = {k: v for k, v in kw.items() if k not in values}
    if extra:
        Campaign.update(**extra).where(Campaign.id == cid).execute()
    return cid


def operator(oid):
    return Operator.get_by_id(oid)


def current(oid):
    o = operator(oid)
    return Attempt.get_or_none(Attempt.id == o.attempt_id) if o.attempt_id else None


def leg_channels(settings):
    from dialer.dev import instances

    return instances.rx(settings, "pbx", "core show channels concise")


def test_without_auto_answer_the_offer_waits_for_answer_then_the_softphone_and_the_client_are_called(engine):
    cid = campaign(operator_answer_timeout_s=30)
    add_leads(cid, ["79000031001"])  # answers, talks 3 s
    [op] = make_operators(engine.settings, cid, 1)
    panel.set_auto_answer(op["id"], False)
    panel.set_status(op["id"], "ready")
    offered = until(lambda: (a := current(op["id"])) and a.offer_expires_at and a, 20, message="an offer")
    assert offered.dial_started_at is None
    assert f"op{op['id']}-" not in leg_channels(engine.settings)  # the softphone is not rung for an offer
    assert panel.state(op["id"])["call"]["phase"] == "offer"
    panel.answer(op["id"], offered.id)
    until(lambda: Attempt.get_by_id(offered.id).bridged_at is not None, 20, message="client bridged")
    a = Attempt.get_by_id(offered.id)
    assert a.offer_accepted_at <= a.operator_answered_at <= a.dial_started_at <= a.answered_at
    until(lambda: Attempt.get_by_id(offered.id).ended_at is not None, 20, message="the call to end")
    assert Attempt.get_by_id(offered.id).outcome == "ANSWERED"
    until(lambda: operator(op["id"]).status == "wrap_up", 5, message="wrap-up")


def test_offers_not_answered_in_time_are_missed_and_n_in_a_row_pause_the_operator_with_an_alert(engine):
    cid = campaign(operator_answer_timeout_s=3, missed_offers_limit=2)
    add_leads(cid, ["79000031002"])
    [op] = make_operators(engine.settings, cid, 1)
    panel.set_auto_answer(op["id"], False)
    panel.set_status(op["id"], "ready")
    until(lambda: MissedOffer.select().count() == 1, 15, message="the first missed offer")
    until(lambda: operator(op["id"]).missed_offers == 1, 5, message="the count of missed offers")
    until(lambda: operator(op["id"]).status == "paused", 15, message="the operator paused after two")
    assert MissedOffer.select().count() == 2
    [alert] = list(Alert.select())
    assert (alert.kind, alert.operator_id, alert.campaign_id) == ("operator_missed_offers", op["id"], cid)
    assert "2" in alert.text_ru and "паузу" in alert.text_ru and "paused" in alert.text_en
    # the client never heard of it: no attempt remains, the lead is callable and its attempts uncounted
    assert Attempt.select().count() == 0
    lead = Lead.get()
    assert (lead.state, lead.attempts) == ("callable", 0)
    assert operator(op["id"]).missed_offers == 0 and operator(op["id"]).attempt_id is None


def test_hang_up_ends_the_client_call_in_asterisk_and_leaves_the_operator_in_wrap_up(engine):
    cid = campaign()
    add_leads(cid, ["79000001003"])  # answers and would talk for an hour
    [op] = make_operators(engine.settings, cid, 1)
    panel.set_status(op["id"], "ready")
    until(lambda: (a := current(op["id"])) and a.bridged_at, 20, message="a bridged call")
    a = current(op["id"])
    assert a.client_channel in leg_channels(engine.settings)
    panel.hang_up(op["id"], a.id)
    until(lambda: Attempt.get_by_id(a.id).ended_at is not None, 10, message="the call to end")
    assert Attempt.get_by_id(a.id).outcome == "ANSWERED"
    until(lambda: operator(op["id"]).status == "wrap_up", 5, message="wrap-up")
    assert a.client_channel not in leg_channels(engine.settings)
    assert f"op{op['id']}-" in leg_channels(engine.settings)  # the operator's line stays up for the next call


def test_manual_dial_by_order_id_from_pause_goes_operator_leg_first_and_back_to_pause(engine):
    cid = campaign(wrap_up_limit_s=1)
    add_leads(cid, ["79000031004"])  # imported as order L79000031004
    [op] = make_operators(engine.settings, cid, 1)
    panel.set_status(op["id"], "pause")
    until(lambda: operator(op["id"]).status == "paused", 10, message="paused")
    out = panel.manual_dial(op["id"], order_id="L79000031004")
    until(lambda: Attempt.select().where(Attempt.ended_at.is_null(False)).count() == 1, 30, message="the call")
    a = Attempt.get()
    assert a.manual and a.lead_id == out["lead_id"] and a.operator_id == op["id"]
    assert (a.outcome, a.hangup_cause) == ("ANSWERED", 16)
    assert a.operator_answered_at <= a.dial_started_at <= a.answered_at <= a.bridged_at
    until(lambda: Attempt.get_by_id(a.id).wrap_up_at is not None, 10, message="wrap-up time limit")
    until(lambda: operator(op["id"]).status == "paused", 10, message="back to pause")


def test_manual_dial_by_a_new_number_makes_a_lead_and_classifies_the_outcome(engine):
    cid = campaign()
    [op] = make_operators(engine.settings, cid, 1)
    panel.set_status(op["id"], "pause")
    until(lambda: operator(op["id"]).status == "paused", 10, message="paused")
    out = panel.manual_dial(op["id"], phone="8 (900) 100-10-05")  # busy
    assert out["phone"] == "+79001001005" and out["order_id"] == "manual:+79001001005"
    until(lambda: Attempt.select().where(Attempt.ended_at.is_null(False)).count() == 1, 30, message="the call")
    a = Attempt.get()
    assert (a.outcome, a.manual, a.phone) == ("BUSY", True, "+79001001005")
    until(lambda: operator(op["id"]).leg_channel is None, 10, message="the softphone released in pause")
    assert operator(op["id"]).status == "paused"
