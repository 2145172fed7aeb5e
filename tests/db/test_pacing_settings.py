"""A campaign's dialling settings and its protective autostop against a real PostgreSQL (dialer/services/pacing.py)."""
from __future__ import annotations

import time

import pytest

from dialer.errors import Conflict, Invalid, NotFound
from dialer.outcomes import LOST_WHILE_AWAY
from dialer.services import campaigns, pacing


@pytest.fixture
def campaign(db):
    return campaigns.create_campaign("Predictive")["id"]


def audit_names(db, campaign_id) -> list[str]:
    return [r[0] for r in db.execute_sql("SELECT name FROM audit_log WHERE object_type = 'campaign' AND object_id = %s"
                                         " ORDER BY id", (str(campaign_id),)).fetchall()]


def test_defaults_without_a_row(campaign):
    s = pacing.get_pacing(campaign)
    assert s["mode"] == "progressive" and s["abandon_cap_percent"] == 3.0 and s["grace_s"] == 2.0
    assert (s["autostop_errors"], s["autostop_window_s"], s["window_day"]) == (5, 30, True)
    assert s["autostop"] is None


def test_update_saves_and_audits(db, campaign):
    s = pacing.update_pacing(campaign, mode="predictive", max_ratio="2,5", abandon_cap_percent=0,
                             window_answered=500, wait_timeout_s=30, safe_harbour_message=True)
    assert (s["mode"], s["max_ratio"], s["abandon_cap_percent"], s["window_answered"]) == ("predictive", 2.5, 0.0, 500)
    assert pacing.get_pacing(campaign) == s
    assert audit_names(db, campaign)[-1] == "Набор кампании изменён"
    pacing.update_pacing(campaign, mode="predictive")  # nothing changed: nothing audited
    assert audit_names(db, campaign).count("Набор кампании изменён") == 1


BAD = [
    ({"mode": "robot"}, "mode"), ({"max_ratio": 0.5}, "max_ratio"), ({"max_ratio": 5.1}, "max_ratio"),
    ({"max_ratio": 1.25}, "max_ratio"), ({"max_ratio": True}, "max_ratio"), ({"max_ratio": "два"}, "max_ratio"),
    ({"max_ratio": "nan"}, "max_ratio"), ({"abandon_cap_percent": -0.01}, "abandon_cap_percent"),
    ({"abandon_cap_percent": 10.5}, "abandon_cap_percent"), ({"abandon_cap_percent": 1.005}, "abandon_cap_percent"),
    ({"window_answered": 5}, "window_answered"), ({"window_day": "yes"}, "window_day"),
    ({"window_day": False}, "window_day"),  # no window left at all
    ({"grace_s": 11}, "grace_s"), ({"wait_timeout_s": 0}, "wait_timeout_s"), ({"wait_timeout_s": 2.5}, "wait_timeout_s"),
    ({"min_sample_calls": 9}, "min_sample_calls"), ({"autostop_errors": 0}, "autostop_errors"),
    ({"autostop_window_s": 86_401}, "autostop_window_s"), ({"colour": "red"}, "colour"),
]


@pytest.mark.parametrize("change,field", BAD, ids=[next(iter(c)) + "=" + repr(next(iter(c.values()))) for c, _ in BAD])
def test_bad_input_is_refused_in_both_languages_and_changes_nothing(db, campaign, change, field, unchanged):
    before = pacing.get_pacing(campaign)
    with unchanged():
        with pytest.raises(Invalid) as e:
            pacing.update_pacing(campaign, **change)
    assert e.value.details.get("field") == field
    assert e.value.message and e.value.details.get("message_ru")
    assert pacing.get_pacing(campaign) == before


def test_unknown_campaign(db):
    with pytest.raises(NotFound):
        pacing.update_pacing(999, mode="predictive")


def ended(*outcomes, start=1000.0, step=1.0):
    return [pacing.Ended(i + 1, start + i * step, o, "503" if o == "ERROR" else None) for i, o in enumerate(outcomes)]


def away(n, start=1000.0):
    return [pacing.Ended(100 + i, start + i, "ERROR", LOST_WHILE_AWAY) for i in range(n)]


@pytest.mark.parametrize("recent,n,window,stops", [
    (ended(*["ERROR"] * 5), 5, 30, True),
    (ended(*["ERROR"] * 4), 5, 30, False),
    (ended("ERROR", "ERROR", "ANSWERED", "ERROR", "ERROR", "ERROR"), 5, 30, False),  # the run was broken
    (ended("ANSWERED", *["ERROR"] * 5), 5, 30, True),
    (ended(*["ERROR"] * 5, step=10.0), 5, 30, False),  # 40 s from the first to the fifth
    (ended(*["ERROR"] * 5, step=7.5), 5, 30, True),    # exactly 30 s
    (ended("ERROR"), 1, 30, True),
    (ended(*["NO_ANSWER"] * 9), 5, 30, False),
    # calls that ended while the engine was away (a restart with calls in flight) count for nothing
    (away(5) + ended("ANSWERED", start=1010.0), 5, 30, False),
    (away(5), 5, 30, False),
    (ended(*["ERROR"] * 3) + away(2, start=1003.0) + ended("ERROR", "ERROR", start=1005.0), 5, 30, True),
])
def test_autostop_rule(recent, n, window, stops):
    got = pacing.autostop_due(recent, n, window)
    assert (got is not None) is stops
    if stops:
        assert len(got) == n and all(e.outcome == "ERROR" and e.error != LOST_WHILE_AWAY for e in got)


def test_autostop_stops_alerts_and_a_confirmation_resumes(db, campaign):
    cause = ended(*["ERROR"] * 5, start=time.time())
    assert pacing.stop_automatically(db, campaign, cause) is True
    assert pacing.stop_automatically(db, campaign, cause) is False  # once
    s = pacing.get_pacing(campaign)
    assert s["autostop"]["reason"].startswith("5 ошибок подряд за 30 с")
    assert [a["attempt_id"] for a in s["autostop"]["attempts"]] == [1, 2, 3, 4, 5]
    assert campaigns.get_campaign(campaign)["active"] is False
    alerts = db.execute_sql("SELECT kind, text_en FROM alert WHERE campaign_id = %s AND cleared_at IS NULL",
                            (campaign,)).fetchall()
    assert [a[0] for a in alerts] == ["campaign_autostop"] and "stopped automatically" in alerts[0][1]
    s = pacing.confirm_autostop(campaign)
    assert s["autostop"] is None and campaigns.get_campaign(campaign)["active"] is True
    assert db.execute_sql("SELECT count(*) FROM alert WHERE campaign_id = %s AND cleared_at IS NULL",
                          (campaign,)).fetchone()[0] == 0
    assert audit_names(db, campaign)[-2:] == ["Кампания остановлена автоматически",
                                              "Автостоп подтверждён, кампания возобновлена"]
    with pytest.raises(Conflict):
        pacing.confirm_autostop(campaign)
