"""The CRM's background jobs: pulls when due (each connection's interval is edited in the UI, so one
tick checks them rather than one schedule per connection), result delivery, the unreachable alert."""
from __future__ import annotations

import logging
from datetime import timedelta

from ..db import run
from . import health, outbox, store, sync
from .adapters import Adapters

log = logging.getLogger(__name__)
PULL_TICK_S = 5
ALERT_TICK_S = 15


def due_for_pull(conn: dict, now) -> bool:
    if conn["kind"] != "leadvertex":
        return False  # generic connections receive orders by push or file
    last = conn["last_pull_at"]
    return last is None or now - last >= timedelta(seconds=conn["pull_interval_s"])


def register(scheduler, settings, db) -> Adapters:
    adapters = Adapters()

    async def pull_due():
        now = sync.utcnow()
        for conn in await run(db, store.enabled_connections, db):
            if due_for_pull(conn, now):
                await sync.pull(db, conn["id"], adapters(conn), now)

    async def deliver():
        await outbox.deliver_due(db, adapters)

    async def alerts():
        await run(db, health.check_alerts, db, sync.utcnow())

    scheduler.add_job(pull_due, "interval", seconds=PULL_TICK_S, id="crm-pull", coalesce=True, max_instances=1)
    scheduler.add_job(deliver, "interval", seconds=settings.crm_outbox_poll_s, id="crm-outbox", coalesce=True,
                      max_instances=1)
    scheduler.add_job(alerts, "interval", seconds=ALERT_TICK_S, id="crm-alerts", coalesce=True, max_instances=1)
    return adapters
