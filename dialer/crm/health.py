"""CRM health: a live probe for the settings page and the supervisor alert raised when a connection has
been unreachable longer than its limit (cleared when it answers again)."""
from __future__ import annotations

import logging
from datetime import datetime

from ..db import run
from . import policy, store
from .adapter import CrmError

log = logging.getLogger(__name__)


def check_alerts(db, now: datetime) -> list[tuple[int, str]]:
    """Raise or clear alert rows for every enabled connection; returns [(connection id, 'raise'|'clear')]."""
    done = []
    for conn in store.enabled_connections(db):
        open_row = db.execute_sql("SELECT id FROM crm_alert WHERE connection_id = %s AND cleared_at IS NULL",
                                  (conn["id"],)).fetchone()
        step = policy.alert_step(conn["unreachable_since"], conn["alert_after_s"], now, open_row is not None)
        if step == "raise":
            minutes = int((now - conn["unreachable_since"]).total_seconds() // 60)
            db.execute_sql(
                "INSERT INTO crm_alert (connection_id, raised_at, message, message_ru) VALUES (%s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (conn["id"], now, f"CRM «{conn['name']}» unreachable for {minutes} min: {conn['last_error'] or ''}",
                 f"CRM «{conn['name']}» недоступна {minutes} мин: {conn['last_error'] or ''}"))
            log.warning("CRM connection %d unreachable since %s: alert raised", conn["id"], conn["unreachable_since"])
        elif step == "clear":
            db.execute_sql("UPDATE crm_alert SET cleared_at = %s WHERE id = %s", (now, open_row[0]))
            log.info("CRM connection %d reachable again: alert cleared", conn["id"])
        if step:
            done.append((conn["id"], step))
    return done


def open_alerts(db) -> list[dict]:
    rows = db.execute_sql("SELECT a.id, a.connection_id, a.raised_at, a.message, a.message_ru FROM crm_alert a"
                          " WHERE a.cleared_at IS NULL ORDER BY a.id").fetchall()
    return [{"id": i, "connection_id": c, "raised_at": r.isoformat(), "message": m, "message_ru": mr}
            for i, c, r, m, mr in rows]


async def probe(db, adapter_for, connection_id: int, now: datetime) -> dict:
    """Ask the CRM now; the answer (or its failure) also updates the connection's reachability."""
    conn = await run(db, store.connection, db, connection_id)
    try:
        await adapter_for(conn).health()
    except CrmError as e:
        await run(db, store.mark_reachability, db, connection_id, str(e) if e.transient else None, now)
        return {"ok": False, "error": str(e), "transient": e.transient}
    await run(db, store.mark_reachability, db, connection_id, None, now)
    return {"ok": True, "error": None}
