"""The engine process: loads operators, listens to ARI and to commands, reconciles on every connect."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

from dialer import db as dbm
from dialer.listen import listen
from dialer.settings import Settings

from . import attempt as am
from . import events as ev
from . import operator as om
from . import servers, stasis, store
from .classifier import AttemptFacts
from .client import AriClient
from .health import engine_reporter
from .intake import CommandIntake
from .inbound import InboundRouter
from .predictive import PredictiveDialer
from .recording import Recorder
from .runtime import OperatorActor
from .writes import run_in_order

log = logging.getLogger(__name__)
STOP_DRAIN_S = 3  # within dialer.run's 5 s for stopping a part
COMMAND_CHANNEL = "engine_command"  # NOTIFYed by the table's trigger at each insert's commit
LEADS_CHANNEL = "engine_leads"  # NOTIFYed when something may bring idle operators a lead (sql/026)
COMMAND_WAKE_S = 5  # look anyway this often: a missed notification must not strand a command
SERVER_CHECK_S = 0.5  # how often a server whose event websocket is down is probed (ari_app/servers.py)
LINE_WENT_WITH_SERVER_S = 3.0  # an operator paused this long before a lost server's websocket dropped: by the loss


class Engine:
    def __init__(self, settings: Settings, db):
        self.settings = settings
        self.db = db
        self.nonce = secrets.token_hex(3)
        self.clients = {s.name: AriClient(s, settings.app_name) for s in settings.asterisk_servers}
        self.actors: dict[int, OperatorActor] = {}
        self.routes: dict[tuple[str, str], OperatorActor] = {}
        self.tasks: list[asyncio.Task] = []
        self.intake = CommandIntake(self.db_run, self._actor_for)
        self.health = engine_reporter(self)  # its row per Asterisk server, for the health check and «Мониторинг»
        self.recorder = Recorder(self)  # answered calls of recording campaigns (ari_app/recording.py)
        self.inbound = InboundRouter(self)  # clients calling back (ari_app/inbound.py)
        self.predictive = PredictiveDialer(self)  # predictive campaigns' calls and held clients (ari_app/predictive.py)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lost: set[str] = set()  # servers found gone whose calls were closed; cleared at their reconnect
        record = os.environ.get("DIALER_ARI_RECORD")
        self._recording = open(record, "a") if record else None

    async def db_run(self, fn, *args):
        """`fn(db, *args)` in a thread on a pooled connection; the actors retry what must be written
        (ari_app/writes.py), so a failure is raised here as it is, never swallowed."""
        return await dbm.run(self.db, fn, self.db, *args)

    async def db_run_many(self, works: list) -> list:
        """Several `(fn, args)` of one actor's ordered writes in one thread hop (ari_app/writes.py)."""
        return await dbm.run(self.db, run_in_order, self.db, works)

    def write_backlog(self) -> int:
        """Database writes waiting across all operators (0 when the database keeps up): for the health check.
        Nonzero for more than a moment means PostgreSQL is unreachable; the log says since when."""
        return sum(len(actor.writes) for actor in self.actors.values()) + len(self.predictive.writes)

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
        await self.predictive.load()  # its open calls are known (routed) before the first reconcile
        for name, client in self.clients.items():
            self.tasks.append(asyncio.create_task(
                client.run_events(lambda msg, n=name: self.on_event(n, msg), lambda n=name: self.reconcile(n)),
                name=f"ari-{name}"))
            self.tasks.append(asyncio.create_task(self._watch_server(name), name=f"watch-{name}"))
        self.tasks.append(asyncio.create_task(self._listen_commands(), name="commands"))
        self.tasks.append(asyncio.create_task(self.health.run(), name="health"))
        self.tasks.append(asyncio.create_task(self.recorder.run(), name="recordings"))
        self.tasks.append(asyncio.create_task(self.inbound.run(), name="inbound"))
        self.tasks.append(asyncio.create_task(self.predictive.run(), name="predictive"))
        self.tasks.append(asyncio.create_task(self.predictive.run_writes(), name="predictive-db"))
        log.info("engine started (%d operators, servers: %s)", len(self.actors), ", ".join(self.clients))

    async def stop(self) -> None:
        # writes still waiting (the database slow or away) get a moment; what is left after it is found again
        # at the next start (restore_state and the reconcile close what the database still shows open)
        deadline = time.monotonic() + STOP_DRAIN_S
        while self.write_backlog() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.write_backlog():
            log.warning("stopping with %d database writes not written", self.write_backlog())
        for task in self.tasks + [t for a in self.actors.values() for t in (a.task, a.writer)]:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        for client in self.clients.values():
            await client.close()

    def _add_actor(self, r: store.OperatorRecord) -> OperatorActor:
        client = self.clients.get(r.server) or next(iter(self.clients.values()))
        state = restore_state(r, self.nonce, self.settings.operator_leg_nailed)
        actor = OperatorActor(self, state, r.login, client)
        actor.saved = (r.status, r.leg)  # as written: a status restore_state corrected is written at the first event
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
        found = stasis.translate(msg, time.time()) or self.inbound.translate(server, msg, time.time())
        if found is None:
            self.recorder.event(msg)  # its leg snoops' ends
            return
        channel, event = found
        actor = self.routes.get((server, channel))
        if actor is None:
            log.debug("ignored %s for %s: no operator owns this channel", type(event).__name__, channel)
            return
        if isinstance(event, (ev.LegGone, ev.ClientGone)):
            self.routes.pop((server, channel), None)
        actor.post(event)

    async def _watch_server(self, server: str) -> None:
        """A server whose websocket is down and whose REST refuses for `asterisk_lost_after_s` is lost."""
        client = self.clients[server]
        down_since = None
        while True:
            await asyncio.sleep(SERVER_CHECK_S)
            if client.connected.is_set() or server in self.lost or await client.reachable():
                down_since = None
                continue
            down_since = down_since or time.monotonic()
            if time.monotonic() - down_since >= self.settings.asterisk_lost_after_s:
                await self.server_lost(server)

    async def server_lost(self, server: str) -> None:
        """Its operators paused with the reason, their calls closed and classified (ari_app/servers.py); the
        other servers' calls are not touched."""
        self.lost.add(server)
        client = self.clients[server]
        reason = servers.reason_text(server)[0]
        actors = [a for a in self.actors.values() if a.client is client]
        for key in [k for k, actor in self.routes.items() if k[0] == server and actor in actors]:
            del self.routes[key]  # should it come back with the calls still up, the reconcile hangs them up
        for actor in actors:
            actor.post(servers.ServerLost(reason, at=time.time(), code=servers.pause_code(server)))
        try:
            await self.predictive.resync(server, [], [])  # its predictive calls are gone too
        except Exception:
            log.exception("predictive calls of the lost server %s not closed", server)
        log.error("%s: its %d operators paused, their calls closed", reason, len(actors))
        try:
            since = client.state_since - LINE_WENT_WITH_SERVER_S
            await self.db_run(servers.note_recent_pauses, [a.oid for a in actors], servers.pause_code(server), since)
            await self.db_run(servers.raise_alert, server)
        except Exception as e:
            log.warning("alert for the lost server %s not written: %s", server, e)

    async def reconcile(self, server: str) -> None:
        """After a (re)connect: every operator compares its leg and attempt with what Asterisk has now."""
        client = self.clients[server]
        if server in self.lost:
            self.lost.discard(server)
            log.warning("Asterisk server %s is back", server)
            try:
                await self.db_run(servers.clear_alert, server)
            except Exception as e:
                log.warning("alert for the server %s not cleared: %s", server, e)
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
        await self.inbound.reconcile(server, channels)  # callers on hold a restart left behind
        await self.recorder.reconcile(client, channels)  # the operators' leg snoops (ari_app/recording.py)
        for actor in self.actors.values():
            if actor.client is client:
                actor.post(ev.Resync(live, bridged, listed_at, at=time.time()))
        await self.predictive.resync(server, channels, bridges)
        log.info("reconciled %s: %d channels, %d bridges", server, len(channels), len(bridges))

    # ---- commands in ---------------------------------------------------------------------------------
    async def _listen_commands(self) -> None:
        async with contextlib.aclosing(listen(self.settings.dsn, [COMMAND_CHANNEL, LEADS_CHANNEL],
                                              wake_s=COMMAND_WAKE_S, name="dialer-engine-commands")) as wakes:
            async for wake in wakes:  # a notification, a reconnect or the periodic wake: read what is waiting
                leads = sum(n.channel == LEADS_CHANNEL for n in wake.notifies)
                if leads or wake.connected:  # after a reconnect a lead's news may have been missed
                    self.wake_claims()
                if leads and leads == len(wake.notifies) and not wake.connected:
                    continue  # news of leads only: no command to read
                try:
                    await self._take_commands()
                except Exception as e:  # e.g. the database is restarting: the commands wait in their table
                    log.warning("engine commands not read (%s); trying again at the next wake", e)

    def wake_claims(self) -> None:
        """Leads may have become callable: idle operators waiting for their next look look now."""
        woken = sum(actor.wake_claim() for actor in self.actors.values())
        if woken:
            log.debug("%d idle operators look for a lead again", woken)

    async def _take_commands(self) -> None:
        await self.intake.take()

    async def _actor_for(self, operator_id: int) -> OperatorActor | None:
        """The operator's actor; one added at the first command of an operator created while running."""
        actor = self.actors.get(operator_id)
        if actor is None:
            records = await self.db_run(store.load_operators, operator_id)
            if not records:
                return None
            actor = self.actors.get(operator_id) or self._add_actor(records[0])
        elif len(self.clients) > 1 and servers.movable(actor.state):
            await self._follow_server(actor)
        return actor

    async def _follow_server(self, actor: OperatorActor) -> None:
        """An operator whose device was moved to another server calls through it from their next command on (one
        that holds a line or a call keeps its server until they are free)."""
        try:
            server = await self.db_run(servers.operator_server, actor.oid)
        except Exception as e:  # the command is handled on the server known; the next one looks again
            log.warning("operator %s: server not read (%s)", actor.oid, e)
            return
        if server in self.clients and server != actor.client.name and servers.movable(actor.state):
            log.info("operator %s: now on Asterisk server %s (was %s)", actor.oid, server, actor.client.name)
            actor.client = self.clients[server]


def restore_state(r: store.OperatorRecord, nonce: str, nailed: bool) -> om.OperatorState:
    """Rebuild an operator's machine from the database after a start; Resync then checks it against Asterisk.

    The status row is written after the work it follows (a claim, an attempt's end, a wrap-up are each
    committed before the status they lead to), so an engine killed between two writes leaves a status one
    step behind: "wrap_up" over a new call already claimed, or over a wrap-up already written; "in_call"
    over a call already ended. The held attempt says where the operator really was; the status is taken
    from it, never trusted alone (a stale "wrap_up" with nothing to wrap up would wait for ever)."""
    status = r.status
    wants = status if status in (om.PAUSED, om.LUNCH, om.OFFLINE) else om.READY
    call, wrap_up, limit = None, None, 0
    a = r.attempt
    if a and a["ended_at"] is None:
        phase = (am.BRIDGED if a["bridged_at"] else am.ANSWERED if a["answered_at"] else
                 am.RINGING if a["ringing_at"] else am.DIALING if a["dial_started_at"] else am.RESERVED)
        facts = AttemptFacts(answered=a["answered_at"] is not None, bridged=a["bridged_at"] is not None)
        waiting = phase == am.RESERVED and a["offer_expires_at"] is not None and a["offer_accepted_at"] is None
        call = am.AttemptState(a["id"], a["client_channel"] or f"at{a['id']}-lost", phase, facts,
                               a["auto_ready"], a["wrap_up_limit_s"], accepted=not waiting, manual=a["manual"])
        if phase in (am.ANSWERED, am.BRIDGED):
            status = om.IN_CALL  # the client is with the operator (the machine's status from the answer on)
        elif status in (om.IN_CALL, om.WRAP_UP):
            status = om.READY  # claimed after the last call; the Ready before it was not written yet
    elif a and a["wrap_up_at"] is None and a["outcome"] == "ANSWERED":
        status, wrap_up, limit = om.WRAP_UP, a["id"], a["wrap_up_limit_s"]
    elif status in (om.IN_CALL, om.WRAP_UP):
        # the call ended (and its wrap-up, if any, is written): where the machine went next, by the campaign
        status = wants = om.READY if r.last_auto_ready else om.PAUSED
    return om.OperatorState(r.operator_id, status=status, wants=wants, leg=r.leg, call=call,
                            wrap_up_attempt=wrap_up, wrap_up_limit_s=limit, nailed=nailed, nonce=nonce,
                            auto_answer=r.auto_answer, missed_offers=r.missed_offers)
