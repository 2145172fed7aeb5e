"""The pull: read the ids in statuses mapped to "call"/"postpone" plus the orders the dialer still works
on, fetch them in batches of ≤ 100, upsert by (connection, external id), log the run."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone

from ..db import run
from . import orders as orders_mod
from . import store
from .adapter import CrmAdapter, CrmError

log = logging.getLogger(__name__)
FETCH_CONCURRENCY = 4
WRITE_EVERY = 1000  # orders per database transaction


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


async def pull(db, connection_id: int, adapter: CrmAdapter, now: datetime | None = None) -> dict:
    """One pull run; returns its import-log entry. CRM failures end the run (logged, retried next time)."""
    now = now or utcnow()
    started = utcnow()
    conn = await run(db, store.connection, db, connection_id)
    totals = {"imported": 0, "updated": 0, "unchanged": 0, "rejects": []}
    seen, error, outage = 0, None, None
    try:
        await run(db, store.save_statuses, db, connection_id, await adapter.statuses())
        actions = await run(db, store.status_actions, db, connection_id)
        ids = await _ids_to_read(db, adapter, connection_id, actions)
        seen = len(ids)
        await _fetch_and_write(db, adapter, conn, actions, ids, now, totals)
    except CrmError as e:
        error = str(e)
        outage = error if e.transient else None  # the CRM's own {"error": ...} means it is up, just unwilling
        log.warning("CRM connection %d: pull failed: %s", connection_id, error)
    except orders_mod.Rejected as e:
        error = f"the CRM answered in an unexpected shape: {e}"
    await run(db, store.mark_reachability, db, connection_id, outage, now, True)
    log_id = await run(db, store.log_import, db, connection_id, "pull", started, utcnow(), seen, totals, error)
    if not error:
        log.info("CRM connection %d: pulled %d orders — %d new, %d updated, %d unchanged, %d rejected",
                 connection_id, seen, totals["imported"], totals["updated"], totals["unchanged"],
                 len(totals["rejects"]))
    return {"id": log_id, "seen": seen, "imported": totals["imported"], "updated": totals["updated"],
            "unchanged": totals["unchanged"], "rejected": len(totals["rejects"]), "rejects": totals["rejects"],
            "error": error}


async def _ids_to_read(db, adapter: CrmAdapter, connection_id: int, actions: dict) -> list[str]:
    raw: list = []
    for status_id, (action, _) in sorted(actions.items()):
        if action in ("call", "postpone"):
            raw += await adapter.ids_in_status(status_id)
    ids = orders_mod.unique_ids(raw)
    listed = set(ids)
    ids += [e for e in await run(db, store.active_external_ids, db, connection_id) if e not in listed]
    return ids


async def _fetch_and_write(db, adapter: CrmAdapter, conn: dict, actions: dict, ids: list[str], now: datetime,
                           totals: dict) -> None:
    size = adapter.batch_limit
    batches = [ids[i:i + size] for i in range(0, len(ids), size)]
    pending: list = []
    for start in range(0, len(batches), FETCH_CONCURRENCY):
        answers = await asyncio.gather(*(adapter.orders(b) for b in batches[start:start + FETCH_CONCURRENCY]))
        for answer in answers:
            parsed, rejects = orders_mod.parse_batch(answer, conn["default_country"])
            pending += parsed
            totals["rejects"] += rejects
        if len(pending) >= WRITE_EVERY:
            await _write(db, conn, pending, actions, now, totals)
            pending = []
    await _write(db, conn, pending, actions, now, totals)


async def _write(db, conn, orders, actions, now, totals) -> None:
    counts = await run(db, store.upsert_orders, db, conn, orders, actions, now)
    for key in ("imported", "updated", "unchanged"):
        totals[key] += counts[key]
    totals["rejects"] += counts["rejects"]
