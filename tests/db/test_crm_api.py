"""The CRM JSON API: validation per field (ru/en), audited settings with the token masked, the inbound
push with its own token, CSV/XLSX import with mapped columns and bad rows reported by line."""
from __future__ import annotations

import io
import json
from datetime import datetime, timezone

import openpyxl
import pytest

from dialer.models import Lead
from dialer.services import campaigns


@pytest.fixture
def campaign(db):
    return campaigns.create_campaign("CRM API")["id"]


def _create(client, campaign, **extra):
    body = {"kind": "leadvertex", "campaign_id": campaign, "name": "Магазин", "token": "secret-token-abcdef1234",
            "base_url": "https://shop.leadvertex.ru/api/admin", **extra}
    return client.post("/api/crm/connections", json=body)


def test_create_shows_the_token_masked_and_the_inbound_token_once(client, campaign, db):
    r = _create(client, campaign)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["token"] == "••••1234" and len(body["inbound_token"]) >= 24
    again = client.get(f"/api/crm/connections/{body['id']}").json()
    assert "inbound_token" not in again and again["token"] == "••••1234"
    assert "secret-token" not in json.dumps(client.get("/api/crm/connections").json())
    changes = db.execute_sql("SELECT changes::text FROM audit_log WHERE object_type = 'crm_connection'").fetchone()[0]
    assert "secret-token" not in changes and "***" in changes


def test_every_bad_field_is_reported_in_both_languages(client, campaign, unchanged):
    with unchanged():
        r = _create(client, 10**6, name="", pull_interval_s=1, base_url="ftp://x", default_country="XX",
                    key_field="comment", colour="red")
    assert r.status_code == 422
    problems = {p["field"]: p for p in r.json()["problems"]}
    assert set(problems) == {"campaign_id", "name", "pull_interval_s", "base_url", "default_country", "key_field",
                             "colour"}
    assert all(p["message"] and p["message_ru"] for p in problems.values())
    assert "от 5 до 86400" in problems["pull_interval_s"]["message_ru"]


def test_settings_change_is_audited_with_the_token_masked(client, campaign, db):
    cid = _create(client, campaign).json()["id"]
    r = client.patch(f"/api/crm/connections/{cid}", json={"token": "another-token-9999", "pull_interval_s": 120})
    assert r.status_code == 200 and r.json()["token"] == "••••9999" and r.json()["pull_interval_s"] == 120
    row = db.execute_sql("SELECT action, changes::text FROM audit_log WHERE object_type = 'crm_connection'"
                         " ORDER BY id DESC LIMIT 1").fetchone()
    assert row[0] == "updated" and "another-token" not in row[1] and "pull_interval_s" in row[1]
    bad = client.patch(f"/api/crm/connections/{cid}", json={"token": ""})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "token"


def test_status_and_result_mapping_are_validated(client, campaign, db):
    from dialer.crm import store
    from dialer.crm.adapter import CrmStatus
    cid = _create(client, campaign).json()["id"]
    store.save_statuses(db, cid, [CrmStatus("1", "Новый"), CrmStatus("3", "Подтверждён")])
    bad = client.put(f"/api/crm/connections/{cid}/statuses", json=[{"status_id": "7", "action": "call"},
                                                                   {"status_id": "1", "action": "maybe"}])
    assert bad.status_code == 422
    assert [p["field"] for p in bad.json()["problems"]] == ["statuses[0].status_id", "statuses[1].action"]
    ok = client.put(f"/api/crm/connections/{cid}/statuses", json=[{"status_id": "1", "action": "call"},
                                                                  {"status_id": "3", "action": "final"}])
    assert [s["action"] for s in ok.json()] == ["call", "final"]
    bad = client.put(f"/api/crm/connections/{cid}/results", json=[
        {"result_code": "accepted", "status_id": "3", "comment_template": "{result} {secret}"}])
    assert bad.status_code == 422 and "placeholders" in bad.json()["message"]
    ok = client.put(f"/api/crm/connections/{cid}/results", json=[
        {"result_code": "accepted", "status_id": "3", "comment_template": "{result_title} — {operator}"}])
    assert ok.status_code == 200 and ok.json()[0]["status_id"] == "3"


def _generic(client, campaign) -> dict:
    r = client.post("/api/crm/connections", json={"kind": "generic", "campaign_id": campaign, "name": "Файлы"})
    assert r.status_code == 201, r.text
    return r.json()


def test_inbound_push_needs_the_connections_own_token(client, campaign, settings, unchanged):
    conn = _generic(client, campaign)
    url = f"/api/crm/inbound/{conn['id']}/orders"
    body = {"orders": [{"id": "A1", "phone": "9161234567", "fio": "Анна", "country": "RU"},
                       {"id": "A2", "phone": "000", "fio": "Плохой"},
                       {"id": "A1", "phone": "9161234567", "fio": "Анна"}]}
    with unchanged():
        assert client.post(url, json=body).status_code == 401  # the installation's token is not this one
        client.headers["Authorization"] = "Bearer wrong"
        assert client.post(url, json=body).status_code == 401
    client.headers["Authorization"] = f"Bearer {conn['inbound_token']}"
    r = client.post(url, json=body)
    assert r.status_code == 200, r.text
    assert (r.json()["imported"], r.json()["rejected"]) == (1, 1) and r.json()["rejects"][0]["index"] == 1
    assert client.post(url, json=body).json()["imported"] == 0  # a replay changes nothing
    assert Lead.get(Lead.external_id == "A1").phone == "+79161234567"


def test_inbound_push_to_a_disabled_connection_is_refused_and_writes_nothing(client, campaign, settings, db):
    conn = _generic(client, campaign)
    url = f"/api/crm/inbound/{conn['id']}/orders"
    body = {"orders": [{"id": "B1", "phone": "9161234567", "fio": "Борис", "country": "RU"}]}
    assert client.patch(f"/api/crm/connections/{conn['id']}", json={"enabled": False}).status_code == 200

    def written():
        return db.execute_sql("SELECT (SELECT count(*) FROM lead), (SELECT count(*) FROM crm_import_log),"
                              " (SELECT count(*) FROM audit_log)").fetchone()

    before = written()
    client.headers["Authorization"] = f"Bearer {conn['inbound_token']}"
    r = client.post(url, json=body)
    assert r.status_code == 409, r.text
    assert r.json()["error"] == "crm-connection-disabled"
    assert "disabled" in r.json()["message"] and "отключено" in r.json()["message_ru"]
    assert written() == before
    client.headers["Authorization"] = f"Bearer {settings.api_token}"
    assert client.patch(f"/api/crm/connections/{conn['id']}", json={"enabled": True}).status_code == 200
    client.headers["Authorization"] = f"Bearer {conn['inbound_token']}"
    assert client.post(url, json=body).json()["imported"] == 1  # enabled again, the same push is taken


CSV = ("Номер;Телефон;ФИО;Город;Канал\n"
       "1001;+7 916 123-45-67;Анна;Москва;сайт\n"
       "1002;12;Пётр;Казань;сайт\n"
       "1003;89161234568;;Тверь;звонок\n"
       "1001;+79161234569;Дубль;Москва;сайт\n"
       ";+79161234570;Без номера;Москва;сайт\n")


def test_csv_import_with_mapped_columns_reports_bad_rows_by_line(client, campaign, db):
    conn = _generic(client, campaign)
    url = f"/api/crm/connections/{conn['id']}/file"
    preview = client.post(f"{url}/preview?filename=orders.csv", content=CSV.encode()).json()
    assert preview["columns"] == ["Номер", "Телефон", "ФИО", "Город", "Канал"] and preview["rows"] == 5
    assert preview["suggested"]["Номер"] == "external_id" and preview["suggested"]["Канал"] == "attr"
    mapping = json.dumps({"Номер": "external_id", "Телефон": "phone", "ФИО": "name", "Город": "city"})
    r = client.post(f"{url}/import", params={"filename": "orders.csv", "mapping": mapping}, content=CSV.encode())
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["imported"] == 2
    assert {e["line"]: e["reason"][:15] for e in result["rejects"]} == {
        3: "invalid phone n", 5: "duplicate exter", 6: "order id is emp"}
    lead = Lead.get(Lead.external_id == "1003")
    assert lead.phone == "+79161234568" and lead.city == "Тверь" and lead.attrs == {"Канал": "звонок"}
    log = client.get(f"/api/crm/connections/{conn['id']}/imports").json()
    assert log[0]["source"] == "file" and log[0]["rejected"] == 3


def test_a_bad_mapping_changes_nothing(client, campaign, unchanged):
    conn = _generic(client, campaign)
    mapping = json.dumps({"Номер": "phone", "Телефон": "phone", "Нет": "city"})
    with unchanged():
        r = client.post(f"/api/crm/connections/{conn['id']}/file/import",
                        params={"mapping": mapping}, content=CSV.encode())
    assert r.status_code == 422
    fields = {p["field"] for p in r.json()["problems"]}
    assert fields == {"Нет", "external_id", "phone"}


def test_xlsx_import(client, campaign):
    conn = _generic(client, campaign)
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["id", "phone", "name", "amount"])
    sheet.append([501, 79161234567, "Анна", 1990.5])
    sheet.append([502, "нет", "Пётр", 10])
    data = io.BytesIO()
    book.save(data)
    r = client.post(f"/api/crm/connections/{conn['id']}/file/import",
                    params={"filename": "orders.xlsx", "mapping": "{}"}, content=data.getvalue())
    assert r.status_code == 200, r.text
    assert r.json()["imported"] == 1 and r.json()["rejects"] == [
        {"line": 3, "reason": "invalid phone number 'нет' for country RU"}]
    lead = Lead.get(Lead.external_id == "501")
    assert lead.phone == "+79161234567" and str(lead.amount) == "1990.50"


def test_delivery_state_and_unknown_connection(client):
    assert client.get("/api/crm/attempts/5/delivery").json() == {"attempt_id": 5, "state": "none"}
    r = client.get("/api/crm/connections/999")
    assert r.status_code == 404 and r.json()["error"] == "crm-connection-not-found"


def test_the_order_card_links_to_the_order_in_the_crm(client, campaign):
    conn = _create(client, campaign).json()
    bad = client.patch(f"/api/crm/connections/{conn['id']}", json={"order_url_template": "https://shop/orders"})
    assert bad.status_code == 422 and bad.json()["problems"][0]["field"] == "order_url_template"
    ok = client.patch(f"/api/crm/connections/{conn['id']}",
                      json={"order_url_template": "https://shop.leadvertex.ru/admin/order/view?id={id}"})
    assert ok.status_code == 200
    push = client.post("/api/crm/connections", json={"kind": "generic", "campaign_id": campaign, "name": "Push"})
    assert push.status_code == 201
    from dialer.crm import connections, store
    from dialer.crm.orders import parse_order
    lead_conn = store.connection(Lead._meta.database, conn["id"])
    store.upsert_orders(Lead._meta.database, lead_conn, [parse_order("77/1", {"phone": "79161234567"})],
                        {"": ("call", 60)}, datetime.now(timezone.utc))
    lead = Lead.get(Lead.external_id == "77/1")
    link = client.get(f"/api/crm/leads/{lead.id}/order-link").json()
    assert link["url"] == "https://shop.leadvertex.ru/admin/order/view?id=77%2F1"
    assert client.get("/api/crm/leads/999999/order-link").json()["url"] is None
    assert connections.order_url("", "5") is None
