"""PostgreSQL restarts during live calls: real pbx + sim Asterisk, the engine in its own process, and several
`pg_ctl restart -m fast` of the test cluster while six operators take short calls with a 1 s wrap-up limit.

Nothing is lost and nobody is left frozen: every attempt ends with an outcome, every answered one gets its
wrap-up, no lead stays `in_progress` without a live call, and every operator is working again after each
restart without anyone pressing anything."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from dialer import pg as cluster
from dialer.db import unavailable
from dialer.dev.testing import add_leads, command_all, make_operators, until

pytestmark = pytest.mark.e2e
OPERATORS = 6
RESTARTS = 4


def campaign():
    from dialer.services import campaigns

    return campaigns.create_campaign(name="Перезапуск базы", max_attempts=3, retry_delay_s=0, ring_timeout_s=5,
                                     wrap_up_limit_s=1)["id"]


def numbers(count: int) -> list[str]:
    """Mostly clients who answer and talk 3–4 s (sim/README.md), some busy, some who hang up at once."""
    kinds = ["7900003", "7900004", "7900003", "7900100", "7900004", "7900500"]
    return [f"{kinds[i % len(kinds)]}{i:04d}" for i in range(count)]


def read(db, sql: str, params=()):
    """A query of the test's own, on a pooled connection given back at once; None while the server is down."""
    try:
        with db.connection_context():
            return db.execute_sql(sql, params).fetchall()
    except Exception as e:
        if unavailable(e):
            return None
        raise


def one(db, sql: str, params=()):
    rows = read(db, sql, params)
    return None if rows is None else rows[0][0]


def statuses(db) -> dict[int, str] | None:
    rows = read(db, "SELECT id, status FROM operator")
    return None if rows is None else dict(rows)


def working_since(db, since: datetime) -> set[int]:
    """Operators who got a new call (an attempt reserved) after `since`."""
    rows = read(db, "SELECT DISTINCT operator_id FROM attempt WHERE reserved_at > %s", (since,))
    return set() if rows is None else {r[0] for r in rows}


def test_postgresql_restarts_during_calls_lose_nothing_and_freeze_nobody(engine, db):
    cid = campaign()
    add_leads(cid, numbers(400))
    ops = make_operators(engine.settings, cid, OPERATORS)
    ids = [o["id"] for o in ops]
    command_all(ids, "ready")
    db.close()  # from here on every query of the test takes a pooled connection and gives it back
    until(lambda: (one(db, "SELECT count(*) FROM attempt WHERE bridged_at IS NOT NULL") or 0) >= OPERATORS, 60,
          message="calls in progress")

    for n in range(RESTARTS):
        cluster.restart(engine.settings)
        restarted = datetime.now(timezone.utc)
        # working again: every operator takes a new call after this restart, nobody pressing anything
        until(lambda: working_since(db, restarted) == set(ids), 40, 0.2,
              message=f"every operator to take a call after restart {n + 1}")

    until(lambda: set((statuses(db) or {}).values()) <= {"ready", "in_call"}, 20, 0.1,
          message="every operator ready or talking")
    with db.connection_context():
        command_all(ids, "pause")
    until(lambda: one(db, "SELECT count(*) FROM attempt WHERE ended_at IS NULL") == 0, 60, 0.2,
          message="every attempt to end after the pause")
    until(lambda: one(db, "SELECT count(*) FROM attempt WHERE outcome = 'ANSWERED' AND wrap_up_at IS NULL") == 0,
          20, 0.2, message="every answered attempt's wrap-up")
    until(lambda: set((statuses(db) or {}).values()) == {"paused"}, 20, 0.2, message="every operator paused")

    total, answered = read(db, "SELECT count(*), count(*) FILTER (WHERE outcome = 'ANSWERED') FROM attempt")[0]
    assert answered >= OPERATORS * (RESTARTS + 1), (total, answered)
    assert one(db, "SELECT count(*) FROM attempt WHERE ended_at IS NULL OR outcome IS NULL") == 0
    assert one(db, "SELECT count(*) FROM attempt WHERE outcome = 'ANSWERED' AND wrap_up_at IS NULL") == 0
    assert one(db, "SELECT count(*) FROM lead l WHERE state = 'in_progress' AND NOT EXISTS "
                   "(SELECT 1 FROM attempt a WHERE a.lead_id = l.id AND a.ended_at IS NULL)") == 0
    assert one(db, "SELECT count(*) FROM operator WHERE attempt_id IS NOT NULL") == 0
    # and no lead was dialled twice at once, no operator held two calls at once
    assert one(db, "SELECT count(*) FROM attempt a JOIN attempt b ON a.lead_id = b.lead_id AND a.id < b.id "
                   "AND tstzrange(a.reserved_at, a.ended_at) && tstzrange(b.reserved_at, b.ended_at)") == 0
    assert one(db, "SELECT count(*) FROM attempt a JOIN attempt b ON a.operator_id = b.operator_id AND a.id < b.id "
                   "AND tstzrange(a.reserved_at, a.ended_at) && tstzrange(b.reserved_at, b.ended_at)") == 0
