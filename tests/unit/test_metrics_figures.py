"""The engine's figures for /metrics (ari_app/health.py `OperatorFigures`, dialer/metrics.py), from tables:
what each sequence of machine steps adds to each histogram, and who may scrape."""
from __future__ import annotations

import pytest

from ari_app import events as ev
from ari_app.health import OperatorFigures
from dialer import metrics

T = 1000.0
# (name, steps: [(event, commands, now)], expected {histogram: [observed seconds]})
CASES = [
    ("ready, claim, dial: claim and ready→originate",
     [(ev.ReadyRequested(at=T), [ev.SetStatus("ready"), ev.Claim()], T),
      (ev.Claimed(1, "at1", at=T), [ev.Dial(1, "at1")], T + 0.004),
      (ev.DialStarted(1, at=T + 0.010), [ev.Record(1, "dial_started_at", T + 0.010)], T + 0.011)],
     {"claim": [0.004], "ready_to_originate": [0.010], "answer_to_bridge": []}),
    ("answered then bridged: answer→bridge from the stamps",
     [(ev.ClientAnswered(1, at=T), [ev.BridgeClient("at1"), ev.Record(1, "answered_at", T)], T + 0.5),
      (ev.ClientBridged(1, at=T + 0.003), [ev.Record(1, "bridged_at", T + 0.003)], T + 0.6)],
     {"claim": [], "ready_to_originate": [], "answer_to_bridge": [0.003]}),
    ("bridged without an answer seen (a restart in between): nothing",
     [(ev.ClientBridged(1, at=T), [ev.Record(1, "bridged_at", T)], T)],
     {"claim": [], "ready_to_originate": [], "answer_to_bridge": []}),
    ("nothing to call: the wait for leads is not the engine's",
     [(ev.ReadyRequested(at=T), [ev.Claim()], T),
      (ev.NothingToCall(at=T), [ev.ScheduleClaim()], T + 0.003),
      (ev.ClaimTick(at=T + 5), [ev.Claim()], T + 5),
      (ev.Claimed(2, "at2", at=T + 5), [ev.Dial(2, "at2")], T + 5.004),
      (ev.DialStarted(2, at=T + 5.02), [], T + 5.02)],
     {"claim": [0.004], "ready_to_originate": [0.02], "answer_to_bridge": []}),
    ("an offer waiting for «Ответить»: the operator's think time is not counted",
     [(ev.ReadyRequested(at=T), [ev.Claim()], T),
      (ev.Claimed(3, "at3", at=T), [ev.StartOfferTimer(3, 15)], T + 0.004),
      (ev.DialStarted(3, at=T + 9), [], T + 9)],
     {"claim": [0.004], "ready_to_originate": [], "answer_to_bridge": []}),
    ("a manual dial's claim is not a claim of the queue",
     [(ev.Claimed(4, "at4", at=T, manual=True), [ev.Dial(4, "at4")], T + 0.05)],
     {"claim": [], "ready_to_originate": [], "answer_to_bridge": []}),
    ("the leg first: from Ready, through ringing the softphone, to the client's originate",
     [(ev.ReadyRequested(at=T), [ev.OriginateLeg("op1")], T),
      (ev.LegUp("op1", at=T + 1.2), [ev.Claim(T + 1.2)], T + 1.2),
      (ev.Claimed(5, "at5", at=T + 1.2), [ev.Dial(5, "at5")], T + 1.205),
      (ev.DialStarted(5, at=T + 1.21), [], T + 1.21)],
     {"claim": [0.005], "ready_to_originate": [1.21], "answer_to_bridge": []}),
]


@pytest.mark.parametrize("name,steps,expected", CASES, ids=[c[0] for c in CASES])
def test_figures(name, steps, expected):
    figures = OperatorFigures()
    for event, commands, now in steps:
        figures.stepped(event, commands, now)
    for key, seconds in expected.items():
        h = figures.hist[key]
        assert h.count == len(seconds), key
        assert h.total == pytest.approx(sum(seconds), abs=1e-6), key


def test_a_surprise_in_the_figures_never_reaches_the_actor():
    figures = OperatorFigures()
    figures.stepped(ev.Claimed(1, "x", at=T), [object()], "not a time")  # type: ignore[arg-type]
    assert figures.hist["claim"].count == 0


@pytest.mark.parametrize("seconds,bucket", [(0.0005, "0.001"), (0.001, "0.001"), (0.0011, "0.0025"),
                                            (4.9, "5.0"), (7, "+Inf")])
def test_histogram_buckets_are_cumulative_upper_bounds(seconds, bucket):
    h = metrics.Histogram(metrics.BUCKETS["claim"])
    h.observe(seconds)
    cumulative = dict(h.buckets())
    assert cumulative[bucket] == 1 and cumulative["+Inf"] == 1
    below = [b for b, _ in h.buckets()][[b for b, _ in h.buckets()].index(bucket) - 1] if bucket != "0.001" else None
    if below:
        assert cumulative[below] == 0


def test_the_wire_round_trip_and_other_buckets_refused():
    h = metrics.Histogram(metrics.BUCKETS["claim"])
    for s in (0.002, 0.004, 0.3):
        h.observe(s)
    back = metrics.histogram_from_wire("claim", h.wire())
    assert back.buckets() == h.buckets() and back.total == pytest.approx(h.total)
    assert metrics.histogram_from_wire("claim", {"counts": [1, 2], "sum": 1}) is None
    assert metrics.histogram_from_wire("claim", None) is None


ALLOW = metrics.networks("127.0.0.1/32, ::1/128, 10.1.0.0/16")


@pytest.mark.parametrize("ip,token,offered,allowed", [
    ("127.0.0.1", "", None, True),
    ("::1", "", None, True),
    ("::ffff:10.1.2.3", "", None, True),     # an IPv4 client on a dual-stack socket
    ("10.1.200.7", "", None, True),
    ("10.2.0.1", "", None, False),
    ("10.2.0.1", "t0ken-long", "t0ken-long", True),
    ("10.2.0.1", "t0ken-long", "other", False),
    ("10.2.0.1", "", "", False),              # no token configured: an empty one opens nothing
    ("testclient", "", None, False),          # not an address at all
])
def test_who_may_scrape(ip, token, offered, allowed):
    assert metrics.may_scrape(ip, ALLOW, token, offered) is allowed
