"""Offers without auto-answer, missed offers, and manual dial: the operator machine from tables of events."""
import pytest

from ari_app import events as ev
from ari_app import operator as om
from ari_app.operator import OperatorState, step

OP = 7
LEG = "op7-n-1"


def run(events, state):
    trace = []
    for e in events:
        state, cmds = step(state, e)
        trace.append(cmds)
    return state, trace


def kinds(cmds):
    return [type(c).__name__ for c in cmds]


def paused(**kw):
    return OperatorState(OP, status=om.PAUSED, wants=om.PAUSED, nonce="n", **kw)


def offer(attempt_id, limit=3, timeout=15):
    return ev.Claimed(attempt_id, f"at{attempt_id}-n", answer_timeout_s=timeout, missed_limit=limit, at=attempt_id)


def test_without_auto_answer_ready_claims_first_and_the_offer_waits_without_calling_anyone():
    s, trace = run([ev.ReadyRequested(at=1), offer(100, timeout=12)], paused(auto_answer=False))
    assert kinds(trace[0]) == ["SetStatus", "Claim"]  # no OriginateLeg: the softphone is not rung
    assert trace[0][1] == ev.Claim(None)
    assert trace[1] == [ev.StartOfferTimer(100, 12)]
    assert s.call.waiting_for_answer and s.leg is None and s.leg_pending is None


def test_answer_calls_the_softphone_then_the_client_once_the_leg_is_in_the_bridge():
    s, trace = run([ev.ReadyRequested(at=1), offer(100), ev.AnswerRequested(at=5), ev.LegUp(LEG, at=6),
                    ev.LegJoined(at=7), ev.DialStarted(100, at=8)], paused(auto_answer=False))
    assert kinds(trace[2]) == ["AcceptOffer", "SaveMissedOffers", "OriginateLeg"]
    assert trace[2][0] == ev.AcceptOffer(100, 5)
    assert trace[3] == [ev.JoinBridge(LEG)]
    assert trace[4] == [ev.Dial(100, "at100-n")]
    assert s.call.phase == "dialing" and not s.call.waiting_for_answer


def test_answer_with_the_leg_already_up_dials_at_once():
    state = paused(auto_answer=False)
    s, trace = run([ev.ReadyRequested(at=1), offer(100)], state)
    s = s.__class__(**{**s.__dict__, "leg": LEG, "in_bridge": True})
    s, cmds = step(s, ev.AnswerRequested(at=3))
    assert kinds(cmds) == ["AcceptOffer", "SaveMissedOffers", "Dial"]


@pytest.mark.parametrize("event,expected", [
    (ev.AnswerRequested(), "no-offer"),
])
def test_requests_that_do_not_fit_the_state_are_refused_and_change_nothing(event, expected):
    s0 = paused()
    s, cmds = step(s0, event)
    assert s == s0 and [c.code for c in cmds] == [expected]


def test_an_offer_not_accepted_in_time_is_missed_and_the_next_one_is_offered():
    s, trace = run([ev.ReadyRequested(at=1), offer(100), ev.OfferTimedOut(100, at=20)], paused(auto_answer=False))
    assert trace[2] == [ev.ReleaseOffer(100, 20, True), ev.SaveMissedOffers(1), ev.Claim(None)]
    assert s.missed_offers == 1 and s.status == om.READY and s.call is None


def test_n_missed_offers_in_a_row_pause_the_operator_and_alert_the_supervisor():
    events = [ev.ReadyRequested(at=1)]
    for a in (100, 101, 102):
        events += [offer(a, limit=3), ev.OfferTimedOut(a, at=a + 20)]
    s, trace = run(events, paused(auto_answer=False))
    assert kinds(trace[-1]) == ["ReleaseOffer", "SetStatus", "SaveMissedOffers", "MissedOffersAlert"]
    assert ev.SetStatus(om.PAUSED) in trace[-1] and ev.MissedOffersAlert(102, 3) in trace[-1]
    assert (s.status, s.wants, s.missed_offers, s.call) == (om.PAUSED, om.PAUSED, 0, None)


def test_answering_resets_the_missed_offers_count():
    s, _ = run([ev.ReadyRequested(at=1), offer(100), ev.OfferTimedOut(100, at=20), offer(101),
                ev.AnswerRequested(at=25)], paused(auto_answer=False))
    assert s.missed_offers == 0 and s.call.accepted


@pytest.mark.parametrize("event,expected_kinds,missed", [
    (ev.OfferTimedOut(999, at=30), [], 0),  # another attempt's timer: stale
    (ev.PauseRequested("lunch", at=30), ["ReleaseOffer", "SetStatus"], 0),  # a pause declines, not a miss
    (ev.HangupRequested(at=30), ["ReleaseOffer", "ScheduleClaim"], 0),  # «Завершить» on an offer declines it
])
def test_other_events_while_an_offer_waits(event, expected_kinds, missed):
    s, trace = run([ev.ReadyRequested(at=1), offer(100), event], paused(auto_answer=False))
    assert kinds(trace[-1]) == expected_kinds and s.missed_offers == missed
    for c in trace[-1]:
        if isinstance(c, ev.ReleaseOffer):
            assert not c.missed


def test_a_stale_offer_timer_after_answering_changes_nothing():
    s0, _ = run([ev.ReadyRequested(at=1), offer(100), ev.AnswerRequested(at=3)], paused(auto_answer=False))
    s, cmds = step(s0, ev.OfferTimedOut(100, at=20))
    assert (s, cmds) == (s0, [])


def test_softphone_not_answering_after_answer_ends_the_attempt_unplaced_and_pauses():
    s, trace = run([ev.ReadyRequested(at=1), offer(100), ev.AnswerRequested(at=3),
                    ev.LegGone(LEG, 19, at=33)], paused(auto_answer=False))
    end = [c for c in trace[-1] if isinstance(c, ev.EndAttempt)][0]
    assert end.outcome == "ERROR" and "softphone" in end.error and not end.facts.answered
    assert s.status == om.PAUSED and s.call is None


def test_offer_arriving_after_a_pause_was_asked_is_withdrawn_at_once():
    s, trace = run([ev.ReadyRequested(at=1), ev.PauseRequested("paused", at=2), offer(100)],
                   paused(auto_answer=False))
    assert kinds(trace[-1]) == ["ReleaseOffer", "SetStatus"] and s.status == om.PAUSED and s.call is None


def test_with_auto_answer_the_flow_is_unchanged_leg_first():
    s, trace = run([ev.ReadyRequested(at=1), ev.LegUp(LEG, at=2), ev.LegJoined(at=3), offer(100)], paused())
    assert kinds(trace[0]) == ["SetStatus", "OriginateLeg"]
    assert trace[3] == [ev.Dial(100, "at100-n")]


def test_switching_auto_answer_on_while_ready_without_a_leg_calls_the_softphone():
    s, trace = run([ev.ReadyRequested(at=1), ev.NothingToCall(at=2), ev.AutoAnswerSet(True, at=3)],
                   paused(auto_answer=False))
    assert kinds(trace[-1]) == ["OriginateLeg"] and s.auto_answer


# ---- manual dial ------------------------------------------------------------------------------------
def manual(attempt_id):
    return ev.Claimed(attempt_id, f"at{attempt_id}-n", manual=True, at=attempt_id)


def test_manual_dial_from_pause_brings_the_leg_up_first_then_dials_and_stays_paused_after():
    s, trace = run([ev.DialRequested(55, at=1), manual(200), ev.LegUp(LEG, at=3), ev.LegJoined(at=4),
                    ev.DialStarted(200, at=5), ev.ClientGone(200, 17, at=9)], paused())
    assert trace[0] == [ev.ClaimLead(55)]
    assert kinds(trace[1]) == ["OriginateLeg"]
    assert trace[2] == [ev.JoinBridge(LEG)]  # not hung up although paused: the call needs it
    assert trace[3] == [ev.Dial(200, "at200-n")]
    end = [c for c in trace[5] if isinstance(c, ev.EndAttempt)][0]
    assert end.outcome == "BUSY"
    assert ev.Hangup(LEG) in trace[5] and s.status == om.PAUSED  # back to Pause, softphone released


def test_manual_dial_answered_goes_through_wrap_up_and_back_to_pause():
    s, trace = run([ev.DialRequested(55, at=1), manual(200), ev.LegUp(LEG, at=3), ev.LegJoined(at=4),
                    ev.DialStarted(200, at=5), ev.ClientAnswered(200, at=6), ev.ClientBridged(200, at=7),
                    ev.ClientGone(200, 16, at=20), ev.WrapUpSubmitted(200, "sold", at=30)], paused())
    assert ev.SetStatus(om.IN_CALL) in trace[5] and ev.SetStatus(om.WRAP_UP) in trace[7]
    assert kinds(trace[8])[0] == "FinishWrapUp" and s.status == om.PAUSED


def test_manual_dial_while_ready_and_idle_dials_on_the_nailed_leg():
    s, trace = run([ev.ReadyRequested(at=1), ev.LegUp(LEG, at=2), ev.LegJoined(at=3), ev.NothingToCall(at=4),
                    ev.DialRequested(55, at=5), manual(200)], paused())
    assert trace[-1] == [ev.Dial(200, "at200-n")]


@pytest.mark.parametrize("setup", [
    [ev.PauseRequested("lunch")],                                   # lunch
    [ev.ReadyRequested(), ev.LegUp(LEG), ev.LegJoined()],           # ready but claiming
    [ev.ReadyRequested(), ev.LegUp(LEG), ev.LegJoined(), offer(100)],  # in a call
    [ev.DialRequested(5)],                                          # a manual dial already being claimed
])
def test_manual_dial_is_refused_outside_pause_and_idle_ready(setup):
    s0, _ = run(setup, paused())
    s, cmds = step(s0, ev.DialRequested(55))
    assert s == s0 and kinds(cmds) == ["Refused"] and cmds[0].code == "manual-dial-not-now"
    assert "Пауза" in cmds[0].message_ru


def test_manual_lead_refused_by_the_store_leaves_the_operator_as_they_were():
    s, trace = run([ev.DialRequested(55, at=1), ev.NothingToCall(at=2)], paused())
    assert trace[-1] == [] and s.status == om.PAUSED and not s.claiming


# ---- after an engine restart -------------------------------------------------------------------------
def _record(**attempt):
    from ari_app.store import OperatorRecord

    base = {"id": 100, "client_channel": "at100-n", "ended_at": None, "bridged_at": None, "answered_at": None,
            "ringing_at": None, "dial_started_at": None, "auto_ready": True, "wrap_up_limit_s": 0,
            "offer_expires_at": None, "offer_accepted_at": None, "manual": False, "wrap_up_at": None, "outcome": None}
    return OperatorRecord(OP, "op7", "pbx", om.READY, None, {**base, **attempt}, auto_answer=False, missed_offers=2)


def test_a_waiting_offer_survives_a_restart_as_an_offer_and_the_resync_withdraws_it_without_a_miss():
    from ari_app.engine import restore_state

    s = restore_state(_record(offer_expires_at="t"), "n2", True)
    assert s.call.waiting_for_answer and not s.auto_answer and s.missed_offers == 2
    s, cmds = step(s, ev.Resync(frozenset(), frozenset(), at=5))
    assert cmds[0] == ev.ReleaseOffer(100, 5, False) and s.call is None
    assert cmds[1] == ev.Claim(None) and s.claiming  # offered afresh


def test_an_accepted_manual_call_is_restored_as_accepted():
    from ari_app.engine import restore_state

    s = restore_state(_record(offer_expires_at=None, offer_accepted_at="t", manual=True, dial_started_at="t"), "n2", True)
    assert s.call.accepted and s.call.manual and s.call.phase == "dialing"
