"""The engine process: loads operators, listens to ARI and to commands, reconciles on every connect."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import psycopg2

from dialer import db as dbm
from dialer.settings import Settings

from . import attempt as am
from . import events as ev
from . import operator as om
from . import stasis, store
from .classifier import AttemptFacts
from .client import AriClient
from .runtime import OperatorActor

log = logging.getLogger(__name__)
COMMAND_TTL_S = 600
COMMANDS = {"ready": lambda p: ev.ReadyRequested(), "pause": lambda p: ev.PauseRequested("paused"),
            "lunch": lambda p: ev.PauseRequested("lunch"), "hangup": lambda p: ev.HangupRequested(),
            "answer": lambda p: ev.AnswerRequested(), "dial": lambda p: ev.DialRequested(int(p["lead_id"])),
            "auto_answer": lambda p: ev.AutoAnswerSet(_flag(p["on"])),
            "wrap_up": lambda p: ev.WrapUpSubmitted(int(p["attempt_id"]), str(p.get("result", "")),
                                                    str(p.get("comment") or ""), p.get("postpone_minutes"))}


class Engine:
    def __init__(self, settings: Settings, db):
        self.settings = settings
        self.db = db
        self.nonce = secrets.token_hex(3)
        self.clients = {s.name: AriClient(s, settings.app_name) for s in settings.asterisk_servers}
        self.actors: dict[int, OperatorActor] = {}
        self.routes: dict[tuple[str, str], OperatorActor] = {}
        self.tasks: list[asyncio.Task] = []
        self._last_command = 0  # commands up to this id are dispatched in this run
        self.loop: asyncio.AbstractEventLoop | None = None
        record = os.environ.get("DIALER_ARI_RECORD")
        self._recording = open(record, "a") if record else None

    async def db_run(self, fn, *args):
        return await dbm.run(self.db, fn, self.db, *args)

    def later(self, delay: float, fn) -> asyncio.TimerHandle:
        return self.loop.call_later(delay, fn)

    def route(self, server: str, channel: str, actor: OperatorActor) -> None:
        self.routes[(server, channel)] = actor

    # ---- start -------------------------------------------------------------------------------------
    async def start(self) -> None:
        self.loop = asyncio.get_running_loop()
        # database work runs in threads: as many as pooled connections, not the default handful
        self.loop.set_default_executor(ThreadPoolExecutor(self.settings.db_pool_size, "db"))
        for record in await self.db_run(store.load_operators):
            self._add_actor(record)
        for name, client in self.clients.items():
            self.tasks.append(asyncio.create_task(
                client.run_events(lambda msg, n=name: self.on_event(n, msg), lambda n=name: self.reconcile(n)),
                name=f"ari-{name}"))
        self.tasks.append(asyncio.create_task(self._listen_commands(), name="commands"))
        log.info("engine started (%d operators, servers: %s)", len(self.actors), ", ".join(self.clients))

    async def stop(self) -> None:
        for task in self.tasks + [t for a in self.actors.values() for t in (a.task, a.writer)]:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for client in self.clients.values():
            await client.close()

    def _add_actor(self, r: store.OperatorRecord) -> OperatorActor:
        client = self.clients.get(r.server) or next(iter(self.clients.values()))
        state = restore_state(r, self.nonce, self.settings.operator_leg_nailed)
        actor = OperatorActor(self, state, r.login, client)
        if state.leg:
            self.route(client.name, state.leg, actor)
        if state.call:
            self.route(client.name, state.call.channel, actor)
        actor.task = asyncio.create_task(actor.run(), name=f"operator-{r.operator_id}")
        actor.writer = asyncio.create_task(actor.run_writes(), name=f"operator-{r.operator_id}-db")
        self.actors[r.operator_id] = actor
        return actor

    # ---- ARI in ------------------------------------------------------------------------------------
    def on_event(self, server: str, msg: dict) -> None:
        if self._recording:  # DIALER_ARI_RECORD: keep the raw events, e.g. for test fixtures
            self._recording.write(json.dumps(msg) + "\n")
            self._recording.flush()
        found = stasis.translate(msg, time.time())
        if found is None:
            return
        channel, event = found
        actor = self.routes.get((server, channel))
        if actor is None:
            log.debug("ignored %s for %s: no operator owns this channel", type(event).__name__, channel)
            return
        if isinstance(event, (ev.LegGone, ev.ClientGone)):
            self.routes.pop((server, channel), None)
        actor.post(event)

    async def reconcile(self, server: str) -> None:
        """After a (re)connect: every operator compares its leg and attempt with what Asterisk has now."""
        client = self.clients[server]
        listed_at = time.monotonic()
        channels = await client.channels()
        bridges = await client.bridges()
        live = frozenset(c["id"] for c in channels)
        bridged = frozenset(ch for b in bridges for ch in b.get("channels", []))
        known = {ch for (srv, ch) in self.routes if srv == server}
        for c in channels:  # ours by name, but nobody's any more: a leftover of a crash
            if stasis.own_channel(c["id"]) and c["id"] not in known:
                log.warning("hanging up orphan channel %s on %s", c["id"], server)
                await client.hangup(c["id"])
        for actor in self.actors.values():
            if actor.client is client:
                actor.post(ev.Resync(live, bridged, listed_at, at=time.time()))
        log.info("reconciled %s: %d channels, %d bridges", server, len(channels), len(bridges))

    # ---- commands in ---------------------------------------------------------------------------------
    async def _listen_commands(self) -> None:
        while True:
            conn = None
            try:
                conn = await asyncio.to_thread(_listening_connection, self.settings.dsn)
                woken = asyncio.Event()
                self.loop.add_reader(conn.fileno(), woken.set)
                while True:
                    await self._take_commands()
                    await _wait(woken, 5)
                    woken.clear()
                    conn.poll()
                    conn.notifies.clear()
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("command listener: %s; reconnecting", e)
                await asyncio.sleep(1)
            finally:
                if conn is not None:
                    self.loop.remove_reader(conn.fileno())
                    conn.close()

    async def _take_commands(self) -> None:
        for cmd in await self.db_run(store.pending_commands, self._last_command):
            self._last_command = cmd.id
            age = time.time() - cmd.created_at.timestamp()
            if age > COMMAND_TTL_S:  # e.g. a Ready pressed while the engine was down for an hour
                await self.db_run(store.command_done, cmd.id, f"expired: not handled within {COMMAND_TTL_S} s")
                continue
            try:
                event = COMMANDS[cmd.kind](cmd.payload or {})
                event = type(event)(**{**event.__dict__, "at": cmd.created_at.timestamp()})
            except (KeyError, ValueError, TypeError) as e:
                await self.db_run(store.command_done, cmd.id, f"malformed command: {e}")
                continue
            actor = self.actors.get(cmd.operator_id)
            if actor is None:
                records = await self.db_run(store.load_operators, cmd.operator_id)
                if not records:
                    await self.db_run(store.command_done, cmd.id, "operator-not-found")
                    continue
                actor = self._add_actor(records[0])
            actor.post(event, command_id=cmd.id)


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {value!r}")
    return value


def _listening_connection(dsn: dict):
    conn = psycopg2.connect(**dsn)
    conn.autocommit = True
    conn.cursor().execute("LISTEN engine_command")
    return conn


async def _wait(event: asyncio.Event, timeout: float) -> None:
    try:
        await asyncio.wait_for(event.wait(), timeout)
    except asyncio.TimeoutError:
        pass  # look anyway: a missed notification must not strand a command


def restore_state(r: store.OperatorRecord, nonce: str, nailed: bool) -> om.OperatorState:
    """Rebuild an operator's machine from the database after a start; Resync then checks it against Asterisk."""
    status = r.status
    call, wrap_up, limit = None, None, 0
    a = r.attempt
    if a and a["ended_at"] is None:
        phase = (am.BRIDGED if a["bridged_at"] else am.ANSWERED if a["answered_at"] else
                 am.RINGING if a["ringing_at"] else am.DIALING if a["dial_started_at"] else am.RESERVED)
        facts = AttemptFacts(answered=a["answered_at"] is not None, bridged=a["bridged_at"] is not None)
        waiting = phase == am.RESERVED and a["offer_expires_at"] is not None and a["offer_accepted_at"] is None
        call = am.AttemptState(a["id"], a["client_channel"] or f"at{a['id']}-lost", phase, facts,
                               a["auto_ready"], a["wrap_up_limit_s"], accepted=not waiting, manual=a["manual"])
    elif a and a["wrap_up_at"] is None and a["outcome"] == "ANSWERED":
        status, wrap_up, limit = om.WRAP_UP, a["id"], a["wrap_up_limit_s"]
    wants = om.READY if status in (om.READY, om.IN_CALL, om.WRAP_UP) else status
    return om.OperatorState(r.operator_id, status=status, wants=wants, leg=r.leg, call=call,
                            wrap_up_attempt=wrap_up, wrap_up_limit_s=limit, nailed=nailed, nonce=nonce,
                            auto_answer=r.auto_answer, missed_offers=r.missed_offers)
