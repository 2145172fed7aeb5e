"""dialer.listen.wake_loop: a round at once on a wake, a round on the tick without one, a wake during a round is not
lost, and a failing round does not end the loop."""
import asyncio

import pytest

from dialer.listen import wake_loop


async def _started(wake, every_s, work):
    task = asyncio.create_task(wake_loop(wake, every_s, work, "test rounds"))
    return task


async def _stop(task):
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def test_a_wake_brings_a_round_long_before_the_tick():
    wake, rounds = asyncio.Event(), asyncio.Queue()

    async def work():
        rounds.put_nowait("round")
    task = await _started(wake, 3600, work)
    wake.set()
    assert await asyncio.wait_for(rounds.get(), 5) == "round"
    assert not wake.is_set()  # cleared for the next one
    await _stop(task)


async def test_the_tick_brings_rounds_without_a_wake():
    wake, rounds = asyncio.Event(), asyncio.Queue()

    async def work():
        rounds.put_nowait("round")
    task = await _started(wake, 0.01, work)
    for _ in range(3):
        await asyncio.wait_for(rounds.get(), 5)
    await _stop(task)


async def test_a_wake_during_a_round_brings_another_round():
    wake, rounds, release = asyncio.Event(), asyncio.Queue(), asyncio.Event()

    async def work():
        rounds.put_nowait("round")
        await release.wait()
    task = await _started(wake, 3600, work)
    wake.set()
    await asyncio.wait_for(rounds.get(), 5)
    wake.set()  # news while the round runs
    release.set()
    assert await asyncio.wait_for(rounds.get(), 5) == "round"
    await _stop(task)


async def test_a_failing_round_is_logged_and_the_loop_goes_on(caplog):
    wake, rounds = asyncio.Event(), asyncio.Queue()
    calls = []

    async def work():
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database away")
        rounds.put_nowait("round")
    task = await _started(wake, 3600, work)
    wake.set()
    await asyncio.sleep(0)
    while len(calls) < 1:
        await asyncio.sleep(0.01)
    wake.set()
    assert await asyncio.wait_for(rounds.get(), 5) == "round"
    assert "test rounds failed" in caplog.text and "database away" in caplog.text
    await _stop(task)
