"""Pacing of a campaign (SPEC B1, B2) — pure: what the engine knows now → how many clients to dial now.

Progressive (the default): one call per Ready operator who has none, so nobody is ever abandoned.
Predictive: dial ahead of the operators, so an operator who frees up finds a client already answered.
The pacer places the largest number of calls whose *expected* abandon share stays under a target:

- operators free when the next answers arrive: the Ready ones, plus each operator in wrap-up or in a call
  who will be free within the horizon (the time a new call takes to be answered, plus the grace), from
  the campaign's own talk and wrap-up samples, conditioned on how long that operator has been at it;
- answers to come: each call in flight and each new one answers with the measured answer rate;
- clients already waiting on hold take operators first;
- the expected excess (clients for whom no operator is free) over the expected answers is the abandon
  share this decision risks. Its target adapts: the whole cap while the measured abandon rate is low,
  less as it nears the cap, and none (progressive) once one more abandon would cross it.

The lead ratio («коэффициент опережения») is what comes out: calls in flight per operator expected free,
so it adapts to the answer rate and the handle times measured, never above the campaign's maximum.

Hard rules, checked by property tests (tests/unit/test_pacer.py):
- over the cap (in any window), or with too few measurements: progressive;
- calls in flight never exceed max ratio × operators logged in;
- progressive never has more calls in flight than Ready operators (minus clients waiting).
"""
from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field

PROGRESSIVE, PREDICTIVE = "progressive", "predictive"
MODES = (PROGRESSIVE, PREDICTIVE)
# why the pacer dialled as it did (the engine logs it, the supervisor's screen may show it)
WHY_MODE, WHY_SAMPLE, WHY_CAP, WHY_PREDICTED = "mode", "small-sample", "abandon-cap", "predicted"
DEFAULT_RING_S = 10.0       # dial → answer, before the campaign has measured its own
DEFAULT_TALK_S = 120.0
DEFAULT_WRAP_S = 10.0
MAX_SAMPLES = 500           # the newest samples the engine keeps per campaign and kind


@dataclass(frozen=True)
class Abandons:
    """One rolling window of the abandon record: answered clients, and those of them abandoned
    (not joined to an operator within the grace)."""
    answered: int = 0
    abandoned: int = 0

    @property
    def rate(self) -> float:
        return self.abandoned / self.answered if self.answered else 0.0

    def would_cross(self, cap: float) -> bool:
        """One more abandon would put the window over the cap (the hard rule is checked before every dial)."""
        return (self.abandoned + 1) / (self.answered + 1) > cap


@dataclass(frozen=True)
class PaceInput:
    mode: str = PROGRESSIVE
    ready: int = 0                       # Ready operators with no client on the line (leg up, idle)
    in_call: tuple[float, ...] = ()      # elapsed talk time of each operator talking, s
    in_wrap: tuple[float, ...] = ()      # elapsed wrap-up time of each operator in wrap-up, s
    dialing: int = 0                     # client calls in flight (dialled, not answered or ended yet)
    dialing_for: tuple[float, ...] = ()  # how long each of them has been in flight, s (optional)
    waiting: int = 0                     # answered clients on hold, waiting for an operator
    dialled: int = 0                     # calls measured for the answer rate (a window the engine keeps)
    answered: int = 0                    # ... and how many of them answered
    talk: tuple[float, ...] = ()         # talk durations measured, s (any order)
    wrap: tuple[float, ...] = ()         # wrap-up durations measured, s
    ring_s: float = DEFAULT_RING_S       # mean time from dial to answer of answered calls, s
    answer_delays: tuple[float, ...] = ()  # dial → answer of answered calls measured, s
    fail_delays: tuple[float, ...] = ()    # dial → end of calls not answered, s
    grace_s: float = 2.0                 # an answered client joined within this is not abandoned
    windows: tuple[Abandons, ...] = ()   # the abandon record: last N answered and/or the day
    max_ratio: float = 2.0               # calls in flight per operator, at most
    cap: float = 0.03                    # abandon cap, a share (0.03 = 3 %)
    min_dialled: int = 50                # small-sample rule: progressive until this many calls measured
    min_answered: int = 10               # ... and this many answered (talk times to forecast from)


@dataclass(frozen=True)
class Decision:
    dials: int              # client calls to start now
    mode: str               # how they were paced: progressive or predictive
    why: str                # WHY_*: what made it so
    ratio: float = 1.0      # lead ratio after these dials: calls in flight per operator expected free
    risk: float = 0.0       # expected abandon share of the calls in flight after these dials
    free: float = 0.0       # operators expected free within the horizon
    extra: dict = field(default_factory=dict, compare=False)


def operators(i: PaceInput) -> int:
    return i.ready + len(i.in_call) + len(i.in_wrap)


def progressive_dials(i: PaceInput) -> int:
    """One call per Ready operator without one; clients on hold take their operators first."""
    return max(0, i.ready - i.dialing - i.waiting)


def ratio_limit(i: PaceInput) -> int:
    """The most calls in flight the campaign allows: max ratio × operators logged in (never below progressive)."""
    return max(i.ready - i.waiting, math.floor(i.max_ratio * operators(i) + 1e-9))


def decide(i: PaceInput) -> Decision:
    progressive = progressive_dials(i)
    if i.mode != PREDICTIVE:
        return Decision(progressive, PROGRESSIVE, WHY_MODE)
    if i.dialled < i.min_dialled or i.answered < i.min_answered or i.answered == 0:
        return Decision(progressive, PROGRESSIVE, WHY_SAMPLE)
    if i.cap <= 0 or any(w.would_cross(i.cap) for w in i.windows):
        # the hard cap: progressive never abandons, so the rate can only fall until it is back under
        return Decision(progressive, PROGRESSIVE, WHY_CAP)
    p = min(1.0, i.answered / i.dialled)
    threshold = adaptive_threshold(i.cap, max((w.rate for w in i.windows), default=0.0))
    f = Forecast(i, p)
    limit = ratio_limit(i)
    best, best_risk = i.dialing, f.risk()
    # each more call adds to the abandons expected: take calls one by one while what one adds, per answer it
    # brings, stays under the threshold, and while the windows, counting what the calls in flight are
    # expected to add, stay under the cap
    total, before = i.dialing + 1, f.abandons()
    while total <= limit:
        f.add_call()
        after = f.abandons()
        if (after - before) / p > threshold or f.projected_over(i.windows, i.cap):
            break
        best, best_risk, before = total, f.risk(), after
        total += 1
    dials = max(progressive, best - i.dialing)
    in_flight = i.dialing + dials
    free = f.expected_free()
    ratio = round(in_flight / free, 3) if free > 0 else float(in_flight)
    return Decision(dials, PREDICTIVE, WHY_PREDICTED, ratio=ratio, risk=best_risk, free=free,
                    extra={"threshold": threshold, "answer_rate": p})


MARGINAL_X = 6.0  # how far above the cap one more call's own abandon chance may be, with the record clean


def adaptive_threshold(cap: float, measured: float) -> float:
    """The abandon chance one more call may carry (what it adds to the abandons expected, per answer).
    Calls a progressive dialler would place carry none, so the calls beyond them may each carry more than
    the cap and the campaign still stay under it. How much more adapts to the abandon rate measured: a
    generous multiple of the cap while the record is clean, shrinking to nothing as it nears the cap."""
    if cap <= 0:
        return 0.0
    room = min(1.0, max(0.0, (cap - measured) / cap))
    return MARGINAL_X * cap * room


# ---- the forecast --------------------------------------------------------------------------------------------
CHECKPOINTS = 6  # moments over the next answers at which clients and free operators are compared


class Forecast:
    """Clients answering against operators freeing up, at a few moments over the next seconds.

    A client answering at t needs an operator free by t + grace. So at each checkpoint t the shortage is
    E[max(0, waiting + answers by t − operators free by t + grace)]; the largest over the checkpoints is the
    expected number abandoned. Answers: each call in flight with its chance of answering by t (conditioned on
    how long it has rung), each new call with the answer rate × P(answer delay ≤ t). Operators: the Ready
    ones for sure, each busy one with its chance of finishing its call and wrap-up by t + grace, given how
    long it has been at it (a Poisson-binomial distribution, computed exactly)."""

    def __init__(self, i: PaceInput, p: float):
        self.i, self.p = i, p
        self.answer_delays, self.fail_delays = sorted(i.answer_delays), sorted(i.fail_delays)
        spread = self.answer_delays[int(0.95 * (len(self.answer_delays) - 1))] if self.answer_delays else 1.5 * i.ring_s
        self.times = [spread * k / (CHECKPOINTS - 1) for k in range(CHECKPOINTS)]
        talk, wrap = sorted(i.talk), sorted(i.wrap)
        wrap_mean = sum(wrap) / len(wrap) if wrap else DEFAULT_WRAP_S
        self.free = []  # per checkpoint: P(k operators free by t + grace)
        for t in self.times:
            by = t + i.grace_s
            chances = [finish_chance(talk, e, by - wrap_mean, DEFAULT_TALK_S) for e in i.in_call]
            chances += [finish_chance(wrap, e, by, DEFAULT_WRAP_S) for e in i.in_wrap]
            dist = [0.0] * i.ready + [1.0]
            for q in chances:
                dist = _plus_one(dist, q)
            self.free.append(dist)
        self.excess = [_Excess(d, i.waiting) for d in self.free]
        self.new_chance = [p * self._answered_by(t) for t in self.times]
        # answers by each checkpoint (distribution), and in all, of the calls in flight
        self.answers = [[1.0] for _ in self.times]
        self.answers_total = 0.0
        for e in (i.dialing_for if len(i.dialing_for) == i.dialing else (0.0,) * i.dialing):
            alive = self._alive(e)
            for k, t in enumerate(self.times):
                self.answers[k] = _plus_one(self.answers[k], self._answer_chance(e, t, alive))
            self.answers_total += self._answer_chance(e, math.inf, alive)

    def _answered_by(self, t: float) -> float:
        """P(answer delay ≤ t) of an answered call: measured, or uniform over [½, 1½] × the mean before that
        (nobody answers the instant the phone rings)."""
        if self.answer_delays:
            return bisect.bisect_right(self.answer_delays, t) / len(self.answer_delays)
        ring = self.i.ring_s
        return min(1.0, max(0.0, (t - ring / 2) / ring)) if ring > 0 else 1.0

    def _alive(self, e: float) -> float:
        """P(still in flight after e), answered-to-be plus failing-to-be."""
        if not (self.answer_delays and self.fail_delays):
            return 1.0
        return self.p * (1 - self._answered_by(e)) + (1 - self.p) * (
            1 - bisect.bisect_right(self.fail_delays, e) / len(self.fail_delays))

    def _answer_chance(self, e: float, t: float, alive: float) -> float:
        """P(a call in flight for e answers within t more), given it is still in flight."""
        if not (self.answer_delays and self.fail_delays):
            return self.p * (self._answered_by(e + t) - self._answered_by(e)) / max(1e-9, 1 - self._answered_by(e)) \
                if self._answered_by(e) < 1 else 0.0
        if alive <= 0:
            return 0.0
        return self.p * (self._answered_by(e + t) - self._answered_by(e)) / alive

    def add_call(self) -> None:
        for k, q in enumerate(self.new_chance):
            self.answers[k] = _plus_one(self.answers[k], q)
        self.answers_total += self.p

    def abandons(self) -> float:
        return max(sum(pa * g(a) for a, pa in enumerate(dist) if pa > 1e-12)
                   for dist, g in zip(self.answers, self.excess))

    def risk(self) -> float:
        """Expected abandon share: clients with no operator over clients answering (and waiting)."""
        answered = self.answers_total + self.i.waiting
        return self.abandons() / answered if answered > 0 else 0.0

    def projected_over(self, windows: tuple[Abandons, ...], cap: float) -> bool:
        """A window would be over the cap once the calls in flight have answered, as expected."""
        lost, answered = self.abandons(), self.answers_total + self.i.waiting
        return any(w.abandoned + lost > cap * (w.answered + answered) for w in windows)

    def expected_free(self) -> float:
        return sum(k * q for k, q in enumerate(self.free[-1]))


def finish_chance(samples: list[float], elapsed: float, within: float, default_mean: float) -> float:
    """P(duration ≤ elapsed + within | duration > elapsed) from sorted samples; exponential with the default
    mean while there are none. The conditioning is why a long call is not "about to end" just because the
    average is short."""
    if within <= 0:
        return 0.0
    if not samples:
        return 1 - math.exp(-within / default_mean)
    n = len(samples)
    longer = n - bisect.bisect_right(samples, elapsed)
    if longer == 0:  # already longer than every call measured: it may end any moment; say even odds
        return 0.5
    ends = bisect.bisect_right(samples, elapsed + within) - (n - longer)
    return ends / longer


class _Excess:
    """g(a) = E[max(0, waiting + a − free)]: clients with no operator if `a` more answer; memoised per a."""

    def __init__(self, free: list[float], waiting: int):
        self.free = free
        self.waiting = waiting
        self.memo: dict[int, float] = {}

    def __call__(self, a: int) -> float:
        if a not in self.memo:
            need = self.waiting + a
            self.memo[a] = sum(pk * (need - k) for k, pk in enumerate(self.free) if k < need)
        return self.memo[a]


def _plus_one(dist: list[float], q: float) -> list[float]:
    """The distribution of a count with one more Bernoulli(q) added."""
    out = [0.0] * (len(dist) + 1)
    for k, pk in enumerate(dist):
        out[k] += pk * (1 - q)
        out[k + 1] += pk * q
    return out


def binomial(n: int, p: float) -> list[float]:
    if p >= 1:
        return [0.0] * n + [1.0]
    if p <= 0:
        return [1.0] + [0.0] * n
    out, term = [], (1 - p) ** n
    if term == 0.0:  # underflow for large n: build it by log-gamma instead
        lp, lq = math.log(p), math.log(1 - p)
        return [math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) + k * lp + (n - k) * lq)
                for k in range(n + 1)]
    for k in range(n + 1):
        out.append(term)
        term = term * (n - k) / (k + 1) * p / (1 - p)
    return out
