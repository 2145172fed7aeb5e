"""«Поиск» on a real PostgreSQL: a lead found by phone in any written form, order id, lead number or a part of the
name, across campaigns; the lead card (attempts with outcomes, CRM link, why it is not dialled); reschedule,
priority and do-not-call audited with old → new; bad input refused in both languages with nothing changed; and
who may do what, through real sessions."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dialer.errors import Conflict, Invalid
from dialer.models import Attempt, Campaign, Lead, Operator, Selection
from dialer.permissions import ROLES
from dialer.services import lead_search

PERMS = {code: perms for code, _, _, perms in ROLES}
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=timezone.utc)  # 12:00 in Moscow


@pytest.fixture
def leads(db):
    a = Campaign.create(name="Подтверждение", order_url_template="https://shop.example/orders/{external_id}").id
    b = Campaign.create(name="Допродажа").id
    ids = {}
    for key, cid, ext, phone, name in (("anna", a, "10452", "+79001234567", "Анна Иванова"),
                                       ("boris", b, "20001", "+79007654321", "Борис Петров"),
                                       ("ivan", b, "30003", "+79001110000", "Иван Иванов"),
                                       ("odd", a, "A_1%", "+79002220000", "100% Шарик")):
        ids[key] = Lead.insert(campaign=cid, external_id=ext, phone=phone, name=name, region="Москва",
                               attrs={"source": "site"}).execute()
    return {"a": a, "b": b, **ids}


def found(q, **kw):
    return [r["id"] for r in lead_search.search(q, **kw)["results"]]


def test_found_by_phone_in_any_written_form_order_id_number_and_name(leads):
    for q in ("+7 900 123-45-67", "8 (900) 123 45 67", "9001234567", "79001234567", "34567"):
        assert found(q) == [leads["anna"]], q
    assert found("10452") == [leads["anna"]]            # the order id
    assert found(str(leads["boris"]))[0] == leads["boris"]  # the lead number
    assert sorted(found("иванов")) == sorted([leads["anna"], leads["ivan"]])  # a part of the name, any case
    assert found("Иванов", campaign_id=leads["b"]) == [leads["ivan"]]
    assert found("A_1%") == [leads["odd"]]              # LIKE's wildcards are taken literally
    assert found("0%") == [] and found("A_") == []
    assert found("Нет такого") == []


@pytest.mark.parametrize("q", ["", "   ", "x" * 201, "a\x00b", 12])
def test_a_bad_query_is_refused_in_both_languages(leads, q):
    with pytest.raises(Invalid) as e:
        lead_search.search(q)
    assert e.value.as_dict()["field"] == "q" and e.value.as_dict()["message_ru"]


def test_the_card_shows_attempts_crm_link_and_why(leads, db):
    o = Operator.create(name="Оля", login="olya", sip_password="secret-123")
    for outcome, minutes in (("BUSY", 30), ("ANSWERED", 10)):
        Attempt.insert(lead=leads["anna"], campaign=leads["a"], operator=o.id, phone="+79001234567", outcome=outcome,
                       reserved_at=NOW - timedelta(minutes=minutes), dial_started_at=NOW - timedelta(minutes=minutes),
                       answered_at=NOW - timedelta(minutes=minutes) if outcome == "ANSWERED" else None,
                       ended_at=NOW - timedelta(minutes=minutes - 2), wrap_up_result="later",
                       wrap_up_comment="перезвонить вечером").execute()
    Lead.update(attempts=2, state="callable", next_call_at=NOW + timedelta(hours=8), callback=True).where(
        Lead.id == leads["anna"]).execute()
    card = lead_search.lead_card(leads["anna"], now=NOW)
    assert card["order_url"] == "https://shop.example/orders/10452"
    assert [(a["outcome"], a["colour"], a["operator"]) for a in card["attempt_list"]] == [
        ("ANSWERED", "#2e7d32", "Оля"), ("BUSY", "#f2a900", "Оля")]
    assert card["attempt_list"][0]["talk_s"] == 120
    assert card["next_call_local"] == "2026-11-30T20:00"  # the client's time (Moscow)
    assert [r["code"] for r in card["why"]["reasons"]] == ["callback"]
    assert "20:00" in card["why"]["reasons"][0]["message_ru"]
    # a selection it does not match says which condition
    Selection.create(campaign=leads["a"], name="Тверь", position=1,
                     rule={"conditions": [[{"field": "region", "op": "eq", "value": "Тверь"}]]})
    why = lead_search.lead_card(leads["anna"], now=NOW + timedelta(hours=8, minutes=1))["why"]
    assert [r["code"] for r in why["reasons"]] == ["conditions"] and not why["callable"]
    assert "Регион равно Тверь" in why["reasons"][0]["message_ru"]
    # after 21:00 in Moscow the campaign's own window holds it back too
    Campaign.update(calling_window={"from": "09:00", "to": "21:00", "weekend": None, "weekend_days": [6, 7]}).where(
        Campaign.id == leads["a"]).execute()
    late = lead_search.lead_card(leads["anna"], now=NOW + timedelta(hours=10))["why"]
    assert [r["code"] for r in late["reasons"]] == ["campaign_window_closed", "conditions"]
    assert "22:00 в Europe/Moscow" in late["reasons"][0]["message_ru"]


def test_reschedule_priority_and_do_not_call_are_audited(leads, db):
    lead_search.reschedule(leads["boris"], "2026-12-01T10:30", now=NOW)
    lead = Lead.get_by_id(leads["boris"])
    assert lead.next_call_at == datetime(2026, 12, 1, 7, 30, tzinfo=timezone.utc) and lead.callback
    lead_search.set_priority(leads["boris"], 7)
    assert lead_search.do_not_call(leads["boris"], "просил не звонить")["added"] is True
    rows = db.execute_sql("SELECT name, changes FROM audit_log WHERE object_type IN ('lead', 'do_not_call') "
                          "ORDER BY at").fetchall()
    assert [n for n, _ in rows] == ["lead rescheduled", "lead priority changed", "do-not-call: number added"]
    assert rows[1][1]["priority"] == [0, 7]
    why = lead_search.lead_card(leads["boris"], now=NOW + timedelta(days=2))["why"]
    assert "do_not_call" in [r["code"] for r in why["reasons"]]


@pytest.mark.parametrize("call", [
    lambda ids: lead_search.reschedule(ids["boris"], "завтра", now=NOW),
    lambda ids: lead_search.reschedule(ids["boris"], "2026-02-30T10:00", now=NOW),
    lambda ids: lead_search.reschedule(ids["boris"], "2029-01-01T10:00", now=NOW),
    lambda ids: lead_search.set_priority(ids["boris"], "высокий"),
    lambda ids: lead_search.set_priority(ids["boris"], 10**12),
    lambda ids: lead_search.do_not_call(ids["boris"], "x" * 501),
])
def test_bad_input_changes_nothing(leads, unchanged, call):
    before = Lead.get_by_id(leads["boris"])
    with unchanged(), pytest.raises(Invalid) as e:
        call(leads)
    assert e.value.as_dict()["message_ru"] and e.value.as_dict()["message"]
    after = Lead.get_by_id(leads["boris"])
    assert (after.next_call_at, after.priority) == (before.next_call_at, before.priority)


def test_a_lead_in_a_call_cannot_be_moved(leads, unchanged):
    Lead.update(state="in_progress").where(Lead.id == leads["ivan"]).execute()
    with unchanged(), pytest.raises(Conflict):
        lead_search.reschedule(leads["ivan"], "2026-12-01T10:30", now=NOW)


@pytest.fixture
def sessions(signed_in):
    def session(code):
        client = signed_in(code)
        return client, client.headers["X-CSRF-Token"]

    return session


@pytest.mark.parametrize("code", [code for code, *_ in ROLES])
def test_pages_and_actions_by_role(leads, sessions, code):
    client, csrf = sessions(code)
    may_read, may_update, may_dnc = ("leads.read" in PERMS[code], "leads.update" in PERMS[code],
                                     "dnc.edit" in PERMS[code])
    r = client.get("/search?q=8 900 123 45 67")
    assert r.status_code == (200 if may_read else 403)
    if may_read:
        assert f'data-testid="result-{leads["anna"]}"' in r.text
        card = client.get(f"/search/leads/{leads['anna']}")
        assert card.status_code == 200 and "https://shop.example/orders/10452" in card.text
        assert ('data-testid="reschedule"' in card.text) == may_update
    assert client.get("/api/leads/search", params={"q": "10452"}).status_code == (200 if may_read else 403)
    r = client.post(f"/search/leads/{leads['anna']}/priority", data={"_csrf": csrf, "priority": "5"},
                    follow_redirects=False)
    assert r.status_code in ((302, 303) if may_update else (403,))
    assert Lead.get_by_id(leads["anna"]).priority == (5 if may_update else 0)
    r = client.post(f"/api/leads/{leads['anna']}/do-not-call", json={"reason": "тест"})
    assert r.status_code == (200 if may_dnc else 403)


def test_a_bad_form_shows_its_message_and_changes_nothing(leads, sessions):
    client, csrf = sessions("supervisor")
    r = client.post(f"/search/leads/{leads['anna']}/reschedule", data={"_csrf": csrf, "next_call_at": "когда-нибудь"})
    assert r.status_code == 422 and "должно быть датой и временем" in r.text
    r = client.get("/search?q=%00")
    assert r.status_code == 422
