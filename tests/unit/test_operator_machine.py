"""Operator + attempt state machines driven by tables of event sequences (no Asterisk, no database)."""
from dataclasses import replace

import pytest

from ari_app import events as ev
from ari_app import operator as om
from ari_app.operator import OperatorState, step

OP = 7
LEG = "op7-n-1"
CH = "at100-n"


def run(events, state=None):
    state = state or OperatorState(OP, status=om.PAUSED, wants=om.PAUSED, nonce="n")
    trace = []
    for e in events:
        state, cmds = step(state, e)
        trace.append(cmds)
    return state, trace


def kinds(cmds):
    return [type(c).__name__ for c in cmds]


def ready_with_leg():
    """Ready, leg up and in the bridge, a claim in flight."""
    return [ev.ReadyRequested(at=1), ev.LegUp(LEG, at=2), ev.LegJoined(at=3)]


def test_ready_brings_the_leg_up_first_then_claims():
    s, trace = run(ready_with_leg())
    assert kinds(trace[0]) == ["SetStatus", "OriginateLeg"]
    assert trace[0][1] == ev.OriginateLeg(LEG)
    assert kinds(trace[1]) == ["JoinBridge"]
    assert kinds(trace[2]) == ["Claim"]
    assert s.claiming and s.status == om.READY


def test_answered_call_is_bridged_before_anything_else_then_wrap_up_then_ready():
    s, trace = run(ready_with_leg() + [
        ev.Claimed(100, CH, at=4), ev.DialStarted(100, at=5), ev.DialProgress(100, "RINGING", at=6),
        ev.ClientAnswered(100, at=7), ev.ClientBridged(100, at=8), ev.ClientGone(100, 16, "Normal Clearing", at=20),
        ev.WrapUpSubmitted(100, "sold", at=30)])
    assert kinds(trace[3]) == ["Dial"]
    assert trace[5] == [ev.Record(100, "ringing_at", 6)]
    assert kinds(trace[6])[0] == "BridgeClient"  # the client hears the operator at once
    assert ev.SetStatus(om.IN_CALL) in trace[6]
    end = [c for c in trace[8] if isinstance(c, ev.EndAttempt)][0]
    assert end.outcome == "ANSWERED"
    assert ev.SetStatus(om.WRAP_UP) in trace[8]
    assert kinds(trace[9]) == ["FinishWrapUp", "SetStatus", "Claim"]
    assert s.status == om.READY and s.leg == LEG  # the leg stays up (nailed)


@pytest.mark.parametrize("cause,status,outcome", [
    (17, "BUSY", "BUSY"), (21, "NOANSWER", "REJECTED"), (19, "NOANSWER", "NO_ANSWER"), (34, "CONGESTION", "ERROR"),
])
def test_unanswered_attempt_ends_and_the_next_claim_follows_without_wrap_up(cause, status, outcome):
    s, trace = run(ready_with_leg() + [
        ev.Claimed(100, CH, at=4), ev.DialStarted(100, at=5), ev.DialProgress(100, status, at=6),
        ev.ClientGone(100, cause, at=9)])
    end = trace[-1][0]
    assert isinstance(end, ev.EndAttempt) and end.outcome == outcome
    assert kinds(trace[-1]) == ["EndAttempt", "Claim"]
    assert s.status == om.READY and s.call is None


def test_no_client_is_dialled_without_a_ready_operator_with_the_leg_in_the_bridge():
    # ready but leg not yet joined: no claim
    s, trace = run([ev.ReadyRequested(at=1), ev.LegUp(LEG, at=2)])
    assert "Claim" not in kinds(trace[-1])
    # claim tick while paused: nothing
    s, trace = run([ev.ClaimTick()])
    assert trace == [[]]


def test_pause_while_dialling_waits_for_the_call_then_pauses_and_releases_the_leg():
    s, trace = run(ready_with_leg() + [ev.Claimed(100, CH, at=4), ev.DialStarted(100, at=5),
                                       ev.PauseRequested("lunch", at=6), ev.ClientGone(100, 19, at=9)])
    assert trace[5] == []  # reserved: the pause waits
    assert kinds(trace[6]) == ["EndAttempt", "SetStatus", "Hangup"]
    assert s.status == om.LUNCH and s.wants == om.LUNCH


def test_pause_while_claiming_applies_when_nothing_to_call():
    s, trace = run(ready_with_leg() + [ev.PauseRequested("paused"), ev.NothingToCall()])
    assert kinds(trace[-1]) == ["SetStatus", "Hangup"]
    assert s.status == om.PAUSED


def test_nothing_to_call_schedules_a_retry_and_the_tick_claims_again():
    s, trace = run(ready_with_leg() + [ev.NothingToCall(), ev.ClaimTick()])
    assert kinds(trace[-2]) == ["ScheduleClaim"]
    assert kinds(trace[-1]) == ["Claim"]


def test_operator_phone_drops_during_the_call_client_is_hung_up_and_wrap_up_follows():
    s, trace = run(ready_with_leg() + [
        ev.Claimed(100, CH), ev.DialStarted(100), ev.ClientAnswered(100), ev.ClientBridged(100),
        ev.LegGone(LEG, 16), ev.ClientGone(100, 16)])
    assert trace[-2] == [ev.Hangup(CH)]
    assert s.status == om.WRAP_UP and s.leg is None and s.wants == om.PAUSED
    s, trace = run([ev.WrapUpSubmitted(100, "ok")], s)
    assert s.status == om.PAUSED


def test_leg_not_answered_pauses_the_operator():
    s, trace = run([ev.ReadyRequested(), ev.LegGone(LEG, 19)])
    assert s.status == om.PAUSED and s.leg is None and s.leg_pending is None
    assert kinds(trace[-1]) == ["SetStatus"]


def test_client_answers_but_operator_is_not_in_the_bridge_client_is_hung_up_lost():
    s = OperatorState(OP, status=om.READY, leg=None, nonce="n",
                      call=om.at.AttemptState(100, CH, om.at.RINGING))
    s, trace = run([ev.ClientAnswered(100), ev.ClientGone(100, 16)], s)
    assert trace[0][0] == ev.Hangup(CH)
    assert trace[1][0].outcome == "LOST"


def test_events_of_another_attempt_are_ignored():
    s, trace = run(ready_with_leg() + [ev.Claimed(100, CH), ev.ClientGone(999, 16)])
    assert trace[-1] == [] and s.call.attempt_id == 100


def test_wrap_up_timeout_finishes_wrap_up():
    s, trace = run(ready_with_leg() + [
        ev.Claimed(100, CH, wrap_up_limit_s=5), ev.DialStarted(100), ev.ClientAnswered(100), ev.ClientBridged(100),
        ev.ClientGone(100, 16)])
    assert ev.StartWrapUpTimer(100, 5) in trace[-1]
    s, trace = run([ev.WrapUpTimedOut(100)], s)
    assert trace[0][0].result == "wrap_up_timeout" and s.status == om.READY


def test_campaign_without_auto_ready_pauses_after_wrap_up():
    s, _ = run(ready_with_leg() + [
        ev.Claimed(100, CH, auto_ready=False), ev.DialStarted(100), ev.ClientAnswered(100), ev.ClientBridged(100),
        ev.ClientGone(100, 16), ev.WrapUpSubmitted(100, "ok")])
    assert s.status == om.PAUSED


def test_hangup_request_while_ringing_cancels_and_classifies_no_answer():
    s, trace = run(ready_with_leg() + [ev.Claimed(100, CH), ev.DialStarted(100), ev.DialProgress(100, "RINGING"),
                                       ev.HangupRequested(), ev.ClientGone(100, 16)])
    assert trace[-2] == [ev.Hangup(CH)]
    assert trace[-1][0].outcome == "NO_ANSWER"


def test_resync_after_restart_readopts_live_calls_and_closes_lost_ones():
    base = OperatorState(OP, status=om.IN_CALL, leg=LEG, nonce="m",
                         call=om.at.AttemptState(100, CH, om.at.BRIDGED, om.at.AttemptFacts(True, True)))
    # both channels still up: re-adopted, nothing to do
    s, trace = run([ev.Resync(frozenset({LEG, CH}), frozenset({LEG, CH}))], base)
    assert trace == [[]] and s.in_bridge and s.call.phase == om.at.BRIDGED
    # the client vanished while the engine was away: the bridged call ends ANSWERED → wrap-up
    s, trace = run([ev.Resync(frozenset({LEG}), frozenset({LEG}))], base)
    assert trace[0][0].outcome == "ANSWERED" and s.status == om.WRAP_UP
    # a dialling attempt whose channel vanished: ERROR, never left in progress
    dialing = replace(base, status=om.READY, call=om.at.AttemptState(100, CH, om.at.DIALING))
    s, trace = run([ev.Resync(frozenset({LEG}), frozenset({LEG}))], dialing)
    end = trace[0][0]
    assert end.outcome == "ERROR" and "away" in end.error
    assert s.call is None and "Claim" in kinds(trace[0])


def test_resync_rejoins_a_leg_that_is_up_but_not_bridged():
    s = OperatorState(OP, status=om.READY, leg=LEG, nonce="m")
    s, trace = run([ev.Resync(frozenset({LEG}), frozenset())], s)
    assert trace[0] == [ev.JoinBridge(LEG)]


def test_resync_restarts_the_wrap_up_limit_after_a_restart():
    s = OperatorState(OP, status=om.WRAP_UP, leg=LEG, nonce="m", wrap_up_attempt=100, wrap_up_limit_s=3)
    s, trace = run([ev.Resync(frozenset({LEG}), frozenset({LEG}))], s)
    assert trace[0] == [ev.StartWrapUpTimer(100, 3)]
    s, trace = run([ev.WrapUpTimedOut(100)], s)
    assert s.status == om.READY


def test_operator_line_dropping_while_the_client_rings_is_an_error_not_a_client_no_answer():
    s, trace = run(ready_with_leg() + [ev.Claimed(100, CH), ev.DialStarted(100), ev.DialProgress(100, "RINGING"),
                                       ev.LegGone(LEG, 16), ev.ClientGone(100, 16)])
    assert trace[-2][0] == ev.Hangup(CH)
    end = trace[-1][0]
    assert end.outcome == "ERROR" and end.error == "the operator's line dropped"
    assert s.status == om.PAUSED


def test_after_a_failure_on_our_side_the_next_claim_waits():
    s, trace = run(ready_with_leg() + [ev.Claimed(100, CH), ev.OriginateFailed(100, "ARI → 503")])
    assert kinds(trace[-1]) == ["EndAttempt", "ScheduleClaim"]
    assert trace[-1][0].outcome == "ERROR"


def test_line_dropping_while_claiming_releases_the_lead_instead_of_dialling():
    s, trace = run(ready_with_leg() + [ev.LegGone(LEG, 16), ev.Claimed(100, CH)])
    assert "Dial" not in kinds(trace[-1])
    end = trace[-1][0]
    assert end.outcome == "ERROR" and "before dialling" in end.error
    assert s.status == om.PAUSED and s.call is None
