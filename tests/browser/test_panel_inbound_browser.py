"""A client calling back, on the operator's panel (SPEC A1), followed live over real Asterisk: the operator is signed in
and Ready with a registered softphone, the sim's client calls our trunk from the number of a lead this operator talked
to yesterday, and the panel shows the inbound call's card as it comes — an «входящий» badge, «Клиент перезванивает» with
the last conversation's outcome, result, operator and comment, beside the lead's card as for an outgoing call. The
operator hangs up and wraps up with one of the campaign's results: the attempt is inbound, answered, with that result.
An outgoing call's card has none of it (set up in the database: no Asterisk needed). 1366×768, no sideways scrolling,
no console errors."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dialer.dev.testing import make_operators, until
from dialer.models import Attempt, CampaignResult, Lead, Operator
from dialer.services import campaigns, operators, users
from tests.e2e.conftest import asterisk, engine  # noqa: F401  (real Asterisk and the engine process)
from tests.e2e.test_inbound import call_pbx_from, direction

from .conftest import PASSWORD, fits, shot

CALLER = "79000031001"  # the sim's client: plays a prompt and talks until we hang up (sim/extensions.conf)
CARD_MS = 20_000  # the call routed, the operator's phone answered, the card shown


def new_campaign() -> int:
    """A campaign with a result that does not close the lead."""
    cid = campaigns.create_campaign(name="Подтверждение заказов", max_attempts=3, retry_delay_s=3600,
                                    ring_timeout_s=10, wrap_up_limit_s=0)["id"]
    CampaignResult.create(campaign=cid, code="think", title="Подумает и перезвонит", closes_lead=False)
    return cid


def lead_called_yesterday(cid: int, operator_id: int, state: str = "done") -> Lead:
    """A lead whose last conversation was yesterday with `operator_id` (a result and a comment), followed by an
    unanswered attempt (later, but not a conversation)."""
    lead = Lead.create(campaign=cid, external_id="A-1001", phone=f"+{CALLER}", name="Клиент Перезвонил", state=state,
                       last_attempt_at=datetime.now(timezone.utc))
    day_ago = datetime.now(timezone.utc) - timedelta(days=1)
    Attempt.create(lead=lead.id, campaign=cid, operator=operator_id, phone=lead.phone, reserved_at=day_ago,
                   answered_at=day_ago, bridged_at=day_ago, ended_at=day_ago, outcome="ANSWERED",
                   wrap_up_result="think", wrap_up_comment="хочет посоветоваться с женой", wrap_up_at=day_ago)
    Attempt.create(lead=lead.id, campaign=cid, phone=lead.phone, reserved_at=day_ago + timedelta(hours=1),
                   ended_at=day_ago + timedelta(hours=1), outcome="NO_ANSWER")
    return lead


def open_panel(signed_in_page, email: str):
    page, errors, _ = signed_in_page(email, PASSWORD)
    page.goto("/panel")
    page.wait_for_selector("[data-testid=panel-status][data-status]")
    return page, errors


def wait_status(page, status: str, timeout: int = 15_000) -> None:
    page.wait_for_selector(f"[data-testid=panel-status][data-status={status}]", timeout=timeout)


@pytest.mark.e2e
def test_a_client_calling_back_is_followed_live_onto_the_panel_and_wrapped_up(engine, accounts, signed_in_page):
    cid = new_campaign()
    [op] = make_operators(engine.settings, cid, 1)  # a softphone registered on pbx
    users.create_user("op1@example.org", op["name"], PASSWORD, [accounts["operator"]], operator_id=op["id"])
    lead = lead_called_yesterday(cid, op["id"])
    page, errors = open_panel(signed_in_page, "op1@example.org")
    page.click("[data-testid=go-ready]")
    wait_status(page, "ready")
    until(lambda: Operator.get_by_id(op["id"]).leg_channel is not None, 30, message="the operator's line up")
    assert page.locator("[data-testid=call-phase][data-phase=talking]").count() == 0  # nothing to call out

    call_pbx_from(engine.settings, CALLER)
    page.wait_for_selector("[data-testid=call-phase][data-phase=talking]", timeout=CARD_MS)  # live, no reload
    call = Attempt.get(Attempt.operator == op["id"], Attempt.ended_at.is_null())
    assert (call.lead_id, direction(call.id)) == (lead.id, "inbound")
    assert page.locator("[data-testid=inbound-badge]").is_visible()
    assert page.inner_text("[data-testid=inbound-badge]") == "входящий"
    note = page.inner_text("[data-testid=calling-back]")
    assert "Клиент перезванивает" in note
    assert page.inner_text("[data-testid=calling-back-result]") == "Подумает и перезвонит"
    assert "Отвечен" in note and op["name"] in note and "хочет посоветоваться с женой" in note
    assert page.inner_text("[data-testid=client-name]") == "Клиент Перезвонил"  # the lead's card, as outgoing
    assert page.inner_text("[data-testid=call-order]") == "A-1001"
    assert page.inner_text("[data-testid=call-campaign]") == "Подтверждение заказов"
    assert page.locator("[data-testid=history-row]").count() == 2
    assert "Подумает и перезвонит" in page.inner_text("[data-testid=history]")  # a result by its title, not its code
    wait_status(page, "in_call")
    fits(page)
    shot(page, "panel-inbound")

    page.click("[data-testid=hang-up]")
    page.wait_for_selector("[data-testid=call-phase][data-phase=wrap_up]", timeout=10_000)
    page.check("[data-testid=result-think]")
    page.fill("[data-testid=comment]", "перезвонил сам, думает дальше")
    page.click("[data-testid=wrap-up-save]")
    wait_status(page, "ready")
    done = until(lambda: (a := Attempt.get_by_id(call.id)).wrap_up_at and a, 10, message="the wrap-up saved")
    assert (done.outcome, done.wrap_up_result, done.wrap_up_comment, direction(done.id)) == (
        "ANSWERED", "think", "перезвонил сам, думает дальше", "inbound")
    assert done.bridged_at is not None and done.phone == f"+{CALLER}"
    assert errors == []


def test_an_outgoing_call_has_no_inbound_badge(accounts, signed_in_page):
    """The same lead and history, an outgoing call in hand (what the engine writes when it bridges one)."""
    cid = new_campaign()
    me = operators.create_operator("Ольга Панова", "opanova", "secret-opanova-1")
    users.create_user("opanova@example.org", me["name"], PASSWORD, [accounts["operator"]], operator_id=me["id"])
    lead = lead_called_yesterday(cid, me["id"], state="in_progress")
    now = datetime.now(timezone.utc)
    call = Attempt.create(lead=lead.id, campaign=cid, operator=me["id"], phone=lead.phone, reserved_at=now,
                          offered_at=now, dial_started_at=now, answered_at=now, bridged_at=now)
    Operator.update(status="in_call", status_since=now, attempt_id=call.id).where(Operator.id == me["id"]).execute()
    page, errors = open_panel(signed_in_page, "opanova@example.org")
    page.wait_for_selector("[data-testid=call-phase][data-phase=talking]", timeout=15_000)
    assert page.inner_text("[data-testid=client-name]") == "Клиент Перезвонил"
    assert page.locator("[data-testid=inbound-badge]").is_hidden()
    assert page.locator("[data-testid=calling-back]").count() == 0
    assert errors == []
