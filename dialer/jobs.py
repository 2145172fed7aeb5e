"""Background jobs (APScheduler 3, on the running event loop).

A job that fails runs again at its next time (APScheduler keeps the schedule); the pool hands out no
connection whose server went away (dialer/db.py), so after a PostgreSQL restart each job's next run works.
"""
from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from . import db as dbm
from . import job_history, logs
from .clock import day_start
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


def purge_status_history(days: int, now: datetime | None = None) -> int:
    """Operators' status changes older than `days` are removed — all but each operator's last one before the
    cutoff, which says what the operator was doing when the kept history begins (reports over a period that starts
    there need it: dialer/services/reports.py, status_time.py)."""
    cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=days)
    db = Attempt._meta.database
    return db.execute_sql(
        "DELETE FROM operator_status_log s WHERE s.at < %(cutoff)s AND s.id <> ("
        "  SELECT k.id FROM operator_status_log k WHERE k.operator_id = s.operator_id AND k.at < %(cutoff)s"
        "   ORDER BY k.at DESC, k.id DESC LIMIT 1)", {"cutoff": cutoff}).rowcount


class JobRuns:
    """How the jobs fare, for the log and for the health check. One wrapper (`guard`) goes around every scheduled
    job (`watch`): it records each run in `job_run` (last success, failures, next run; see `record`), and keeps the
    log quiet while the database is unreachable — one warning per job when it starts and one line when the job
    runs again (APScheduler alone prints a traceback at every run: each second for the claim queue); any other
    failure is left to APScheduler, which logs it with its traceback."""

    def __init__(self, db=None, zone: str | None = None):
        self.db = db  # None: nothing recorded
        self.zone = zone
        self.scheduler = None
        self.ok_at: dict[str, float] = {}  # each job's last successful run (monotonic)
        self.failing: dict[str, float] = {}  # jobs failing since (monotonic)
        self.consecutive: dict[str, int] = {}
        self._pending: dict[str, job_history.Runs] = {}  # runs not written yet, per job
        self._written_at: dict[str, float] = {}
        self._unwritten = False
        self._schedule_written: asyncio.Task | None = None

    def guard(self, name: str, job):
        async def run():
            started = datetime.now(timezone.utc)
            try:
                with logs.bound(job=name):  # every line the job logs names it (dialer/logs.py)
                    await job()
            except Exception as e:
                await self._ran(name, started, e)
                if not dbm.unavailable(e):
                    raise
                if name not in self.failing:
                    self.failing[name] = time.monotonic()
                    log.warning("job %s: database unavailable (%s); it runs again at its next time",
                                name, str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)
                return
            self.ok_at[name] = time.monotonic()
            since = self.failing.pop(name, None)
            if since is not None:
                log.info("job %s: runs again, the database is back after %.0f s", name, time.monotonic() - since)
            await self._ran(name, started, None)
        run.__name__ = job.__name__
        return run

    def watch(self, scheduler) -> None:
        """Every job of `scheduler` runs inside `guard`; `job_run` gets a row per job (and loses rows of jobs no
        longer scheduled, so a renamed job is not reported late for ever)."""
        self.scheduler = scheduler
        for job in scheduler.get_jobs():
            scheduler.modify_job(job.id, func=self.guard(job.id, job.func))
        if self.db is not None:  # once the scheduler has started: the jobs' next run times are known then
            self._schedule_written = asyncio.get_running_loop().create_task(self._write_schedule())

    async def _write_schedule(self) -> None:
        jobs = [(job.id, _interval_s(job), job.next_run_time) for job in self.scheduler.get_jobs()]
        await self._write(lambda db: job_history.schedule(db, jobs))

    async def _ran(self, name: str, started: datetime, error: Exception | None) -> None:
        """Counted at once; written at a failure, at the first success after one, else at most every
        RECORD_EVERY_S (a job runs each second: its row need not change as often). A failure because the
        database is away is written with the first success after it (nothing could be written meanwhile)."""
        if self.db is None:
            return
        ok = error is None
        was_failing = self.consecutive.get(name, 0) > 0
        self.consecutive[name] = 0 if ok else self.consecutive.get(name, 0) + 1
        now = datetime.now(timezone.utc)
        today = day_start(now, self.zone).date()
        p = self._pending.setdefault(name, job_history.Runs())
        p.add(started, now, ok, None if ok else _text(error), today)
        due = time.monotonic() - self._written_at.get(name, 0.0) >= RECORD_EVERY_S
        if (ok and (was_failing or due)) or (not ok and not dbm.unavailable(error)):
            self._written_at[name] = time.monotonic()
            job = self.scheduler.get_job(name) if self.scheduler else None
            runs = self._pending.pop(name)
            args = (name, runs, self.consecutive[name], job.next_run_time if job else None,
                    _interval_s(job) if job else None, today)
            if not await self._write(lambda db: job_history.record(db, *args)):
                self._pending[name] = runs.merged(self._pending.get(name))  # kept for the next write

    async def _write(self, fn) -> bool:
        try:
            await dbm.run(self.db, fn, self.db)
        except Exception as e:  # the database away: the job's own failure says so; the counts wait
            if not self._unwritten:
                log.debug("job runs not recorded (%s); kept for the next write", e)
            self._unwritten = True
            return False
        self._unwritten = False
        return True


RECORD_EVERY_S = 5.0


def _interval_s(job) -> float | None:
    interval = getattr(job.trigger, "interval", None)
    return interval.total_seconds() if interval is not None else None


def _text(e: Exception) -> str:
    first = str(e).strip().splitlines()[0] if str(e).strip() else ""
    return f"{type(e).__name__}: {first}"[:500]


def start_jobs(settings, db, runs: JobRuns | None = None) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone="UTC")
    runs = runs or JobRuns()
    if runs.db is None:
        runs.db, runs.zone = db, settings.time_zone

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

    from .services.alerts import Watch
    watch = Watch()

    async def supervisor_alerts():
        await dbm.run(db, watch.check, db, datetime.now(timezone.utc))

    scheduler.add_job(purge, "interval", hours=1, id="purge-commands", coalesce=True)
    scheduler.add_job(partitions, "interval", hours=6, id="audit-partitions",
                      coalesce=True, next_run_time=datetime.now(timezone.utc))  # also once at start
    scheduler.add_job(access_upkeep, "interval", minutes=10, id="access-upkeep", coalesce=True)

    async def status_history():
        removed = await dbm.run(db, purge_status_history, settings.status_history_days)
        if removed:
            log.info("removed %d operator status changes older than %d days", removed, settings.status_history_days)

    scheduler.add_job(status_history, "interval", hours=6, id="status-history", coalesce=True, max_instances=1)
    scheduler.add_job(claim_queue, "interval", seconds=1, id="claim-queue", coalesce=True)
    scheduler.add_job(throughput, "interval", seconds=60, id="throughput-log", coalesce=True)
    scheduler.add_job(supervisor_alerts, "interval", seconds=ALERTS_TICK_S, id="supervisor-alerts", coalesce=True,
                      max_instances=1)
    async def recording_retention():  # SPEC J2: each campaign's retention (dialer/services/recordings.py)
        from .services.recordings import purge_expired
        await dbm.run(db, purge_expired, db, settings.recordings_path)

    scheduler.add_job(recording_retention, "interval", hours=1, id="recording-retention", coalesce=True,
                      max_instances=1)

    async def shift_reports():  # issue 17: the daily shift summary PDFs, written after the shift's end and kept
        from .services.report_files import write_due
        made = await dbm.run(db, write_due, datetime.now(timezone.utc), settings.time_zone, settings.shift_report_at)
        if made:
            log.info("wrote %d shift summary PDFs", made)

    scheduler.add_job(shift_reports, "interval", minutes=10, id="shift-reports", coalesce=True, max_instances=1,
                      next_run_time=datetime.now(timezone.utc) + timedelta(minutes=1))
    from .crm.jobs import register as register_crm
    register_crm(scheduler, settings, db)
    runs.watch(scheduler)  # every job, the CRM's too: recorded in job_run, quiet while the database is away
    scheduler.start()
    return scheduler


ALERTS_TICK_S = 15  # supervisor alerts (dialer/services/alerts.py): CRM unreachable, nothing to dial
