"""PostgreSQL LISTEN kept up: notifications as an async iterator, with one reconnect behaviour for the
engine (commands), the web's live hub and the CRM outbox worker.

A LISTEN needs a connection of its own (a pooled one would lose it on return); the event loop watches
its socket, so there is no thread and no polling. NOTIFY is not durable: what is sent while no LISTEN is
active is gone. So every wake after a (re)connect says so (`connected`), and the consumer re-reads its
table; an optional periodic wake lets it re-read anyway, so a missed notification never strands work.

    async with contextlib.aclosing(listen(settings.dsn, ["engine_command"], wake_s=5)) as wakes:
        async for wake in wakes:
            ...  # wake.notifies: what arrived; wake.connected: re-read everything

The same shape inside one process, where the notification is an `asyncio.Event` set by whoever has news (an ARI
event, an operator freed): `wake_loop` runs one round of work at once on a wake, and anyway every few seconds.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import psycopg2
import psycopg2.extensions

log = logging.getLogger(__name__)
BACKOFF_S = (0.1, 5.0)  # first retry, longest wait between retries
# a peer that vanished without closing (a cable, a crashed host) is noticed in ~25 s instead of hours
KEEPALIVES = dict(keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3, connect_timeout=5)


@dataclass(frozen=True)
class Note:
    channel: str
    payload: str


@dataclass(frozen=True)
class Wake:
    notifies: tuple[Note, ...] = ()
    connected: bool = False  # LISTEN has just (re)started: anything NOTIFYed before may have been missed


async def listen(dsn: dict, channels: list[str], *, wake_s: float | None = None, name: str = "dialer-listen",
                 backoff: tuple[float, float] = BACKOFF_S) -> AsyncIterator[Wake]:
    """Yield a `Wake` on every batch of notifications, after every (re)connect, and every `wake_s` seconds
    without one (never when None). A lost connection is replaced with a doubling back-off; the first loss
    and the recovery are logged. Close it (`aclosing`) or cancel its consumer to stop it."""
    loop = asyncio.get_running_loop()
    delay, lost_at = backoff[0], None
    while True:
        try:
            conn = await asyncio.to_thread(_connect, dsn, channels, name)
        except psycopg2.Error as e:
            if lost_at is None:
                lost_at = time.monotonic()
                log.warning("%s: cannot LISTEN (%s); retrying", name, str(e).strip())
            await asyncio.sleep(delay)
            delay = min(delay * 2, backoff[1])
            continue
        if lost_at is not None:
            log.info("%s: listening again after %.1f s", name, time.monotonic() - lost_at)
        delay, lost_at = backoff[0], None
        fd = conn.fileno()
        readable = asyncio.Event()
        loop.add_reader(fd, readable.set)
        try:
            yield Wake(_drain(conn), connected=True)
            while True:
                try:
                    await asyncio.wait_for(readable.wait(), wake_s)
                except asyncio.TimeoutError:
                    pass  # the periodic wake
                readable.clear()  # before reading: data arriving after poll() sets it again
                conn.poll()  # raises once the server is gone
                yield Wake(_drain(conn))
        except psycopg2.Error as e:
            lost_at = time.monotonic()
            log.warning("%s: lost its connection (%s); reconnecting", name, str(e).strip())
        finally:
            loop.remove_reader(fd)
            conn.close()


async def wake_loop(wake: asyncio.Event, every_s: float, work: Callable[[], Awaitable[object]], what: str) -> None:
    """Run `work()` each time `wake` is set, and at least every `every_s` seconds without one, for ever (cancel the
    task to stop it). The event is cleared before the round, so a wake that comes while `work` runs brings another
    round right after it rather than being lost. A round that raises is logged (`what` names it) and the loop goes
    on: the next wake or tick tries again."""
    while True:
        try:
            await asyncio.wait_for(wake.wait(), every_s)
        except asyncio.TimeoutError:
            pass  # the tick
        wake.clear()
        try:
            await work()
        except Exception:
            log.exception("%s failed; trying again", what)


def _connect(dsn: dict, channels: list[str], name: str):
    conn = psycopg2.connect(**{**KEEPALIVES, **dsn}, application_name=name)
    conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
    with conn.cursor() as cur:
        for channel in channels:
            cur.execute(f'LISTEN "{channel}"')  # channel names are the code's constants, never user input
    return conn


def _drain(conn) -> tuple[Note, ...]:
    notes = tuple(Note(n.channel, n.payload) for n in conn.notifies)
    conn.notifies.clear()
    return notes
