"""The CRM pages as an administrator uses them, in headless Chromium: the status mapping saved and shown
again, a CSV import with a bad row reported by its line."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from dialer.crm import connections, generic, store
from dialer.crm.adapter import CrmStatus
from dialer.models import CampaignResult, Lead
from dialer.services import campaigns

from .conftest import sign_in

CSV = ("Номер заказа;Телефон;ФИО;Город\n"
       "B-1;+7 912 345-67-01;Иван;Москва\n"
       "B-2;не номер;Пётр;Казань\n"
       "B-3;+7 912 345-67-03;Анна;Сочи\n")


def _connection(db):
    cid = campaigns.create_campaign("Кампания браузера")["id"]
    CampaignResult.create(campaign=cid, code="accepted", title="Подтверждён", position=0)
    conn = connections.create_connection(db, {"kind": "generic", "campaign_id": cid, "name": "Магазин Б"})
    store.save_statuses(db, conn["id"], [CrmStatus("1", "Новый", "processing"),
                                         CrmStatus("3", "Подтверждён", "accepted")])
    return conn


def test_admin_edits_the_status_mapping_and_imports_a_csv(accounts, new_page, db, tmp_path):
    conn = _connection(db)
    page = new_page()
    sign_in(page)
    page.click("nav.sections a[data-section=crm]")
    page.wait_for_url(re.compile(r"/crm$"))
    page.click("#connections a:has-text('Магазин Б')")
    page.click("[data-testid=crm-tabs] a:has-text('Соответствие статусов')")
    page.wait_for_url(re.compile(rf"/crm/{conn['id']}/mapping$"))

    page.select_option("select[name='action:1']", "postpone")
    page.fill("input[name='minutes:1']", "45")
    page.select_option("select[name='action:3']", "final")
    page.click("[data-testid=save-statuses]")
    page.wait_for_url(re.compile(r"saved=statuses"))
    assert page.locator("[data-testid=saved]").inner_text() == "Сохранено"
    page.reload()
    assert page.locator("select[name='action:1']").input_value() == "postpone"
    assert page.locator("input[name='minutes:1']").input_value() == "45"
    assert page.locator("select[name='action:3']").input_value() == "final"
    assert store.status_actions(db, conn["id"]) == {"1": ("postpone", 45), "3": ("final", 60)}

    page.select_option("select[name='status:accepted']", "3")
    page.fill("input[name='template:accepted']", "{result_title}: {comment}")
    page.click("[data-testid=save-results]")
    page.wait_for_url(re.compile(r"saved=results"))
    assert page.locator("select[name='status:accepted']").input_value() == "3"

    page.fill("input[name='template:accepted']", "{secret}")
    page.click("[data-testid=save-results]")
    assert "неизвестные подстановки: secret" in page.locator("tr[data-result=accepted] .field-error").inner_text()
    assert connections.result_map(db, conn["id"])[0]["comment_template"] == "{result_title}: {comment}"

    csv_file = tmp_path / "orders.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    page.click("[data-testid=crm-tabs] a:has-text('Импорт из файла')")
    page.set_input_files("[data-testid=import-file]", str(csv_file))
    page.click("[data-testid=preview]")
    assert page.locator("select[data-column='Телефон']").input_value() == "phone"
    page.select_option("select[data-column='Город']", "city")
    page.click("[data-testid=import]")
    rejected = page.locator("#rejects tbody tr")
    assert rejected.count() == 1
    assert rejected.locator("td").nth(0).inner_text() == "3"
    assert "неверный номер телефона" in rejected.locator("td").nth(1).inner_text()
    assert page.locator("[data-count=imported]").inner_text() == "2"
    assert sorted(lead.external_id for lead in Lead.select()) == ["B-1", "B-3"]
    assert {lead.city for lead in Lead.select()} == {"Москва", "Сочи"}

    page.click("a:has-text('Журнал импорта и доставка')")
    assert page.locator("#imports tr[data-import]").first.locator("td").nth(1).inner_text() == "файл"
    assert page.locator("#imports tr[data-import]").count() == 1, page.locator("#imports tbody").inner_text()

    # an inbound push elsewhere appears in the open log without a reload (live event crm.import)
    generic.push_orders(db, conn["id"], {"orders": [{"id": "B-9", "phone": "+79123456709", "fio": "Вера"}]},
                        datetime.now(timezone.utc))
    page.wait_for_function("document.querySelectorAll('#imports tr[data-import]').length === 2", timeout=10_000)
    assert page.locator("#imports tr[data-import]").first.locator("td").nth(1).inner_text() == "входящий API"
