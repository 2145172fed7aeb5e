"""The health check over HTTP on a real PostgreSQL (web/api/health.py, dialer/services/health.py): healthy → 200;
each part failing in turn → 503 naming it; a stale engine report → 503; a database that does not answer → 503
within the time limit; who sees only codes and who sees the details; `dialer status`."""
from __future__ import annotations

import threading
import time
from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest
from litestar.testing import TestClient

from dialer import heartbeat, job_history
from dialer.services import users
from web import auth
from web.app import create_app

AGI = "127.0.0.1:4573"


def report(db, component="engine", name="pbx", ok=True, backlog=0, detail=None):
    now = time.time()
    heartbeat.write(db, [heartbeat.Report(component, name, now - 600, ok, now - 300, write_backlog=backlog,
                                          detail=detail or {"operators": 2, "writes_failing_s": 0})])


def job(db, name="claim-queue", ok=True, next_in_s=1.0, interval_s=1.0):
    now = datetime.now(timezone.utc)
    runs = job_history.Runs()
    runs.add(now - timedelta(seconds=1), now, ok, None if ok else "ValueError: boom", date.today())
    job_history.record(db, name, runs, 0 if ok else 1, now + timedelta(seconds=next_in_s), interval_s, date.today())


@pytest.fixture
def healthy(settings, db):
    """Every part reporting well: the engine for each configured Asterisk, AGI, two jobs, a reachable CRM."""
    for server in settings.asterisk_servers:
        report(db, name=server.name)
    report(db, "agi", AGI)
    job(db)
    job(db, "purge-commands", next_in_s=3000, interval_s=3600)
    from dialer.models import Campaign
    c = Campaign.create(name="CRM")
    db.execute_sql("INSERT INTO crm_connection (name, kind, campaign_id, inbound_token) VALUES"
                   " ('Магазин', 'leadvertex', %s, repeat('x', 24))", (c.id,))
    return db


@pytest.fixture
def client(settings, db):
    with TestClient(create_app(settings, db)) as c:
        yield c  # no credentials: what a load balancer sees


def test_healthy_is_200_with_only_a_status_for_the_anonymous(client, healthy):
    r = client.get("/api/health")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ok", "reasons": []}
    assert r.headers["cache-control"] == "no-store"
    assert client.get("/api/health/web").json() == {"status": "ok", "database": "ok"}


def _break(settings, db, what):
    pbx = settings.asterisk_servers[0].name
    match what:
        case "engine-missing":
            db.execute_sql("DELETE FROM component_health WHERE component = 'engine'")
        case "engine-stale":
            db.execute_sql("UPDATE component_health SET updated_at = clock_timestamp() - interval '16 seconds'"
                           " WHERE component = 'engine'")
        case "ari-down":
            report(db, name=pbx, ok=False)
        case "write-backlog":
            report(db, name=pbx, backlog=40, detail={"writes_failing_s": 12.5})
        case "agi-stale":
            db.execute_sql("UPDATE component_health SET updated_at = clock_timestamp() - interval '1 minute'"
                           " WHERE component = 'agi'")
        case "agi-down":
            report(db, "agi", AGI, ok=False)
        case "job-failing":
            job(db, ok=False)
        case "job-late":
            db.execute_sql("UPDATE job_run SET next_run_at = clock_timestamp() - interval '1 minute'"
                           " WHERE job = 'claim-queue'")
        case "jobs-never":
            db.execute_sql("DELETE FROM job_run")
        case "crm-unreachable":
            db.execute_sql("UPDATE crm_connection SET unreachable_since = now() - interval '301 seconds',"
                           " last_error = 'HTTP 503'")
        case "commands-waiting":
            from dialer.models import Operator
            op = Operator.create(name="o", login="o1", sip_password="secret-123")
            from dialer import commands
            commands.enqueue(op.id, commands.Ready())
            db.execute_sql("UPDATE engine_command SET created_at = now() - interval '11 seconds'")


BROKEN = [("engine-missing", "engine-not-reporting:pbx"), ("engine-stale", "engine-not-reporting:pbx"),
          ("ari-down", "ari-disconnected:pbx"), ("write-backlog", "engine-write-backlog:pbx"),
          ("agi-stale", f"agi-not-reporting:{AGI}"), ("agi-down", f"agi-down:{AGI}"),
          ("job-failing", "job-failing:claim-queue"), ("job-late", "job-late:claim-queue"),
          ("jobs-never", "jobs-not-running"), ("crm-unreachable", "crm-unreachable:{crm}"),
          ("commands-waiting", "commands-waiting")]


@pytest.mark.parametrize("what,code", BROKEN, ids=[b[0] for b in BROKEN])
def test_each_part_failing_is_503_naming_it(settings, client, healthy, what, code):
    assert client.get("/api/health").status_code == 200
    _break(settings, healthy, what)
    r = client.get("/api/health")
    assert r.status_code == 503
    crm = healthy.execute_sql("SELECT id FROM crm_connection").fetchone()[0]
    assert r.json() == {"status": "error", "reasons": [code.format(crm=crm)]}  # the anonymous get codes only


def test_the_details_in_both_languages_for_monitoring_read_only(settings, db, healthy, roles):
    _break(settings, db, "ari-down")
    with TestClient(create_app(settings, db)) as c:
        token = c.get("/api/health", headers={"Authorization": f"Bearer {settings.api_token}"}).json()
        for code, expects_details in (("sysadmin", True), ("tester", True), ("supervisor", False), ("operator", False)):
            users.create_user(f"{code}@example.org", code, "health-password-1", [roles[code]])
            s = users.sign_in(f"{code}@example.org", "health-password-1")
            body = c.get("/api/health", headers={"Cookie": f"{auth.Cookies.SESSION}={s['token']}"}).json()
            assert body["reasons"] == ["ari-disconnected:pbx"]
            assert ("details" in body) is expects_details, code
    [detail] = token["details"]
    assert detail["code"] == "ari-disconnected:pbx"
    assert "no ARI connection" in detail["message"] and "нет ARI-соединения" in detail["message_ru"]
    engine = [c for c in token["snapshot"]["components"] if c["component"] == "engine"][0]
    assert engine["ok"] is False and engine["detail"]["operators"] == 2


def test_a_database_that_does_not_answer_is_503_at_once(settings, db, healthy):
    with TestClient(create_app(settings, db)) as c:
        # a lock holds the health check's read: its statement timeout answers instead of waiting
        locked, release = threading.Event(), threading.Event()

        def hold():
            with db.connection_context(), db.atomic():
                db.execute_sql("LOCK TABLE component_health IN ACCESS EXCLUSIVE MODE")
                locked.set()
                release.wait(10)
        holder = threading.Thread(target=hold)
        holder.start()
        try:
            assert locked.wait(5)
            started = time.monotonic()
            r = c.get("/api/health")
            took = time.monotonic() - started
        finally:
            release.set()
            holder.join()
    assert r.status_code == 503 and r.json()["reasons"] == ["database-unavailable"]
    assert took < 1.5, f"the health check took {took:.2f} s"
    # and no database at all (nothing listens on the port)
    from dialer import db as dbm
    with TestClient(create_app(settings, db)) as c:
        c.app.state.db = dbm.connect(replace(settings, db_port=1))
        assert c.get("/api/health").json() == {"status": "error", "reasons": ["database-unavailable"]}
        assert c.get("/api/health/web").status_code == 503


def test_the_health_check_answers_fast(client, healthy):
    took = []
    for _ in range(20):
        started = time.monotonic()
        assert client.get("/api/health").status_code == 200
        took.append(time.monotonic() - started)
    assert sorted(took)[len(took) // 2] < 0.1, took  # median under 100 ms (TestClient round trip included)


def test_dialer_status_says_the_same_and_exits_1(settings, db, healthy, capsys):
    from dialer import cli
    assert cli.main(["status"]) == 0
    assert "Status: all is well" in capsys.readouterr().out
    _break(settings, db, "job-failing")
    assert cli.main(["status", "--lang", "ru"]) == 1
    out = capsys.readouterr().out
    assert "- job-failing:claim-queue: задача «claim-queue» не выполнилась 1 раз подряд: ValueError: boom" in out
    assert cli.main(["status", "--json"]) == 1
    assert '"code": "job-failing:claim-queue"' in capsys.readouterr().out
