"""«Кампании» through HTTP with real sessions: each page and form × the six roles (allowed → done, refused → 403
and nothing changed), bad input → a message in the user's language by the field and nothing changed, every change
in the audit log with old → new, and «Почему не звоним?» naming its reasons."""
from __future__ import annotations

import pytest

from dialer.models import Campaign, CampaignResult, Lead
from dialer.permissions import ROLES
from dialer.services import campaigns
from web import auth

PERMS = {code: perms for code, _, _, perms in ROLES}
FORM = {"name": "Подтверждение", "active": "on", "max_attempts": "4", "retry_delay_s": "600", "ring_timeout_s": "25",
        "wrap_up_limit_s": "30", "auto_ready": "on", "operator_answer_timeout_s": "15", "missed_offers_limit": "3",
        "caller_id": "+74950000000", "order_url_template": "https://crm.example/o/{id}", "exhausted_status": "",
        "max_per_day": "2", "min_pause_minutes": "", "retry_NO_ANSWER": "900", "retry_BUSY": "",
        "window_from": "09:00", "window_to": "21:00", "weekend_from": "10:00", "weekend_to": "20:00",
        "weekend_days": ["6", "7"]}


@pytest.fixture
def world(db, signed_in):
    cid = campaigns.create_campaign("Подтверждение")["id"]
    campaigns.set_results(cid, [{"code": "confirmed", "title": "Подтверждён", "closes_lead": True}])
    return {"session": signed_in, "cid": cid}


def state() -> str:
    return repr((list(Campaign.select().order_by(Campaign.id).dicts()),
                 list(CampaignResult.select().order_by(CampaignResult.id).dicts())))


@pytest.mark.parametrize("role", [code for code, *_ in ROLES])
def test_each_page_and_form_by_role(world, role):
    client, cid = world["session"](role), world["cid"]
    may = PERMS[role]
    for path in ("/campaigns", f"/campaigns/{cid}", f"/campaigns/{cid}/results"):
        r = client.get(path, headers={"Accept": "text/html"})
        assert r.status_code == (200 if "campaigns.read" in may else 403), path
    assert client.get("/campaigns/new").status_code == (200 if "campaigns.create" in may else 403)
    before = state()
    r = client.post(f"/campaigns/{cid}", data={**FORM, "name": "Переименована"}, follow_redirects=False)
    if "campaigns.update" in may:
        assert r.status_code == 303 and Campaign.get_by_id(cid).name == "Переименована"
        assert Campaign.get_by_id(cid).retry_delays == {"NO_ANSWER": 900}
        assert Campaign.get_by_id(cid).max_per_day == 2
    else:
        assert r.status_code == 403 and state() == before
    before = state()
    r = client.post("/campaigns", data={**FORM, "name": "Новая"}, follow_redirects=False)
    if "campaigns.create" in may:
        assert r.status_code == 303 and Campaign.get_or_none(Campaign.name == "Новая") is not None
    else:
        assert r.status_code == 403 and state() == before


BAD = [("name", ""), ("max_attempts", "0"), ("max_attempts", "много"), ("retry_delay_s", "-1"),
       ("ring_timeout_s", "2"), ("wrap_up_limit_s", "90000"), ("operator_answer_timeout_s", "1"),
       ("missed_offers_limit", "0"), ("order_url_template", "ftp://x/{id}"), ("max_per_day", "51"),
       ("min_pause_minutes", "-5"), ("retry_NO_ANSWER", "-3"), ("window_from", "25:00"), ("window_to", "08:00"),
       ("weekend_to", "09:00"), ("caller_id", "x" * 81), ("exhausted_status", "s" * 101)]


def test_bad_input_is_named_and_nothing_changes(world):
    """Every field's mistake, alternately in Russian and English (one session: the check is per field)."""
    client, cid = world["session"]("admin"), world["cid"]
    before = state()
    for i, (field, value) in enumerate(BAD):
        lang = ("ru", "en")[i % 2]
        client.cookies.set(auth.Cookies.LANG, lang)
        r = client.post(f"/campaigns/{cid}", data={**FORM, field: value}, follow_redirects=False)
        assert r.status_code == 422, (field, r.text[:300])
        assert 'data-testid="form-error"' in r.text and 'class="field-error"' in r.text, field
        assert state() == before, field
        shown = r.text.split('data-testid="form-error"')[1].split("</div>")[0].lower()
        assert any("а" <= ch <= "я" for ch in shown) is (lang == "ru"), (field, shown)


def test_results_editor_saves_order_and_flags_and_refuses_a_duplicate(world):
    client, cid = world["session"]("supervisor"), world["cid"]
    data = {"position": ["2", "1", "3"], "code": ["later", "confirmed", ""], "title": ["Перезвонить", "Подтверждён", ""],
            "closes_lead": ["confirmed"], "crm_status": ["", "", ""]}
    assert client.post(f"/campaigns/{cid}/results", data=data, follow_redirects=False).status_code == 303
    assert [(r["code"], r["closes_lead"]) for r in campaigns.list_results(cid)] == [("confirmed", True), ("later", False)]
    before = state()
    r = client.post(f"/campaigns/{cid}/results", data={**data, "code": ["x", "x", ""]})
    assert r.status_code == 422 and "results[1].code" in r.text and state() == before


@pytest.mark.calling_window
def test_every_change_is_audited_with_old_and_new(world, db):
    client, cid = world["session"]("admin"), world["cid"]
    client.post(f"/campaigns/{cid}", data={**FORM, "any_hour": "on"}, follow_redirects=False)
    assert Campaign.get_by_id(cid).calling_window == {"any_hour": True}
    changes, = db.execute_sql("SELECT changes FROM audit_log WHERE object_type = 'campaign' AND object_id = %s"
                              " ORDER BY id DESC LIMIT 1", (str(cid),)).fetchone()
    old, new = changes["calling_window"]
    assert old["from"] == "09:00" and new == {"any_hour": True}


@pytest.mark.calling_window
def test_why_idle_names_paused_nobody_ready_and_the_window(world):
    client, cid = world["session"]("supervisor"), world["cid"]
    Campaign.update(active=False).where(Campaign.id == cid).execute()
    Lead.create(campaign=cid, external_id="1", phone="+79001000001", next_call_at="2026-11-01T00:00:00+00:00")
    r = client.get(f"/campaigns/{cid}", headers={"Accept": "text/html"})
    assert 'data-reason="paused"' in r.text and 'data-reason="nobody_ready"' in r.text
    from datetime import datetime, timezone
    why = campaigns.why_idle(cid, datetime(2026, 11, 27, 0, 0, tzinfo=timezone.utc))  # 03:00 in Moscow
    texts = {x["code"]: x["text_ru"] for x in why["reasons"]}
    assert "window_closed" in texts and "сейчас 03:00 в Europe/Moscow, окно 09:00–21:00" in texts["window_closed"]
