"""Live events: the trigger → NOTIFY → hub path, who receives what (an operator only their own), and
nothing lost: events committed out of id order, a reconnect, a listener whose connection was killed;
past the catch-up limit the page is told to reload."""
from __future__ import annotations

import asyncio
import contextlib

import psycopg2
import pytest

from dialer.access import Principal
from dialer.services import operators
from web import live


def _who(perms, operator_id=None):
    return Principal(9, "w", ("r",), frozenset(perms), operator_id=operator_id)


@pytest.fixture
def two_operators(db):
    return [operators.create_operator(f"Оп {i}", f"lv{i}", f"secret-lv-{i}", [])["id"] for i in (1, 2)]


def _set_status(db, operator_id, status):
    db.execute_sql("UPDATE operator SET status = %s, status_since = now() WHERE id = %s", (status, operator_id))


async def _drain(sub, n, timeout=5.0):
    out = []
    while len(out) < n:
        out.append(await asyncio.wait_for(sub.queue.get(), timeout))
    return out


async def test_each_subscriber_gets_only_what_they_may_see(settings, db, two_operators):
    a, b = two_operators
    hub = live.Hub(settings, db)
    await hub.start()
    try:
        supervisor = hub.subscribe(_who({"operators.read"}))
        operator_a = hub.subscribe(_who({"panel.use"}, operator_id=a))
        stranger = hub.subscribe(_who({"reports.read"}))
        campaigns_only = hub.subscribe(_who({"campaigns.read"}))  # the list's counters: the status, not the name
        await asyncio.to_thread(_set_status, db, a, "ready")
        await asyncio.to_thread(_set_status, db, b, "paused")
        got = await _drain(supervisor, 2)
        assert [(e["kind"], e["data"]["id"], e["data"]["status"]) for e in got] == [
            ("operator.status", a, "ready"), ("operator.status", b, "paused")]
        mine = await _drain(operator_a, 1)
        assert mine[0]["data"]["id"] == a
        reduced = await _drain(campaigns_only, 2)
        assert [(e["kind"], e["data"]["id"], e["data"]["status"], sorted(e["data"])) for e in reduced] == [
            ("campaign.operator", a, "ready", ["id", "since", "status"]),
            ("campaign.operator", b, "paused", ["id", "since", "status"])]
        await asyncio.sleep(0.2)
        assert operator_a.queue.empty() and stranger.queue.empty() and campaigns_only.queue.empty()
    finally:
        await hub.stop()


def test_catch_up_after_an_id_is_filtered_the_same_way(db, two_operators):
    a, b = two_operators
    _set_status(db, a, "ready")
    first = live.head(db)
    _set_status(db, b, "ready")
    _set_status(db, a, "lunch")
    everything = live.catch_up(db, first, _who({"operators.read"}))
    assert [e["data"]["status"] for e in everything] == ["ready", "lunch"]
    own = live.catch_up(db, live.Cursor(0), _who({"panel.use"}, operator_id=a))
    assert [(e["operator_id"], e["data"]["status"]) for e in own] == [(a, "ready"), (a, "lunch")]


def test_an_unchanged_status_makes_no_event(db, two_operators):
    a, _ = two_operators
    _set_status(db, a, "offline")
    assert live.head(db).high == 0


def test_a_slow_subscriber_is_dropped_and_told_to_catch_up():
    sub = live.Subscriber(_who({"operators.read"}))
    for i in range(live.QUEUE_SIZE + 1):
        sub.put({"id": i})
    assert sub.dropped


def test_sse_wire_format():
    text = live.format_event({"id": 7, "kind": "operator.status", "data": {"status": "ready", "name": "Анна"}})
    assert text == 'id: 7\nevent: operator.status\ndata: {"status":"ready","name":"Анна"}\n\n'


# ---- nothing lost --------------------------------------------------------------------------------------------
async def _never_stale(sub):
    return False


async def _next_message(stream, timeout=5.0) -> dict:
    """The next SSE message with an event in it, as {"id", "event", "data"}; id-only messages only move "id"."""
    while True:
        text = await asyncio.wait_for(anext(stream), timeout)
        fields = dict(line.split(": ", 1) for line in text.strip("\n").split("\n") if ": " in line)
        if "event" in fields:
            return fields


@contextlib.asynccontextmanager
async def _hub(settings, db):
    hub = live.Hub(settings, db)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


def _open_change(settings, operator_id, status):
    """An operator's status changed in a transaction left open: its live event has an id, not yet visible."""
    conn = psycopg2.connect(**settings.dsn)
    conn.cursor().execute("UPDATE operator SET status = %s WHERE id = %s", (status, operator_id))
    return conn


def _commit(conn):
    conn.commit()
    conn.close()


async def test_an_event_committed_after_a_higher_id_reaches_an_open_stream_and_a_reconnect(settings, db,
                                                                                          two_operators):
    a, b = two_operators
    supervisor = _who({"operators.read"})
    async with _hub(settings, db) as hub:
        stream = live.stream(db, hub, supervisor, None, _never_stale)
        assert (await anext(stream)).startswith("retry:")
        late = await asyncio.to_thread(_open_change, settings, a, "ready")  # the lower id, committed last
        await asyncio.to_thread(_set_status, db, b, "paused")
        first = await _next_message(stream)
        assert '"status":"paused"' in first["data"]
        high, gap = (int(x) for x in first["id"].split("_"))  # the cursor names the id not had yet
        assert gap == high - 1

        reconnect = live.stream(db, hub, supervisor, live.Cursor.parse(first["id"]), _never_stale)
        assert (await anext(reconnect)).startswith("retry:")
        await asyncio.to_thread(_commit, late)
        second = await _next_message(stream)  # the open stream gets it although its id is lower
        assert '"status":"ready"' in second["data"] and second["id"] == str(high)
        again = await _next_message(reconnect)  # and so does a browser that reconnects with the cursor
        assert '"status":"ready"' in again["data"]
        await stream.aclose()
        await reconnect.aclose()

        after_reconnect = live.stream(db, hub, supervisor, live.Cursor.parse(first["id"]), _never_stale)
        caught_up = await _next_message(after_reconnect)  # reconnecting after the commit: from the table
        assert '"status":"ready"' in caught_up["data"] and caught_up["id"] == str(high)
        await after_reconnect.aclose()


async def test_past_the_catch_up_limit_the_page_is_told_to_reload(settings, db, two_operators, monkeypatch):
    a, b = two_operators
    monkeypatch.setattr(live, "CATCH_UP_MAX", 3)
    supervisor = _who({"operators.read"})
    start = (await asyncio.to_thread(live.head, db)).high
    for status in ("ready", "paused", "lunch"):
        await asyncio.to_thread(_set_status, db, a, status)
    async with _hub(settings, db) as hub:
        within = live.stream(db, hub, supervisor, live.Cursor(start), _never_stale)
        got = [await _next_message(within) for _ in range(3)]
        assert [m["event"] for m in got] == ["operator.status"] * 3
        await within.aclose()

        await asyncio.to_thread(_set_status, db, b, "ready")  # the fourth: over the limit
        behind = live.stream(db, hub, supervisor, live.Cursor(start), _never_stale)
        reload = await _next_message(behind)
        assert reload["event"] == "reload" and reload["id"] == str(start + 4)
        await asyncio.to_thread(_set_status, db, b, "lunch")  # and it goes on from there
        assert '"status":"lunch"' in (await _next_message(behind))["data"]
        await behind.aclose()


async def test_the_hub_tells_pages_to_reload_when_it_missed_too_much(settings, db, two_operators, monkeypatch):
    a, _ = two_operators
    monkeypatch.setattr(live, "CATCH_UP_MAX", 2)
    async with _hub(settings, db) as hub:
        stream = live.stream(db, hub, _who({"operators.read"}), None, _never_stale)
        await anext(stream)
        await _next_id(stream)
        for status in ("ready", "paused", "lunch"):
            await asyncio.to_thread(_set_status, db, a, status)
        for _ in range(3):
            await _next_message(stream)
        hub.cursor = live.Cursor(hub.cursor.high - 3)  # as if these three had come while it was not listening
        await hub._resume()
        assert (await _next_message(stream))["event"] == "reload"
        await stream.aclose()


async def _next_id(stream, timeout=5.0) -> str:
    text = await asyncio.wait_for(anext(stream), timeout)
    assert text.startswith("id: ")
    return text[4:].strip()


async def test_a_killed_listener_reconnects_and_nothing_is_lost_or_doubled(settings, db, two_operators):
    a, _ = two_operators
    async with _hub(settings, db) as hub:
        operator_a = live.stream(db, hub, _who({"panel.use"}, operator_id=a), None, _never_stale)
        await anext(operator_a)
        await _next_id(operator_a)

        def kill_then_change():
            killed = db.execute_sql("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                    " WHERE application_name = 'dialer-live'").fetchone()[0]
            _set_status(db, a, "ready")  # most likely while nobody listens: read from the table on reconnect
            return killed

        assert await asyncio.to_thread(kill_then_change) == 1
        got = await _next_message(operator_a)
        assert '"status":"ready"' in got["data"]
        await asyncio.to_thread(_set_status, db, a, "lunch")
        assert '"status":"lunch"' in (await _next_message(operator_a))["data"]  # not the first one again
        await operator_a.aclose()


def test_the_cursor_keeps_what_was_not_had_and_reads_back_from_its_wire():
    c = live.Cursor(10, now=0)
    c.add(13, now=1)
    assert c.wire() == "13_11_12"
    c.add(11, now=2)
    assert live.Cursor.parse(c.wire()).wire() == "13_12"
    c.add(14, now=live.GAP_TTL_S + 2)  # 12 never came: forgotten after its time
    assert c.wire() == "14"
    c.add(14 + live.MAX_GAPS + 10, now=live.GAP_TTL_S + 3)
    assert len(c.gaps) == live.MAX_GAPS
    for bad in ("", "x", "1_a", "-1", "1" * 19, "_".join(["9"] * (live.MAX_GAPS + 2))):
        assert live.Cursor.parse(bad) is None
    assert live.Cursor.parse("7").wire() == "7" and live.Cursor.parse("7_9").wire() == "7"  # a gap above is none
