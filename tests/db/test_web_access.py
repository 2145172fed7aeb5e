"""Sign-in, sessions, CSRF, users and the audit of their changes, through the app and the services."""
from __future__ import annotations

import re

import pytest
from litestar.testing import TestClient

from dialer.services import audit_log, users
from web import auth
from web.app import create_app

PASSWORD = "access-password-1"


@pytest.fixture
def app_client(settings, db):
    with TestClient(create_app(settings, db)) as c:
        yield c


def _sign_in(client, email, password=PASSWORD):
    page = client.get("/login")
    token = re.search(r'name="_csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"email": email, "password": password, "_csrf": token},
                       follow_redirects=False)


def _csrf(client, path="/"):
    return re.search(r'name="csrf-token" content="([^"]+)"', client.get(path).text).group(1)


def test_seeding_is_idempotent_and_keeps_edited_roles(roles):
    users.set_role_permissions(roles["operator"], ["panel.use"])
    assert users.seed_roles() == 0
    assert next(r for r in users.list_roles() if r["code"] == "operator")["permissions"] == ["panel.use"]
    assert len(roles) == 6


def test_passwords_are_argon2_and_never_in_the_audit_log(db, roles):
    u = users.create_user("a@example.org", "A", PASSWORD, [roles["operator"]])
    stored = db.execute_sql("SELECT password_hash FROM app_user").fetchone()[0]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    users.update_user(u["id"], password="another-password-2")
    text = db.execute_sql("SELECT string_agg(changes::text, ' ') FROM audit_log").fetchone()[0]
    assert PASSWORD not in text and "another-password-2" not in text and "argon2" not in text


def test_lockout_after_five_failures_even_with_the_right_password(db, roles):
    users.create_user("l@example.org", "L", PASSWORD, [roles["operator"]])
    for _ in range(5):
        with pytest.raises(users.Unauthorised, match="wrong"):
            users.sign_in("l@example.org", "wrong-password")
    with pytest.raises(users.Unauthorised) as e:
        users.sign_in("l@example.org", PASSWORD)
    assert e.value.code == "sign-in-locked"
    names = [r[0] for r in db.execute_sql("SELECT name FROM audit_log WHERE object_type = 'session' ORDER BY id")]
    assert names.count("Неудачный вход") == 5 and names[-1].startswith("Вход отклонён")


def test_deactivation_signs_the_user_out_everywhere(app_client, db, roles):
    u = users.create_user("d@example.org", "D", PASSWORD, [roles["admin"]])
    other = users.sign_in("d@example.org", PASSWORD)
    assert _sign_in(app_client, "d@example.org").status_code in (302, 303)
    assert app_client.get("/access/users").status_code == 200
    users.set_active(u["id"], False)
    assert db.execute_sql("SELECT count(*) FROM web_session").fetchone()[0] == 0
    assert users.session_principal(other["token"]) is None
    r = app_client.get("/access/users", follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"].startswith("/login")
    with pytest.raises(users.Unauthorised):
        users.sign_in("d@example.org", PASSWORD)


def test_sign_out_ends_the_session_on_the_server(app_client, roles):
    users.create_user("o@example.org", "O", PASSWORD, [roles["admin"]])
    _sign_in(app_client, "o@example.org")
    cookie = app_client.cookies.get(auth.Cookies.SESSION)
    app_client.post("/logout", data={"_csrf": _csrf(app_client)})
    assert users.session_principal(cookie) is None


def test_session_requests_without_csrf_are_refused_and_change_nothing(app_client, db, roles):
    users.create_user("c@example.org", "C", PASSWORD, [roles["admin"]])
    _sign_in(app_client, "c@example.org")
    before = db.execute_sql("SELECT count(*) FROM app_user").fetchone()[0]
    body = {"email": "x@example.org", "name": "X", "password": "xxxxxxxxxxxx"}
    assert app_client.post("/access/users", data=body).status_code == 403
    assert app_client.post("/api/users", json=body).status_code == 403  # the JSON API with a session too
    assert app_client.post("/access/users", data=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert db.execute_sql("SELECT count(*) FROM app_user").fetchone()[0] == before
    ok = app_client.post("/api/users", json=body, headers={"X-CSRF-Token": _csrf(app_client)})
    assert ok.status_code == 201, ok.text


def test_the_api_token_is_a_system_principal_without_csrf(client, roles):
    r = client.post("/api/users", json={"email": "api@example.org", "name": "API", "password": "api-password-1",
                                        "role_ids": [roles["tester"]]})
    assert r.status_code == 201 and r.json()["roles"] == ["tester"]
    assert client.get("/api/me").json()["roles"] == ["system"]


@pytest.mark.parametrize("body,status,field", [
    ({"email": "not-an-address", "name": "N", "password": "long-enough-1"}, 422, "email"),
    ({"email": "n@example.org", "name": "", "password": "long-enough-1"}, 422, "name"),
    ({"email": "n@example.org", "name": "N", "password": "short"}, 422, "password"),
    ({"email": "n@example.org", "name": "N", "password": "long-enough-1", "role_ids": [999999]}, 404, None),
    ({"email": "n@example.org", "name": "N", "password": "long-enough-1", "operator_id": 999999}, 404, None),
    ({"email": "n@example.org", "name": "N", "password": "long-enough-1", "role_ids": ["1"]}, 400, None),
    ({"email": 5, "name": "N", "password": "long-enough-1"}, 400, None),
    ({"email": "n@example.org", "name": "N", "password": "long-enough-1", "admin": True}, 400, None),
])
def test_bad_user_input_is_refused_and_changes_nothing(client, db, roles, body, status, field):
    r = client.post("/api/users", json=body)
    assert r.status_code == status, r.text
    if field:
        assert r.json()["field"] == field and r.json()["message_ru"]
    assert db.execute_sql("SELECT count(*) FROM app_user").fetchone()[0] == 0


def test_oversized_form_and_unknown_ids_on_pages(app_client, db, roles):
    users.create_user("p@example.org", "P", PASSWORD, [roles["admin"]])
    _sign_in(app_client, "p@example.org")
    token = _csrf(app_client)
    r = app_client.post("/access/users", data={"_csrf": token, "email": "big@example.org", "name": "x" * 20000,
                                               "password": "long-enough-1"})
    assert r.status_code == 400
    assert app_client.post("/access/users/999999/delete", data={"_csrf": token}).status_code == 404
    assert app_client.post("/access/roles/999999", data={"_csrf": token}).status_code == 404
    r = app_client.post("/access/users", data={"_csrf": token, "email": "x@example.org", "name": "X",
                                               "password": "short"})
    assert r.status_code == 422 and "от 10 до 256 символов" in r.text  # in the user's language
    r = app_client.post("/access/users", data={"_csrf": token, "email": "y@example.org", "name": "Y",
                                               "password": "long-enough-1", "role_ids": ["abc"]})
    assert r.status_code == 422 and "списком номеров ролей" in r.text
    r = app_client.post("/access/users", content=b"_csrf=" + token.encode() + b"&name=" + b"x" * (2 * 1024 * 1024),
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 413
    app_client.get("/lang/en")
    r = app_client.post("/access/users", data={"_csrf": token, "email": "x@example.org", "name": "X",
                                               "password": "short"})
    assert r.status_code == 422 and "must be 10 to 256 characters" in r.text
    assert db.execute_sql("SELECT count(*) FROM app_user").fetchone()[0] == 1


def test_user_changes_are_audited_with_old_and_new_values_and_the_actor(app_client, db, roles):
    users.create_user("boss@example.org", "Начальник", PASSWORD, [roles["admin"]])
    target = users.create_user("t@example.org", "Тамара", PASSWORD, [roles["operator"]])
    _sign_in(app_client, "boss@example.org")
    r = app_client.post(f"/access/users/{target['id']}", data={
        "_csrf": _csrf(app_client), "email": "t@example.org", "name": "Тамара К.", "language": "ru",
        "role_ids": [str(roles["supervisor"])], "operator_id": ""}, follow_redirects=False)
    assert r.status_code in (302, 303)
    row = audit_log.search(audit_log.parse_filter({"object_type": "user", "object_id": str(target["id"]),
                                                   "action": "updated"}))[0]
    assert (row["user_name"], row["user_role"]) == ("Начальник", "admin")
    assert row["changes"] == {"name": ["Тамара", "Тамара К."], "roles": [["operator"], ["supervisor"]]}
    stamps = [r[0] for r in db.execute_sql("SELECT at FROM audit_log ORDER BY id")]
    assert len(set(stamps)) == len(stamps)  # microseconds: entries of one request still differ


def test_audit_export_csv_and_xlsx_for_a_period(db, roles):
    import io
    from datetime import date

    from openpyxl import load_workbook

    from dialer import audit

    with audit.acting_as(audit.Actor(None, "=cmd|' /C calc'!A0", "-")):
        users.create_user("e@example.org", "E", PASSWORD, [roles["operator"]])
    today = date.today().isoformat()
    flt = audit_log.parse_filter({"from": today, "to": today})
    text = audit_log.export_csv(flt).decode("utf-8-sig")
    assert text.splitlines()[0].startswith("id,at,user_id") and "e@example.org" in text
    assert "'=cmd" in text  # a spreadsheet shows the text instead of running it
    sheet = load_workbook(io.BytesIO(audit_log.export_xlsx(flt))).active
    rows = list(sheet.values)
    assert rows[0][:3] == ("id", "at", "user_id") and len(rows) == 2
    assert all(not str(c).startswith("=") for c in rows[1] if c is not None)  # no formula injection
    with pytest.raises(Exception, match="period"):
        audit_log.export_csv(audit_log.parse_filter({"from": today}))


@pytest.mark.parametrize("params,field", [({"from": "2026-13-01"}, "from"), ({"action": "renamed"}, "action"),
                                          ({"user_id": "abc"}, "user_id"),
                                          ({"from": "2026-02-01", "to": "2026-01-01"}, "to")])
def test_audit_filter_refuses_bad_values(params, field):
    from dialer.errors import Invalid
    with pytest.raises(Invalid) as e:
        audit_log.parse_filter(params)
    assert e.value.details["field"] == field


def test_own_password_change_checks_the_current_one(app_client, roles):
    users.create_user("me@example.org", "Me", PASSWORD, [roles["operator"]])
    _sign_in(app_client, "me@example.org")
    token = _csrf(app_client, "/me")
    wrong = app_client.post("/me/password", data={"_csrf": token, "current_password": "not-it-at-all",
                                                  "new_password": "brand-new-pass", "repeat_password": "brand-new-pass"})
    assert wrong.status_code == 422 and "указан неверно" in wrong.text
    differ = app_client.post("/me/password", data={"_csrf": token, "current_password": PASSWORD,
                                                   "new_password": "brand-new-pass", "repeat_password": "brand-new-pasz"})
    assert differ.status_code == 422
    users.sign_in("me@example.org", PASSWORD)  # still the old password
    ok = app_client.post("/me/password", data={"_csrf": token, "current_password": PASSWORD,
                                               "new_password": "brand-new-pass", "repeat_password": "brand-new-pass"},
                         follow_redirects=False)
    assert ok.status_code in (302, 303)
    users.sign_in("me@example.org", "brand-new-pass")
    with pytest.raises(users.Unauthorised):
        users.sign_in("me@example.org", PASSWORD)


def test_twenty_concurrent_wrong_passwords_lock_the_account_after_five(db, roles, monkeypatch):
    """Each sign-in read the failure count and wrote count + 1: concurrent ones all wrote 1, and never locked."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(db, "_max_connections", 32)  # a connection per thread: this is about the count, not the pool
    users.create_user("race@example.org", "R", PASSWORD, [roles["operator"]])
    start = threading.Barrier(20)

    def wrong(_):
        start.wait()  # before taking a connection: the pool has fewer than 20
        with db.connection_context():
            with pytest.raises(users.Unauthorised) as e:
                users.sign_in("race@example.org", "wrong-password")
            return e.value.code

    with ThreadPoolExecutor(20) as pool:
        codes = list(pool.map(wrong, range(20)))
    with pytest.raises(users.Unauthorised) as e:
        users.sign_in("race@example.org", PASSWORD)
    assert e.value.code == "sign-in-locked"
    # no more than five passwords were checked, however many came at once; every refusal is audited
    assert sorted(codes) == ["sign-in-failed"] * 5 + ["sign-in-locked"] * 15
    names = [r[0] for r in db.execute_sql("SELECT name FROM audit_log WHERE object_type = 'session'")]
    assert names.count("Неудачный вход") == 5 and len(names) == 21


def test_four_failures_then_the_right_password_signs_in_and_clears_the_count(db, roles):
    users.create_user("four@example.org", "F", PASSWORD, [roles["operator"]])
    for _ in range(4):
        with pytest.raises(users.Unauthorised, match="wrong"):
            users.sign_in("four@example.org", "wrong-password")
    users.sign_in("four@example.org", PASSWORD)  # the fifth attempt, right: in, though it was counted first
    assert db.execute_sql("SELECT failed_logins, locked_until FROM app_user").fetchone() == (0, None)


def test_changing_ones_own_password_signs_out_every_other_session(app_client, roles):
    users.create_user("two@example.org", "Two", PASSWORD, [roles["operator"]])
    elsewhere = users.sign_in("two@example.org", PASSWORD)
    _sign_in(app_client, "two@example.org")
    here = app_client.cookies.get(auth.Cookies.SESSION)
    r = app_client.post("/me/password", data={"_csrf": _csrf(app_client, "/me"), "current_password": PASSWORD,
                                              "new_password": "brand-new-pass", "repeat_password": "brand-new-pass"},
                        follow_redirects=False)
    assert r.status_code in (302, 303) and r.headers["location"] == "/me?saved=1"
    assert users.session_principal(elsewhere["token"]) is None  # the other browser is signed out
    assert users.session_principal(here) is not None  # the one that made the change stays in
    assert app_client.get("/me", follow_redirects=False).status_code == 200


def test_an_administrators_reset_signs_the_user_out_everywhere(app_client, db, roles, monkeypatch, capsys):
    from dialer import cli

    users.create_user("boss@example.org", "Boss", PASSWORD, [roles["admin"]])
    target = users.create_user("reset@example.org", "Reset", PASSWORD, [roles["operator"]])
    sessions = [users.sign_in("reset@example.org", PASSWORD)["token"] for _ in range(2)]
    _sign_in(app_client, "boss@example.org")
    r = app_client.post(f"/access/users/{target['id']}", data={
        "_csrf": _csrf(app_client), "email": "reset@example.org", "name": "Reset", "language": "ru",
        "role_ids": [str(roles["operator"])], "operator_id": "", "password": "reset-by-admin-1"},
        follow_redirects=False)
    assert r.status_code in (302, 303)
    assert [users.session_principal(t) for t in sessions] == [None, None]
    assert app_client.get("/access/users", follow_redirects=False).status_code == 200  # the admin is not the user
    # the same from the shell: `dialer users password EMAIL`
    token = users.sign_in("reset@example.org", "reset-by-admin-1")["token"]
    monkeypatch.setattr("dialer.db.connect", lambda settings: db)
    assert cli.main(["users", "password", "reset@example.org"]) in (0, None)
    assert "reset@example.org  password: " in capsys.readouterr().out
    assert users.session_principal(token) is None


def test_audit_exports_never_fail_on_stored_text(app_client, db, roles):
    """A failed sign-in with a control character in the e-mail made the XLSX export a 500."""
    import io
    from datetime import date

    from openpyxl import load_workbook

    from dialer import audit

    users.create_user("aud@example.org", "Aud", PASSWORD, [roles["admin"]])
    with pytest.raises(users.Unauthorised):
        users.sign_in("evil\x01\x1b[31m@example.org", "whatever-password")
    with audit.acting_as(audit.Actor(None, "bell\x07name", "role\x0b", "10.0.0.1\x1f")), db.atomic():
        audit.record(db, "custom", "type\x02", "id\x03", name="=1+1\x04", new={"note": "tab\there\x05"})
        audit.record(db, "custom", "lead", "\x01=HYPERLINK(\"http://x\")", name="\ufffeodd\uffff")
    _sign_in(app_client, "aud@example.org")
    today = date.today().isoformat()
    r = app_client.get(f"/access/audit/export?format=xlsx&from={today}&to={today}")
    assert r.status_code == 200, r.text[:300]
    rows = list(load_workbook(io.BytesIO(r.content)).active.values)
    cells = [str(c) for row in rows[1:] for c in row if c is not None]
    text = " ".join(cells)
    assert "evil\\x01\\x1b[31m@example.org" in text  # shown, not dropped
    assert "bell\\x07name" in text and "role\\x0b" in text and "10.0.0.1\\x1f" in text
    assert "type\\x02" in text and "id\\x03" in text and "'=1+1\\x04" in text and "\\ufffeodd\\uffff" in text
    assert not any(c.startswith(("=", "+", "-", "@")) for c in cells)  # no formula
    csv = app_client.get(f"/access/audit/export?format=csv&from={today}&to={today}")
    assert csv.status_code == 200 and "evil\x01\x1b[31m@example.org" in csv.content.decode("utf-8-sig")
