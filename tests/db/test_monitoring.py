"""«Мониторинг» (web/pages/monitoring.py, /api/monitoring) × the six roles, what it shows, and the reports it reads:
the engine's row per Asterisk server (ari_app/health.py) and each job's runs (dialer/jobs.py → job_run)."""
from __future__ import annotations

import asyncio
import time

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from litestar.testing import TestClient

from dialer.permissions import ROLES
from dialer.services import users
from web import auth
from web.app import create_app

from .test_health import AGI, report

PERMS = {code: perms for code, _, _, perms in ROLES}
ROUTES = ["/monitoring", "/monitoring/panel", "/api/monitoring"]


@pytest.mark.parametrize("role", list(PERMS))
def test_the_page_and_its_data_by_role(settings, db, roles, role):
    users.create_user(f"{role}@example.org", f"Пользователь {role}", "monitor-password-1", [roles[role]])
    s = users.sign_in(f"{role}@example.org", "monitor-password-1")
    headers = {"Cookie": f"{auth.Cookies.SESSION}={s['token']}"}
    may = "monitoring.read" in PERMS[role]
    with TestClient(create_app(settings, db)) as c:
        for path in ROUTES:
            r = c.get(path, headers=headers, follow_redirects=False)
            assert r.status_code == (200 if may else 403), (role, path, r.status_code)
        home = c.get("/", headers=headers)
        anonymous = c.get("/api/monitoring")
    assert ('data-section="monitoring"' in home.text) is may, role
    assert anonymous.status_code == 401
    assert may == (role in ("admin", "sysadmin", "syssupervisor", "tester")), role  # who the catalogue gives it to


def test_the_page_shows_each_part(settings, db):
    report(db, name="pbx", ok=False)
    report(db, "agi", AGI)
    db.execute_sql("UPDATE component_health SET reconnects_today = 4 WHERE component = 'engine'")
    with TestClient(create_app(settings, db)) as c:
        c.headers["Authorization"] = f"Bearer {settings.api_token}"
        html = c.get("/monitoring").text
        data = c.get("/api/monitoring").json()
    assert 'data-testid="mon-ari-pbx" data-state="bad"' in html
    assert "ari-disconnected:pbx" in html and "jobs-not-running" in html
    assert 'data-testid="mon-agi" data-state="ok"' in html
    assert data["healthy"] is False
    assert {r["code"] for r in data["reasons"]} == {"ari-disconnected:pbx", "jobs-not-running"}
    assert data["postgresql"]["connections"] >= 1 and data["postgresql"]["max_connections"] > 1
    assert any(a["application"] == "dialer" for a in data["postgresql"]["by_application"])
    assert data["live"]["listening"] is True and data["live"]["waiting"] == 0
    [engine] = [x for x in data["snapshot"]["components"] if x["component"] == "engine"]
    assert engine["reconnects_today"] == 4


def test_the_live_lag_counts_events_this_web_process_has_not_had(settings, db):
    with TestClient(create_app(settings, db)) as c:
        c.headers["Authorization"] = f"Bearer {settings.api_token}"
        assert c.get("/api/monitoring").json()["live"]["waiting"] == 0
        c.blocking_portal.call(c.app.state.hub.stop)  # the listener stops: what is committed now is not had
        db.execute_sql("INSERT INTO live_event (kind, permission, data, at)"
                       " VALUES ('x', 'monitoring.read', '{}', clock_timestamp() - interval '2 seconds')")
        live = c.get("/api/monitoring").json()["live"]
    assert live["waiting"] == 1 and live["lag_s"] >= 2


# ---- the reports «Мониторинг» reads ------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")
async def test_the_engine_reports_each_server_and_each_change(settings, db):
    from ari_app.engine import Engine
    from dialer.services.health import check

    engine = Engine(settings, db)
    [client] = engine.clients.values()
    task = asyncio.create_task(engine.health.run())
    try:
        await until_row(db, lambda r: r[0] is False, "the first report: ARI not connected")
        client._mark(True)  # the websocket connects: reported at once, not at the next beat
        await until_row(db, lambda r: r[0] is True and r[1] == 0, "connected")
        client._mark(False)
        client._mark(True)  # a reconnect
        await until_row(db, lambda r: r[0] is True and r[1] == 1, "one reconnect today")
    finally:
        task.cancel()
        await client.close()
    health = check(db, [client.name], None)
    codes = [r.code for r in health["reasons"]]
    assert not any(c.startswith(("engine-", "ari-")) for c in codes), codes


async def until_row(db, ok, what, timeout=5.0):
    deadline = time.monotonic() + timeout
    while True:
        row = db.execute_sql("SELECT ok, reconnects_today FROM component_health WHERE component = 'engine'").fetchone()
        if row is not None and ok(row):
            return row
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}: {row}")
        await asyncio.sleep(0.02)


async def test_every_job_run_is_recorded_and_a_failing_job_is_a_reason(settings, db):
    from dialer.jobs import JobRuns
    from dialer.services.health import check

    runs = JobRuns(db, settings.time_zone)
    scheduler = AsyncIOScheduler(timezone="UTC")

    async def works():
        pass

    async def fails():
        raise ValueError("the CRM said no")

    scheduler.add_job(works, "interval", seconds=1, id="works")
    scheduler.add_job(fails, "interval", seconds=1, id="fails")
    runs.watch(scheduler)
    scheduler.start()
    try:
        for _ in range(100):
            rows = {r[0]: r[1:] for r in db.execute_sql(
                "SELECT job, runs, failures, consecutive_failures, last_error, last_success_at, next_run_at,"
                " interval_s FROM job_run").fetchall()}
            if rows.get("fails", (0, 0))[1] >= 2 and rows.get("works", (0,))[0] >= 1:
                break
            await asyncio.sleep(0.1)
    finally:
        scheduler.shutdown(wait=False)
    assert rows["fails"][1] >= 2 and rows["fails"][2] >= 2 and rows["fails"][3] == "ValueError: the CRM said no"
    assert rows["works"][0] >= 1 and rows["works"][4] is not None and rows["works"][6] == 1.0
    assert rows["works"][5] is not None  # the next run, as the scheduler has it
    codes = [r.code for r in check(db, [], None)["reasons"]]
    assert "job-failing:fails" in codes and not any(c.endswith(":works") for c in codes)
