"""The engine's runtime: one actor per operator executes the pure machines' commands over ARI and SQL.

Each operator's events are handled one at a time, in order (their leg, their attempt, their
commands), so the machines never see interleaved half-done work. Database work runs in threads, in
the operator's order, and is never dropped (ari_app/writes.py). A command that fails is answered to
the machine as the event it would have waited for (no call, the line gone, ...), so an operator is
never left half-way (`claiming`, dialling) by an error.
"""
from __future__ import annotations

import asyncio
import logging
import time

from dialer.db import unavailable

from . import events as ev
from . import offer_store
from . import operator as om
from . import servers, store
from .client import AriClient, AriError
from .health import OperatorFigures, observe
from .writes import NotTried, OrderedWrites

log = logging.getLogger(__name__)
AUTO_ANSWER = {  # what softphones understand as "pick up by yourself"
    "PJSIP_HEADER(add,Call-Info)": "<sip:dialer>;answer-after=0",
    "PJSIP_HEADER(add,Alert-Info)": "<http://dialer>;info=alert-autoanswer",
}
OPERATOR_RING_S = 30
DEFAULT_OFFER_TERMS = (15, 3)  # the campaign defaults, should its row be unreadable for a moment
CLAIM_IDLE_MAX_S = 5.0  # the longest a Ready operator with nothing to call waits before looking again


def claim_delay(empty_in_a_row: int, first_s: float, longest_s: float = CLAIM_IDLE_MAX_S) -> float:
    """How long a Ready operator whose last `empty_in_a_row` looks found nothing waits before the next: `first_s`,
    then doubling up to `longest_s`. Idle operators at the end of a list would otherwise ask the database every
    `first_s` each; news that can bring a lead wakes them at once (`OperatorActor.wake_claim`)."""
    return min(first_s * 2 ** max(0, empty_in_a_row - 1), max(first_s, longest_s))


UNAVAILABLE = ("database-unavailable", "the database did not answer; try again in a moment",
               "база данных не ответила; попробуйте ещё раз через минуту")


class OperatorActor:
    def __init__(self, engine, state: om.OperatorState, login: str, client: AriClient, retry_s: tuple | None = None):
        self.engine = engine
        self.state = state
        self.login = login
        self.client = client
        self.queue: asyncio.Queue = asyncio.Queue()
        self.claims: dict[int, store.ClaimedLead] = {}
        self.originated: dict[str, float] = {}  # channel → monotonic time we asked ARI for it
        self.saved = (state.status, state.leg)
        # this operator's database work, in order; `retry_s`: the back-off's first and longest wait
        self.writes = OrderedWrites(engine.db_run, f"operator {state.operator_id}", *(retry_s or ()),
                                    on_back=self._database_back, run_many=getattr(engine, "db_run_many", None))
        self._releasing = False  # a release of attempts a failed claim may have opened is queued
        self._claim_timer: asyncio.TimerHandle | None = None  # the next look for a lead, while one is waited for
        self._empty_claims = 0  # looks in a row that found nothing (how long the next wait is)
        self._wrap_timer: asyncio.TimerHandle | None = None
        self._offer_timer: asyncio.TimerHandle | None = None
        self.refusal: str | None = None  # why the request being handled was refused (the command's error)
        self.figures = OperatorFigures()  # claim, answer → bridge, Ready → originate for /metrics (ari_app/health.py)

    @property
    def oid(self) -> int:
        return self.state.operator_id

    @property
    def bridge_id(self) -> str:
        return f"opb{self.oid}"

    def post(self, event, command_id: int | None = None) -> None:
        self.queue.put_nowait((event, command_id))

    def write(self, fn, *args) -> asyncio.Future:
        """Queue database work behind this operator's earlier writes, retried until committed; the actor
        does not wait for it, so an answered client is bridged even while timeline stamps are being written."""
        return self.writes.write(fn, *args)

    async def run_writes(self) -> None:
        await self.writes.run()

    def _database_back(self) -> None:
        """Every write was kept, but say the operator's status once more: one the database refused meanwhile
        (counted and logged by the queue) must not leave the panels showing an old status."""
        self.saved = (self.state.status, self.state.leg)
        self.write(store.save_operator, self.oid, self.state.status, self.state.leg, self.bridge_id, False)

    def _release_unknown_attempts(self) -> None:
        """A claim that failed may have committed before its answer was lost: its attempt (never dialled)
        would hold the lead `in_progress` and block the operator's next claim. Given back before the next
        claim, which is queued behind this write."""
        if self._releasing:
            return
        self._releasing = True
        done = self.write(offer_store.release_orphans, self.oid, time.time())
        done.add_done_callback(lambda _: setattr(self, "_releasing", False))

    async def run(self) -> None:
        while True:
            event, command_id = await self.queue.get()
            error = self.refusal = None
            try:
                await self.handle(event)
                error = self.refusal
            except Exception as e:
                log.exception("operator %s: failed handling %s", self.oid, event)
                error = f"failed: {e}"
            if command_id is not None:
                self.write(store.command_done, command_id, error)

    async def handle(self, event) -> None:
        if isinstance(event, servers.ServerLost):
            return await self._server_lost(event)
        pending = [event]
        while pending:
            event = pending.pop(0)
            if isinstance(event, ev.Resync):
                event = self._with_recent_originates(event)
            before, (self.state, commands) = self.state, om.step(self.state, event)
            observe(self, before, event, commands)  # the figures, and the ids of the log lines that follow (dialer/logs.py)
            for command in commands:
                try:
                    pending += await self.execute(command) or []
                except Exception as e:
                    log.exception("operator %s: %s failed", self.oid, type(command).__name__)
                    if isinstance(command, (ev.Claim, ev.ClaimLead)):
                        self._release_unknown_attempts()
                    pending += failed(command, e)
        self._save()

    async def _server_lost(self, e: servers.ServerLost) -> None:
        """This operator's Asterisk is gone (ari_app/servers.py): paused, their call closed, the reason written."""
        noted = servers.affected(self.state)
        for event in servers.lost_events(self.state, e):
            await self.handle(event)
        if noted:
            self.write(servers.note_pause_reason, self.oid, e.code or e.reason)
            log.warning("operator %s: paused, %s", self.oid, e.reason)

    def _save(self) -> None:
        now = (self.state.status, self.state.leg)
        if now != self.saved:
            changed = now[0] != self.saved[0]
            self.write(store.save_operator, self.oid, now[0], now[1], self.bridge_id, changed)
            self.saved = now

    def _with_recent_originates(self, e: ev.Resync) -> ev.Resync:
        """Channels we originated after the listing began exist even though the listing missed them."""
        recent = {ch for ch, t in self.originated.items() if t >= e.listed_at}
        return ev.Resync(e.live_channels | recent, e.bridged_channels, e.listed_at, e.at)

    async def _originate(self, endpoint: str, channel: str, args: list[str], timeout: int, caller_id: str,
                         variables: dict) -> float:
        # never place a call whose events nobody would hear: wait for the event websocket first
        if not self.client.connected.is_set():  # (connected: no task and timer for a wait that is over)
            await asyncio.wait_for(self.client.connected.wait(), timeout=10)
        now = time.monotonic()
        self.originated = {ch: t for ch, t in self.originated.items() if now - t < 120}
        self.originated[channel] = now
        at = time.time()
        await self.client.originate(endpoint, channel, args, timeout, caller_id, variables)
        return at

    # ---- commands ---------------------------------------------------------------------------------
    async def execute(self, c):
        match c:
            case ev.BridgeClient():
                return await self._bridge_client(c)
            case ev.Claim():
                return await self._claim(c)
            case ev.Dial():
                return await self._dial(c)
            case ev.OriginateLeg():
                return await self._originate_leg(c)
            case ev.JoinBridge():
                return await self._join_bridge(c)
            case ev.Hangup():
                try:
                    await self.client.hangup(c.channel)
                except AriError as e:  # the channel dies with Asterisk anyway; the machine goes on
                    log.warning("operator %s: hangup of %s failed: %s", self.oid, c.channel, e)
            case ev.Record():
                self.write(store.record, c.attempt_id, c.field, c.at, c.data)
            case ev.EndAttempt():
                self.write(store.end_attempt, c)
                if c.outcome == "ERROR" and getattr(self.engine, "predictive", None):
                    self.engine.predictive.autostop_check(self.write, c.attempt_id)  # B3, every mode
                self.claims.pop(c.attempt_id, None)
                if getattr(self.engine, "recorder", None):
                    self.engine.recorder.attempt_ended(self.client, c.attempt_id, c.facts.bridged)
                log.info("operator %s: attempt %s ended %s (cause %s, sip %s)%s", self.oid, c.attempt_id,
                         c.outcome, c.facts.cause, c.facts.sip_code, f" — {c.error}" if c.error else "")
            case ev.FinishWrapUp():
                self._cancel(self._wrap_timer)
                self.write(store.finish_wrap_up, self.oid, c)
            case ev.SetStatus():
                self._empty_claims = 0
                log.info("operator %s: %s → %s", self.oid, self.saved[0], c.status)
            case ev.ScheduleClaim():
                self._cancel(self._claim_timer)
                self._empty_claims += 1
                self._claim_timer = self.engine.later(
                    claim_delay(self._empty_claims, self.engine.settings.claim_retry_s), self._claim_tick)
            case ev.ClaimLead():
                return await self._claim_lead(c)
            case ev.Refused():
                self._refuse(c.code, c.message_en, c.message_ru)
            case ev.StartOfferTimer():
                self._cancel(self._offer_timer)
                self.write(offer_store.offer_started, c.attempt_id, time.time(), c.seconds)
                self._offer_timer = self.engine.later(
                    c.seconds, lambda: self.post(ev.OfferTimedOut(c.attempt_id, at=time.time())))
            case ev.AcceptOffer():
                self._cancel(self._offer_timer)
                self.write(offer_store.offer_accepted, c.attempt_id, c.at)
                log.info("operator %s: offer %s accepted", self.oid, c.attempt_id)
            case ev.ReleaseOffer():
                self._cancel(self._offer_timer)
                self.claims.pop(c.attempt_id, None)
                self.write(offer_store.release_offer, c.attempt_id, c.at or time.time(), c.missed)
                log.info("operator %s: offer %s %s", self.oid, c.attempt_id, "missed" if c.missed else "withdrawn")
            case ev.SaveMissedOffers():
                self.write(offer_store.save_missed_offers, self.oid, c.count)
            case ev.MissedOffersAlert():
                self.write(offer_store.missed_offers_alert, self.oid, c.count)
                log.warning("operator %s: %d missed offers in a row; paused", self.oid, c.count)
            case ev.InboundTaken():
                await self._holder(c.channel).taken(self, c.attempt_id, c.channel)
            case ev.InboundDeclined():
                self._holder(c.channel).declined(self.oid, c.channel)
            case ev.StartWrapUpTimer():
                self._cancel(self._wrap_timer)
                self._wrap_timer = self.engine.later(
                    c.seconds, lambda: self.post(ev.WrapUpTimedOut(c.attempt_id, at=time.time())))
        return []

    def _claim_tick(self) -> None:
        self._claim_timer = None
        self.post(ev.ClaimTick(at=time.time()))

    def wake_claim(self) -> bool:
        """Something that may bring a lead happened (sql/026): an operator waiting longer than the first interval
        for their next look looks now. Those about to look anyway are left alone. True if woken."""
        if self._claim_timer is None or self._empty_claims < 2:
            return False
        self._cancel(self._claim_timer)
        self._empty_claims = 0
        self._claim_tick()
        return True

    def _holder(self, channel: str):
        """Who holds an answered client handed to this operator: a predictive campaign's call, or a caller."""
        predictive = getattr(self.engine, "predictive", None)
        return predictive if predictive and predictive.holds(channel) else self.engine.inbound

    async def _bridge_client(self, c: ev.BridgeClient):
        recorder = getattr(self.engine, "recorder", None)
        if recorder and self.state.call and self.state.call.channel == c.channel:
            await recorder.answered(self.client, self.state.call.attempt_id, c.channel, self)  # B6, before the operator
        started = time.monotonic()
        try:
            await self.client.add_channel(self.bridge_id, c.channel)
            elapsed_ms = (time.monotonic() - started) * 1000
            log.log(logging.WARNING if elapsed_ms > 50 else logging.DEBUG,
                    "operator %s: client %s bridged, ARI took %.0f ms", self.oid, c.channel, elapsed_ms)
            if recorder and self.state.call and self.state.call.channel == c.channel:
                # not awaited
                recorder.client_bridged(self.client, self.bridge_id, self.state.call.attempt_id, c.channel, self)
            return []
        except AriError as e:
            log.error("operator %s: could not bridge client %s: %s", self.oid, c.channel, e)
            return [ev.HangupRequested(failure=f"could not bridge: {e}")]

    async def _claim(self, c: ev.Claim):
        at = time.time()
        if self.writes.full:  # bounded memory: no new call adds writes until the waiting ones are written
            return [ev.NothingToCall(at=at)]
        inbound = getattr(self.engine, "inbound", None)
        if inbound and inbound.holds_for(self.oid):  # a client who called in waits: stay free for them (A1)
            return [ev.NothingToCall(at=at)]
        predictive = getattr(self.engine, "predictive", None)
        if predictive and predictive.feeds(self.oid):  # a predictive campaign's pool: its calls come to them (B2)
            return [ev.NothingToCall(at=at)]
        try:
            # behind the writes of the previous attempt: its lead is released before the next claim
            lead = await self.writes.ask(store.claim, self.oid, self.client.name, self.engine.nonce, at, c.leg_up_at)
        except NotTried:
            return [ev.NothingToCall(at=at)]
        except Exception as e:
            self._claim_failed("claim", e)
            return [ev.NothingToCall(at=at)]
        if lead is None:
            return [ev.NothingToCall(at=at)]
        self._empty_claims = 0
        self.claims[lead.attempt_id] = lead
        self.engine.route(self.client.name, lead.channel, self)
        log.info("operator %s: reserved attempt %s to %s", self.oid, lead.attempt_id, lead.phone)
        terms = offer_store.OfferTerms(0, 0)
        if not self.state.auto_answer:  # the offer will wait for «Ответить»: the campaign says how long
            try:
                terms = await self.writes.ask(offer_store.offer_terms, lead.attempt_id)
            except Exception:
                terms = offer_store.OfferTerms(*DEFAULT_OFFER_TERMS)
        return [ev.Claimed(lead.attempt_id, lead.channel, lead.auto_ready, lead.wrap_up_limit_s, at=at,
                           answer_timeout_s=terms.answer_timeout_s, missed_limit=terms.missed_limit)]

    async def _claim_lead(self, c: ev.ClaimLead):
        """Manual dial: the attempt for the lead the operator chose."""
        at = time.time()
        try:
            if self.writes.full:
                raise NotTried("too many database writes waiting")
            lead = await self.writes.ask(offer_store.open_manual_attempt, self.oid, self.client.name,
                                         self.engine.nonce, at, c.lead_id)
        except offer_store.ManualDialRefused as e:
            self._refuse(e.code, e.message_en, e.message_ru)
            return [ev.NothingToCall(at=at)]
        except Exception as e:  # the operator goes back to where they were, able to dial or claim again
            if not isinstance(e, NotTried):
                self._claim_failed("manual dial", e)
            self._refuse(*UNAVAILABLE)
            return [ev.NothingToCall(at=at)]
        self.claims[lead.attempt_id] = lead
        self.engine.route(self.client.name, lead.channel, self)
        log.info("operator %s: manual dial, attempt %s to %s", self.oid, lead.attempt_id, lead.phone)
        return [ev.Claimed(lead.attempt_id, lead.channel, lead.auto_ready, lead.wrap_up_limit_s, at=at, manual=True)]

    def _claim_failed(self, what: str, e: Exception) -> None:
        if unavailable(e):
            log.warning("operator %s: %s failed: %s; will retry", self.oid, what, e)
        else:
            log.error("operator %s: %s failed; will retry", self.oid, what, exc_info=e)
        self._release_unknown_attempts()

    def _refuse(self, code: str, message_en: str, message_ru: str) -> None:
        self.refusal = f"{code}: {message_en} / {message_ru}"
        log.info("operator %s: refused %s: %s", self.oid, code, message_en)

    async def _dial(self, c: ev.Dial):
        lead = self.claims[c.attempt_id]
        recorder = getattr(self.engine, "recorder", None)
        if recorder:  # what the answer needs from the campaign, read while the phone rings (not awaited)
            recorder.dialled(c.attempt_id, self)
        try:
            at = await self._originate(
                f"PJSIP/{lead.phone.lstrip('+')}@{self.client.server.trunk}", c.channel, ["attempt", str(c.attempt_id)],
                lead.ring_timeout_s, lead.caller_id,
                {"DIALER_ATTEMPT": str(c.attempt_id), "DIALER_OPERATOR": str(self.oid), "DIALER_ROLE": "client"})
        except (AriError, asyncio.TimeoutError) as e:
            return [ev.OriginateFailed(c.attempt_id, str(e) or "the ARI event websocket is down", at=time.time())]
        return [ev.DialStarted(c.attempt_id, at=at)]

    async def _originate_leg(self, c: ev.OriginateLeg):
        self.engine.route(self.client.name, c.channel, self)
        try:
            await self._originate(f"PJSIP/{self.login}", c.channel, ["operator", str(self.oid)], OPERATOR_RING_S,
                                        "Dialer", {**AUTO_ANSWER, "DIALER_OPERATOR": str(self.oid), "DIALER_ROLE": "operator"})
            log.info("operator %s: calling softphone %s", self.oid, self.login)
            return []
        except (AriError, asyncio.TimeoutError) as e:
            log.warning("operator %s: softphone %s unreachable: %s", self.oid, self.login, e or "ARI is down")
            return [ev.LegGone(c.channel, at=time.time())]

    async def _join_bridge(self, c: ev.JoinBridge):
        try:
            await self.client.ensure_bridge(self.bridge_id, f"operator {self.oid}")
            await self.client.add_channel(self.bridge_id, c.channel)
            if getattr(self.engine, "recorder", None):  # a recording operator's new line gets its snoop now
                self.engine.recorder.leg_joined(self, c.channel)
            return [ev.LegJoined(at=time.time())]
        except AriError as e:
            log.error("operator %s: could not put the leg in its bridge: %s", self.oid, e)
            return [ev.LegGone(c.channel, at=time.time())] if await self._hangup_quietly(c.channel) else []

    async def _hangup_quietly(self, channel: str) -> bool:
        try:
            return await self.client.hangup(channel)
        except AriError:
            return True  # Asterisk is unreachable: the channel is as good as gone

    @staticmethod
    def _cancel(handle):
        if handle:
            handle.cancel()


def failed(c, e: Exception) -> list:
    """What the machine is told when carrying out a command failed in a way its own code did not expect:
    the event it would otherwise wait for, so no state is left waiting for ever."""
    at = time.time()
    match c:
        case ev.Claim() | ev.ClaimLead():
            return [ev.NothingToCall(at=at)]
        case ev.Dial():
            return [ev.OriginateFailed(c.attempt_id, f"dialling failed: {e}", at=at)]
        case ev.OriginateLeg() | ev.JoinBridge():
            return [ev.LegGone(c.channel, at=at)]
        case ev.BridgeClient():
            return [ev.HangupRequested(at=at, failure=f"could not bridge: {e}")]
    return []
