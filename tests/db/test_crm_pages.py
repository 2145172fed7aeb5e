"""The CRM pages with real sessions: render, allow/deny per role, field messages in the user's language,
nothing changed by bad input or forged ids, the audit entry with the token masked, sync now against the
fake LeadVertex, the file import with its preview and the per-line report, the outbox and its retry."""
from __future__ import annotations

import asyncio
import re
import threading

import pytest
from litestar.testing import TestClient

from dialer.crm import connections, store
from dialer.crm.adapter import CrmStatus
from dialer.dev.fake_leadvertex import FakeCrm, fill, sample_shops, start
from dialer.models import CampaignResult, Lead
from dialer.services import campaigns, users
from web import auth
from web.app import create_app

PASSWORD = "crm-pages-password-1"
TOKEN = "secret-token-abcdef1234"


@pytest.fixture
def app(settings, db):
    return create_app(settings, db)


def _session(roles, code: str) -> dict:
    email = f"{code}@crm.example.org"
    users.create_user(email, f"{code} user", PASSWORD, [roles[code]])
    return users.sign_in(email, PASSWORD)


class RoleClient:
    """One signed-in user over the test's single client: their cookies and CSRF token on every request."""

    def __init__(self, client: TestClient, session: dict, lang: str):
        self.client, self.csrf = client, session["csrf"]
        self.cookie = f"{auth.Cookies.SESSION}={session['token']}; {auth.Cookies.LANG}={lang}"

    def request(self, method, path, **kwargs):
        self.client.cookies.clear()
        kwargs.setdefault("follow_redirects", False)
        return self.client.request(method, path, headers={"Cookie": self.cookie, **kwargs.pop("headers", {})},
                                   **kwargs)

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)


@pytest.fixture
def as_role(app, roles):
    """as_role("admin") → that role's user, signed in, over one client of one app."""
    with TestClient(app) as client:
        yield lambda code, lang="ru": RoleClient(client, _session(roles, code), lang)


def _post(client, path, data=None, files=None, csrf=True):
    body = dict(data or {})
    if csrf:
        body["_csrf"] = client.csrf
    return client.post(path, data=body, files=files)


@pytest.fixture
def campaign(db):
    cid = campaigns.create_campaign("Кампания CRM")["id"]
    for i, (code, title) in enumerate([("accepted", "Подтверждён"), ("refused", "Отказ"), ("callback", "Перезвонить")]):
        CampaignResult.create(campaign=cid, code=code, title=title, position=i)
    return cid


@pytest.fixture
def conn(db, campaign):
    c = connections.create_connection(db, {"kind": "leadvertex", "campaign_id": campaign, "name": "Магазин",
                                           "base_url": "https://shop.leadvertex.ru/api/admin", "token": TOKEN})
    store.save_statuses(db, c["id"], [CrmStatus("1", "Новый", "processing"), CrmStatus("3", "Подтверждён", "accepted"),
                                      CrmStatus("5", "Спам", "spam")])
    return c


def _settings_form(conn, **changes):
    form = {"name": conn["name"], "base_url": conn["base_url"], "token": "", "campaign_id": str(conn["campaign_id"]),
            "pull_interval_s": "60", "alert_after_s": "300", "default_country": "RU", "key_field": "additional25",
            "order_url_template": "", "enabled": "on", "push_enabled": "on"}
    form.update(changes)
    return {k: v for k, v in form.items() if v is not None}


def _row(db, conn_id):
    return store.connection(db, conn_id)


# ---- render and permissions ---------------------------------------------------------------------

PAGES = ["/crm", "/crm/{id}", "/crm/{id}/mapping", "/crm/{id}/import", "/crm/{id}/log"]


@pytest.mark.parametrize("role,allowed", [
    ("admin", {"/crm", "/crm/{id}", "/crm/{id}/mapping", "/crm/{id}/import", "/crm/{id}/log"}),
    ("supervisor", {"/crm", "/crm/{id}", "/crm/{id}/mapping", "/crm/{id}/import", "/crm/{id}/log"}),
    ("tester", {"/crm", "/crm/{id}", "/crm/{id}/mapping", "/crm/{id}/log"}),
    ("operator", set()),
])
def test_pages_render_for_the_roles_that_may_see_them(as_role, conn, role, allowed):
    client = as_role(role)
    for path in PAGES:
        r = client.get(path.format(id=conn["id"]), follow_redirects=False)
        assert r.status_code == (200 if path in allowed else 403), (role, path, r.status_code)
        if r.status_code == 200:
            assert "Магазин" in r.text or path == "/crm"
            assert TOKEN not in r.text


def test_navigation_shows_crm_only_to_holders_of_crm_read(as_role, conn):
    assert 'data-section="crm"' in as_role("admin").get("/crm").text
    assert 'href="/crm"' in as_role("tester").get("/").text
    assert 'data-section="crm"' not in as_role("operator").get("/").text


def test_read_only_roles_see_no_edit_controls_and_are_refused_on_post(as_role, conn, db):
    tester = as_role("tester")
    page = tester.get(f"/crm/{conn['id']}").text
    assert 'data-testid="save-settings"' not in page and 'data-testid="sync-now"' not in page
    assert 'data-testid="save-statuses"' not in tester.get(f"/crm/{conn['id']}/mapping").text
    before = _row(db, conn["id"])
    assert _post(tester, f"/crm/{conn['id']}", _settings_form(conn, name="Чужое")).status_code == 403
    assert _post(tester, f"/crm/{conn['id']}/mapping/statuses", {"status_id": "1", "action:1": "call"}).status_code == 403
    assert _post(tester, f"/crm/{conn['id']}/sync").status_code == 403
    supervisor = as_role("supervisor")  # crm.sync and leads.import, not crm.edit
    assert _post(supervisor, f"/crm/{conn['id']}", _settings_form(conn, name="Чужое")).status_code == 403
    assert _row(db, conn["id"]) == before


def test_the_token_is_shown_masked_only(as_role, conn):
    page = as_role("admin").get(f"/crm/{conn['id']}").text
    assert "••••1234" in page and TOKEN not in page and "abcdef" not in page


# ---- settings -------------------------------------------------------------------------------------

def test_saving_settings_is_audited_with_the_token_masked_and_an_empty_token_keeps_it(as_role, conn, db, campaign):
    admin = as_role("admin")
    other = campaigns.create_campaign("Вторая")["id"]
    r = _post(admin, f"/crm/{conn['id']}", _settings_form(conn, pull_interval_s="45", alert_after_s="600",
                                                          campaign_id=str(other)))
    assert r.status_code in (302, 303) and r.headers["location"] == f"/crm/{conn['id']}?saved=1"
    row = _row(db, conn["id"])
    assert (row["pull_interval_s"], row["alert_after_s"], row["campaign_id"], row["token"]) == (45, 600, other, TOKEN)
    r = _post(admin, f"/crm/{conn['id']}", _settings_form(conn, token="brand-new-token-5678", campaign_id=str(other)))
    assert r.status_code in (302, 303)
    assert _row(db, conn["id"])["token"] == "brand-new-token-5678"
    entries = db.execute_sql("SELECT user_name, changes::text FROM audit_log WHERE object_type = 'crm_connection'"
                             " AND action = 'updated' ORDER BY id").fetchall()
    assert len(entries) == 2 and all(name == "admin user" for name, _ in entries)
    assert "pull_interval_s" in entries[0][1] and "campaign_id" in entries[0][1]
    assert "token" in entries[1][1] and "brand-new-token" not in entries[1][1] and "abcdef" not in entries[1][1]
    assert "5678" not in admin.get(f"/crm/{conn['id']}").text.replace("••••5678", "")


@pytest.mark.parametrize("lang,changes,field,text", [
    ("ru", {"pull_interval_s": "2"}, "pull_interval_s", "от 5 до 86400"),
    ("en", {"pull_interval_s": "2"}, "pull_interval_s", "between 5 and 86400"),
    ("ru", {"pull_interval_s": "часто"}, "pull_interval_s", "целым числом"),
    ("ru", {"alert_after_s": "5"}, "alert_after_s", "от 30 до 86400"),
    ("ru", {"base_url": "ftp://shop"}, "base_url", "адресом http(s)"),
    ("en", {"base_url": "ftp://shop"}, "base_url", "http(s) URL"),
    ("ru", {"name": ""}, "name", "не может быть пустым"),
    ("ru", {"default_country": "ZZ"}, "default_country", "кодом страны"),
    ("ru", {"campaign_id": "999999"}, "campaign_id", "не найдена"),
    ("ru", {"campaign_id": "abc"}, "campaign_id", "не найдена"),
    ("en", {"order_url_template": "https://shop/orders"}, "order_url_template", "{id}"),
])
def test_bad_settings_show_field_messages_and_change_nothing(as_role, conn, db, lang, changes, field, text):
    admin = as_role("admin", lang)
    before = _row(db, conn["id"])
    audit_before = db.execute_sql("SELECT count(*) FROM audit_log WHERE object_type = 'crm_connection'").fetchone()
    r = _post(admin, f"/crm/{conn['id']}", _settings_form(conn, token="would-be-new-token-0000", **changes))
    assert r.status_code == 422
    message = re.search(rf'data-field-error="{field}">([^<]*)<', r.text)
    assert message and text in message.group(1).replace("&#34;", '"'), r.text[-3000:]
    assert _row(db, conn["id"]) == before
    assert db.execute_sql("SELECT count(*) FROM audit_log WHERE object_type = 'crm_connection'").fetchone() == audit_before
    assert "would-be-new-token" not in r.text  # a typed token is never echoed back


def test_every_bad_field_is_reported_at_once(as_role, conn):
    r = _post(as_role("admin"), f"/crm/{conn['id']}", _settings_form(conn, pull_interval_s="1", alert_after_s="1",
                                                                     key_field="comment"))
    assert r.status_code == 422
    assert set(re.findall(r'data-field-error="(\w+)"', r.text)) == {"pull_interval_s", "alert_after_s", "key_field"}


def test_forged_and_unknown_ids_are_4xx_and_change_nothing(as_role, conn, db):
    admin = as_role("admin")
    for path in ("/crm/999999", "/crm/999999/mapping", "/crm/999999/log", "/crm/999999/import"):
        assert admin.get(path).status_code == 404, path
    assert _post(admin, "/crm/999999", _settings_form(conn)).status_code == 404
    assert _post(admin, "/crm/999999/sync").status_code == 404
    assert _post(admin, f"/crm/{conn['id']}/outbox/999999/retry").status_code == 404
    assert admin.get(f"/crm/{conn['id']}/log?state=lost").status_code == 400
    assert admin.get("/crm/abc").status_code in (400, 404)


def test_forms_without_the_csrf_token_are_refused(as_role, conn, db):
    admin = as_role("admin")
    before = _row(db, conn["id"])
    assert _post(admin, f"/crm/{conn['id']}", _settings_form(conn, name="Без токена"), csrf=False).status_code == 403
    r = admin.post(f"/crm/{conn['id']}", data={**_settings_form(conn, name="Чужой"), "_csrf": "forged"})
    assert r.status_code == 403
    assert _row(db, conn["id"]) == before


def test_creating_a_connection_shows_the_inbound_token_once(as_role, campaign, db):
    admin = as_role("admin")
    r = _post(admin, "/crm", {"kind": "generic", "name": "Файлы", "campaign_id": str(campaign)})
    assert r.status_code == 200 and 'data-testid="inbound-token"' in r.text
    token = db.execute_sql("SELECT inbound_token FROM crm_connection WHERE name = 'Файлы'").fetchone()[0]
    assert token in r.text
    cid = db.execute_sql("SELECT id FROM crm_connection WHERE name = 'Файлы'").fetchone()[0]
    assert token not in admin.get(f"/crm/{cid}").text
    bad = _post(admin, "/crm", {"kind": "leadvertex", "name": "", "campaign_id": str(campaign)})
    assert bad.status_code == 422 and 'data-field-error="name"' in bad.text and 'data-field-error="base_url"' in bad.text
    assert db.execute_sql("SELECT count(*) FROM crm_connection").fetchone()[0] == 1


# ---- status and result mapping ----------------------------------------------------------------------

def _status_form(actions: dict, minutes: dict | None = None) -> dict:
    form = {"status_id": list(actions)}
    for sid, action in actions.items():
        form[f"action:{sid}"] = action
        form[f"minutes:{sid}"] = (minutes or {}).get(sid, "60")
    return form


def test_status_mapping_is_saved_and_shown(as_role, conn, db):
    admin = as_role("admin")
    page = admin.get(f"/crm/{conn['id']}/mapping").text
    assert "Новый" in page and "Спам" in page and "Звонить" in page and "Подтверждён" in page
    r = _post(admin, f"/crm/{conn['id']}/mapping/statuses",
              _status_form({"1": "postpone", "3": "final", "5": ""}, {"1": "90"}))
    assert r.status_code in (302, 303)
    assert store.status_actions(db, conn["id"]) == {"1": ("postpone", 90), "3": ("final", 60), "5": (None, 60)}
    page = admin.get(r.headers["location"]).text
    assert re.search(r'<option value="postpone" selected>', page)
    assert db.execute_sql("SELECT count(*) FROM audit_log WHERE object_type = 'crm_status_map'").fetchone()[0] == 1


@pytest.mark.parametrize("form,status,text", [
    (_status_form({"1": "call", "3": "sometimes", "5": ""}), 422, "допустимые значения"),
    (_status_form({"1": "postpone", "3": "final", "5": ""}, {"1": "0"}), 422, "от 1 до 525600"),
    (_status_form({"1": "postpone", "3": "final", "5": ""}, {"1": "скоро"}), 422, "целым числом"),
    (_status_form({"1": "call", "3": "final"}), 422, "изменился"),                   # a status left out
    (_status_form({"1": "call", "3": "final", "5": "", "77": "call"}), 422, "изменился"),  # forged status id
])
def test_bad_status_mapping_changes_nothing(as_role, conn, db, form, status, text):
    admin = as_role("admin")
    before = store.status_actions(db, conn["id"])
    r = _post(admin, f"/crm/{conn['id']}/mapping/statuses", form)
    assert r.status_code == status and text in r.text
    assert store.status_actions(db, conn["id"]) == before


def test_result_mapping_is_saved_with_templates(as_role, conn, db):
    admin = as_role("admin")
    page = admin.get(f"/crm/{conn['id']}/mapping").text
    assert "Перезвонить" in page and "Отказ" in page
    form = {"result_code": ["accepted", "refused", "callback"], "status:accepted": "3",
            "template:accepted": "{result_title}: {comment} ({operator})", "status:refused": "5",
            "template:refused": "", "status:callback": "", "template:callback": ""}
    r = _post(admin, f"/crm/{conn['id']}/mapping/results", form)
    assert r.status_code in (302, 303), r.text[-2000:]
    assert connections.result_map(db, conn["id"]) == [
        {"result_code": "accepted", "status_id": "3", "comment_template": "{result_title}: {comment} ({operator})"},
        {"result_code": "refused", "status_id": "5", "comment_template": ""}]


@pytest.mark.parametrize("changes,field_text", [
    ({"status:accepted": "42"}, "неизвестный статус CRM"),
    ({"template:accepted": "{result} {password}"}, "неизвестные подстановки: password"),
    ({"result_code": ["accepted", "refused", "callback", "forged"], "status:forged": "3"}, "неизвестные результаты"),
])
def test_bad_result_mapping_changes_nothing(as_role, conn, db, changes, field_text):
    connections.set_result_map(db, conn["id"], [{"result_code": "accepted", "status_id": "3",
                                                 "comment_template": "{comment}"}])
    before = connections.result_map(db, conn["id"])
    form = {"result_code": ["accepted", "refused", "callback"], "status:accepted": "3", "template:accepted": "{comment}",
            **changes}
    r = _post(as_role("admin"), f"/crm/{conn['id']}/mapping/results", form)
    assert r.status_code == 422 and field_text in r.text
    assert connections.result_map(db, conn["id"]) == before


# ---- the fake CRM in its own thread: sync now, statuses through the adapter ---------------------------

@pytest.fixture
def fake_crm():
    crm = FakeCrm()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    holder = {}

    def serve():
        asyncio.set_event_loop(loop)
        holder["runner"], crm.port = loop.run_until_complete(start(crm))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    yield crm
    asyncio.run_coroutine_threadsafe(holder["runner"].cleanup(), loop).result(10)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


@pytest.fixture
def lv(db, campaign, fake_crm):
    return connections.create_connection(db, {
        "kind": "leadvertex", "campaign_id": campaign, "name": "LeadVertex A",
        "base_url": f"http://127.0.0.1:{fake_crm.port}/shop-a/api/admin", "token": sample_shops()["shop-a"].token})


def test_statuses_are_read_from_the_crm_and_sync_now_imports(as_role, lv, fake_crm, db):
    admin = as_role("admin")
    assert "Новый" not in admin.get(f"/crm/{lv['id']}/mapping").text
    r = _post(admin, f"/crm/{lv['id']}/mapping/refresh")
    assert r.status_code in (302, 303)
    statuses = {s["status_id"] for s in connections.status_map(db, lv["id"])}
    assert statuses == set(fake_crm.shops["shop-a"].statuses)
    fill(fake_crm.shops["shop-a"], 5, "1")
    fake_crm.shops["shop-a"].orders["3"]["phone"] = "не телефон"
    actions = {sid: "" for sid in statuses} | {"1": "call"}
    assert _post(admin, f"/crm/{lv['id']}/mapping/statuses", _status_form(actions)).status_code in (302, 303)
    r = _post(admin, f"/crm/{lv['id']}/sync")
    assert r.status_code in (302, 303) and r.headers["location"].startswith(f"/crm/{lv['id']}/log?pulled=")
    assert Lead.select().count() == 4
    log = admin.get(r.headers["location"]).text
    assert 'class="highlight"' in log and "телефон" in log.lower()
    health = admin.get(f"/crm/{lv['id']}").text
    assert "Последняя успешная загрузка" in health


def test_an_unreachable_crm_is_shown_not_a_crash(as_role, lv, fake_crm, db):
    fake_crm.faults.down = "5xx"
    admin = as_role("admin")
    r = _post(admin, f"/crm/{lv['id']}/mapping/refresh")
    assert r.status_code == 502 and "CRM не ответила" in r.text
    r = _post(admin, f"/crm/{lv['id']}/sync")
    assert r.status_code in (302, 303)
    assert _row(db, lv["id"])["unreachable_since"] is not None
    assert 'data-testid="last-error"' in admin.get(f"/crm/{lv['id']}").text
    db.execute_sql("INSERT INTO crm_alert (connection_id, raised_at, message, message_ru)"
                   " VALUES (%s, now(), 'CRM down', 'CRM недоступна 7 мин')", (lv["id"],))
    assert "CRM недоступна 7 мин" in admin.get(f"/crm/{lv['id']}/log").text


# ---- file import ----------------------------------------------------------------------------------

CSV = ("Номер заказа;Телефон;ФИО;Город;Сумма\n"
       "A-1;+7 912 345-67-01;Иван;Москва;1500\n"
       "A-2;не номер;Пётр;Казань;900\n"
       "A-3;+7 912 345-67-03;Анна;Сочи;сто\n"
       "A-4;89123456704;Ольга;Омск;700\n").encode()


def _upload(client, conn_id, data=CSV, name="orders.csv"):
    return _post(client, f"/crm/{conn_id}/import/preview", files={"file": (name, data, "text/csv")})


def test_file_import_previews_maps_and_reports_bad_lines(as_role, conn, db):
    supervisor = as_role("supervisor")
    r = _upload(supervisor, conn["id"])
    assert r.status_code == 200, r.text[-2000:]
    assert "Иван" in r.text and 'name="col:0"' in r.text
    upload_id = re.search(r'name="upload_id" value="([^"]+)"', r.text).group(1)
    assert re.search(r'name="col:1"[^>]*>\s*(<option[^>]*>[^<]*</option>\s*)*?<option value="phone" selected', r.text)
    form = {"upload_id": upload_id, "col:0": "external_id", "col:1": "phone", "col:2": "name", "col:3": "city",
            "col:4": "amount"}
    r = _post(supervisor, f"/crm/{conn['id']}/import", form)
    assert r.status_code == 200
    lines = dict(re.findall(r'<tr data-line="(\d+)"><td>\d+</td><td>([^<]+)</td>', r.text))
    assert set(lines) == {"3", "4"}
    assert {lead.external_id for lead in Lead.select()} == {"A-1", "A-4"}
    assert 'data-count="imported">2<' in r.text
    # the upload is gone once imported
    assert _post(supervisor, f"/crm/{conn['id']}/import", form).status_code == 404


def test_a_bad_column_mapping_changes_nothing(as_role, conn, db):
    admin = as_role("admin", "en")
    upload_id = re.search(r'name="upload_id" value="([^"]+)"', _upload(admin, conn["id"]).text).group(1)
    form = {"upload_id": upload_id, "col:0": "external_id", "col:1": "name", "col:2": "name", "col:3": "colour",
            "col:4": "amount"}
    r = _post(admin, f"/crm/{conn['id']}/import", form)
    assert r.status_code == 422
    assert "exactly one column must be phone" in r.text and "target must be one of" in r.text
    assert Lead.select().count() == 0
    assert db.execute_sql("SELECT count(*) FROM crm_import_log").fetchone()[0] == 0


def test_uploads_belong_to_their_user_and_connection(as_role, conn, db, campaign):
    admin = as_role("admin")
    upload_id = re.search(r'name="upload_id" value="([^"]+)"', _upload(admin, conn["id"]).text).group(1)
    form = {"upload_id": upload_id, "col:0": "external_id", "col:1": "phone"}
    assert _post(as_role("supervisor"), f"/crm/{conn['id']}/import", form).status_code == 404
    other = connections.create_connection(db, {"kind": "generic", "campaign_id": campaign, "name": "Другое"})
    assert _post(admin, f"/crm/{other['id']}/import", form).status_code == 404
    assert _post(admin, f"/crm/{conn['id']}/import", {**form, "upload_id": "../../etc/passwd"}).status_code == 404
    assert Lead.select().count() == 0


@pytest.mark.parametrize("data,name,text", [
    (b"", "empty.csv", "файл пуст"),
    (b"PK\x03\x04broken", "orders.xlsx", "не читается"),
])
def test_unreadable_files_are_reported(as_role, conn, data, name, text):
    r = _upload(as_role("admin"), conn["id"], data, name)
    assert r.status_code == 422 and text in r.text
    assert Lead.select().count() == 0


def test_import_is_refused_without_leads_import(as_role, conn):
    tester = as_role("tester")
    assert _upload(tester, conn["id"]).status_code == 403
    assert "File import" not in tester.get(f"/crm/{conn['id']}").text


# ---- delivery ----------------------------------------------------------------------------------------

def _outbox_row(db, conn, state="failed"):
    lead = Lead.create(campaign=conn["campaign_id"], external_id="Z-1", phone="+79123456700", name="Z")
    db.execute_sql("UPDATE lead SET crm_connection_id = %s WHERE id = %s", (conn["id"], lead.id))
    attempt = db.execute_sql("INSERT INTO attempt (lead_id, campaign_id, phone, reserved_at) VALUES (%s, %s, %s, now())"
                             " RETURNING id", (lead.id, conn["campaign_id"], lead.phone)).fetchone()[0]
    return db.execute_sql(
        "INSERT INTO crm_outbox (connection_id, attempt_id, lead_id, external_id, result_code, idempotency_key, state,"
        " tries, last_error) VALUES (%s, %s, %s, 'Z-1', 'accepted', %s, %s, 10, 'order is locked') RETURNING id",
        (conn["id"], attempt, lead.id, f"dialer-{attempt}-x", state)).fetchone()[0]


def test_outbox_rows_are_listed_and_a_failed_one_can_be_sent_again(as_role, conn, db):
    oid = _outbox_row(db, conn)
    supervisor = as_role("supervisor")
    page = supervisor.get(f"/crm/{conn['id']}/log?state=failed").text
    assert f'data-outbox="{oid}"' in page and "order is locked" in page and 'data-state="failed"' in page
    r = _post(supervisor, f"/crm/{conn['id']}/outbox/{oid}/retry")
    assert r.status_code in (302, 303)
    assert db.execute_sql("SELECT state, tries FROM crm_outbox WHERE id = %s", (oid,)).fetchone() == ("pending", 0)
    assert _post(as_role("tester"), f"/crm/{conn['id']}/outbox/{oid}/retry").status_code == 403


def test_a_result_of_another_connection_cannot_be_retried_through_this_one(as_role, conn, db, campaign):
    oid = _outbox_row(db, conn)
    other = connections.create_connection(db, {"kind": "generic", "campaign_id": campaign, "name": "Другое"})
    assert _post(as_role("admin"), f"/crm/{other['id']}/outbox/{oid}/retry").status_code == 404
    assert db.execute_sql("SELECT state FROM crm_outbox WHERE id = %s", (oid,)).fetchone() == ("failed",)
