"""«Мониторинг» in headless Chromium at 1366×768: healthy, then a part failing shows without a reload; no sideways
scrolling, no console errors (the favicon is there). Screenshots go to DIALER_SHOTS_DIR when it is set."""
from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest

from dialer import job_history
from dialer.services import users

from ..db.test_health import AGI, job, report
from .conftest import PASSWORD, sign_in

SHOTS = os.environ.get("DIALER_SHOTS_DIR")


@pytest.fixture
def monitor(accounts, browser, web_url):
    users.create_user("ops@example.org", "Олег Эксплуатация", PASSWORD, [accounts["sysadmin"]])
    ctx = browser.new_context(base_url=web_url, viewport={"width": 1366, "height": 768})
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(f"{m.text} {m.location.get('url')}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, "ops@example.org", PASSWORD)
    yield page, errors
    ctx.close()


def shot(page, name):
    if SHOTS:
        page.screenshot(path=os.path.join(SHOTS, f"monitoring-{name}.png"))


def no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")


def test_the_page_shows_the_installation_and_follows_a_failure(monitor, db, settings):
    page, errors = monitor
    report(db, name="pbx")
    report(db, "agi", AGI)
    for name, every in (("claim-queue", 1), ("crm-outbox", 1), ("supervisor-alerts", 15), ("access-upkeep", 600),
                        ("purge-commands", 3600)):
        job(db, name, next_in_s=every, interval_s=every)
    page.goto("/monitoring")
    assert page.locator("[data-testid=mon-verdict]").inner_text().startswith("Всё работает")
    assert page.locator("[data-testid=mon-ari-pbx]").inner_text() == "подключён"
    assert page.locator("[data-testid=mon-agi]").get_attribute("data-state") == "ok"
    assert page.locator("link[rel=icon]").get_attribute("href") == "/static/favicon.svg"
    page.evaluate("window.notReloaded = true")
    no_sideways_scroll(page)
    shot(page, "healthy-ru-1366")

    # ARI drops and a job fails: the page shows it at its next refresh, without a reload
    report(db, name="pbx", ok=False, backlog=12, detail={"operators": 2, "writes_failing_s": 14})
    runs = job_history.Runs()
    now = datetime.now(timezone.utc)
    runs.add(now, now, False, "OperationalError: CRM timed out", now.date())
    job_history.record(db, "crm-outbox", runs, 3, now + timedelta(seconds=1), 1.0, now.date())
    page.wait_for_selector("[data-testid=mon-ari-pbx][data-state=bad]", timeout=8000)
    codes = page.locator("[data-testid=mon-reason]").evaluate_all("els => els.map(e => e.dataset.code)")
    assert codes == ["ari-disconnected:pbx", "engine-write-backlog:pbx", "job-failing:crm-outbox"]
    assert "нет ARI-соединения" in page.locator("[data-testid=mon-verdict]").inner_text()
    assert page.evaluate("window.notReloaded") is True
    no_sideways_scroll(page)
    shot(page, "problems-ru-1366")
    page.goto("/lang/en")
    page.goto("/monitoring")
    assert "no ARI connection" in page.locator("[data-testid=mon-verdict]").inner_text()
    no_sideways_scroll(page)
    shot(page, "problems-en-1366")
    assert errors == []
