"""The engine side of predictive dialling, pure parts: who a held client is joined to, who is given up
(ari_app/holding.assign), and what the pacer is told about a campaign (ari_app/predictive.pace_input)."""
from __future__ import annotations

import pytest

from ari_app import holding, pacer
from ari_app.holding import Free, Held, assign
from ari_app.predictive import CallView, OperatorView, pace_input
from ari_app.predictive_store import CampaignPacing, Measures


def held(channel, answered, campaign=1, ready=True, timeout=20.0, declined=()):
    return Held(channel, campaign, answered, ready, timeout, tuple(declined))


ASSIGN_CASES = [
    # (held, free operators, pools, now) → (offers, given up)
    ("nobody free: everyone waits", [held("a", 0)], [], {1: frozenset()}, 5, ((), ())),
    ("first answered goes to the operator free longest",
     [held("b", 2), held("a", 1)], [Free(7, 30), Free(3, 10)], {1: frozenset()}, 5, ((("a", 3), ("b", 7)), ())),
    ("one free operator: only the first answered", [held("b", 2), held("a", 1)], [Free(3, 10)], {1: frozenset()}, 5,
     ((("a", 3),), ())),
    ("operators outside the campaign's pool are not asked", [held("a", 1)], [Free(3, 1), Free(4, 2)],
     {1: frozenset({4})}, 5, ((("a", 4),), ())),
    ("past the wait timeout: given up, even with an operator free", [held("a", 0, timeout=20)], [Free(3, 0)],
     {1: frozenset()}, 20, ((), ("a",))),
    ("just under the timeout: still joined", [held("a", 0, timeout=20)], [Free(3, 0)], {1: frozenset()}, 19.9,
     ((("a", 3),), ())),
    ("not yet in the holding bridge: waits for it", [held("a", 0, ready=False)], [Free(3, 0)], {1: frozenset()}, 1,
     ((), ())),
    ("an operator who declined a moment ago is skipped", [held("a", 0, declined=[(3, 4.5)])], [Free(3, 0), Free(4, 1)],
     {1: frozenset()}, 5, ((("a", 4),), ())),
    ("... and asked again after a pause", [held("a", 0, declined=[(3, 1.0)])], [Free(3, 0), Free(4, 1)],
     {1: frozenset()}, 5, ((("a", 3),), ())),
    ("each campaign's clients go to its own pool", [held("a", 0, campaign=1), held("b", 1, campaign=2)],
     [Free(3, 0), Free(4, 0)], {1: frozenset({4}), 2: frozenset({3})}, 5, ((("a", 4), ("b", 3)), ())),
]


@pytest.mark.parametrize("why, held_, free, pools, now, expected", ASSIGN_CASES, ids=[c[0] for c in ASSIGN_CASES])
def test_assign(why, held_, free, pools, now, expected):
    plan = assign(held_, free, pools, now)
    assert (plan.offers, plan.give_up) == expected


def test_an_operator_is_never_offered_two_clients_at_once():
    clients = [held(str(i), i) for i in range(10)]
    plan = assign(clients, [Free(o, o) for o in range(4)], {1: frozenset()}, 5)
    operators = [o for _, o in plan.offers]
    assert len(operators) == len(set(operators)) == 4


def test_the_holding_bridge_is_named_by_its_campaign():
    assert holding.bridge_id(12) == "hold-c12"


CAMPAIGN = CampaignPacing(1, 2.0, 0.03, None, True, 2.0, 20, False, 50, frozenset({1, 2, 3, 4}))


def test_pace_input_counts_only_the_pool_and_the_campaigns_own_calls():
    ops = [OperatorView(1, "ready", True, 3.0), OperatorView(2, "in_call", False, 40.0),
           OperatorView(3, "wrap_up", False, 2.0), OperatorView(9, "ready", True, 1.0)]  # 9: not in the pool
    calls = [CallView(1, False, 4.0), CallView(1, True, 1.0), CallView(2, False, 1.0)]  # the last: another campaign
    i = pace_input(CAMPAIGN, Measures(dialled=80, answered=20), ops, calls)
    assert (i.mode, i.ready, i.in_call, i.in_wrap) == (pacer.PREDICTIVE, 1, (40.0,), (2.0,))
    assert (i.dialing, i.dialing_for, i.waiting) == (1, (4.0,), 1)
    assert (i.dialled, i.answered, i.min_dialled, i.cap, i.max_ratio, i.grace_s) == (80, 20, 50, 0.03, 2.0, 2.0)


@pytest.mark.parametrize("ready, dialing, waiting, dials", [(3, 0, 0, 3), (3, 1, 0, 2), (3, 1, 1, 1), (1, 0, 2, 0)])
def test_small_sample_the_pacer_dials_like_progressive_for_the_engine(ready, dialing, waiting, dials):
    ops = [OperatorView(o, "ready", True, 1.0) for o in range(1, ready + 1)]
    calls = [CallView(1, False, 1.0)] * dialing + [CallView(1, True, 1.0)] * waiting
    d = pacer.decide(pace_input(CAMPAIGN, Measures(dialled=3, answered=1), ops, calls))
    assert (d.dials, d.why) == (dials, pacer.WHY_SAMPLE)


def test_over_the_cap_the_engine_is_told_progressive():
    ops = [OperatorView(o, "in_call", False, 10.0) for o in range(1, 5)]
    over = Measures(dialled=400, answered=100, talk=(60.0,) * 50, windows=(pacer.Abandons(100, 3),))
    d = pacer.decide(pace_input(CAMPAIGN, over, ops, []))
    assert (d.dials, d.why) == (0, pacer.WHY_CAP)


def test_after_a_restart_an_answered_client_found_in_a_bridge_is_a_talk_not_a_lost_client():
    """A client handed over just before the engine died: its bridged stamp may not be written; Asterisk's listing
    says it is in a bridge, so the call is bridged (ANSWERED at its end), never LOST."""
    from ari_app import attempt as am
    from ari_app import events as ev
    from ari_app import operator as om
    from ari_app.classifier import AttemptFacts

    call = am.AttemptState(7, "at7-x", am.ANSWERED, AttemptFacts(answered=True))
    s = om.OperatorState(1, status=om.IN_CALL, leg="op1-x-1", in_bridge=True, call=call)
    bridged, _ = om.step(s, ev.Resync(frozenset({"at7-x", "op1-x-1"}), frozenset({"at7-x", "op1-x-1"}), 0.0, 5.0))
    assert bridged.call.phase == am.BRIDGED and bridged.call.facts.bridged
    waiting, _ = om.step(s, ev.Resync(frozenset({"at7-x", "op1-x-1"}), frozenset({"op1-x-1"}), 0.0, 5.0))
    assert waiting.call.phase == am.ANSWERED
