"""«Мониторинг» (`monitoring.read`): the installation's own health in one read — the health check's parts
(dialer/services/health.py) with their details, plus PostgreSQL (connections, replication), the CRM outbox and
the lag of live events in the web process that serves the page."""
from __future__ import annotations

from datetime import datetime

from ..access import Principal, allowed
from ..errors import Forbidden
from . import health

MONITORING = "monitoring.read"

_PG_SQL = """
SELECT current_setting('max_connections')::int, version(), pg_is_in_recovery(),
       pg_database_size(current_database())"""
_CONNECTIONS_SQL = """
SELECT coalesce(nullif(application_name, ''), backend_type), coalesce(state, ''), count(*)
  FROM pg_stat_activity WHERE datname = current_database() GROUP BY 1, 2 ORDER BY 1, 2"""
_ALL_CONNECTIONS_SQL = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'"
_REPLICAS_SQL = """
SELECT coalesce(application_name, ''), coalesce(client_addr::text, ''), coalesce(state, ''),
       extract(epoch FROM replay_lag)::float8
  FROM pg_stat_replication ORDER BY 1"""
_STANDBY_LAG_SQL = "SELECT extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8"
_OUTBOX_SQL = """
SELECT connection_id, count(*), extract(epoch FROM clock_timestamp() - min(created_at))::float8
  FROM crm_outbox WHERE state = 'pending' GROUP BY connection_id"""
# events this web process has not had yet (cf. web/live.py `missed`): the oldest one's age is the lag
_LIVE_SQL = """
SELECT count(*), coalesce(extract(epoch FROM clock_timestamp() - min(at))::float8, 0)
  FROM live_event WHERE id > %s OR id = ANY(%s::bigint[])"""
_LIVE_RATE_SQL = "SELECT count(*) FROM live_event WHERE at > clock_timestamp() - interval '1 minute'"


def overview(who: Principal, db, servers: list[str], today, live_cursor=None) -> dict:
    """Everything the page shows. `live_cursor`: this web process's live-event cursor (web/live.py `Hub.cursor`;
    None where there is none, e.g. not listening yet)."""
    if not allowed(who, MONITORING):
        raise Forbidden("not-permitted", f"this needs the permission {MONITORING}", permission=MONITORING,
                        message_ru=f"для этого нужно право {MONITORING}")
    result = health.check(db, servers, today)
    snap = result["snapshot"]
    out = {"healthy": not result["reasons"], "reasons": [r.wire() for r in result["reasons"]], "snapshot": snap}
    if "database_error" in snap:
        return out
    with db.atomic():
        db.execute_sql("SET TRANSACTION READ ONLY")
        db.execute_sql(f"SET LOCAL statement_timeout = {int(health.STATEMENT_TIMEOUT_MS)}")
        max_conn, version, standby, size = db.execute_sql(_PG_SQL).fetchone()
        by_app = [{"application": a, "state": s, "count": n} for a, s, n in db.execute_sql(_CONNECTIONS_SQL).fetchall()]
        (total,) = db.execute_sql(_ALL_CONNECTIONS_SQL).fetchone()
        replicas = [{"name": n, "address": a, "state": s, "replay_lag_s": lag}
                    for n, a, s, lag in db.execute_sql(_REPLICAS_SQL).fetchall()]
        standby_lag = db.execute_sql(_STANDBY_LAG_SQL).fetchone()[0] if standby else None
        outbox = {cid: (n, age) for cid, n, age in db.execute_sql(_OUTBOX_SQL).fetchall()}
        live = None
        if live_cursor is not None:
            waiting, lag = db.execute_sql(_LIVE_SQL, (live_cursor.high, sorted(live_cursor.gaps))).fetchone()
            live = {"listening": True, "waiting": waiting, "lag_s": lag}
        (per_minute,) = db.execute_sql(_LIVE_RATE_SQL).fetchone()
    for conn in snap["crm"]:
        n, age = outbox.get(conn["id"], (0, None))
        conn["outbox_pending"], conn["outbox_oldest_s"] = n, age
    for job in snap["jobs"]:
        job["overdue"] = health.job_overdue(job, snap["now"])
    out["postgresql"] = {"max_connections": max_conn, "connections": total, "by_application": by_app,
                         "version": version.split(" on ")[0], "size_bytes": size, "standby": standby,
                         "standby_lag_s": standby_lag, "replicas": replicas}
    out["live"] = (live or {"listening": False, "waiting": None, "lag_s": None}) | {"events_last_minute": per_minute}
    return out


def jsonable(value):
    """Datetimes as ISO text, recursively (the page's script and the JSON API read the same shape)."""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value
