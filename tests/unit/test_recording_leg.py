"""Recording on a snoop kept on the operator's leg: made once per leg (not per call), so a client's answer → bridged
asks Asterisk for nothing more; each call records on it from the join to its end; an operator moving to a campaign
without recording gets their native bridge back; a snoop that is gone never fails a call — that call is recorded on
a snoop of its own client."""
from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from ari_app import recording
from ari_app.client import AriClient, AriError
from ari_app.recording import LegSnoop, Recorder, leg_snoop_action
from dialer import recording_files as rec
from dialer.recording_files import AnsweredPlan

LEG = "op1-ab12cd-1"


@pytest.fixture(autouse=True)
def no_settling(monkeypatch):
    """The after-call work here goes as soon as nothing is being bridged (its wait: test_recording_quiet.py)."""
    monkeypatch.setattr(recording, "SETTLE_S", 0.0)
RECORDED = AnsweredPlan(campaign_id=1, record=True, operator_records=True)
NOT_RECORDED = AnsweredPlan(campaign_id=2, record=False, operator_records=False)
# a call of a campaign without recording, by an operator who also works a recording one
MIXED = AnsweredPlan(campaign_id=2, record=False, operator_records=True)


@pytest.mark.parametrize("want, have_leg, leg, action", [
    (True, None, LEG, "make"),  # the first recorded call of this line
    (True, LEG, LEG, "keep"),  # every call after it: nothing asked of Asterisk
    (True, "op1-ab12cd-0", LEG, "make"),  # the line came up again: the old snoop ended with the old leg
    (True, None, None, "none"),  # no line up: nothing to listen to yet (made when it joins its bridge)
    (False, LEG, LEG, "drop"),  # moved to a campaign without recording: the bridge goes native again
    (False, None, LEG, "none"),
])
def test_what_is_done_with_the_leg_snoop_before_a_call(want, have_leg, leg, action):
    assert leg_snoop_action(want, have_leg, leg) == action


@pytest.mark.parametrize("channel, leg", [
    (rec.leg_snoop_id(LEG, 7), LEG),
    ("rec-at12", None),  # a client's own snoop
    ("op1-ab12cd-1", None),  # the leg itself
    ("at5-ab12cd", None),
    ("", None),
])
def test_a_leg_snoop_names_its_leg(channel, leg):
    assert rec.snooped_leg(channel) == leg


class FakeAri(AriClient):
    """The real client's methods over a request log; `fail` maps a path to the status Asterisk answers it with."""

    def __init__(self):
        server = SimpleNamespace(name="pbx", ari_user="u", ari_password="p", ari_url="http://ari")
        super().__init__(server, "dialer")
        self.asked: list[tuple[str, str]] = []
        self.fail: dict[str, int] = {}

    async def stored_recording(self, name):
        self.asked.append(("GET", f"/recordings/stored/{name}/file"))
        return b"RIFF....WAVE"

    async def request(self, method, path, params=None, body=None):
        self.asked.append((method, path))
        await asyncio.sleep(0)
        if path in self.fail:
            raise AriError(self.fail[path], method, path, "no")
        return None


class Db:
    def __init__(self, plan: AnsweredPlan):
        self.plan = plan
        self.calls: list[str] = []
        self.recording = False  # what `is_recording` answers: False ends the after-call work before the fetch

    async def __call__(self, fn, *args):
        self.calls.append(fn.__name__)
        return {"answered_plan": self.plan, "is_recording": self.recording,
                "operator_records": self.plan.leg_snoop}.get(fn.__name__)


def setup(tmp_path, plan: AnsweredPlan):
    ari = FakeAri()
    settings = SimpleNamespace(recordings_path=tmp_path, recording_min_free_mb=10, announcements_asterisk_dir="/snd",
                               consent_default_sound="", recording_encoder="false")  # (compressions fail: kept)
    db = Db(plan)
    r = Recorder(SimpleNamespace(settings=settings, db_run=db, actors={}))
    r.own[ari.name] = ari  # its own connections are this fake too
    actor = SimpleNamespace(oid=1, client=ari, state=SimpleNamespace(leg=LEG, call=None))
    return r, ari, db, actor


async def settle(r: Recorder) -> None:
    for _ in range(20):
        await asyncio.sleep(0)
    while r.tasks:
        await asyncio.gather(*list(r.tasks), return_exceptions=True)


async def call(r: Recorder, actor, attempt_id: int) -> None:
    """Dialled, answered, bridged, ended, with the engine's hooks in the actor's order."""
    client = f"at{attempt_id}-ab12cd"
    r.dialled(attempt_id, actor)
    await settle(r)
    await r.answered(actor.client, attempt_id, client, actor)
    r.client_bridged(actor.client, "opb1", attempt_id, client, actor)
    await settle(r)
    r.attempt_ended(actor.client, attempt_id, answered=True)
    await settle(r)


def test_the_leg_snoop_is_made_once_and_each_call_records_on_it_from_the_join_to_its_end(tmp_path):
    async def scenario():
        r, ari, db, actor = setup(tmp_path, RECORDED)
        await call(r, actor, 7)
        first = list(ari.asked)
        ari.asked.clear()
        await call(r, actor, 8)
        return first, ari.asked, db.calls.count("recording_started")

    snoop = rec.leg_snoop_id(LEG, 1)
    first, second, rows = asyncio.run(scenario())
    assert first == [("POST", f"/channels/{LEG}/snoop"), ("POST", f"/channels/{snoop}/record"),
                     ("POST", "/recordings/live/dialer-at7/stop")]
    # the next call: no snoop asked for, the record after the join, stopped as it ends; the snoop is never hung up
    assert second == [("POST", f"/channels/{snoop}/record"), ("POST", "/recordings/live/dialer-at8/stop")]
    assert rows == 2


def test_a_leg_snoop_gone_when_a_call_starts_records_that_call_on_its_client_and_the_next_call_makes_a_new_one(
        tmp_path):
    async def scenario():
        r, ari, db, actor = setup(tmp_path, RECORDED)
        await call(r, actor, 7)
        ari.asked.clear()
        ari.fail[f"/channels/{rec.leg_snoop_id(LEG, 1)}/record"] = 404  # hung up behind the engine's back
        await call(r, actor, 8)
        second = list(ari.asked)
        ari.asked.clear()
        await call(r, actor, 9)
        return second, ari.asked, db.calls

    second, third, db_calls = asyncio.run(scenario())
    # its own snoop ends with the client, and so does the file: no stop asked at the end
    assert second == [("POST", f"/channels/{rec.leg_snoop_id(LEG, 1)}/record"),
                      ("POST", "/channels/at8-ab12cd/snoop"), ("POST", "/channels/rec-at8/record")]
    assert "recording_failed" not in db_calls  # recorded, another way: never a failed call nor recording
    new = rec.leg_snoop_id(LEG, 2)
    assert third == [("POST", f"/channels/{LEG}/snoop"), ("POST", f"/channels/{new}/record"),
                     ("POST", "/recordings/live/dialer-at9/stop")]


def test_a_leg_snoop_that_could_not_be_made_leaves_the_call_recorded_on_its_client(tmp_path):
    async def scenario():
        r, ari, db, actor = setup(tmp_path, RECORDED)
        ari.fail[f"/channels/{LEG}/snoop"] = 404  # the leg hung up as the client was dialled
        await call(r, actor, 7)
        return ari.asked, r.legs, db.calls

    asked, legs, db_calls = asyncio.run(scenario())
    assert ("POST", "/channels/rec-at7/record") in asked and legs == {} and "recording_failed" not in db_calls


def test_moving_to_a_campaign_without_recording_drops_the_snoop_and_records_nothing(tmp_path):
    async def scenario():
        r, ari, db, actor = setup(tmp_path, RECORDED)
        await call(r, actor, 7)
        ari.asked.clear()
        db.plan = NOT_RECORDED
        await call(r, actor, 8)
        after_switch = list(ari.asked)
        ari.asked.clear()
        await call(r, actor, 9)
        return after_switch, ari.asked, r.legs, r.recording_operators

    after_switch, next_call, legs, recording = asyncio.run(scenario())
    assert after_switch == [("DELETE", f"/channels/{rec.leg_snoop_id(LEG, 1)}")]
    assert next_call == [] and legs == {} and recording == set()


def test_a_leg_snoop_that_ended_is_forgotten_and_a_new_line_gets_one_before_any_call(tmp_path):
    async def scenario():
        r, ari, db, actor = setup(tmp_path, RECORDED)
        await call(r, actor, 7)
        old = r.legs[1].snoop
        r.event({"type": "ChannelDestroyed", "channel": {"id": old}})  # the leg hung up, and the snoop with it
        forgotten = 1 not in r.legs
        ari.asked.clear()
        actor.state.leg = "op1-ab12cd-2"
        r.leg_joined(actor, "op1-ab12cd-2")
        await settle(r)
        return forgotten, ari.asked

    forgotten, asked = asyncio.run(scenario())
    assert forgotten and asked == [("POST", "/channels/op1-ab12cd-2/snoop")]


def test_an_operator_who_never_recorded_gets_no_snoop_when_their_line_comes_up(tmp_path):
    async def scenario():
        r, ari, db, actor = setup(tmp_path, NOT_RECORDED)
        r.leg_joined(actor, LEG)
        await call(r, actor, 7)
        return ari.asked

    assert asyncio.run(scenario()) == []


def test_a_restarted_engine_adopts_the_snoop_on_a_current_leg_and_hangs_up_the_others(tmp_path):
    async def scenario():
        r, ari, db, actor = setup(tmp_path, RECORDED)
        actor.state.call = SimpleNamespace(attempt_id=7, facts=SimpleNamespace(bridged=True))
        r.engine.actors = {1: actor}
        current, stale = rec.leg_snoop_id(LEG, 3), rec.leg_snoop_id("op2-ab12cd-1", 1)
        await r.reconcile(ari, [{"id": LEG}, {"id": current}, {"id": stale}, {"id": "rec-at5"}])
        adopted = (r.legs[1].leg, r.legs[1].snoop, dict(r.on_leg))
        asked = list(ari.asked)
        ari.asked.clear()
        r.attempt_ended(ari, 7, answered=True)  # the call bridged before the restart ends: its file ends now
        await settle(r)
        return adopted, asked, ari.asked

    adopted, asked, at_end = asyncio.run(scenario())
    current = rec.leg_snoop_id(LEG, 3)
    assert adopted == (LEG, current, {7: current})
    assert asked == [("DELETE", f"/channels/{rec.leg_snoop_id('op2-ab12cd-1', 1)}")]
    assert at_end == [("POST", "/recordings/live/dialer-at7/stop")]


def test_a_reconnect_forgets_leg_snoops_asterisk_no_longer_has(tmp_path):
    async def scenario():
        r, ari, db, actor = setup(tmp_path, RECORDED)
        made = asyncio.get_running_loop().create_future()
        made.set_result(True)
        r.legs[1] = LegSnoop(LEG, rec.leg_snoop_id(LEG, 1), ari, made)
        await r.reconcile(ari, [])  # Asterisk restarted: every channel gone
        return r.legs

    assert asyncio.run(scenario()) == {}


def test_a_full_disk_drops_the_leg_snoops(tmp_path, monkeypatch):
    async def scenario():
        r, ari, db, actor = setup(tmp_path, RECORDED)
        await call(r, actor, 7)
        ari.asked.clear()
        monkeypatch.setattr(rec, "free_bytes", lambda root: 0)
        await r.check_space()
        await settle(r)
        return r.paused, r.legs, ari.asked

    paused, legs, asked = asyncio.run(scenario())
    assert paused and legs == {} and ("DELETE", f"/channels/{rec.leg_snoop_id(LEG, 1)}") in asked


@pytest.mark.parametrize("on_leg", [True, False])
def test_a_recording_already_over_when_stopped_is_fetched_not_failed(tmp_path, on_leg):
    """Asterisk answers a stop with 409 "Recording not in session" while a recording that ended (with its snoop, or
    stopped a moment before) is being saved: it is fetched like any other, never marked failed."""
    async def scenario():
        r, ari, db, actor = setup(tmp_path, RECORDED)
        db.recording = True
        ari.fail["/recordings/live/dialer-at7/stop"] = 409
        ari.fail["/recordings/live/dialer-at7"] = 404  # no longer live
        if not on_leg:
            actor.state.leg = None  # no leg to listen to: recorded on the client's own snoop
        await call(r, actor, 7)
        return ari.asked, db.calls, rec.pending_path(tmp_path, 7).read_bytes()

    asked, db_calls, kept = asyncio.run(scenario())
    assert ("GET", "/recordings/stored/dialer-at7/file") in asked and kept == b"RIFF....WAVE"
    assert "recording_failed" not in db_calls
    assert asked.count(("POST", "/recordings/live/dialer-at7/stop")) == 1  # a leg recording is stopped once


def test_an_operator_of_a_recording_and_a_non_recording_campaign_keeps_the_snoop_and_records_only_the_first(tmp_path):
    async def scenario():
        r, ari, db, actor = setup(tmp_path, RECORDED)
        await call(r, actor, 7)
        ari.asked.clear()
        db.plan = MIXED
        await call(r, actor, 8)
        mixed = list(ari.asked)
        ari.asked.clear()
        db.plan = RECORDED
        await call(r, actor, 9)
        return mixed, ari.asked, db.calls.count("recording_started")

    mixed, back, rows = asyncio.run(scenario())
    snoop = rec.leg_snoop_id(LEG, 1)
    assert mixed == []  # neither dropped nor recorded
    assert back == [("POST", f"/channels/{snoop}/record"), ("POST", "/recordings/live/dialer-at9/stop")]
    assert rows == 2


def test_a_new_line_of_an_operator_whose_campaign_stopped_recording_gets_no_snoop(tmp_path):
    """Their last call was recorded, but the campaign was switched off since (read as the line comes up): no snoop
    is made only to be dropped as their next call is dialled."""
    async def scenario():
        r, ari, db, actor = setup(tmp_path, RECORDED)
        await call(r, actor, 7)
        r.event({"type": "StasisEnd", "channel": {"id": r.legs[1].snoop}})  # gone with the old line
        ari.asked.clear()
        db.plan = NOT_RECORDED
        actor.state.leg = "op1-ab12cd-2"
        r.leg_joined(actor, "op1-ab12cd-2")
        await settle(r)
        await call(r, actor, 8)
        return ari.asked, r.legs

    assert asyncio.run(scenario()) == ([], {})
