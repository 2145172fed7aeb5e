"""«Больше не звонить» through HTTP with real sessions: the page and every action × the six roles (allowed → done,
refused → 403 and nothing changed), every change in the audit log with old → new and who made it, a number some
one else put on the list (an operator's wrap-up) removable only with the list's permission, search by a number
written any way or by the reason, CSV import all or nothing with the wrong lines named, the export read back, and
bad input refused in both languages with nothing changed."""
from __future__ import annotations

import json
import re

import pytest

from dialer.permissions import ROLES
from dialer.services import dnc_admin
from rules import dnc

PERMS = {code: perms for code, _, _, perms in ROLES}


@pytest.fixture
def world(db, signed_in):
    dnc.add("+79001000001", "просил не звонить", "operator", attempt_id=None)
    dnc.add("+79001000002", "жалоба", "crm")
    return {"session": lambda code, lang="ru": signed_in(code, lang)}


def state(db) -> str:
    return json.dumps(db.execute_sql("SELECT phone, reason, source FROM do_not_call ORDER BY phone").fetchall())


def audit_entries(db) -> list[tuple]:
    return db.execute_sql("SELECT user_name, action, name, object_id, changes FROM audit_log "
                          "WHERE object_type = 'do_not_call' ORDER BY id").fetchall()


ACTIONS = [  # (method, path, form, permission)
    ("GET", "/dnc", None, "dnc.read"),
    ("GET", "/dnc?q=900", None, "dnc.read"),
    ("GET", "/dnc/export.csv", None, "dnc.read"),
    ("POST", "/dnc", {"phone": "8 (912) 345-67-89", "reason": "грубил"}, "dnc.edit"),
    ("POST", "/dnc/remove", {"phone": "+79001000002"}, "dnc.edit"),
    ("POST", "/dnc/import", {"text": "phone;reason\n+79123330000;по файлу\n"}, "dnc.edit"),
]


@pytest.mark.parametrize("role", list(PERMS))
def test_every_page_and_action_by_role(db, world, role):
    client = world["session"](role)
    for method, path, form, permission in ACTIONS:
        before = state(db)
        r = client.get(path) if method == "GET" else client.post(path, data=form)
        if permission in PERMS[role]:
            assert r.status_code < 400, (role, path, r.status_code, r.text[:300])
            if method == "POST":
                assert state(db) != before, (role, path, "allowed but changed nothing")
        else:
            assert r.status_code == 403, (role, path, r.status_code)
            assert state(db) == before, (role, path)
    denied = db.execute_sql("SELECT count(*) FROM audit_log WHERE name = 'Запрос отклонён'").fetchone()[0]
    assert denied == sum(1 for *_, p in ACTIONS if p not in PERMS[role])


def test_the_list_shows_in_the_navigation_only_to_those_who_may_read_it(db, world):
    assert 'href="/dnc"' in world["session"]("tester").get("/").text
    assert 'href="/dnc"' not in world["session"]("operator").get("/panel").text


def test_every_change_is_audited_with_old_and_new_and_who(db, world):
    client = world["session"]("supervisor")
    assert client.post("/dnc", data={"phone": "+7 912 345-67-89", "reason": "грубил"}).status_code < 400
    # someone else's entry: an operator's wrap-up put it there; the supervisor may take it off, and the audit
    # keeps where it came from
    assert client.post("/dnc/remove", data={"phone": "8 900 100-00-01"}).status_code < 400
    assert client.post("/dnc/import", data={"text": "79123330000\n+79123330001;свой повод\n+79001000002\n",
                                            "reason": "по файлу"}).status_code < 400
    entries = audit_entries(db)
    assert [(e[0], e[1], e[3]) for e in entries[-3:]] == [
        ("Пользователь supervisor", "created", "+79123456789"), ("Пользователь supervisor", "deleted", "+79001000001"),
        ("Пользователь supervisor", "created", "import")]
    added, removed, imported = (e[4] for e in entries[-3:])
    assert added["reason"] == [None, "грубил"] and added["source"] == [None, "supervisor"]
    assert removed["reason"] == ["просил не звонить", None] and removed["source"] == ["operator", None]
    assert imported["phones"] == [None, ["+79123330000", "+79123330001"]] and imported["added"] == [None, 2]
    reasons = dict(db.execute_sql("SELECT phone, reason FROM do_not_call").fetchall())
    assert reasons["+79123330000"] == "по файлу" and reasons["+79123330001"] == "свой повод"
    assert reasons["+79001000002"] == "жалоба"  # already listed: kept as it was


@pytest.mark.parametrize("query,found", [
    ("8 (900) 100-00-01", ["+79001000001"]), ("+7 900 100 00 02", ["+79001000002"]), ("1000002", ["+79001000002"]),
    ("900", ["+79001000001", "+79001000002"]), ("ЖАЛОБ", ["+79001000002"]), ("50%", []), ("", None),
])
def test_search_by_number_written_any_way_or_by_reason(db, world, query, found):
    result = dnc_admin.search(query)
    phones = sorted(n["phone"] for n in result["numbers"])
    assert phones == (found if found is not None else ["+79001000001", "+79001000002"])
    assert result["total"] == 2 and result["found"] == len(phones)


def test_the_export_is_read_back_by_the_import(db, world):
    client = world["session"]("admin")
    exported = client.get("/dnc/export.csv")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    lines = exported.content.decode("utf-8-sig").splitlines()
    assert lines[0] == "phone;added_at;reason;source" and lines[1].startswith("+79001000001;")
    db.execute_sql("DELETE FROM do_not_call")
    r = client.post("/dnc/import", files={"file": ("do-not-call.csv", exported.content, "text/csv")})
    assert r.status_code == 200 and 'data-testid="imported"' in r.text
    assert db.execute_sql("SELECT phone, reason FROM do_not_call ORDER BY phone").fetchall() == [
        ("+79001000001", "просил не звонить"), ("+79001000002", "жалоба")]


@pytest.mark.parametrize("lang,pattern", [("ru", r"[а-яё]"), ("en", r"^[^а-яё]*$")])
def test_bad_input_is_refused_in_the_users_language_and_changes_nothing(db, world, lang, pattern):
    client = world["session"]("admin", lang)
    cases = [
        ("/dnc", {"phone": "abc", "reason": "x"}, 422, "phone-error"),
        ("/dnc", {"phone": "", "reason": "x"}, 422, "phone-error"),
        ("/dnc", {"phone": "+7900" + "1" * 40, "reason": "x"}, 422, "phone-error"),
        ("/dnc", {"phone": "+79123456789", "reason": ""}, 422, "reason-error"),
        ("/dnc", {"phone": "+79123456789", "reason": "x" * 501}, 422, "reason-error"),
        ("/dnc", {"phone": "+79123456789", "reason": "a\x07b"}, 422, "reason-error"),
        ("/dnc", {"phone": "8 900 100-00-01", "reason": "ещё раз"}, 409, "phone-error"),
        ("/dnc/remove", {"phone": "+79995550000"}, 404, "remove-error"),
        ("/dnc/remove", {"phone": "no-number"}, 422, "remove-error"),
        ("/dnc/import", {"text": ""}, 422, "import-error"),
        ("/dnc/import", {"text": "name;city\nIvan;Moscow\n"}, 422, "import-error"),
        ("/dnc/import", {"text": "phone\n+79123456789\n", "reason": "a\x07b"}, 422, "import-error"),
        ("/dnc/import", {"text": "phone;reason\n+79123456789;ok\nabc;x\n+7912;y\n"}, 422, "import-problems"),
    ]
    before, entries = state(db), len(audit_entries(db))
    for path, form, status, where in cases:
        r = client.post(path, data=form)
        assert r.status_code == status, (path, form, r.status_code, r.text[:300])
        message = re.search(rf'data-testid="{where}"[^>]*>(.*?)</(div|section)>', r.text, re.S)
        assert message, (path, form, where)
        text = re.sub(r"<[^>]+>", " ", message.group(1))
        assert re.search(pattern, text, re.I | re.M), (lang, form, text)
        assert state(db) == before and len(audit_entries(db)) == entries, form
    r = client.get("/dnc?q=" + "9" * 101)
    assert r.status_code == 422 and 'data-testid="q-error"' in r.text


def test_import_names_every_wrong_line(db, world):
    r = world["session"]("admin").post("/dnc/import", data={"text": "phone;reason\n+79123456789;ok\nabc;x\n\n+7912;y\n"})
    assert r.status_code == 422
    assert re.findall(r'<tr data-line="(\d+)">', r.text) == ["3", "5"]


@pytest.mark.parametrize("text,numbers,problems", [
    ("phone\n+79123456789\n", {"+79123456789": ""}, []),
    ("Телефон;Причина\n8 912 345-67-89;грубил\n", {"+79123456789": "грубил"}, []),
    ("79123456789\n89123456780;повод\n", {"+79123456789": "", "+79123456780": "повод"}, []),   # no header
    ("phone,reason\n+79123456789,a\n+7 912 345 67 89,b\n", {"+79123456789": "a"}, []),       # first line wins
    ("phone\nabc\n\n12\n", {}, [2, 4]),
    ("phone;reason\n+79123456789;" + "x" * 501 + "\n", {}, [2]),
])
def test_parse(text, numbers, problems):
    parsed = dnc_admin.parse(text)
    assert parsed.numbers == numbers and [p["line"] for p in parsed.problems] == problems


@pytest.mark.parametrize("query,digits", [
    ("8 (900) 123", "7900123"), ("+7 900", "7900"), ("89001234567", "79001234567"), ("+89001234567", "89001234567"),
    ("Иванов", None), ("900a", None), ("--", None),
])
def test_phone_digits(query, digits):
    assert dnc_admin.phone_digits(query) == digits
