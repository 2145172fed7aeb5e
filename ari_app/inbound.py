"""Clients who call back (SPEC A1): where an inbound call goes — one pure function decides, the router carries it out.

`dialer-inbound` hands every call from the trunk to this Stasis app (`inbound`). The router answers it, finds the
latest lead with the caller's number, opens an inbound attempt and puts the client on hold (music). Then, while
the client waits, `decide` is asked again at each tick with the operators free now:
1. the operator who talked to this client last, if free (Ready, line up, no call in hand);
2. else the free operator of the lead's campaign pool who has been free longest;
3. else hold, up to `inbound_hold_s`;
4. else the client hears a message, the attempt ends LOST and the lead becomes a callback (to the last operator).
A client who hangs up on hold is LOST with a callback as well. An operator takes the call through their own actor
(`InboundOffered`: the machine accepts only when free, else declines and the router looks again), so the call is
that operator's attempt like any other: bridged, recorded, wrapped up; their panel shows the lead's card.
Ready operators whose campaign has a caller waiting are not given a new outgoing call meanwhile (`holds_for`).
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from dialer.listen import wake_loop

from . import events as ev
from . import inbound_store as store
from . import stasis

log = logging.getLogger(__name__)
TICK_S = 0.2
ORPHAN_AFTER_S = 10
OPERATOR, HOLD, GIVE_UP = "operator", "hold", "give_up"


# ---- the decision: pure ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class FreeOperator:
    operator_id: int
    free_since: float


@dataclass(frozen=True)
class Decision:
    action: str                     # operator | hold | give_up
    operator_id: int | None = None
    reason: str = ""


def decide(last_operator_id: int | None, pool: frozenset[int], free: list[FreeOperator], waited_s: float,
           hold_s: float, declined: frozenset[int] = frozenset()) -> Decision:
    """Where a waiting caller goes now. `pool`: the operators of the lead's campaign (empty: any operator);
    `declined`: operators who turned this call down a moment ago (busy after all) — not asked again at once."""
    candidates = [f for f in free if f.operator_id not in declined]
    if last_operator_id is not None and any(f.operator_id == last_operator_id for f in candidates):
        return Decision(OPERATOR, last_operator_id, "the operator who talked to this client last")
    in_pool = [f for f in candidates if not pool or f.operator_id in pool]
    if in_pool:
        first = min(in_pool, key=lambda f: (f.free_since, f.operator_id))
        return Decision(OPERATOR, first.operator_id, "free longest in the campaign's pool")
    if waited_s < hold_s:
        return Decision(HOLD, reason="nobody free: on hold")
    return Decision(GIVE_UP, reason=f"nobody free within {hold_s:g} s")


# ---- the router: carries the decisions out -----------------------------------------------------------------------
@dataclass
class Waiting:
    server: str
    channel: str
    caller: store.Caller
    attempt_id: int
    auto_ready: bool
    wrap_up_limit_s: int
    arrived: float                          # monotonic
    offered_to: int | None = None           # an offer is with this operator's actor
    declined: dict[int, float] = field(default_factory=dict)  # operator → when (monotonic)


class InboundRouter:
    def __init__(self, engine):
        self.engine = engine
        s = engine.settings
        self.hold_s, self.unknown_campaign, self.callback_sound = s.inbound_hold_s, s.inbound_unknown_campaign, \
            s.inbound_callback_sound
        self.waiting: dict[str, Waiting] = {}     # channel → caller on hold
        self.attempts: dict[str, int] = {}        # channel → attempt, for every inbound call not ended
        self.causes: dict[str, int] = {}          # channel → the cause of its hang-up request
        self.free_since: dict[int, float] = {}
        self.wake = asyncio.Event()
        self._restoring: asyncio.Task | None = None  # reading the calls an earlier run left (`_restored`)
        self._restore_failed = False
        self._unreconciled: set[str] = set()  # servers whose connect came while those calls could not be read

    # ---- ARI in (engine.on_event) ----------------------------------------------------------------------------------
    def translate(self, server: str, msg: dict, at: float):
        """Events about inbound channels (their ids are Asterisk's, not ours): (channel, machine event) for an
        operator's actor, or None when the router handles it itself."""
        kind, channel = msg.get("type"), msg.get("channel", {}).get("id", "")
        if kind == "StasisStart" and msg.get("args", [])[:1] == ["inbound"]:
            asyncio.get_running_loop().create_task(self._arrived(server, msg["channel"], at), name=f"inbound-{channel}")
            return None
        attempt_id = self.attempts.get(channel)
        if attempt_id is None:
            return None
        if kind == "ChannelHangupRequest" and msg.get("cause") is not None:
            self.causes[channel] = msg["cause"]
            return None
        # a channel that entered Stasis from the dialplan leaves it (StasisEnd) as it hangs up, and the app then hears
        # no ChannelDestroyed: its end is StasisEnd, with the cause of the hang-up request before it
        if kind in ("ChannelDestroyed", "StasisEnd"):
            self.attempts.pop(channel, None)
            cause = msg.get("cause", self.causes.pop(channel, 16))
            msg = {**msg, "cause": cause}
            w = self.waiting.pop(channel, None)
            if w is not None and w.offered_to is None:  # hung up on hold (no operator owns it)
                self._spawn(self._hung_up_waiting(w, msg.get("cause"), at))
                return None
            return channel, ev.ClientGone(attempt_id, msg.get("cause"), msg.get("cause_txt"), None, at=at)
        if kind == "ChannelEnteredBridge" and channel not in self.waiting:
            return channel, ev.ClientBridged(attempt_id, at=at)
        return None

    async def reconcile(self, server: str, channels: list[dict]) -> None:
        """After a (re)connect: a caller on hold whom this engine does not know (it restarted; their attempt was
        closed with a callback at start) is released rather than left with music for ever. Only callers older than
        ORPHAN_AFTER_S: one arriving right now is being taken in by `_arrived`."""
        client = self.engine.clients[server]
        if not await self._restored():  # the calls operators had taken are not known yet: none may be released
            log.warning("inbound calls on %s not reconciled yet: the previous run's calls are not read", server)
            self._unreconciled.add(server)  # done once they are (`_route_round`)
            return
        self._unreconciled.discard(server)
        now = time.time()
        for c in channels:
            if (c.get("dialplan", {}).get("context") != "dialer-inbound" or c["id"] in self.attempts
                    or now - stasis.event_time({"timestamp": c.get("creationtime")}, now) < ORPHAN_AFTER_S):
                continue
            log.warning("inbound caller %s on %s was left waiting by a restart: released (a callback is due)",
                        c["id"], server)
            self._spawn(self._message_and_hang_up(client, c["id"]))

    def holds_for(self, operator_id: int) -> bool:
        """A caller waits whom this operator may take: keep the operator free rather than dial out."""
        return any(not w.caller.pool or operator_id in w.caller.pool for w in self.waiting.values())

    # ---- the actors' answers (ari_app/runtime.py) ----------------------------------------------------------------------
    async def taken(self, actor, attempt_id: int, channel: str) -> None:
        w = self.waiting.pop(channel, None)
        if w is not None:
            try:
                await actor.client.stop_moh(channel)
            except Exception as e:  # the bridge's audio replaces it anyway
                log.debug("inbound %s: music not stopped: %s", channel, e)
        actor.write(store.taken, attempt_id, actor.oid, time.time())
        log.info("inbound attempt %s: taken by operator %s", attempt_id, actor.oid)

    def declined(self, operator_id: int, channel: str) -> None:
        w = self.waiting.get(channel)
        if w is not None:
            w.offered_to = None
            w.declined[operator_id] = time.monotonic()
            self.engine.routes.pop((w.server, channel), None)
            self.wake.set()

    # ---- the work -------------------------------------------------------------------------------------------------
    def _spawn(self, coro):
        return asyncio.get_running_loop().create_task(coro)

    async def _arrived(self, server: str, channel: dict, at: float) -> None:
        cid, number = channel.get("id", ""), channel.get("caller", {}).get("number", "")
        client = self.engine.clients[server]
        try:
            caller = await self.engine.db_run(store.find_caller, number, self.unknown_campaign)
            await client.request("POST", f"/channels/{cid}/answer")
            if caller.lead_id is None:  # an unknown number and no pool configured for them
                log.info("inbound call from %s: unknown number, no pool for unknown numbers", number)
                await self._message_and_hang_up(client, cid)
                return
            attempt_id, auto_ready, limit = await self.engine.db_run(store.open_attempt, caller, server, cid, at)
            self.attempts[cid] = attempt_id
            self.waiting[cid] = Waiting(server, cid, caller, attempt_id, auto_ready, limit, time.monotonic())
            await client.start_moh(cid)
            log.info("inbound call from %s: attempt %s, lead %s, last operator %s", number, attempt_id,
                     caller.lead_id, caller.last_operator_id)
            self.wake.set()
        except Exception as e:
            log.error("inbound call %s from %s not handled: %s", cid, number, e)
            self.waiting.pop(cid, None)
            try:
                await client.hangup(cid)
            except Exception:
                pass

    async def run(self) -> None:
        await self._restored()
        await wake_loop(self.wake, TICK_S, self._route_round, "inbound routing")

    async def _route_round(self) -> None:
        if not await self._restored():  # the database was away at start: read them before anything else
            return
        for server in list(self._unreconciled):  # the reconcile a connect could not do then
            await self.reconcile(server, await self.engine.clients[server].channels())
        await self._route_waiting()

    async def _restored(self) -> bool:
        """The inbound calls an earlier run left are known (read once, by whoever asks first: the reconcile of the
        first connect may come before `run`). Until they are, a call an operator had taken looks like a caller left
        on hold, and the reconcile would release it — the operator's call cut with a message. False: not read (the
        database is away); the next tick asks again."""
        if self._restoring is None or (self._restoring.done() and not self._restoring.result()):
            self._restoring = asyncio.get_running_loop().create_task(self._restore(), name="inbound-restore")
        return await asyncio.shield(self._restoring)

    async def _restore(self) -> bool:
        try:
            following = await self.engine.db_run(store.after_restart, time.time())
        except Exception as e:  # asked again at each tick: said once
            log.log(logging.DEBUG if self._restore_failed else logging.WARNING,
                    "inbound calls of the previous run not looked at yet (%s)", e)
            self._restore_failed = True
            return False
        self.attempts.update(following)
        if following:
            log.info("inbound: %d taken calls of the previous run followed again", len(following))
        return True

    def _free_operators(self) -> list[FreeOperator]:
        now = time.monotonic()
        free = []
        for oid, actor in self.engine.actors.items():
            s = actor.state
            if s.status == "ready" and s.leg and s.in_bridge and not s.call and not s.claiming:
                free.append(FreeOperator(oid, self.free_since.setdefault(oid, now)))
            else:
                self.free_since.pop(oid, None)
        return free

    async def _route_waiting(self) -> None:
        if not self.waiting:
            return
        free = self._free_operators()
        now = time.monotonic()
        offered = {w.offered_to for w in self.waiting.values() if w.offered_to is not None}
        for w in sorted(self.waiting.values(), key=lambda w: w.arrived):  # first come, first served
            if w.offered_to is not None:
                continue
            recent = frozenset(o for o, t in w.declined.items() if now - t < 1.0) | offered
            d = decide(w.caller.last_operator_id, w.caller.pool, free, now - w.arrived, self.hold_s, recent)
            if d.action == OPERATOR:
                actor = self.engine.actors[d.operator_id]
                w.offered_to = d.operator_id
                offered.add(d.operator_id)
                free = [f for f in free if f.operator_id != d.operator_id]
                self.engine.route(w.server, w.channel, actor)
                actor.post(ev.InboundOffered(w.attempt_id, w.channel, w.auto_ready, w.wrap_up_limit_s, at=time.time()))
                log.info("inbound attempt %s: offered to operator %s (%s)", w.attempt_id, d.operator_id, d.reason)
            elif d.action == GIVE_UP:
                self.waiting.pop(w.channel, None)
                self.attempts.pop(w.channel, None)
                self._spawn(self._give_up(w))

    async def _give_up(self, w: Waiting) -> None:
        client = self.engine.clients[w.server]
        log.info("inbound attempt %s: nobody free within %s s; message and a callback", w.attempt_id, self.hold_s)
        try:
            await self.engine.db_run(store.gave_up, w.attempt_id, time.time(), "nobody free: callback scheduled",
                                     True, w.caller.last_operator_id)
        except Exception as e:
            log.error("inbound attempt %s: callback not scheduled: %s", w.attempt_id, e)
        try:
            await client.stop_moh(w.channel)
        except Exception:
            pass
        await self._message_and_hang_up(client, w.channel)

    async def _hung_up_waiting(self, w: Waiting, cause, at: float) -> None:
        log.info("inbound attempt %s: the client hung up on hold; a callback", w.attempt_id)
        try:
            await self.engine.db_run(store.gave_up, w.attempt_id, at, "the client hung up on hold", True,
                                     w.caller.last_operator_id, cause)
        except Exception as e:
            log.error("inbound attempt %s: not closed: %s", w.attempt_id, e)

    async def _message_and_hang_up(self, client, channel: str) -> None:
        playback = f"inbound-msg-{channel}"
        try:
            await client.play(channel, f"sound:{self.callback_sound}", playback)
            deadline = time.monotonic() + 30
            while await client.playing(playback) and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
        except Exception as e:
            log.warning("inbound %s: message not played: %s", channel, e)
        try:
            await client.hangup(channel)
        except Exception:
            pass
