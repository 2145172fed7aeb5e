"""Database access: one pooled peewee database per process, used from worker threads only.

peewee is synchronous; coroutines call `run(fn, *args)`, which runs `fn` in a thread with a
pooled connection, so the event loop never blocks on PostgreSQL.
"""
from __future__ import annotations

import asyncio

from playhouse.pool import PooledPostgresqlExtDatabase

from .settings import Settings


# Every session plans a prepared statement once (dialer.prepared: the claim). Left to its heuristic,
# PostgreSQL re-planned the claim's statement on every call (400 custom plans, 0 generic, measured), which
# cost more than running it. Plain statements are planned each time anyway; PL/pgSQL trigger statements
# (simple inserts and updates by key) also keep their first plan.
# No JIT: it compiled the "matches now" count over a campaign for 355 ms of its 766 ms (EXPLAIN ANALYZE over
# 100,000 leads, 118 ms without); the dialer's statements are short, where compiling is not won back.
SESSION_OPTIONS = "-c plan_cache_mode=force_generic_plan -c jit=off"

# A pooled connection is replaced after this long. A new server session pays, on its first claim, for its
# catalog caches, trigger functions compiled and statements prepared: 20–170 ms measured (against 3–5 ms on a
# warm one). A pool of 16 replaced every 5 minutes opens a session every ~19 s: at 5 claims a second about
# one claim in a hundred was a new session's first, i.e. the 99th percentile. Hourly: one in ~1,100.
STALE_S = 3600


def connect(s: Settings) -> PooledPostgresqlExtDatabase:
    from . import models

    db = PooledPostgresqlExtDatabase(
        s.db_name, host=s.db_host, port=s.db_port, user=s.db_user, password=s.db_password,
        max_connections=s.db_pool_size, stale_timeout=STALE_S, timeout=10,  # wait ≤10 s for a free connection
        register_hstore=False, application_name="dialer", options=SESSION_OPTIONS)
    db.bind(models.ALL)
    return db


async def run(db, fn, *args, **kwargs):
    """Run blocking database work in a thread; the connection goes back to the pool afterwards."""
    def work():
        with db.connection_context():
            return fn(*args, **kwargs)
    return await asyncio.to_thread(work)
