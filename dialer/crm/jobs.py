"""The CRM's background jobs: pulls when due (each connection's interval is edited in the UI, so one
tick checks them rather than one schedule per connection), result delivery, the unreachable alert.

Delivery runs on a short poll and, sooner, when the outbox trigger's NOTIFY arrives (dialer.listen, on
the scheduler's loop)."""
from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta, timezone

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN

from ..db import run
from ..listen import listen
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
    loop = asyncio.get_running_loop()
    listener = loop.create_task(_listen_outbox(settings, wake), name="crm-outbox-listen")
    scheduler.add_listener(lambda _event: loop.call_soon_threadsafe(listener.cancel), EVENT_SCHEDULER_SHUTDOWN)
    return adapters


async def _listen_outbox(settings, wake) -> None:
    """Wakes the delivery job for each NOTIFY of a new outbox row, and after a reconnect (rows written
    meanwhile were announced to nobody); the job's own poll covers the rest."""
    async with contextlib.aclosing(listen(settings.dsn, [CHANNEL], name="dialer-crm-listen")) as wakes:
        async for w in wakes:
            if w.notifies or w.connected:
                wake()
