"""Delivery of wrap-up results to the CRM: at least once by retrying, exactly once in effect by the
idempotency key (an earlier send whose answer was lost is found in the CRM, not repeated), in order
per order (a result waits while an older one of the same order is pending).

Rows are written by the `attempt_crm_outbox` trigger in the wrap-up's own transaction (sql/005_crm.sql).
"""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from .. import logs
from . import policy
from .adapter import CrmAdapter, CrmError, Push
from .sync import utcnow

log = logging.getLogger(__name__)
LEASE_S = 120
BUSY_RETRY_S = 10  # someone is editing the order in the CRM: look again soon, it is not an outage
MAX_REFUSALS = 10  # the CRM refusing the same result this often needs a person (state 'failed')

_CLAIM_SQL = """
UPDATE crm_outbox o SET lease_until = %(lease)s
 WHERE o.id IN (
   SELECT o1.id FROM crm_outbox o1 JOIN crm_connection c ON c.id = o1.connection_id
    WHERE o1.state = 'pending' AND o1.next_try_at <= %(now)s AND c.enabled
      AND (o1.lease_until IS NULL OR o1.lease_until < %(now)s)
      AND NOT EXISTS (SELECT 1 FROM crm_outbox o2 WHERE o2.connection_id = o1.connection_id
                         AND o2.external_id = o1.external_id AND o2.state = 'pending' AND o2.id < o1.id)
    ORDER BY o1.next_try_at, o1.id LIMIT %(limit)s
    FOR UPDATE OF o1 SKIP LOCKED)
RETURNING o.id, o.connection_id, o.attempt_id, o.lead_id, o.external_id, o.result_code, o.operator_comment,
          o.idempotency_key, o.status_id, o.comment, o.prepared, o.tries"""
_COLUMNS = ("id", "connection_id", "attempt_id", "lead_id", "external_id", "result_code", "operator_comment",
            "idempotency_key", "status_id", "comment", "prepared", "tries")

_PREPARE_SQL = """
SELECT m.status_id, coalesce(m.comment_template, '{result_title}: {comment}'), coalesce(r.title, a.wrap_up_result, ''),
       coalesce(op.name, ''), a.phone, a.wrap_up_at
  FROM attempt a
  LEFT JOIN crm_result_map m ON m.connection_id = %(conn)s AND m.result_code = a.wrap_up_result
  LEFT JOIN campaign_result r ON r.campaign_id = a.campaign_id AND r.code = a.wrap_up_result
  LEFT JOIN operator op ON op.id = a.operator_id
 WHERE a.id = %(attempt)s"""


def claim_due(db, now: datetime, limit: int = 100) -> list[dict]:
    with db.atomic():
        rows = db.execute_sql(_CLAIM_SQL, {"now": now, "lease": now + timedelta(seconds=LEASE_S),
                                           "limit": limit}).fetchall()
    return sorted((dict(zip(_COLUMNS, r)) for r in rows), key=lambda r: r["id"])


def prepare(db, row: dict) -> dict:
    """Render the CRM status and comment once; every re-send then carries the same values."""
    if row["prepared"]:
        return row
    status_id, template, title, operator, phone, at = db.execute_sql(
        _PREPARE_SQL, {"conn": row["connection_id"], "attempt": row["attempt_id"]}).fetchone()
    comment = policy.render(template, {
        "result": row["result_code"] or "", "result_title": title, "comment": row["operator_comment"],
        "operator": operator, "phone": phone, "at": at.strftime("%Y-%m-%d %H:%M") if at else "",
        "attempt_id": row["attempt_id"]})
    db.execute_sql("UPDATE crm_outbox SET status_id = %s, comment = %s, prepared = true WHERE id = %s",
                   (status_id, comment, row["id"]))
    return {**row, "status_id": status_id, "comment": comment, "prepared": True}


def mark_delivered(db, row: dict, now: datetime) -> None:
    with db.atomic():
        db.execute_sql("UPDATE crm_outbox SET state = 'delivered', delivered_at = %s, lease_until = NULL,"
                       " last_error = NULL WHERE id = %s AND state = 'pending'", (now, row["id"]))
        if row["status_id"] is not None:  # our own change: the next pull must not act on it again
            db.execute_sql("UPDATE lead SET crm_status = %s, crm_status_applied = %s WHERE id = %s",
                           (row["status_id"], row["status_id"], row["lead_id"]))


def mark_retry(db, row: dict, now: datetime, delay_s: float, error: str, count: bool = True,
               refused: bool = False) -> None:
    tries = row["tries"] + (1 if count else 0)
    failed = refused and tries >= MAX_REFUSALS
    db.execute_sql("UPDATE crm_outbox SET tries = %s, next_try_at = %s, last_error = %s, lease_until = NULL,"
                   " state = %s WHERE id = %s",
                   (tries, now + timedelta(seconds=delay_s), error[:500], "failed" if failed else "pending",
                    row["id"]))


def release(db, rows: list[dict]) -> None:
    if rows:
        db.execute_sql("UPDATE crm_outbox SET lease_until = NULL WHERE id = ANY(%s)", ([r["id"] for r in rows],))


def retry_now(db, outbox_id: int) -> bool:
    """A supervisor sends a failed (or waiting) result again at once."""
    cur = db.execute_sql("UPDATE crm_outbox SET state = 'pending', next_try_at = now(), tries = 0,"
                         " lease_until = NULL WHERE id = %s AND state <> 'delivered' RETURNING id", (outbox_id,))
    return cur.fetchone() is not None


def delivery_state(db, attempt_id: int) -> dict:
    """What the call card shows: none / pending (with tries and the last error) / delivered / failed."""
    row = db.execute_sql("SELECT id, state, tries, last_error, next_try_at, created_at, delivered_at, status_id,"
                         " comment FROM crm_outbox WHERE attempt_id = %s", (attempt_id,)).fetchone()
    if row is None:
        return {"attempt_id": attempt_id, "state": "none"}
    keys = ("outbox_id", "state", "tries", "last_error", "next_try_at", "created_at", "delivered_at",
            "crm_status", "comment")
    out = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in zip(keys, row)}
    return {"attempt_id": attempt_id, **out}


async def deliver_due(db, adapter_for, now: datetime | None = None, limit: int = 100) -> dict:
    """One round: claim due rows, deliver each connection's rows in id order; counts by result."""
    from ..db import run
    from . import store

    now = now or utcnow()
    rows = await run(db, claim_due, db, now, limit)
    by_conn: dict[int, list[dict]] = {}
    for row in rows:
        by_conn.setdefault(row["connection_id"], []).append(row)
    results = await asyncio.gather(*(_deliver_connection(db, adapter_for, cid, rs, now, run, store)
                                     for cid, rs in by_conn.items()))
    totals = {"delivered": 0, "retry": 0}
    for r in results:
        for k in totals:
            totals[k] += r[k]
    return totals


async def _deliver_connection(db, adapter_for, connection_id, rows, now, run, store) -> dict:
    conn = await run(db, store.connection, db, connection_id)
    adapter = adapter_for(conn)
    counts = {"delivered": 0, "retry": 0}
    try:
        for i, row in enumerate(rows):
            row = await run(db, prepare, db, row)
            with logs.bound(attempt=row["attempt_id"], lead=row["lead_id"]):  # its lines name the call (dialer/logs.py)
                outcome = await deliver_one(db, adapter, row, now, run)
            counts["delivered" if outcome == "delivered" else "retry"] += 1
            if outcome == "outage":  # do not hammer a CRM that is down: the rest wait for the next round
                await run(db, release, db, rows[i + 1:])
                await run(db, store.mark_reachability, db, connection_id, "result delivery failed", now)
                return counts
        await run(db, store.mark_reachability, db, connection_id, None, now)
        return counts
    finally:  # one event per round and connection, not per result: open delivery pages refresh once
        if counts["delivered"] or counts["retry"]:
            await run(db, store.live_event, db, "crm.delivery", {"connection_id": connection_id, **counts})


async def deliver_one(db, adapter: CrmAdapter, row: dict, now: datetime, run) -> str:
    push = Push(row["external_id"], row["status_id"], row["comment"] or "", row["idempotency_key"])
    try:
        if row["tries"] > 0 and await adapter.holds(push):
            log.info("result of attempt %d was already in the CRM (an earlier answer was lost)", row["attempt_id"])
        elif await adapter.busy(push.external_id):
            await run(db, mark_retry, db, row, now, BUSY_RETRY_S, "the order is being edited in the CRM", False)
            return "busy"
        else:
            await adapter.push(push)
    except CrmError as e:
        delay = policy.retry_delay(row["tries"] + 1)
        await run(db, mark_retry, db, row, now, delay, str(e), True, not e.transient)
        log.warning("result of attempt %d not delivered (try %d, next in %.0f s): %s",
                    row["attempt_id"], row["tries"] + 1, delay, e)
        return "outage" if e.transient else "refused"
    await run(db, mark_delivered, db, row, now)
    log.info("result of attempt %d delivered to the CRM (order %s)", row["attempt_id"], row["external_id"])
    return "delivered"
