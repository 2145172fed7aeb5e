"""Every page of the product on an ordinary laptop (1366×768), with data on it: nothing scrolls sideways, nothing
logs an error. The pages' own tests check what they do; this one walks them all, so a page nobody tests for its
width (a form in a card, a wide table) cannot overflow unnoticed."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from dialer.crm import connections, store
from dialer.crm.adapter import CrmStatus
from dialer.dev.testing import add_leads
from dialer.models import CampaignResult, Lead
from dialer.services import campaigns, operators, users

from .conftest import PASSWORD, fits, shot


def _data(db, accounts) -> dict:
    cid = campaigns.create_campaign("Кампания с очень длинным названием для проверки ширины карточек")["id"]
    CampaignResult.create(campaign=cid, code="accepted", title="Подтверждён", position=0)
    conn = connections.create_connection(db, {"kind": "generic", "campaign_id": cid, "name": "Магазин на Садовой"})
    store.save_statuses(db, conn["id"], [CrmStatus("1", "Новый заказ, ждёт подтверждения оператором", "processing"),
                                         CrmStatus("3", "Подтверждён", "accepted")])
    op = operators.create_operator("Оператор Длиннофамильный-Двойной", "op.wide", "secret-op-wide-1", [cid])
    add_leads(cid, ["+79123456701", "+79123456702"])
    lead = Lead.select().order_by(Lead.id).first()
    ended = datetime.now(timezone.utc) - timedelta(minutes=5)
    attempt = db.execute_sql(
        "INSERT INTO attempt (lead_id, campaign_id, operator_id, phone, outcome, reserved_at, answered_at, bridged_at,"
        " ended_at, wrap_up_result, wrap_up_comment, wrap_up_at) VALUES (%s, %s, %s, %s, 'ANSWERED', %s, %s, %s, %s, 'accepted', %s, %s)"
        " RETURNING id", (lead.id, cid, op["id"], lead.phone, ended - timedelta(minutes=2),
                          ended - timedelta(seconds=90), ended - timedelta(seconds=89), ended,
                          "Клиент просил перезвонить после обеда, " * 4, ended)).fetchone()[0]
    user = users.create_user("supervisor.wide@example.org", "Руководитель Смены Длинное Имя", PASSWORD,
                             [accounts["supervisor"]])
    device = db.execute_sql("SELECT id FROM sip_device ORDER BY id LIMIT 1").fetchone()[0]
    return {"campaign": cid, "connection": conn["id"], "operator": op["id"], "lead": lead.id,
            "attempt": attempt, "user": user["id"], "device": device}


PAGES = [
    "/", "/me", "/access", "/access/users", "/access/users/{user}", "/access/roles", "/access/audit",
    "/campaigns", "/campaigns/new", "/campaigns/{campaign}", "/campaigns/{campaign}/dialling",
    "/campaigns/{campaign}/results", "/campaigns/{campaign}/selections", "/campaigns/{campaign}/import",
    "/campaigns/{campaign}/recording",
    "/crm", "/crm/{connection}", "/crm/{connection}/mapping", "/crm/{connection}/import", "/crm/{connection}/log",
    "/dnc", "/search", "/search/leads/{lead}",
    "/operators", "/operators/new", "/operators/import", "/operators/pools", "/operators/{operator}",
    "/telephony", "/telephony/devices/{device}",
    "/supervisor", "/supervisor/calls/{attempt}", "/monitoring",
    "/reports", "/reports/calls", "/panel",
]


def test_every_page_fits_a_laptop_screen_with_no_error(accounts, signed_in_page, db):
    ids = _data(db, accounts)
    page, errors, _ = signed_in_page()
    wide = []
    for path in PAGES:
        url = path.format(**ids)
        response = page.goto(url)
        assert response.status == 200, (url, response.status)
        page.wait_for_load_state("networkidle")
        width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        shot(page, "page" + url.replace("/", "-"))
        if path == "/reports/calls":  # the result as the campaign names it, not its code
            assert page.locator("#rp-calls td[data-col=result]").first.inner_text() == "Подтверждён"
        if width[0] > width[1]:
            wide.append((url, width))
        assert not errors, (url, errors)
    assert wide == []
    fits(page)
