"""Call recordings in the browser (SPEC J1): a real call is recorded (pbx + sim, the engine as its own process), a
supervisor plays it from the call card — the `<audio>` element loads it and seeks (HTTP Range) — and the play is
in the audit log; an operator without `recordings.listen` gets 403 on the file, also by guessing ids. The card and
the campaign's «Запись» tab at 1366×768 with no sideways scrolling; screenshots for review."""
from __future__ import annotations

import os

import pytest

from dialer.dev.testing import add_leads, command_all, make_operators, until
from dialer.models import Attempt
from dialer.services import campaigns, recordings, users
from tests.e2e.conftest import asterisk, engine  # noqa: F401  (real Asterisk and the engine process)

from .conftest import PASSWORD, sign_in

pytestmark = pytest.mark.e2e
SHOTS = os.environ.get("DIALER_SCREENSHOTS")


def shot(page, name: str) -> None:
    if SHOTS and os.path.isdir(SHOTS):
        page.screenshot(path=f"{SHOTS}/recording-{name}.png", full_page=True)


def no_sideways_scroll(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")


def test_a_supervisor_plays_and_seeks_a_recording_and_an_operator_without_the_permission_gets_403(
        engine, accounts, browser, web_url):
    db = Attempt._meta.database
    cid = campaigns.create_campaign(name="Записи разговоров", max_attempts=1, retry_delay_s=3600, ring_timeout_s=5,
                                    wrap_up_limit_s=1)["id"]
    db.execute_sql("UPDATE campaign SET record_calls = true WHERE id = %s", (cid,))
    if db.execute_sql("SELECT 1 FROM information_schema.columns WHERE table_name = 'campaign'"
                      " AND column_name = 'calling_window'").fetchone():
        db.execute_sql("""UPDATE campaign SET calling_window = '{"any_hour": true}' WHERE id = %s""", (cid,))
    add_leads(cid, ["79000061201"])
    [op] = make_operators(engine.settings, cid, 1)
    command_all([op["id"]], "ready")
    until(lambda: db.execute_sql("SELECT 1 FROM call_recording WHERE state = 'stored'").fetchone(), 40,
          message="a stored recording")
    [a] = Attempt.select()
    users.create_user("sup@example.org", "Супервайзер", PASSWORD, [accounts["supervisor"]])
    users.create_user("op@example.org", "Оператор", PASSWORD, [accounts["operator"]], operator_id=op["id"])

    ctx = browser.new_context(base_url=web_url, viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    ranges = []
    page.on("response", lambda r: ranges.append(r.status) if "/recordings/" in r.url else None)
    sign_in(page, "sup@example.org")
    page.goto(f"/supervisor/calls/{a.id}")
    player = page.locator("[data-testid=recording-player]")
    player.wait_for()
    # preload="none": opening the card fetches nothing (and logs no listening); the player loads when asked
    assert ranges == []
    page.evaluate("() => { const a = document.querySelector('[data-testid=recording-player]');"
                  " a.preload = 'auto'; a.load(); }")
    page.wait_for_function("() => { const a = document.querySelector('[data-testid=recording-player]');"
                           " return a.readyState >= 1 && a.duration > 4; }", timeout=10_000)
    seeked = page.evaluate("""() => new Promise((done) => {
        const a = document.querySelector('[data-testid=recording-player]');
        a.addEventListener('seeked', () => done(a.currentTime), {once: true});
        a.currentTime = 3.5;
    })""")
    assert abs(seeked - 3.5) < 0.5
    page.evaluate("() => document.querySelector('[data-testid=recording-player]').play().catch(() => null)")
    assert 206 in ranges  # the browser asked for ranges and got them
    assert no_sideways_scroll(page)
    shot(page, "call-recording")
    page.goto(f"/campaigns/{cid}/recording")
    page.locator("[data-testid=record-calls]").wait_for()
    assert no_sideways_scroll(page)
    shot(page, "campaign-recording")
    assert not [e for e in errors if "favicon" not in e], errors
    until(lambda: db.execute_sql("SELECT count(*) FROM audit_log WHERE object_type = 'recording' AND object_id = %s"
                                 " AND name = %s AND user_name = 'Супервайзер'", (str(a.id), recordings.LISTENED)
                                 ).fetchone()[0] >= 1, 5, message="the play in the audit log")
    ctx.close()

    ctx = browser.new_context(base_url=web_url, viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    sign_in(page, "op@example.org")
    for guess in (a.id, a.id + 1, 999_999):  # their own call too: the installation does not allow operators
        assert page.request.get(f"/recordings/{guess}").status == 403
    ctx.close()
