""""Why is this lead not being dialled?" (rules.explain, pure): a table of leads and campaigns, each naming the
reason a supervisor should see first. No database needed."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from rules import window as cw
from rules.explain import SelectionRule, explain
from rules.model import validate

NOW = datetime(2026, 11, 30, 19, 30, tzinfo=timezone.utc)  # 22:30 in Moscow


def lead(**kw):
    base = {"id": 1, "time_zone": "Europe/Moscow", "next_call_at": NOW - timedelta(minutes=1), "state": "callable",
            "attempts": 1, "attempts_today": 1, "attempts_day": date(2026, 11, 30), "last_attempt_at": None,
            "callback": False, "country": "", "region": "Москва", "city": "", "product": "", "crm_status": "",
            "name": "", "external_id": "1", "phone": "+79001234567", "amount": None, "priority": 0,
            "birth_date": None, "created_at": NOW - timedelta(days=3), "attrs": {"source": "site"}}
    return base | kw


def sel(rule, enabled=True, name="Все"):
    return SelectionRule(1, name, enabled, validate(rule))


MOSCOW = {"conditions": [[{"field": "region", "op": "eq", "value": "Москва"}]]}
DAY = {"window": {"from": "09:00", "to": "21:00"}}

CASES = [
    # (lead changes, campaign active, selections, listed, ready, first reason or None when callable)
    ({}, True, [], False, 1, None),
    ({}, True, [sel(MOSCOW)], False, 1, None),
    ({}, True, [sel(MOSCOW)], False, 0, "nobody_ready"),
    ({"state": "in_progress"}, True, [], False, 1, "in_call"),
    ({"state": "done"}, True, [], False, 1, "done"),
    ({"state": "exhausted"}, True, [], False, 1, "exhausted"),
    ({}, True, [], True, 1, "do_not_call"),
    ({}, False, [], False, 1, "campaign_paused"),
    ({"next_call_at": NOW + timedelta(hours=1)}, True, [], False, 1, "not_due"),
    ({"next_call_at": NOW + timedelta(hours=1), "callback": True}, True, [], False, 1, "callback"),
    ({"region": "Тверь"}, True, [sel(MOSCOW)], False, 1, "conditions"),
    ({}, True, [sel(DAY)], False, 1, "window_closed"),
    ({}, True, [sel({"limits": {"max_per_day": 1}})], False, 1, "daily_limit"),
    ({}, True, [sel({"limits": {"max_attempts": 1}})], False, 1, "selection_attempts"),
    ({"last_attempt_at": NOW - timedelta(minutes=5)}, True, [sel({"limits": {"min_pause_minutes": 60}})], False, 1,
     "pause"),
    ({}, True, [sel(MOSCOW, enabled=False)], False, 1, "no_selection"),
    ({}, True, [sel(DAY), sel({"conditions": [[{"field": "attrs.source", "op": "eq", "value": "app"}]]})], False, 1,
     "no_selection"),
    ({}, True, [sel(DAY), sel(MOSCOW)], False, 1, None),  # the second selection picks it
]


@pytest.mark.parametrize("changes,active,selections,listed,ready,first", CASES)
def test_reasons(changes, active, selections, listed, ready, first):
    answer = explain(lead(**changes), NOW, campaign_active=active, selections=selections, listed=listed,
                     operators_ready=ready)
    codes = [r["code"] for r in answer["reasons"]]
    assert (codes[0] if codes else None) == first, codes
    assert answer["callable"] == (first in (None, "nobody_ready"))
    assert all(r["message"] and r["message_ru"] for r in answer["reasons"])


def test_the_campaigns_own_window_and_limits_apply_to_every_selection():
    day = cw.CampaignClaim(cw.validate({"from": "09:00", "to": "21:00"}))
    answer = explain(lead(), NOW, campaign_active=True, selections=[], listed=False, operators_ready=1, campaign=day)
    assert [r["code"] for r in answer["reasons"]] == ["campaign_window_closed"] and not answer["callable"]
    assert "09:00–21:00" in answer["reasons"][0]["message"] and "22:30" in answer["reasons"][0]["message_ru"]
    one_a_day = cw.CampaignClaim(cw.CallingWindow(any_hour=True), max_per_day=1)
    answer = explain(lead(), NOW, campaign_active=True, selections=[sel(MOSCOW)], listed=False, operators_ready=1,
                     campaign=one_a_day)
    assert [r["code"] for r in answer["reasons"]] == ["daily_limit"]


def test_the_window_reason_names_the_clients_time_and_zone():
    answer = explain(lead(), NOW, campaign_active=True, selections=[sel(DAY)], listed=False, operators_ready=1)
    assert "22:30" in answer["reasons"][0]["message_ru"] and "Europe/Moscow" in answer["reasons"][0]["message_ru"]
    assert "09:00–21:00" in answer["reasons"][0]["message"]


def test_each_selection_says_whether_it_picks_the_lead():
    answer = explain(lead(), NOW, campaign_active=True, selections=[sel(DAY, name="День"), sel(MOSCOW, name="Москва")],
                     listed=False, operators_ready=1)
    assert [(s["name"], s["matches"]) for s in answer["selections"]] == [("День", False), ("Москва", True)]
