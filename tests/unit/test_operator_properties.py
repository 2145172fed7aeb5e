"""Property tests: random but possible event sequences never break the progressive-mode promises.

Whatever people press and whatever Asterisk reports, in any order the world allows:
- a client is dialled only for a Ready operator whose leg is up in their bridge, holding no other call;
- an answered client is bridged only to an operator in their bridge, and always first;
- an operator talking has a call; a claim and a call are never in flight together;
- without auto-answer, an offer waiting for «Ответить» never calls the softphone or the client;
- missed offers in a row never reach the campaign's limit without the operator being paused;
- a manual dial is claimed only for an operator in Pause or Ready without a call.
"""
from hypothesis import given, settings
from hypothesis import strategies as st

from ari_app import attempt as am
from ari_app import events as ev
from ari_app import operator as om

PEOPLE = [ev.ReadyRequested(), ev.PauseRequested("paused"), ev.PauseRequested("lunch"), ev.HangupRequested(),
          ev.ClaimTick(), ev.AnswerRequested(), ev.AutoAnswerSet(False), ev.AutoAnswerSet(True), ev.DialRequested(5)]
LIMIT = 3


def possible_events(s: om.OperatorState, attempt_ids, manual_claim: bool):
    """Events the world could deliver now (claims answer only claims; Asterisk speaks of live channels)."""
    out = list(PEOPLE)
    if s.claiming:
        out += [ev.NothingToCall(), ev.Claimed(next(attempt_ids), "at-next", manual=manual_claim,
                                               answer_timeout_s=10, missed_limit=LIMIT)]
    if s.call and s.call.waiting_for_answer:
        out += [ev.OfferTimedOut(s.call.attempt_id)] * 3  # the likely thing when nobody is there
    if s.leg_pending:
        out += [ev.LegUp(s.leg_pending), ev.LegGone(s.leg_pending, 19)]
    if s.leg:
        out += [ev.LegGone(s.leg, 16), ev.Resync(frozenset(), frozenset()),
                ev.Resync(frozenset({s.leg}), frozenset({s.leg}))]
    if s.call and s.call.phase != am.ENDED:
        a = s.call.attempt_id
        out += [ev.DialProgress(a, "RINGING"), ev.ClientAnswered(a), ev.ClientGone(a, 16), ev.ClientGone(a, 17),
                ev.OriginateFailed(a, "503"), ev.ClientBridged(a)]
    if s.wrap_up_attempt:
        out += [ev.WrapUpSubmitted(s.wrap_up_attempt, "ok"), ev.WrapUpTimedOut(s.wrap_up_attempt)]
    return out


def follow_ups(commands, state):
    """What the runtime would feed back at once after carrying out commands."""
    for c in commands:
        match c:
            case ev.JoinBridge():
                yield ev.LegJoined()
            case ev.Dial():
                yield ev.DialStarted(c.attempt_id)


def check(before: om.OperatorState, after: om.OperatorState, commands: list):
    for i, c in enumerate(commands):
        if isinstance(c, ev.Dial):
            assert before.status == om.READY or before.claiming or after.call.manual, \
                "dialled for an operator who is not Ready"
            assert after.leg and after.in_bridge, "dialled without the operator's leg in the bridge"
            assert before.call is None or before.call.phase == am.ENDED or (
                before.call.attempt_id == c.attempt_id and before.call.phase == am.RESERVED), "two calls for one operator"
            assert after.call.attempt_id == c.attempt_id and after.call.accepted, "dialled an offer nobody accepted"
        if isinstance(c, ev.OriginateLeg):
            assert not (after.call and after.call.waiting_for_answer), "softphone called before «Ответить»"
        if isinstance(c, ev.ClaimLead):
            assert before.status == om.PAUSED or (before.status == om.READY and not before.call
                                                  and not before.claiming), "manual dial in the wrong status"
        if isinstance(c, ev.BridgeClient):
            assert i == 0, "bridging the client is not the first thing done"
            assert before.in_bridge, "client bridged to an operator who is not there"
    assert after.status in (om.OFFLINE, om.PAUSED, om.READY, om.IN_CALL, om.WRAP_UP, om.LUNCH)
    if after.status == om.IN_CALL:
        assert after.call is not None and after.call.talking
    assert not (after.claiming and after.call), "a claim in flight while holding a call"
    assert after.missed_offers < LIMIT, "missed offers reached the limit without a pause"
    if any(isinstance(c, ev.MissedOffersAlert) for c in commands):
        assert after.status == om.PAUSED or after.wants == om.PAUSED, "alerted but not paused"
    if after.call and after.call.phase != am.RESERVED:
        assert after.leg or after.call.phase in (am.DIALING, am.RINGING, am.ANSWERED, am.BRIDGED)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_random_possible_sequences_keep_the_promises(data):
    attempt_ids = iter(range(1, 10_000))
    s = om.OperatorState(1, status=om.PAUSED, wants=om.PAUSED, nonce="n",
                         auto_answer=data.draw(st.booleans()))
    manual_claim = False
    for _ in range(data.draw(st.integers(5, 60))):
        event = data.draw(st.sampled_from(possible_events(s, attempt_ids, manual_claim)))
        if isinstance(event, ev.Claimed):
            event = ev.Claimed(event.attempt_id, f"at{event.attempt_id}-n", manual=event.manual,
                               answer_timeout_s=10, missed_limit=LIMIT)
        pending = [event]
        while pending:
            before = s
            s, commands = om.step(s, pending.pop(0))
            check(before, s, commands)
            for c in commands:
                if isinstance(c, (ev.Claim, ev.ClaimLead)):
                    manual_claim = isinstance(c, ev.ClaimLead)
            pending += list(follow_ups(commands, s))
