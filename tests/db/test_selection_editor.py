"""The selection editor through HTTP with real sessions: the page × the six roles, the CRM attributes the
condition builder offers (with their types), the version history naming who saved each version, and a rule
with mistakes refused with every problem named by its place (both languages) and nothing saved."""
from __future__ import annotations

import pytest

from dialer.models import Lead
from dialer.permissions import ROLES
from dialer.services import selections_admin
from rules import selections

PERMS = {code: perms for code, _, _, perms in ROLES}


@pytest.fixture
def world(db, signed_in, client):
    api = client  # the API token's client
    cid = api.post("/api/campaigns", json={"name": "Подтверждение"}).json()["id"]
    for i, attrs in enumerate([{"source": "site", "weight": 2.5, "tariff": "12", "bad\nkey": 1},
                               {"source": "app", "weight": 3, "tariff": "7", "delivery": "2026-12-01"},
                               {"source": "site"}]):
        Lead.insert(campaign=cid, external_id=str(i), phone=f"+7900100{i:04d}", region="Москва", attrs=attrs).execute()
    return {"session": signed_in, "api": api, "cid": cid}


@pytest.mark.parametrize("kinds,examples,expected", [
    ({"number": 3}, ["2.5", "3"], "number"),
    ({"string": 2}, ["12", "7"], "number"),            # numbers the CRM sends as text are compared as numbers
    ({"string": 2}, ["2026-12-01", "2026-01-02"], "date"),
    ({"string": 2}, ["site", "12"], "text"),
    ({"string": 1, "boolean": 1}, ["true"], "text"),
    ({"string": 1}, [], "text"),
])
def test_attribute_type(kinds, examples, expected):
    assert selections_admin.attribute_type(kinds, examples) == expected


def test_the_picker_lists_the_campaigns_crm_fields_with_their_types(world):
    r = world["api"].get(f"/api/campaigns/{world['cid']}/selections/catalogue")
    assert r.status_code == 200, r.text
    attrs = {a["key"]: a for a in r.json()["attributes"]}
    assert set(attrs) == {"source", "weight", "tariff", "delivery"}  # a key no rule could name is left out
    assert (attrs["source"]["type"], attrs["source"]["leads"]) == ("text", 3)
    assert set(attrs["source"]["examples"]) == {"site", "app"}
    assert attrs["weight"]["type"] == attrs["tariff"]["type"] == "number"
    assert attrs["delivery"]["type"] == "date" and attrs["delivery"]["field"] == "attrs.delivery"
    assert {f["field"] for f in r.json()["fields"]} >= {"region", "created_at", "amount"}


def test_history_names_who_saved_each_version(world):
    supervisor = world["session"]("supervisor")
    r = supervisor.post(f"/api/campaigns/{world['cid']}/selections", json={
        "name": "Сайт", "rule": {"conditions": [[{"field": "attrs.source", "op": "eq", "value": "site"}]]}})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    world["api"].patch(f"/api/selections/{sid}", json={"enabled": False})
    history = world["api"].get(f"/api/selections/{sid}/versions").json()
    assert [(v["version"], v["saved_by"], v["enabled"]) for v in history] == [
        (2, "api-token", False), (1, "Пользователь supervisor", True)]
    page = supervisor.get(f"/campaigns/{world['cid']}/selections?edit={sid}")
    assert page.status_code == 200
    assert 'data-testid="version-1"' in page.text and "Пользователь supervisor" in page.text


def test_a_rule_with_mistakes_names_each_and_saves_nothing(world, unchanged):
    sid = world["api"].post(f"/api/campaigns/{world['cid']}/selections", json={
        "name": "Москва", "rule": {"conditions": [[{"field": "region", "op": "eq", "value": "Москва"}]]}}).json()["id"]
    supervisor = world["session"]("supervisor")
    bad = {"conditions": [[{"field": "region", "op": "eq", "value": "Москва"},
                           {"field": "amount", "op": "gt", "value": "много"}],
                          [{"field": "created_at", "op": "today", "value": 1.5}]],
           "window": {"from": "25:00", "to": "21:00"}}
    with unchanged():
        for call in (lambda: supervisor.patch(f"/api/selections/{sid}", json={"rule": bad}),
                     lambda: supervisor.post(f"/api/campaigns/{world['cid']}/selections", json={"name": "x", "rule": bad}),
                     lambda: supervisor.post(f"/api/campaigns/{world['cid']}/selections/preview", json={"rule": bad})):
            r = call()
            assert r.status_code == 422, r.text
            problems = {p["field"]: p for p in r.json()["problems"]}
            assert set(problems) == {"conditions[0][1].value", "conditions[1][0].value", "window.from"}
            assert "must be a number" in problems["conditions[0][1].value"]["message"]
            assert "должно быть числом" in problems["conditions[0][1].value"]["message_ru"]
    assert selections.get_selection(sid)["version"] == 1


def test_the_live_count_follows_the_draft(world):
    api, cid = world["api"], world["cid"]
    count = lambda rule: api.post(f"/api/campaigns/{cid}/selections/preview", json={"rule": rule}).json()
    assert count({})["matches_now"] == 3
    assert count({"conditions": [[{"field": "attrs.source", "op": "eq", "value": "site"}]]})["matches_now"] == 2
    assert count({"conditions": [[{"field": "attrs.weight", "op": "gt", "value": 2.6}]]})["matches_now"] == 1
    assert count({"conditions": [[{"field": "created_at", "op": "today", "value": -3}]]})["matches_now"] == 0


@pytest.mark.parametrize("code", [code for code, *_ in ROLES])
def test_the_page_and_its_changes_by_role(world, code):
    cid = world["cid"]
    sid = world["api"].post(f"/api/campaigns/{cid}/selections", json={"name": "Все", "rule": {}}).json()["id"]
    client = world["session"](code)
    page = client.get(f"/campaigns/{cid}/selections?edit={sid}")
    may_read, may_edit = "rules.read" in PERMS[code], "rules.edit" in PERMS[code]
    assert page.status_code == (200 if may_read else 403)
    if may_read:
        assert ('data-testid="save"' in page.text) == may_edit
        assert 'data-readonly="%s"' % ("0" if may_edit else "1") in page.text
    r = client.patch(f"/api/selections/{sid}", json={"name": "Переименована"})
    assert r.status_code == (200 if may_edit else 403)
    assert selections.get_selection(sid)["name"] == ("Переименована" if may_edit else "Все")
    assert client.get(f"/campaigns/{cid + 1000}/selections").status_code == (404 if may_read else 403)
