"""The supervisor screen, its reads and each forced action × the six roles, through HTTP with real sessions and
real targets: allowed → done (and audited as that user), refused → 403 and nothing changes. The tester sees
everything it may read and can act on nothing; an operator never sees the screen."""
import time

import pytest
from litestar.testing import TestClient

from ari_app import events as ev
from ari_app import store
from ari_app.classifier import AttemptFacts
from dialer.models import Alert, Campaign, EngineCommand, Lead, Operator, OperatorCampaign
from dialer.permissions import ROLES
from dialer.services import pacing, users
from web import auth
from web.app import create_app

PERMS = {code: perms for code, _, _, perms in ROLES}


@pytest.fixture
def world(db):
    users.seed_roles()
    ids = {r["code"]: r["id"] for r in users.list_roles()}

    def session(code):  # one user of that role (password hashing is slow on purpose: only those asked for)
        users.create_user(f"{code}@example.org", f"Пользователь {code}", "walk-password-1", [ids[code]])
        return users.sign_in(f"{code}@example.org", "walk-password-1")

    c = Campaign.create(name="Подтверждение")
    Lead.insert_many([{"campaign": c.id, "external_id": f"A-{i}", "phone": f"+7900000{i:04d}", "name": f"Клиент {i}"}
                      for i in range(4)]).execute()
    ops = [Operator.create(name=f"Оператор {i}", login=f"o{i}", sip_password="secret-123", status="ready")
           for i in range(3)]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": c.id} for o in ops]).execute()
    wrapping, talking, idle = ops
    now = time.time()
    done = store.claim(db, wrapping.id, "pbx", "t", now, None).attempt_id
    store.record(db, done, "answered_at", now)
    store.record(db, done, "bridged_at", now)
    store.end_attempt(db, ev.EndAttempt(done, "ANSWERED", AttemptFacts(answered=True, bridged=True, cause=16), now + 1))
    Operator.update(status="wrap_up").where(Operator.id == wrapping.id).execute()
    live = store.claim(db, talking.id, "pbx", "t", now, None).attempt_id
    # stopped by the protective autostop: confirming it is one of the forced actions
    pacing.stop_automatically(db, c.id, [pacing.Ended(i, now + i, "ERROR", "503") for i in range(1, 6)])
    alert = Alert.create(kind="operator_missed_offers", operator=idle.id, campaign=c.id, text_ru="пропустил 3",
                         text_en="missed 3")
    return {"session": session, "campaign": c.id, "wrapping": wrapping.id, "talking": talking.id,
            "idle": idle.id, "done": done, "live": live, "alert": alert.id}


def _requests(w):
    """(method, path, body, permission, what it changes when allowed)."""
    return [
        ("GET", "/supervisor", None, "supervisor.view"),
        ("GET", "/api/supervisor/board", None, "supervisor.view"),
        ("GET", "/api/supervisor/queues", None, "supervisor.view"),
        ("GET", f"/api/supervisor/calls?ids={w['live']},{w['done']}", None, "supervisor.view"),
        ("GET", f"/api/supervisor/calls/{w['done']}", None, "calls.read"),
        ("GET", f"/supervisor/calls/{w['done']}", None, "calls.read"),
        ("GET", "/api/supervisor/alerts", None, "supervisor.alerts"),
        ("POST", f"/api/supervisor/operators/{w['idle']}/status", {"status": "pause"}, "supervisor.operator_control"),
        ("POST", f"/api/supervisor/operators/{w['talking']}/hangup", {}, "supervisor.operator_control"),
        ("POST", f"/api/supervisor/operators/{w['wrapping']}/release", {}, "supervisor.operator_control"),
        ("POST", f"/api/supervisor/campaigns/{w['campaign']}/confirm-autostop", {}, "supervisor.campaign_control"),
        ("POST", f"/api/supervisor/campaigns/{w['campaign']}/pause", {}, "supervisor.campaign_control"),
        ("POST", f"/api/supervisor/campaigns/{w['campaign']}/resume", {}, "supervisor.campaign_control"),
        ("POST", f"/api/supervisor/alerts/{w['alert']}/acknowledge", {}, "supervisor.alerts"),
    ]


def _state(db):
    return (EngineCommand.select().count(), Campaign.get().active,
            db.execute_sql("SELECT count(*) FROM campaign_pacing WHERE autostopped_at IS NOT NULL").fetchone()[0],
            db.execute_sql("SELECT count(*) FROM alert WHERE acknowledged_at IS NOT NULL").fetchone()[0],
            db.execute_sql("SELECT count(*) FROM audit_log WHERE name LIKE 'Супервайзер:%%'"
                           " OR name = 'Оповещение принято'").fetchone()[0])


@pytest.mark.parametrize("role", list(PERMS))
def test_screen_reads_and_forced_actions_by_role(settings, db, world, role):
    session = world["session"](role)
    headers = {"Cookie": f"{auth.Cookies.SESSION}={session['token']}", "X-CSRF-Token": session["csrf"]}
    allowed_any_action = False
    with TestClient(create_app(settings, db)) as client:
        for method, path, body, permission in _requests(world):
            before = _state(db)
            r = client.request(method, path, headers=headers, json=body, follow_redirects=False)
            if permission in PERMS[role]:
                assert r.status_code in (200, 202), (role, path, r.status_code, r.text)
                if method == "POST":
                    allowed_any_action = True
                    assert _state(db) != before, (role, path)  # it did something
            else:
                assert r.status_code == 403, (role, path, r.status_code)
                assert _state(db) == before, (role, path)  # and nothing changed
        home = client.get("/", headers=headers, follow_redirects=False)
    shows_link = 'data-section="supervisor"' in home.text
    assert shows_link == ("supervisor.view" in PERMS[role]), role
    if role == "tester":
        assert not allowed_any_action
    if role == "operator":
        assert not shows_link
    if allowed_any_action:  # audited as this user, with their role
        names = {row[0] for row in db.execute_sql(
            "SELECT DISTINCT user_name FROM audit_log WHERE name LIKE 'Супервайзер:%%' OR name = 'Оповещение принято'")}
        assert names == {f"Пользователь {role}"}


def test_the_page_shows_actions_only_to_those_who_may_act(settings, db, world):
    def page_for(role):
        s = world["session"](role)
        with TestClient(create_app(settings, db)) as client:
            return client.get("/supervisor", headers={"Cookie": f"{auth.Cookies.SESSION}={s['token']}"}).text

    supervisor, tester = page_for("supervisor"), page_for("tester")
    assert 'data-may-operator="1"' in supervisor and 'data-may-campaign="1"' in supervisor
    assert 'data-may-alerts="1"' in supervisor and 'data-testid="alerts"' in supervisor
    assert 'data-may-operator="0"' in tester and 'data-may-campaign="0"' in tester and 'data-may-alerts="0"' in tester
    assert 'data-testid="alerts"' not in tester
    assert "Рейтинг дня = отвеченные звонки + полные минуты разговора" in supervisor  # the formula, on the page
