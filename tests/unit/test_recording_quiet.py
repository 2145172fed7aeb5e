"""An ended recording's work on Asterisk (stop, download, delete) waits while other clients are being bridged, so a
bridging never queues behind it; a bridging that never reports back (failed, or long done) stops holding it up."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from ari_app import recording
from ari_app.recording import Recorder
from dialer.recording_files import AnsweredPlan


def recorder(tmp_path) -> Recorder:
    settings = SimpleNamespace(recordings_path=tmp_path, recording_min_free_mb=10, announcements_asterisk_dir="/snd",
                               consent_default_sound="", recording_encoder="opusenc")
    return Recorder(SimpleNamespace(settings=settings))


async def settled(task: asyncio.Task) -> bool:
    for _ in range(5):  # a few turns of the loop: _quiet looks again every 50 ms
        await asyncio.sleep(0.06)
    return task.done()


@pytest.mark.parametrize("how_it_ends", ["bridged", "ended before it was bridged"])
def test_the_after_call_work_waits_while_a_client_is_being_bridged(tmp_path, how_it_ends, monkeypatch):
    monkeypatch.setattr(recording, "SETTLE_S", 0.0)

    async def scenario():
        r = recorder(tmp_path)
        r.plans[7] = AnsweredPlan(campaign_id=1, record=False)  # read at answer: the start does nothing more
        r.bridging[7] = asyncio.get_running_loop().time()  # attempt 7's client is being bridged
        quiet = asyncio.create_task(r._quiet())
        waited = not await settled(quiet)
        if how_it_ends == "bridged":
            r.client_bridged(None, "opb1", 7, "at7-c")
        else:
            r.attempt_ended(None, 7, answered=False)
        return waited, await settled(quiet), r.bridging

    assert asyncio.run(scenario()) == (True, True, {})


def test_a_bridging_that_never_reports_back_stops_holding_the_work_up(tmp_path, monkeypatch):
    monkeypatch.setattr(recording, "BRIDGING_S", 0.1)

    async def scenario():
        r = recorder(tmp_path)
        r.bridging[7] = asyncio.get_running_loop().time()
        quiet = asyncio.create_task(r._quiet())
        return await settled(quiet), r.bridging

    assert asyncio.run(scenario()) == (True, {})


def test_nothing_being_bridged_does_not_wait(tmp_path):
    async def scenario():
        return await asyncio.wait_for(recorder(tmp_path)._quiet(), 1)
    assert asyncio.run(scenario()) is None


def test_the_after_call_work_waits_for_the_next_burst_of_answers_after_calls_end(tmp_path, monkeypatch):
    """Twenty calls end together and the next twenty are answered a wrap-up later: a fetch started between the two
    would still be running as they are bridged, so the work waits until calls have neither ended nor been answered
    for `SETTLE_S`."""
    monkeypatch.setattr(recording, "SETTLE_S", 3600)

    async def scenario():
        r = recorder(tmp_path)
        r.attempt_ended(None, 7, answered=False)  # a call ended just now
        quiet = asyncio.create_task(r._quiet())
        waited = not await settled(quiet)
        r.activity -= 3600  # as if an hour had passed with no call ending or answered
        return waited, await settled(quiet)

    assert asyncio.run(scenario()) == (True, True)


def test_the_wait_is_bounded_from_the_calls_end_not_from_its_turn(tmp_path, monkeypatch):
    """With many operators a call is always being bridged: a recording whose call ended `QUIET_MAX_S` ago waits no
    more when its turn comes (the recordings go one at a time, and each would otherwise wait the whole time)."""
    monkeypatch.setattr(recording, "QUIET_MAX_S", 0.2)

    async def scenario():
        r = recorder(tmp_path)
        loop = asyncio.get_running_loop()
        r.bridging[8] = loop.time()  # someone is always being bridged
        ended_long_ago = loop.time() - 1.0
        return await asyncio.wait_for(r._quiet(ended_long_ago), 5)

    assert asyncio.run(scenario()) is None
