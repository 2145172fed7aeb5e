"""The health check's rule (dialer/services/health.py `assess`) and the job-raised alerts' rule
(dialer/services/alerts.py `steps`), from tables."""
from datetime import datetime, timedelta, timezone

import pytest

from dialer.services import alerts, health

NOW = datetime(2026, 3, 10, 12, tzinfo=timezone.utc)
S = timedelta(seconds=1)


def healthy() -> dict:
    return {
        "now": NOW, "servers": ["pbx"],
        "components": [
            {"component": "engine", "name": "pbx", "ok": True, "age_s": 2.0, "state_age_s": 600.0, "write_backlog": 3,
             "reconnects_today": 0, "detail": {"writes_failing_s": 0}},
            {"component": "agi", "name": "127.0.0.1:4573", "ok": True, "age_s": 1.0, "state_age_s": 600.0,
             "write_backlog": 0, "detail": {}},
        ],
        "jobs": [{"job": "claim-queue", "interval_s": 1.0, "next_run_at": NOW + S, "last_success_at": NOW - S,
                  "last_failure_at": None, "last_error": None, "consecutive_failures": 0, "failures_today": 0},
                 {"job": "purge-commands", "interval_s": 3600.0, "next_run_at": NOW + 3000 * S, "last_success_at": None,
                  "last_failure_at": None, "last_error": None, "consecutive_failures": 0, "failures_today": 0}],
        "crm": [{"id": 7, "name": "Магазин", "unreachable_since": None, "alert_after_s": 300, "last_error": None}],
        "commands": {"pending": 2, "oldest_s": 0.1},
    }


def engine(snap):
    return snap["components"][0]


def agi(snap):
    return snap["components"][1]


def job(snap, i=0):
    return snap["jobs"][i]


CASES = [
    ("database away", lambda s: s.update(database_error="OperationalError: refused"), ["database-unavailable"]),
    ("no engine row for a configured server", lambda s: s["components"].pop(0), ["engine-not-reporting:pbx"]),
    ("the engine's row is stale", lambda s: engine(s).update(age_s=16.0), ["engine-not-reporting:pbx"]),
    ("a stale row says nothing else", lambda s: engine(s).update(age_s=60.0, ok=False), ["engine-not-reporting:pbx"]),
    ("ARI down", lambda s: engine(s).update(ok=False), ["ari-disconnected:pbx"]),
    ("a second server never reported", lambda s: s["servers"].append("pbx2"), ["engine-not-reporting:pbx2"]),
    ("a row of a server no longer configured is not judged",
     lambda s: s["components"].append(dict(engine(s), name="old", age_s=9999.0)), []),
    ("writes failing for 10 s", lambda s: engine(s)["detail"].update(writes_failing_s=10.0),
     ["engine-write-backlog:pbx"]),
    ("writes failing for a moment", lambda s: engine(s)["detail"].update(writes_failing_s=2.0), []),
    ("a thousand writes waiting", lambda s: engine(s).update(write_backlog=1000), ["engine-write-backlog:pbx"]),
    ("AGI never reported", lambda s: s["components"].pop(1), ["agi-not-reporting"]),
    ("AGI stale", lambda s: agi(s).update(age_s=20.0), ["agi-not-reporting:127.0.0.1:4573"]),
    ("AGI not listening", lambda s: agi(s).update(ok=False), ["agi-down:127.0.0.1:4573"]),
    ("commands waiting 11 s", lambda s: s["commands"].update(oldest_s=11.0), ["commands-waiting"]),
    ("the last run failed", lambda s: job(s).update(consecutive_failures=2, last_failure_at=NOW, last_error="boom"),
     ["job-failing:claim-queue"]),
    ("failed, then succeeded", lambda s: job(s).update(consecutive_failures=0, last_failure_at=NOW - 5 * S), []),
    ("a job overdue past its grace", lambda s: job(s).update(next_run_at=NOW - 31 * S), ["job-late:claim-queue"]),
    ("a job a little late", lambda s: job(s).update(next_run_at=NOW - 29 * S), []),
    ("an hourly job's grace is two intervals", lambda s: job(s, 1).update(next_run_at=NOW - 7100 * S), []),
    ("no job ever reported", lambda s: s.update(jobs=[]), ["jobs-not-running"]),
    ("CRM unreachable past its limit", lambda s: s["crm"][0].update(unreachable_since=NOW - 301 * S, last_error="503"),
     ["crm-unreachable:7"]),
    ("CRM unreachable within its limit", lambda s: s["crm"][0].update(unreachable_since=NOW - 299 * S), []),
]


@pytest.mark.parametrize("name,change,codes", CASES, ids=[c[0] for c in CASES])
def test_assess(name, change, codes):
    snap = healthy()
    change(snap)
    reasons = health.assess(snap)
    assert [r.code for r in reasons] == codes
    for r in reasons:  # every reason is said in both languages
        assert r.message and r.message_ru and r.message != r.message_ru


def test_a_healthy_installation_has_no_reason():
    assert health.assess(healthy()) == []


def test_every_part_down_at_once_names_each():
    snap = healthy()
    engine(snap).update(ok=False)
    agi(snap).update(ok=False)
    job(snap).update(consecutive_failures=1, last_failure_at=NOW)
    s = health.describe(snap, health.assess(snap))
    assert [r.code.split(":")[0] for r in health.assess(snap)] == ["ari-disconnected", "agi-down", "job-failing"]
    assert "3 problem(s)" in s and "DISCONNECTED" in s


# ---- alerts raised by a job: one per cause and object while it lasts ------------------------------------------
def cause(kind=alerts.NO_LEADS, key="campaign:1"):
    return alerts.Cause(kind, key, 1, "ru", "en")


ALERT_CASES = [
    # (observed now, streaks before, open alerts) → (raised keys, cleared keys, streaks after)
    ("no leads seen once: not yet", [cause()], {}, set(), [], [], {(alerts.NO_LEADS, "campaign:1"): 1}),
    ("no leads seen twice in a row: raised", [cause()], {(alerts.NO_LEADS, "campaign:1"): 1}, set(),
     [(alerts.NO_LEADS, "campaign:1")], [], {(alerts.NO_LEADS, "campaign:1"): 2}),
    ("already open (acknowledged or not): not raised again", [cause()], {(alerts.NO_LEADS, "campaign:1"): 5},
     {(alerts.NO_LEADS, "campaign:1")}, [], [], {(alerts.NO_LEADS, "campaign:1"): 6}),
    ("the cause went away: cleared, streak forgotten", [], {(alerts.NO_LEADS, "campaign:1"): 5},
     {(alerts.NO_LEADS, "campaign:1")}, [], [(alerts.NO_LEADS, "campaign:1")], {}),
    ("CRM unreachable: at once (its own alert waited already)", [cause(alerts.CRM_UNREACHABLE, "crm_connection:2")],
     {}, set(), [(alerts.CRM_UNREACHABLE, "crm_connection:2")], [], {(alerts.CRM_UNREACHABLE, "crm_connection:2"): 1}),
    ("two objects, one kind: separate alerts", [cause(key="campaign:1"), cause(key="campaign:2")],
     {(alerts.NO_LEADS, "campaign:1"): 1, (alerts.NO_LEADS, "campaign:2"): 1}, {(alerts.NO_LEADS, "campaign:2")},
     [(alerts.NO_LEADS, "campaign:1")], [], {(alerts.NO_LEADS, "campaign:1"): 2, (alerts.NO_LEADS, "campaign:2"): 2}),
]


@pytest.mark.parametrize("name,observed,streaks,open_keys,raised,cleared,after", ALERT_CASES,
                         ids=[c[0] for c in ALERT_CASES])
def test_alert_steps(name, observed, streaks, open_keys, raised, cleared, after):
    got_raised, got_cleared, got_after = alerts.steps(observed, streaks, open_keys)
    assert [c.key for c in got_raised] == raised
    assert got_cleared == cleared
    assert got_after == after
