"""The time of an ARI event is Asterisk's own stamp, read exactly (the timeline and answer → bridge use it); a stamp
that cannot be placed in time gives the time the engine saw the event."""
from __future__ import annotations

from datetime import datetime

import pytest

from ari_app.stasis import event_time

SEEN = 1_700_000_000.0


@pytest.mark.parametrize("stamp", ["2026-11-30T03:45:43.808+0000", "2026-11-30T06:45:43.808+0300",
                                   "2026-01-01T00:00:00.000-0500", "2026-11-30T03:45:43.808123+0000"])
def test_asterisk_stamps_are_read_to_the_millisecond(stamp):
    assert event_time({"timestamp": stamp}, SEEN) == datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def test_a_stamp_in_another_zone_is_the_same_moment():
    assert event_time({"timestamp": "2026-11-30T06:45:43.808+0300"}, SEEN) == \
        event_time({"timestamp": "2026-11-30T03:45:43.808+0000"}, SEEN)


@pytest.mark.parametrize("msg", [{}, {"timestamp": ""}, {"timestamp": "yesterday"},
                                 {"timestamp": "2026-11-30T03:45:43.808"}])  # no zone: not a moment
def test_without_a_usable_stamp_the_time_seen_is_used(msg):
    assert event_time(msg, SEEN) == SEEN
