"""The campaign's default calling window (rules/window.py), from tables: what is valid, when it is open in the
client's own zone (weekdays, weekend variant, no calls at the weekend, any hour), and how it meets a selection's."""
from datetime import datetime, time, timezone

import pytest

from dialer.errors import Invalid
from rules import window as cw
from rules.model import Limits, Rule, Window

UTC = timezone.utc
pytestmark = pytest.mark.calling_window  # the product's default window

DEFAULT = cw.validate(cw.DEFAULT)
NO_WEEKEND = cw.validate({"from": "09:00", "to": "21:00", "weekend": None, "weekend_days": [6, 7]})
ANY = cw.validate({"any_hour": True})

# (window, zone, UTC moment, open?) — 2026-11-27 is a Friday, 2026-11-28 a Saturday
OPEN_CASES = [
    (DEFAULT, "Europe/Moscow", datetime(2026, 11, 27, 6, 0, tzinfo=UTC), True),    # 09:00 Moscow: the first minute
    (DEFAULT, "Europe/Moscow", datetime(2026, 11, 27, 5, 59, tzinfo=UTC), False),  # 08:59
    (DEFAULT, "Europe/Moscow", datetime(2026, 11, 27, 17, 59, tzinfo=UTC), True),  # 20:59
    (DEFAULT, "Europe/Moscow", datetime(2026, 11, 27, 18, 0, tzinfo=UTC), False),  # 21:00: the end is open
    (DEFAULT, "Europe/Moscow", datetime(2026, 11, 27, 0, 0, tzinfo=UTC), False),   # 03:00: never without a choice
    (DEFAULT, "Asia/Vladivostok", datetime(2026, 11, 27, 0, 0, tzinfo=UTC), True),  # 10:00 there
    (DEFAULT, "Europe/Moscow", datetime(2026, 11, 28, 6, 30, tzinfo=UTC), False),  # Saturday 09:30: weekend 10–20
    (DEFAULT, "Europe/Moscow", datetime(2026, 11, 28, 7, 0, tzinfo=UTC), True),    # Saturday 10:00
    (DEFAULT, "Europe/Moscow", datetime(2026, 11, 28, 17, 0, tzinfo=UTC), False),  # Saturday 20:00
    (DEFAULT, "Asia/Vladivostok", datetime(2026, 11, 27, 20, 0, tzinfo=UTC), False),  # Saturday 06:00 there
    (NO_WEEKEND, "Europe/Moscow", datetime(2026, 11, 28, 9, 0, tzinfo=UTC), False),  # Saturday noon: closed
    (NO_WEEKEND, "Europe/Moscow", datetime(2026, 11, 27, 9, 0, tzinfo=UTC), True),
    (ANY, "Europe/Moscow", datetime(2026, 11, 27, 0, 0, tzinfo=UTC), True),        # 03:00, chosen on purpose
]


@pytest.mark.parametrize("w, zone, now, expected", OPEN_CASES)
def test_open_in_the_clients_own_time(w, zone, now, expected):
    assert cw.is_open(w, zone, now) is expected
    zones = cw.open_zones(w, now)
    assert (zones is None or zone in zones) is expected


INVALID = [
    ({"from": "21:00", "to": "09:00"}, "window.to"),
    ({"from": "9", "to": "21:00"}, "window.from"),
    ({"from": "09:00", "to": "25:00"}, "window.to"),
    ({"from": "09:00", "to": "21:00", "weekend": {"from": "20:00", "to": "10:00"}}, "window.weekend.to"),
    ({"from": "09:00", "to": "21:00", "weekend_days": [1, 2, 3, 4, 5, 6, 7]}, "window.weekend_days"),
    ({"from": "09:00", "to": "21:00", "weekend_days": [0]}, "window.weekend_days"),
    ({"from": "09:00", "to": "21:00", "any_hour": True}, "window.any_hour"),
    ({"from": "09:00", "to": "21:00", "nights": True}, "window.nights"),
    ("09-21", "window"),
]


@pytest.mark.parametrize("raw, field", INVALID)
def test_mistakes_are_named_in_both_languages(raw, field):
    with pytest.raises(Invalid) as e:
        cw.validate(raw)
    d = e.value.as_dict()
    assert d["field"] == field and d["message"] and d["message_ru"] and d["message"] != d["message_ru"]


@pytest.mark.parametrize("raw", [cw.DEFAULT, cw.ANY_HOUR, {"from": "00:00", "to": "24:00", "weekend": None,
                                                            "weekend_days": []},
                                 {"from": "08:30", "to": "22:00", "weekend": None, "weekend_days": [5, 6, 7]}])
def test_stored_json_reads_back_the_same(raw):
    w = cw.validate(raw)
    assert cw.validate(cw.to_json(w)) == w


def test_an_unreadable_stored_window_closes_the_campaign():
    w = cw.parse_stored('{"from": "nonsense"}')
    assert not cw.is_open(w, "Europe/Moscow", datetime(2026, 11, 27, 9, 0, tzinfo=UTC))
    assert cw.open_zones(w, datetime(2026, 11, 27, 9, 0, tzinfo=UTC)) == frozenset()


def test_a_selections_window_only_narrows_the_campaigns():
    friday_noon_moscow = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
    evening = Window(time(18, 0), None)  # the selection asks for 18:00–24:00
    assert "Europe/Moscow" not in (cw.combined_zones(DEFAULT, evening, friday_noon_moscow) or [])
    assert "Europe/Moscow" in cw.combined_zones(DEFAULT, Window(time(0, 0), None), friday_noon_moscow)
    late = datetime(2026, 11, 27, 19, 0, tzinfo=UTC)  # 22:00 in Moscow: the selection's window is open, not the campaign's
    assert "Europe/Moscow" not in cw.combined_zones(DEFAULT, evening, late)
    assert cw.combined_zones(ANY, None, late) is None


@pytest.mark.parametrize("rule_limits, campaign, expected", [
    (Limits(), (None, None), Limits()),
    (Limits(), (2, 60), Limits(None, 2, 60)),
    (Limits(5, 1, 120), (2, 60), Limits(5, 1, 120)),  # the selection is stricter: kept
    (Limits(5, 3, 10), (2, 60), Limits(5, 2, 60)),    # the campaign is stricter: it wins
])
def test_the_campaigns_limits_narrow_a_selections(rule_limits, campaign, expected):
    rule = Rule(limits=rule_limits)
    assert cw.narrowed(rule, cw.CampaignClaim(ANY, *campaign)).limits == expected
