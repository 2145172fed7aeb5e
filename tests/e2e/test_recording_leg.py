"""Recording on the snoop kept on the operator's leg, end to end: real pbx + sim, the engine in its own process.

The snoop outlives each call, so the file's ends are the engine's record and stop requests: each call's file must
still last its bridged time (± 1 s), with nothing of the time between calls; a snoop gone between calls (hung up
behind the engine's back) leaves the next call recorded all the same, on a new one; a campaign without recording
leaves no snoop on the leg (its bridge is native RTP again).
"""
from __future__ import annotations

import pytest

from dialer.dev import instances
from dialer.dev.testing import add_leads, command_all, make_operators, until
from dialer.models import Attempt
from tests.e2e.test_recording import campaign, decode, recording_row, rms, set_recording, tone_share

pytestmark = pytest.mark.e2e


@pytest.fixture
def recorded(engine):
    """The engine, and this test's files removed after it: attempt ids start at 1 again in the next test, whose
    checks look for `at<id>.*` files."""
    yield engine
    for path in list(engine.settings.recordings_path.glob("[0-9]*/**/at*.*")) + list(
            engine.settings.recordings_path.glob("pending/at*.wav")):
        path.unlink(missing_ok=True)


def leg_snoops(settings) -> list[dict]:
    return [c for c in instances.ari_get(settings, "channels") if c["id"].startswith("rec-op")]


def ended(n: int) -> bool:
    return Attempt.select().where(Attempt.ended_at.is_null(False)).count() == n


def stored_file(settings, attempt: Attempt) -> list[int]:
    until(lambda: (recording_row(attempt.id) or ["recording"])[0] != "recording", 20, message="the recording stored")
    state, file, _size, duration, _sha, error = recording_row(attempt.id)
    assert state == "stored", error
    bridged_s = (attempt.ended_at - attempt.bridged_at).total_seconds()
    assert abs(duration - bridged_s) <= 1.0, (attempt.id, duration, bridged_s)
    return decode(settings, (settings.recordings_path / file).read_bytes())


def test_calls_recorded_on_the_leg_snoop_last_their_bridged_time_and_a_snoop_gone_between_calls_is_replaced(
        recorded):
    settings = recorded.settings
    cid = campaign()
    set_recording(cid, True)
    add_leads(cid, ["79000051101"])  # answers, plays hello-world, talks 5 s
    [op] = make_operators(settings, cid, 1)
    command_all([op["id"]], "ready")
    until(lambda: ended(1), 40, message="the first call")
    [snoop] = until(lambda: leg_snoops(settings), 10, message="the snoop on the operator's leg")
    assert snoop["id"].startswith(f"rec-op{op['id']}-")
    first = Attempt.select().order_by(Attempt.id).first()
    assert first.outcome == "ANSWERED"
    samples = stored_file(settings, first)
    assert rms(samples) > 300 and tone_share(samples[-4000:]) > 0.5  # both parties, as on the client's snoop

    # the snoop hung up between calls (as an Asterisk administrator or a fault would): the next call still bridges
    # and is recorded whole, on a new snoop
    instances.rx(settings, "pbx", f"channel request hangup {snoop['name']}")
    until(lambda: not any(c["id"] == snoop["id"] for c in leg_snoops(settings)), 10, message="the snoop gone")
    add_leads(cid, ["79000051102"])
    until(lambda: ended(2), 40, message="the second call")
    second = Attempt.select().order_by(Attempt.id.desc()).first()
    assert second.outcome == "ANSWERED" and second.error is None
    samples = stored_file(settings, second)
    assert rms(samples) > 300 and tone_share(samples[-4000:]) > 0.5
    assert [c["id"] for c in leg_snoops(settings)] not in ([], [snoop["id"]])

    # recording switched off: the next call drops the snoop and records nothing
    set_recording(cid, False)
    add_leads(cid, ["79000031103"])
    until(lambda: ended(3), 40, message="the third call")
    third = Attempt.select().order_by(Attempt.id.desc()).first()
    assert third.outcome == "ANSWERED" and recording_row(third.id) is None
    until(lambda: not leg_snoops(settings), 10, message="no snoop left on the leg")
