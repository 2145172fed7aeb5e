"""Schema migrations: plain SQL files in sql/, applied in name order, each recorded once."""
from __future__ import annotations

import logging

import psycopg2

from .settings import REPO_ROOT, Settings

log = logging.getLogger(__name__)
SQL_DIR = REPO_ROOT / "sql"
_LOCK_KEY = 7_400_221  # advisory lock: two migrators never interleave


def pending(applied: set[str]) -> list:
    return [p for p in sorted(SQL_DIR.glob("*.sql")) if p.name not in applied]


def migrate(s: Settings) -> list[str]:
    conn = psycopg2.connect(**s.dsn)
    done = []
    try:
        with conn, conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            cur.execute("CREATE TABLE IF NOT EXISTS schema_migration ("
                        "version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())")
            cur.execute("SELECT version FROM schema_migration")
            applied = {row[0] for row in cur.fetchall()}
            for path in pending(applied):
                cur.execute(path.read_text())
                cur.execute("INSERT INTO schema_migration (version) VALUES (%s)", (path.name,))
                log.info("applied migration %s", path.name)
                done.append(path.name)
            # the realtime views are read by Asterisk's own role, and it writes the registrations
            cur.execute("GRANT SELECT ON ps_endpoints, ps_auths, ps_aors TO asterisk")
            cur.execute("GRANT SELECT, INSERT, UPDATE, DELETE ON ps_contacts TO asterisk")
    finally:
        conn.close()
    return done
