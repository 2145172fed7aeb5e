"""Clients calling back (SPEC A1): the one decision of where the call goes, from a table; the operator machine
taking or declining the call."""
from __future__ import annotations

import pytest

from ari_app import events as ev
from ari_app import operator as om
from ari_app.inbound import GIVE_UP, HOLD, OPERATOR, Decision, FreeOperator, decide

F = FreeOperator
POOL = frozenset({1, 2, 3})


@pytest.mark.parametrize("last, pool, free, waited, declined, expected", [
    # the last operator, when free, even if others have been free longer
    (2, POOL, [F(1, 10.0), F(2, 50.0)], 0, (), Decision(OPERATOR, 2)),
    # ... even outside the campaign's pool now (they know the client)
    (9, POOL, [F(1, 10.0), F(9, 50.0)], 0, (), Decision(OPERATOR, 9)),
    # the last operator busy: the pool's operator free longest
    (2, POOL, [F(3, 30.0), F(1, 20.0)], 0, (), Decision(OPERATOR, 1)),
    (None, POOL, [F(3, 30.0), F(1, 20.0)], 0, (), Decision(OPERATOR, 1)),
    # free operators outside the pool do not take the campaign's clients
    (None, POOL, [F(7, 1.0)], 0, (), Decision(HOLD)),
    # an empty pool (unknown numbers without a configured campaign): anyone free
    (None, frozenset(), [F(7, 5.0), F(8, 1.0)], 0, (), Decision(OPERATOR, 8)),
    # the last operator just declined (busy after all): the next one
    (2, POOL, [F(2, 1.0), F(3, 9.0)], 0, (2,), Decision(OPERATOR, 3)),
    # nobody free: hold until the limit, then the message and a callback
    (2, POOL, [], 0, (), Decision(HOLD)),
    (2, POOL, [], 59.9, (), Decision(HOLD)),
    (2, POOL, [], 60, (), Decision(GIVE_UP)),
    (2, POOL, [F(2, 1.0)], 60, (2,), Decision(GIVE_UP)),
    # someone free at the last moment still takes the call
    (2, POOL, [F(1, 1.0)], 75, (), Decision(OPERATOR, 1)),
])
def test_where_an_inbound_call_goes(last, pool, free, waited, declined, expected):
    d = decide(last, pool, free, waited, 60, frozenset(declined))
    assert (d.action, d.operator_id) == (expected.action, expected.operator_id)


FREE = om.OperatorState(7, status=om.READY, leg="op7-x-1", in_bridge=True)
OFFER = ev.InboundOffered(41, "1795.12", auto_ready=False, wrap_up_limit_s=30, at=5.0)


def test_a_free_operator_takes_the_call_and_the_client_is_bridged_first_after_the_music_stops():
    s, cmds = om.step(FREE, OFFER)
    assert s.status == om.IN_CALL and s.call.attempt_id == 41 and s.call.channel == "1795.12"
    assert cmds[:2] == [ev.InboundTaken(41, "1795.12"), ev.BridgeClient("1795.12")]
    assert ev.SetStatus(om.IN_CALL) in cmds
    s, cmds = om.step(s, ev.ClientBridged(41, at=6.0))
    s, cmds = om.step(s, ev.ClientGone(41, 16, at=9.0))
    [end] = [c for c in cmds if isinstance(c, ev.EndAttempt)]
    assert end.outcome == "ANSWERED" and s.status == om.WRAP_UP and s.wrap_up_attempt == 41


@pytest.mark.parametrize("state", [
    om.OperatorState(7, status=om.PAUSED, leg="op7-x-1", in_bridge=True),       # paused
    om.OperatorState(7, status=om.READY),                                        # no line
    om.OperatorState(7, status=om.READY, leg="op7-x-1", in_bridge=False),       # line not in the bridge yet
    om.OperatorState(7, status=om.READY, leg="op7-x-1", in_bridge=True, claiming=True),  # a claim in flight
    om.OperatorState(7, status=om.READY, leg="op7-x-1", in_bridge=True, wants=om.PAUSED),  # pause asked
    om.step(FREE, ev.Claimed(3, "at3-x"))[0],                                    # dialling out
    om.OperatorState(7, status=om.WRAP_UP, leg="op7-x-1", in_bridge=True, wrap_up_attempt=2),
])
def test_an_operator_who_is_not_free_declines_and_nothing_changes(state):
    s, cmds = om.step(state, OFFER)
    assert s == state and cmds == [ev.InboundDeclined(41, "1795.12")]


@pytest.mark.parametrize("raw, includes", [
    ("79000031001", "+79000031001"),   # what the trunk sends; leads hold E.164
    ("+79000031001", "+79000031001"),
    ("89000031001", "+79000031001"),   # the national form
    ("", None),
])
def test_the_callers_number_in_the_forms_a_lead_may_hold(raw, includes):
    from ari_app.inbound_store import phone_variants
    found = phone_variants(raw)
    assert (includes in found) if includes else found == []
