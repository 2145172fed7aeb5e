"""A Ready operator with nothing to call looks again less and less often, and looks at once on news of leads."""
import asyncio
from types import SimpleNamespace

import pytest

from ari_app import events as ev
from ari_app import operator as om
from ari_app.engine import Engine
from ari_app.runtime import CLAIM_IDLE_MAX_S, OperatorActor, claim_delay


@pytest.mark.parametrize("empty_in_a_row, first_s, longest_s, expected", [
    (0, 1.0, 5.0, 1.0),   # never asked in a row yet: the first interval
    (1, 1.0, 5.0, 1.0),
    (2, 1.0, 5.0, 2.0),
    (3, 1.0, 5.0, 4.0),
    (4, 1.0, 5.0, 5.0),   # doubling stops at the longest wait
    (40, 1.0, 5.0, 5.0),  # no overflow however long nothing comes
    (3, 0.5, 5.0, 2.0),
    (1, 8.0, 5.0, 8.0),   # a first interval set longer than the longest: never shorter than asked
    (5, 8.0, 5.0, 8.0),
])
def test_delay_doubles_up_to_the_longest(empty_in_a_row, first_s, longest_s, expected):
    assert claim_delay(empty_in_a_row, first_s, longest_s) == expected


class Timer:
    def __init__(self, delay, fn):
        self.delay, self.fn, self.cancelled = delay, fn, False

    def cancel(self):
        self.cancelled = True


class FakeEngine:
    def __init__(self):
        self.settings = SimpleNamespace(claim_retry_s=1.0)
        self.timers: list[Timer] = []

    async def db_run(self, fn, *args):
        return fn(*args)

    def later(self, delay, fn):
        self.timers.append(Timer(delay, fn))
        return self.timers[-1]

    def pending(self) -> list[Timer]:
        return [t for t in self.timers if not t.cancelled]


def actor(engine) -> OperatorActor:
    return OperatorActor(engine, om.OperatorState(1, status=om.READY, wants=om.READY), "op1",
                         SimpleNamespace(name="pbx"))


def run(coro):
    return asyncio.new_event_loop().run_until_complete(coro)


def posted(a: OperatorActor) -> list:
    out = []
    while not a.queue.empty():
        out.append(a.queue.get_nowait()[0])
    return out


def test_each_empty_look_waits_longer_and_a_status_change_starts_again():
    engine = FakeEngine()
    a = actor(engine)
    for _ in range(5):
        run(a.execute(ev.ScheduleClaim()))
    assert [t.delay for t in engine.timers] == [1.0, 2.0, 4.0, CLAIM_IDLE_MAX_S, CLAIM_IDLE_MAX_S]
    assert len(engine.pending()) == 1  # each new wait replaces the one before
    run(a.execute(ev.SetStatus(om.PAUSED)))
    run(a.execute(ev.ScheduleClaim()))
    assert engine.timers[-1].delay == 1.0


def test_news_of_leads_wakes_an_operator_waiting_long_and_the_waits_start_again():
    engine = FakeEngine()
    a = actor(engine)
    run(a.execute(ev.ScheduleClaim()))
    assert a.wake_claim() is False  # about to look anyway: left alone
    assert len(engine.pending()) == 1 and posted(a) == []
    run(a.execute(ev.ScheduleClaim()))
    assert a.wake_claim() is True
    assert engine.pending() == []  # the long wait is cancelled ...
    assert [type(e) for e in posted(a)] == [ev.ClaimTick]  # ... and the look is now
    assert a.wake_claim() is False  # woken once: no second look queued
    run(a.execute(ev.ScheduleClaim()))
    assert engine.timers[-1].delay == 1.0


def test_a_look_that_ran_is_not_woken_again():
    engine = FakeEngine()
    a = actor(engine)
    run(a.execute(ev.ScheduleClaim()))
    run(a.execute(ev.ScheduleClaim()))
    engine.pending()[0].fn()  # the timer fired: the look is queued
    assert [type(e) for e in posted(a)] == [ev.ClaimTick]
    assert a.wake_claim() is False


def test_the_engine_wakes_every_operator_waiting_long():
    engine = FakeEngine()
    waiting, fresh, busy = actor(engine), actor(engine), actor(engine)
    for _ in range(3):
        run(waiting.execute(ev.ScheduleClaim()))
    run(fresh.execute(ev.ScheduleClaim()))
    host = SimpleNamespace(actors={1: waiting, 2: fresh, 3: busy})
    Engine.wake_claims(host)
    assert [type(e) for e in posted(waiting)] == [ev.ClaimTick]
    assert posted(fresh) == [] and posted(busy) == []
