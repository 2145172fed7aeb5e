"""The one LISTEN helper: notifications arrive, a killed connection is replaced and later ones still arrive."""
from __future__ import annotations

import asyncio
import contextlib

from dialer.listen import listen

NAME = "dialer-test-listen"


async def _next(wakes, timeout=5.0, skip_empty=True):
    while True:
        wake = await asyncio.wait_for(anext(wakes), timeout)
        if wake.notifies or wake.connected or not skip_empty:
            return wake


def _notify(db, payload):
    db.execute_sql("SELECT pg_notify('test_listen', %s)", (payload,))


def _kill_listener(db) -> int:
    return db.execute_sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                          " WHERE application_name = %s", (NAME,)).fetchone()[0]


async def test_notifications_arrive_and_survive_a_killed_connection(settings, db):
    async with contextlib.aclosing(listen(settings.dsn, ["test_listen", "other"], name=NAME,
                                          backoff=(0.05, 0.2))) as wakes:
        first = await _next(wakes)
        assert first.connected and first.notifies == ()
        await asyncio.to_thread(_notify, db, "one")
        wake = await _next(wakes)
        assert [(n.channel, n.payload) for n in wake.notifies] == [("test_listen", "one")] and not wake.connected

        assert await asyncio.to_thread(_kill_listener, db) == 1
        again = await _next(wakes)
        assert again.connected  # the consumer is told to re-read: what came meanwhile may be lost
        await asyncio.to_thread(_notify, db, "two")
        wake = await _next(wakes)
        assert [n.payload for n in wake.notifies] == ["two"]


async def test_a_periodic_wake_comes_without_notifications(settings, db):
    async with contextlib.aclosing(listen(settings.dsn, ["test_listen"], wake_s=0.05, name=NAME)) as wakes:
        assert (await _next(wakes)).connected
        quiet = await _next(wakes, timeout=2, skip_empty=False)
        assert quiet.notifies == () and not quiet.connected


async def test_closing_it_closes_the_connection(settings, db):
    wakes = listen(settings.dsn, ["test_listen"], name=NAME)
    assert (await _next(wakes)).connected
    await wakes.aclose()
    count = "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
    from dialer.dev.testing import until
    await asyncio.to_thread(until, lambda: db.execute_sql(count, (NAME,)).fetchone()[0] == 0, 5, 0.05,
                            "the listener's connection to close")
