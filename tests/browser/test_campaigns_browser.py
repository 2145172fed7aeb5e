"""«Кампании» in headless Chromium at 1366×768, as an administrator: a campaign created from the form with its
window and a retry delay per outcome, a mistake refused by the field, the results edited and reordered, and the
list's counters following a new attempt without a reload. No sideways scrolling, no console errors; screenshots."""
from __future__ import annotations

from dialer.dev.testing import until
from dialer.models import Attempt, Campaign, Lead

from .conftest import fits, shot


def test_a_campaign_is_created_set_up_and_followed_live(admin, db):
    page, errors = admin
    page.goto("/campaigns/new")
    fits(page)
    shot(page, "f-campaign-new")
    page.fill("[data-testid=f-name]", "Подтверждение заказов")
    page.fill("[data-testid=f-window_from]", "10:00")
    page.fill("[data-testid=f-retry_BUSY]", "300")
    page.click("[data-testid=create-campaign]")
    page.wait_for_selector("[data-testid=saved]")
    c = Campaign.get(Campaign.name == "Подтверждение заказов")
    assert c.calling_window["from"] == "10:00" and c.retry_delays == {"BUSY": 300}
    fits(page)
    shot(page, "f-campaign-settings")

    page.fill("[data-testid=f-ring_timeout_s]", "2")  # below the 5 s minimum: refused by the field
    page.evaluate("document.getElementById('campaign-form').noValidate = true")  # the server's check, not the browser's
    page.click("[data-testid=save-campaign]")
    page.wait_for_selector("[data-field-error=ring_timeout_s]")
    assert Campaign.get_by_id(c.id).ring_timeout_s == 30
    errors[:] = [e for e in errors if "status of 422" not in e]

    page.goto(f"/campaigns/{c.id}/results")
    codes, titles = page.locator("[data-testid=r-code]"), page.locator("[data-testid=r-title]")
    codes.nth(0).fill("confirmed"), titles.nth(0).fill("Подтверждён")
    codes.nth(1).fill("later"), titles.nth(1).fill("Перезвонить")
    page.locator("[data-testid=r-closes]").nth(1).uncheck()
    page.locator(".cmp-up").nth(1).click()  # «Перезвонить» first
    page.click("[data-testid=save-results]")
    page.wait_for_selector("[data-testid=saved]")
    fits(page)
    shot(page, "f-campaign-results")
    from dialer.services import campaigns
    assert [(r["code"], r["closes_lead"]) for r in campaigns.list_results(c.id)] == [("later", False),
                                                                                    ("confirmed", True)]

    page.goto("/campaigns")
    fits(page)
    lead = Lead.create(campaign=c.id, external_id="1", phone="+79001000001")
    Attempt.create(lead=lead.id, campaign=c.id, phone=lead.phone, ended_at="now()", outcome="BUSY")
    row = page.locator(f"tr[data-campaign='{c.id}']")
    until(lambda: row.locator("[data-field=today_total]").inner_text() == "1", timeout=10)
    shot(page, "f-campaigns-list")
    assert errors == []
