"""Time in each status today (dialer/services/status_time.py), from tables of status changes."""
from datetime import datetime, timedelta, timezone

import pytest

from dialer.clock import day_start
from dialer.services.status_time import SIGNED_IN, seconds_by_status, shares

D = datetime(2026, 3, 10, tzinfo=timezone.utc)  # the day's start
H = timedelta(hours=1)
M = timedelta(minutes=1)


def at(h, m=0):
    return D + timedelta(hours=h, minutes=m)


CASES = [
    # (changes, end, expected seconds by status), the window always starting at D
    ("no changes: nothing counted", [], at(12), {}),
    ("a status from yesterday lasts into today", [(D - 5 * H, "ready")], at(2), {"ready": 2 * 3600}),
    ("yesterday's last status, then today's changes",
     [(D - 5 * H, "paused"), (D - 2 * H, "offline"), (at(9), "ready"), (at(9, 30), "in_call"), (at(9, 40), "wrap_up"),
      (at(9, 41), "ready")],
     at(10), {"offline": 9 * 3600, "ready": 30 * 60 + 19 * 60, "in_call": 10 * 60, "wrap_up": 60}),
    ("created today: the time before the first change is not counted", [(at(8), "offline"), (at(9), "ready")], at(10),
     {"offline": 3600, "ready": 3600}),
    ("changes after the window's end are ignored", [(at(1), "ready"), (at(5), "lunch")], at(3), {"ready": 2 * 3600}),
    ("given out of order", [(at(9, 41), "ready"), (at(9), "in_call"), (D - H, "offline")], at(10),
     {"offline": 9 * 3600, "in_call": 41 * 60, "ready": 19 * 60}),
    ("two changes at one moment: the later one holds", [(at(1), "ready"), (at(1), "lunch")], at(2), {"lunch": 3600}),
]


@pytest.mark.parametrize("name,changes,end,expected", CASES, ids=[c[0] for c in CASES])
def test_seconds_by_status(name, changes, end, expected):
    got = seconds_by_status(changes, D, end)
    assert {k: v for k, v in got.items() if v} == expected
    known = [c for c in changes if c[0] <= end]
    if known:  # the seconds add up to the part of the window the history covers
        first = max(D, min(c[0] for c in known))
        assert sum(got.values()) == pytest.approx((end - first).total_seconds())


def test_shares_are_of_the_time_signed_in():
    s = shares({"offline": 9 * 3600, "ready": 1800, "in_call": 1200, "wrap_up": 600})
    assert s == {"ready": 0.5, "in_call": pytest.approx(1 / 3), "wrap_up": pytest.approx(1 / 6), "paused": 0.0,
                 "lunch": 0.0}
    assert sum(s.values()) == pytest.approx(1)
    assert shares({"offline": 3600}) == dict.fromkeys(SIGNED_IN, 0.0)  # offline all day: nothing to share


@pytest.mark.parametrize("zone,now,expected", [
    ("Europe/Moscow", datetime(2026, 3, 10, 20, 30, tzinfo=timezone.utc), datetime(2026, 3, 9, 21, tzinfo=timezone.utc)),
    ("Europe/Moscow", datetime(2026, 3, 10, 21, 30, tzinfo=timezone.utc), datetime(2026, 3, 10, 21, tzinfo=timezone.utc)),
    ("Asia/Vladivostok", datetime(2026, 3, 10, 13, 59, tzinfo=timezone.utc), datetime(2026, 3, 9, 14, tzinfo=timezone.utc)),
    # Berlin's spring-forward day has 23 hours: its midnight is still at +01:00
    ("Europe/Berlin", datetime(2026, 3, 29, 21, 59, tzinfo=timezone.utc), datetime(2026, 3, 28, 23, tzinfo=timezone.utc)),
    ("Europe/Berlin", datetime(2026, 3, 29, 22, 30, tzinfo=timezone.utc), datetime(2026, 3, 29, 22, tzinfo=timezone.utc)),
])
def test_today_begins_at_midnight_in_the_installations_zone(zone, now, expected):
    assert day_start(now, zone) == expected
