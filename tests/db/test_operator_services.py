"""Operator use cases: accounts, pools, and commands queued for the engine."""
from __future__ import annotations

import pytest

from dialer.access import ACTING_SYSTEM
from dialer.errors import Conflict, Invalid, NotFound
from dialer.models import EngineCommand, Operator, OperatorCampaign
from dialer.services import campaigns, operators


@pytest.fixture
def two_campaigns(db):
    return [campaigns.create_campaign(n)["id"] for n in ("A", "B")]


def test_create_generates_a_strong_password_and_joins_pools(two_campaigns):
    o = operators.create_operator("Анна", "anna", campaign_ids=two_campaigns)
    assert len(o["sip_password"]) >= 20 and o["campaign_ids"] == two_campaigns
    assert o["status"] == "offline" and o["login"] == "anna"
    assert "sip_password" not in operators.get_operator(o["id"])
    assert operators.sip_devices() == [("anna", o["sip_password"])]
    other = operators.create_operator("Boris", "boris.k-2_", sip_password="s3cret!pw-2")
    assert other["sip_password"] == "s3cret!pw-2" and other["campaign_ids"] == []
    assert [x["login"] for x in operators.list_operators()] == ["anna", "boris.k-2_"]


BAD = [
    ({"login": "A"}, "login"),
    ({"login": "Anna"}, "login"),
    ({"login": "a" * 41}, "login"),
    ({"login": "an na"}, "login"),
    ({"login": "анна"}, "login"),
    ({"login": 12}, "login"),
    ({"name": ""}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "tab\tname"}, "name"),
    ({"sip_password": "short"}, "sip_password"),
    ({"sip_password": "has space 123"}, "sip_password"),
    ({"sip_password": 'quote"123456'}, "sip_password"),
    ({"sip_password": 12345678}, "sip_password"),
    ({"campaign_ids": "1"}, "campaign_ids"),
    ({"campaign_ids": [0]}, "campaign_ids"),
    ({"campaign_ids": [True]}, "campaign_ids"),
]


@pytest.mark.parametrize("change,field", BAD)
def test_bad_create_writes_nothing(db, unchanged, change, field):
    values = {"name": "Anna", "login": "anna", **change}
    with unchanged(), pytest.raises(Invalid) as e:
        operators.create_operator(**values)
    assert e.value.details["field"] == field


def test_unknown_campaign_creates_nothing(two_campaigns, unchanged):
    with unchanged(), pytest.raises(NotFound) as e:
        operators.create_operator("Anna", "anna", campaign_ids=[two_campaigns[0], 999])
    assert e.value.code == "campaign-not-found" and e.value.details["campaign_ids"] == [999]


def test_taken_login_is_a_conflict(db, unchanged):
    operators.create_operator("Anna", "anna")
    with unchanged(), pytest.raises(Conflict) as e:
        operators.create_operator("Other Anna", "anna")
    assert e.value.code == "operator-login-taken"


def test_set_campaigns_replaces_the_pool(two_campaigns, unchanged):
    o = operators.create_operator("Anna", "anna", campaign_ids=[two_campaigns[0]])
    assert operators.set_campaigns(o["id"], [two_campaigns[1]])["campaign_ids"] == [two_campaigns[1]]
    assert operators.set_campaigns(o["id"], [])["campaign_ids"] == []
    operators.set_campaigns(o["id"], two_campaigns + two_campaigns)  # repeats are harmless
    with unchanged(), pytest.raises(NotFound):
        operators.set_campaigns(o["id"], [999])
    with unchanged(), pytest.raises(NotFound) as e:
        operators.set_campaigns(999, [two_campaigns[0]])
    assert e.value.code == "operator-not-found"
    assert OperatorCampaign.select().count() == 2


@pytest.mark.parametrize("kind", operators.REQUESTS)
def test_request_queues_one_engine_command(db, kind):
    o = operators.create_operator("Anna", "anna")
    cmd = operators.request(ACTING_SYSTEM, o["id"], kind)
    row = EngineCommand.get_by_id(cmd["command_id"])
    assert (row.operator_id, row.kind, row.payload, row.done_at) == (o["id"], kind, {}, None)


@pytest.mark.parametrize("operator_id,kind,error", [
    (999, "ready", NotFound), (0, "ready", NotFound), ("1", "ready", NotFound),
    (1, "wrap_up", Invalid), (1, "dance", Invalid), (1, None, Invalid),
])
def test_bad_request_inserts_nothing(db, unchanged, operator_id, kind, error):
    operators.create_operator("Anna", "anna")
    with unchanged(), pytest.raises(error):
        operators.request(ACTING_SYSTEM, operator_id, kind)


@pytest.fixture
def wrapping_up(db):
    o = operators.create_operator("Anna", "anna")
    # the engine owns operator state; here the test plays the engine
    Operator.update(status="wrap_up", attempt_id=77).where(Operator.id == o["id"]).execute()
    return o["id"]


def test_wrap_up_carries_the_current_attempt(wrapping_up):
    cmd = operators.submit_wrap_up(ACTING_SYSTEM, wrapping_up, " Подтверждён ", "перезвонить\nвечером", 30)
    row = EngineCommand.get_by_id(cmd["command_id"])
    assert row.kind == "wrap_up"
    assert row.payload == {"attempt_id": 77, "result": "Подтверждён", "comment": "перезвонить\nвечером",
                           "postpone_minutes": 30}
    assert operators.submit_wrap_up(ACTING_SYSTEM, wrapping_up, "x" * 100, "c" * 2000, 525_600)["payload"]["result"]


@pytest.mark.parametrize("args,field", [
    (("",), "result"), (("x" * 101,), "result"), (("ok\x00",), "result"), ((None,), "result"),
    (("ok", "c" * 2001), "comment"), (("ok", "bell\x07"), "comment"), (("ok", None), "comment"),
    (("ok", "", 0), "postpone_minutes"), (("ok", "", 525_601), "postpone_minutes"),
    (("ok", "", "30"), "postpone_minutes"), (("ok", "", 1.5), "postpone_minutes"),
])
def test_bad_wrap_up_inserts_nothing(wrapping_up, unchanged, args, field):
    with unchanged(), pytest.raises(Invalid) as e:
        operators.submit_wrap_up(ACTING_SYSTEM, wrapping_up, *args)
    assert e.value.details["field"] == field


@pytest.mark.parametrize("status", ["offline", "paused", "ready", "in_call", "lunch"])
def test_wrap_up_outside_wrap_up_is_a_conflict(db, unchanged, status):
    o = operators.create_operator("Anna", "anna")
    Operator.update(status=status, attempt_id=5).where(Operator.id == o["id"]).execute()
    with unchanged(), pytest.raises(Conflict) as e:
        operators.submit_wrap_up(ACTING_SYSTEM, o["id"], "ok")
    assert e.value.code == "operator-not-in-wrap-up" and e.value.details["status"] == status


def test_wrap_up_of_unknown_operator(db, unchanged):
    with unchanged(), pytest.raises(NotFound):
        operators.submit_wrap_up(ACTING_SYSTEM, 999, "ok")
