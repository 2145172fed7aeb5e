"""The protective autostop on the supervisor's screen (SPEC B3, F2, F4): a campaign stopped by it shows so with its
reason as it happens (the alert's live event), the supervisor confirms it from the campaign's box and it dials
again — audited with the supervisor as actor; the read-only tester sees the stop but cannot confirm it."""
from __future__ import annotations

import time

from dialer.models import Campaign
from dialer.services import campaigns, pacing, users

from .conftest import PASSWORD, fits, shot


def test_a_campaign_stopped_by_the_autostop_is_shown_live_and_confirmed_by_the_supervisor(db, accounts, signed_in_page):
    cid = campaigns.create_campaign(name="Подтверждение заказов", max_attempts=3, retry_delay_s=3600,
                                    ring_timeout_s=10, wrap_up_limit_s=0)["id"]
    users.create_user("boss@example.org", "Светлана", PASSWORD, [accounts["supervisor"]])
    users.create_user("tester@example.org", "Тест", PASSWORD, [accounts["tester"]])
    boss, boss_errors, _ = signed_in_page("boss@example.org")
    tester, tester_errors, _ = signed_in_page("tester@example.org")
    for page in (boss, tester):
        page.goto("/supervisor")
        page.locator(f"[data-testid=camp-autostop-{cid}]").wait_for()
    button = boss.locator(f"[data-testid=camp-autostop-{cid}]")
    assert button.is_disabled()  # nothing to confirm

    pacing.stop_automatically(db, cid, [pacing.Ended(i, time.time() + i, "ERROR", "503") for i in range(1, 6)])
    state = boss.locator(f"[data-testid=camp-autostop-state-{cid}]")
    boss.wait_for_function(f"!document.querySelector('[data-testid=camp-autostop-{cid}]').disabled")
    assert state.inner_text() == "Автостоп: остановлена" and "503" in state.get_attribute("title")
    assert boss.inner_text(f"[data-testid=camp-state-{cid}]") == "Приостановлена"
    fits(boss)
    shot(boss, "supervisor-autostop")
    # the tester reads it afresh (alerts are not theirs): stopped, and no way to confirm
    tester.reload()
    tester.locator(f"[data-testid=camp-autostop-{cid}]").wait_for()
    tester_state = tester.locator(f"[data-testid=camp-autostop-state-{cid}]")
    # the box is drawn from the board, read once the live stream is open: its text comes a moment after the box
    tester.wait_for_function(f"document.querySelector('[data-testid=camp-autostop-state-{cid}]').textContent"
                             " === 'Автостоп: остановлена'")
    assert tester_state.get_attribute("title").startswith("5 ошибок подряд")
    assert tester.locator(f"[data-testid=camp-autostop-{cid}]").is_disabled()

    button.click()  # disabled at once while the confirmation is sent: the box's text says when it is done
    boss.wait_for_function(f"document.querySelector('[data-testid=camp-autostop-state-{cid}]').textContent"
                           " === 'Автостоп: —'")
    assert button.is_disabled()
    assert state.inner_text() == "Автостоп: —" and state.get_attribute("title") == ""
    assert Campaign.get_by_id(cid).active is True
    [(who,)] = db.execute_sql("SELECT user_name FROM audit_log WHERE object_type = 'campaign' AND object_id = %s"
                              " AND name LIKE 'Автостоп подтверждён%%'", (str(cid),)).fetchall()
    assert who == "Светлана"
    assert boss_errors == [] and tester_errors == []
