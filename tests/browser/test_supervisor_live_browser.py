"""The supervisor's screen under bursts of live events (issue 15, Figures): the page applies every event, draws
what they changed together, and ends showing the last state of each thing; an alert changes its own item only.

As in test_supervisor_browser.py, the engine is not running: the test writes what the engine writes."""
from __future__ import annotations

import json
import os

from dialer.models import Alert, Campaign, Operator, OperatorCampaign

from .test_supervisor_browser import ANY_HOUR, LIVE_MS, no_sideways_scroll, open_screen, screen  # noqa: F401

COUNT_EVENTS = """() => { window.got = {}; for (const k of ['operator.status', 'alert'])
  window.Dialer.live.on(k, (d) => { window.got[k] = (window.got[k] || 0) + 1; }); }"""
ROW_STATUSES = "Object.fromEntries([...document.querySelectorAll('#sv-operator-rows .sv-row')].map((r) => [r.dataset.op, r.dataset.status]))"
ON_SCREEN_SHOW = """(last) => { const S = window.Supervisor.state;
  return !S.dirtyOps.size
    && [...S.onScreen].every((id) => document.querySelector(`[data-testid=op-row-${id}]`).dataset.status === last[id]); }"""
SCROLLED_TO_BOTTOM = """() => { const s = document.getElementById('sv-operators'); s.scrollTop = s.scrollHeight;
  return s.scrollTop > 0 && s.scrollTop + s.clientHeight >= s.scrollHeight - 1; }"""
ALERT_IDS = "[...document.querySelectorAll('#sv-alert-list > li')].map((li) => Number(li.dataset.testid.slice(6)))"


def team(n, login, status):
    """A campaign and `n` operators in its pool, each in `status`."""
    c = Campaign.create(name="Подтверждение заказов", calling_window=ANY_HOUR)
    ops = [Operator.create(name=f"Оператор {i:02d}", login=f"{login}{i}", sip_password="secret-123", status=status)
           for i in range(n)]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": c.id} for o in ops]).execute()
    return c, ops


def test_a_burst_of_status_changes_ends_in_each_operators_last_status_and_none_is_lost(screen, db):
    page, errors = screen
    c, ops = team(20, "lb", "paused")
    open_screen(page, ops[0].id)
    page.evaluate(COUNT_EVENTS)
    flushes, messages = page.evaluate("[window.Supervisor.state.flushes, window.Dialer.live.messages]")

    rounds = ["ready", "in_call", "wrap_up", "ready", "lunch"]  # each operator, one transaction per change
    last = {}
    for status in rounds:
        for i, o in enumerate(ops):
            value = "paused" if status == "lunch" and i % 2 else status  # the last change differs per operator
            db.execute_sql("UPDATE operator SET status = %s, status_since = clock_timestamp() WHERE id = %s",
                           (value, o.id))
            last[str(o.id)] = value
    changes = len(rounds) * len(ops)
    page.wait_for_function(f"(window.got['operator.status'] || 0) >= {changes}", timeout=LIVE_MS)
    # the rows the scroll area can show are written as the events come; those below it (20 rows do not fit at
    # 1366×768) when they are scrolled into view: at the bottom, every row shows its operator's last status
    page.wait_for_function(ON_SCREEN_SHOW, arg=last, timeout=LIVE_MS)
    page.wait_for_function(SCROLLED_TO_BOTTOM)
    page.wait_for_function(f"JSON.stringify({ROW_STATUSES}) === {json.dumps(json.dumps(last, separators=(',', ':')))}",
                           timeout=LIVE_MS)
    assert page.evaluate("window.got['operator.status']") == changes  # every change reached the page, once
    # the stream's messages are counted as they come (bench.supervisor): a batch of events is one message
    assert 0 < page.evaluate("window.Dialer.live.messages") - messages <= changes
    # drawn together: far fewer drawings than events (at most one per frame; the bound is loose on purpose)
    assert page.evaluate("window.Supervisor.state.flushes") - flushes < changes
    page.wait_for_function("document.querySelector('[data-testid=chip-ready] b').textContent === '0'"
                           " && document.querySelector('[data-testid=chip-lunch] b').textContent === '10'"
                           " && document.querySelector('[data-testid=chip-paused] b').textContent === '10'",
                           timeout=LIVE_MS)
    assert errors == []


def test_a_storm_of_alerts_adds_each_item_alone_in_order_and_flashes_once(screen, db):
    page, errors = screen
    c, ops = team(3, "la", "ready")
    open_screen(page, ops[0].id)
    page.evaluate(COUNT_EVENTS)

    def raise_alert(n):
        return Alert.create(kind="sip_offline", operator=ops[n % 3].id, campaign=c.id,
                            text_ru=f"Устройство {n} отключилось", text_en=f"Device {n} went offline").id

    first = raise_alert(0)
    page.wait_for_selector(f"[data-testid=alert-{first}]", timeout=LIVE_MS)
    page.evaluate(f"document.querySelector('[data-testid=alert-{first}]').kept = true")  # the same element later?
    ids = [first] + [raise_alert(n) for n in range(1, 30)]
    page.wait_for_function(f"(window.got.alert || 0) >= 29 && {ALERT_IDS}.length === 30", timeout=LIVE_MS)
    assert page.evaluate(ALERT_IDS) == ids[::-1]  # open ones, the newest first
    assert page.evaluate(f"document.querySelector('[data-testid=alert-{first}]').kept") is True  # not built again
    assert page.evaluate("document.querySelectorAll('#sv-alert-list .fresh').length") == 1  # one flash for the storm
    assert page.evaluate("document.getElementById('supervisor').dataset.alertsSounded") == "30"  # a sound each, once
    assert page.title().startswith("(30) ")
    assert page.locator("[data-testid=alerts-open]").inner_text() == "30"

    # acknowledged elsewhere (another supervisor): the item goes below the open ones, the badge counts down
    db.execute_sql("UPDATE alert SET acknowledged_at = now(), acknowledged_by_name = 'Другой' WHERE id IN (%s, %s)",
                   (ids[29], ids[5]))
    page.wait_for_selector(f"[data-testid=alert-ack-{ids[29]}]", timeout=LIVE_MS)
    page.wait_for_selector(f"[data-testid=alert-ack-{ids[5]}]", timeout=LIVE_MS)
    shown = page.evaluate(ALERT_IDS)
    open_ones = [i for i in ids[::-1] if i not in (ids[29], ids[5])]
    assert shown[:28] == open_ones and sorted(shown[28:]) == sorted([ids[29], ids[5]])
    assert page.title().startswith("(28) ")
    assert page.evaluate(f"document.querySelector('[data-testid=alert-{first}]').kept") is True
    assert page.evaluate("document.getElementById('supervisor').dataset.alertsSounded") == "30"

    # the page read again (as after the stream's `reload`): the same list from the server
    page.reload()
    page.wait_for_function(f"{ALERT_IDS}.length === 30", timeout=LIVE_MS)
    assert page.evaluate(ALERT_IDS)[:28] == open_ones
    no_sideways_scroll(page)
    shots = os.environ.get("DIALER_SCREENSHOTS")
    if shots:
        page.screenshot(path=os.path.join(shots, "g-supervisor-alerts-1366.png"), full_page=True)
    assert errors == []


def test_a_change_is_drawn_in_its_own_events_task(screen, db):
    """No timer and no animation frame between an event and its row (a machine short of cores makes each such step
    wait for one): a handler registered after the page's sees the row drawn by the end of the event's task (the
    page draws once the message's events are all applied: a microtask queued before this handler's) — after a quiet
    moment, and in a burst while the frame the last drawing asked for has not come (drawn with it)."""
    page, errors = screen
    c = Campaign.create(name="Подтверждение заказов", calling_window=ANY_HOUR)
    ops = [Operator.create(name=f"Оператор {i}", login=f"lq{i}", sip_password="secret-123", status="paused")
           for i in range(5)]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": c.id} for o in ops]).execute()
    open_screen(page, ops[0].id)
    page.evaluate("""() => { window.seen = []; window.Dialer.live.on('operator.status', (d) => {
        const row = document.querySelector('[data-testid=op-row-' + d.id + ']'), S = window.Supervisor.state;
        // gated: not drawn, as no frame is pending and the drawing that asked for the last one is under FRAME_MS old
        const gated = !S.framePending && performance.now() - S.flushAt < window.Supervisor.FRAME_MS;
        queueMicrotask(() => window.seen.push([d.status, row.dataset.status, gated])); }); }""")
    statuses = ["ready", "lunch", "paused"]
    for status in statuses:
        page.wait_for_function("performance.now() - window.Supervisor.state.flushAt > 300", timeout=LIVE_MS)
        db.execute_sql("UPDATE operator SET status = %s, status_since = now() WHERE id = %s", (status, ops[0].id))
        page.wait_for_function(f"window.seen.length && window.seen[window.seen.length - 1][0] === {status!r}",
                               timeout=LIVE_MS)
    quiet = page.evaluate("window.seen")
    assert [[wanted, shown] for wanted, shown, _ in quiet] == [[s, s] for s in statuses]

    page.evaluate("window.seen = []")
    db.execute_sql("UPDATE operator SET status = 'ready', status_since = now() WHERE id = ANY(%s)",
                   ([o.id for o in ops],))  # one transaction: five events in one chunk of the stream, most likely
    page.wait_for_function("window.seen.length === 5", timeout=LIVE_MS)
    # each one drawn at once, unless a frame came and went within FRAME_MS of the drawing that asked for it
    assert all(shown == "ready" or gated for _, shown, gated in page.evaluate("window.seen")), page.evaluate("window.seen")
    page.wait_for_function("[...document.querySelectorAll('#sv-operator-rows .sv-row')]"
                           ".every((r) => r.dataset.status === 'ready')", timeout=LIVE_MS)
    assert errors == []


SIP_EVENT = ("INSERT INTO live_event (kind, permission, operator_id, data) VALUES ('sip.registration', 'sip.read', %s,"
             " jsonb_build_object('login', %s, 'device_id', NULL, 'operator_id', %s, 'registration', %s::jsonb))")


def test_a_registration_refreshed_draws_nothing_a_device_going_offline_is_drawn(screen, db):
    """Most registration events at a busy call centre are a phone's registration refreshed or its round-trip time
    measured again: nothing this screen shows changes, so they cost no drawing; a change it shows is drawn."""
    page, errors = screen
    c, ops = team(1, "lr", "ready")
    op = ops[0]
    open_screen(page, op.id)
    page.evaluate("() => { window.sip = 0; window.Dialer.live.on('sip.registration', () => { window.sip++; }); }")
    online = {"online": True, "ip": "10.0.0.7", "port": 5060, "user_agent": "MicroSIP/3.21", "qualify_status": "Reachable"}

    def send(n, **reg):
        db.execute_sql(SIP_EVENT, (op.id, op.login, op.id, json.dumps({**online, **reg})))
        page.wait_for_function(f"window.sip >= {n}", timeout=LIVE_MS)

    cell = page.locator(f"[data-testid=op-sip-{op.id}]")
    send(1, expires_at="2026-01-01T10:00:00+00:00", rtt_us=900)
    page.wait_for_function(f"document.querySelector('[data-testid=op-sip-{op.id}]').textContent.includes('10.0.0.7')",
                           timeout=LIVE_MS)
    page.wait_for_function("window.Supervisor.state.dirtyOps.size === 0", timeout=LIVE_MS)
    flushes = page.evaluate("window.Supervisor.state.flushes")
    for n in range(2, 7):  # refreshed, re-measured: the same device, address, agent and state
        send(n, expires_at=f"2026-01-01T10:0{n}:00+00:00", rtt_us=900 + 150 * n)
    assert page.evaluate("[window.Supervisor.state.flushes, window.Supervisor.state.dirtyOps.size]") == [flushes, 0]
    send(7, online=False)
    page.wait_for_function(f"!document.querySelector('[data-testid=op-sip-{op.id}]').textContent.includes('10.0.0.7')",
                           timeout=LIVE_MS)
    assert "не в сети" in cell.inner_text()
    assert errors == []
