"""Live updates (SPEC L1): PostgreSQL NOTIFY → one listener per web process → server-sent events.

A change anywhere (engine, CLI, another web process) inserts a `live_event` row in the same transaction;
its trigger NOTIFYs `live_event` with the whole event. The hub holds one LISTEN connection, watched by
the event loop (no thread, no polling), and hands each event to the subscribers whose principal may see
it (`dialer.access.sees_event`). `GET /events` streams them; a reconnecting browser sends Last-Event-ID
(EventSource does it by itself) and first gets what it missed from the table.
"""
from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

import psycopg2
import psycopg2.extensions
from litestar import Request, get
from litestar.response import Stream

from dialer.access import SIGNED_IN, Principal, sees_event
from dialer.db import run
from dialer.settings import Settings

from . import auth

log = logging.getLogger(__name__)
CHANNEL = "live_event"
ACCESS_CHANNEL = "access_changed"  # roles, grants, sessions or users changed: streams re-read their principal
REFRESH = {"refresh": True}
KEEP_ALIVE = {"keep-alive": True}
QUEUE_SIZE = 1000       # a client this far behind is dropped; it reconnects and catches up from the table
HEARTBEAT_S = 15.0      # also when the session is checked again (sign-out everywhere ends the stream)
CATCH_UP_MAX = 1000


class Hub:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.conn = None
        self.subscribers: set[Subscriber] = set()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await self._connect()

    async def _connect(self) -> None:
        def connect():
            conn = psycopg2.connect(**self.settings.dsn, application_name="dialer-live")
            conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
            conn.cursor().execute(f"LISTEN {CHANNEL}; LISTEN {ACCESS_CHANNEL}")
            return conn
        self.conn = await asyncio.to_thread(connect)
        self._loop.add_reader(self.conn.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        try:
            self.conn.poll()
        except psycopg2.Error:
            log.warning("live listener lost its connection; reconnecting")
            self._loop.remove_reader(self.conn.fileno())
            self._loop.create_task(self._reconnect())
            return
        refresh = False
        while self.conn.notifies:
            note = self.conn.notifies.pop(0)
            if note.channel == ACCESS_CHANNEL:
                refresh = True
                continue
            try:
                event = json.loads(note.payload)
            except ValueError:
                continue
            self.publish(event)
        if refresh:
            for sub in list(self.subscribers):
                sub.put(REFRESH)

    async def _reconnect(self) -> None:
        while True:
            try:
                await self._connect()
                for sub in list(self.subscribers):  # they may have missed events: make them catch up
                    sub.drop()
                return
            except psycopg2.Error:
                await asyncio.sleep(1)

    def publish(self, event: dict) -> None:
        event["wire"] = format_event(event)  # once, not once per subscriber
        for sub in list(self.subscribers):
            if sees_event(sub.principal, event.get("permission", ""), event.get("operator_id")):
                sub.put(event)

    def subscribe(self, principal: Principal) -> Subscriber:
        sub = Subscriber(principal)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)

    async def stop(self) -> None:
        if self.conn is not None:
            try:
                self._loop.remove_reader(self.conn.fileno())
            except (ValueError, OSError):
                pass
            self.conn.close()
            self.conn = None


class Subscriber:
    def __init__(self, principal: Principal):
        self.principal = principal
        self.queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        self.dropped = False

    def put(self, event: dict) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.drop()

    def drop(self) -> None:
        self.dropped = True
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            pass


def format_event(event: dict) -> str:
    data = json.dumps(event.get("data", {}), ensure_ascii=False, separators=(",", ":"), default=str)
    return f"id: {event['id']}\nevent: {event['kind']}\ndata: {data}\n\n"


def catch_up(after_id: int, principal: Principal) -> list[dict]:
    from dialer.services.fields import database

    cur = database().execute_sql("SELECT id, kind, permission, operator_id, data FROM live_event"
                                 " WHERE id > %s ORDER BY id LIMIT %s", (after_id, CATCH_UP_MAX))
    events = [dict(zip(("id", "kind", "permission", "operator_id", "data"), row)) for row in cur.fetchall()]
    return [e for e in events if sees_event(principal, e["permission"], e["operator_id"])]


def last_event_id() -> int:
    from dialer.services.fields import database

    return database().execute_sql("SELECT coalesce(max(id), 0) FROM live_event").fetchone()[0]


def _last_id(request: Request) -> int | None:
    value = request.headers.get("last-event-id") or request.query_params.get("last_id") or ""
    return int(value) if value.isdigit() and len(value) < 19 else None


async def _stream(request: Request, hub: Hub, principal: Principal, after: int | None) -> AsyncIterator[str]:
    db = request.app.state.db
    sub = hub.subscribe(principal)  # before the catch-up query: nothing falls between the two
    try:
        last = after if after is not None else await run(db, last_event_id)
        yield "retry: 1000\n\n"
        if after is not None:
            for event in await run(db, catch_up, after, principal):
                last = event["id"]
                yield format_event(event)
        token = request.cookies.get(auth.Cookies.SESSION)
        while True:
            try:
                event = await asyncio.wait_for(sub.queue.get(), HEARTBEAT_S)
            except asyncio.TimeoutError:
                event = KEEP_ALIVE
            if event is KEEP_ALIVE or event is REFRESH:
                if await _stale(db, request, sub, token):
                    return
                if event is KEEP_ALIVE:
                    yield ": keep-alive\n\n"
                continue
            if event is None:  # too far behind, or the listener reconnected: the client catches up
                return
            if event["id"] > last:
                last = event["id"]
                yield event.get("wire") or format_event(event)
    finally:
        hub.unsubscribe(sub)


async def _stale(db, request: Request, sub: Subscriber, token: str | None) -> bool:
    """Re-read the session's user: True when the session is gone (signed out, deactivated)."""
    if request.scope.get("auth_via") != "session":
        return False
    from dialer.services import users
    fresh = await run(db, users.session_principal, token or "")
    if fresh is None:
        return True  # the stream ends; the reconnect is refused
    sub.principal = fresh  # role and grant changes apply to the open stream at once
    return False


@get("/events", opt={"permission": SIGNED_IN}, summary="Live events (server-sent events)")
async def events(request: Request) -> Stream:
    """Server-sent events the signed-in user may see; `Last-Event-ID` (or `?last_id=`) catches up."""
    hub: Hub = request.app.state.hub
    return Stream(_stream(request, hub, auth.principal_of(request), _last_id(request)),
                  media_type="text/event-stream",
                  headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
