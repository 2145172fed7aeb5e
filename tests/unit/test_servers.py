"""A lost Asterisk server (ari_app/servers.py): what each operator's machine ends in, from a table of cases."""
from __future__ import annotations

from dataclasses import replace

import pytest

from ari_app import attempt as am
from ari_app import events as ev
from ari_app import operator as om
from ari_app import servers
from ari_app.classifier import AttemptFacts

REASON = "Asterisk server pbx2 is unreachable"
LEG = "op1-n-1"


def operator(status=om.READY, leg=LEG, call=None, wants=None, **kw):
    return om.OperatorState(1, status=status, wants=wants or (om.READY if status in (om.READY, om.IN_CALL) else status),
                            leg=leg, in_bridge=leg is not None, call=call, nonce="n", **kw)


def call(phase, accepted=True, answered=False, bridged=False):
    return am.AttemptState(7, "at7-n", phase=phase, accepted=accepted,
                           facts=AttemptFacts(answered=answered, bridged=bridged), auto_ready=True)


def run(s):
    """Every event the loss brings, through the pure machine; the final state and every command given."""
    commands = []
    for e in servers.lost_events(s, servers.ServerLost(REASON, at=100.0)):
        s, more = om.step(s, e)
        commands += more
    return s, commands


def ends(commands):
    return [(c.outcome, c.facts.cause, c.error, c.cause_text) for c in commands if isinstance(c, ev.EndAttempt)]


CASES = [
    # name, state before, status after, wants after, attempt ends (outcome, cause, error, cause text)
    ("ready, line up, no call", operator(), om.PAUSED, om.PAUSED, []),
    ("talking", operator(om.IN_CALL, call=call(am.BRIDGED, answered=True, bridged=True)), om.WRAP_UP, om.PAUSED,
     [("ANSWERED", 38, None, REASON)]),
    ("answered, not yet bridged", operator(om.IN_CALL, call=call(am.ANSWERED, answered=True)), om.PAUSED, om.PAUSED,
     [("LOST", 38, None, REASON)]),
    ("client ringing", operator(call=call(am.RINGING)), om.PAUSED, om.PAUSED, [("ERROR", 38, REASON, REASON)]),
    ("client being dialled", operator(call=call(am.DIALING)), om.PAUSED, om.PAUSED, [("ERROR", 38, REASON, REASON)]),
    ("reserved, softphone being called", operator(leg=None, call=call(am.RESERVED), leg_pending="op1-n-2"),
     om.PAUSED, om.PAUSED, [("ERROR", None, REASON, None)]),
    ("wrap-up", operator(om.WRAP_UP, wrap_up_attempt=6), om.WRAP_UP, om.PAUSED, []),
    ("already paused, no line", operator(om.PAUSED, leg=None), om.PAUSED, om.PAUSED, []),
    ("at lunch", operator(om.LUNCH, leg=None), om.LUNCH, om.LUNCH, []),
]


@pytest.mark.parametrize("name, before, status, wants, ended", CASES, ids=[c[0] for c in CASES])
def test_a_lost_server_pauses_its_operator_and_closes_their_call(name, before, status, wants, ended):
    after, commands = run(before)
    assert (after.status, after.wants) == (status, wants)
    assert after.leg is None and after.leg_pending is None and after.call is None
    assert ends(commands) == ended
    assert not any(isinstance(c, (ev.Claim, ev.Dial, ev.OriginateLeg)) for c in commands)  # nothing new on it


def test_an_offer_waiting_in_the_browser_is_withdrawn_not_missed():
    after, commands = run(operator(leg=None, call=call(am.RESERVED, accepted=False)))
    assert after.status == om.PAUSED and after.call is None
    assert [(c.attempt_id, c.missed) for c in commands if isinstance(c, ev.ReleaseOffer)] == [(7, False)]


@pytest.mark.parametrize("state, noted", [
    (operator(), True), (operator(om.IN_CALL, call=call(am.BRIDGED, bridged=True)), True),
    (operator(om.WRAP_UP, leg=None), True), (operator(om.PAUSED, leg=None), False),
    (operator(om.LUNCH, leg=None), False), (replace(operator(om.PAUSED, leg=None), leg_pending="x"), True),
])
def test_the_reason_is_noted_on_those_who_were_working(state, noted):
    assert servers.affected(state) is noted


@pytest.mark.parametrize("state, movable", [
    (operator(om.PAUSED, leg=None), True), (operator(om.OFFLINE, leg=None), True), (operator(om.LUNCH, leg=None), True),
    (operator(om.PAUSED), False),  # its line is still being hung up on the old server
    (operator(), False), (operator(om.WRAP_UP, leg=None), False),
    (operator(om.PAUSED, leg=None, call=call(am.DIALING)), False),  # a manual dial under way
    (replace(operator(om.PAUSED, leg=None), claiming=True), False),
])
def test_an_operator_moves_to_their_devices_new_server_only_when_nothing_lives_on_the_old(state, movable):
    assert servers.movable(state) is movable
