"""The CRM sync's decisions, from tables: status actions, backoff, templates, alerts, masking, answers."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from dialer.crm import policy
from dialer.crm.adapter import CrmError
from dialer.crm.generic import check_mapping, parse_rows
from dialer.crm.jobs import due_for_pull
from dialer.crm.leadvertex import decode_answer, used_flag
from dialer.errors import Invalid

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(hours=3)


@pytest.mark.parametrize("action,recall,expected", [
    ("call", None, ("new", NOW)),
    ("postpone", None, ("new", NOW + timedelta(minutes=45))),
    ("postpone", LATER, ("new", LATER)),
    ("postpone", NOW - timedelta(hours=1), ("new", NOW + timedelta(minutes=45))),  # a past recall: the default
    ("hold", None, ("held", NOW)),
    ("final", None, ("done", NOW)),
    (None, None, None),
])
def test_a_new_order(action, recall, expected):
    update = policy.on_new_order(action, NOW, recall, 45)
    assert (None if update is None else (update.state, update.next_call_at)) == expected


@pytest.mark.parametrize("action,state,changed,expected", [
    ("final", "callable", True, ("done", None)),
    ("final", "new", True, ("done", None)),
    ("hold", "callable", True, ("held", None)),
    ("call", "held", True, ("callable", NOW)),
    ("call", "done", True, ("callable", NOW)),
    ("call", "new", True, ("new", NOW)),
    ("postpone", "callable", True, ("callable", NOW + timedelta(minutes=45))),
    # a lead being called is never disturbed; the change waits until the attempt has ended
    ("final", "in_progress", True, None),
    ("call", "in_progress", True, None),
    # an unchanged status never acts: a replayed pull cannot undo what the engine decided
    ("call", "callable", False, None),
    ("final", "callable", False, None),
    (None, "callable", True, None),
])
def test_a_known_order(action, state, changed, expected):
    update = policy.on_status(action, state, changed, NOW, None, 45)
    assert (None if update is None else (update.state, update.next_call_at)) == expected


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    rnd = random.Random(3)
    delays = [[policy.retry_delay(t, 2, 300, rnd) for _ in range(200)] for t in (1, 2, 3, 4, 12)]
    for tries, values in zip((1, 2, 3, 4), delays):
        step = 2 * 2 ** (tries - 1)
        assert all(step / 2 <= d <= step for d in values) and len(set(values)) > 100
    assert all(150 <= d <= 300 for d in delays[-1])


@pytest.mark.parametrize("template,expected", [
    ("{result_title}: {comment}", "Согласен: привезти завтра"),
    ("{operator} {at}", "Анна 2026-11-26 12:00"),
    ("{unknown} {result}", "{unknown} accepted"),
    ("{comment.__class__} {0}", "{comment.__class__} {0}"),  # no attribute access, no positional fields
])
def test_comment_templates(template, expected):
    values = {"result": "accepted", "result_title": "Согласен", "comment": "привезти завтра", "operator": "Анна",
              "at": "2026-11-26 12:00"}
    assert policy.render(template, values) == expected


def test_unknown_placeholders():
    assert policy.unknown_placeholders("{result} {secret} {x}") == ["secret", "x"]


@pytest.mark.parametrize("since,open_,expected", [
    (None, False, None), (None, True, "clear"), (NOW - timedelta(seconds=100), False, None),
    (NOW - timedelta(seconds=301), False, "raise"), (NOW - timedelta(seconds=900), True, None)])
def test_unreachable_alert(since, open_, expected):
    assert policy.alert_step(since, 300, NOW, open_) == expected


def test_tokens_are_masked():
    assert policy.mask("token-shop-a-0123456789") == "••••6789"
    assert policy.mask("short") == "••••" and policy.mask("") == ""


@pytest.mark.parametrize("status,body,transient", [
    (200, b'{"error": "Invalid token"}', False), (503, b'{"error": "down"}', True), (200, b"<html>", True),
    (502, b"[]", True), (404, b"[]", False), (200, b"\xff\xfe", True)])
def test_failed_answers(status, body, transient):
    with pytest.raises(CrmError) as e:
        decode_answer("getStatusList", status, body)
    assert e.value.transient is transient


def test_good_answers_and_used_flags():
    assert decode_answer("updateOrder", 200, b'{"5": "OK"}') == {"5": "OK"}
    assert [used_flag(v) for v in (True, 0, "1", {"used": False}, {"used": 1}, {})] == [True, False, True, False,
                                                                                     True, False]


def test_pull_is_due_after_its_interval():
    conn = {"kind": "leadvertex", "pull_interval_s": 60, "last_pull_at": NOW}
    assert not due_for_pull(conn, NOW + timedelta(seconds=59))
    assert due_for_pull(conn, NOW + timedelta(seconds=60))
    assert due_for_pull({**conn, "last_pull_at": None}, NOW)
    assert not due_for_pull({**conn, "kind": "generic", "last_pull_at": None}, NOW)


def test_mapping_needs_one_id_and_one_phone_column():
    header = ["id", "tel", "ФИО"]
    assert check_mapping(header, {"tel": "phone"}) == {"id": "external_id", "tel": "phone", "ФИО": "name"}
    with pytest.raises(Invalid) as e:
        check_mapping(header, {"tel": "city", "ФИО": "wrong"})
    assert {p["field"] for p in e.value.details["problems"]} == {"ФИО", "phone"}


def test_rows_with_the_wrong_number_of_cells():
    orders, rejects = parse_rows(["id", "phone"], [(2, ["1", "79161234567", ""]), (3, ["2"])],
                                 {"id": "external_id", "phone": "phone"}, "RU")
    assert [o.external_id for o in orders] == ["1"] and rejects == [{"line": 3, "reason": "expected 2 columns, got 1"}]
