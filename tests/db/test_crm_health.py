"""The supervisor alert when a CRM stays unreachable longer than its limit; the jobs are registered."""
from __future__ import annotations

from datetime import timedelta

from dialer.crm import health, store

from .crm_support import T0, lv_connection


def test_alert_raised_after_the_limit_and_cleared_when_back(db):
    conn = lv_connection(db, 1)  # alert_after_s = 120
    store.mark_reachability(db, conn["id"], "getStatusList: timed out", T0)
    assert health.check_alerts(db, T0 + timedelta(seconds=60)) == []
    assert health.check_alerts(db, T0 + timedelta(seconds=121)) == [(conn["id"], "raise")]
    store.mark_reachability(db, conn["id"], "still down", T0 + timedelta(seconds=200))  # the outage's start stays
    assert health.check_alerts(db, T0 + timedelta(seconds=300)) == []  # one alert per outage
    alerts = health.open_alerts(db)
    assert len(alerts) == 1 and "недоступна 2 мин" in alerts[0]["message_ru"] and "timed out" in alerts[0]["message"]
    assert "token" not in alerts[0]["message"]
    store.mark_reachability(db, conn["id"], None, T0 + timedelta(seconds=400))
    assert health.check_alerts(db, T0 + timedelta(seconds=401)) == [(conn["id"], "clear")]
    assert health.open_alerts(db) == []


async def test_jobs_include_the_crm(settings, db):
    from dialer.jobs import start_jobs
    scheduler = start_jobs(settings, db)
    try:
        assert {"crm-pull", "crm-outbox", "crm-alerts"} <= {job.id for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
