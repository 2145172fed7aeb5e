"""Predictive dialling in the engine (SPEC B2, B3, B4): the pacer (ari_app/pacer.py) says how many client calls to
start now; answered clients go to the campaign's free operators or wait on hold (ari_app/holding.py).

For a campaign in predictive mode the calls are the campaign's, not an operator's: `PredictiveDialer` claims the
campaign's leads itself (attempts opened with no operator) and places as many calls as `pacer.decide` says, from
what the engine knows now — the pool's operators Ready, talking and in wrap-up (with their elapsed times), the
calls in flight, the clients on hold — and what the campaign measured (ari_app/predictive_store.measures). The
operators of an active predictive campaign's pool claim no calls for themselves meanwhile (`feeds`).

Each call is followed by the pure attempt machine (ari_app/attempt.py), so its outcome comes from the one
classifier. An answered client is offered at once to the pool's operator free longest, through that operator's
own actor (`InboundOffered`, the same hand-over as a client calling back: the machine takes it only when free,
else declines). With nobody free the client waits in the campaign's holding bridge with music, and is offered
again the moment an operator is free. Past the campaign's wait-for-operator timeout the client hears a short
message and is hung up: LOST. A client not joined within the grace counts as abandoned in the pacer's record
(predictive_store._ABANDONED), whether joined later or not.

After an engine restart, attempts no operator took are loaded again (`load`) and checked against Asterisk at the
reconnect (`resync`): a client still on hold keeps waiting (its timeout counted from its answer), one answered
meanwhile is offered or held, one gone is closed and classified.
"""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, replace

from dialer.listen import wake_loop

from . import attempt as am
from . import events as ev
from . import holding, pacer
from . import predictive_store as pstore
from . import store
from .classifier import AttemptFacts
from .client import AriError
from .writes import NotTried, OrderedWrites

log = logging.getLogger(__name__)
TICK_S = 0.2          # the pacer and the holding room are looked at this often (and at once on an answer or end)
REFRESH_S = 2.0       # the campaigns' settings, pools and measures are read again this often


# ---- the pacer's view of the engine: pure ----------------------------------------------------------------------------
@dataclass(frozen=True)
class OperatorView:
    operator_id: int
    status: str           # the machine's status
    free: bool            # Ready, line up in their bridge, no call in hand
    elapsed: float        # seconds in this status
    offered: bool = False  # free, but a client is being handed to them


@dataclass(frozen=True)
class CallView:
    campaign_id: int
    answered: bool
    elapsed: float        # since dialled (not answered) or since answered


def pace_input(c: pstore.CampaignPacing, m: pstore.Measures, ops: list[OperatorView],
               calls: list[CallView]) -> pacer.PaceInput:
    """What the pacer is given for one campaign: its pool's operators, its calls, its measures and settings."""
    pool = [o for o in ops if not c.pool or o.operator_id in c.pool]
    mine = [x for x in calls if x.campaign_id == c.campaign_id]
    flying = [x.elapsed for x in mine if not x.answered]
    return pacer.PaceInput(
        mode=pacer.PREDICTIVE, ready=sum(o.free for o in pool),
        in_call=tuple(o.elapsed for o in pool if o.status == "in_call"),
        in_wrap=tuple(o.elapsed for o in pool if o.status == "wrap_up"),
        dialing=len(flying), dialing_for=tuple(flying), waiting=sum(x.answered for x in mine),
        waiting_for=tuple(x.elapsed for x in mine if x.answered),
        dialled=m.dialled, answered=m.answered, talk=m.talk, wrap=m.wrap, answer_delays=m.answer_delays,
        fail_delays=m.fail_delays, grace_s=c.grace_s, windows=m.windows, max_ratio=c.max_ratio, cap=c.cap,
        min_dialled=c.min_sample_calls)


# ---- one call no operator holds yet ---------------------------------------------------------------------------
class Call:
    """A predictive client call: dialling, ringing, answered or on hold. It sits in the engine's routes in place of
    an operator's actor, so ARI events about its channel come to `post`."""

    def __init__(self, dialer: "PredictiveDialer", server: str, campaign_id: int, state: am.AttemptState,
                 timeout_s: float, auto_ready: bool, wrap_up_limit_s: int, lead: store.ClaimedLead | None = None):
        self.dialer, self.server, self.campaign_id, self.state = dialer, server, campaign_id, state
        self.timeout_s, self.auto_ready, self.wrap_up_limit_s, self.lead = timeout_s, auto_ready, wrap_up_limit_s, lead
        self.dialled = time.monotonic()
        self.answered: float | None = None       # monotonic
        self.answered_wall: float | None = None
        self.holding = False                     # put on hold (asked of Asterisk)
        self.held = False                        # in the holding bridge (its event seen, or listed after a restart)
        self.offered_to: int | None = None
        self.declined: list[tuple[int, float]] = []
        self.giving_up = False
        self.harboured = False                   # the safe-harbour message started (it is heard once)

    @property
    def channel(self) -> str:
        return self.state.channel

    @property
    def attempt_id(self) -> int:
        return self.state.attempt_id

    def post(self, event, command_id=None) -> None:
        self.dialer.on_event(self, event)


class PredictiveDialer:
    def __init__(self, engine):
        self.engine = engine
        self.calls: dict[str, Call] = {}                      # channel → call no operator holds
        self.campaigns: dict[int, pstore.CampaignPacing] = {}
        self.measures: dict[int, pstore.Measures] = {}
        self.fed: frozenset[int] = frozenset()                # operators of the active predictive campaigns' pools
        self.free_since: dict[int, float] = {}
        self.since: dict[int, tuple[str, float]] = {}        # operator → (status, since when, monotonic)
        self.wake = asyncio.Event()
        self.writes = OrderedWrites(engine.db_run, "predictive dialling")
        self._refreshed = 0.0
        self.nothing_until: dict[int, float] = {}  # campaign → no lead to call, look again after this (monotonic)
        self.decisions = 0  # pacer decisions that placed calls (for the log and the tests)
        # B3's rule and the campaign's stop (dialer/services/pacing.py), given by dialer.run, which composes the
        # engine (the engine does not import the services); None: no autostop
        self.autostop = None

    # ---- the operators' actors ask (ari_app/runtime.py) -------------------------------------------------------------
    def feeds(self, operator_id: int) -> bool:
        """The operator is in an active predictive campaign's pool: its calls come from here, not their own claims."""
        return operator_id in self.fed

    def holds(self, channel: str) -> bool:
        return channel in self.calls

    async def taken(self, actor, attempt_id: int, channel: str) -> None:
        """The operator's machine took the client: out of the holding bridge, the attempt becomes theirs."""
        call = self.calls.pop(channel, None)
        if call is None:
            return
        if call.holding:
            try:
                await holding.take_off_hold(actor.client, call.campaign_id, channel)
            except AriError as e:  # adding it to the operator's bridge may still succeed; it says if not
                log.warning("predictive attempt %s: not taken off hold: %s", attempt_id, e)
        if call.harboured:
            await holding.stop_harbour(actor.client, channel)
        waited = time.monotonic() - (call.answered or time.monotonic())
        actor.write(pstore.joined, attempt_id, actor.oid, time.time(), waited)
        log.info("predictive attempt %s: joined to operator %s after %.2f s", attempt_id, actor.oid, waited)

    def declined(self, operator_id: int, channel: str) -> None:
        call = self.calls.get(channel)
        if call is None:
            return
        call.offered_to = None
        call.declined.append((operator_id, time.monotonic()))
        self.engine.route(call.server, channel, call)
        self.wake.set()

    # ---- start, the loop ---------------------------------------------------------------------------------------------
    async def load(self) -> None:
        """Predictive attempts left open by the last run (before the first reconnect reconciles them)."""
        now_wall, now = time.time(), time.monotonic()
        for (attempt_id, channel, campaign_id, server, dialled, ringing, answered, timeout_s, auto_ready,
             wrap_limit) in await self.engine.db_run(pstore.open_calls):
            if server not in self.engine.clients or not channel:
                server = next(iter(self.engine.clients))
            channel = channel or f"at{attempt_id}-lost"
            phase = am.ANSWERED if answered else am.RINGING if ringing else am.DIALING if dialled else am.RESERVED
            state = am.AttemptState(attempt_id, channel, phase, AttemptFacts(answered=answered is not None))
            call = Call(self, server, campaign_id, state, timeout_s, auto_ready, wrap_limit)
            if answered:
                call.answered, call.answered_wall = now - max(0.0, now_wall - answered), answered
            self._adopt(call)
        if self.calls:
            log.info("predictive: %d open calls to re-adopt", len(self.calls))

    def _adopt(self, call: Call) -> None:
        self.calls[call.channel] = call
        self.engine.route(call.server, call.channel, call)

    async def run_writes(self) -> None:
        await self.writes.run()

    async def run(self) -> None:
        await wake_loop(self.wake, TICK_S, self.tick, "predictive dialling: tick")

    async def tick(self) -> None:
        now = time.monotonic()
        if now - self._refreshed >= REFRESH_S:
            await self._refresh()
        ops = self._operators(now)
        self._hold_room(ops, now)
        for c in list(self.campaigns.values()):
            if self.nothing_until.get(c.campaign_id, 0.0) > now:
                continue
            views = [CallView(x.campaign_id, x.answered is not None, now - (x.answered or x.dialled))
                     for x in self.calls.values()]
            decision = pacer.decide(pace_input(c, self.measures.get(c.campaign_id, pstore.Measures()), ops, views))
            placed = 0
            while placed < decision.dials and await self._dial(c):
                placed += 1
            if placed:
                self.decisions += 1
                log.info("campaign %s: %d of %d calls placed (%s, %s, ratio %.2f, risk %.3f)", c.campaign_id, placed,
                         decision.dials, decision.mode, decision.why, decision.ratio, decision.risk)

    async def _refresh(self) -> None:
        try:
            campaigns = await self.engine.db_run(pstore.campaigns)
            measures = {c.campaign_id: await self.engine.db_run(pstore.measures, c) for c in campaigns}
        except Exception as e:
            log.warning("predictive dialling: campaigns not read (%s); keeping the last ones", e)
            self._refreshed = time.monotonic() - REFRESH_S + 1
            return
        self.campaigns = {c.campaign_id: c for c in campaigns}
        self.measures = measures
        self.fed = frozenset(o for c in campaigns for o in c.pool)
        self._refreshed = time.monotonic()

    def _operators(self, now: float) -> list[OperatorView]:
        out = []
        offered = {c.offered_to for c in self.calls.values() if c.offered_to is not None}
        for oid, actor in self.engine.actors.items():
            s = actor.state
            free = s.status == "ready" and bool(s.leg) and s.in_bridge and not s.call and not s.claiming
            seen = self.since.get(oid)
            if seen is None or seen[0] != s.status:
                seen = self.since[oid] = (s.status, now)
            if free and oid not in offered:
                self.free_since.setdefault(oid, now)
            else:
                self.free_since.pop(oid, None)
            if s.status in ("ready", "in_call", "wrap_up") and (free or s.status != "ready" or s.call):
                out.append(OperatorView(oid, "in_call" if s.status == "ready" and s.call else s.status, free,
                                        now - seen[1], oid in offered))
        return out

    # ---- dialling ----------------------------------------------------------------------------------------------------
    async def _dial(self, c: pstore.CampaignPacing) -> bool:
        client = self._client_for(c)
        at = time.time()
        if self.writes.full or not client.connected.is_set():
            return False  # no call whose events nobody would hear; no writes piling up
        try:
            lead = await self.writes.ask(pstore.claim, c.campaign_id, client.name, self.engine.nonce, at)
        except NotTried:
            return False
        except Exception as e:
            log.warning("campaign %s: claim failed: %s", c.campaign_id, e)
            return False
        if lead is None:  # nothing callable now: ask again after the engine's claim interval, not every tick
            self.nothing_until[c.campaign_id] = time.monotonic() + self.engine.settings.claim_retry_s
            return False
        state = am.AttemptState(lead.attempt_id, lead.channel, auto_ready=lead.auto_ready,
                                wrap_up_limit_s=lead.wrap_up_limit_s)
        call = Call(self, client.name, c.campaign_id, state, c.wait_timeout_s, lead.auto_ready, lead.wrap_up_limit_s,
                    lead)
        self._adopt(call)
        try:
            await client.originate(
                f"PJSIP/{lead.phone.lstrip('+')}@{client.server.trunk}", lead.channel,
                ["attempt", str(lead.attempt_id)],
                lead.ring_timeout_s, lead.caller_id, {"DIALER_ATTEMPT": str(lead.attempt_id), "DIALER_ROLE": "client"})
        except AriError as e:
            self.on_event(call, ev.OriginateFailed(lead.attempt_id, str(e), at=time.time()))
            return True
        self.on_event(call, ev.DialStarted(lead.attempt_id, at=at))
        log.info("campaign %s: predictive attempt %s to %s", c.campaign_id, lead.attempt_id, lead.phone)
        return True

    def _client_for(self, c: pstore.CampaignPacing):
        """The Asterisk of the pool's operators (the clients are joined to their bridges there)."""
        for oid in sorted(c.pool):
            actor = self.engine.actors.get(oid)
            if actor is not None:
                return actor.client
        return next(iter(self.engine.clients.values()))

    # ---- the call's events -------------------------------------------------------------------------------------------
    def on_event(self, call: Call, e) -> None:
        if self.calls.get(call.channel) is not call:
            return  # handed to an operator, or ended
        if isinstance(e, ev.ClientBridged):
            call.held = True  # the holding bridge: an operator's bridge is the operator's actor's business
            self.wake.set()
            return
        if isinstance(e, (ev.LegUp, ev.LegGone)):
            return
        call.state, commands = am.step(call.state, e)
        for cmd in commands:
            match cmd:
                case ev.Record():
                    self.writes.write(store.record, cmd.attempt_id, cmd.field, cmd.at, cmd.data)
                case ev.BridgeClient():  # answered: to a free operator, or on hold (the next tick decides)
                    call.answered, call.answered_wall = time.monotonic(), e.at or time.time()
                    self.wake.set()
                case ev.Hangup():
                    asyncio.get_running_loop().create_task(self._hangup(call))
                case ev.EndAttempt():
                    self._ended(call, cmd)

    def _ended(self, call: Call, end: ev.EndAttempt) -> None:
        if call.giving_up and end.outcome == "LOST":
            end = replace(end, error=f"nobody free within {call.timeout_s:g} s")
        self.calls.pop(call.channel, None)
        self.engine.routes.pop((call.server, call.channel), None)
        self.writes.write(store.end_attempt, end)
        if end.outcome == "ERROR":
            self.autostop_check(self.writes.write, end.attempt_id)
        log.info("predictive attempt %s ended %s (cause %s, sip %s)%s", end.attempt_id, end.outcome, end.facts.cause,
                 end.facts.sip_code, f" — {end.error}" if end.error else "")
        self.wake.set()

    def autostop_check(self, write, attempt_id: int) -> None:
        """After an ERROR (any mode, any owner of the call): the campaign's autostop rule, behind the end's write."""
        if self.autostop is None:
            return
        done = write(pstore.check_autostop, attempt_id, self.autostop)
        done.add_done_callback(self._after_autostop)

    def _after_autostop(self, done: asyncio.Future) -> None:
        if not done.cancelled() and done.exception() is None and done.result():
            self._refreshed = 0.0  # the stopped campaign leaves the pacer at once
            self.wake.set()

    async def _hangup(self, call: Call) -> None:
        try:
            gone = not await self.engine.clients[call.server].hangup(call.channel)
        except AriError as e:
            log.warning("predictive attempt %s: hangup failed: %s", call.attempt_id, e)
            return
        if gone:  # already gone and its end never reached us: close it here
            self.on_event(call, ev.ClientGone(call.attempt_id, at=time.time()))

    # ---- the holding room --------------------------------------------------------------------------------------------
    def _hold_room(self, ops: list[OperatorView], now: float) -> None:
        waiting = [c for c in self.calls.values() if c.answered is not None and not c.giving_up]
        if not waiting:
            return
        held = [holding.Held(c.channel, c.campaign_id, c.answered, c.offered_to is None and (c.held or not c.holding),
                             c.timeout_s, tuple(c.declined), self._harbour_after(c), self._grace(c))
                for c in waiting if c.offered_to is None]
        free = [holding.Free(o.operator_id, self.free_since.get(o.operator_id, now))
                for o in ops if o.free and not o.offered]
        pools = {cid: c.pool for cid, c in self.campaigns.items()}
        for c in waiting:  # a campaign stopped meanwhile still has its clients joined to its pool
            pools.setdefault(c.campaign_id, frozenset(self._last_pool(c.campaign_id)))
        plan = holding.assign(held, free, pools, now)
        for channel, oid in plan.offers:
            self._offer(self.calls[channel], oid)
        for channel in plan.give_up:
            call = self.calls[channel]
            call.giving_up = True
            asyncio.get_running_loop().create_task(self._give_up(call))
        for c in waiting:  # answered, nobody took them: on hold
            if c.offered_to is None and not c.holding and not c.giving_up:
                c.holding = True
                asyncio.get_running_loop().create_task(self._put_on_hold(c))
        offered = {ch for ch, _ in plan.offers}
        for channel in holding.harbour_due(held, now):
            call = self.calls[channel]
            if channel in offered or call.giving_up or not call.holding:
                continue
            call.harboured = True
            asyncio.get_running_loop().create_task(self._harbour(call))

    def _grace(self, call: Call) -> float | None:
        """The campaign's grace (clients still within it are joined first: holding.join_key); None if not known."""
        c = self.campaigns.get(call.campaign_id)
        return float(c.grace_s) if c is not None else None

    def _harbour_after(self, call: Call) -> float | None:
        """When the campaign's safe-harbour message is due to this client (after the grace), if at all."""
        c = self.campaigns.get(call.campaign_id)
        if c is None or not c.safe_harbour_message or call.harboured:
            return None
        return float(c.grace_s)

    async def _harbour(self, call: Call) -> None:
        if await holding.play_harbour(self.engine.clients[call.server], call.channel):
            log.info("predictive attempt %s: still waiting after the grace, safe-harbour message", call.attempt_id)

    def _last_pool(self, campaign_id: int) -> frozenset[int]:
        c = self.campaigns.get(campaign_id)
        return c.pool if c else frozenset()

    def _offer(self, call: Call, operator_id: int) -> None:
        actor = self.engine.actors.get(operator_id)
        if actor is None:
            return
        call.offered_to = operator_id
        self.free_since.pop(operator_id, None)
        self.engine.route(call.server, call.channel, actor)
        actor.post(ev.InboundOffered(call.attempt_id, call.channel, call.auto_ready, call.wrap_up_limit_s,
                                     at=call.answered_wall or time.time()))
        log.info("predictive attempt %s: offered to operator %s", call.attempt_id, operator_id)

    async def _put_on_hold(self, call: Call) -> None:
        try:
            await holding.put_on_hold(self.engine.clients[call.server], call.campaign_id, call.channel)
            log.info("predictive attempt %s: nobody free, on hold", call.attempt_id)
        except AriError as e:
            log.warning("predictive attempt %s: not put on hold: %s", call.attempt_id, e)
            call.held = True  # offered as it is when an operator frees up; its timeout still applies

    async def _give_up(self, call: Call) -> None:
        client = self.engine.clients[call.server]
        log.info("predictive attempt %s: nobody free within %g s; message and hangup", call.attempt_id, call.timeout_s)
        try:
            await holding.take_off_hold(client, call.campaign_id, call.channel)
        except AriError:
            pass
        if not await holding.message_and_hang_up(client, call.channel):
            self.on_event(call, ev.ClientGone(call.attempt_id, at=time.time()))

    # ---- after a (re)connect (engine.reconcile) --------------------------------------------------------------------
    async def resync(self, server: str, channels: list[dict], bridges: list[dict]) -> None:
        live = {c["id"]: c for c in channels}
        on_hold = {ch for b in bridges if b.get("id", "").startswith("hold-c") for ch in b.get("channels", [])}
        bridged = {ch for b in bridges for ch in b.get("channels", [])}
        now = time.time()
        for call in [c for c in self.calls.values() if c.server == server and c.offered_to is None]:
            found = live.get(call.channel)
            if found is None:
                self.on_event(call, ev.ClientGone(call.attempt_id, lost_while_away=True, at=now))
                continue
            if call.channel in on_hold:
                call.holding = call.held = True
            elif call.channel in bridged:  # in an operator's bridge whose hand-over was never written: end it cleanly
                self.on_event(call, ev.HangupRequested(at=now))
            elif found.get("state") == "Up" and call.answered is None:
                self.on_event(call, ev.ClientAnswered(call.attempt_id, at=now))  # answered while we were away
            elif call.answered is not None:
                call.holding = call.held = False  # answered, in no bridge: offered or held at the next tick
        self.wake.set()
