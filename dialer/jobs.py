"""Background jobs (APScheduler 3, on the running event loop)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from . import db as dbm
from .models import Attempt, EngineCommand

log = logging.getLogger(__name__)


def purge_commands(days: int = 7) -> int:
    """Handled engine commands are kept a week for troubleshooting, then removed."""
    cutoff = datetime.now(timezone.utc) - timedelta(days=days)
    return EngineCommand.delete().where(EngineCommand.done_at < cutoff).execute()


def calls_last_minute() -> dict:
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    rows = (Attempt.select(Attempt.outcome).where(Attempt.ended_at >= since).tuples())
    counts: dict[str, int] = {}
    for (outcome,) in rows:
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


AUDIT_MONTHS_AHEAD = 3
LIVE_EVENTS_KEPT = timedelta(hours=1)


def audit_partitions(months_ahead: int = AUDIT_MONTHS_AHEAD) -> int:
    """The audit log's monthly partitions are made months ahead (a row needs its month's partition)."""
    from .services.audit_log import ensure_partitions
    return ensure_partitions(months_ahead)


def purge_access() -> tuple[int, int]:
    """Expired sessions, and live events older than any reconnect needs to catch up."""
    from .services.users import purge_sessions
    db = Attempt._meta.database
    cutoff = datetime.now(timezone.utc) - LIVE_EVENTS_KEPT
    events = db.execute_sql("DELETE FROM live_event WHERE at < %s", (cutoff,)).rowcount
    return purge_sessions(), events


def start_jobs(settings, db) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")

    async def purge():
        removed = await dbm.run(db, purge_commands)
        if removed:
            log.info("purged %d handled engine commands", removed)

    async def throughput():
        counts = await dbm.run(db, calls_last_minute)
        if counts:
            log.info("last minute: %d calls — %s", sum(counts.values()),
                     ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))

    async def partitions():
        made = await dbm.run(db, audit_partitions)
        if made:
            log.info("created %d audit log partitions", made)

    async def access_upkeep():
        await dbm.run(db, purge_access)

    async def claim_queue():
        from rules import queue
        done = await dbm.run(db, queue.refill, db)
        if done.filled:
            log.debug("claim queues: %d filled with %d leads in %.0f ms", done.filled, done.leads, done.ms)

    scheduler.add_job(purge, "interval", hours=1, id="purge-commands", coalesce=True)
    scheduler.add_job(partitions, "interval", hours=6, id="audit-partitions", coalesce=True,
                      next_run_time=datetime.now(timezone.utc))  # also once at start
    scheduler.add_job(access_upkeep, "interval", minutes=10, id="access-upkeep", coalesce=True)
    scheduler.add_job(claim_queue, "interval", seconds=1, id="claim-queue", coalesce=True)
    scheduler.add_job(throughput, "interval", seconds=60, id="throughput-log", coalesce=True)
    from .crm.jobs import register as register_crm
    register_crm(scheduler, settings, db)
    scheduler.start()
    return scheduler
