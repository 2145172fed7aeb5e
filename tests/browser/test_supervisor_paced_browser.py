"""The supervisor's stream is paced by the server (web/live.py `pace`, web/pages/supervisor.py LIVE_PACE_MS): a burst
of changes, each its own commit, reaches the page in at most one message per pace, and the page shows every change
of the burst; a page that does not ask (the operator panel) is not paced.

As in test_supervisor_browser.py, the engine is not running: the test writes what the engine writes."""
from __future__ import annotations

import time

from dialer.models import Operator
from dialer.services import users
from web.pages.supervisor import LIVE_PACE_MS

from .conftest import PASSWORD, sign_in
from .test_supervisor_browser import LIVE_MS, open_screen, screen  # noqa: F401
from .test_supervisor_live_browser import team

ROW_STATUS = "(id) => document.querySelector('[data-testid=op-row-' + id + ']').dataset.status"
STATUSES = ("ready", "in_call", "wrap_up", "paused", "lunch")


def test_a_burst_of_changes_comes_in_at_most_one_message_per_pace_and_every_change_is_shown(screen, db):
    page, errors = screen
    streams = []
    page.on("request", lambda r: streams.append(r.url) if "/events" in r.url else None)
    _, ops = team(6, "sp", "paused")
    open_screen(page, ops[0].id)
    assert any(f"pace={LIVE_PACE_MS}" in url for url in streams), streams

    before = page.evaluate("window.Dialer.live.messages")
    started = time.monotonic()
    last = {}
    for step in range(5):  # 30 changes, each committed alone, ~10 ms apart
        for i, op in enumerate(ops):
            last[op.id] = STATUSES[(i + step) % len(STATUSES)]
            db.execute_sql("UPDATE operator SET status = %s, status_since = now() WHERE id = %s", (last[op.id], op.id))
            time.sleep(0.01)
    burst_s = time.monotonic() - started
    for op_id, status in last.items():
        page.wait_for_function(f"({ROW_STATUS})({op_id}) === {status!r}", timeout=LIVE_MS)
    messages = page.evaluate("window.Dialer.live.messages") - before
    # the server sends at most one message per pace: the burst and one pace after it, plus the first at once
    assert 1 <= messages <= (burst_s * 1000 + LIVE_PACE_MS) / LIVE_PACE_MS + 1, (messages, burst_s)
    assert messages < 30
    assert errors == []


def test_the_operator_panel_is_not_paced(accounts, browser, web_url):
    op = Operator.create(name="Оператор", login="spp", sip_password="secret-123", status="paused")
    users.create_user("spp@example.org", "Оператор", PASSWORD, [accounts["operator"]], operator_id=op.id)
    ctx = browser.new_context(base_url=web_url, viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    streams = []
    page.on("request", lambda r: streams.append(r.url) if "/events" in r.url else None)
    sign_in(page, "spp@example.org", PASSWORD)
    page.goto("/panel")
    page.wait_for_function("document.getElementById('live-status').dataset.state === 'open'")
    assert streams and not any("pace=" in url for url in streams), streams
    ctx.close()
