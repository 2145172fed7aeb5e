"""The pacer (ari_app/pacer.py): situations → number of dials, and the hard rules as properties."""
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ari_app import pacer as pc
from ari_app.pacer import Abandons, PaceInput

TALK = tuple(float(t) for t in range(30, 211, 2))       # 30 … 210 s, mean 120
WRAP = (10.0,) * 20
MEASURED = dict(mode=pc.PREDICTIVE, dialled=400, answered=120, talk=TALK, wrap=WRAP,
                windows=(Abandons(300, 0),), max_ratio=3.0, cap=0.03)


def inp(**kw) -> PaceInput:
    return PaceInput(**{**MEASURED, **kw})


# ---- tables of situations ------------------------------------------------------------------------------------
PROGRESSIVE_CASES = [
    # (what, input, dials, why)
    ("progressive: one call per Ready operator", PaceInput(ready=5), 5, pc.WHY_MODE),
    ("progressive: calls in flight count", PaceInput(ready=5, dialing=3), 2, pc.WHY_MODE),
    ("progressive: clients on hold take operators first", PaceInput(ready=5, dialing=1, waiting=2), 2, pc.WHY_MODE),
    ("progressive: nobody Ready, nothing", PaceInput(ready=0, in_call=(5.0,) * 10), 0, pc.WHY_MODE),
    ("progressive: more in flight than Ready", PaceInput(ready=2, dialing=4), 0, pc.WHY_MODE),
    ("predictive, too few calls measured", inp(ready=4, dialled=20, answered=6), 4, pc.WHY_SAMPLE),
    ("predictive, too few answered", inp(ready=4, dialled=400, answered=5), 4, pc.WHY_SAMPLE),
    ("predictive, over the cap in the window", inp(ready=4, windows=(Abandons(100, 4),)), 4, pc.WHY_CAP),
    ("predictive, one more abandon would cross", inp(ready=4, windows=(Abandons(98, 2),)), 4, pc.WHY_CAP),
    ("predictive, the day over while the last N is clean",
     inp(ready=3, windows=(Abandons(300, 0), Abandons(1000, 31))), 3, pc.WHY_CAP),
    ("predictive with a cap of 0 % is progressive", inp(ready=4, cap=0.0), 4, pc.WHY_CAP),
]


@pytest.mark.parametrize("what,given_,dials,why", PROGRESSIVE_CASES, ids=[c[0] for c in PROGRESSIVE_CASES])
def test_progressive_situations(what, given_, dials, why):
    d = pc.decide(given_)
    assert (d.dials, d.why, d.mode) == (dials, why, pc.PROGRESSIVE)


def test_predictive_dials_ahead_of_busy_operators():
    """20 operators all talking, 2½ to 3½ minutes in (calls last 30 … 210 s), 3 of them in wrap-up, answer rate
    30 %: calls start for those about to finish."""
    d = pc.decide(inp(ready=0, in_call=tuple(float(e) for e in range(150, 210, 3)), in_wrap=(3.0, 5.0, 7.0)))
    assert d.mode == pc.PREDICTIVE and d.dials > 0
    assert d.dials > 3  # more than the 3 in wrap-up: the talking ones count too


def test_nothing_before_anyone_can_be_free():
    """Every operator talking with a 10 s wrap-up to follow: a call answering in the next seconds would find
    nobody free (none can be before their wrap-up ends), so the pacer waits for a call to end."""
    d = pc.decide(inp(ready=0, in_call=tuple(float(e) for e in range(150, 210, 3))))
    assert (d.mode, d.dials) == (pc.PREDICTIVE, 0)


ONE_MORE_CALL = [
    # (what, input, abandon chance of each new call in turn, should it answer)
    ("one Ready operator, the first call is safe; the second is lost when the first answers before it "
     "(answer rate × ½)", inp(ready=1), [0.0, 0.15]),
    ("nobody at all: every call would be abandoned", inp(ready=0), [1.0]),
    ("a client already waits for the one Ready operator", inp(ready=1, waiting=1), [1.0]),
    ("an operator 9 s into a 10 s wrap-up is free before any answer", inp(ready=0, in_wrap=(9.0,)), [0.0]),
    ("two Ready operators: two calls are safe", inp(ready=2), [0.0, 0.0]),
]


@pytest.mark.parametrize("what,given_,chances", ONE_MORE_CALL, ids=[c[0] for c in ONE_MORE_CALL])
def test_abandon_chance_of_one_more_call(what, given_, chances):
    f = pc.Forecast(given_, given_.answered / given_.dialled)
    assert [f.add_call() for _ in chances] == pytest.approx(chances, abs=1e-9)


def test_calls_in_flight_count_ahead_of_a_new_one():
    """One Ready operator, one call already ringing: the new call's chance is as if it were the second."""
    f = pc.Forecast(inp(ready=1, dialing=1), 0.3)
    assert f.add_call() == pytest.approx(0.15)
    assert f.abandons() == pytest.approx(0.3 * 0.15)


def test_a_window_of_few_calls_leaves_less_room():
    """No abandon in 50 answered calls is weaker proof than none in 1000: fewer calls ahead."""
    common = dict(ready=3, in_call=tuple(float(e) for e in range(20, 200, 9)))
    thin = pc.decide(inp(**common, windows=(Abandons(50, 0),)))
    wide = pc.decide(inp(**common, windows=(Abandons(1000, 0),)))
    assert thin.extra["threshold"] < wide.extra["threshold"] and thin.dials < wide.dials


def test_predictive_dials_more_than_ready_at_a_low_answer_rate():
    d = pc.decide(inp(ready=5, in_call=(20.0,) * 15))
    assert d.dials > 5
    assert d.ratio > 1


def test_lower_answer_rate_means_a_higher_lead_ratio():
    base = dict(ready=4, in_call=tuple(float(e) for e in range(10, 200, 12)))
    at_50 = pc.decide(inp(**base, dialled=400, answered=200))
    at_15 = pc.decide(inp(**base, dialled=400, answered=60))
    assert at_15.dials > at_50.dials


def test_nothing_more_when_clients_wait_and_nobody_frees_up():
    """Clients on hold, every operator just started a call: dialling more would only abandon."""
    d = pc.decide(inp(ready=0, in_call=(1.0,) * 10, waiting=2))
    assert d.dials == 0


def test_calls_already_ringing_long_count_less():
    """The same number in flight, but ringing past every measured answer delay: room for more calls."""
    common = dict(ready=2, in_call=(100.0,) * 8, dialing=6, answer_delays=tuple(float(x) for x in range(3, 16)),
                  fail_delays=(25.0,) * 10 + tuple(float(x) for x in range(1, 9)))
    fresh = pc.decide(inp(**common, dialing_for=(0.5,) * 6))
    stale = pc.decide(inp(**common, dialing_for=(20.0,) * 6))
    assert stale.dials > fresh.dials


def test_measured_abandons_near_the_cap_slow_the_pacer():
    common = dict(ready=3, in_call=tuple(float(e) for e in range(20, 200, 9)))
    clean = pc.decide(inp(**common, windows=(Abandons(1000, 0),)))
    near = pc.decide(inp(**common, windows=(Abandons(1000, 27),)))
    assert near.dials < clean.dials


@pytest.mark.parametrize("cap,measured,expected", [
    (0.03, 0.0, 0.03), (0.03, 0.015, 0.015), (0.03, 0.03, 0.0), (0.03, 0.05, 0.0), (0.0, 0.0, 0.0),
    (0.01, 0.0025, 0.0075)])
def test_adaptive_threshold(cap, measured, expected):
    assert pc.adaptive_threshold(cap, measured) == pytest.approx(expected)


@pytest.mark.parametrize("window,cap,crosses", [
    (Abandons(0, 0), 0.03, True), (Abandons(33, 0), 0.03, False), (Abandons(32, 0), 0.03, True),
    (Abandons(200, 5), 0.03, False), (Abandons(200, 6), 0.03, True), (Abandons(1000, 0), 0.0, True)])
def test_would_cross(window, cap, crosses):
    assert window.would_cross(cap) is crosses


@pytest.mark.parametrize("samples,elapsed,within,expected", [
    ([10.0, 20.0, 30.0, 40.0], 0.0, 15.0, 0.25),
    ([10.0, 20.0, 30.0, 40.0], 15.0, 10.0, 1 / 3),   # conditioned: only 20, 30, 40 are still possible
    ([10.0, 20.0, 30.0, 40.0], 35.0, 10.0, 1.0),
    ([10.0, 20.0], 50.0, 1.0, 0.5),                  # longer than anything measured
    ([10.0, 20.0], 0.0, -1.0, 0.0),
])
def test_finish_chance(samples, elapsed, within, expected):
    assert pc.finish_chance(samples, elapsed, within, 120.0) == pytest.approx(expected)


def test_binomial_sums_to_one_even_when_large():
    for n, p in ((0, 0.3), (5, 0.3), (2000, 0.3), (10, 0.0), (10, 1.0)):
        assert sum(pc.binomial(n, p)) == pytest.approx(1.0)


# ---- properties ----------------------------------------------------------------------------------------------
elapsed = st.floats(min_value=0, max_value=600, allow_nan=False)
situations = st.builds(
    PaceInput,
    mode=st.sampled_from(pc.MODES),
    ready=st.integers(0, 30),
    in_call=st.lists(elapsed, max_size=30).map(tuple),
    in_wrap=st.lists(st.floats(0, 30), max_size=10).map(tuple),
    dialing=st.integers(0, 40),
    waiting=st.integers(0, 10),
    dialled=st.integers(0, 1000),
    answered=st.integers(0, 300),
    talk=st.lists(st.floats(1, 900), max_size=60).map(tuple),
    wrap=st.lists(st.floats(0, 60), max_size=20).map(tuple),
    ring_s=st.floats(1, 30),
    grace_s=st.floats(0, 5),
    windows=st.lists(st.builds(Abandons, st.integers(0, 2000), st.integers(0, 100)), max_size=2).map(tuple),
    max_ratio=st.floats(1, 5),
    cap=st.sampled_from([0.0, 0.01, 0.03, 0.05]),
)


@settings(max_examples=120, deadline=None)
@given(situations)
def test_over_the_cap_never_dials_ahead(i):
    """Over the cap (or one abandon from it) the pacer places no call a progressive dialler would not."""
    d = pc.decide(i)
    if any(w.would_cross(i.cap) for w in i.windows) or i.cap == 0:
        assert d.dials <= pc.progressive_dials(i)
        assert d.mode == pc.PROGRESSIVE


@settings(max_examples=120, deadline=None)
@given(situations)
def test_never_more_than_max_ratio_times_operators(i):
    d = pc.decide(i)
    if d.dials:
        assert i.dialing + d.dials <= max(i.ready - i.waiting, i.max_ratio * pc.operators(i) + 1e-9)
        assert i.dialing + d.dials <= i.max_ratio * pc.operators(i) + 1e-9 or d.mode == pc.PROGRESSIVE


@settings(max_examples=120, deadline=None)
@given(situations)
def test_progressive_never_more_calls_than_ready_operators(i):
    d = pc.decide(i)
    assert d.dials >= 0
    if d.mode == pc.PROGRESSIVE and d.dials:
        assert i.dialing + d.dials + i.waiting <= i.ready


@settings(max_examples=80, deadline=None)
@given(situations)
def test_predictive_never_dials_fewer_than_progressive(i):
    """Dialling ahead only adds calls: a Ready operator is never left without one."""
    assert pc.decide(i).dials >= pc.progressive_dials(i)


# ---- the abandon budget: a burst of answers among the calls in flight ------------------------------------------
# 15 % answers, delays uniform over ½ … 1½ × the 10 s ring (no delays measured): a fresh call answers in each sixth
# of that with chance 0.15 / 6; talk 30 … 210 s, so an operator a second into a call frees nobody in the forecast
LOW = dict(mode=pc.PREDICTIVE, dialled=400, answered=60, talk=TALK, wrap=WRAP, max_ratio=3.0, cap=0.01)


def low(**kw) -> PaceInput:
    return PaceInput(**{**LOW, **kw})


BURST = [
    # (what, input, chance that the calls in flight carry a window over the cap)
    ("nothing in flight, nobody waiting", low(ready=2, windows=((150, 0),)), 0.0),
    ("two clients waiting, nobody to free up, room for one abandon: over for sure",
     low(ready=0, in_call=(1.0,) * 5, waiting=2, windows=((100, 0),)), 1.0),
    ("... room for three: still over, each left waiting holds up the one behind it (CASCADE)",
     low(ready=0, in_call=(1.0,) * 5, waiting=2, windows=((300, 0),)), 1.0),
    ("... room for five: not over", low(ready=0, in_call=(1.0,) * 5, waiting=2, windows=((500, 0),)), 0.0),
    ("one fresh call, nobody free, room for half an abandon: over if it answers by the last slice (11/12 × 15 %)",
     low(ready=0, in_call=(1.0,) * 5, dialing=1, dialing_for=(0.0,), windows=((150, 1),)), 0.15 * 11 / 12),
    ("... one Ready operator takes it", low(ready=1, in_call=(1.0,) * 5, dialing=1, dialing_for=(0.0,),
                                            windows=((150, 1),)), 0.0),
    ("the day at 1 in 299: with the call answered and left, 1 + 2 in 300, at the cap, not over",
     low(ready=0, in_call=(1.0,) * 5, dialing=1, dialing_for=(0.0,), windows=((299, 1),)), 0.0),
    ("... a last-N window full at 299 does not grow with the answer: over if it answers",
     low(ready=0, in_call=(1.0,) * 5, dialing=1, dialing_for=(0.0,), windows=((299, 1, 299),)), 0.15 * 11 / 12),
    ("two fresh calls, one Ready, a day with room for 0.8: over only if both answer by the last slice",
     low(ready=1, in_call=(1.0,) * 5, dialing=2, dialing_for=(0.0, 0.0), windows=((180, 1),)),
     (0.15 * 11 / 12) ** 2),
    ("the worst window counts", low(ready=0, in_call=(1.0,) * 5, waiting=2,
                                    windows=((500, 0), (100, 0, 100))), 1.0),
]


@pytest.mark.parametrize("what,given_,chance", BURST, ids=[c[0] for c in BURST])
def test_burst_of_answers_over_the_cap(what, given_, chance):
    i = replace(given_, windows=tuple(Abandons(*w) for w in given_.windows))  # (answered, abandoned, last N)
    f = pc.Forecast(i, i.answered / i.dialled)
    assert f.burst() == pytest.approx(chance, abs=1e-9)


BUDGET = [
    # (what, input, dials, why): the calls in flight (or a burst of them with the new ones) could spend what the
    # window has left, so no call beyond progressive
    ("1 % cap, 150 answered and none abandoned (room for 1.5), 10 operators: 2 Ready, 8 a second into their calls,"
     " 12 calls ringing: 4 of them answering (one time in fourteen) would abandon 2",
     low(ready=2, in_call=(1.0,) * 8, dialing=12, dialing_for=(1.0,) * 12, windows=(Abandons(150, 0),)),
     0, "abandon-budget"),
    ("... 6 calls ringing: 4 of them answering (one time in 240) would abandon 2",
     low(ready=2, in_call=(1.0,) * 8, dialing=6, dialing_for=(1.0,) * 6, windows=(Abandons(150, 0),)),
     0, "abandon-budget"),
    ("clients on hold, nobody to free up, room for one: the window goes over as they wait",
     low(ready=0, in_call=(1.0,) * 10, dialing=3, dialing_for=(1.0,) * 3, waiting=2, windows=(Abandons(100, 0),)),
     0, "abandon-budget"),
]


@pytest.mark.parametrize("what,given_,dials,why", BUDGET, ids=[c[0] for c in BUDGET])
def test_no_call_ahead_when_a_burst_could_spend_the_budget(what, given_, dials, why):
    d = pc.decide(given_)
    assert (d.dials, d.why, d.mode) == (dials, why, pc.PROGRESSIVE) and why == pc.WHY_BUDGET
    assert d.extra["burst"] > pc.BURST_CHANCE


AHEAD = [
    # (what, the situation, window with little room, window with much): fewer calls ahead when little is left
    ("10 operators, 5 Ready, 2 in wrap-up, 10 calls ringing, 1 % cap",
     dict(ready=5, in_wrap=(3.0,) * 2, in_call=(10.0, 20.0, 30.0), dialing=10, dialing_for=(5.0,) * 10),
     Abandons(150, 0), Abandons(3000, 10)),
    ("25 operators, 5 Ready, 4 in wrap-up, 10 ringing, 30 % answers, 3 % cap",
     dict(ready=5, in_wrap=(5.0,) * 4, in_call=tuple(float(e) for e in range(10, 170, 10)), dialing=10,
          dialing_for=(5.0,) * 10, answered=120, cap=0.03), Abandons(100, 1), Abandons(3000, 30)),
]


@pytest.mark.parametrize("what,common,thin,wide", AHEAD, ids=[c[0] for c in AHEAD])
def test_little_room_left_means_fewer_calls_ahead(what, common, thin, wide):
    """Calls ahead stop where a likely burst among them would carry the window over; with room, it does not bind."""
    little = pc.decide(low(**common, windows=(thin,)))
    much = pc.decide(low(**common, windows=(wide,)))
    assert little.dials < much.dials
    assert much.why == pc.WHY_PREDICTED
    i = low(**common, windows=(thin,))
    f = pc.Forecast(i, i.answered / i.dialled)
    for _ in range(little.dials):
        f.add_call()
    if little.why == pc.WHY_BUDGET:  # the calls in flight alone pass it: none ahead
        assert little.dials == pc.progressive_dials(i) and f.burst() > pc.BURST_CHANCE
    else:
        assert f.burst() <= pc.BURST_CHANCE


@settings(max_examples=60, deadline=None)
@given(situations)
def test_calls_ahead_never_risk_a_burst_over_the_cap(i):
    """Whatever the pacer dials beyond progressive, a burst of answers among all the calls in flight carries no
    window over the cap but with a chance of at most BURST_CHANCE."""
    d = pc.decide(i)
    if d.mode == pc.PREDICTIVE and d.dials > pc.progressive_dials(i):
        f = pc.Forecast(i, min(1.0, i.answered / i.dialled))
        for _ in range(d.dials):
            f.add_call()
        assert f.burst() <= pc.BURST_CHANCE


# ---- clients on hold running out of their grace ---------------------------------------------------------------------
BUSY = tuple(float(e) for e in range(150, 210, 6))  # 10 operators talking, 2½ to 3½ minutes in: none free in 2 s
HELD = [
    # (what, waiting_for, expected abandons of the clients on hold, in [low, high])
    ("nobody on hold", (), (0.0, 0.0)),
    ("one client 1.5 s into a 2 s grace, nobody can be free in ½ s", (1.5,), (0.9, 1.0)),
    ("one client just answered: the operator 1 s from the end of wrap-up is in time", (0.0,), (0.0, 0.1)),
    ("past the grace: already in the record, not counted again", (3.0,), (0.0, 0.0)),
    ("two near the end of their grace", (1.8, 1.9), (1.8, 2.0)),
    ("waits not given (an older engine): nothing assumed", None, (0.0, 0.0)),
]


@pytest.mark.parametrize("what,waits,bounds", HELD, ids=[c[0] for c in HELD])
def test_clients_on_hold_near_the_end_of_their_grace_are_abandons_on_their_way(what, waits, bounds):
    n = 1 if waits is None else len(waits)
    i = inp(ready=0, in_call=BUSY, in_wrap=(9.0,), waiting=n, waiting_for=() if waits is None else waits)
    lost = pc.Forecast(i, 0.3).held_lost
    assert bounds[0] <= lost <= bounds[1], lost


def test_a_ready_operator_saves_the_first_client_on_hold_not_the_second():
    i = inp(ready=1, in_call=BUSY, waiting=2, waiting_for=(1.9, 1.8))
    assert 0.9 <= pc.Forecast(i, 0.3).held_lost <= 1.0


def test_no_call_ahead_when_a_client_on_hold_is_about_to_be_the_abandon_that_crosses_the_cap():
    """1 % cap, 147 answered, none abandoned: the window has room for one abandon. A client 1.5 s into its 2 s grace
    with nobody free in time is that one: a call ahead now could be a second (the 10-operator case of bench.pacing
    that peaked at 1.36 %)."""
    common = dict(ready=0, in_call=BUSY, in_wrap=(8.5,), cap=0.01, windows=(Abandons(147, 0),))
    calm = pc.decide(inp(**common))
    held = pc.decide(inp(**common, waiting=1, waiting_for=(1.5,)))
    assert calm.mode == pc.PREDICTIVE and calm.dials > 0
    assert (held.mode, held.why, held.dials) == (pc.PROGRESSIVE, pc.WHY_CAP, 0)
    # the same client just answered has time for the operator finishing wrap-up: no reason to stop
    fresh = pc.decide(inp(**common, waiting=1, waiting_for=(0.0,)))
    assert fresh.why != pc.WHY_CAP
