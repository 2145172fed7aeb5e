"""«Отчёты» in headless Chromium at 1366×768 as a supervisor: pick a period, read the histogram's data (six outcomes
in the SPEC A2 order and colours), toggle an outcome in the legend, open a row's calls and a call's card, save a
view and find it after signing in again, download CSV, XLSX and PDF and read them back. No sideways scrolling and
no console errors on any page. Full-page screenshots go to $DIALER_SCREENSHOTS/reports-*.png when that variable names a folder."""
from __future__ import annotations

import csv
import io
import os
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from psycopg2.extras import execute_values

from dialer.models import Campaign, Lead, Operator
from dialer.outcomes import ORDER
from dialer.services import users

from .conftest import PASSWORD, sign_in

SHOTS = Path(os.environ.get("DIALER_SCREENSHOTS", "/nonexistent"))  # for looking at the pages
CAMPAIGN = "Подтверждение заказов"


def shot(page, name):
    if SHOTS.is_dir():
        page.screenshot(path=str(SHOTS / f"reports-{name}.png"), full_page=True)


@pytest.fixture
def week(db):
    """Six days of calls ending before now, in two campaigns, by three operators who were signed in 4 h a day."""
    rng = random.Random(3)
    camps = [Campaign.create(name=CAMPAIGN), Campaign.create(name="Допродажи")]
    ops = [Operator.create(name=n, login=l, sip_password="secret-123")
           for n, l in (("Анна Петрова", "anna"), ("Борис Иванов", "boris"), ("Вера Смирнова", "vera"))]
    leads = [Lead.create(campaign=c.id, external_id=f"ORD-{c.id}-{i}", phone=f"+7900{c.id}{i:06d}", name=f"Клиент {i}")
             for c in camps for i in range(20)]
    now = datetime.now(timezone.utc)
    rows, log = [], []
    for i in range(400):
        lead = rng.choice(leads)
        ended = now - timedelta(seconds=rng.uniform(60, 6 * 86400))
        outcome = rng.choices([o.value for o in ORDER], weights=[45, 25, 10, 7, 5, 8])[0]
        answered = ended - timedelta(seconds=rng.uniform(20, 300)) if outcome in ("ANSWERED", "LOST") else None
        rows.append((lead.id, lead.campaign_id, rng.choice(ops).id, lead.phone, ended - timedelta(seconds=400), ended,
                     outcome, answered, answered if outcome == "ANSWERED" else None,
                     ended + timedelta(seconds=rng.uniform(5, 60)) if outcome == "ANSWERED" else None))
    for d in range(7):
        for o in ops:
            start = now - timedelta(days=d, hours=6)
            log += [(o.id, "ready", start), (o.id, "offline", start + timedelta(hours=4))]
    with db.connection_context():
        cur = db.cursor()
        execute_values(cur, "INSERT INTO attempt (lead_id, campaign_id, operator_id, phone, reserved_at, ended_at, outcome,"
                            " answered_at, bridged_at, wrap_up_at) VALUES %s", rows)
        execute_values(cur, "INSERT INTO operator_status_log (operator_id, status, at) VALUES %s", log)
    return {"campaigns": camps, "operators": ops, "count": len(rows)}


@pytest.fixture
def supervisor(accounts, signed_in_page):
    users.create_user("sv@example.org", "Светлана Супервайзер", PASSWORD, [accounts["supervisor"]])
    return signed_in_page("sv@example.org", PASSWORD, accept_downloads=True, locale="ru-RU")


def no_sideways_scroll(page):
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), page.evaluate(
        "[document.documentElement.scrollWidth, window.innerWidth]")


def download(page, selector):
    with page.expect_download() as info:
        page.click(selector)
    return Path(info.value.path()).read_bytes()


def test_a_supervisor_reads_the_week_toggles_an_outcome_and_opens_a_call(supervisor, week):
    page, errors, _ = supervisor
    page.goto("/reports")
    page.click("[data-testid=preset-7d] + span")
    page.wait_for_url("**/reports?**period=7d**")
    page.wait_for_function("window.Reports && window.Reports.charts.day")
    assert "Europe/Moscow" in page.inner_text("[data-testid=zone]")
    total = sum(int(page.get_attribute(f"[data-testid=kpi-{o.value}]", "data-n")) for o in ORDER)
    assert total == week["count"]

    chart = page.evaluate("window.Reports.charts.day")
    assert [s["code"] for s in chart["series"]] == [o.value for o in ORDER]
    assert [s["colour"] for s in chart["series"]] == [o.colour for o in ORDER]
    assert sum(sum(s["values"]) for s in chart["series"]) == week["count"]
    fills = page.evaluate("Array.from(document.querySelectorAll('#rp-chart-hour rect[data-outcome]'))"
                          ".map(r => [r.dataset.outcome, r.getAttribute('fill')])")
    assert {tuple(f) for f in fills} == {(o.value, o.colour) for o in ORDER}
    compare = page.evaluate("window.Reports.charts.compare")  # G4: the operators side by side
    assert sorted(compare["labels"]) == sorted(o.name for o in week["operators"])
    assert [s["code"] for s in compare["series"]] == [o.value for o in ORDER]
    assert all(abs(sum(s["values"][i] for s in compare["series"]) - 100) < 0.5 for i in range(3))
    no_sideways_scroll(page)
    shot(page, "week")

    # hover a bar: numbers and percentages
    page.hover("#rp-chart-hour g.bar:nth-of-type(12)")
    tip = page.locator("[data-testid=chart-tip]")
    assert tip.is_visible() and "%" in tip.inner_text()

    # the legend hides LOST from both charts, and shows it again
    page.click("[data-testid=legend-LOST]")
    assert page.get_attribute("[data-testid=legend-LOST]", "aria-pressed") == "false"
    assert "LOST" not in page.evaluate("window.Reports.charts.hour.series.map(s => s.code)")
    assert page.locator("#rp-chart-day rect[data-outcome=LOST]").count() == 0
    assert page.locator("#rp-chart-compare rect[data-outcome=LOST]").count() == 0
    shot(page, "legend-toggled")
    page.click("[data-testid=legend-LOST]")
    assert page.locator("#rp-chart-day rect[data-outcome=LOST]").count() > 0

    # sort the operators by attempts, then open a campaign's calls and a call's card
    page.click("#rp-operators th[data-col=attempts] .rp-sort")
    counts = [int(v) for v in page.eval_on_selector_all("#rp-operators tbody td[data-col=attempts]", "els => els.map(e => e.dataset.v)")]
    assert counts == sorted(counts, reverse=True)
    page.click(f"#rp-campaigns tbody tr[data-id='{week['campaigns'][0].id}'] [data-testid=row-link]")
    page.wait_for_selector("[data-testid=call-row]")
    assert page.locator("[data-testid=calls-total]").inner_text().isdigit()
    assert {page.locator("td[data-col=campaign]").nth(i).inner_text() for i in range(5)} == {CAMPAIGN}
    no_sideways_scroll(page)
    shot(page, "calls")
    page.click("[data-testid=call-row] >> nth=0 >> [data-testid=call-link]")
    page.wait_for_selector("[data-testid=call-card]")
    assert page.inner_text("[data-testid=card-campaign]") == CAMPAIGN
    assert errors == [], errors


def test_a_saved_view_is_there_after_signing_in_again(supervisor, week):
    page, errors, ctx = supervisor
    page.goto("/reports?period=7d")
    page.click("[data-testid=columns-operators]")
    page.uncheck(".rp-columns[data-table=operators] input[data-col=n_ERROR]")
    page.click("[data-testid=columns-operators]")  # closes the list again
    page.click("#rp-operators th[data-col=name] .rp-sort")  # A → Я
    page.click("#rp-operators th[data-col=name] .rp-sort")  # Я → A
    page.click("[data-testid=view-save-open]")
    page.fill("[data-testid=view-name]", "Неделя без ошибок")
    page.click("[data-testid=view-save]")
    page.wait_for_url("**view=**")
    page.click("[data-testid=user-menu]")
    page.click("[data-testid=sign-out]")
    sign_in(page, "sv@example.org", PASSWORD)
    page.goto("/reports")
    page.select_option("[data-testid=view-select]", label="Неделя без ошибок")
    page.wait_for_url("**view=**")
    page.wait_for_function("window.Reports && window.Reports.charts.day")
    assert page.is_checked("[data-testid=preset-7d]")
    assert not page.is_visible("#rp-operators th[data-col=n_ERROR]")
    assert page.get_attribute("#rp-operators th[data-col=name]", "aria-sort") == "descending"
    names = page.eval_on_selector_all("#rp-operators tbody td[data-col=name]", "els => els.map(e => e.dataset.v)")
    assert names == sorted(names, reverse=True)
    assert errors == [], errors


def test_csv_xlsx_and_pdf_download_and_read_back(supervisor, week):
    from openpyxl import load_workbook
    from pypdf import PdfReader

    page, errors, _ = supervisor
    page.goto(f"/reports/calls?period=7d&campaign={week['campaigns'][0].id}")
    total = int(page.inner_text("[data-testid=calls-total]"))
    assert total > 0
    text = download(page, "[data-testid=export-csv]").decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:])))
    header = rows.index(["№", "Завершён", "Кампания", "Оператор", "Клиент", "Заказ", "Телефон", "Исход", "Разговор, с",
                         "Постобработка, с", "Результат", "Ручной набор"])
    calls = rows[header + 1:]
    assert len(calls) == total and {r[2] for r in calls} == {CAMPAIGN}
    assert all(r[6].startswith("'+7") for r in calls)  # formula-safe: a leading + is not a formula

    book = load_workbook(io.BytesIO(download(page, "[data-testid=export-xlsx]")), read_only=True)
    sheet = book[book.sheetnames[-1]]
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == total + 1 and values[1][2] == CAMPAIGN
    assert isinstance(values[1][0], int) and isinstance(values[1][1], datetime)  # typed cells

    pdf = PdfReader(io.BytesIO(download(page, "[data-testid=export-pdf]")))
    assert CAMPAIGN in "".join(p.extract_text() for p in pdf.pages)

    page.goto("/reports?period=7d")
    report = PdfReader(io.BytesIO(download(page, "[data-testid=export-pdf]")))
    assert "Отчёт по звонкам" in report.pages[0].extract_text()
    page.click("[data-testid=shift-open]")
    page.select_option("[data-testid=shift-campaign]", str(week["campaigns"][0].id))
    shift = PdfReader(io.BytesIO(download(page, "[data-testid=shift-get]")))
    assert f"Сводка смены · {CAMPAIGN}" in shift.pages[0].extract_text()
    no_sideways_scroll(page)
    assert errors == [], errors


def test_a_kept_shift_summary_is_listed_and_downloads(supervisor, week):
    """The scheduled job's PDFs (issue 17, item 8): written after the shift, listed on «Отчёты», downloaded."""
    from pypdf import PdfReader

    from dialer.services import report_files

    page, errors, _ = supervisor
    made = report_files.write_due(datetime.now(timezone.utc), "Europe/Moscow", "00:00")
    assert made >= 2  # both campaigns have calls on several of the last days
    page.goto("/reports?period=7d")
    page.click("[data-testid=shift-files] summary")
    links = page.locator("[data-testid=shift-file]")
    assert links.count() == made
    first = links.first.inner_text()
    with page.expect_download() as info:
        links.first.click()
    pdf = PdfReader(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert "Сводка смены · " + first.split(" · ", 1)[1] in pdf.pages[0].extract_text()
    shot(page, "shift-files")
    no_sideways_scroll(page)
    assert errors == [], errors
