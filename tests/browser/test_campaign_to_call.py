"""From an empty installation to a call, all in the browser over real Asterisk: headless Chromium at 1366×768, real
PostgreSQL, pbx + sim, the engine as its own process.

A supervisor creates a campaign (calling at any hour, an explicit choice), gives it two wrap-up results, imports
three orders from a file, writes two selections — a broad one («создан от сегодня − 3 до сегодня») and one on a
CRM field of the file that narrows to a single order — puts the narrow one first with an arrow, and ticks an operator
into the campaign's pool on the «Операторы» grid. The operator, signed in to the panel in a second browser with a
simulated softphone registered on pbx, goes Ready and is called on exactly the order the first selection picks (the
number the sim's PSTN is dialled on, the name on the call card), hangs up, chooses one of the campaign's results in the
panel, and the attempt, its wrap-up and the closed order are in the database; Ready again, the next call comes from
the broad selection. Neither page logs a console error or scrolls sideways; a screenshot of each step goes to
$DIALER_SCREENSHOTS."""
from __future__ import annotations

import pytest

from dialer.dev.testing import until
from dialer.models import Attempt, Campaign, CampaignResult, Lead, Selection
from dialer.services import operators, users
from tests.e2e.conftest import asterisk, engine  # noqa: F401  (real Asterisk and the engine process)

from .conftest import PASSWORD, fits, sign_in
from .conftest import shot as screenshot

pytestmark = pytest.mark.e2e
CALL_MS = 20_000  # a call placed, answered and shown on the card
NAME = "Подтверждение партнёрских заказов"
# 79000 00 xxxx: the sim's client answers and talks until the dialer hangs up (sim/README.md). The order the first
# selection picks is the file's last: the broad selection alone would call the first one.
ORDERS = ("Номер заказа;Телефон;ФИО;source\n"
          "P-101;+7 900 000-31-01;Анна Сайтова;site\n"
          "P-102;8 900 000-31-02;Борис Сайтов;site\n"
          "P-103;+79000003103;Вера Партнёрова;partner\n")
TARGET_PHONE = "79000003103"


def watched(browser, web_url, request):
    """A 1366×768 page in its own browser context, and the console errors it logs."""
    ctx = browser.new_context(base_url=web_url, viewport={"width": 1366, "height": 768})
    request.addfinalizer(ctx.close)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(f"{m.text} {m.location.get('url')}") if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def shot(page, name):
    fits(page)
    screenshot(page, f"campaign-to-call-{name}")


def condition(page, field, op, value, value2=None):
    row = page.locator("[data-testid=condition]").nth(0)
    row.locator("[data-testid=cond-field]").select_option(field)
    row.locator("[data-testid=cond-op]").select_option(op)
    row.locator("[data-testid=cond-value]").fill(value)
    if value2 is not None:
        row.locator("[data-testid=cond-value-2]").fill(value2)
    return row


def matches_now(page, expected):
    page.wait_for_function(f"document.getElementById('editor').dataset.count === '{expected}'")


def new_selection(page, cid, name):
    page.goto(f"/campaigns/{cid}/selections")
    page.click("[data-testid=new-selection]")
    page.fill("[data-testid=name]", name)
    page.click("[data-testid=add-group]")


def drafts_refused(errors):
    """«Подходит сейчас» asks the server about each draft as it is typed, and a draft with a mistake (a value not
    typed yet) is answered 422 by design, which Chromium logs. Any other error is not expected."""
    return [e for e in errors if not ("status of 422" in e and "/selections/preview" in e)]


def sim_dialled(settings) -> list[str]:
    """The numbers the sim's PSTN is being called on now (`core show channels concise`: context, extension)."""
    from dialer.dev import instances

    out = instances.rx(settings, "sim", "core show channels concise")
    return [f[2] for f in (line.split("!") for line in out.splitlines()) if len(f) > 2 and f[1] == "pstn"]


def test_a_campaign_built_in_the_browser_calls_its_first_selections_lead_over_asterisk(engine, accounts, browser,
                                                                                         web_url, request, tmp_path):
    from dialer.dev import instances

    settings = engine.settings
    users.create_user("sv@example.org", "Светлана Супервайзер", PASSWORD, [accounts["supervisor"]])
    op = operators.create_operator("Ольга Операторова", "olga", "Phone-pass-olga-1", [])
    users.create_user("olga@example.org", "Ольга Операторова", PASSWORD, [accounts["operator"]], operator_id=op["id"])
    instances.sync_sim_phones(settings, operators.sip_devices())  # her softphone registers while the campaign is built

    sv, sv_errors = watched(browser, web_url, request)
    sign_in(sv, "sv@example.org", PASSWORD)
    sv_errors.clear()

    # the campaign: any hour (the test runs at every hour), no wrap-up limit, active
    sv.goto("/campaigns/new")
    sv.fill("[data-testid=f-name]", NAME)
    sv.check("[data-testid=f-active]")
    sv.fill("[data-testid=f-max_attempts]", "2")
    sv.fill("[data-testid=f-wrap_up_limit_s]", "0")
    sv.check("[data-testid=f-any_hour]")
    shot(sv, "01-new")
    sv.click("[data-testid=create-campaign]")
    sv.wait_for_selector("[data-testid=saved]")
    c = Campaign.get(Campaign.name == NAME)
    assert c.active and c.calling_window.get("any_hour") is True and c.wrap_up_limit_s == 0
    shot(sv, "02-settings")

    # its wrap-up results
    sv.click("[data-tab=results]")
    codes, titles = sv.locator("[data-testid=r-code]"), sv.locator("[data-testid=r-title]")
    codes.nth(0).fill("confirmed")
    titles.nth(0).fill("Подтверждён")
    codes.nth(1).fill("later")
    titles.nth(1).fill("Перезвонить позже")
    sv.locator("[data-testid=r-closes]").nth(1).uncheck()
    sv.click("[data-testid=save-results]")
    sv.wait_for_selector("[data-testid=saved]")
    assert [(r.code, r.closes_lead) for r in CampaignResult.select().where(CampaignResult.campaign == c.id)
            .order_by(CampaignResult.position)] == [("confirmed", True), ("later", False)]
    shot(sv, "03-results")

    # three orders from a file: «source» becomes a CRM field of the campaign's leads
    orders = tmp_path / "orders.csv"
    orders.write_text(ORDERS, encoding="utf-8")
    sv.click("[data-tab=import]")
    sv.set_input_files("[data-testid=import-file]", str(orders))
    sv.click("[data-testid=preview]")
    sv.wait_for_selector("#import-mapping")
    assert sv.input_value("select[data-column='Телефон']") == "phone"
    sv.click("[data-testid=import]")
    sv.wait_for_selector("#import-result")
    assert sv.locator("[data-count=imported]").inner_text() == "3"
    leads = {x.external_id: x for x in Lead.select().where(Lead.campaign == c.id)}
    assert sorted(leads) == ["P-101", "P-102", "P-103"], leads
    target = leads["P-103"]
    assert (target.phone, target.attrs.get("source")) == ("+" + TARGET_PHONE, "partner")
    shot(sv, "04-import")

    # the broad selection first, then the narrow one on the file's CRM field; «Подходит сейчас» follows the value
    new_selection(sv, c.id, "Свежие заказы")
    row = condition(sv, "created_at", "within", "-3", "-1")  # created from today − 3 to yesterday: none of them
    matches_now(sv, "0")
    row.locator("[data-testid=cond-value-2]").fill("0")  # … to today: all three
    matches_now(sv, "3")
    shot(sv, "05-broad-selection")
    sv.click("[data-testid=save]")
    sv.wait_for_selector("[data-testid=editor-saved]:not([hidden])")
    new_selection(sv, c.id, "Партнёрские")
    row = condition(sv, "attrs.source", "eq", "part")
    matches_now(sv, "0")
    row.locator("[data-testid=cond-value]").fill("partner")
    matches_now(sv, "1")
    shot(sv, "06-narrow-selection")
    sv.click("[data-testid=save]")
    sv.wait_for_selector("[data-testid=editor-saved]:not([hidden])")
    broad, narrow = Selection.get(Selection.name == "Свежие заказы"), Selection.get(Selection.name == "Партнёрские")
    assert broad.rule["conditions"] == [[{"field": "created_at", "op": "within", "value": [-3, 0]}]]
    assert narrow.rule["conditions"] == [[{"field": "attrs.source", "op": "eq", "value": "partner"}]]
    # the narrow one first: an arrow, saved at once
    sv.goto(f"/campaigns/{c.id}/selections")
    sv.locator(f"[data-testid=selection-{narrow.id}] [data-testid=up]").click()
    sv.wait_for_function(f"document.getElementById('sel-list').dataset.saved === '{narrow.id},{broad.id}'")
    assert [s.id for s in Selection.select().where(Selection.campaign == c.id).order_by(Selection.position)] == [
        narrow.id, broad.id]
    assert sv.locator(f"[data-testid=selection-{broad.id}] [data-testid=count]").inner_text() == "3 / 3"
    assert sv.locator(f"[data-testid=selection-{narrow.id}] [data-testid=count]").inner_text() == "1 / 1"
    shot(sv, "07-selections-ordered")

    # the operator into the campaign's pool on the grid
    sv.goto("/operators/pools")
    sv.check(f"[data-testid=pool-{op['id']}-{c.id}]")
    shot(sv, "08-pools")
    sv.click("[data-testid=save-grid]")
    sv.wait_for_selector("[data-testid=saved]")
    assert db_pool(c.id) == [op["id"]]
    assert drafts_refused(sv_errors) == []

    # the operator's panel: Ready → called on the first selection's order
    instances.wait_registered(settings, ["olga"], timeout=60)
    panel, panel_errors = watched(browser, web_url, request)
    sign_in(panel, "olga@example.org", PASSWORD)
    panel.goto("/panel")
    panel.wait_for_selector("[data-testid=panel-status][data-status]")
    panel_errors.clear()
    shot(panel, "09-panel")
    panel.click("[data-testid=go-ready]")
    panel.wait_for_selector("[data-testid=call-phase][data-phase=talking]", timeout=CALL_MS)
    until(lambda: TARGET_PHONE in sim_dialled(settings), 10, message="the sim's client called on the target number")
    assert sim_dialled(settings) == [TARGET_PHONE]
    assert panel.locator("[data-testid=client-name]").inner_text() == "Вера Партнёрова"
    assert panel.locator("[data-testid=call-order]").inner_text() == "P-103"
    assert panel.locator("[data-testid=call-campaign]").inner_text() == NAME
    call = Attempt.get(Attempt.operator == op["id"], Attempt.ended_at.is_null())
    assert (call.lead_id, call.campaign_id, call.selection_id) == (target.id, c.id, narrow.id)
    shot(panel, "10-call")

    # hung up from the panel, one of the campaign's results chosen
    panel.click("[data-testid=hang-up]")
    panel.wait_for_selector("[data-testid=call-phase][data-phase=wrap_up]", timeout=10_000)
    assert sorted(panel.locator("[data-testid^=result-]:not([data-testid=result-text])").evaluate_all(
        "(els) => els.map((e) => e.value)")) == ["confirmed", "later"]
    panel.check("[data-testid=result-confirmed]")
    panel.fill("[data-testid=comment]", "подтвердила заказ")
    shot(panel, "11-wrap-up")
    panel.click("[data-testid=wrap-up-save]")
    done = until(lambda: (a := Attempt.get_by_id(call.id)).wrap_up_at and a, 10, message="the wrap-up saved")
    assert (done.outcome, done.wrap_up_result, done.wrap_up_comment) == ("ANSWERED", "confirmed", "подтвердила заказ")
    assert done.bridged_at is not None and done.phone == "+" + TARGET_PHONE
    assert Lead.get_by_id(target.id).state == "done"  # «Подтверждён» closes the order
    panel.wait_for_selector("[data-testid=call-phase][data-phase=wrap_up]", state="detached", timeout=10_000)

    # Ready again: the next call comes from the broad selection, the target order being closed
    after = until(lambda: Attempt.get_or_none(Attempt.operator == op["id"], Attempt.id != call.id,
                                              Attempt.bridged_at.is_null(False)), 20, message="the next call")
    assert after.selection_id == broad.id and after.lead_id in (leads["P-101"].id, leads["P-102"].id)
    assert Attempt.select().where(Attempt.lead == target.id).count() == 1
    until(lambda: after.phone[1:] in sim_dialled(settings), 10, message="the sim's client called on the next number")
    shot(panel, "12-next-call")
    assert panel_errors == []


def db_pool(campaign_id):
    return [row[0] for row in Campaign._meta.database.execute_sql(
        "SELECT operator_id FROM operator_campaign WHERE campaign_id = %s ORDER BY 1", (campaign_id,)).fetchall()]
