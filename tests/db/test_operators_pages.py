"""«Операторы» and «Телефония» through HTTP with real sessions: every page and form × the six roles (allowed → done,
refused → 403 and nothing changed), an operator's own records giving them nothing more, bad input on every field
(a message in the user's language, nothing changed), the pools grid saved at once, the CSV import all or nothing,
and SIP passwords shown once and never again."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from dialer.models import Attempt, Campaign, Lead, Operator, SipDevice
from dialer.permissions import ROLES
from dialer.services import devices, operators, users
from web import auth

PERMS = {code: perms for code, _, _, perms in ROLES}
PASSWORD = "walk-password-1"


@pytest.fixture
def world(db, roles, signed_in):
    c1 = Campaign.create(name="Подтверждение").id
    c2 = Campaign.create(name="Допродажа").id
    a = operators.create_operator("Анна", "anna", "S3cret-for-A", [c1])
    b = operators.create_operator("Борис", "boris", "S3cret-for-B")
    fresh = operators.create_operator("Новичок", "fresh", "S3cret-for-F")
    seat = devices.create_device("seat-1", seat="Место 1")
    spare = devices.create_device("spare-1")
    free = users.create_user("free@example.org", "Свободный", PASSWORD, [roles["operator"]])
    return {"session": signed_in, "roles": roles, "c1": c1, "c2": c2, "a": a, "b": b, "fresh": fresh, "seat": seat,
            "spare": spare, "free": free, "secrets": [a["sip_password"], b["sip_password"], fresh["sip_password"],
                                                       seat["password"], spare["password"]]}


def state(db) -> str:
    """What the section changes, as one comparable text (passwords included: a refused change leaves them)."""
    parts = [db.execute_sql(q).fetchall() for q in (
        "SELECT id, name, login, active FROM operator ORDER BY id",
        "SELECT login, password, operator_id, seat, codecs, transport, direct_media, active FROM sip_device ORDER BY id",
        "SELECT operator_id, campaign_id FROM operator_campaign ORDER BY 1, 2",
        "SELECT operator_id, skill, level FROM operator_skill ORDER BY 1, 2",
        "SELECT id, email, operator_id, active FROM app_user ORDER BY id")]
    return json.dumps(parts, default=str)


def requests(w) -> list[tuple[str, str, dict | None, str]]:
    a, b, fresh, seat, spare = w["a"]["id"], w["b"]["id"], w["fresh"]["id"], w["seat"]["id"], w["spare"]["id"]
    return [
        ("GET", "/operators", None, "operators.read"),
        ("GET", "/operators/new", None, "operators.create"),
        ("GET", f"/operators/{a}", None, "operators.read"),
        ("GET", "/operators/pools", None, "operators.read"),
        ("GET", "/operators/import", None, "operators.create"),
        ("GET", "/telephony", None, "sip.read"),
        ("GET", f"/telephony/devices/{seat}", None, "sip.read"),
        ("POST", "/operators", {"name": "Вера", "login": "vera", "create_device": "on", "password_mode": "generate",
                                "account_mode": "none"}, "operators.create"),
        ("POST", f"/operators/{a}", {"name": "Анна П."}, "operators.update"),
        ("POST", f"/operators/{a}/skills", {"skill": ["sales"], "level": ["4"]}, "operators.update"),
        ("POST", f"/operators/{a}/pools", {"campaign_ids": [str(w["c2"])]}, "operators.pools"),
        ("POST", "/operators/pools", {"row": [str(a), str(b)], "pool": [f"{b}:{w['c1']}"]}, "operators.pools"),
        ("POST", f"/operators/{b}/account", {"user_id": str(w["free"]["id"])}, "users.update"),
        ("POST", f"/operators/{b}/deactivate", {}, "operators.update"),
        ("POST", f"/operators/{fresh}/delete", {}, "operators.delete"),
        ("POST", "/operators/import", {"text": "name,login\nГалина,galina\n"}, "operators.create"),
        ("POST", "/telephony/devices", {"login": "desk-9", "password_mode": "generate", "bind": "seat", "seat": "Место 9",
                                        "codecs": "alaw", "transport": "udp"}, "sip.edit"),
        ("POST", f"/telephony/devices/{seat}", {"bind": "seat", "seat": "Место 1", "codecs": "g722,alaw",
                                                "transport": "tcp", "active": "on"}, "sip.edit"),
        ("POST", f"/telephony/devices/{seat}/password", {"password_mode": "generate"}, "sip.edit"),
        ("POST", f"/telephony/devices/{spare}/delete", {}, "sip.edit"),
    ]


@pytest.mark.parametrize("role", list(PERMS))
def test_every_page_and_form_by_role(db, world, role):
    client = world["session"](role)
    for method, path, form, permission in requests(world):
        before = state(db)
        r = client.get(path) if method == "GET" else client.post(path, data=form)
        if permission in PERMS[role]:
            assert r.status_code < 400, (role, method, path, r.status_code, r.text[:500])
            if method == "POST":
                assert state(db) != before, (role, path, "allowed but changed nothing")
        else:
            assert r.status_code == 403, (role, method, path, r.status_code)
            assert state(db) == before, (role, path)
    denied = db.execute_sql("SELECT count(*) FROM audit_log WHERE name = 'Запрос отклонён'").fetchone()[0]
    assert denied == sum(1 for *_, p in requests(world) if p not in PERMS[role])


def test_an_operators_own_record_and_device_give_them_nothing(db, world):
    """Own or someone else's: an operator linked to Анна reads and changes neither her record nor her phone."""
    client = world["session"]("operator", operator_id=world["a"]["id"])
    mine = SipDevice.get(SipDevice.operator == world["a"]["id"]).id
    theirs = SipDevice.get(SipDevice.operator == world["b"]["id"]).id
    before = state(db)
    for target_op, target_dev in ((world["a"]["id"], mine), (world["b"]["id"], theirs)):
        assert client.get(f"/operators/{target_op}").status_code == 403
        assert client.get(f"/telephony/devices/{target_dev}").status_code == 403
        assert client.post(f"/telephony/devices/{target_dev}/password", data={}).status_code == 403
        assert client.post(f"/operators/{target_op}", data={"name": "x"}).status_code == 403
    assert state(db) == before


def test_a_supervisor_may_create_an_operator_but_not_their_account_and_nothing_is_half_made(db, world):
    client = world["session"]("supervisor")
    before = state(db)
    r = client.post("/operators", data={"name": "Вера", "login": "vera", "create_device": "on",
                                        "password_mode": "generate", "account_mode": "create",
                                        "email": "vera@example.org", "account_password": "vera-password-1"})
    assert r.status_code == 403 and "users.create" in r.text
    assert state(db) == before


def test_sip_passwords_are_shown_once_and_never_again(db, world):
    client = world["session"]("admin")
    r = client.post("/operators", data={"name": "Вера", "login": "vera", "create_device": "on", "password_mode": "type",
                                        "sip_password": "Typed-pass-2024", "account_mode": "none"})
    assert r.status_code == 200 and "Typed-pass-2024" in r.text and r.headers["cache-control"] == "no-store"
    vera = Operator.get(Operator.login == "vera").id
    device = SipDevice.get(SipDevice.login == "vera").id
    new = client.post(f"/telephony/devices/{device}/password", data={"password_mode": "generate"})
    shown = re.search(r'data-testid="once-password">([^<]+)<', new.text).group(1)
    assert shown == SipDevice.get_by_id(device).password and new.headers["cache-control"] == "no-store"
    pages = [client.get(p).text for p in ("/operators", f"/operators/{vera}", "/telephony", f"/telephony/devices/{device}",
                                          "/operators/pools", "/access/audit")]
    api = [client.get(p, headers={"Authorization": f"Bearer {world_token(client)}"}).text
           for p in ("/api/operators", f"/api/operators/{vera}")]
    audit = " ".join(r[0] for r in db.execute_sql("SELECT changes::text FROM audit_log").fetchall())
    for secret in ["Typed-pass-2024", shown, *world["secrets"]]:
        assert all(secret not in text for text in pages + api + [audit]), secret


def world_token(client):
    return client.app.state.api_token


# ---- bad input: the user's language, nothing changed ----------------------------------------------------------
NEW_OK = {"name": "Вера", "login": "vera", "create_device": "on", "password_mode": "generate", "account_mode": "none"}
BAD_NEW = [
    ({"name": ""}, 422, "name"), ({"name": "x" * 201}, 422, "name"), ({"name": "a\x07b"}, 422, "name"),
    ({"login": "Vera"}, 422, "login"), ({"login": "v"}, 422, "login"), ({"login": "anna"}, 409, "login"),
    ({"login": "seat-1"}, 409, "login"),
    ({"password_mode": "type", "sip_password": "short1"}, 422, "sip_password"),
    ({"password_mode": "type", "sip_password": "verylongbutnodigits"}, 422, "sip_password"),
    ({"password_mode": "type", "sip_password": ""}, 422, "sip_password"),
    ({"campaign_ids": ["x"]}, 422, "campaign_ids"), ({"campaign_ids": ["999"]}, 404, "campaign_ids"),
    ({"skill": ["Sales!"], "level": ["3"]}, 422, "skills"), ({"skill": ["sales"], "level": ["11"]}, 422, "skills"),
    ({"skill": ["sales"], "level": ["x"]}, 422, "skills"), ({"skill": ["a", "a"], "level": ["1", "2"]}, 422, "skills"),
    ({"account_mode": "create", "email": "not-an-email", "account_password": "long-enough-1"}, 422, "email"),
    ({"account_mode": "create", "email": "vera@example.org", "account_password": "short"}, 422, "password"),
    ({"account_mode": "create", "email": "free@example.org", "account_password": "long-enough-1"}, 409, "email"),
    ({"account_mode": "link", "user_id": "999"}, 404, "user_id"), ({"account_mode": "link", "user_id": "x"}, 422, "user_id"),
    ({"account_mode": "both"}, 422, "account"),
]


def test_bad_new_operator_changes_nothing(db, world):
    client = world["session"]("admin")
    before = state(db)
    for change, status, field in BAD_NEW:
        r = client.post("/operators", data={**NEW_OK, **change})
        assert r.status_code == status, (change, r.text[:300])
        assert state(db) == before, change
        message = _error(r.text)
        assert re.search(r"[а-яё]", message), (change, message)  # the user's language: Russian
        assert field in message or f'data-field-error="{field}' in r.text or status != 422, (change, message)


def _error(html: str) -> str:
    found = re.findall(r'data-field-error="[^"]*">([^<]+)<', html) + re.findall(r'data-testid="form-error">([^<]+)<', html)
    return " ".join(found)


def test_messages_follow_the_users_language(db, world):
    client = world["session"]("admin")
    client.cookies.set(auth.Cookies.LANG, "en")
    r = client.post("/operators", data={**NEW_OK, "password_mode": "type", "sip_password": "weak"})
    assert r.status_code == 422 and "at least 10" in _error(r.text) and not re.search(r"[а-яё]", _error(r.text))
    client.cookies.set(auth.Cookies.LANG, "ru")
    r = client.post("/operators", data={**NEW_OK, "password_mode": "type", "sip_password": "weak"})
    assert "от 10 до 128" in _error(r.text)


DEVICE_OK = {"login": "desk-9", "password_mode": "generate", "bind": "none", "codecs": "ulaw,alaw", "transport": "udp",
             "rtp_symmetric": "on", "force_rport": "on", "rewrite_contact": "on"}
BAD_DEVICE = [
    ({"login": "Desk 9"}, 422, "login"), ({"login": ""}, 422, "login"), ({"login": "anna"}, 409, "login"),
    ({"login": "boris"}, 409, "login"),
    ({"password_mode": "type", "password": "desk9"}, 422, "password"),
    ({"password_mode": "type", "password": "no-digits-here"}, 422, "password"),
    ({"codecs": ""}, 422, "codecs"), ({"codecs": "ulaw,mp3"}, 422, "codecs"), ({"codecs": "alaw,alaw"}, 422, "codecs"),
    ({"transport": "tls"}, 422, "transport"), ({"server": "elsewhere"}, 422, "server"),
    ({"bind": "seat", "seat": "x" * 101}, 422, "seat"), ({"bind": "seat", "seat": "место 1"}, 409, "seat"),
    ({"bind": "operator", "operator_id": ""}, 422, "operator_id"), ({"bind": "operator", "operator_id": "999"}, 404, "operator_id"),
]


def test_bad_new_device_changes_nothing(db, world):
    client = world["session"]("admin")
    before = state(db)
    for change, status, field in BAD_DEVICE:
        r = client.post("/telephony/devices", data={**DEVICE_OK, **change})
        assert r.status_code == status, (change, r.text[:300])
        assert state(db) == before and re.search(r"[а-яё]", _error(r.text)), change
        if status == 422:
            assert f'data-field-error="{field}"' in r.text, change


BAD_EDITS = [
    ("/telephony/devices/{seat}", {"bind": "seat", "seat": "Место 1", "codecs": "speex", "transport": "udp"}, 422),
    ("/telephony/devices/{seat}", {"bind": "operator", "operator_id": "{a}", "codecs": "alaw", "transport": "udp"}, 409),
    ("/telephony/devices/{seat}/password", {"password_mode": "type", "password": "seat-no-digits"}, 422),
    ("/operators/{a}", {"name": ""}, 422),
    ("/operators/{a}/skills", {"skill": ["sales"], "level": ["0"]}, 422),
    ("/operators/{a}/pools", {"campaign_ids": ["999"]}, 404),
    ("/operators/{a}/account", {"user_id": "999"}, 404),
    ("/operators/{a}/account/new", {"email": "x", "account_password": "long-enough-1"}, 422),
    ("/operators/pools", {"row": ["{a}"], "pool": ["{a}:999"]}, 404),
    ("/operators/pools", {"row": ["{a}"], "pool": ["{a}:x"]}, 422),
    ("/operators/pools", {"row": ["999"], "pool": []}, 404),
]


def test_bad_edits_change_nothing(db, world):
    client = world["session"]("admin")
    ids = {"a": world["a"]["id"], "seat": world["seat"]["id"]}
    fill = lambda v: v.format(**ids) if isinstance(v, str) else [x.format(**ids) for x in v]  # noqa: E731
    before = state(db)
    for path, form, status in BAD_EDITS:
        r = client.post(fill(path), data={k: fill(v) for k, v in form.items()})
        assert r.status_code == status, (path, form, r.text[:300])
        assert state(db) == before and re.search(r"[а-яё]", _error(r.text)), (path, form)


# ---- flows ---------------------------------------------------------------------------------------------------
def test_a_new_operator_with_device_pools_skills_and_account_in_one_form(db, world):
    client = world["session"]("admin")
    r = client.post("/operators", data={**NEW_OK, "campaign_ids": [str(world["c1"]), str(world["c2"])],
                                        "skill": ["sales", "vip", ""], "level": ["5", "2", ""],
                                        "account_mode": "create", "email": "vera@example.org",
                                        "account_password": "vera-password-1", "language": "en"})
    assert r.status_code == 200
    vera = Operator.get(Operator.login == "vera")
    card = operators.get_operator(vera.id)
    assert card["campaign_ids"] == sorted([world["c1"], world["c2"]])
    assert db.execute_sql("SELECT skill, level FROM operator_skill WHERE operator_id = %s ORDER BY 1",
                          (vera.id,)).fetchall() == [("sales", 5), ("vip", 2)]
    user = db.execute_sql("SELECT u.email, r.code FROM app_user u JOIN user_role ur ON ur.user_id = u.id"
                          " JOIN role r ON r.id = ur.role_id WHERE u.operator_id = %s", (vera.id,)).fetchall()
    assert user == [("vera@example.org", "operator")]
    assert SipDevice.get(SipDevice.login == "vera").operator_id == vera.id
    page = client.get("/operators").text
    assert "vera@example.org" in page and 'data-reg-login="vera"' in page and 'data-live-operator-status' in page


def test_the_pools_grid_saves_every_row_at_once(db, world):
    client = world["session"]("admin")
    a, b, c1, c2 = world["a"]["id"], world["b"]["id"], world["c1"], world["c2"]
    r = client.post("/operators/pools", data={"row": [str(a), str(b)], "pool": [f"{a}:{c2}", f"{b}:{c1}", f"{b}:{c2}"]})
    assert r.status_code in (302, 303) or r.status_code == 200
    assert operators.get_operator(a)["campaign_ids"] == [c2]
    assert operators.get_operator(b)["campaign_ids"] == sorted([c1, c2])
    assert operators.get_operator(world["fresh"]["id"])["campaign_ids"] == []  # not in the grid sent: untouched
    changes = db.execute_sql("SELECT count(*) FROM audit_log WHERE name = 'Пулы кампаний оператора изменены'").fetchone()[0]
    assert changes == 2
    page = client.get("/operators/pools").text
    assert f'value="{a}:{c2}" data-col="{c2}"' in page and 'checked' in page.split(f'value="{a}:{c2}"')[1][:200]


def test_deleting_refuses_an_operator_in_a_call_or_with_history(db, world):
    client = world["session"]("admin")
    a = world["a"]["id"]
    Operator.update(status="in_call").where(Operator.id == a).execute()
    before = state(db)
    r = client.post(f"/operators/{a}/delete")
    assert r.status_code == 409 and state(db) == before
    r = client.post(f"/operators/{a}/deactivate")
    assert r.status_code == 409 and state(db) == before
    Operator.update(status="paused").where(Operator.id == a).execute()
    lead = Lead.create(campaign=world["c1"], external_id="L1", phone="+79000000001")
    Attempt.create(lead=lead.id, campaign=world["c1"], operator=a, phone="+79000000001", outcome="BUSY",
                   ended_at=datetime.now(timezone.utc))
    r = client.post(f"/operators/{a}/delete")
    assert r.status_code == 409 and "отключите" in _error(r.text) and state(db) == before
    assert client.post(f"/operators/{a}/deactivate").status_code < 400
    assert not Operator.get_by_id(a).active
    assert db.execute_sql("SELECT count(*) FROM ps_endpoints WHERE id = 'anna'").fetchone()[0] == 0
    fresh = world["fresh"]["id"]
    assert client.post(f"/operators/{fresh}/delete").status_code < 400
    assert not Operator.select().where(Operator.id == fresh).exists()
    assert not SipDevice.select().where(SipDevice.login == "fresh").exists()


# ---- the CSV import ------------------------------------------------------------------------------------------
def test_import_of_200_operators_with_devices_at_once(db, world):
    client = world["session"]("admin")
    lines = ["name;login;sip_password;campaigns;skills"]
    lines += [f"Оператор {i};imp{i:03d};;Подтверждение|{world['c2']};sales:{i % 10 + 1}" for i in range(200)]
    r = client.post("/operators/import", data={"text": "\n".join(lines) + "\n"})
    assert r.status_code == 200, _error(r.text)
    assert Operator.select().where(Operator.login.startswith("imp")).count() == 200
    assert SipDevice.select().where(SipDevice.login.startswith("imp")).count() == 200
    shown = re.findall(r"<td><code>(imp\d+)</code></td><td><code>([^<]+)</code></td>", r.text)
    assert len(shown) == 200 and all(SipDevice.get(SipDevice.login == login).password == pw for login, pw in shown[:5])
    assert db.execute_sql("SELECT count(*) FROM ps_auths WHERE id LIKE 'imp%%'").fetchone()[0] == 200
    assert operators.get_operator(Operator.get(Operator.login == "imp007").id)["campaign_ids"] == sorted(
        [world["c1"], world["c2"]])


def test_import_with_bad_lines_writes_nothing_and_names_every_bad_line(db, world):
    client = world["session"]("admin")
    text = ("name,login,sip_password,campaigns,skills\n"
            "Хорошая,good1,,,\n"
            ",noname,,,\n"                      # line 3: no name
            "Плохой логин,Bad Login,,,\n"       # line 4
            "Занятый,anna,,,\n"                 # line 5: taken
            "Слабый,weak1,password,,\n"         # line 6: weak password
            "Кампания,camp1,,Нет такой,\n"      # line 7: unknown campaign
            "Навык,skill1,,,sales:11\n"         # line 8: level out of range
            "Дубль,good1,,,\n")                 # line 9: twice in the file
    before = state(db)
    r = client.post("/operators/import", data={"text": text})
    assert r.status_code == 422 and state(db) == before
    lines = sorted({int(x) for x in re.findall(r'<tr data-line="(\d+)">', r.text)})
    assert lines == [3, 4, 5, 6, 7, 8, 9]
    assert "Ничего не импортировано" in r.text or "ничего не импортировано" in r.text.lower()


def test_import_refuses_a_file_it_cannot_read(db, world):
    client = world["session"]("admin")
    before = state(db)
    for text, error in [("login\nx1\n", "name"), ("", "Выберите файл"), ("name,login\n", "нет операторов"),
                        ("name,login,login\nA,a1,a2\n", "дважды")]:
        r = client.post("/operators/import", data={"text": text})
        assert r.status_code == 422 and state(db) == before and error in _error(r.text), (text, _error(r.text))


# ---- the JSON API: the same use cases and permissions -----------------------------------------------------------
def api_requests(w) -> list[tuple[str, str, object, str]]:
    seat, spare, a, fresh = w["seat"]["id"], w["spare"]["id"], w["a"]["id"], w["fresh"]["id"]
    return [
        ("GET", "/api/sip/devices", None, "sip.read"),
        ("GET", f"/api/sip/devices/{seat}", None, "sip.read"),
        ("POST", "/api/sip/devices", {"login": "desk-9", "seat": "Место 9"}, "sip.edit"),
        ("PATCH", f"/api/sip/devices/{seat}", {"codecs": ["g722"], "direct_media": True}, "sip.edit"),
        ("POST", f"/api/sip/devices/{seat}/password", {}, "sip.edit"),
        ("DELETE", f"/api/sip/devices/{spare}", None, "sip.edit"),
        ("PATCH", f"/api/operators/{a}", {"name": "Анна П."}, "operators.update"),
        ("PUT", "/api/operators/pools", {"pools": {str(a): [w["c2"]]}}, "operators.pools"),
        ("POST", "/api/operators/import", "name,login\nГалина,galina\n", "operators.create"),
        ("DELETE", f"/api/operators/{fresh}", None, "operators.delete"),
    ]


@pytest.mark.parametrize("role", list(PERMS))
def test_the_api_by_role(db, world, role):
    client = world["session"](role)
    for method, path, body, permission in api_requests(world):
        before = state(db)
        kw = {"content": body, "headers": {"Content-Type": "text/csv"}} if isinstance(body, str) else \
            ({"json": body} if body is not None else {})
        r = client.request(method, path, **kw)
        if permission in PERMS[role]:
            assert r.status_code < 300, (role, method, path, r.status_code, r.text[:300])
            assert method == "GET" or state(db) != before, (role, path)
        else:
            assert r.status_code == 403 and state(db) == before, (role, method, path, r.status_code)


def test_the_api_shows_a_password_only_in_the_answer_that_sets_it_and_refuses_bad_input(db, world):
    client = world["session"]("admin")
    made = client.post("/api/sip/devices", json={"login": "desk-9", "password": "Desk-phone-2024"}).json()
    assert made["password"] == "Desk-phone-2024"
    new = client.post(f"/api/sip/devices/{made['id']}/password", json={}).json()["password"]
    for text in (client.get("/api/sip/devices").text, client.get(f"/api/sip/devices/{made['id']}").text,
                 client.get("/api/operators").text, client.get(f"/api/operators/{world['a']['id']}").text):
        assert '"password"' not in text and new not in text and "Desk-phone-2024" not in text
    before = state(db)
    for method, path, body, status, field in [
        ("POST", "/api/sip/devices", {"login": "desk-10", "password": "weak"}, 422, "password"),
        ("POST", "/api/sip/devices", {"login": "Desk 10"}, 422, "login"),
        ("POST", "/api/sip/devices", {"login": "desk-10", "transport": "tls"}, 422, "transport"),
        ("POST", "/api/sip/devices", {"login": "desk-10", "codecs": ["mp3"]}, 422, "codecs"),
        ("POST", "/api/sip/devices", {"login": "desk-10", "server": "other"}, 422, "server"),
        ("POST", "/api/sip/devices", {"login": "desk-10", "codecs": "alaw"}, 400, None),  # not a list: the schema
        ("POST", "/api/sip/devices", {"login": "desk-10", "colour": "red"}, 400, None),
        ("PATCH", f"/api/sip/devices/{made['id']}", {"login": "other"}, 422, "login"),
        ("PATCH", f"/api/sip/devices/{made['id']}", {"operator_id": 999}, 404, "operator_id"),
        ("PATCH", f"/api/operators/{world['a']['id']}", {"name": ""}, 422, "name"),
        ("PUT", "/api/operators/pools", {"pools": {"999": []}}, 404, None),
    ]:
        r = client.request(method, path, json=body)
        assert r.status_code == status, (path, body, r.text)
        if field:
            assert r.json()["field"] == field and r.json()["message"] and r.json()["message_ru"], r.json()
    assert state(db) == before
