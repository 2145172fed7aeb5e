"""A campaign's «Импорт» tab in headless Chromium at 1366×768: a leads file previewed with the CRM pages' column
mapping, a column remapped, imported, the bad rows listed by the file's line. No sideways scrolling, no console
errors; screenshots for review."""
from __future__ import annotations

from dialer.models import Campaign, Lead

from .conftest import fits, shot
from .test_dnc_browser import only_expected


def test_a_supervisor_imports_leads_with_the_column_preview(admin, db, tmp_path):
    page, errors = admin
    cid = Campaign.create(name="Подтверждение заказов").id
    orders = tmp_path / "orders.csv"
    orders.write_text("Номер заказа;Телефон;Клиент;Канал\n"
                      "Z-1;8 900 200-00-01;Анна;сайт\nZ-2;нет;Борис;сайт\nZ-3;+7 900 200-00-03;Вера;приложение\n",
                      encoding="utf-8")
    page.goto(f"/campaigns/{cid}")
    page.click("[data-tab=import]")
    page.set_input_files("[data-testid=import-file]", str(orders))
    page.click("[data-testid=preview]")
    page.wait_for_selector("#import-mapping")
    assert page.input_value("select[data-column='Телефон']") == "phone"
    page.select_option("select[data-column='Канал']", "skip")
    fits(page)
    shot(page, "g-lead-import-preview")
    page.click("[data-testid=import]")
    page.wait_for_selector("#rejects tr[data-line='3']")
    assert sorted(x.external_id for x in Lead.select()) == ["Z-1", "Z-3"]
    assert Lead.get(Lead.external_id == "Z-1").attrs == {"клиент": "Анна"}  # «Канал» skipped
    fits(page)
    shot(page, "g-lead-import-done")
    assert only_expected(errors) == [], errors
