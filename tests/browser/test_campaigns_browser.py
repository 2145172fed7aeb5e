"""«Кампании» in headless Chromium at 1366×768, as an administrator: a campaign created from the form with its
window and a retry delay per outcome, a mistake refused by the field, the results edited and reordered, and the
list's counters following a new attempt without a reload. No sideways scrolling, no console errors; screenshots."""
from __future__ import annotations

from dialer.dev.testing import until
from dialer.models import Attempt, Campaign, Lead

from .conftest import PASSWORD, fits, shot


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


def test_the_list_follows_each_event_by_its_facts_without_reading_again(admin, db):
    """Leads by state, calls now, today's outcomes, the pool and its Ready operators, paused: each follows its live
    event (sql/024 adds the leads' and the pools' facts) and the page never asks /api/campaigns/overview again;
    reloaded, the server shows the same figures the events built."""
    page, errors = admin
    follows_live(page, errors, db, "b-campaigns-live")


def test_a_role_that_may_see_the_campaigns_only_sees_the_same_figures_live_as_on_a_reload(accounts, signed_in_page,
                                                                                       db):
    """A role with `campaigns.read` but neither `calls.read`, `operators.read` nor `supervisor.view` is shown calls
    now, today's outcomes and the pools' Ready on every read of the list: live, it gets the same facts (web/live.py
    REDUCED: `campaign.call`, `campaign.operator`, `campaign.active`), and never the calls' or operators' own events.
    It saw calls now, today's outcomes, Ready and paused only after a reload."""
    from dialer.services import users

    tester = accounts["tester"]
    users.set_role_permissions(tester, ["campaigns.read"])
    users.create_user("viewer@example.org", "Наблюдатель", PASSWORD, [tester])
    page, errors, _ = signed_in_page("viewer@example.org")
    kinds = []
    page.expose_function("noteLive", lambda kind: kinds.append(kind))
    page.add_init_script("""document.addEventListener("DOMContentLoaded", () => {
        for (const kind of ["attempt", "attempt.gone", "operator.status", "campaign", "campaign.call",
                            "campaign.call.gone", "campaign.operator", "campaign.active"])
          window.Dialer.live.on(kind, () => window.noteLive(kind)); });""")
    follows_live(page, errors, db, "f-campaigns-live-campaigns-read")
    assert {"campaign.call", "campaign.call.gone", "campaign.operator", "campaign.active"} <= set(kinds), kinds
    assert not {"attempt", "attempt.gone", "operator.status", "campaign"} & set(kinds), kinds


def follows_live(page, errors, db, shot_name):
    from dialer.models import OperatorCampaign, Operator
    from dialer.services import campaigns

    c = campaigns.create_campaign("Живой список")
    other = campaigns.create_campaign("Соседняя")
    lead = Lead.create(campaign=c["id"], external_id="1", phone="+79001000001", state="callable")
    Lead.create(campaign=other["id"], external_id="1", phone="+79001000002", state="callable")
    anna = Operator.create(name="Анна", login="anna")
    boris = Operator.create(name="Борис", login="boris")
    OperatorCampaign.create(operator=anna.id, campaign=c["id"])

    asked = []
    page.on("request", lambda r: asked.append(r.url) if "/api/" in r.url else None)
    page.goto("/campaigns")
    page.wait_for_selector("#live-status[data-state=open]")
    row = page.locator(f"tr[data-campaign='{c['id']}']")

    def shows(**want):
        def now():
            got = {k: row.locator(f"[data-lead-state={k[5:]}]" if k.startswith("lead_") else f"[data-field={k}]")
                   .inner_text() for k in want}
            return got == {k: str(v) for k, v in want.items()}
        until(now, timeout=10, message=f"the row to show {want}")

    shows(lead_callable=1, lead_new=0, in_progress=0, today_total=0, pool_total=1, pool_ready=0)
    Lead.insert_many([{"campaign": c["id"], "external_id": str(n), "phone": f"+7900200000{n}"} for n in (2, 3)]).execute()
    shows(lead_new=2, lead_callable=1)

    with db.atomic():  # a claim: the lead in progress, its attempt
        Lead.update(state="in_progress").where(Lead.id == lead.id).execute()
        call = Attempt.create(lead=lead.id, campaign=c["id"], phone=lead.phone, operator=anna.id)
    Operator.update(status="ready", status_since="now()").where(Operator.id == anna.id).execute()
    shows(lead_callable=0, lead_in_progress=1, in_progress=1, pool_ready=1)

    with db.atomic():  # the call ends busy; the lead waits for its retry
        Attempt.update(ended_at="now()", outcome="BUSY").where(Attempt.id == call.id).execute()
        Lead.update(state="callable").where(Lead.id == lead.id).execute()
    shows(lead_callable=1, lead_in_progress=0, in_progress=0, today_total=1)
    assert row.locator(".cmp-seg[data-outcome=BUSY]").evaluate("e => e.style.flexGrow") == "1"

    offer = Attempt.create(lead=lead.id, campaign=c["id"], phone=lead.phone, operator=anna.id)
    shows(in_progress=1)
    Attempt.delete().where(Attempt.id == offer.id).execute()  # an offer withdrawn before any call
    shows(in_progress=0, today_total=1)

    OperatorCampaign.create(operator=boris.id, campaign=c["id"])
    shows(pool_total=2, pool_ready=1)
    OperatorCampaign.delete().where(OperatorCampaign.operator == anna.id).execute()
    shows(pool_total=1, pool_ready=0)
    Operator.update(active=False).where(Operator.id == boris.id).execute()
    shows(pool_total=0)

    campaigns.update_campaign(c["id"], active=False)
    until(lambda: row.locator("[data-active='0']").is_visible() and not row.locator("[data-active='1']").is_visible(),
          timeout=10, message="the campaign shown paused")
    other_row = page.locator(f"tr[data-campaign='{other['id']}']")
    assert other_row.locator("[data-lead-state=callable]").inner_text() == "1"
    fits(page)
    shot(page, shot_name)

    assert not [u for u in asked if "/api/campaigns" in u], asked  # every figure above came from the events
    live = {k: row.locator(f"[data-field={k}]").inner_text() for k in ("in_progress", "today_total", "pool_total")}
    leads = row.locator("[data-lead-state]").all_inner_texts()
    page.reload()
    page.wait_for_selector("#live-status[data-state=open]")
    assert {k: row.locator(f"[data-field={k}]").inner_text() for k in live} == live
    assert row.locator("[data-lead-state]").all_inner_texts() == leads
    assert errors == []
