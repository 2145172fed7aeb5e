"""Rule validation (pure): every mistake is reported with its path in English and Russian; valid rules
round-trip through their stored JSON; the compiler builds SQL for anything the validator accepts."""
import json
from datetime import date, datetime, time, timezone

import pytest
from hypothesis import given, settings, strategies as st

from dialer.errors import Invalid
from rules import compile as c
from rules.model import Rule, catalogue, to_json, valid_zone, validate
from tests import rules_strategies as rs

NOW = datetime(2026, 3, 29, 1, 0, tzinfo=timezone.utc)


def problems(data) -> dict[str, str]:
    with pytest.raises(Invalid) as e:
        validate(data)
    assert e.value.code == "invalid-rule"
    items = e.value.details["problems"]
    assert all(p["message"] and p["message_ru"] for p in items)
    return {p["field"]: p["message"] for p in items}


def cond(field, op, value=None, **extra):
    d = {"field": field, "op": op, **extra}
    if value is not None:
        d["value"] = value
    return {"conditions": [[d]]}


@pytest.mark.parametrize("data,path", [
    (cond("colour", "eq", "red"), "conditions[0][0].field"),  # unknown field
    (cond("region; DROP TABLE lead", "eq", "x"), "conditions[0][0].field"),
    (cond("attrs.a'b", "eq", "x"), "conditions[0][0].field"),  # attribute names are words, not SQL
    (cond("attrs.", "eq", "x"), "conditions[0][0].field"),
    (cond("region", "like", "x"), "conditions[0][0].op"),  # unknown operator
    (cond("region", "gt", "x"), "conditions[0][0].op"),  # no ordering of texts
    (cond("amount", "contains", "1"), "conditions[0][0].op"),
    (cond("amount", "eq", "100"), "conditions[0][0].value"),  # wrong type
    (cond("amount", "eq", True), "conditions[0][0].value"),
    (cond("amount", "eq", 1e13), "conditions[0][0].value"),  # absurd
    (cond("amount", "eq", float("nan")), "conditions[0][0].value"),
    (cond("age", "gt", 500), "conditions[0][0].value"),
    (cond("attempts", "eq", 1.5), "conditions[0][0].value"),
    (cond("region", "in", []), "conditions[0][0].value"),  # empty in-list
    (cond("region", "in", "Москва"), "conditions[0][0].value"),
    (cond("region", "in", ["ok", 3]), "conditions[0][0].value[1]"),
    (cond("region", "eq", "bell\x07"), "conditions[0][0].value"),  # control characters
    (cond("region", "eq", "\u202eevil"), "conditions[0][0].value"),
    (cond("region", "eq", ""), "conditions[0][0].value"),
    (cond("region", "eq", "x" * 201), "conditions[0][0].value"),
    (cond("region", "empty", "x"), "conditions[0][0].value"),
    (cond("birth_date", "eq", "2026-02-30"), "conditions[0][0].value"),
    (cond("birth_date", "eq", "1066-10-14"), "conditions[0][0].value"),
    (cond("created_at", "today", 100000), "conditions[0][0].value"),
    (cond("created_at", "within", [3, -3]), "conditions[0][0].value"),
    (cond("amount", "between", [5]), "conditions[0][0].value"),
    (cond("attrs.debt", "gt", "5"), "conditions[0][0].value"),
    (cond("region", "eq", "x", extra=1), "conditions[0][0].extra"),
    ({"conditions": [[]]}, "conditions[0]"),
    ({"conditions": "region = 1"}, "conditions"),
    ({"conditions": [["x"]]}, "conditions[0][0]"),
    ({"limits": {"max_attempts": 0}}, "limits.max_attempts"),
    ({"limits": {"max_per_day": 10**9}}, "limits.max_per_day"),
    ({"limits": {"per_hour": 1}}, "limits.per_hour"),
    ({"limits": []}, "limits"),
    ({"window": {"from": "21:00", "to": "09:00"}}, "window.to"),
    ({"window": {"from": "9"}}, "window.from"),
    ({"window": {"from": "24:00"}}, "window.from"),
    ({"window": {"days": [0, 8]}}, "window.days"),
    ({"window": {"days": []}}, "window.days"),
    ({"window": {"holidays": ["someday"]}}, "window.holidays[0]"),
    ({"order": "random()"}, "order"),
    ({"skill": {"name": "Debt!", "level": 3}}, "skill.name"),
    ({"skill": {"name": "debt", "level": 11}}, "skill.level"),
    ({"exhausted_status": 5}, "exhausted_status"),
    ({"sql": "SELECT 1"}, "sql"),
])
def test_each_mistake_is_named_by_its_path(data, path):
    assert path in problems(data)


def test_all_mistakes_come_back_at_once():
    found = problems({"conditions": [[{"field": "x", "op": "eq", "value": 1}, {"field": "amount", "op": "eq"}]],
                      "limits": {"max_attempts": -1}, "order": "sideways"})
    assert set(found) == {"conditions[0][0].field", "conditions[0][1].value", "limits.max_attempts", "order"}


def test_a_full_rule_is_parsed():
    rule = validate({
        "conditions": [[{"field": "region", "op": "in", "value": ["Москва", "Тверь"]},
                        {"field": "amount", "op": "ge", "value": 1000.5}],
                       [{"field": "attrs.debt", "op": "between", "value": [1, 10]}]],
        "limits": {"max_attempts": 5, "max_per_day": 2, "min_pause_minutes": 60},
        "window": {"from": "09:00", "to": "21:00", "days": [5, 1, 2], "holidays": ["2026-01-01"]},
        "order": "priority", "skill": {"name": "debt", "level": 5}, "exhausted_status": "no_answer_final"})
    assert rule.groups[0][0].value == ("Москва", "Тверь")
    assert rule.window.start == time(9) and rule.window.days == (1, 2, 5) and rule.window.holidays == (date(2026, 1, 1),)
    assert (rule.skill, rule.skill_level, rule.order) == ("debt", 5, "priority")
    assert validate(to_json(rule)) == rule


def test_a_value_that_looks_like_sql_is_only_ever_a_parameter():
    rule = validate(cond("region", "eq", "x'); DROP TABLE lead; --"))
    from dialer.models import Lead
    text, params = Lead.select().where(c.conditions(rule, NOW)).sql()
    assert "DROP" not in text and "x'); DROP TABLE lead; --" in params


def test_an_empty_rule_selects_every_callable_lead():
    assert validate({}) == Rule()


@pytest.mark.parametrize("zone,ok", [("Europe/Moscow", True), ("America/Argentina/Buenos_Aires", True),
                                     ("UTC", False), ("Etc/GMT-3", False), ("+03:00", False), ("Europe/Nowhere", False),
                                     ("MSK-3", False)])
def test_zones_are_iana_names_never_offsets(zone, ok):
    assert valid_zone(zone) is ok


def test_the_catalogue_names_every_field_in_both_languages():
    cat = catalogue()
    assert {f["field"] for f in cat["fields"]} >= {"region", "amount", "age", "created_at"}
    assert all(f["label_ru"] and f["label_en"] and f["ops"] for f in cat["fields"])
    assert set(cat["ops"]) >= {op for f in cat["fields"] for op in f["ops"]}


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                        max_size=4), max_leaves=20)
fields = st.sampled_from(["region", "amount", "age", "birth_date", "created_at", "attrs.k", "attrs.", "x"]) | st.text(max_size=20)
ops = st.sampled_from(["eq", "ne", "gt", "lt", "ge", "le", "in", "not_in", "contains", "empty", "not_empty",
                       "between", "today", "within"]) | st.text(max_size=10)
near_rules = st.fixed_dictionaries({}, optional={
    "conditions": st.lists(st.lists(st.fixed_dictionaries({"field": fields, "op": ops}, optional={"value": json_values}),
                                    max_size=3), max_size=3) | json_values,
    "limits": st.dictionaries(st.sampled_from(["max_attempts", "max_per_day", "min_pause_minutes", "x"]), json_values),
    "window": st.dictionaries(st.sampled_from(["from", "to", "days", "holidays"]), json_values) | json_values,
    "order": json_values, "skill": json_values, "exhausted_status": json_values})


@settings(max_examples=600, deadline=None)
@given(data=near_rules | json_values)
def test_fuzz_the_validator_refuses_cleanly_or_gives_a_rule_that_compiles(data):
    try:
        rule = validate(data)
    except Invalid as e:
        assert e.details["problems"] and all(p["field"] and p["message_ru"] for p in e.details["problems"])
        json.dumps(e.as_dict(), ensure_ascii=False)  # the answer can always be sent
        return
    from dialer.models import Lead
    Lead.select().where(c.selects(rule, NOW)).order_by(*c.ordering(rule)).sql()
    assert validate(to_json(rule)) == rule


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_generated_rules_are_valid_and_round_trip(data):
    raw = data.draw(rs.rules(NOW))
    rule = validate(raw)
    assert validate(json.loads(json.dumps(to_json(rule)))) == rule


@settings(max_examples=300, deadline=None)
@given(now=rs.moments, window=rs.windows().filter(lambda w: w is not None), second=st.integers(0, 59))
def test_the_claims_open_zones_agree_with_the_evaluator_for_every_zone(now, window, second):
    from rules import evaluate as e
    rule = validate({"window": window})
    moment = now.replace(second=second, microsecond=second * 1000)
    open_now = e.zones_open(rule.window, moment)
    assert open_now == {z for z in e.zone_names() if e.window_open({"time_zone": z}, rule, moment)}
