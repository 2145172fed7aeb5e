"""The operators' status history is kept `status_history_days` (dialer/jobs.py): older changes go, but each
operator's last change before the cutoff stays — it is what the operator was doing when the kept history begins."""
from datetime import datetime, timedelta, timezone

from dialer import jobs
from dialer.models import Operator
from dialer.services import status_time

NOW = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)


def history(db, op_id):
    return db.execute_sql("SELECT status, at FROM operator_status_log WHERE operator_id = %s ORDER BY at, id",
                          (op_id,)).fetchall()


def log(db, op_id, *changes):
    db.execute_sql("DELETE FROM operator_status_log WHERE operator_id = %s", (op_id,))
    for status, days_ago in changes:
        db.execute_sql("INSERT INTO operator_status_log (operator_id, status, at) VALUES (%s, %s, %s)",
                       (op_id, status, NOW - timedelta(days=days_ago)))


def test_old_changes_go_and_the_last_one_before_the_cutoff_stays(db):
    a = Operator.create(name="А", login="op1", sip_password="secret-123")
    b = Operator.create(name="Б", login="op2", sip_password="secret-123")
    young = Operator.create(name="В", login="op3", sip_password="secret-123")
    log(db, a.id, ("ready", 500), ("paused", 450), ("ready", 401), ("offline", 10))
    log(db, b.id, ("ready", 800))
    log(db, young.id, ("ready", 30), ("paused", 1))
    assert jobs.purge_status_history(400, NOW) == 2
    assert [s for s, _ in history(db, a.id)] == ["ready", "offline"]  # "ready" since 401 days ago, then offline
    assert [s for s, _ in history(db, b.id)] == ["ready"]  # nothing newer: the only change says what it still is
    assert [s for s, _ in history(db, young.id)] == ["ready", "paused"]
    assert jobs.purge_status_history(400, NOW) == 0  # run again: nothing more


def test_time_in_status_over_the_kept_period_is_the_same_after_the_purge(db):
    op = Operator.create(name="А", login="op1", sip_password="secret-123")
    log(db, op.id, ("ready", 500), ("paused", 450), ("ready", 401), ("paused", 399.5), ("ready", 399))
    start, end = NOW - timedelta(days=400), NOW - timedelta(days=398)
    before = status_time.today(db, start, end)
    jobs.purge_status_history(400, NOW)
    assert status_time.today(db, start, end) == before
    assert before[op.id]["ready"] > 0
