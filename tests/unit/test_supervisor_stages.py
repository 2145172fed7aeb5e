"""The call card's stages and the day's rating (dialer/services/supervisor.py), from tables."""
from datetime import datetime, timedelta, timezone

import pytest

from dialer.services.supervisor import day_start, rating, stages

T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=timezone.utc)


def at(seconds):
    return T0 + timedelta(seconds=seconds)


# (stamps as offsets in seconds, outcome, now offset or None) → [(stage, seconds, open)], total
CASES = [
    # answered, talked, wrapped up: every stage, the wrap-up ends at wrap_up_at
    ({"reserved_at": 0, "offered_at": 0, "operator_answered_at": 0.5, "dial_started_at": 0.6, "ringing_at": 1.0,
      "answered_at": 4.0, "bridged_at": 4.01, "ended_at": 64.0, "wrap_up_at": 80.0}, "ANSWERED", None,
     [("queued", 0, False), ("offered", 0.5, False), ("operator_answered", 0.1, False), ("dial", 0.4, False),
      ("ringing", 3.0, False), ("answered", 0.01, False), ("talk", 59.99, False), ("wrap_up", 16.0, False)], 80.0),
    # no answer: the ring runs to the end; nothing after the end
    ({"reserved_at": 0, "offered_at": 0, "dial_started_at": 0.2, "ringing_at": 0.5, "ended_at": 30.5},
     "NO_ANSWER", 100, [("queued", 0, False), ("offered", 0.2, False), ("dial", 0.3, False), ("ringing", 30.0, False)],
     30.5),
    # busy: no ringing stamp at all
    ({"reserved_at": 0, "dial_started_at": 0.3, "ended_at": 0.9}, "BUSY", 100,
     [("queued", 0.3, False), ("dial", 0.6, False)], 0.9),
    # error before dialling: reserved → ended
    ({"reserved_at": 0, "ended_at": 0.05}, "ERROR", 100, [("queued", 0.05, False)], 0.05),
    # still talking: the last stage is open until now
    ({"reserved_at": 0, "dial_started_at": 1, "answered_at": 5, "bridged_at": 5}, None, 65,
     [("queued", 1, False), ("dial", 4, False), ("answered", 0, False), ("talk", 60, True)], 65),
    # answered and ended, wrap-up not done yet: the wrap-up stage is open
    ({"reserved_at": 0, "answered_at": 2, "bridged_at": 2, "ended_at": 10}, "ANSWERED", 25,
     [("queued", 2, False), ("answered", 0, False), ("talk", 8, False), ("wrap_up", 15, True)], 25),
    # stamps out of their usual order (the operator answered after the dial began): sorted by time
    ({"reserved_at": 0, "dial_started_at": 1, "operator_answered_at": 2, "ended_at": 3}, "NO_ANSWER", None,
     [("queued", 1, False), ("dial", 1, False), ("operator_answered", 1, False)], 3),
]


@pytest.mark.parametrize("offsets,outcome,now,expected,total", CASES)
def test_stages_add_up_to_the_total(offsets, outcome, now, expected, total):
    stamps = {k: at(v) for k, v in offsets.items()} | {"outcome": outcome}
    parts, got_total = stages(stamps, at(now) if now is not None else None)
    assert [(p["stage"], round(p["seconds"], 3), p["open"]) for p in parts] == expected
    assert got_total == pytest.approx(total)
    assert sum(p["seconds"] for p in parts) == pytest.approx(got_total)


def test_a_call_without_stamps_has_no_stages():
    assert stages({"outcome": None}, T0) == ([], 0)


@pytest.mark.parametrize("answered,talk_s,expected", [
    (0, 0, 0), (1, 59.9, 1), (1, 60, 2), (10, 3599, 69), (3, 125.5, 5),
])
def test_rating_is_answered_calls_plus_full_minutes_of_talk(answered, talk_s, expected):
    assert rating(answered, talk_s) == expected


def test_the_day_starts_at_local_midnight():
    start = day_start(T0)
    assert start <= T0 < start + timedelta(days=1)
    assert (start.hour, start.minute, start.second, start.microsecond) == (0, 0, 0, 0)
