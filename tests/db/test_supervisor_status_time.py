"""The screen's time in each status today (SPEC F1) on a real PostgreSQL: the status history every writer fills
(`operator_status_log`, a trigger on `operator`), read for "today" in the installation's time zone."""
from datetime import datetime, timedelta, timezone

from dialer.models import Operator
from dialer.services import supervisor as sv

from .test_supervisor_services import SUPERVISOR

# 10 March 2026, 12:00 in Moscow (UTC+3); Vladivostok (UTC+10) is at 19:00 the same day
NOW = datetime(2026, 3, 10, 9, 0, tzinfo=timezone.utc)


def log(db, operator_id, *changes):
    db.execute_sql("DELETE FROM operator_status_log WHERE operator_id = %s", (operator_id,))
    for at, status in changes:
        db.execute_sql("INSERT INTO operator_status_log (operator_id, status, at) VALUES (%s, %s, %s)",
                       (operator_id, status, at))


def test_every_writer_is_logged(db):
    op = Operator.create(name="О", login="o1", sip_password="secret-123")
    db.execute_sql("UPDATE operator SET status = 'ready', status_since = now() - interval '5 minutes' WHERE id = %s",
                   (op.id,))
    db.execute_sql("UPDATE operator SET status = 'lunch' WHERE id = %s", (op.id,))  # a writer that sets no since
    db.execute_sql("UPDATE operator SET name = 'П' WHERE id = %s", (op.id,))  # not a status change
    rows = db.execute_sql("SELECT status FROM operator_status_log WHERE operator_id = %s ORDER BY id",
                          (op.id,)).fetchall()
    assert [r[0] for r in rows] == ["offline", "ready", "lunch"]


def test_the_board_gives_todays_seconds_in_each_status(db):
    op = Operator.create(name="О", login="o1", sip_password="secret-123", status="in_call")
    h = timedelta(hours=1)
    log(db, op.id,
        (NOW - 20 * h, "paused"),      # 9 March 13:00 UTC: yesterday in Moscow, ...
        (NOW - 15 * h, "offline"),     # 9 March 18:00 UTC = 9 March 21:00 Moscow = 10 March 04:00 Vladivostok
        (NOW - 3 * h, "ready"),        # 06:00 UTC = 09:00 Moscow
        (NOW - 2 * h, "in_call"),
        (NOW - 1.5 * h, "wrap_up"),
        (NOW - 1.25 * h, "in_call"))
    moscow = {o["id"]: o for o in sv.board(SUPERVISOR, NOW, "Europe/Moscow")["operators"]}[op.id]["today"]["status_s"]
    # Moscow's day began at 9 March 21:00 UTC, already offline: 9 h offline, then 1 h ready, 1.75 h in calls
    assert moscow == {"offline": 9 * 3600, "ready": 3600, "in_call": 0.5 * 3600 + 1.25 * 3600, "wrap_up": 900}
    vladivostok = {o["id"]: o for o in sv.board(SUPERVISOR, NOW, "Asia/Vladivostok")["operators"]}[op.id]
    # Vladivostok's day began at 9 March 14:00 UTC, in Pause: 4 h of it before going offline
    assert vladivostok["today"]["status_s"]["paused"] == 4 * 3600
    assert sum(vladivostok["today"]["status_s"].values()) == 19 * 3600
