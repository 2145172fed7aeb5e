"""Pacing of a campaign (SPEC B1, B2) — pure: what the engine knows now → how many clients to dial now.

Progressive (the default): one call per Ready operator who has none, so nobody is ever abandoned.
Predictive: dial ahead of the operators, so an operator who frees up finds a client already answered.
The pacer places calls one by one while the next one, should it answer, is unlikely to find no operator:

- operators free when the next answers arrive: the Ready ones, plus each operator in wrap-up or in a call
  who will be free by then (plus the grace), from the campaign's own talk and wrap-up samples, conditioned
  on how long that operator has been at it;
- clients ahead of the new call: those on hold, and each call placed before it that answers first (each
  call in flight with its chance, given how long it has rung; each new one with the measured answer rate);
- the new call's abandon chance is the chance that, when it answers, the clients ahead of it are at least
  the operators free (`Forecast`). The chance one more call may carry (`adaptive_threshold`) adapts to the
  abandon record: the cap itself while the record is clean and long, less as the measured rate nears the cap
  or when the window holds few calls, none (progressive) once one more abandon would cross it.
  The forecast leaves out the calls the next decisions will place, some of which answer sooner and take an
  operator counted here: this feedback on the measured rate is what keeps the campaign under its cap.
- the abandon budget (`Forecast.burst`): expected abandons are small when many calls are in flight at a low answer
  rate, their spread is not, and under a low cap a window has room for only a few. Calls ahead stop where the
  chance that all the calls in flight answer in a burst carrying a window over the cap passes `BURST_CHANCE`;
  when the calls already in flight pass it, the pacer is progressive (`WHY_BUDGET`) until they have answered.

The lead ratio («коэффициент опережения») is what comes out: calls in flight per operator expected free,
so it adapts to the answer rate and the handle times measured, never above the campaign's maximum.

Hard rules, checked by property tests (tests/unit/test_pacer.py):
- over the cap (in any window), or with too few measurements: progressive;
- calls beyond progressive only while a burst of answers over the cap stays under `BURST_CHANCE`;
- calls in flight never exceed max ratio × operators logged in;
- progressive never has more calls in flight than Ready operators (minus clients waiting).
"""
from __future__ import annotations

import bisect
import itertools
import math
from dataclasses import dataclass, field

PROGRESSIVE, PREDICTIVE = "progressive", "predictive"
MODES = (PROGRESSIVE, PREDICTIVE)
# why the pacer dialled as it did (the engine logs it, the supervisor's screen may show it)
WHY_MODE, WHY_SAMPLE, WHY_CAP, WHY_PREDICTED = "mode", "small-sample", "abandon-cap", "predicted"
WHY_BUDGET = "abandon-budget"  # the calls in flight could already spend what is left of the cap: no call ahead
DEFAULT_RING_S = 10.0       # dial → answer, before the campaign has measured its own
DEFAULT_TALK_S = 120.0
DEFAULT_WRAP_S = 10.0
MAX_SAMPLES = 500           # the newest samples the engine keeps per campaign and kind


@dataclass(frozen=True)
class Abandons:
    """One rolling window of the abandon record: answered clients, and those of them abandoned
    (not joined to an operator within the grace). `last_n`: the window's size when it is the last N answered
    (its count stops growing at N); 0 for the day, whose count only grows."""
    answered: int = 0
    abandoned: int = 0
    last_n: int = 0

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
    waiting_for: tuple[float, ...] = ()  # how long each of them has waited since it answered, s (optional)
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
    f = Forecast(i, p)
    # clients on hold whose grace runs out before an operator is likely free are abandons already on their way:
    # the record is read as if they were written (one more call ahead could make them the abandon that crosses)
    due = f.held_lost
    if any(Abandons(w.answered, w.abandoned + round(due)).would_cross(i.cap) for w in i.windows):
        return Decision(progressive, PROGRESSIVE, WHY_CAP, extra={"held_due": due})
    # the rate each window would have with one more abandon: a window with few answered calls is not yet
    # proof of a low rate, so it leaves less room than the same rate over many calls
    threshold = adaptive_threshold(
        i.cap, max(((w.abandoned + due + 1) / (w.answered + 1) for w in i.windows), default=0.0))
    if f.burst() > BURST_CHANCE:
        # the calls already in flight could spend what is left of the cap: none ahead until they have answered
        return Decision(progressive, PROGRESSIVE, WHY_BUDGET, risk=f.risk(), free=f.expected_free(),
                        extra={"burst": f.burst(), "answer_rate": p})
    limit = ratio_limit(i)
    best, best_risk = i.dialing, f.risk()
    # take calls one by one while the chance that the next one, should it answer, finds no operator stays under
    # the threshold, while the windows, counting the abandons the calls in flight are expected to add, stay
    # under the cap, and while a likely burst of answers among all of them cannot carry a window over it
    total = i.dialing + 1
    while total <= limit:
        if f.add_call() > threshold or f.projected_over(i.windows, i.cap) or f.burst() > BURST_CHANCE:
            break
        best, best_risk = total, f.risk()
        total += 1
    dials = max(progressive, best - i.dialing)
    in_flight = i.dialing + dials
    free = f.expected_free()
    ratio = round(in_flight / free, 3) if free > 0 else float(in_flight)
    return Decision(dials, PREDICTIVE, WHY_PREDICTED, ratio=ratio, risk=best_risk, free=free,
                    extra={"threshold": threshold, "answer_rate": p})


MARGINAL_X = 1.0  # the abandon chance one more call may carry with a clean record, as a multiple of the cap


def adaptive_threshold(cap: float, measured: float) -> float:
    """The abandon chance one more call may carry, should it answer. Calls a progressive dialler would place
    carry none, so the calls beyond them may each carry up to the cap and the campaign still stay under it,
    were the forecast exact; it is optimistic (see the module's docstring), so the chance allowed shrinks as
    the rate measured nears the cap — to nothing at the cap. In the simulation (bench/pacing.py) this settles
    at about two thirds of the cap; a larger multiple overshoots early and then spends the day progressive."""
    if cap <= 0:
        return 0.0
    room = min(1.0, max(0.0, (cap - measured) / cap))
    return MARGINAL_X * cap * room


# ---- the forecast --------------------------------------------------------------------------------------------
BUCKETS = 6  # slices of equal probability of the answer delay: when the next answers arrive
# the forecast's abandons times this, in the check that the calls in flight cannot carry a window over the cap:
# the forecast is optimistic (the module's docstring); the simulation measured about 2–3 × its figure
PROJECTION_MARGIN = 3.0
# the chance allowed that the calls in flight answer in such a burst that a window ends over the cap (`burst`).
# Checked before every call ahead, thousands of times an hour, so it must be small: in the simulation
# (bench/pacing.py, 50 operators, 15 % answers, 1 % cap) 1e-3 changed nothing and 1e-4 still let one burst through;
# 1e-6 kept every moment under the cap and costs the headline case (3 % cap) about 1 % of its talk time
BURST_CHANCE = 1e-6
# abandons per client left without an operator in such a burst: clients are served in the order they answered, so
# each one left waiting past the grace also holds up the client behind it (the simulation saw ~4 left → 7 abandoned)
CASCADE = 2.0


class Forecast:
    """Clients answering against operators freeing up, over the next answer delays.

    Clients are served in the order they answer, so a client answering at t is joined within the grace exactly
    when fewer clients are ahead of it (those waiting, and those answering before it) than operators free by
    t + grace. The answer delay is cut into slices of equal probability; a call answering in slice k is taken to
    answer at the slice's middle t_k. A call's chance of being abandoned is then
        Σ_k P(it answers in slice k) × P(clients ahead by t_k ≥ operators free by t_k + grace),
    the clients ahead being the waiting ones plus every call placed before it that answers by t_k (each call in
    flight with its chance, conditioned on how long it has rung; each new one with the answer rate), and the
    operators free the Ready ones for sure plus each busy one with its chance of finishing its call and its
    wrap-up by then, given how long it has been at it. Both counts are Poisson-binomial, computed exactly.
    Summed over the calls in flight and the new ones, these chances are the abandons expected."""

    def __init__(self, i: PaceInput, p: float):
        self.i, self.p = i, p
        self.answer_delays, self.fail_delays = sorted(i.answer_delays), sorted(i.fail_delays)
        self.edges = [0.0] + [self._delay_quantile(k / BUCKETS) for k in range(1, BUCKETS)] + [math.inf]
        self.times = [self._delay_quantile((k + 0.5) / BUCKETS) for k in range(BUCKETS)]
        talk, wrap = sorted(i.talk), sorted(i.wrap)
        wrap_mean = sum(wrap) / len(wrap) if wrap else DEFAULT_WRAP_S
        self._talk, self._wrap, self._wrap_mean = talk, wrap, wrap_mean
        self.free = []      # per slice: P(k operators free by t_k + grace)
        self.free_cdf = []  # per slice: P(at most k operators free ...)
        for t in self.times:
            dist = self._free_by(t + i.grace_s)
            self.free.append(dist)
            self.free_cdf.append(list(itertools.accumulate(dist)))
        self.held_lost = self._held_lost()  # abandons expected of the clients on hold still within the grace
        self.ahead = [[0.0] * i.waiting + [1.0] for _ in self.times]  # per slice: P(k clients ahead by t_k)
        # per slice: P(k of the calls in flight and new answered by t_k), counted up to where any window would
        # surely be over the cap (the last count stands for it and all above)
        self.answers = [[1.0] for _ in self.times]
        room = max((_room(w, i.cap) for w in i.windows), default=0.0)
        room = max(0.0, room)
        self.answers_top = max(1, math.ceil((operators(i) + room - i.waiting) / max(1e-9, 1 - i.cap)) + 1)
        self.lost = 0.0           # abandons expected of the calls in flight and the new ones
        self.answers_total = 0.0  # answers expected of them
        flight = i.dialing_for if len(i.dialing_for) == i.dialing else (0.0,) * i.dialing
        for e in sorted(flight, reverse=True):  # the oldest answer first
            self._place(self._slices(e))
        self.new_slices = [p / BUCKETS] * BUCKETS if self.answer_delays else self._slices(0.0)

    def _free_by(self, by: float) -> list[float]:
        """P(k operators free by `by` seconds from now): the Ready ones, and each busy one finishing by then."""
        i = self.i
        dist = [0.0] * i.ready + [1.0]
        for e in i.in_call:
            dist = _plus_one(dist, finish_chance(self._talk, e, by - self._wrap_mean, DEFAULT_TALK_S))
        for e in i.in_wrap:
            dist = _plus_one(dist, finish_chance(self._wrap, e, by, DEFAULT_WRAP_S))
        return dist

    def _held_lost(self) -> float:
        """Abandons expected among the clients on hold still within the grace. They are joined first, the one
        nearest the end of its grace first (holding.join_key): the j-th of them (from 0) is abandoned when fewer
        than j + 1 operators are free before its grace runs out. Those past it are in the record already."""
        i = self.i
        if len(i.waiting_for) != i.waiting:
            return 0.0
        left = sorted(i.grace_s - w for w in i.waiting_for if w < i.grace_s)
        lost = 0.0
        for j, r in enumerate(left):
            cdf = list(itertools.accumulate(self._free_by(r)))
            lost += cdf[min(j, len(cdf) - 1)]
        return lost

    def _delay_quantile(self, q: float) -> float:
        """The answer delay of answered calls at quantile q: measured, or uniform over [½, 1½] × the mean before
        that (nobody answers the instant the phone rings)."""
        if self.answer_delays:
            d = self.answer_delays
            return d[min(len(d) - 1, int(q * len(d)))]
        return self.i.ring_s * (0.5 + q)

    def _answered_by(self, t: float) -> float:
        """P(answer delay ≤ t) of an answered call."""
        if self.answer_delays:
            return bisect.bisect_right(self.answer_delays, t) / len(self.answer_delays)
        ring = self.i.ring_s
        return min(1.0, max(0.0, (t - ring / 2) / ring)) if ring > 0 else 1.0

    def _alive(self, e: float) -> float:
        """P(still in flight after e), answered-to-be plus failing-to-be."""
        if not self.fail_delays:
            return self.p * (1 - self._answered_by(e)) + (1 - self.p)
        return self.p * (1 - self._answered_by(e)) + (1 - self.p) * (
            1 - bisect.bisect_right(self.fail_delays, e) / len(self.fail_delays))

    def _slices(self, e: float) -> list[float]:
        """P(a call in flight for e answers within each slice from now), given it is still in flight."""
        alive = self._alive(e)
        if alive <= 0:
            return [0.0] * BUCKETS
        by = [self._answered_by(e + edge) for edge in self.edges]
        return [self.p * (by[k + 1] - by[k]) / alive for k in range(BUCKETS)]

    def _place(self, slices: list[float]) -> float:
        """Add one call answering with these chances per slice, behind every call before it; its abandon chance."""
        lost, by = 0.0, 0.0
        for k, q in enumerate(slices):
            cdf = self.free_cdf[k]
            if q > 0:
                # no operator for it: the clients ahead of it are at least the operators free by then
                lost += q * sum(pa * cdf[min(a, len(cdf) - 1)] for a, pa in enumerate(self.ahead[k]) if pa > 1e-12)
            # half of its slice answers before the middle
            self.ahead[k] = _capped(_plus_one(self.ahead[k], by + q / 2), len(cdf) - 1)
            self.answers[k] = _capped(_plus_one(self.answers[k], by + q / 2), self.answers_top)
            by += q
        self.lost += lost
        self.answers_total += by
        return lost

    def add_call(self) -> float:
        """One more new call; its chance of being abandoned should it answer."""
        return self._place(self.new_slices) / self.p

    def abandons(self) -> float:
        return self.lost

    def risk(self) -> float:
        """Expected abandon share: abandons expected over answers expected of the calls in flight."""
        return self.lost / self.answers_total if self.answers_total > 0 else 0.0

    def projected_over(self, windows: tuple[Abandons, ...], cap: float) -> bool:
        """A window would be over the cap once the calls in flight have answered, as expected."""
        lost = PROJECTION_MARGIN * self.lost + self.held_lost
        return any(w.abandoned + lost > cap * (w.answered + self.answers_total) for w in windows)

    def burst(self) -> float:
        """The chance that the calls in flight (and the new ones) answer in such a burst that a window ends over
        the cap: its abandoned plus the clients then without an operator over its answered plus those answers.

        The expected abandons (`lost`) are small when many calls are in flight at a low answer rate, but their
        spread is not: 60 calls at 15 % answer 9 on average and 15 one time in fifty; with a 1 % cap and a few
        hundred answered calls, the window has room for one or two abandons. So, in each slice, over the joint
        counts of answers A (of these calls) and operators free F: P(abandoned + waiting + A − F > cap × (answered
        + A)), the window's count growing with the answers (up to N for a last-N window), the worst slice and
        window. Clients on hold past the grace are counted in both abandoned and waiting: it errs on the safe side."""
        worst = 0.0
        for w in self.i.windows:
            for k, dist in enumerate(self.answers):
                cdf = self.free_cdf[k]
                top = len(cdf) - 1
                chance = 0.0
                for a, pa in enumerate(dist):
                    if pa <= 1e-12:
                        continue
                    counted = w.answered + a
                    if w.last_n:
                        counted = min(counted, w.last_n)
                    # over the cap when fewer operators are free than this: each client left without one
                    # abandons, and makes those behind it wait too (served in the order they answered)
                    need = self.i.waiting + a - (self.i.cap * counted - w.abandoned - self.held_lost) / CASCADE
                    below = math.ceil(need - 1e-9) - 1  # F ≤ below is over
                    if a == len(dist) - 1 and a == self.answers_top:
                        chance += pa  # the lumped tail: over whatever frees up
                    elif below >= 0:
                        chance += pa * cdf[min(below, top)]
                worst = max(worst, chance)
        return worst

    def expected_free(self) -> float:
        return sum(k * q for k, q in enumerate(self.free[-1]))


def _room(w: Abandons, cap: float) -> float:
    """Abandons a window can still take and stay at the cap, counting no more answers."""
    return cap * w.answered - w.abandoned


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


def _plus_one(dist: list[float], q: float) -> list[float]:
    """The distribution of a count with one more Bernoulli(q) added."""
    r = 1 - q
    return [a * r + b * q for a, b in zip(dist + [0.0], [0.0] + dist)]


def _capped(dist: list[float], top: int) -> list[float]:
    """The same distribution with every count above `top` counted as `top` (all the same to a comparison with a
    count that never exceeds it); keeps the work per call bounded by the operators, not the calls."""
    if len(dist) <= top + 1:
        return dist
    return dist[:top] + [sum(dist[top:])]


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
