"""The supervisor's screen leaves an operator's row alone while it is scrolled out of view (issue 15, Figures: each
write to one laid the whole scroll area out again) and shows the operator's current status, time in status and call
the moment the row comes into view.

As in test_supervisor_browser.py, the engine is not running: the test writes what the engine writes."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from ari_app import store
from dialer.models import Campaign, Lead, Operator, OperatorCampaign

from .test_supervisor_browser import ANY_HOUR, LIVE_MS, open_screen, screen, store_lead  # noqa: F401

MODEL_STATUS = "(id) => window.Supervisor.state.ops.get(id).status"
ROW_STATUS = "(id) => document.querySelector('[data-testid=op-row-' + id + ']').dataset.status"
SCROLL = "(top) => { const s = document.getElementById('sv-operators'); s.scrollTop = top; return s.scrollTop; }"


def test_a_row_out_of_view_is_left_alone_and_shows_the_current_facts_when_it_comes_into_view(screen, db):
    page, errors = screen
    c = Campaign.create(name="Подтверждение заказов", calling_window=ANY_HOUR)
    Lead.create(campaign=c.id, external_id="ORD-77", phone="+79000000077", name="Клиент Семьдесят Семь")
    # 40 rows in name order: the area shows ~13 of them and ~16 count as on screen (supervisor.js findOnScreen)
    long_ago = datetime.now(timezone.utc) - timedelta(hours=3)  # the changes below are later (the page drops older)
    ops = [Operator.create(name=f"Оператор {i:02d}", login=f"os{i}", sip_password="secret-123", status="paused",
                           status_since=long_ago) for i in range(40)]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": c.id} for o in ops]).execute()
    far, top = ops[-1], ops[0]
    open_screen(page, top.id)
    assert page.evaluate(ROW_STATUS, far.id) == "paused"  # a new row is written once, in full

    # the operator at the bottom takes a call and talks: the page's model follows, the row is not touched
    attempt = store.claim(db, far.id, "pbx", "t", time.time(), None).attempt_id
    lead = Lead.get_by_id(store_lead(db, attempt))
    store.record(db, attempt, "answered_at", time.time() - 125)
    store.record(db, attempt, "bridged_at", time.time() - 125)
    db.execute_sql("UPDATE operator SET status = 'in_call', status_since = now() - interval '3725 seconds'"
                   " WHERE id = %s", (far.id,))
    db.execute_sql("UPDATE operator SET status = 'ready', status_since = now() WHERE id = %s", (top.id,))
    page.wait_for_function(f"({MODEL_STATUS})({far.id}) === 'in_call'", timeout=LIVE_MS)
    page.wait_for_function(f"({ROW_STATUS})({top.id}) === 'ready'", timeout=LIVE_MS)  # a row on screen: at once
    page.wait_for_function(f"window.Supervisor.state.ops.get({far.id}).stale === true", timeout=LIVE_MS)
    assert page.evaluate(ROW_STATUS, far.id) == "paused"
    assert lead.name not in page.locator(f"[data-testid=op-call-{far.id}]").inner_text()

    # scrolled into view: the current status, time in status and call, without any further event
    assert page.evaluate(SCROLL, 100000) > 0
    page.wait_for_function(f"({ROW_STATUS})({far.id}) === 'in_call'", timeout=LIVE_MS)
    assert page.locator(f"[data-testid=op-status-{far.id}]").inner_text() == "В разговоре"
    since = page.locator(f"[data-testid=op-since-{far.id}]").inner_text()
    assert since.startswith("1:02:"), since  # 3,725 s and counting
    call = page.locator(f"[data-testid=op-call-{far.id}]").inner_text()
    assert lead.name in call and "Подтверждение заказов" in call and lead.external_id in call, call
    assert call.count(":") >= 1 and "2:0" in call, call  # talk time, ~125 s

    # the top row is now out of view: its change waits, and is shown when it is scrolled back
    db.execute_sql("UPDATE operator SET status = 'lunch', status_since = now() WHERE id = %s", (top.id,))
    page.wait_for_function(f"({MODEL_STATUS})({top.id}) === 'lunch'", timeout=LIVE_MS)
    page.wait_for_function(f"window.Supervisor.state.ops.get({top.id}).stale === true", timeout=LIVE_MS)
    assert page.evaluate(ROW_STATUS, top.id) == "ready"
    page.evaluate(SCROLL, 0)
    page.wait_for_function(f"({ROW_STATUS})({top.id}) === 'lunch'", timeout=LIVE_MS)
    assert page.locator(f"[data-testid=op-status-{top.id}]").inner_text() == "Обед"
    assert page.locator(f"[data-testid=op-since-{top.id}]").inner_text().startswith("0:")  # since the change
    # the status chips count every operator, on screen or not
    page.wait_for_function("document.querySelector('[data-testid=chip-in_call] b').textContent === '1'"
                           " && document.querySelector('[data-testid=chip-lunch] b').textContent === '1'",
                           timeout=LIVE_MS)
    assert errors == []


def test_the_rows_written_are_those_the_scroll_area_can_show(screen, db):
    """The rows on screen are a range the scroll area's height long (and two rows each side), not the window's: a
    row the area cannot show at its scroll position is not written, even though the window is taller than the area."""
    page, errors = screen
    c = Campaign.create(name="Подтверждение заказов", calling_window=ANY_HOUR)
    long_ago = datetime.now(timezone.utc) - timedelta(hours=3)
    ops = [Operator.create(name=f"Оператор {i:02d}", login=f"oa{i}", sip_password="secret-123", status="paused",
                           status_since=long_ago) for i in range(40)]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": c.id} for o in ops]).execute()
    open_screen(page, ops[0].id)
    # at 1366×768 the area (the window's height less 215 px, its column heads 34 px) shows rows 0–12 of 41 px: row 12
    # is on screen, row 18 below the area (within a window's height of rows, which were all written before)
    shown, below = ops[12], ops[18]
    for o in (shown, below):
        db.execute_sql("UPDATE operator SET status = 'ready', status_since = now() WHERE id = %s", (o.id,))
    page.wait_for_function(f"({ROW_STATUS})({shown.id}) === 'ready'", timeout=LIVE_MS)
    page.wait_for_function(f"({MODEL_STATUS})({below.id}) === 'ready'", timeout=LIVE_MS)
    page.wait_for_function(f"window.Supervisor.state.ops.get({below.id}).stale === true", timeout=LIVE_MS)
    assert page.evaluate(ROW_STATUS, below.id) == "paused"
    assert page.evaluate(f"window.Supervisor.state.onScreen.has({shown.id})") is True
    assert page.evaluate(f"window.Supervisor.state.onScreen.has({below.id})") is False
    page.evaluate(SCROLL, 6 * 41)  # six rows down: row 18 is at the area's bottom now
    page.wait_for_function(f"({ROW_STATUS})({below.id}) === 'ready'", timeout=LIVE_MS)
    assert errors == []
