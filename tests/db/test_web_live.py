"""Live events: the trigger → NOTIFY → hub path, and who receives what (an operator only their own)."""
from __future__ import annotations

import asyncio

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
    hub = live.Hub(settings)
    await hub.start()
    try:
        supervisor = hub.subscribe(_who({"operators.read"}))
        operator_a = hub.subscribe(_who({"panel.use"}, operator_id=a))
        stranger = hub.subscribe(_who({"campaigns.read"}))
        await asyncio.to_thread(_set_status, db, a, "ready")
        await asyncio.to_thread(_set_status, db, b, "paused")
        got = await _drain(supervisor, 2)
        assert [(e["kind"], e["data"]["id"], e["data"]["status"]) for e in got] == [
            ("operator.status", a, "ready"), ("operator.status", b, "paused")]
        mine = await _drain(operator_a, 1)
        assert mine[0]["data"]["id"] == a
        await asyncio.sleep(0.2)
        assert operator_a.queue.empty() and stranger.queue.empty()
    finally:
        await hub.stop()


def test_catch_up_after_an_id_is_filtered_the_same_way(db, two_operators):
    a, b = two_operators
    _set_status(db, a, "ready")
    first = live.last_event_id()
    _set_status(db, b, "ready")
    _set_status(db, a, "lunch")
    everything = live.catch_up(first, _who({"operators.read"}))
    assert [e["data"]["status"] for e in everything] == ["ready", "lunch"]
    own = live.catch_up(0, _who({"panel.use"}, operator_id=a))
    assert [(e["operator_id"], e["data"]["status"]) for e in own] == [(a, "ready"), (a, "lunch")]


def test_an_unchanged_status_makes_no_event(db, two_operators):
    a, _ = two_operators
    _set_status(db, a, "offline")
    assert live.last_event_id() == 0


def test_a_slow_subscriber_is_dropped_and_told_to_catch_up():
    sub = live.Subscriber(_who({"operators.read"}))
    for i in range(live.QUEUE_SIZE + 1):
        sub.put({"id": i})
    assert sub.dropped


def test_sse_wire_format():
    text = live.format_event({"id": 7, "kind": "operator.status", "data": {"status": "ready", "name": "Анна"}})
    assert text == 'id: 7\nevent: operator.status\ndata: {"status":"ready","name":"Анна"}\n\n'
