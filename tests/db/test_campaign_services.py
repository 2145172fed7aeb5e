"""Campaign use cases against a real PostgreSQL: good input saved, bad input refused and nothing written."""
from __future__ import annotations

import pytest

from dialer.errors import Conflict, Invalid, NotFound
from dialer.services import campaigns, leads


def test_create_with_defaults_and_read_back(db):
    c = campaigns.create_campaign("Подтверждение заказов")
    assert c["id"] > 0 and c["name"] == "Подтверждение заказов"
    assert (c["max_attempts"], c["retry_delay_s"], c["ring_timeout_s"]) == (5, 1800, 30)
    assert c["auto_ready"] is True and c["active"] is True
    assert c["leads"] == {"new": 0, "callable": 0, "in_progress": 0, "done": 0, "exhausted": 0}
    assert campaigns.get_campaign(c["id"]) == c


def test_limits_of_the_sql_checks_are_accepted(db):
    c = campaigns.create_campaign("x" * 200, max_attempts=100, retry_delay_s=0, ring_timeout_s=300,
                                  caller_id="+74950000000", wrap_up_limit_s=86400, auto_ready=False)
    assert (c["max_attempts"], c["ring_timeout_s"], c["wrap_up_limit_s"]) == (100, 300, 86400)


BAD_CREATE = [
    ({"name": ""}, "name"),
    ({"name": "   "}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"name": "bell\x07"}, "name"),
    ({"name": "nul\x00"}, "name"),
    ({"name": "rtl\u202e"}, "name"),
    ({"name": 5}, "name"),
    ({"name": None}, "name"),
    ({"max_attempts": 0}, "max_attempts"),
    ({"max_attempts": 101}, "max_attempts"),
    ({"max_attempts": "5"}, "max_attempts"),
    ({"max_attempts": 5.0}, "max_attempts"),
    ({"max_attempts": True}, "max_attempts"),
    ({"retry_delay_s": -1}, "retry_delay_s"),
    ({"retry_delay_s": 2_592_001}, "retry_delay_s"),
    ({"ring_timeout_s": 4}, "ring_timeout_s"),
    ({"ring_timeout_s": 301}, "ring_timeout_s"),
    ({"wrap_up_limit_s": 86_401}, "wrap_up_limit_s"),
    ({"caller_id": "x" * 81}, "caller_id"),
    ({"caller_id": "+7495\r\nX-Evil: 1"}, "caller_id"),
    ({"auto_ready": "yes"}, "auto_ready"),
    ({"auto_ready": 1}, "auto_ready"),
]


@pytest.mark.parametrize("change,field", BAD_CREATE)
def test_bad_create_is_refused_and_writes_nothing(db, unchanged, change, field):
    values = {"name": "Campaign", **change}
    with unchanged(), pytest.raises(Invalid) as e:
        campaigns.create_campaign(**values)
    assert e.value.code == "invalid-field" and e.value.details["field"] == field
    assert e.value.details["message_ru"]


def test_duplicate_name_is_a_conflict(db, unchanged):
    campaigns.create_campaign("Same")
    with unchanged(), pytest.raises(Conflict) as e:
        campaigns.create_campaign(" Same ")
    assert e.value.code == "campaign-name-taken"


def test_update_changes_only_given_fields(db):
    c = campaigns.create_campaign("A", max_attempts=3)
    updated = campaigns.update_campaign(c["id"], ring_timeout_s=45, active=False)
    assert (updated["ring_timeout_s"], updated["active"], updated["max_attempts"]) == (45, False, 3)
    assert campaigns.update_campaign(c["id"], name="A")["name"] == "A"  # its own name is not a clash


@pytest.mark.parametrize("changes,error", [
    ({"ring_timeout_s": 1}, Invalid),
    ({"colour": "red"}, Invalid),
    ({"name": "B"}, Conflict),
    ({"max_attempts": 9, "name": ""}, Invalid),  # one bad field: the good one is not saved either
])
def test_bad_update_changes_nothing(db, changes, error):
    a = campaigns.create_campaign("A")
    campaigns.create_campaign("B")
    with pytest.raises(error):
        campaigns.update_campaign(a["id"], **changes)
    assert campaigns.get_campaign(a["id"]) == a


@pytest.mark.parametrize("campaign_id", [999, 0, -1, 2**70, "1", None, True])
def test_unknown_campaign(db, campaign_id):
    with pytest.raises(NotFound) as e:
        campaigns.get_campaign(campaign_id)
    assert e.value.code == "campaign-not-found"
    with pytest.raises(NotFound):
        campaigns.update_campaign(campaign_id, max_attempts=2)


def test_list_counts_leads_by_state(db):
    a = campaigns.create_campaign("A")
    b = campaigns.create_campaign("B")
    leads.import_csv(a["id"], "id,phone\n1,+79161234567\n2,+79161234568\n")
    from dialer.models import Lead
    Lead.update(state="done").where(Lead.external_id == "2").execute()
    listed = {c["name"]: c for c in campaigns.list_campaigns()}
    assert listed["A"]["leads"]["new"] == 1 and listed["A"]["leads"]["done"] == 1
    assert listed["A"]["leads_total"] == 2 and listed["B"]["leads_total"] == 0
    assert [c["id"] for c in campaigns.list_campaigns()] == [a["id"], b["id"]]


def test_results_are_replaced_in_order_and_bad_lists_change_nothing(db):
    from dialer.errors import Invalid
    cid = campaigns.create_campaign("Результаты")["id"]
    saved = campaigns.set_results(cid, [{"code": "confirmed", "title": "Подтверждён"},
                                        {"code": "callback", "title": "Перезвонить", "closes_lead": False}])
    assert [(r["code"], r["closes_lead"]) for r in saved] == [("confirmed", True), ("callback", False)]
    for bad in ([], [{"code": "Bad Code", "title": "x"}], [{"code": "a", "title": "x"}, {"code": "a", "title": "y"}],
                [{"code": "a", "title": ""}], [{"code": "a", "title": "x", "extra": 1}], "confirmed"):
        with pytest.raises(Invalid):
            campaigns.set_results(cid, bad)
    assert [r["code"] for r in campaigns.list_results(cid)] == ["confirmed", "callback"]
