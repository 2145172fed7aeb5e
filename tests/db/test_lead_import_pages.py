"""A campaign's «Импорт» tab through HTTP with real sessions: upload → the column-mapping preview of the CRM pages
→ import, bad rows named by the line of the user's own file (XLSX too); the pages × the six roles; an upload is
usable only by who uploaded it and only for its campaign; a wrong mapping refused in both languages with nothing
changed."""
from __future__ import annotations

import io
import re

import pytest
from openpyxl import Workbook

from dialer.models import Campaign, Lead
from dialer.permissions import ROLES
from dialer.services import lead_import

PERMS = {code: perms for code, _, _, perms in ROLES}
FILE = ("Номер;Телефон клиента;ФИО;Источник;Мусор\n"
        "A-1;8 900 100-00-01;Иванова;site;x\n"
        "A-2;не номер;Петров;app;x\n"
        '"A-3";+7 900 100-00-03;Сидоров;"сайт\nстраница";x\n'
        "A-4;+7 900 100-00-04;Кузнецова;site\n"
        "A-1;+7 900 100-00-05;Повтор;site;x\n")


@pytest.fixture
def world(db, signed_in):
    c1, c2 = Campaign.create(name="Подтверждение").id, Campaign.create(name="Допродажа").id
    return {"session": lambda code, lang="ru": signed_in(code, lang), "c1": c1, "c2": c2}


def preview(client, cid, data: bytes, name="orders.csv"):
    r = client.post(f"/campaigns/{cid}/import/preview", files={"file": (name, data, "text/csv")})
    upload = re.search(r'name="upload_id" value="([^"]+)"', r.text)
    return r, upload.group(1) if upload else None


def mapping(**targets) -> dict:
    columns = ["Номер", "Телефон клиента", "ФИО", "Источник", "Мусор"]
    chosen = {"Номер": "external_id", "Телефон клиента": "phone", "ФИО": "name", "Источник": "attr", "Мусор": "skip"}
    chosen.update(targets)
    return {f"col:{i}": chosen[c] for i, c in enumerate(columns)}


def test_import_with_the_mapping_names_bad_rows_by_the_files_own_line(db, world):
    client = world["session"]("supervisor")
    r, upload = preview(client, world["c1"], FILE.encode())
    assert r.status_code == 200 and upload, r.text[:500]
    assert "Телефон клиента" in r.text and 'data-tab="import"' in r.text
    r = client.post(f"/campaigns/{world['c1']}/import", data={"upload_id": upload, **mapping()})
    assert r.status_code == 200, r.text[:500]
    assert re.findall(r'<tr data-line="(\d+)">', r.text) == ["3", "6", "7"]  # a quoted cell spans lines 4–5
    leads = {lead.external_id: lead for lead in Lead.select().where(Lead.campaign == world["c1"])}
    assert set(leads) == {"A-1", "A-3"}
    assert leads["A-1"].phone == "+79001000001" and leads["A-1"].name == "Иванова"
    assert leads["A-1"].attrs == {"источник": "site"} and leads["A-3"].attrs == {"источник": "сайт\nстраница"}
    assert 'data-count="imported">2<' in r.text and 'data-count="errors">3<' in r.text
    assert "неверный номер телефона" in r.text  # the reason in the user's language
    entry = db.execute_sql("SELECT user_name, changes FROM audit_log WHERE object_type = 'campaign' "
                           "AND name = 'Импорт заказов из файла'").fetchone()
    assert entry[0] == "Пользователь supervisor" and entry[1]["imported"] == [None, 2]
    # the same file again: nothing new, the leads stay as they were
    _, upload = preview(client, world["c1"], FILE.encode())
    r = client.post(f"/campaigns/{world['c1']}/import", data={"upload_id": upload, **mapping()})
    assert 'data-count="imported">0<' in r.text and 'data-count="duplicates">2<' in r.text


def test_an_xlsx_file(db, world):
    book = Workbook()
    sheet = book.active
    for row in [["order_id", "phone", "city"], ["X-1", "+79001000011", "Казань"], ["X-2", "12", "Омск"]]:
        sheet.append(row)
    data = io.BytesIO()
    book.save(data)
    client = world["session"]("admin")
    r, upload = preview(client, world["c2"], data.getvalue(), "orders.xlsx")
    assert r.status_code == 200 and upload
    r = client.post(f"/campaigns/{world['c2']}/import",
                    data={"upload_id": upload, "col:0": "external_id", "col:1": "phone", "col:2": "city"})
    assert r.status_code == 200 and re.findall(r'<tr data-line="(\d+)">', r.text) == ["3"]
    assert [(x.external_id, x.city) for x in Lead.select().where(Lead.campaign == world["c2"])] == [("X-1", "Казань")]


@pytest.mark.parametrize("role", list(PERMS))
def test_the_pages_by_role(db, world, role):
    client = world["session"](role)
    allowed = "leads.import" in PERMS[role]
    assert client.get(f"/campaigns/{world['c1']}/import").status_code == (200 if allowed else 403)
    r, upload = preview(client, world["c1"], FILE.encode())
    assert r.status_code == (200 if allowed else 403) and bool(upload) == allowed
    r = client.post(f"/campaigns/{world['c1']}/import", data={"upload_id": upload or "x" * 24, **mapping()})
    assert r.status_code == (200 if allowed else 403)
    assert Lead.select().count() == (2 if allowed else 0)
    tabs = client.get(f"/campaigns/{world['c1']}")
    assert tabs.status_code == (200 if "campaigns.read" in PERMS[role] else 403)
    assert ('data-tab="import"' in tabs.text) == (allowed and "campaigns.read" in PERMS[role])


def test_an_upload_is_its_uploaders_and_its_campaigns_only(db, world):
    mine, other = world["session"]("supervisor"), world["session"]("supervisor")
    _, upload = preview(mine, world["c1"], FILE.encode())
    assert other.post(f"/campaigns/{world['c1']}/import", data={"upload_id": upload, **mapping()}).status_code == 404
    assert mine.post(f"/campaigns/{world['c2']}/import", data={"upload_id": upload, **mapping()}).status_code == 404
    assert mine.post("/campaigns/999/import", data={"upload_id": upload, **mapping()}).status_code == 404
    assert Lead.select().count() == 0


@pytest.mark.parametrize("lang,word", [("ru", "ровно один столбец"), ("en", "exactly one column")])
def test_a_wrong_mapping_or_file_changes_nothing(db, world, lang, word):
    client = world["session"]("admin", lang)
    _, upload = preview(client, world["c1"], FILE.encode())
    entries = db.execute_sql("SELECT count(*) FROM audit_log WHERE object_type = 'campaign'").fetchone()[0]
    for bad in (mapping(**{"ФИО": "phone"}), mapping(**{"Номер": "skip"}), mapping(**{"ФИО": "nonsense"})):
        r = client.post(f"/campaigns/{world['c1']}/import", data={"upload_id": upload, **bad})
        assert r.status_code == 422 and ('role="alert"' in r.text or "data-field-error" in r.text), bad
        assert 'name="upload_id"' in r.text  # the preview again, with the choices kept
    assert word in client.post(f"/campaigns/{world['c1']}/import",
                               data={"upload_id": upload, **mapping(**{"ФИО": "phone"})}).text
    for data in (b"", b"\n \n", b"PK\x03\x04broken"):
        r, no_upload = preview(client, world["c1"], data, "x.xlsx" if data.startswith(b"PK") else "x.csv")
        assert r.status_code == 422 and no_upload is None and 'data-testid="form-error"' in r.text
    assert Lead.select().count() == 0
    assert db.execute_sql("SELECT count(*) FROM audit_log WHERE object_type = 'campaign'").fetchone()[0] == entries


@pytest.mark.parametrize("rows,expected_lines", [
    ([(2, ["1", "+7900", "a"]), (3, ["2", "+7901", "b"])], {2: 2, 3: 3}),
    ([(2, ["1", "+7900", "two\nlines"]), (5, ["2", "+7901", "b"])], {2: 2, 4: 5}),
    ([(2, ["1", "+7900"]), (3, ["2", "+7901", "b", "", ""])], {2: 3}),
])
def test_mapped_csv_keeps_the_files_lines(rows, expected_lines):
    text, lines, refused = lead_import.mapped_csv(["id", "Phone", "Note"], rows,
                                                  {"id": "external_id", "Phone": "phone", "Note": "attr"})
    assert lines == expected_lines
    assert text.splitlines()[0] == "external_id,phone,Note"
    assert [r["line"] for r in refused] == [line for line, cells in rows if len([c for c in cells if c != ""]) == 2]
