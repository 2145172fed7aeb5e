"""Database access: one pooled peewee database per process, used from worker threads only.

peewee is synchronous; coroutines call `run(fn, *args)`, which runs `fn` in a thread with a
pooled connection, so the event loop never blocks on PostgreSQL.
"""
from __future__ import annotations

import asyncio
import logging
import select

import peewee
import psycopg2
from playhouse.pool import MaxConnectionsExceeded, PooledPostgresqlExtDatabase

from .settings import Settings

log = logging.getLogger(__name__)


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


# A server that went away must be noticed by the operating system, not by a query waiting for ever: a new
# connection gives up after CONNECT_TIMEOUT_S; an open one is probed by TCP keepalives after 30 s of silence
# (a restarted server closes its sessions and is noticed at once, see `Database._is_closed`).
CONNECT_TIMEOUT_S = 5
KEEPALIVES = dict(keepalives=1, keepalives_idle=30, keepalives_interval=10, keepalives_count=3)

# Failures that say "the database cannot be reached right now", not "this statement is wrong": a connection
# refused or lost (a restart, a failover), a pool with no free connection, a deadlock or serialization
# failure (psycopg2's TransactionRollbackError is an OperationalError). The same work may succeed later.
UNAVAILABLE = (peewee.OperationalError, peewee.InterfaceError, psycopg2.OperationalError, psycopg2.InterfaceError,
               MaxConnectionsExceeded)


def unavailable(e: BaseException) -> bool:
    """Whether trying the same work again later may succeed (the database was unreachable)."""
    return isinstance(e, UNAVAILABLE)


class Database(PooledPostgresqlExtDatabase):
    """peewee's pool that never hands out a connection whose server went away.

    After a PostgreSQL restart every pooled connection is dead, and peewee's pool cannot tell: psycopg2
    learns it only when a statement fails, so each pooled connection failed one request or write after the
    restart. The server closes its sessions when it stops, so a dead idle connection has something to read
    (the server's last message, then the end of the stream) where a live idle one has nothing: checked on
    checkout without a round trip. A connection that failed in use is closed, not put back."""

    def _is_closed(self, conn) -> bool:  # checkout
        if conn.closed or _has_input(conn):
            _close_quietly(conn)
            return True
        return super()._is_closed(conn)

    def _can_reuse(self, conn) -> bool:  # check-in
        if conn.closed or conn.get_transaction_status() == psycopg2.extensions.TRANSACTION_STATUS_UNKNOWN:
            _close_quietly(conn)
            return False
        return super()._can_reuse(conn)

    def execute_sql(self, sql, params=None, *args, **kwargs):
        try:
            return super().execute_sql(sql, params, *args, **kwargs)
        except UNAVAILABLE:
            conn = self._state.conn
            if conn is not None and conn.closed:
                # the server is gone for this connection, so for the idle ones too: do not hand them out
                log.warning("database connection lost; idle pooled connections closed")
                self.close_idle()
                if not self.in_transaction():  # a thread holding its connection gets a new one next time
                    self.close()
            raise


def _has_input(conn) -> bool:
    """Anything to read on an idle pooled connection (nothing listens on them): the server has closed it."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def _close_quietly(conn) -> None:
    try:
        conn.close()
    except psycopg2.Error:
        pass


def connect(s: Settings) -> Database:
    from . import models

    db = Database(
        s.db_name, host=s.db_host, port=s.db_port, user=s.db_user, password=s.db_password,
        max_connections=s.db_pool_size, stale_timeout=STALE_S, timeout=10,  # wait ≤10 s for a free connection
        register_hstore=False, application_name="dialer", options=SESSION_OPTIONS,
        connect_timeout=CONNECT_TIMEOUT_S, **KEEPALIVES)
    db.bind(models.ALL)
    return db


async def run(db, fn, *args, **kwargs):
    """Run blocking database work in a thread; the connection goes back to the pool afterwards."""
    def work():
        with db.connection_context():
            return fn(*args, **kwargs)
    return await asyncio.to_thread(work)
