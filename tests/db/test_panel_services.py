"""The operator panel's use cases and the engine's offer bookkeeping on a real PostgreSQL."""
import time

import pytest

from ari_app import events as ev
from ari_app import offer_store, store
from ari_app.classifier import AttemptFacts
from dialer.errors import Conflict, Invalid, NotFound
from dialer.models import (Alert, Attempt, Campaign, CampaignResult, EngineCommand, Lead, MissedOffer, Operator,
                           OperatorCampaign)
from dialer.services import panel


def setup(operators=2, **kw):
    c = Campaign.create(name="Подтверждение", order_url_template="https://crm.example/orders/{external_id}", **kw)
    Lead.insert_many([{"campaign": c.id, "external_id": f"A-{i}", "phone": f"+7900000{i:04d}", "name": f"Клиент {i}"}
                      for i in range(3)]).execute()
    ops = [Operator.create(name=f"Оператор {i}", login=f"o{i}", sip_password="secret-123", status="paused")
           for i in range(operators)]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": c.id} for o in ops]).execute()
    return c, ops


def claim(db, op):
    return store.claim(db, op.id, "pbx", "t", time.time(), None)


def answered_call(db, op, at=None, lead_id=None):
    """A claimed (or manually dialled), answered and ended call: the operator is in wrap-up with it."""
    at = at or time.time()
    lead = (offer_store.open_manual_attempt(db, op.id, "pbx", "t", at, lead_id) if lead_id else claim(db, op))
    for field in ("dial_started_at", "answered_at", "bridged_at"):
        store.record(db, lead.attempt_id, field, at)
    store.end_attempt(db, ev.EndAttempt(lead.attempt_id, "ANSWERED", AttemptFacts(answered=True, bridged=True, cause=16),
                                        at + 1))
    Operator.update(status="wrap_up").where(Operator.id == op.id).execute()
    return lead.attempt_id


# ---- the card -------------------------------------------------------------------------------------------
def test_the_card_shows_client_campaign_order_crm_link_and_every_earlier_attempt(db):
    c, (op, other) = setup()
    first = answered_call(db, op, at=time.time() - 100)
    store.finish_wrap_up(db, op.id, ev.FinishWrapUp(first, "callback", "перезвонить вечером", 1, time.time() - 90))
    second = answered_call(db, other, lead_id=Attempt.get_by_id(first).lead_id)  # the same client, manually
    lead = Attempt.get_by_id(second).lead
    assert lead.id == Attempt.get_by_id(first).lead_id
    card = panel.call_card(other.id, second)
    assert (card["client_name"], card["order_id"], card["campaign"]["name"]) == (lead.name, lead.external_id,
                                                                              "Подтверждение")
    assert card["order_url"] == f"https://crm.example/orders/{lead.external_id}"
    assert card["phase"] == "wrap_up"
    [h] = card["history"]
    assert (h["attempt_id"], h["outcome"], h["outcome_ru"], h["operator"], h["comment"]) == (
        first, "ANSWERED", "Отвечен", "Оператор 0", "перезвонить вечером")
    assert panel.state(other.id)["call"]["attempt_id"] == second


def test_a_lead_link_from_the_crm_wins_over_the_campaign_template(db):
    c, (op, _) = setup()
    Lead.update(attrs={"crm_url": "https://crm.example/x/1"}).execute()
    a = answered_call(db, op)
    assert panel.call_card(op.id, a)["order_url"] == "https://crm.example/x/1"


def test_another_operators_card_and_calls_are_refused_with_403_and_nothing_changes(db, unchanged):
    c, (op, other) = setup()
    a = answered_call(db, op)
    with unchanged():
        for action in (lambda: panel.call_card(other.id, a), lambda: panel.hang_up(other.id, a),
                       lambda: panel.answer(other.id, a), lambda: panel.wrap_up(other.id, a, "sold")):
            with pytest.raises(panel.Forbidden) as e:
                action()
            assert e.value.status == 403 and e.value.code == "not-your-call"
    assert Attempt.get_by_id(a).wrap_up_at is None


@pytest.mark.parametrize("action,code", [
    (lambda op, a: panel.answer(op, a), "no-offer"),        # an answered call is not an offer
    (lambda op, a: panel.hang_up(op, a), "call-ended"),     # in wrap-up: nothing to hang up
])
def test_requests_that_do_not_fit_the_call_are_refused_with_409(db, unchanged, action, code):
    c, (op, _) = setup()
    a = answered_call(db, op)
    with unchanged():
        with pytest.raises(Conflict) as e:
            action(op.id, a)
    assert e.value.code == code


def test_wrap_up_result_must_be_one_of_the_campaigns(db, unchanged):
    c, (op, _) = setup()
    CampaignResult.create(campaign=c.id, code="sold", title="Продано")
    a = answered_call(db, op)
    with unchanged(), pytest.raises(Invalid) as e:
        panel.wrap_up(op.id, a, "nonsense")
    assert "sold" in e.value.message
    out = panel.wrap_up(op.id, a, "sold", "ok", postpone_minutes=60)
    assert out["payload"]["attempt_id"] == a and EngineCommand.get().kind == "wrap_up"


def test_auto_answer_is_saved_and_sent_to_the_engine(db):
    c, (op, _) = setup()
    panel.set_auto_answer(op.id, False)
    assert Operator.get_by_id(op.id).auto_answer is False
    cmd = EngineCommand.get()
    assert (cmd.kind, cmd.payload) == ("auto_answer", {"on": False})
    with pytest.raises(Invalid):
        panel.set_auto_answer(op.id, "no")


# ---- offers -----------------------------------------------------------------------------------------------
def test_an_offer_is_answerable_then_released_uncounted_and_a_miss_is_kept(db):
    c, (op, _) = setup()
    lead = claim(db, op)
    offer_store.offer_started(db, lead.attempt_id, time.time(), 15)
    assert panel.state(op.id)["call"]["phase"] == "offer"
    assert panel.answer(op.id, lead.attempt_id)["kind"] == "answer"
    offer_store.release_offer(db, lead.attempt_id, time.time(), missed=True)
    assert Attempt.select().count() == 0 and Operator.get_by_id(op.id).attempt_id is None
    [m] = list(MissedOffer.select())
    assert (m.operator_id, m.campaign_id) == (op.id, c.id)
    released = Lead.get_by_id(m.lead_id)
    assert (released.state, released.attempts) == ("callable", 0)
    offer_store.missed_offers_alert(db, op.id, 3)
    [alert] = list(Alert.select())
    assert alert.campaign_id == c.id and "Оператор 0" in alert.text_ru and "3" in alert.text_en


def test_a_dialled_attempt_is_never_released(db):
    c, (op, _) = setup()
    lead = claim(db, op)
    store.record(db, lead.attempt_id, "dial_started_at", time.time())
    offer_store.release_offer(db, lead.attempt_id, time.time(), missed=True)
    assert Attempt.select().count() == 1 and MissedOffer.select().count() == 0


# ---- manual dial -------------------------------------------------------------------------------------------
def test_manual_dial_by_order_or_number_names_the_lead_and_sends_one_command(db):
    c, (op, _) = setup()
    out = panel.manual_dial(op.id, order_id="A-1")
    assert out["lead_id"] == Lead.get(Lead.external_id == "A-1").id and out["phone"] == "+79000000001"
    assert EngineCommand.get().payload == {"lead_id": out["lead_id"]}
    by_number = panel.manual_dial(op.id, phone="+7 900 000-00-02")
    assert by_number["order_id"] == "A-2"
    new = panel.manual_dial(op.id, phone="89161234567")
    lead = Lead.get_by_id(new["lead_id"])
    assert (lead.external_id, lead.state, lead.campaign_id) == ("manual:+79161234567", "done", c.id)


@pytest.mark.parametrize("kw,error,code", [
    (dict(order_id="nope"), NotFound, "order-not-found"),
    (dict(phone="12"), Invalid, "invalid-field"),
    (dict(), Invalid, "invalid-field"),
    (dict(phone="+79000000001", order_id="A-1"), Invalid, "invalid-field"),
    (dict(order_id="A-1", campaign_id=999), NotFound, "campaign-not-in-pool"),
])
def test_manual_dial_bad_requests_change_nothing(db, unchanged, kw, error, code):
    c, (op, _) = setup()
    with unchanged(), pytest.raises(error) as e:
        panel.manual_dial(op.id, **kw)
    assert e.value.code == code


def test_manual_dial_is_refused_outside_pause_and_idle_ready(db, unchanged):
    c, (op, _) = setup()
    answered_call(db, op)
    with unchanged(), pytest.raises(Conflict) as e:
        panel.manual_dial(op.id, order_id="A-2")
    assert e.value.code == "manual-dial-not-now" and "Пауза" in e.value.details["message_ru"]


def test_manual_attempt_opens_for_the_chosen_lead_and_refuses_leads_outside_the_pool(db):
    c, (op, _) = setup()
    lead = Lead.get(Lead.external_id == "A-0")
    claimed = offer_store.open_manual_attempt(db, op.id, "pbx", "t", time.time(), lead.id)
    a = Attempt.get_by_id(claimed.attempt_id)
    assert a.manual and a.offer_accepted_at and Operator.get_by_id(op.id).attempt_id == a.id
    outsider = Operator.create(name="x", login="x1", sip_password="secret-123")
    with pytest.raises(offer_store.ManualDialRefused) as e:
        offer_store.open_manual_attempt(db, outsider.id, "pbx", "t", time.time(), lead.id)
    assert e.value.code == "lead-not-found"


def test_a_do_not_call_number_is_refused_with_a_clear_message_before_anything_is_dialled(db, unchanged):
    from rules import dnc

    c, (op, _) = setup()
    dnc.add("+79000000001", reason="просил не звонить")
    with unchanged():
        for kw in (dict(phone="8 900 000 00 01"), dict(order_id="A-1")):
            with pytest.raises(Conflict) as e:
                panel.manual_dial(op.id, **kw)
            assert e.value.code == "do-not-call" and "Больше не звонить" in e.value.details["message_ru"]
        with pytest.raises(offer_store.ManualDialRefused) as e:  # listed after the request: the engine checks too
            offer_store.open_manual_attempt(db, op.id, "pbx", "t", time.time(), Lead.get(Lead.external_id == "A-1").id)
        assert e.value.code == "do-not-call"


def test_an_order_from_the_crm_links_to_the_crm_and_history_shows_each_results_delivery(db):
    from dialer.crm import connections
    c, (op, _) = setup()
    conn = connections.create_connection(db, {
        "kind": "leadvertex", "campaign_id": c.id, "name": "LeadVertex", "token": "tok-123456",
        "base_url": "http://127.0.0.1:9/shop/api/admin", "order_url_template": "https://shop.example/admin/order/{id}"})
    from dialer.crm import store as crm_store
    from dialer.crm.adapter import CrmStatus
    crm_store.save_statuses(db, conn["id"], [CrmStatus("2", "Перезвонить", "processing")])
    connections.set_result_map(db, conn["id"], [{"result_code": "callback", "status_id": "2",
                                                 "comment_template": "Перезвонить: {comment}"}])
    Lead.update(crm_connection_id=conn["id"]).execute()
    first = answered_call(db, op, at=time.time() - 100)
    store.finish_wrap_up(db, op.id, ev.FinishWrapUp(first, "callback", "вечером", 1, time.time() - 90))
    second = answered_call(db, op, lead_id=Attempt.get_by_id(first).lead_id)
    card = panel.call_card(op.id, second)
    assert card["order_url"] == f"https://shop.example/admin/order/{card['order_id']}"
    [h] = card["history"]
    assert h["crm_delivery"] == "pending"  # written with the wrap-up, not yet sent
    db.execute_sql("UPDATE crm_outbox SET state = 'delivered' WHERE attempt_id = %s", (first,))
    assert panel.call_card(op.id, second)["history"][0]["crm_delivery"] == "delivered"
