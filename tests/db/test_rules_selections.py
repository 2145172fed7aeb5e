"""Selections on a real PostgreSQL: the API (create, edit, disable, reorder, preview, why nothing dials,
skills, do-not-call), and the claim that follows saved rules at once."""
import time
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings, strategies as st

from ari_app import store
from dialer.models import Attempt, Campaign, Lead, Operator, OperatorCampaign, SelectionVersion
from rules import idle, selections


def campaign_with_leads(client, rows):
    cid = client.post("/api/campaigns", json={"name": "Orders"}).json()["id"]
    for i, r in enumerate(rows):  # one by one: insert_many takes its columns from the first row
        Lead.insert(campaign=cid, external_id=str(i), phone=f"+7900100{i:04d}", **r).execute()
    return cid


def operator(cid, login="anna"):
    o = Operator.create(name=login, login=login, sip_password="secret-123", status="ready")
    OperatorCampaign.create(operator=o.id, campaign=cid)
    return o


def claim(db, o):
    got = store.claim(db, o.id, "pbx", "t", time.time(), None)
    if got is None:
        return None
    Operator.update(attempt_id=None).where(Operator.id == o.id).execute()  # free for the next claim
    db.execute_sql("UPDATE attempt SET ended_at = now(), outcome = 'BUSY' WHERE id = %s", (got.attempt_id,))
    return Attempt.get_by_id(got.attempt_id)


def test_create_edit_disable_reorder_and_claim_follows_at_once(client, db):
    cid = campaign_with_leads(client, [{"region": "Москва"}, {"region": "Тверь"}, {"region": "Тверь"}])
    o = operator(cid)
    r = client.post(f"/api/campaigns/{cid}/selections", json={
        "name": "Москва", "rule": {"conditions": [[{"field": "region", "op": "eq", "value": "Москва"}]]}})
    assert r.status_code == 201, r.text
    moscow = r.json()
    tver = client.post(f"/api/campaigns/{cid}/selections", json={
        "name": "Тверь", "rule": {"conditions": [[{"field": "region", "op": "eq", "value": "Тверь"}]]}}).json()
    assert [s["position"] for s in client.get(f"/api/campaigns/{cid}/selections").json()] == [1, 2]
    r = client.put(f"/api/campaigns/{cid}/selections/order", json={"selection_ids": [tver["id"], moscow["id"]]})
    assert [s["id"] for s in r.json()] == [tver["id"], moscow["id"]]
    first = claim(db, o)
    assert Lead.get_by_id(first.lead_id).region == "Тверь" and first.selection_id == tver["id"]
    # disabled: the next claim no longer uses it
    r = client.patch(f"/api/selections/{tver['id']}", json={"enabled": False})
    assert r.json()["enabled"] is False and r.json()["version"] == 2
    second = claim(db, o)
    assert Lead.get_by_id(second.lead_id).region == "Москва"
    # edited: the saved rule is used by the next claim, without a restart
    client.patch(f"/api/selections/{moscow['id']}", json={"rule": {"conditions": [[
        {"field": "region", "op": "in", "value": ["Тверь", "Москва"]}]]}})
    assert Lead.get_by_id(claim(db, o).lead_id).region == "Тверь"
    assert claim(db, o) is None
    versions = client.get(f"/api/selections/{moscow['id']}/versions").json()
    assert [v["version"] for v in versions] == [2, 1]
    assert SelectionVersion.select().count() == 4


def test_bad_rules_answer_422_per_field_and_save_nothing(client, db, unchanged):
    cid = campaign_with_leads(client, [{}])
    with unchanged():
        r = client.post(f"/api/campaigns/{cid}/selections", json={"name": "x", "rule": {
            "conditions": [[{"field": "colour", "op": "eq", "value": 1}, {"field": "amount", "op": "eq", "value": "1"}]],
            "window": {"from": "25:00"}}})
    assert r.status_code == 422
    fields = {p["field"] for p in r.json()["problems"]}
    assert fields == {"conditions[0][0].field", "conditions[0][1].value", "window.from"}
    assert all(p["message_ru"] for p in r.json()["problems"])
    for body in ({"name": "", "rule": {}}, {"name": "x"}, {"name": "x", "rule": {}, "colour": 1}, [1],
                 {"name": "x", "rule": {}, "enabled": "yes"}):
        with unchanged():
            r = client.post(f"/api/campaigns/{cid}/selections", json=body)
        assert r.status_code in (400, 422) and r.json()["error"], body
    with unchanged():
        assert client.post(f"/api/campaigns/{cid}/selections", content=b"{not json").status_code in (400, 422)
        assert client.post("/api/campaigns/999/selections", json={"name": "x", "rule": {}}).status_code == 404
        assert client.patch("/api/selections/999", json={"enabled": False}).status_code == 404
        assert client.put(f"/api/campaigns/{cid}/selections/order", json={"selection_ids": [1]}).status_code == 422


rule_like = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                         | st.text(max_size=20),
                         lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                             st.sampled_from(["conditions", "limits", "window", "order", "skill", "field", "op",
                                              "value", "from", "to", "days", "max_attempts", "x"]) | st.text(max_size=5),
                             inner, max_size=4), max_leaves=15)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rule=rule_like)
def test_fuzz_the_server_never_answers_500_to_a_rule(client, db, rule):
    cid = Campaign.get_or_create(name="fuzz")[0].id
    for r in (client.post(f"/api/campaigns/{cid}/selections/preview", json={"rule": rule}),
              client.post(f"/api/campaigns/{cid}/selections", json={"name": "f", "rule": rule})):
        assert r.status_code in (200, 201, 400, 422), r.text


def test_preview_counts_a_draft_without_saving(client, db, unchanged):
    past = datetime.now(timezone.utc) - timedelta(hours=1)
    cid = campaign_with_leads(client, [{"amount": 100}, {"amount": 500}, {"amount": 900, "state": "done"},
                                       {"amount": 700, "next_call_at": past + timedelta(days=1)}])
    with unchanged():
        r = client.post(f"/api/campaigns/{cid}/selections/preview",
                        json={"rule": {"conditions": [[{"field": "amount", "op": "gt", "value": 200}]]}})
    assert r.status_code == 200
    assert (r.json()["matches_conditions"], r.json()["matches_now"]) == (3, 1)


def test_skill_gates_a_selection_and_skills_api(client, db):
    cid = campaign_with_leads(client, [{"product": "loan"}])
    o = operator(cid)
    client.post(f"/api/campaigns/{cid}/selections", json={"name": "loans", "rule": {
        "conditions": [[{"field": "product", "op": "eq", "value": "loan"}]], "skill": {"name": "loans", "level": 5}}})
    assert claim(db, o) is None
    r = client.put(f"/api/operators/{o.id}/skills", json={"skills": [{"skill": "loans", "level": 4}]})
    assert r.status_code == 200 and r.json()["skills"] == [{"skill": "loans", "level": 4}]
    assert claim(db, o) is None
    reasons = client.get(f"/api/campaigns/{cid}/idle-reasons").json()
    assert reasons["selections"][0]["no_operator_with_skill_online"] == 1
    client.put(f"/api/operators/{o.id}/skills", json={"skills": [{"skill": "loans", "level": 5}]})
    assert claim(db, o) is not None
    assert client.get(f"/api/operators/{o.id}/skills").json()["skills"][0]["level"] == 5
    for bad in ({"skills": [{"skill": "Loans", "level": 5}]}, {"skills": [{"skill": "a", "level": 11}]},
                {"skills": [{"skill": "a", "level": 1}, {"skill": "a", "level": 2}]}, {"skills": "a"}):
        assert client.put(f"/api/operators/{o.id}/skills", json=bad).status_code == 422


def test_why_nothing_dials_counts_each_reason(db):
    now = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)  # 15:00 in Moscow, 22:00 in Vladivostok
    c = Campaign.create(name="c")
    base = {"campaign": c.id, "next_call_at": now - timedelta(hours=1)}
    rows = [
        {"phone": "+79001000001"},                                              # callable
        {"phone": "+79001000002", "time_zone": "Asia/Vladivostok"},             # window closed
        {"phone": "+79001000003", "attempts_today": 2, "attempts_day": now.date()},  # daily limit
        {"phone": "+79001000004", "last_attempt_at": now - timedelta(minutes=5)},   # pause
        {"phone": "+79001000005", "attempts": 9},                               # selection's attempts used
        {"phone": "+79001000006"},                                              # do-not-call
        {"phone": "+79001000007", "state": "held"},                             # CRM says don't touch
        {"phone": "+79001000008", "state": "exhausted"},
        {"phone": "+79001000009", "next_call_at": now + timedelta(hours=1)},    # not due
    ]
    for i, r in enumerate(rows):
        Lead.insert(**{**base, "external_id": str(i), **r}).execute()
    from rules import dnc
    dnc.add("+79001000006")
    selections.create_selection(c.id, "all", {"window": {"from": "09:00", "to": "21:00"},
                                              "limits": {"max_per_day": 2, "min_pause_minutes": 60, "max_attempts": 5}})
    got = idle.idle_reasons(c.id, now)
    s = got["selections"][0]
    assert (s["matches"], s["window_closed"], s["daily_limit"], s["pause_between_attempts"],
            s["attempts_exhausted"], s["callable_now"]) == (5, 1, 1, 1, 1, 1)
    assert got["leads"]["do_not_call"] == 1 and got["leads"]["crm_status_not_callable"] == 1
    assert got["leads"]["attempts_exhausted"] == 1 and got["leads"]["not_due_yet"] == 1
    assert got["operators_online"] == 0


def test_exhausted_lead_takes_the_selections_final_crm_status(client, db):
    cid = campaign_with_leads(client, [{}])
    Campaign.update(max_attempts=1).execute()
    o = operator(cid)
    selections.create_selection(cid, "all", {"exhausted_status": "unreachable"})
    a = store.claim(db, o.id, "pbx", "t", time.time(), None)
    from ari_app import events as ev
    from ari_app.classifier import AttemptFacts
    store.record(db, a.attempt_id, "dial_started_at", time.time())
    store.end_attempt(db, ev.EndAttempt(a.attempt_id, "NO_ANSWER", AttemptFacts(cause=19), time.time()))
    lead = Lead.get()
    assert (lead.state, lead.crm_status) == ("exhausted", "unreachable")


def test_claim_counts_attempts_in_the_clients_day(client, db):
    cid = campaign_with_leads(client, [{"time_zone": "Asia/Vladivostok", "attempts_today": 3,
                                        "attempts_day": datetime(2020, 1, 1).date()}])
    o = operator(cid)
    selections.create_selection(cid, "all", {"limits": {"max_per_day": 1}})
    assert claim(db, o) is not None  # yesterday's attempts do not count
    lead = Lead.get()
    local_today = datetime.now(timezone.utc).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Vladivostok")).date()
    assert (lead.attempts_today, lead.attempts_day) == (1, local_today)
    Lead.update(state="callable").execute()
    assert claim(db, o) is None  # the daily limit of one is used


def test_do_not_call_api(client, db, unchanged):
    r = client.post("/api/do-not-call", json={"phone": "8 900 123-45-67", "reason": "жалоба"})
    assert r.status_code == 201 and r.json() == {"phone": "+79001234567", "added": True}
    assert client.post("/api/do-not-call", json={"phone": "+79001234567"}).status_code == 200
    assert client.get("/api/do-not-call/+79001234567").json()["listed"] is True
    assert [n["phone"] for n in client.get("/api/do-not-call", params={"prefix": "7900"}).json()] == ["+79001234567"]
    with unchanged():
        assert client.post("/api/do-not-call", json={"phone": "not a phone"}).status_code == 422
        assert client.post("/api/do-not-call", json={"phone": "+79001234568", "source": "x"}).status_code == 422
        assert client.get("/api/do-not-call/abc").status_code == 422
    assert client.delete("/api/do-not-call/+79001234567").json()["removed"] is True
    assert client.get("/api/do-not-call/+79001234567").json()["listed"] is False


def test_fields_catalogue(client):
    r = client.get("/api/selections/fields")
    assert r.status_code == 200 and any(f["field"] == "region" for f in r.json()["fields"])
