"""The panel's JSON API with real sessions: a signed-in operator works only with their own operator and calls."""
from __future__ import annotations

import time

import pytest
from litestar.testing import TestClient

from ari_app import events as ev
from ari_app import store
from ari_app.classifier import AttemptFacts
from dialer.models import Attempt, Campaign, EngineCommand, Lead, Operator, OperatorCampaign
from dialer.services import users
from web import auth
from web.app import create_app

PASSWORD = "panel-password-1"


@pytest.fixture
def world(settings, db):
    """Two operators, each a signed-in user, in one campaign; operator A holds a call in wrap-up."""
    users.seed_roles()
    roles = {r["code"]: r["id"] for r in users.list_roles()}
    c = Campaign.create(name="Подтверждение")
    Lead.insert_many([{"campaign": c.id, "external_id": f"Z-{i}", "phone": f"+7900100{i:04d}", "name": f"Клиент {i}"}
                      for i in range(3)]).execute()
    ops = [Operator.create(name=f"Оператор {n}", login=f"op{n.lower()}", sip_password="secret-123", status="paused")
           for n in "AB"]
    OperatorCampaign.insert_many([{"operator": o.id, "campaign": c.id} for o in ops]).execute()
    sessions = []
    for o in ops:
        users.create_user(f"{o.login}@example.org", o.name, PASSWORD, [roles["operator"]], operator_id=o.id)
        sessions.append(users.sign_in(f"{o.login}@example.org", PASSWORD))
    users.create_user("sv@example.org", "Супервайзер", PASSWORD, [roles["supervisor"]])
    sessions.append(users.sign_in("sv@example.org", PASSWORD))
    lead = store.claim(db, ops[0].id, "pbx", "t", time.time(), None)
    for field in ("dial_started_at", "answered_at", "bridged_at"):
        store.record(db, lead.attempt_id, field, time.time())
    store.end_attempt(db, ev.EndAttempt(lead.attempt_id, "ANSWERED", AttemptFacts(answered=True, bridged=True, cause=16),
                                        time.time()))
    Operator.update(status="wrap_up").where(Operator.id == ops[0].id).execute()
    app = create_app(settings, db)
    with TestClient(app) as client:
        yield {"client": client, "ops": ops, "sessions": sessions, "attempt": lead.attempt_id}


def as_user(session) -> dict:
    return {"Cookie": f"{auth.Cookies.SESSION}={session['token']}", "X-CSRF-Token": session["csrf"]}


def test_the_operator_sees_their_own_state_and_call_card(world):
    a, _, _ = world["sessions"]
    r = world["client"].get("/api/panel/state", headers=as_user(a))
    assert r.status_code == 200
    body = r.json()
    assert body["operator_id"] == world["ops"][0].id and body["status"] == "wrap_up"
    assert body["call"]["attempt_id"] == world["attempt"] and body["call"]["phase"] == "wrap_up"
    assert body["call"]["client_name"].startswith("Клиент")
    assert world["client"].get(f"/api/panel/calls/{world['attempt']}", headers=as_user(a)).status_code == 200


@pytest.mark.parametrize("method,path,body", [
    ("GET", "/api/panel/calls/{a}", None),
    ("POST", "/api/panel/calls/{a}/hangup", None),
    ("POST", "/api/panel/calls/{a}/answer", None),
    ("POST", "/api/panel/calls/{a}/wrap-up", {"result": "sold"}),
])
def test_another_operator_gets_403_and_nothing_changes(world, unchanged, method, path, body):
    _, b, _ = world["sessions"]
    with unchanged():
        r = world["client"].request(method, path.format(a=world["attempt"]), headers=as_user(b), json=body)
    assert r.status_code == 403, r.text
    assert r.json()["error"] == "not-your-call"
    assert Attempt.get_by_id(world["attempt"]).wrap_up_at is None


def test_own_wrap_up_is_accepted_and_goes_to_the_engine(world):
    a, _, _ = world["sessions"]
    r = world["client"].post(f"/api/panel/calls/{world['attempt']}/wrap-up", headers=as_user(a),
                             json={"result": "callback", "comment": "вечером", "postpone_minutes": 60})
    assert r.status_code == 202, r.text
    cmd = EngineCommand.get()
    assert (cmd.operator_id, cmd.kind, cmd.payload["postpone_minutes"]) == (world["ops"][0].id, "wrap_up", 60)


def test_requests_act_on_the_signed_in_operator_only(world):
    _, b, _ = world["sessions"]
    client = world["client"]
    assert client.post("/api/panel/status", headers=as_user(b), json={"status": "ready"}).status_code == 202
    assert client.post("/api/panel/auto-answer", headers=as_user(b), json={"on": False}).status_code == 202
    r = client.post("/api/panel/dial", headers=as_user(b), json={"order_id": "Z-2"})
    assert r.status_code == 202, r.text
    assert {c.operator_id for c in EngineCommand.select()} == {world["ops"][1].id}
    assert Operator.get_by_id(world["ops"][1].id).auto_answer is False
    assert Operator.get_by_id(world["ops"][0].id).auto_answer is True


@pytest.mark.parametrize("path,body,status,error", [
    ("/api/panel/status", {"status": "sleep"}, 422, "invalid-field"),
    ("/api/panel/status", {"status": "ready", "operator_id": 1}, 400, "invalid-request"),  # no other operator
    ("/api/panel/auto-answer", {"on": "yes"}, 400, "invalid-request"),
    ("/api/panel/dial", {"phone": "+79001000001", "order_id": "Z-1"}, 422, "invalid-field"),
])
def test_bad_requests_are_refused_and_change_nothing(world, unchanged, path, body, status, error):
    _, b, _ = world["sessions"]
    with unchanged():
        r = world["client"].post(path, headers=as_user(b), json=body)
    assert (r.status_code, r.json()["error"]) == (status, error), r.text


def test_a_user_who_is_not_an_operator_is_refused(world, unchanged):
    _, _, sv = world["sessions"]
    admin_role = {r["code"]: r["id"] for r in users.list_roles()}["admin"]
    users.create_user("admin@example.org", "Админ", PASSWORD, [admin_role])
    admin = users.sign_in("admin@example.org", PASSWORD)
    with unchanged():
        assert world["client"].get("/api/panel/state", headers=as_user(sv)).status_code == 403  # no panel.use
        r = world["client"].post("/api/panel/status", headers=as_user(admin), json={"status": "ready"})
        assert (r.status_code, r.json()["error"]) == (404, "not-an-operator")  # may, but is no operator


def test_without_csrf_token_a_request_is_refused(world, unchanged):
    _, b, _ = world["sessions"]
    headers = as_user(b)
    del headers["X-CSRF-Token"]
    with unchanged():
        assert world["client"].post("/api/panel/status", headers=headers, json={"status": "ready"}).status_code == 403


def test_the_panel_page_opens_for_an_operator(world):
    a, _, _ = world["sessions"]
    r = world["client"].get("/panel", headers=as_user(a))
    assert r.status_code == 200 and 'data-testid="panel"' in r.text and "Готов" in r.text


def test_an_account_without_an_operator_gets_a_message_and_no_panel(world):
    """It saw a made-up «Постобработка 0:01» and its page asked /api/panel again and again (404 each time)."""
    admin_role = {r["code"]: r["id"] for r in users.list_roles()}["admin"]
    users.create_user("admin@example.org", "Админ", PASSWORD, [admin_role])
    admin = users.sign_in("admin@example.org", PASSWORD)
    r = world["client"].get("/panel", headers=as_user(admin))
    assert r.status_code == 200
    assert 'data-testid="panel-no-operator"' in r.text and "не связана с оператором" in r.text
    for absent in ("panel.js", "operatorPanel", 'data-testid="go-ready"', 'data-testid="wrap-up"', "Постобработка"):
        assert absent not in r.text, absent  # no controls and no script that would ask /api/panel
    assert 'href="/panel"' not in r.text  # nor a link to it in the navigation
    operator_page = world["client"].get("/panel", headers=as_user(world["sessions"][0])).text
    assert "panel.js" in operator_page and 'href="/panel"' in operator_page
    r = world["client"].get("/panel", headers={"Cookie": as_user(admin)["Cookie"] + "; dialer_lang=en"})
    assert "not linked to an operator" in r.text
