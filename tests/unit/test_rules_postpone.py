"""Postpone from the wrap-up (pure): absolute or client-local date-times, clock changes, bounds."""
from datetime import datetime, timedelta, timezone

import pytest

from dialer.errors import Invalid
from rules import callable as lifecycle
from rules.postpone import local_to_utc, next_call_at, resolve_until

NOW = datetime(2026, 3, 28, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("value,zone,expected", [
    ("2026-03-28T18:30", "Europe/Moscow", datetime(2026, 3, 28, 15, 30, tzinfo=timezone.utc)),
    ("2026-03-28T18:30", "Asia/Vladivostok", None),
    ("2026-03-29T10:00+03:00", "Asia/Vladivostok", datetime(2026, 3, 29, 7, 0, tzinfo=timezone.utc)),
    ("2026-03-29T10:00Z", "Europe/Moscow", datetime(2026, 3, 29, 10, 0, tzinfo=timezone.utc)),
    # Berlin moves to summer time at 02:00 on 29 March 2026: 03:30 local is 01:30 UTC
    ("2026-03-29T03:30", "Europe/Berlin", datetime(2026, 3, 29, 1, 30, tzinfo=timezone.utc)),
    # the repeated hour in autumn: its first occurrence (summer time)
    ("2026-10-25T02:30", "Europe/Berlin", datetime(2026, 10, 25, 0, 30, tzinfo=timezone.utc)),
])
def test_until_is_resolved_in_the_clients_zone_unless_it_has_an_offset(value, zone, expected):
    if expected is None:  # 18:30 in Vladivostok (UTC+10) on the 28th was 08:30 UTC: already past
        with pytest.raises(Invalid):
            resolve_until(value, zone, NOW)
        return
    assert resolve_until(value, zone, NOW) == expected


@pytest.mark.parametrize("value", [
    "2026-03-29T02:30",  # skipped by the clock change in Berlin
    "2026-03-28T12:00Z", "2026-03-27T15:00",  # not in the future
    "2027-03-30T12:00Z",  # more than a year ahead
    "2026-03-29", "tomorrow", "", "2026-13-01T10:00", "2026-03-29T10:00\x00", 20260329, None,
    "2026-03-29T10:00; DROP TABLE lead",
])
def test_bad_until_is_refused_naming_the_field(value):
    with pytest.raises(Invalid) as e:
        resolve_until(value, "Europe/Berlin", NOW)
    assert e.value.details["field"] == "postpone_until" and e.value.details["message_ru"]


def test_local_to_utc_round_trips_ordinary_times():
    assert local_to_utc(datetime(2026, 7, 1, 9, 0), "Asia/Novosibirsk") == datetime(2026, 7, 1, 2, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("minutes,until,expected", [
    (30, None, NOW + timedelta(minutes=30)), (None, NOW + timedelta(days=2), NOW + timedelta(days=2)),
    (None, None, None),
])
def test_next_call_at(minutes, until, expected):
    assert next_call_at(NOW, minutes, until) == expected


@pytest.mark.parametrize("args,state,when,callback", [
    ((None, NOW), "done", None, False),
    ((60, NOW), "callable", NOW + timedelta(hours=1), True),
    ((None, NOW, NOW + timedelta(days=1)), "callable", NOW + timedelta(days=1), True),
    ((60, NOW, None, True), "done", None, False),  # do-not-call wins over a postpone
])
def test_after_wrap_up(args, state, when, callback):
    change = lifecycle.after_wrap_up(*args)
    assert (change.state, change.next_call_at, change.callback) == (state, when, callback)
