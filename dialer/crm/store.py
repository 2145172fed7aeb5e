"""Database side of the CRM sync (synchronous; coroutines call these through `dialer.db.run`).

The upsert is by (connection, external id) and idempotent: an order read twice, or twice in one
answer, leaves the lead as the first read left it.
"""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from psycopg2.extras import Json, execute_values

from rules import zones

from ..errors import NotFound
from . import policy
from .adapter import CrmStatus
from .orders import Order

MAX_LOGGED_REJECTS = 1000
_LEAD_COLUMNS = ("phone", "name", "country", "region", "city", "amount", "product")


def connection(db, connection_id: int) -> dict:
    cur = db.execute_sql("SELECT * FROM crm_connection WHERE id = %s", (connection_id,))
    row = cur.fetchone()
    if row is None:
        raise NotFound("crm-connection-not-found", f"CRM connection {connection_id} does not exist",
                       connection_id=connection_id,
                       message_ru=f"подключение CRM {connection_id} не найдено")
    return dict(zip([c[0] for c in cur.description], row))


def enabled_connections(db) -> list[dict]:
    cur = db.execute_sql("SELECT * FROM crm_connection WHERE enabled ORDER BY id")
    names = [c[0] for c in cur.description]
    return [dict(zip(names, row)) for row in cur.fetchall()]


def save_statuses(db, connection_id: int, statuses: list[CrmStatus]) -> None:
    """New CRM statuses appear unmapped; known ones keep their action and get the CRM's current name."""
    if not statuses:
        return
    with db.atomic():
        execute_values(db.cursor(),
                       "INSERT INTO crm_status_map (connection_id, status_id, name, status_group) VALUES %s "
                       "ON CONFLICT (connection_id, status_id) DO UPDATE SET name = EXCLUDED.name, "
                       "status_group = EXCLUDED.status_group", [(connection_id, s.status_id, s.name[:200], s.group[:50])
                                                               for s in statuses])


def status_actions(db, connection_id: int) -> dict[str, tuple[str | None, int]]:
    rows = db.execute_sql("SELECT status_id, action, postpone_minutes FROM crm_status_map WHERE connection_id = %s",
                          (connection_id,)).fetchall()
    return {status: (action, minutes) for status, action, minutes in rows}


def active_external_ids(db, connection_id: int) -> list[str]:
    """Orders the dialer still works on: the pull re-reads them to see a status changed in the CRM."""
    return [r[0] for r in db.execute_sql(
        "SELECT external_id FROM lead WHERE crm_connection_id = %s AND state = ANY(%s) ORDER BY id",
        (connection_id, list(policy.ACTIVE_STATES))).fetchall()]


def upsert_orders(db, conn: dict, orders: list[Order], actions: dict, now: datetime) -> dict:
    """Insert new orders and update changed ones in one transaction; returns counts and rejects."""
    counts = {"imported": 0, "updated": 0, "unchanged": 0, "rejects": []}
    if not orders:
        return counts
    with db.atomic():
        cursor = db.cursor()
        cursor.execute(
            "SELECT id, external_id, state, crm_status, crm_status_applied, phone, name, country, region, city, "
            "amount, product, attrs FROM lead WHERE crm_connection_id = %s AND external_id = ANY(%s) FOR UPDATE",
            (conn["id"], [o.external_id for o in orders]))
        names = [c[0] for c in cursor.description]
        existing = {row[1]: dict(zip(names, row)) for row in cursor.fetchall()}
        inserts, updates = [], []
        for order in orders:
            action, minutes = actions.get(order.crm_status, (None, 60))
            lead = existing.get(order.external_id)
            if lead is None:
                first = policy.on_new_order(action, now, order.recall_at, minutes)
                if first is None:
                    counts["rejects"].append({"external_id": order.external_id,
                                              "reason": f"CRM status {order.crm_status!r} is not mapped to an action"})
                    continue
                inserts.append(_insert_values(conn, order, first))
                continue
            change = _changed(lead, order, action, minutes, now)
            if change is None:
                counts["unchanged"] += 1
            else:
                updates.append(change)
        if inserts:
            done = {r[0] for r in execute_values(
                cursor, "INSERT INTO lead (crm_connection_id, campaign_id, external_id, phone, name, country, region,"
                        " city, amount, product, attrs, crm_status, crm_status_applied, state, next_call_at, time_zone,"
                        " time_zone_source) VALUES %s"
                        " ON CONFLICT DO NOTHING RETURNING external_id", inserts, fetch=True)}
            counts["imported"] = len(done)
            missed = [v[2] for v in inserts if v[2] not in done]
            if missed:  # a concurrent pull got there first (ours), or another source holds the id (theirs)
                cursor.execute("SELECT external_id FROM lead WHERE crm_connection_id = %s AND external_id = ANY(%s)",
                               (conn["id"], missed))
                ours = {r[0] for r in cursor.fetchall()}
                counts["unchanged"] += len(ours)
                counts["rejects"] += [{"external_id": e, "reason": "the campaign already has a lead with this id "
                                       "from another source"} for e in missed if e not in ours]
        if updates:
            execute_values(cursor, _UPDATE_SQL, updates, template=_UPDATE_TEMPLATE)
            counts["updated"] = len(updates)
    return counts


def _insert_values(conn: dict, o: Order, first: policy.LeadUpdate) -> tuple:
    return (conn["id"], conn["campaign_id"], o.external_id, o.phone, o.name, o.country, o.region, o.city,
            o.amount, o.product, Json(o.attrs), o.crm_status, o.crm_status, first.state, first.next_call_at,
            *zones.resolve(o.region, o.city, o.phone))


_UPDATE_SQL = """
UPDATE lead SET phone = v.phone, name = v.name, country = v.country, region = v.region, city = v.city,
       amount = v.amount, product = v.product, attrs = v.attrs, crm_status = v.crm_status,
       crm_status_applied = v.applied, state = coalesce(v.state, lead.state),
       next_call_at = coalesce(v.next_call_at, lead.next_call_at), time_zone = v.time_zone,
       time_zone_source = v.time_zone_source
  FROM (VALUES %s) AS v(id, phone, name, country, region, city, amount, product, attrs, crm_status, applied,
                        state, next_call_at, time_zone, time_zone_source)
 WHERE lead.id = v.id"""
_UPDATE_TEMPLATE = ("(%s, %s, %s, %s, %s, %s, %s::numeric, %s, %s::jsonb, %s, %s, %s::text, %s::timestamptz, %s, %s)")


def _changed(lead: dict, o: Order, action, minutes: int, now: datetime) -> tuple | None:
    status_changed = o.crm_status != (lead["crm_status_applied"] or "")
    step = policy.on_status(action, lead["state"], status_changed, now, o.recall_at, minutes)
    applied = o.crm_status if step is not None else lead["crm_status_applied"]
    attrs = {**(lead["attrs"] or {}), **o.attrs}
    amount = None if lead["amount"] is None else Decimal(lead["amount"])
    same = (all(lead[c] == getattr(o, c) for c in _LEAD_COLUMNS if c != "amount") and amount == o.amount
            and attrs == lead["attrs"] and lead["crm_status"] == o.crm_status
            and applied == lead["crm_status_applied"] and step is None)
    if same:
        return None
    return (lead["id"], o.phone, o.name, o.country, o.region, o.city, o.amount, o.product, Json(attrs),
            o.crm_status, applied, step.state if step else None, step.next_call_at if step else None,
            *zones.resolve(o.region, o.city, o.phone))  # the client's zone follows a changed address or number


def live_event(db, kind: str, data: dict) -> None:
    """Tell open CRM pages (holders of crm.read) that something changed; they refresh what they show."""
    db.execute_sql("INSERT INTO live_event (kind, permission, data) VALUES (%s, 'crm.read', %s)", (kind, Json(data)))


def log_import(db, connection_id: int, source: str, started: datetime, finished: datetime, seen: int,
               counts: dict, error: str | None = None) -> int:
    rejects = counts.get("rejects", [])
    with db.atomic():
        log_id = _log_import(db, connection_id, source, started, finished, seen, counts, rejects, error)
        live_event(db, "crm.import", {"connection_id": connection_id, "import_id": log_id})
    return log_id


def _log_import(db, connection_id, source, started, finished, seen, counts, rejects, error) -> int:
    return db.execute_sql(
        "INSERT INTO crm_import_log (connection_id, source, started_at, finished_at, seen, imported, updated,"
        " unchanged, rejected, rejects, error) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (connection_id, source, started, finished, seen, counts.get("imported", 0), counts.get("updated", 0),
         counts.get("unchanged", 0), len(rejects), Json(rejects[:MAX_LOGGED_REJECTS]), error)).fetchone()[0]


def mark_reachability(db, connection_id: int, error: str | None, now: datetime, pulled: bool = False) -> None:
    """A transient failure starts (or continues) an outage; any answer ends it."""
    if error is None:
        db.execute_sql("UPDATE crm_connection SET last_ok_at = %s, unreachable_since = NULL, last_error = NULL,"
                       " last_pull_at = CASE WHEN %s THEN %s ELSE last_pull_at END WHERE id = %s",
                       (now, pulled, now, connection_id))
    else:
        db.execute_sql("UPDATE crm_connection SET unreachable_since = coalesce(unreachable_since, %s),"
                       " last_error = %s, last_pull_at = CASE WHEN %s THEN %s ELSE last_pull_at END WHERE id = %s",
                       (now, error[:500], pulled, now, connection_id))


def import_log(db, connection_id: int, limit: int = 50) -> list[dict]:
    cur = db.execute_sql("SELECT * FROM crm_import_log WHERE connection_id = %s ORDER BY id DESC LIMIT %s",
                         (connection_id, limit))
    names = [c[0] for c in cur.description]
    return [_plain(dict(zip(names, row))) for row in cur.fetchall()]


def _plain(row: dict) -> dict:
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}
