"""ARI events recorded from the real Asterisk 22 (pbx + sim), replayed through the real adapter
(`stasis.translate`) into the operator machine. What the database would answer (claims) is
simulated by the replay loop: Claim → the next attempt, Dial → DialStarted, JoinBridge → LegJoined.

Recorded with `DIALER_ARI_RECORD=… pytest tests/e2e/test_calls.py -k each_outcome`.
"""
import json
from pathlib import Path

from ari_app import events as ev
from ari_app import operator as om
from ari_app import stasis

FIXTURES = Path(__file__).parent.parent / "fixtures" / "ari"


def replay(path: Path, nonce: str):
    state = om.OperatorState(1, status=om.PAUSED, wants=om.PAUSED, nonce=nonce)
    ended, bridged_first = [], []
    next_attempt = iter(range(1, 100))

    def feed(event):
        nonlocal state
        pending = [event]
        while pending:
            state, commands = om.step(state, pending.pop(0))
            for c in commands:
                match c:
                    case ev.JoinBridge():
                        pending.append(ev.LegJoined())
                    case ev.Claim():
                        n = next(next_attempt)
                        pending.append(ev.Claimed(n, f"at{n}-{nonce}", wrap_up_limit_s=1))
                    case ev.Dial():
                        pending.append(ev.DialStarted(c.attempt_id))
                    case ev.EndAttempt():
                        ended.append((c.attempt_id, c.outcome, c.facts.cause, c.facts.sip_code))
                    case ev.StartWrapUpTimer():
                        pending.append(ev.WrapUpTimedOut(c.attempt_id))
            if commands and isinstance(commands[0], ev.BridgeClient):
                bridged_first.append(commands[0].channel)

    feed(ev.ReadyRequested())
    for line in path.read_text().splitlines():
        found = stasis.translate(json.loads(line), 0.0)
        if found:
            feed(found[1])
    return state, ended, bridged_first


def test_recorded_session_gives_the_six_outcome_classifier_the_real_causes():
    state, ended, bridged_first = replay(FIXTURES / "one_operator_five_outcomes.jsonl", "ac09e5")
    assert ended == [(1, "ANSWERED", 16, None), (2, "BUSY", 17, 486), (3, "REJECTED", 21, 603),
                     (4, "NO_ANSWER", 19, 480), (5, "ERROR", 34, 503)]
    assert bridged_first == ["at1-ac09e5"]  # the answered client went into the bridge first thing
    # still Ready on the same leg, already dialling the next lead
    assert state.status == om.READY and state.leg == "op1-ac09e5-1" and state.call.attempt_id == 6


def test_every_recorded_event_is_either_used_or_ignored_without_error():
    kinds = {json.loads(l)["type"] for l in (FIXTURES / "one_operator_five_outcomes.jsonl").read_text().splitlines()}
    assert {"StasisStart", "ChannelDestroyed", "Dial", "ChannelEnteredBridge"} <= kinds
    for line in (FIXTURES / "one_operator_five_outcomes.jsonl").read_text().splitlines():
        stasis.translate(json.loads(line), 0.0)  # must not raise


def test_unexpected_events_are_ignored():
    for msg in [{}, {"type": "StasisStart"}, {"type": "StasisStart", "args": ["attempt", "x"], "channel": {"id": "at1-a"}},
                {"type": "ChannelDestroyed", "channel": {"id": "someone-else"}}, {"type": "Dial", "peer": {"id": "at1-x"}},
                {"type": "ChannelDestroyed", "channel": {"id": "at7-x"}, "cause": 16, "tech_cause": "junk"},
                {"type": "BridgeDestroyed"}, {"type": "StasisStart", "timestamp": "not a time", "args": []}]:
        found = stasis.translate(msg, 0.0)
        assert found is None or isinstance(found[1], (ev.ClientGone,)), msg
