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
def test_the_after_call_work_waits_while_a_client_is_being_bridged(tmp_path, how_it_ends):
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
