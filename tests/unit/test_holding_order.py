"""The order clients on hold are joined in (ari_app/holding.join_key): the engine's assign and bench/pacing.py's
simulation sort by the same key."""
import pytest

from ari_app import holding
from ari_app.holding import FIRST_ANSWERED, IN_GRACE_FIRST, Free, Held


def joined_first(answered: list[float], now: float, order: str, grace: float = 2.0) -> list[float]:
    return sorted(answered, key=lambda a: holding.join_key(a, now, grace, order))


CASES = [
    # (what, answered at, now, order, grace) → the order they are joined in
    ("one client", [3.0], 4.0, FIRST_ANSWERED, 2.0, [3.0]),
    ("first answered: longest waiting first", [5.0, 1.0, 9.0], 10.0, FIRST_ANSWERED, 2.0, [1.0, 5.0, 9.0]),
    ("first answered: past the grace or not, no matter", [9.5, 1.0], 10.0, FIRST_ANSWERED, 2.0, [1.0, 9.5]),
    ("in grace first: the one within its grace goes ahead", [1.0, 9.5], 10.0, IN_GRACE_FIRST, 2.0, [9.5, 1.0]),
    ("in grace first: within the grace, the oldest first (nearest its grace)", [9.5, 8.5, 1.0], 10.0,
     IN_GRACE_FIRST, 2.0, [8.5, 9.5, 1.0]),
    ("in grace first: past the grace, the oldest first", [4.0, 1.0, 9.0], 10.0, IN_GRACE_FIRST, 2.0,
     [9.0, 1.0, 4.0]),
    ("in grace first: exactly at the grace is still within it (joined now is not abandoned)", [1.0, 8.0], 10.0,
     IN_GRACE_FIRST, 2.0, [8.0, 1.0]),
    ("in grace first: just past it is not", [1.0, 7.9], 10.0, IN_GRACE_FIRST, 2.0, [1.0, 7.9]),
    ("in grace first: the campaign's own grace", [1.0, 6.0], 10.0, IN_GRACE_FIRST, 5.0, [6.0, 1.0]),
    ("in grace first: a grace of 0, everyone past it", [1.0, 9.0], 10.0, IN_GRACE_FIRST, 0.0, [1.0, 9.0]),
    ("in grace first, the grace not known: first answered", [9.5, 1.0], 10.0, IN_GRACE_FIRST, None, [1.0, 9.5]),
]


@pytest.mark.parametrize("what, answered, now, order, grace, expected", CASES, ids=[c[0] for c in CASES])
def test_join_order(what, answered, now, order, grace, expected):
    assert joined_first(answered, now, order, grace) == expected


def held(channel, answered, grace=2.0):
    return Held(channel, 1, answered, True, 20.0, grace_s=grace)


ASSIGN_CASES = [
    # (what, clients, free operators, now, order) → offers
    ("first answered: the longest waiting to the operator free longest", FIRST_ANSWERED,
     [held("new", 9.5), held("old", 1.0)], [Free(3, 0.0)], 10.0, (("old", 3),)),
    ("in grace first: the one within its grace takes the only operator", IN_GRACE_FIRST,
     [held("new", 9.5), held("old", 1.0)], [Free(3, 0.0)], 10.0, (("new", 3),)),
    ("in grace first: two operators, both joined, the one in grace to the one free longest", IN_GRACE_FIRST,
     [held("new", 9.5), held("old", 1.0)], [Free(4, 5.0), Free(3, 0.0)], 10.0, (("new", 3), ("old", 4))),
    ("in grace first: each client's own grace", IN_GRACE_FIRST,
     [held("a", 5.0, grace=10.0), held("b", 7.0)], [Free(3, 0.0)], 10.0, (("a", 3),)),
    ("in grace first, the campaign's grace not told: first answered", IN_GRACE_FIRST,
     [held("new", 9.5, grace=None), held("old", 1.0, grace=None)], [Free(3, 0.0)], 10.0, (("old", 3),)),
]


@pytest.mark.parametrize("what, order, clients, free, now, offers", ASSIGN_CASES, ids=[c[0] for c in ASSIGN_CASES])
def test_assign_follows_the_order(what, order, clients, free, now, offers):
    assert holding.assign(clients, free, {1: frozenset()}, now, order).offers == offers


def test_the_engine_joins_clients_within_their_grace_first():
    """The order chosen from bench/pacing.py's measurements (see holding.JOIN_ORDER)."""
    plan = holding.assign([held("new", 9.5), held("old", 1.0)], [Free(3, 0.0)], {1: frozenset()}, 10.0)
    assert plan.offers == (("new", 3),)


def test_the_simulation_joins_in_the_engine_order():
    """bench/pacing.py's operator who frees up takes the client the engine would offer it."""
    from bench import pacing
    for order in holding.JOIN_ORDERS:
        sim = pacing.Sim(pacing.Ours(), 1, [], 1.0, 0.03, order=order)
        sim.now, sim.answered = 10.0, 2
        call = pacing.Call(True, 5.0, 60.0, 100.0)
        sim.hold.extend([(1.0, call, 1), (9.5, call, 2)])
        sim.wrap_start[0] = 0.0
        del sim.idle_since[0]
        sim.on_wrap_end(0)
        plan = holding.assign([held("1", 1.0), held("2", 9.5)], [Free(0, 10.0)], {1: frozenset()}, 10.0, order)
        assert {str(cid) for _, _, cid in sim.hold} == {"1", "2"} - {plan.offers[0][0]}
