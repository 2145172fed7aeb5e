"""The CRM's background jobs: pulls when due (each connection's interval is edited in the UI, so one
tick checks them rather than one schedule per connection), result delivery, the unreachable alert.

Delivery runs on a short poll and, sooner, when the outbox trigger's NOTIFY arrives: a listener
thread holds its own connection (LISTEN needs one that is not pooled) and wakes the job."""
from __future__ import annotations

import logging
import select
import threading
from datetime import datetime, timedelta, timezone

import psycopg2
from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN

from ..db import run
from . import health, outbox, store, sync
from .adapters import Adapters

log = logging.getLogger(__name__)
PULL_TICK_S = 5
ALERT_TICK_S = 15
CHANNEL = "crm_outbox"


def due_for_pull(conn: dict, now) -> bool:
    if conn["kind"] != "leadvertex":
        return False  # generic connections receive orders by push or file
    last = conn["last_pull_at"]
    return last is None or now - last >= timedelta(seconds=conn["pull_interval_s"])


def register(scheduler, settings, db, adapters: Adapters | None = None) -> Adapters:
    adapters = adapters or Adapters()
    # APScheduler logs every run at INFO; a job running each second would drown the log
    logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)

    async def pull_due():
        now = sync.utcnow()
        for conn in await run(db, store.enabled_connections, db):
            if due_for_pull(conn, now):
                await sync.pull(db, conn["id"], adapters(conn), now)

    busy = {"running": False, "again": False}

    async def deliver():
        busy["running"] = True
        try:
            while True:  # a NOTIFY during a round asks for one more round
                busy["again"] = False
                await outbox.deliver_due(db, adapters)
                if not busy["again"]:
                    return
        finally:
            busy["running"] = False

    def wake():  # on the loop's thread: no race with deliver()
        if busy["running"]:
            busy["again"] = True
        elif scheduler.running:
            job.modify(next_run_time=datetime.now(timezone.utc))

    async def alerts():
        await run(db, health.check_alerts, db, sync.utcnow())

    scheduler.add_job(pull_due, "interval", seconds=PULL_TICK_S, id="crm-pull", coalesce=True, max_instances=1)
    job = scheduler.add_job(deliver, "interval", seconds=settings.crm_outbox_poll_s, id="crm-outbox",
                            coalesce=True, max_instances=1)
    scheduler.add_job(alerts, "interval", seconds=ALERT_TICK_S, id="crm-alerts", coalesce=True, max_instances=1)
    listener = OutboxListener(settings, wake)
    listener.start()
    scheduler.add_listener(lambda _event: listener.stopping.set(), EVENT_SCHEDULER_SHUTDOWN)
    return adapters


class OutboxListener(threading.Thread):
    """Calls `wake` (on the scheduler's loop) for each NOTIFY of a new outbox row; reconnects on loss."""

    def __init__(self, settings, wake):
        super().__init__(name="crm-outbox-listen", daemon=True)
        self.settings, self.wake, self.stopping = settings, wake, threading.Event()
        import asyncio
        self.loop = asyncio.get_running_loop()

    def run(self):
        while not self.stopping.is_set():
            try:
                self._listen()
            except psycopg2.Error as e:
                log.warning("outbox listener lost its connection (%s); delivery falls back to polling", e)
                self.stopping.wait(5)

    def _listen(self):
        conn = psycopg2.connect(**self.settings.dsn, application_name="dialer-crm-listen")
        try:
            conn.autocommit = True
            conn.cursor().execute(f"LISTEN {CHANNEL}")
            while not self.stopping.is_set():
                if select.select([conn], [], [], 1.0)[0]:
                    conn.poll()
                    if conn.notifies:
                        conn.notifies.clear()
                        self.loop.call_soon_threadsafe(self.wake)
        finally:
            conn.close()
