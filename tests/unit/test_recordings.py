"""The pure parts of call recording (SPEC J1, J2): Range, who may listen, when to audit, retention, the guard."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from dialer.access import Principal
from dialer.services import recordings as rec

SIZE = 1000


@pytest.mark.parametrize("header, expected", [
    (None, None), ("", None),
    ("bytes=0-", (0, 999)), ("bytes=0-99", (0, 99)), ("bytes=500-", (500, 999)),
    ("bytes=990-2000", (990, 999)),        # past the end: up to the last byte
    ("bytes=-100", (900, 999)), ("bytes=-5000", (0, 999)),
    ("bytes=0-1,5-6", None), ("items=0-5", None), ("bytes=-", None),  # forms we do not serve: the whole file
])
def test_byte_range(header, expected):
    assert rec.byte_range(header, SIZE) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=10-5", "bytes=-0"])
def test_byte_range_not_satisfiable(header):
    with pytest.raises(rec.RangeNotSatisfiable):
        rec.byte_range(header, SIZE)


@pytest.mark.parametrize("header, start", [(None, 0), ("bytes=0-", 0), ("bytes=700-", 700), ("bytes=-100", -100)])
def test_range_start(header, start):
    assert rec.range_start(header) == start


def who(perms=(), operator_id=None):
    return Principal(1, "u", ("r",), frozenset(perms), operator_id=operator_id)


LISTENER, OPERATOR = {"recordings.listen"}, {"panel.use"}


@pytest.mark.parametrize("principal, call_operator, operators_own, may", [
    (who(LISTENER), 5, False, True),                  # a listener: anyone's
    (who(LISTENER, operator_id=7), 5, False, True),
    (who(OPERATOR, operator_id=5), 5, False, False),  # own, but the installation does not allow it
    (who(OPERATOR, operator_id=5), 5, True, True),    # own, allowed
    (who(OPERATOR, operator_id=5), 6, True, False),   # someone else's
    (who(OPERATOR, operator_id=5), None, True, False),
    (who(OPERATOR), None, True, False),               # a user with no operator owns no call
    (who(set(), operator_id=5), 5, True, False),      # not a panel user
])
def test_may_listen_own_and_someone_elses(principal, call_operator, operators_own, may):
    assert rec.may_listen(principal, call_operator, operators_own) is may


@pytest.mark.parametrize("start, download, recent, due", [
    (0, False, True, True), (0, False, False, True),    # a play starts: always
    (700, False, True, False), (700, False, False, True),  # a seek: unless this play is in the log already
    (-100, False, True, False),                          # the last bytes (a player looking at the end)
    (700, True, True, True), (0, True, True, True),      # every download
])
def test_audit_due(start, download, recent, due):
    assert rec.audit_due(start, download, recent) is due


NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)


@pytest.mark.parametrize("age_days, keep_days, gone", [
    (31, 30, True), (29, 30, False), (400, 0, False), (0.5, 1, False), (1.01, 1, True)])
def test_expired(age_days, keep_days, gone):
    assert rec.expired(NOW - timedelta(days=age_days), keep_days, NOW) is gone


@pytest.mark.parametrize("free_mb, threshold, low", [(100, 500, True), (499.9, 500, True), (500, 500, False),
                                                     (10_000, 500, False), (0, 0, False)])
def test_low_on_space(free_mb, threshold, low):
    assert rec.low_on_space(int(free_mb * 2**20), threshold) is low


def test_names_and_durations():
    assert rec.relative_name(17, NOW) == "2026/06/01/at17.opus"
    assert rec.asterisk_name(17) == "dialer-at17"
    assert rec.ogg_opus_duration(b"not ogg") == 0.0
