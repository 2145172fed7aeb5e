"""Live updates (SPEC L1): PostgreSQL NOTIFY → one listener per web process → server-sent events.

A change anywhere (engine, CLI, another web process) inserts a `live_event` row in the same transaction;
its trigger NOTIFYs `live_event` with the whole event at commit. The hub LISTENs (dialer.listen) and hands
each event to the subscribers whose principal may see it (`dialer.access.sees_event`), or a reduced form of it to
those who may see only that (`view_of`).

An event's id is given at insert but the event arrives at commit, so ids arrive out of order: nothing is
ever dropped for being below the last id. Each stream keeps a `Cursor` — the highest id it has had and the
ids below it it has not (gaps: not committed yet, or rolled back) — and sends it as the SSE id; a
reconnecting browser sends it back (EventSource does it by itself) and gets the events it has not had.
Past CATCH_UP_MAX of them the page is told to reload its state instead (`event: reload`).
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from litestar import Request, get
from litestar.response import Stream

from dialer.access import SIGNED_IN, Principal, sees_event
from dialer.db import run
from dialer.errors import Invalid
from dialer.listen import listen
from dialer.settings import Settings

from . import auth

log = logging.getLogger(__name__)
CHANNEL = "live_event"
ACCESS_CHANNEL = "access_changed"  # roles, grants, sessions or users changed: streams re-read their principal
REFRESH = {"refresh": True}
KEEP_ALIVE = {"keep-alive": True}
RELOAD = {"reload": True}  # more was missed than can be replayed: the page reads its state again
_NOTHING = object()  # a stream holds nothing taken from its queue
QUEUE_SIZE = 1000       # a client this far behind is dropped; it reconnects and catches up from the table
HEARTBEAT_S = 15.0      # also when the session is checked again (sign-out everywhere ends the stream)
CATCH_UP_MAX = 1000     # events replayed to a reconnecting page; past that it reloads
MAX_GAPS = 64           # ids below the highest one not had yet, kept in a cursor ...
GAP_TTL_S = 120.0       # ... this long: a transaction holding a live event open longer is not waited for
START_WAIT_S = 10.0     # the web starts even if the database does not answer yet; live updates follow
BATCH_MAX = 200         # events in one `batch` message at most
PACE_MAX_MS = 1000      # `?pace=`: a batching stream sends at most one message per this many ms (0: at once)


# ---- the cursor: what a stream has had ------------------------------------------------------------------
class Cursor:
    """Every event id up to `high` has been had, except `gaps` (each forgotten GAP_TTL_S after it was noticed,
    at most MAX_GAPS of them, the newest kept)."""

    def __init__(self, high: int = 0, gaps=(), now: float | None = None):
        now = time.monotonic() if now is None else now
        self.high = high
        self.gaps: dict[int, float] = {g: now for g in gaps if 0 < g < high}

    def add(self, event_id: int, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        if event_id > self.high:
            for g in range(max(self.high + 1, event_id - MAX_GAPS), event_id):
                self.gaps[g] = now
            self.high = event_id
        else:
            self.gaps.pop(event_id, None)
        if self.gaps:
            self._forget(now)

    def _forget(self, now: float) -> None:
        for g in [g for g, noticed in self.gaps.items() if now - noticed > GAP_TTL_S]:
            del self.gaps[g]
        for g in sorted(self.gaps)[:-MAX_GAPS]:
            del self.gaps[g]

    def wire(self) -> str:
        """The SSE id: `high`, then the gaps, joined by `_` (URL-safe: the JS passes it as `?last_id=`)."""
        return "_".join(map(str, [self.high, *sorted(self.gaps)]))

    @classmethod
    def parse(cls, text: str) -> Cursor | None:
        """A cursor from `wire()` (a plain event id also is one); None for anything else."""
        parts = text.split("_") if text else []
        if not parts or len(parts) > 1 + MAX_GAPS or not all(p.isdigit() and len(p) < 19 for p in parts):
            return None
        return cls(int(parts[0]), [int(p) for p in parts[1:]])

    def __repr__(self) -> str:
        return f"Cursor({self.wire()})"


# ---- reading the table ------------------------------------------------------------------------------------
_COLUMNS = ("id", "kind", "permission", "operator_id", "data")
# ids below the newest that have no row yet: their transactions may still commit. The rows are read by a range
# of the key (a NOT EXISTS per id was planned as an anti-join over the whole table, growing with the hour's events)
_HEAD_SQL = """
SELECT m.high, ARRAY(SELECT g FROM generate_series(greatest(m.high - %(gaps)s, 1), m.high - 1) AS g
                     EXCEPT SELECT id FROM live_event WHERE id >= m.high - %(gaps)s AND id < m.high
                     ORDER BY 1)
  FROM (SELECT coalesce(max(id), 0) AS high FROM live_event) AS m"""
_MISSED_SQL = ("SELECT id, kind, permission, operator_id, data FROM live_event"
               " WHERE id > %s OR id = ANY(%s::bigint[]) ORDER BY id LIMIT %s")


def head(db) -> Cursor:
    """Where a page that has just read its state stands: the newest event, less the ids not committed yet."""
    high, gaps = db.execute_sql(_HEAD_SQL, {"gaps": MAX_GAPS}).fetchone()
    return Cursor(high, gaps)


def missed(db, cursor: Cursor, limit: int | None = None) -> list[dict] | None:
    """The events `cursor` has not had, oldest first (whoever may see them); None when there are over `limit`
    (CATCH_UP_MAX by default)."""
    limit = CATCH_UP_MAX if limit is None else limit
    rows = db.execute_sql(_MISSED_SQL, (cursor.high, sorted(cursor.gaps), limit + 1)).fetchall()
    if len(rows) > limit:
        return None
    return [dict(zip(_COLUMNS, row)) for row in rows]


def catch_up(db, cursor: Cursor, principal: Principal, limit: int | None = None) -> list[dict] | None:
    """`missed`, as `principal` may see each (`view_of`); None past `limit` (counted before filtering)."""
    events = missed(db, cursor, limit)
    return None if events is None else [v for e in events if (v := view_of(principal, e)) is not None]


def _sees(principal: Principal, event: dict) -> bool:
    return sees_event(principal, event.get("permission", ""), event.get("operator_id"))


# What a principal without an event's own permission still gets of it: the campaign-level facts the «Кампании» list
# shows `campaigns.read` on every read of the page (calls in progress, today's outcomes, the pools' Ready operators,
# paused or active; web/pages/campaigns.py). Only the fields those counters need — no client, order, operator's
# name — and under a kind of their own, so that no page following the full event ever gets a part of one.
# event kind -> (reduced kind, the permission it needs, its fields)
REDUCED: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "attempt": ("campaign.call", "campaigns.read", ("id", "campaign_id", "ended_at", "outcome")),
    "attempt.gone": ("campaign.call.gone", "campaigns.read", ("id", "campaign_id")),
    "operator.status": ("campaign.operator", "campaigns.read", ("id", "status", "since")),
    "campaign": ("campaign.active", "campaigns.read", ("id", "active")),
}


def view_of(principal: Principal, event: dict) -> dict | None:
    """The event as `principal` may see it: itself, its reduced form (REDUCED, same id), or None."""
    if _sees(principal, event):
        return event
    reduced = REDUCED.get(event.get("kind"))
    if reduced is None or reduced[1] not in principal.permissions:
        return None
    view = event.get("reduced")
    if view is None:  # made once per event, whoever else gets it
        kind, permission, fields = reduced
        data = event.get("data") or {}
        view = {"id": event["id"], "kind": kind, "permission": permission, "operator_id": None,
                "data": {k: data.get(k) for k in fields}}
        view["body"] = format_body(view)
        event["reduced"] = view
    return view


# ---- the hub: one LISTEN per process ----------------------------------------------------------------------
class Hub:
    def __init__(self, settings: Settings, db):
        self.settings = settings
        self.db = db
        self.subscribers: set[Subscriber] = set()
        self.cursor: Cursor | None = None  # what this process has had: read again after a reconnect
        self._caught: set[int] = set()  # published by the last catch-up; their notification may follow
        self._task: asyncio.Task | None = None
        self._listening: asyncio.Event | None = None

    async def start(self) -> None:
        self._listening = asyncio.Event()
        self._task = asyncio.create_task(self._listen(), name="live-hub")
        try:
            await asyncio.wait_for(self._listening.wait(), START_WAIT_S)
        except asyncio.TimeoutError:
            log.warning("live updates: not listening yet; they start when the database answers")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self) -> None:
        async with contextlib.aclosing(listen(self.settings.dsn, [CHANNEL, ACCESS_CHANNEL],
                                              name="dialer-live")) as wakes:
            async for wake in wakes:
                if wake.connected:
                    await self._resume()
                    self._listening.set()
                self._on_notes(wake.notifies)

    async def _resume(self) -> None:
        """After a (re)connect: what was NOTIFYed while nobody listened is read from the table."""
        try:
            if self.cursor is None:
                self.cursor = await run(self.db, head, self.db)
                return
            events = await run(self.db, missed, self.db, self.cursor)
            if events is None:
                self.cursor = await run(self.db, head, self.db)
        except Exception as e:  # the database is still coming back: each stream catches up by itself
            log.warning("live updates: cannot catch up (%s); streams reconnect", e)
            self.cursor = self.cursor or Cursor()
            for sub in list(self.subscribers):
                sub.drop()
            return
        if events is None:
            log.warning("live updates: over %d events missed; pages reload their state", CATCH_UP_MAX)
            for sub in list(self.subscribers):
                sub.put(RELOAD)
            return
        self._caught = {e["id"] for e in events}
        for event in events:
            self._publish_new(event)

    def _on_notes(self, notes) -> None:
        refresh = False
        for note in notes:
            if note.channel == ACCESS_CHANNEL:
                refresh = True
                continue
            try:
                event = json.loads(note.payload)
            except ValueError:
                continue
            if not isinstance(event.get("id"), int):
                continue
            if event["id"] in self._caught:  # already published by the catch-up
                self._caught.discard(event["id"])
                continue
            self._publish_new(event)
        if refresh:
            for sub in list(self.subscribers):
                sub.put(REFRESH)

    def _publish_new(self, event: dict) -> None:
        if self.cursor is not None:
            self.cursor.add(event["id"])
        self.publish(event)

    def publish(self, event: dict) -> None:
        event["body"] = format_body(event)  # once, not once per subscriber
        for sub in list(self.subscribers):
            seen = view_of(sub.principal, event)
            if seen is not None:
                sub.put(seen)
            else:
                sub.skip(event["id"])

    def subscribe(self, principal: Principal) -> Subscriber:
        sub = Subscriber(principal)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)


class Subscriber:
    def __init__(self, principal: Principal):
        self.principal = principal
        self.queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        self.dropped = False
        self.cursor: Cursor | None = None  # set once the stream knows where it starts
        self._skipped: list[int] = []  # ids not for this principal that came before that

    def put(self, event: dict) -> None:
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.drop()

    def skip(self, event_id: int) -> None:
        """An event this principal may not see: had all the same, so a reconnect does not ask for it."""
        if self.cursor is not None:
            self.cursor.add(event_id)
        elif len(self._skipped) < QUEUE_SIZE:
            self._skipped.append(event_id)

    def start_at(self, cursor: Cursor) -> Cursor:
        for event_id in self._skipped:
            cursor.add(event_id)
        self._skipped.clear()
        self.cursor = cursor
        return cursor

    def drop(self) -> None:
        self.dropped = True
        try:
            self.queue.put_nowait(None)
        except asyncio.QueueFull:
            pass


# ---- the wire ---------------------------------------------------------------------------------------------
def _data(event: dict) -> str:
    return json.dumps(event.get("data", {}), ensure_ascii=False, separators=(",", ":"), default=str)


def format_body(event: dict) -> str:
    return f"event: {event['kind']}\ndata: {_data(event)}\n\n"


def _data_of(event: dict) -> str:
    """The event's data as sent (read back from its formatted body: the JSON is made once per event)."""
    body = event.get("body")
    return body[body.index("\ndata: ") + 7:-2] if body else _data(event)


def format_batch(events: list[dict], cursor: Cursor) -> str:
    """Several events in one SSE message (`event: batch`, data `[[kind, data], ...]` in order), for a stream that
    asked for it (`?batch=1`): a browser hands each message to the page's main thread as a task of its own, and on
    a busy machine each task waits for a core (bench.supervisor). One event is sent as itself."""
    if len(events) == 1:
        return format_event(events[0], cursor)
    parts = ",".join(f"[{json.dumps(e['kind'])},{_data_of(e)}]" for e in events)
    return f"id: {cursor.wire()}\nevent: batch\ndata: [{parts}]\n\n"


def format_event(event: dict, cursor: Cursor | None = None) -> str:
    """One SSE message; its id is the stream's cursor (the event's own id when none is given)."""
    ident = cursor.wire() if cursor is not None else event["id"]
    return f"id: {ident}\n" + (event.get("body") or format_body(event))


def reload_message(cursor: Cursor) -> str:
    return f"id: {cursor.wire()}\nevent: reload\ndata: {{}}\n\n"


class _Had:
    """The ids a stream's starting point (or a reload's) already covered: up to `high`, less its gaps."""

    def __init__(self, cursor: Cursor):
        self.high, self.gaps = cursor.high, frozenset(cursor.gaps)

    def covers(self, event_id: int) -> bool:
        return event_id <= self.high and event_id not in self.gaps


async def stream(db, hub: Hub, principal: Principal, after: Cursor | None,
                 stale: Callable[[Subscriber], Awaitable[bool]], batch: bool = False,
                 pace: float = 0.0) -> AsyncIterator[str]:
    """The SSE text of one client: the events it has not had since `after` (or a reload past CATCH_UP_MAX),
    then each new one it may see. `stale(sub)` re-reads the principal; True ends the stream. With `batch`, the
    new events already queued when one is sent go with it in one message (format_batch): nothing waits for them.
    With `pace` (seconds, batching streams only), an event that comes within `pace` of the last message waits for
    the end of that time and goes with those that came meanwhile; the first one after a quiet moment goes at once.
    For a page that draws at most so often anyway (the supervisor's: a message costs its browser ~1 ms over its
    threads, docs/supervisor.md), the events wait here instead of in the page, and it gets a message per drawing."""
    sub = hub.subscribe(principal)  # before reading the table: nothing falls between the two
    try:
        yield "retry: 1000\n\n"
        caught: set[int] = set()  # sent from the table; their notification may still be queued
        events = None if after is None else await run(db, missed, db, after)
        if events is None:
            cursor = sub.start_at(await run(db, head, db))
            if after is not None:
                yield reload_message(cursor)
        else:
            cursor = sub.start_at(after)
            for event in events:
                caught.add(event["id"])
                cursor.add(event["id"])
                seen = view_of(sub.principal, event)
                if seen is not None:
                    yield format_event(seen, cursor)
        yield f"id: {cursor.wire()}\n\n"  # the browser resumes from here even if no event comes
        # what a reload or a catch-up covered: a queued notification of it is not sent again (a fresh
        # connection takes every queued one: its page was read before it connected)
        had = _Had(cursor) if after is not None else None
        # taken from the queue while gathering a batch, not an event: handled next (the end, None, included)
        pending = _NOTHING
        sent_at = -pace  # loop time of the last message (paced streams)
        loop = asyncio.get_running_loop()
        while True:
            if pending is not _NOTHING:
                event, pending = pending, _NOTHING
            else:
                try:
                    event = await asyncio.wait_for(sub.queue.get(), HEARTBEAT_S)
                except asyncio.TimeoutError:
                    event = KEEP_ALIVE
            if event is KEEP_ALIVE or event is REFRESH:
                if await stale(sub):
                    return
                if event is KEEP_ALIVE:
                    yield ": keep-alive\n\n"
                continue
            if event is None:  # too far behind, or the hub could not catch up: the client reconnects
                return
            if event is RELOAD:
                cursor = sub.start_at(await run(db, head, db))
                caught.clear()
                had = _Had(cursor)
                yield reload_message(cursor)
                continue
            if not batch:
                if _fresh(event, caught, had):
                    cursor.add(event["id"])
                    yield format_event(event, cursor)
                continue
            if pace and (wait := sent_at + pace - loop.time()) > 0:
                await asyncio.sleep(wait)
            out = []
            while True:
                if _fresh(event, caught, had):
                    cursor.add(event["id"])
                    out.append(event)
                if len(out) >= BATCH_MAX or sub.queue.empty():
                    break
                event = sub.queue.get_nowait()
                if not isinstance(event, dict) or "id" not in event:  # keep-alive, refresh, reload, the end
                    pending = event
                    break
            if out:
                sent_at = loop.time()
                yield format_batch(out, cursor)
    finally:
        hub.unsubscribe(sub)


def _fresh(event: dict, caught: set[int], had: _Had | None) -> bool:
    """Not sent already: by the catch-up from the table (`caught`), or covered by where the stream started."""
    if event["id"] in caught:
        caught.discard(event["id"])
        return False
    return not (had is not None and had.covers(event["id"]))


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


def _cursor_of(request: Request) -> Cursor | None:
    return Cursor.parse(request.headers.get("last-event-id") or request.query_params.get("last_id") or "")


def _pace_of(text: str | None) -> int:
    """`?pace=` in ms: a whole number 0–PACE_MAX_MS (none: 0)."""
    if not text:
        return 0
    if not (text.isascii() and text.isdigit() and len(text) <= 4 and int(text) <= PACE_MAX_MS):
        raise Invalid("invalid-pace", f"pace must be a whole number of milliseconds from 0 to {PACE_MAX_MS}",
                      message_ru=f"pace — целое число миллисекунд от 0 до {PACE_MAX_MS}")
    return int(text)


@get("/events", opt={"permission": SIGNED_IN}, summary="Live events (server-sent events)")
async def events(request: Request) -> Stream:
    """Server-sent events the signed-in user may see; `Last-Event-ID` (or `?last_id=`) catches up; `?batch=1`:
    events queued together come in one `batch` message; `&pace=N` (0–1000): at most one message per N ms."""
    hub: Hub = request.app.state.hub
    db = request.app.state.db
    token = request.cookies.get(auth.Cookies.SESSION)

    async def stale(sub: Subscriber) -> bool:
        return await _stale(db, request, sub, token)

    batch = request.query_params.get("batch") == "1"
    pace = _pace_of(request.query_params.get("pace"))
    return Stream(stream(db, hub, auth.principal_of(request), _cursor_of(request), stale, batch, pace / 1000),
                  media_type="text/event-stream",
                  headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
