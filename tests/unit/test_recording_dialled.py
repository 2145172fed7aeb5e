"""What an answered call needs from its campaign (record it? a consent message?) is read as the client is dialled,
so the answer bridges the client without a database round trip first; an answer that comes before that read is
done reads it itself, and a read that finishes late, or after the call ended, is not used."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from ari_app.recording import Recorder
from dialer.recording_files import AnsweredPlan


class Campaigns:
    """engine.db_run for `answered_plan` only: counts the reads; the first waits until `release` is set."""

    def __init__(self, plan: AnsweredPlan):
        self.plan = plan
        self.reads = 0
        self.release = asyncio.Event()
        self.release.set()

    async def __call__(self, fn, *args):
        assert fn.__name__ == "answered_plan", fn
        self.reads += 1
        if self.reads == 1:
            await self.release.wait()
        return self.plan


def recorder(tmp_path, campaigns) -> Recorder:
    settings = SimpleNamespace(recordings_path=tmp_path, recording_min_free_mb=10, announcements_asterisk_dir="/snd",
                               consent_default_sound="", recording_encoder="opusenc")
    return Recorder(SimpleNamespace(settings=settings, db_run=campaigns))


async def turns(n: int = 3) -> None:
    for _ in range(n):
        await asyncio.sleep(0)


NOT_RECORDED = AnsweredPlan(campaign_id=1, record=False)


@pytest.mark.parametrize("read_done_before_answer, reads_at_all", [
    (True, 1),  # read while ringing: the answer reads nothing
    (False, 2),  # answered at once: the answer reads it itself and the late read is dropped
])
def test_the_campaign_read_while_ringing_spares_the_answer_its_round_trip(tmp_path, read_done_before_answer,
                                                                           reads_at_all):
    async def scenario():
        campaigns = Campaigns(NOT_RECORDED)
        r = recorder(tmp_path, campaigns)
        if not read_done_before_answer:
            campaigns.release.clear()
        r.dialled(7)
        await turns()
        reads_before_answer = campaigns.reads
        await r.answered(None, 7, "at7-c")  # the first read still held when not done before the answer
        campaigns.release.set()
        await turns()
        return reads_before_answer, campaigns.reads, r.plans.get(7), 7 in r.bridging, r.prepared

    assert asyncio.run(scenario()) == (1, reads_at_all, NOT_RECORDED, True, {})


def test_an_attempt_that_ends_before_its_answer_leaves_nothing_behind(tmp_path):
    async def scenario():
        campaigns = Campaigns(NOT_RECORDED)
        campaigns.release.clear()
        r = recorder(tmp_path, campaigns)
        r.dialled(7)
        await turns()
        r.attempt_ended(None, 7, answered=False)  # busy, no answer…: the read finishes after the end
        campaigns.release.set()
        await turns()
        return r.plans, r.prepared, r.live

    assert asyncio.run(scenario()) == ({}, {}, {})


def test_a_database_away_while_ringing_leaves_the_read_to_the_answer(tmp_path):
    """The read while ringing fails (the database restarting): nothing is kept from it, and the answer reads the
    campaign itself once the database is back — the consent message and the recording are decided as always."""
    async def scenario():
        calls = {"n": 0}

        async def db_run(fn, *args):
            calls["n"] += 1
            if calls["n"] == 1:
                raise ConnectionError("the database is restarting")
            return NOT_RECORDED

        r = recorder(tmp_path, db_run)
        r.dialled(7)
        await turns()
        kept = dict(r.plans)
        await r.answered(None, 7, "at7-c")
        return kept, calls["n"], r.plans.get(7), r.prepared

    assert asyncio.run(scenario()) == ({}, 2, NOT_RECORDED, {})
