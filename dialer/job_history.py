"""`job_run`: each background job's runs, as the health check and «Мониторинг» read them (dialer/jobs.py writes
them from its one wrapper around every job). Counts are added, never overwritten, so a restart of the jobs
process keeps the day's failures."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime


@dataclass
class Runs:
    """Runs of one job not written yet."""
    runs: int = 0
    failures: int = 0
    failures_by_day: dict = field(default_factory=dict)  # day (the installation's) → failures
    last_started_at: datetime | None = None
    last_success_at: datetime | None = None
    last_failure_at: datetime | None = None
    last_error: str | None = None

    def add(self, started: datetime, ended: datetime, ok: bool, error: str | None, day: date) -> None:
        self.runs += 1
        self.last_started_at = started
        if ok:
            self.last_success_at = ended
        else:
            self.failures += 1
            self.failures_by_day[day] = self.failures_by_day.get(day, 0) + 1
            self.last_failure_at, self.last_error = ended, error

    def merged(self, later: Runs | None) -> Runs:
        """These runs followed by `later` ones (None: no later ones)."""
        if later is None:
            return self
        days = dict(self.failures_by_day)
        for day, n in later.failures_by_day.items():
            days[day] = days.get(day, 0) + n
        pick = lambda a, b: b if b is not None else a  # noqa: E731  (the later run's, when it has one)
        return Runs(self.runs + later.runs, self.failures + later.failures, days,
                    pick(self.last_started_at, later.last_started_at), pick(self.last_success_at, later.last_success_at),
                    pick(self.last_failure_at, later.last_failure_at), pick(self.last_error, later.last_error))


_RECORD_SQL = """
INSERT INTO job_run AS j (job, interval_s, next_run_at, last_started_at, last_success_at, last_failure_at, last_error,
                          runs, failures, consecutive_failures, failures_today, failures_day, updated_at)
VALUES (%(job)s, %(interval_s)s, %(next_run_at)s, %(started)s, %(success)s, %(failure)s, %(error)s, %(runs)s,
        %(failures)s, %(consecutive)s, %(today)s, %(day)s, clock_timestamp())
ON CONFLICT (job) DO UPDATE SET
    interval_s = coalesce(EXCLUDED.interval_s, j.interval_s),
    next_run_at = EXCLUDED.next_run_at,
    last_started_at = greatest(j.last_started_at, EXCLUDED.last_started_at),
    last_success_at = greatest(j.last_success_at, EXCLUDED.last_success_at),
    last_failure_at = greatest(j.last_failure_at, EXCLUDED.last_failure_at),
    last_error = coalesce(EXCLUDED.last_error, j.last_error),
    runs = j.runs + EXCLUDED.runs,
    failures = j.failures + EXCLUDED.failures,
    consecutive_failures = EXCLUDED.consecutive_failures,
    failures_today = CASE WHEN j.failures_day = EXCLUDED.failures_day THEN j.failures_today ELSE 0 END
                     + EXCLUDED.failures_today,
    failures_day = EXCLUDED.failures_day,
    updated_at = clock_timestamp()"""


def record(db, job: str, runs: Runs, consecutive: int, next_run_at: datetime | None, interval_s: float | None,
           today: date) -> None:
    """Add `runs` to the job's row; `today`: the installation's date now (yesterday's failures are not today's)."""
    day = today
    db.execute_sql(_RECORD_SQL, {
        "job": job, "interval_s": interval_s, "next_run_at": next_run_at, "started": runs.last_started_at,
        "success": runs.last_success_at, "failure": runs.last_failure_at, "error": runs.last_error,
        "runs": runs.runs, "failures": runs.failures, "consecutive": consecutive,
        "today": runs.failures_by_day.get(day, 0), "day": day})


def schedule(db, jobs: list[tuple[str, float | None, datetime | None]]) -> None:
    """At the jobs' start: a row for each scheduled job (its interval and next run), none for any other."""
    with db.atomic():
        for job, interval_s, next_run_at in jobs:
            db.execute_sql("INSERT INTO job_run (job, interval_s, next_run_at) VALUES (%s, %s, %s)"
                           " ON CONFLICT (job) DO UPDATE SET interval_s = EXCLUDED.interval_s,"
                           " next_run_at = EXCLUDED.next_run_at, updated_at = clock_timestamp()",
                           (job, interval_s, next_run_at))
        db.execute_sql("DELETE FROM job_run WHERE job <> ALL(%s)", ([j for j, _, _ in jobs],))
