"""Live events in batches (`/events?batch=1`, web/live.py format_batch): the events queued together go in one
SSE message in their order, what a principal may not see is left out, a keep-alive or reload between them is
still handled, and a stream that did not ask gets one message per event as before. The `attempt` event carries
the call's client and order (sql/023), so the supervisor's page needs no read of its own per new call."""
from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from ari_app import store
from dialer.errors import Invalid
from dialer.access import Principal
from dialer.models import Attempt, Campaign, Lead, Operator, OperatorCampaign
from web import live


def _who(perms, operator_id=None):
    return Principal(9, "w", ("r",), frozenset(perms), operator_id=operator_id)


async def _never_stale(sub):
    return False


def _event(i, status="ready", permission="operators.read", operator_id=None):
    return {"id": i, "kind": "operator.status", "permission": permission, "operator_id": operator_id,
            "data": {"id": 1, "status": status, "name": "Анна"}}


def _fields(text: str) -> dict:
    return dict(line.split(": ", 1) for line in text.strip("\n").split("\n") if ": " in line)


async def _opened(db, hub, principal, batch, pace=0.0):
    stream = live.stream(db, hub, principal, live.Cursor(0), _never_stale, batch, pace)
    assert (await anext(stream)).startswith("retry:")
    assert (await anext(stream)).startswith("id: ")  # where it starts (no event was missed)
    return stream


def test_the_batch_wire_format():
    cursor = live.Cursor(8)
    events = [_event(7), {"id": 8, "kind": "attempt", "data": {"id": 3, "client": "Иван \"И\"\nП"}}]
    events[0]["body"] = live.format_body(events[0])  # as the hub makes it; the other as read from the table
    text = live.format_batch(events, cursor)
    assert text == ('id: 8\nevent: batch\ndata: [["operator.status",{"id":1,"status":"ready","name":"Анна"}],'
                    '["attempt",{"id":3,"client":"Иван \\"И\\"\\nП"}]]\n\n')
    assert json.loads(_fields(text)["data"])[1] == ["attempt", {"id": 3, "client": "Иван \"И\"\nП"}]
    assert live.format_batch(events[:1], cursor) == live.format_event(events[0], cursor)  # one goes as itself


async def test_queued_events_go_in_one_message_in_order_without_what_may_not_be_seen(settings, db):
    hub = live.Hub(settings, db)  # not listening: the events are published by hand
    supervisor = _who({"operators.read"})
    stream = await _opened(db, hub, supervisor, batch=True)
    hub.publish(_event(1, "ready"))
    hub.publish(_event(2, "paused", permission="monitoring.read"))  # not for this principal
    hub.publish(_event(3, "in_call"))
    hub.publish(_event(4, "wrap_up"))
    got = _fields(await asyncio.wait_for(anext(stream), 5))
    assert got["event"] == "batch" and got["id"] == "4"
    assert [(k, d["status"]) for k, d in json.loads(got["data"])] == [
        ("operator.status", "ready"), ("operator.status", "in_call"), ("operator.status", "wrap_up")]
    hub.publish(_event(5, "lunch"))  # alone: as itself
    alone = _fields(await asyncio.wait_for(anext(stream), 5))
    assert alone["event"] == "operator.status" and '"lunch"' in alone["data"] and alone["id"] == "5"
    await stream.aclose()


async def test_a_reload_between_queued_events_ends_the_batch_and_is_sent(settings, db):
    hub = live.Hub(settings, db)
    stream = await _opened(db, hub, _who({"operators.read"}), batch=True)
    (sub,) = hub.subscribers
    hub.publish(_event(1, "ready"))
    sub.put(live.RELOAD)
    hub.publish(_event(2, "paused"))
    first = _fields(await asyncio.wait_for(anext(stream), 5))
    assert first["event"] == "operator.status" and '"ready"' in first["data"]
    assert _fields(await asyncio.wait_for(anext(stream), 5))["event"] == "reload"
    await stream.aclose()


async def test_a_stream_that_did_not_ask_gets_one_message_per_event(settings, db):
    hub = live.Hub(settings, db)
    stream = await _opened(db, hub, _who({"operators.read"}), batch=False)
    for i, status in ((1, "ready"), (2, "paused")):
        hub.publish(_event(i, status))
    got = [_fields(await asyncio.wait_for(anext(stream), 5)) for _ in range(2)]
    assert [(m["event"], m["id"]) for m in got] == [("operator.status", "1"), ("operator.status", "2")]
    await stream.aclose()


async def test_a_paced_stream_sends_the_first_event_at_once_then_at_most_one_message_per_pace(settings, db):
    hub = live.Hub(settings, db)
    pace = 0.3
    stream = await _opened(db, hub, _who({"operators.read"}), batch=True, pace=pace)
    loop = asyncio.get_running_loop()
    hub.publish(_event(1, "ready"))  # after a quiet moment: at once
    started = loop.time()
    first = _fields(await asyncio.wait_for(anext(stream), 5))
    assert first["id"] == "1" and loop.time() - started < pace / 2
    sent_at = loop.time()
    later = asyncio.create_task(anext(stream))
    for i, status in ((2, "in_call"), (3, "wrap_up")):  # within the pace: they wait for its end, then go together
        hub.publish(_event(i, status))
        await asyncio.sleep(0.05)
    assert not later.done()
    got = _fields(await asyncio.wait_for(later, 5))
    assert loop.time() - sent_at >= pace * 0.95
    assert got["event"] == "batch" and got["id"] == "3"
    assert [d["status"] for _, d in json.loads(got["data"])] == ["in_call", "wrap_up"]
    await asyncio.sleep(pace * 1.2)  # quiet again: the next one goes at once
    hub.publish(_event(4, "ready"))
    started = loop.time()
    assert _fields(await asyncio.wait_for(anext(stream), 5))["id"] == "4"
    assert loop.time() - started < pace / 2
    await stream.aclose()


async def test_a_paced_stream_dropped_while_it_holds_events_sends_them_then_ends(settings, db):
    """The hub drops a stream (too far behind, or its database connection lost: the page reconnects and catches up)
    while it holds events for its pace: what it held goes out first, with its cursor, and nothing is lost."""
    hub = live.Hub(settings, db)
    stream = await _opened(db, hub, _who({"operators.read"}), batch=True, pace=0.3)
    (sub,) = hub.subscribers
    hub.publish(_event(1, "ready"))
    assert _fields(await asyncio.wait_for(anext(stream), 5))["id"] == "1"
    held = asyncio.create_task(anext(stream))
    hub.publish(_event(2, "in_call"))
    hub.publish(_event(3, "wrap_up"))
    sub.drop()
    got = _fields(await asyncio.wait_for(held, 5))
    assert got["id"] == "3" and [d["status"] for _, d in json.loads(got["data"])] == ["in_call", "wrap_up"]
    with pytest.raises(StopAsyncIteration):
        await asyncio.wait_for(anext(stream), 5)
    assert not hub.subscribers


def test_the_pace_a_stream_asks_for_is_a_whole_number_of_ms_within_bounds():
    assert [live._pace_of(t) for t in (None, "", "0", "70", "1000")] == [0, 0, 0, 70, 1000]
    for bad in ("-1", "1001", "70.5", "abc", "²", "0x10", "99999999999999999999"):
        with pytest.raises(Invalid) as e:
            live._pace_of(bad)
        assert e.value.code == "invalid-pace" and "миллисекунд" in e.value.details["message_ru"]


def test_the_attempt_event_carries_the_client_and_the_order(db):
    c = Campaign.create(name="Подтверждение")
    Lead.create(campaign=c.id, external_id="ORD-77", phone="+79000000077", name="Клиент Семь",
                next_call_at=datetime.now(timezone.utc) - timedelta(hours=1))
    op = Operator.create(name="Оператор", login="ev1", sip_password="secret-123", status="ready")
    OperatorCampaign.create(operator=op.id, campaign=c.id)
    attempt = store.claim(db, op.id, "pbx", "t", time.time(), None).attempt_id
    Attempt.update(answered_at=Attempt.reserved_at).where(Attempt.id == attempt).execute()
    rows = db.execute_sql("SELECT data FROM live_event WHERE kind = 'attempt' AND (data->>'id')::bigint = %s"
                          " ORDER BY id", (attempt,)).fetchall()
    assert len(rows) == 2  # the new call, its answer
    for (data,) in rows:
        assert data["client"] == "Клиент Семь" and data["order_id"] == "ORD-77"
        assert data["manual"] is False and data["offer"] is False and data["reserved_at"]


def test_a_stream_asked_for_with_a_bad_pace_is_refused_with_a_reason(client):
    r = client.get("/events?batch=1&pace=soon")
    assert r.status_code == 422
    assert r.json()["error"] == "invalid-pace" and "0 to 1000" in r.json()["message"]
    assert "миллисекунд" in r.json()["message_ru"]
