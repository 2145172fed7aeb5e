"""What the engine, AGI and the jobs report about themselves for other processes: the health check
(`/api/health`, `dialer status`) and «Мониторинг» read it (dialer/services/health.py).

Each report is a snapshot, written every few seconds and at each change: a write that fails (the database is
away) is not retried, the next one carries the newer state; a reader sees a row that stopped changing as a part
that stopped reporting. Rows are stamped with the database's clock (`updated_at`), so freshness never depends on
two machines agreeing on the time.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from . import db as dbm

log = logging.getLogger(__name__)
EVERY_S = 5.0  # a report at least this often; a reader calls a row older than health.STALE_S stale


@dataclass
class Report:
    """One row of `component_health`."""
    component: str  # engine | agi
    name: str       # engine: the Asterisk server's name; agi: the address it listens on
    started_at: float
    ok: bool        # engine: ARI connected; agi: listening
    state_since: float
    reconnects_today: int = 0
    write_backlog: int = 0
    detail: dict = field(default_factory=dict)


_WRITE_SQL = """
INSERT INTO component_health (component, name, host, pid, started_at, ok, state_since, reconnects_today,
                              write_backlog, detail, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, clock_timestamp())
ON CONFLICT (component, name) DO UPDATE SET
    host = EXCLUDED.host, pid = EXCLUDED.pid, started_at = EXCLUDED.started_at, ok = EXCLUDED.ok,
    state_since = EXCLUDED.state_since, reconnects_today = EXCLUDED.reconnects_today,
    write_backlog = EXCLUDED.write_backlog, detail = EXCLUDED.detail, updated_at = clock_timestamp()"""
HOST = socket.gethostname()


def write(db, reports: list[Report]) -> None:
    with db.atomic():
        for r in reports:
            db.execute_sql(_WRITE_SQL, (r.component, r.name, HOST, os.getpid(), _at(r.started_at), r.ok,
                                        _at(r.state_since), r.reconnects_today, r.write_backlog,
                                        json.dumps(r.detail)))


def _at(t: float) -> datetime:
    return datetime.fromtimestamp(t, timezone.utc)


class Reporter:
    """Writes `reports()` every EVERY_S and soon after `changed()`; run as a task of the reporting process."""

    def __init__(self, db, reports: Callable[[], list[Report]], label: str, every_s: float = EVERY_S):
        self.db = db
        self.reports = reports
        self.label = label
        self.every_s = every_s
        self._wake = asyncio.Event()
        self._failing = False

    def changed(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            await self.report()
            try:
                await asyncio.wait_for(self._wake.wait(), self.every_s)
            except asyncio.TimeoutError:
                pass

    async def report(self) -> None:
        try:
            await dbm.run(self.db, write, self.db, self.reports())
        except Exception as e:  # the next report carries the newer state (module docstring)
            if not self._failing:
                log.warning("%s: health report not written (%s); trying again in %g s", self.label,
                            str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__, self.every_s)
            self._failing = True
            return
        if self._failing:
            log.info("%s: health reports written again", self.label)
        self._failing = False


def agi_reporter(db, server: asyncio.AbstractServer, address: str) -> Reporter:
    """AGI's row: listening or not, since when."""
    started = time.time()
    state = {"ok": None, "since": started}

    def reports() -> list[Report]:
        ok = server.is_serving()
        if ok != state["ok"]:
            state["ok"], state["since"] = ok, time.time()
        return [Report("agi", address, started, ok, state["since"])]

    return Reporter(db, reports, "AGI")
