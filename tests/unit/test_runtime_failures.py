"""The runtime under database failures, without Asterisk or PostgreSQL: the real operator actor (pure machines
+ runtime + ordered writes) over an in-memory store that fails the calls it is told to, and a fake ARI that
answers at once.

Property: after any store failure at any step — the database unreachable before a statement, a commit whose
answer is lost, a claim or manual dial the store refuses with an error — once the database answers again
the operator can still pause, go Ready and be called, and the store holds no attempt nobody will end.
"""
from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from types import SimpleNamespace

import peewee
from hypothesis import given, settings
from hypothesis import strategies as st

from ari_app import attempt as am
from ari_app import events as ev
from ari_app import offer_store
from ari_app import operator as om
from ari_app.runtime import OperatorActor
from ari_app.store import ClaimedLead

OID = 7
ASKS = {"claim", "open_manual_attempt", "offer_terms"}  # tried once; a write is retried until committed
UNREACHABLE = peewee.OperationalError("server closed the connection unexpectedly")


@dataclass
class FakeAttempt:
    id: int
    lead_id: int
    operator_id: int
    dialled: bool = False
    ended: bool = False


class FakeStore:
    """The store functions the runtime calls, by name, over dicts; PostgreSQL's unique index on live attempts
    per operator included (a claim while one is open fails, as the real one does)."""

    def __init__(self, plan: dict[int, str]):
        self.plan = plan  # call number → "before" (unreachable) | "after" (committed, answer lost) | "bug"
        self.healed = False
        self.calls = 0
        self.attempts: dict[int, FakeAttempt] = {}
        self.leads: dict[int, str] = {}
        self.ids = itertools.count(1)
        self.status = None

    async def db_run(self, fn, *args):
        await asyncio.sleep(0)  # a thread hop, as dialer.db.run does
        number, self.calls = self.calls, self.calls + 1
        fault = None if self.healed else self.plan.get(number)
        if fault == "bug" and fn.__name__ not in ASKS:
            fault = "before"  # a write the database refuses for good is logged and dropped; not injected here
        if fault == "before":
            raise UNREACHABLE
        if fault == "bug":
            raise TypeError("'NoneType' object is not iterable")
        result = getattr(self, fn.__name__)(*args)
        if fault == "after":
            raise UNREACHABLE
        return result

    def open(self, operator_id=OID):
        return [a for a in self.attempts.values() if a.operator_id == operator_id and not a.ended]

    def _open_attempt(self, lead_id: int) -> ClaimedLead:
        if self.open():
            raise peewee.IntegrityError('duplicate key value violates unique constraint "attempt_live_operator_uq"')
        a = FakeAttempt(next(self.ids), lead_id, OID)
        self.attempts[a.id] = a
        self.leads[lead_id] = "in_progress"
        return ClaimedLead(a.id, f"at{a.id}-t", "+79000000000", "cid", 30, True, 1)

    # ---- asks
    def claim(self, operator_id, server, nonce, at, leg_up_at):
        return self._open_attempt(1000 + len(self.leads))

    def open_manual_attempt(self, operator_id, server, nonce, at, lead_id):
        if self.leads.get(lead_id) == "in_progress":
            raise offer_store.ManualDialRefused("lead-busy", "busy", "занят")
        return self._open_attempt(lead_id)

    def offer_terms(self, attempt_id):
        return offer_store.OfferTerms(15, 3)

    # ---- writes
    def record(self, attempt_id, field, at, data=None):
        if field == "dial_started_at" and attempt_id in self.attempts:
            self.attempts[attempt_id].dialled = True

    def end_attempt(self, end):
        a = self.attempts.get(end.attempt_id)
        if a and not a.ended:
            a.ended = True
            self.leads[a.lead_id] = "in_progress" if end.outcome == "ANSWERED" else "callable"

    def finish_wrap_up(self, operator_id, cmd):
        a = self.attempts.get(cmd.attempt_id)
        if a:
            self.leads[a.lead_id] = "done"

    def release_offer(self, attempt_id, at, missed):
        a = self.attempts.get(attempt_id)
        if a and not a.dialled and not a.ended:
            del self.attempts[attempt_id]
            self.leads[a.lead_id] = "callable"

    def release_orphans(self, operator_id, at):
        for a in [a for a in self.open(operator_id) if not a.dialled]:
            self.release_offer(a.id, at, False)

    def save_operator(self, operator_id, status, leg, bridge, changed):
        self.status = status

    def command_done(self, *args): ...
    def offer_started(self, *args): ...
    def offer_accepted(self, *args): ...
    def save_missed_offers(self, *args): ...
    def missed_offers_alert(self, *args): ...


class FakeTimer:
    def __init__(self, fn):
        self.fn, self.cancelled = fn, False

    def cancel(self):
        self.cancelled = True


class FakeEngine:
    def __init__(self, store: FakeStore):
        self.settings = SimpleNamespace(claim_retry_s=1.0)
        self.nonce = "t"
        self.db_run = store.db_run
        self.timers: list[FakeTimer] = []

    def later(self, delay, fn):
        timer = FakeTimer(fn)
        self.timers.append(timer)
        return timer

    def fire_timers(self):
        timers, self.timers = self.timers, []
        for t in timers:
            if not t.cancelled:
                t.fn()

    def route(self, server, channel, actor): ...


class FakeAri:
    """Asterisk that does at once what was asked: the softphone answers, the client's line rings."""

    def __init__(self):
        self.name = "pbx"
        self.server = SimpleNamespace(trunk="carrier")
        self.connected = asyncio.Event()
        self.connected.set()
        self.actor: OperatorActor | None = None
        self.dialled: list[str] = []

    async def originate(self, endpoint, channel, args, timeout, caller_id, variables):
        if args[0] == "operator":
            self.actor.post(ev.LegUp(channel))
        else:
            self.dialled.append(channel)

    async def hangup(self, channel, reason="normal"):
        if channel.startswith("at"):
            self.actor.post(ev.ClientGone(_attempt(channel), 16))
        else:
            self.actor.post(ev.LegGone(channel, 16))
        return True

    async def ensure_bridge(self, bridge_id, name=""): ...

    async def add_channel(self, bridge_id, channel):
        if channel.startswith("at"):
            self.actor.post(ev.ClientBridged(_attempt(channel)))


def _attempt(channel: str) -> int:
    return int(channel[2:].split("-")[0])


async def settle(actor: OperatorActor):
    """Handle every posted event and let the writes run until nothing moves."""
    quiet = 0
    for _ in range(20_000):
        if not actor.queue.empty():
            event, _ = actor.queue.get_nowait()
            await actor.handle(event)
            quiet = 0
            continue
        quiet = quiet + 1 if not len(actor.writes) else 0
        if quiet > 5:
            return
        await asyncio.sleep(0)
    raise AssertionError("the actor never settled")


def world_event(action: str, s: om.OperatorState, lead_ids):
    call = s.call
    live = call and call.phase in am.LIVE_ON_ASTERISK
    match action:
        case "ready":
            return ev.ReadyRequested()
        case "pause":
            return ev.PauseRequested("paused")
        case "dial":
            return ev.DialRequested(next(lead_ids))
        case "auto_answer_off":
            return ev.AutoAnswerSet(False)
        case "auto_answer_on":
            return ev.AutoAnswerSet(True)
        case "answer_offer":
            return ev.AnswerRequested()
        case "operator_hangs_up":
            return ev.HangupRequested()
        case "client_answers" if live:
            return ev.ClientAnswered(call.attempt_id)
        case "client_hangs_up" if live:
            return ev.ClientGone(call.attempt_id, 16)
        case "client_busy" if live:
            return ev.ClientGone(call.attempt_id, 17)
        case "wrap_up" if s.wrap_up_attempt:
            return ev.WrapUpSubmitted(s.wrap_up_attempt, "ok")
        case "leg_drops" if s.leg:
            return ev.LegGone(s.leg, 16)
        case "reconnect":
            channels = {c for c in (s.leg, call and call.channel) if c}
            return ev.Resync(frozenset(channels), frozenset({s.leg} if s.leg else ()))
    return None


ACTIONS = ["ready", "pause", "dial", "auto_answer_off", "auto_answer_on", "answer_offer", "operator_hangs_up",
           "client_answers", "client_hangs_up", "client_busy", "wrap_up", "leg_drops", "reconnect", "timers"]


async def scenario(actions: list[str], plan: dict[int, str]):
    store = FakeStore(plan)
    engine = FakeEngine(store)
    ari = FakeAri()
    actor = OperatorActor(engine, om.OperatorState(OID, status=om.PAUSED, wants=om.PAUSED, nonce="t"), "op7", ari,
                          retry_s=(0, 0))
    ari.actor = actor
    writer = asyncio.create_task(actor.run_writes())
    lead_ids = itertools.count(1)
    try:
        for action in actions:
            if action == "timers":
                engine.fire_timers()
            elif (event := world_event(action, actor.state, lead_ids)) is not None:
                actor.post(event)
            await settle(actor)
        store.healed = True  # the database is back
        await settle(actor)

        # whatever was in hand ends; the operator can pause
        actor.post(ev.PauseRequested("paused"))
        for _ in range(4):
            s = actor.state
            if s.call and s.call.phase in am.LIVE_ON_ASTERISK:
                actor.post(ev.ClientGone(s.call.attempt_id, 16))
            if s.wrap_up_attempt:
                actor.post(ev.WrapUpTimedOut(s.wrap_up_attempt))
            engine.fire_timers()
            await settle(actor)
        s = actor.state
        assert (s.status, s.claiming, s.call) == (om.PAUSED, False, None), s
        assert store.status in (None, om.PAUSED), "the database shows another status than the engine's"
        assert store.open() == [], "an attempt is left open that nobody will end"

        # ... and go Ready and be called
        dialled = len(ari.dialled)
        actor.post(ev.AutoAnswerSet(True))
        actor.post(ev.ReadyRequested())
        for _ in range(3):
            await settle(actor)
            if len(ari.dialled) > dialled:
                break
            engine.fire_timers()  # a claim retried later
        s = actor.state
        assert len(ari.dialled) > dialled, f"not called after going Ready: {s}"
        assert s.status == om.READY and s.call and s.call.phase == am.DIALING, s
        assert [a.id for a in store.open()] == [s.call.attempt_id]
    finally:
        writer.cancel()
        await asyncio.gather(writer, return_exceptions=True)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ACTIONS), max_size=25),
       st.dictionaries(st.integers(0, 40), st.sampled_from(["before", "after", "bug"]), max_size=8))
def test_after_any_store_failure_the_operator_can_pause_go_ready_and_be_called(actions, plan):
    asyncio.run(scenario(actions, plan))


# ---- the cases of the issue, as plain examples ------------------------------------------------------
def test_a_manual_dial_whose_store_call_fails_leaves_the_operator_able_to_claim():
    # call 0: the first manual dial's attempt; the database is unreachable
    asyncio.run(scenario(["dial"], {0: "before"}))
    asyncio.run(scenario(["ready", "pause", "dial"], {3: "bug"}))


def test_a_claim_committed_whose_answer_was_lost_is_given_back_before_the_next_claim():
    asyncio.run(scenario(["ready", "timers", "timers"], {1: "after"}))


def test_writes_made_while_the_database_is_unreachable_are_kept_in_order():
    async def run():
        store = FakeStore({})
        order = []

        async def db_run(fn, *args):
            await asyncio.sleep(0)
            if not store.healed:
                raise UNREACHABLE
            order.append(args[0])

        engine = FakeEngine(store)
        engine.db_run = db_run
        actor = OperatorActor(engine, om.OperatorState(OID), "op7", FakeAri(), retry_s=(0, 0))
        writer = asyncio.create_task(actor.run_writes())
        done = [actor.write(lambda db, n: None, n) for n in range(5)]
        for _ in range(50):
            await asyncio.sleep(0)
        assert len(actor.writes) == 5 and actor.writes.failing_since is not None
        claim = actor.writes.ask(lambda db: None)  # not sent while writes wait for the database
        await asyncio.sleep(0)
        assert claim.done() and type(claim.exception()).__name__ == "NotTried"
        store.healed = True
        await asyncio.gather(*done)
        # in order, then the operator's status said once more (a write refused meanwhile must not leave it old)
        assert order == [0, 1, 2, 3, 4, OID] and len(actor.writes) == 0 and actor.writes.failing_since is None
        writer.cancel()

    asyncio.run(run())


def test_a_write_the_database_refuses_is_reported_and_the_next_goes_on():
    async def run():
        from ari_app.writes import OrderedWrites

        done = []

        async def db_run(fn, *args):
            await asyncio.sleep(0)
            if args[0] == "bad":
                raise peewee.IntegrityError("violates check constraint")
            done.append(args[0])

        writes = OrderedWrites(db_run, "operator 7", 0, 0)
        task = asyncio.create_task(writes.run())
        first, second = writes.write(lambda db, x: None, "bad"), writes.write(lambda db, x: None, "good")
        await second
        assert type(first.exception()).__name__ == "IntegrityError" and done == ["good"] and writes.refused == 1
        task.cancel()

    asyncio.run(run())


def test_at_the_backlog_limit_the_operator_takes_no_new_call_and_nothing_is_dropped():
    async def run():
        store = FakeStore({})
        engine = FakeEngine(store)
        asked = []

        async def db_run(fn, *args):
            await asyncio.sleep(0)
            asked.append(fn.__name__)
            raise UNREACHABLE

        engine.db_run = db_run
        actor = OperatorActor(engine, om.OperatorState(OID, status=om.READY, claiming=True), "op7", FakeAri(),
                              retry_s=(0, 0))
        actor.writes.limit = 3
        writer = asyncio.create_task(actor.run_writes())
        for n in range(4):
            actor.write(lambda db, n: None, n)
        await asyncio.sleep(0)
        assert actor.writes.full and len(actor.writes) == 4  # past the limit: kept, not dropped
        asked.clear()
        assert [type(e) for e in await actor.execute(ev.Claim())] == [ev.NothingToCall]
        assert "claim" not in asked
        writer.cancel()

    asyncio.run(run())

