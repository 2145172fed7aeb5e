"""The operator's shift in the browser: headless Chromium on /panel, real pbx + sim Asterisk, the engine running."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dialer.models import Alert, Attempt, Campaign, CampaignResult, Lead, Operator
from dialer.services import operators, users
from dialer.dev.testing import add_leads, make_operators, until
from tests.e2e.conftest import asterisk, engine  # noqa: F401  (real Asterisk and the engine process)

from .conftest import PASSWORD, sign_in

pytestmark = pytest.mark.e2e
CARD_S = 20_000  # ms: a call placed, answered and shown


def campaign(name="Подтверждение заказов", **kw):
    from dialer.services import campaigns

    base = dict(max_attempts=3, retry_delay_s=3600, ring_timeout_s=10, wrap_up_limit_s=0)
    base.update({k: v for k, v in kw.items() if k in base})
    cid = campaigns.create_campaign(name=name, **base)["id"]
    extra = {k: v for k, v in kw.items() if k not in base}
    if extra:
        Campaign.update(**extra).where(Campaign.id == cid).execute()
    return cid


def operator_users(engine, cid, accounts, count=1):
    """Operators with registered softphones, each a user with the operator role linked to them."""
    ops = make_operators(engine.settings, cid, count)
    for o in ops:
        users.create_user(f"{o['login']}@example.org", o["name"], PASSWORD, [accounts["operator"]], operator_id=o["id"])
    return ops


def panel_of(new_page, op):
    page = new_page()
    sign_in(page, f"{op['login']}@example.org", PASSWORD)
    page.goto("/panel")
    page.wait_for_selector("[data-testid=panel-status][data-status]")
    return page


def wait_status(page, status, timeout=15_000):
    page.wait_for_selector(f"[data-testid=panel-status][data-status={status}]", timeout=timeout)


def channels(settings):
    from dialer.dev import instances

    return instances.rx(settings, "pbx", "core show channels concise")


def test_ready_call_card_with_history_hang_up_wrap_up_one_hour_and_ready_again(engine, accounts, new_page):
    cid = campaign(order_url_template="https://crm.example/orders/{external_id}")
    CampaignResult.create(campaign=cid, code="callback", title="Перезвонить позже", closes_lead=False)
    add_leads(cid, ["79000001101"])  # answers and talks until the dialer hangs up
    op, other = operator_users(engine, cid, accounts, 2)
    lead = Lead.get()
    earlier = datetime.now(timezone.utc) - timedelta(days=1)
    Attempt.create(lead=lead.id, campaign=cid, operator=other["id"], phone=lead.phone, reserved_at=earlier,
                   ended_at=earlier, outcome="NO_ANSWER", wrap_up_comment="не взял трубку")

    page = panel_of(new_page, op)
    assert page.locator("[data-testid=panel-status]").inner_text() == "Не в сети"
    page.click("[data-testid=go-ready]")
    page.wait_for_selector("[data-testid=call-phase][data-phase=talking]", timeout=CARD_S)
    assert page.locator("[data-testid=client-name]").inner_text() == "Клиент 1"
    assert page.locator("[data-testid=call-order]").inner_text() == "L79000001101"
    assert page.locator("[data-testid=crm-link]").get_attribute("href") == "https://crm.example/orders/L79000001101"
    assert page.locator("[data-testid=call-campaign]").inner_text() == "Подтверждение заказов"
    row = page.locator("[data-testid=history-row]")
    assert row.count() == 1 and "Не отвечен" in row.inner_text() and "не взял трубку" in row.inner_text()
    assert "Оператор 2" in row.inner_text()
    wait_status(page, "in_call")
    call = Attempt.get(Attempt.operator == op["id"], Attempt.ended_at.is_null())
    assert call.client_channel in channels(engine.settings)

    # another operator can neither open this card nor hang it up
    intruder = panel_of(new_page, other)
    assert intruder.request.get(f"/api/panel/calls/{call.id}").status == 403
    csrf = intruder.locator("meta[name=csrf-token]").get_attribute("content")
    assert intruder.request.post(f"/api/panel/calls/{call.id}/hangup", headers={"X-CSRF-Token": csrf}).status == 403
    assert Attempt.get_by_id(call.id).ended_at is None and call.client_channel in channels(engine.settings)

    page.click("[data-testid=hang-up]")
    page.wait_for_selector("[data-testid=call-phase][data-phase=wrap_up]", timeout=10_000)
    until(lambda: call.client_channel not in channels(engine.settings), 5, message="the client's channel gone")
    assert Attempt.get_by_id(call.id).outcome == "ANSWERED"
    wait_status(page, "wrap_up")
    page.check("[data-testid=result-callback]")
    page.fill("[data-testid=comment]", "перезвонить через час")
    page.click("[data-testid=postpone-60]")
    page.click("[data-testid=wrap-up-save]")
    wait_status(page, "ready")
    done = Attempt.get_by_id(call.id)
    assert (done.wrap_up_result, done.wrap_up_comment) == ("callback", "перезвонить через час")
    lead = Lead.get_by_id(lead.id)
    assert lead.state == "callable"
    assert abs((lead.next_call_at - done.wrap_up_at).total_seconds() - 3600) < 2


def test_without_auto_answer_the_offer_waits_then_missed_offers_pause_the_operator(engine, accounts, new_page):
    cid = campaign(operator_answer_timeout_s=4, missed_offers_limit=2, wrap_up_limit_s=1)
    add_leads(cid, ["79000031201", "79000031202"])  # each answers and talks 3 s
    [op] = operator_users(engine, cid, accounts, 1)
    page = panel_of(new_page, op)
    page.uncheck("[data-testid=auto-answer]")
    until(lambda: Operator.get_by_id(op["id"]).auto_answer is False, 5, message="auto-answer off")
    page.click("[data-testid=go-ready]")
    page.wait_for_selector("[data-testid=answer]:visible", timeout=CARD_S)
    offer = Attempt.get(Attempt.ended_at.is_null())
    assert offer.dial_started_at is None  # nobody is called while the offer waits
    assert f"op{op['id']}-" not in channels(engine.settings)
    page.click("[data-testid=answer]")
    page.wait_for_selector("[data-testid=call-phase][data-phase=talking]", timeout=CARD_S)
    # the call ends, the wrap-up time runs out, the next offer waits and is missed twice: Pause
    wait_status(page, "paused", timeout=40_000)
    assert page.locator("[data-testid=panel-status]").inner_text() == "Пауза"
    [alert] = list(Alert.select())
    assert alert.operator_id == op["id"] and "паузу" in alert.text_ru
    assert Attempt.select().count() == 1 and Attempt.get().outcome == "ANSWERED"


def test_manual_dial_by_order_and_by_number_and_a_do_not_call_number_is_refused(engine, accounts, new_page):
    from rules import dnc

    cid = campaign()
    # order L79000001301: answers and talks until hung up (a 3 s talk could end before a busy page drew it)
    add_leads(cid, ["79000001301"])
    [op] = operator_users(engine, cid, accounts, 1)
    dnc.add("+79000031399", reason="просил не звонить", source="supervisor")
    page = panel_of(new_page, op)
    page.click("[data-testid=go-pause]")
    wait_status(page, "paused")

    page.check("[data-testid=dial-by-order]")
    page.fill("[data-testid=dial-value]", "L79000001301")
    page.click("[data-testid=dial]")
    page.wait_for_selector("[data-testid=call-phase][data-phase=talking]", timeout=CARD_S)
    assert page.locator("[data-testid=client-name]").inner_text() == "Клиент 1"
    page.click("[data-testid=hang-up]")
    page.wait_for_selector("[data-testid=call-phase][data-phase=wrap_up]", timeout=15_000)
    page.fill("[data-testid=result-text]", "confirmed")
    page.click("[data-testid=wrap-up-save]")
    wait_status(page, "paused")

    page.check("[data-testid=dial-by-phone]")
    page.fill("[data-testid=dial-value]", "8 900 000-13-02")
    page.click("[data-testid=dial]")
    page.wait_for_selector("[data-testid=call-phase][data-phase=talking]", timeout=CARD_S)
    assert page.locator("[data-testid=call-phone]").inner_text() == "+79000001302"
    page.click("[data-testid=hang-up]")
    page.wait_for_selector("[data-testid=call-phase][data-phase=wrap_up]", timeout=15_000)
    page.fill("[data-testid=result-text]", "confirmed")
    page.click("[data-testid=wrap-up-save]")
    page.wait_for_selector("[data-testid=no-call]:visible", timeout=10_000)

    page.fill("[data-testid=dial-value]", "+7 900 003 13 99")
    page.click("[data-testid=dial]")
    page.wait_for_selector("[data-testid=panel-error]:visible")
    assert "Больше не звонить" in page.locator("[data-testid=panel-error]").inner_text()
    assert Attempt.select().count() == 2 and all(a.manual for a in Attempt.select())
    assert not Attempt.select().where(Attempt.phone == "+79000031399").exists()


def test_do_not_call_in_wrap_up_lists_the_number_and_no_campaign_dials_it_again(engine, accounts, new_page):
    from rules import dnc

    first, second = campaign("Первая"), campaign("Вторая")
    add_leads(first, ["79000031401"])
    add_leads(second, ["79000031401"])  # the same client in another campaign
    [op] = operator_users(engine, first, accounts, 1)
    operators.set_campaigns(op["id"], [first, second])
    page = panel_of(new_page, op)
    page.click("[data-testid=go-ready]")
    page.wait_for_selector("[data-testid=call-phase][data-phase=wrap_up]", timeout=CARD_S + 10_000)
    page.fill("[data-testid=result-text]", "refused")
    page.check("[data-testid=do-not-call]")
    page.click("[data-testid=wrap-up-save]")
    wait_status(page, "ready")
    assert dnc.contains("+79000031401")
    page.wait_for_timeout(4000)  # Ready, with the other campaign's lead of the same number waiting
    assert Attempt.select().count() == 1


def test_an_account_without_an_operator_sees_a_message_and_the_page_asks_nothing_of_the_panel_api(accounts, new_page):
    """It saw a made-up «Постобработка 0:01», and every live event made the page ask /api/panel again (404)."""
    asked = []
    page = new_page()
    page.on("request", lambda request: asked.append(request.url) if "/api/panel" in request.url else None)
    sign_in(page)  # the administrator: may use the panel, but is linked to no operator
    assert page.locator("a[href='/panel']").count() == 0  # the navigation does not offer it
    page.goto("/panel")
    page.wait_for_selector("[data-testid=panel-no-operator]")
    assert "не связана с оператором" in page.inner_text("[data-testid=panel-no-operator]")
    assert page.locator("[data-testid=panel-status], [data-testid=go-ready], [data-testid=wrap-up]").count() == 0
    page.wait_for_selector("#live-status[data-state=open]")
    # a live event the old page answered with a read of /api/panel/state: the page has it, and asked nothing
    o = operators.create_operator("Чужой", "someone", "secret-someone-1")
    Operator.update(status="wrap_up").where(Operator.id == o["id"]).execute()
    page.wait_for_function("window.Dialer.live.lastId !== null", timeout=10_000)
    assert asked == []
