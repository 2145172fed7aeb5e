"""The supervisor's screen in headless Chromium at 1366×768: live status changes, calls and counters without a
reload, an alert that sounds once and is acknowledged, forced actions, no sideways scrolling, no console errors.

The engine is not running here: the test writes what the engine writes (ari_app/store.py), so the page is fed by
the same triggers and live events as in production."""
from __future__ import annotations

import os
import time
from datetime import datetime, timedelta, timezone

import pytest

from ari_app import events as ev
from ari_app import store
from ari_app.classifier import AttemptFacts
from dialer.models import Alert, Campaign, EngineCommand, Lead, Operator, OperatorCampaign
from dialer.services import users
from dialer.dev.testing import until

from .conftest import PASSWORD, sign_in

LIVE_MS = 5000
# the campaigns here dial whatever the hour of the run (the default calling window closes at night)
ANY_HOUR = {"any_hour": True}


@pytest.fixture
def screen(accounts, browser, web_url):
    """A supervisor signed in on /supervisor at 1366×768; console errors are collected."""
    users.create_user("sv@example.org", "Светлана Супервайзер", PASSWORD, [accounts["supervisor"]])
    ctx = browser.new_context(base_url=web_url, viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(f"{m.text} {m.location.get('url')}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, "sv@example.org", PASSWORD)
    errors.clear()  # the sign-in page is not this screen (its /favicon.ico is a 404)
    yield page, errors
    ctx.close()


def open_screen(page, first_operator_id):
    page.goto("/supervisor")
    page.wait_for_selector(f"[data-testid=op-row-{first_operator_id}]")
    page.wait_for_function("document.getElementById('live-status').dataset.state === 'open'")
    page.evaluate("window.notReloaded = true")


def no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")


def text_is(page, testid, expected):
    page.wait_for_function(f"(document.querySelector('[data-testid=\"{testid}\"]') || {{}}).textContent === {expected!r}",
                           timeout=LIVE_MS)


def test_the_screen_follows_statuses_calls_and_alerts_live(screen, db):
    page, errors = screen
    c = Campaign.create(name="Подтверждение заказов", calling_window=ANY_HOUR)
    Lead.insert_many([{"campaign": c.id, "external_id": f"ORD-{i}", "phone": f"+7900000{i:04d}", "name": f"Клиент {i}"}
                      for i in range(5)]).execute()
    ops = [Operator.create(name=f"Оператор {i}", login=f"sv{i}", sip_password="secret-123", status="paused")
           for i in range(10)]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": c.id} for o in ops]).execute()
    op = ops[0]
    open_screen(page, op.id)
    assert page.locator(f"[data-testid=op-status-{op.id}]").inner_text() == "Пауза"
    assert page.locator(f"[data-testid=op-sip-{op.id}]").inner_text().strip() == "не в сети"  # its device, not registered
    text_is(page, f"camp-queue-{c.id}", "5")
    no_sideways_scroll(page)

    # a status change reaches the page without a reload
    db.execute_sql("UPDATE operator SET status = 'ready', status_since = now() WHERE id = %s", (op.id,))
    text_is(page, f"op-status-{op.id}", "Готов")
    page.wait_for_function("document.querySelector('[data-testid=chip-ready] b').textContent === '1'", timeout=LIVE_MS)

    # a call: dialled, answered (client, campaign and order shown), ended ANSWERED (counters move)
    now = time.time()
    attempt = store.claim(db, op.id, "pbx", "t", now, None).attempt_id
    lead = Lead.get_by_id(store_lead(db, attempt))
    page.wait_for_function(f"document.querySelector('[data-testid=op-call-{op.id}]').textContent.includes({lead.name!r})",
                           timeout=LIVE_MS)
    call_text = page.locator(f"[data-testid=op-call-{op.id}]").inner_text()
    assert "Подтверждение заказов" in call_text and lead.external_id in call_text
    text_is(page, f"camp-ringing-{c.id}", "1")
    store.record(db, attempt, "answered_at", now + 1)
    store.record(db, attempt, "bridged_at", now + 1)
    db.execute_sql("UPDATE operator SET status = 'in_call', status_since = now() WHERE id = %s", (op.id,))
    text_is(page, f"camp-talking-{c.id}", "1")
    text_is(page, f"op-status-{op.id}", "В разговоре")
    store.end_attempt(db, ev.EndAttempt(attempt, "ANSWERED", AttemptFacts(answered=True, bridged=True, cause=16),
                                        now + 91))
    db.execute_sql("UPDATE operator SET status = 'wrap_up', status_since = now() WHERE id = %s", (op.id,))
    text_is(page, f"op-calls-{op.id}", "1")
    text_is(page, f"op-answered-{op.id}", "100 %")
    text_is(page, f"op-rating-{op.id}", "2")  # 1 answered call + 1 full minute of talk (90 s)
    text_is(page, f"camp-talking-{c.id}", "0")
    page.wait_for_function(f"document.querySelector('[data-testid=camp-bar-{c.id}] [data-outcome=ANSWERED]')"
                           ".dataset.count === '1'", timeout=LIVE_MS)
    assert "Постобработка" in page.locator(f"[data-testid=op-call-{op.id}]").inner_text()

    # an alert appears live, sounds once and badges the title, and is acknowledged by this person
    alert = Alert.create(kind="operator_missed_offers", operator=ops[1].id, campaign=c.id,
                         text_ru="Оператор 1 пропустил 3 предложения подряд", text_en="Operator 1 missed 3 offers")
    page.wait_for_selector(f"[data-testid=alert-acknowledge-{alert.id}]", timeout=LIVE_MS)
    assert page.title().startswith("(1) ")
    assert page.evaluate("document.getElementById('supervisor').dataset.alertsSounded") == "1"
    page.click(f"[data-testid=alert-acknowledge-{alert.id}]")
    page.wait_for_selector(f"[data-testid=alert-ack-{alert.id}]", timeout=LIVE_MS)
    assert "Светлана Супервайзер" in page.locator(f"[data-testid=alert-ack-{alert.id}]").inner_text()
    assert not page.title().startswith("(")
    assert db.execute_sql("SELECT acknowledged_by_name FROM alert WHERE id = %s", (alert.id,)).fetchone()[0] == \
        "Светлана Супервайзер"
    assert page.evaluate("document.getElementById('supervisor').dataset.alertsSounded") == "1"  # once

    # forced actions: release from wrap-up, pause an operator, pause the campaign
    page.click(f"[data-testid=op-menu-{op.id}] summary")
    page.click(f"[data-testid=op-release-{op.id}]")
    page.wait_for_selector("[data-testid=sv-message]:not([hidden])")
    released = EngineCommand.select().where(EngineCommand.operator == op.id, EngineCommand.kind == "wrap_up").get()
    assert released.payload == {"attempt_id": attempt, "result": "released_by_supervisor"}
    page.click(f"[data-testid=op-menu-{ops[2].id}] summary")
    no_sideways_scroll(page)  # the open menu does not widen the page
    page.click(f"[data-testid=op-ready-{ops[2].id}]")
    until(lambda: EngineCommand.select().where(EngineCommand.operator == ops[2].id,
                                               EngineCommand.kind == "ready").count() == 1)
    page.click(f"[data-testid=camp-toggle-{c.id}]")
    text_is(page, f"camp-state-{c.id}", "Приостановлена")
    assert Campaign.get_by_id(c.id).active is False

    # filters: by status
    page.select_option("[data-testid=filter-status]", "wrap_up")
    assert page.locator(f"[data-testid=op-row-{op.id}]").is_visible()
    assert not page.locator(f"[data-testid=op-row-{ops[3].id}]").is_visible()

    assert page.evaluate("window.notReloaded") is True
    no_sideways_scroll(page)
    assert errors == []


def test_the_call_card_opens_by_url(screen, db):
    page, errors = screen
    c = Campaign.create(name="Подтверждение заказов", calling_window=ANY_HOUR)
    Lead.create(campaign=c.id, external_id="ORD-1", phone="+79000000001", name="Клиент 1",
                next_call_at=datetime.now(timezone.utc) - timedelta(hours=1))
    op = Operator.create(name="Оператор", login="svc", sip_password="secret-123", status="ready")
    OperatorCampaign.create(operator=op.id, campaign=c.id)
    now = time.time() - 60
    a = store.claim(db, op.id, "pbx", "t", now, None).attempt_id
    store.record(db, a, "dial_started_at", now + 0.2)
    store.record(db, a, "ringing_at", now + 0.5)
    store.end_attempt(db, ev.EndAttempt(a, "NO_ANSWER", AttemptFacts(cause=19, dial_status="NOANSWER"), now + 30.5))
    page.goto(f"/supervisor/calls/{a}")
    assert page.locator("[data-testid=card-client]").inner_text() == "Клиент 1"
    assert "Не отвечен" in page.locator("[data-testid=card-outcome]").inner_text()
    seconds = [float(s) for s in page.locator("[data-testid=stage]").evaluate_all("els => els.map(e => e.dataset.seconds)")]
    total = float(page.locator("[data-testid=stages-total]").get_attribute("data-seconds"))
    assert total == pytest.approx(30.5, abs=0.01) and sum(seconds) == pytest.approx(total)
    no_sideways_scroll(page)
    assert errors == []


def store_lead(db, attempt_id):
    return db.execute_sql("SELECT lead_id FROM attempt WHERE id = %s", (attempt_id,)).fetchone()[0]



ROW_ORDER = "[...document.querySelectorAll('#sv-operator-rows > .sv-row')].map(r => Number(r.dataset.op))"
def ids_text(ids) -> str:
    return "[" + ",".join(map(str, ids)) + "]"  # as JSON.stringify writes a list of ids


SHOWN = "[...document.querySelectorAll('#sv-operator-rows > .sv-row')].filter(r => !r.hidden).map(r => Number(r.dataset.op))"


def test_sort_and_filters_follow_live_changes_by_moving_single_rows(screen, db):
    """Sorted by status, a change moves only its row to its new place; the pool filter shows the campaign's pool,
    the campaign filter the operators calling for it now, the campaign sort puts them first."""
    page, errors = screen
    a = Campaign.create(name="Акция", calling_window=ANY_HOUR)
    b = Campaign.create(name="Бонус", calling_window=ANY_HOUR)
    Lead.create(campaign=a.id, external_id="A-1", phone="+79000000101", name="Клиент А",
                next_call_at=datetime.now(timezone.utc) - timedelta(hours=1))
    ops = [Operator.create(name=f"Оператор {i}", login=f"so{i}", sip_password="secret-123", status="paused")
           for i in range(6)]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": (a if i < 3 else b).id}
                                  for i, o in enumerate(ops)]).execute()
    open_screen(page, ops[0].id)
    ids = [o.id for o in ops]
    assert page.evaluate(ROW_ORDER) == ids  # by name

    page.select_option("[data-testid=sort]", "status")
    page.evaluate("window.moves = 0; new MutationObserver((rs) => { for (const r of rs) window.moves += r.addedNodes.length; })"
                  ".observe(document.getElementById('sv-operator-rows'), {childList: true})")
    statuses = {ops[4].id: "ready", ops[1].id: "wrap_up", ops[5].id: "lunch"}
    for oid, status in statuses.items():
        db.execute_sql("UPDATE operator SET status = %s, status_since = now() WHERE id = %s", (status, oid))
    order = {"in_call": 0, "wrap_up": 1, "ready": 2, "paused": 3, "lunch": 4, "offline": 5}
    expected = sorted(ids, key=lambda i: (order[statuses.get(i, "paused")], ids.index(i)))
    page.wait_for_function(f"JSON.stringify({ROW_ORDER}) === {ids_text(expected)!r}", timeout=LIVE_MS)
    assert page.evaluate("window.moves") <= len(statuses)  # each changed row moved once, the others stayed

    page.select_option("[data-testid=filter-pool]", str(b.id))
    page.wait_for_function(f"JSON.stringify({SHOWN}) === {ids_text([ops[4].id, ops[3].id, ops[5].id])!r}", timeout=LIVE_MS)
    # the chips count within the pool: one paused operator in it
    page.wait_for_function("document.querySelector('[data-testid=chip-paused] b').textContent === '1'", timeout=LIVE_MS)
    page.select_option("[data-testid=filter-pool]", "")

    # a call of campaign A: the campaign filter shows its operator only, the campaign sort puts it first
    attempt = store.claim(db, ops[2].id, "pbx", "t", time.time(), None).attempt_id
    page.wait_for_function(f"document.querySelector('[data-testid=op-call-{ops[2].id}]').textContent.includes('Клиент А')",
                           timeout=LIVE_MS)
    page.select_option("[data-testid=filter-campaign]", str(a.id))
    page.wait_for_function(f"JSON.stringify({SHOWN}) === {ids_text([ops[2].id])!r}", timeout=LIVE_MS)
    page.select_option("[data-testid=filter-campaign]", "")
    page.select_option("[data-testid=sort]", "campaign")
    page.wait_for_function(f"{ROW_ORDER}[0] === {ops[2].id}", timeout=LIVE_MS)
    store.end_attempt(db, ev.EndAttempt(attempt, "NO_ANSWER", AttemptFacts(cause=19), time.time()))
    page.wait_for_function(f"{ROW_ORDER}[0] === {ops[0].id}", timeout=LIVE_MS)  # no call any more: back by name
    no_sideways_scroll(page)
    shots = os.environ.get("DIALER_SCREENSHOTS")
    if shots:
        page.screenshot(path=os.path.join(shots, "b-supervisor-sorted-1366.png"), full_page=True)
    assert errors == []
