"""A client calling back, on the operator's panel (SPEC A1): the card of an inbound call says so — an «входящий»
badge, «Клиент перезванивает» and the last call's outcome, result and operator — beside the lead's card as for an
outgoing call; an outgoing call has none of it. The call is set up in the database (what the engine writes when an
operator takes an inbound call), so no Asterisk is needed. 1366×768, no sideways scrolling, no console errors."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dialer.models import Attempt, CampaignResult, Lead, Operator
from dialer.services import campaigns, operators, users

from .conftest import PASSWORD, shot, sign_in


def call_in_hand(accounts, direction: str):
    cid = campaigns.create_campaign(name="Подтверждение заказов", max_attempts=3, retry_delay_s=3600,
                                    ring_timeout_s=10, wrap_up_limit_s=0)["id"]
    CampaignResult.create(campaign=cid, code="think", title="Подумает и перезвонит", closes_lead=False)
    me = operators.create_operator("Ольга Панова", "opanova", "secret-opanova-1")
    users.create_user("opanova@example.org", me["name"], PASSWORD, [accounts["operator"]], operator_id=me["id"])
    lead = Lead.create(campaign=cid, external_id="A-1001", phone="+79000031001", name="Клиент Перезвонил",
                       state="in_progress")
    day_ago = datetime.now(timezone.utc) - timedelta(days=1)
    Attempt.create(lead=lead.id, campaign=cid, operator=me["id"], phone=lead.phone, reserved_at=day_ago,
                   answered_at=day_ago, bridged_at=day_ago, ended_at=day_ago, outcome="ANSWERED",
                   wrap_up_result="think", wrap_up_comment="хочет посоветоваться с женой", wrap_up_at=day_ago)
    Attempt.create(lead=lead.id, campaign=cid, phone=lead.phone, reserved_at=day_ago + timedelta(hours=1),
                   ended_at=day_ago + timedelta(hours=1), outcome="NO_ANSWER")  # later, but not a conversation
    now = datetime.now(timezone.utc)
    call = Attempt.create(lead=lead.id, campaign=cid, operator=me["id"], phone=lead.phone, reserved_at=now,
                          offered_at=now, dial_started_at=now, answered_at=now, bridged_at=now)
    Attempt._meta.database.execute_sql("UPDATE attempt SET direction = %s WHERE id = %s", (direction, call.id))
    Operator.update(status="in_call", status_since=now, attempt_id=call.id).where(Operator.id == me["id"]).execute()
    return call


def open_panel(browser, web_url):
    ctx = browser.new_context(base_url=web_url, viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, "opanova@example.org", PASSWORD)
    page.goto("/panel")
    page.wait_for_selector("[data-testid=call-phase][data-phase=talking]", timeout=15_000)
    return ctx, page, errors


def test_an_inbound_call_shows_the_client_calling_back_and_the_last_conversation(accounts, browser, web_url):
    call_in_hand(accounts, "inbound")
    ctx, page, errors = open_panel(browser, web_url)
    try:
        assert page.locator("[data-testid=inbound-badge]").is_visible()
        assert page.inner_text("[data-testid=inbound-badge]") == "входящий"
        note = page.inner_text("[data-testid=calling-back]")
        assert "Клиент перезванивает" in note
        assert page.inner_text("[data-testid=calling-back-result]") == "Подумает и перезвонит"
        assert "Отвечен" in note and "Ольга Панова" in note and "хочет посоветоваться с женой" in note
        assert page.inner_text("[data-testid=client-name]") == "Клиент Перезвонил"  # the lead's card, as outgoing
        assert page.inner_text("[data-testid=call-order]") == "A-1001"
        assert page.locator("[data-testid=history-row]").count() == 2
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(page, "panel-inbound")
        assert errors == []
    finally:
        ctx.close()


def test_an_outgoing_call_has_no_inbound_badge(accounts, browser, web_url):
    call_in_hand(accounts, "outbound")
    ctx, page, errors = open_panel(browser, web_url)
    try:
        assert page.inner_text("[data-testid=client-name]") == "Клиент Перезвонил"
        assert page.locator("[data-testid=inbound-badge]").is_hidden()
        assert page.locator("[data-testid=calling-back]").count() == 0
        assert errors == []
    finally:
        ctx.close()
