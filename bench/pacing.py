"""Pacing on a discrete-event simulator: our pacer (the module the engine runs) against progressive and
a VICIdial-style adaptive baseline, side by side on the same random calls.

    python -m bench.pacing [--hours 3] [--quick] [--case 50,0.15,120,0.01 ...] [--seed 7] [--window 300]
                           [--join-order in-grace-first|first-answered] [--compare-orders]

Grid: 10, 25, 50 operators; answer rates 15 %, 30 %, 50 %; mean talk 60, 120, 300 s; wrap-up 10 s;
abandon caps 3 % and 1 % (`--quick`: the headline case only). Each case reports talk minutes per
operator-hour, abandon %, operator idle % and the upper bound (always talking outside wrap-up).

The model: calls come from one pre-drawn list (answered or not, time to answer or to fail, talk time,
the client's patience on hold), consumed in order by every strategy, so they differ only in pacing.
An answered client joins the longest-idle free operator; with none free it waits on hold, and is
abandoned when not joined within the grace (2 s); an operator who frees up takes the client on hold the engine
would (ari_app/holding.join_key: those still within the grace first). It hangs up on hold at its patience or at
the wait timeout (LOST). Ready operators are counted when the client could be joined. The cap is measured over the
day, the campaign's default window (sql/015: window_day, no last-N window); `--window N` adds the last N answered
as a second window, as a campaign may. The record is the engine's (ari_app/predictive_store.py): every answered
client counts, and one still on hold is abandoned from the moment its grace has passed, not only once joined or
lost. "Never over the cap" is checked at every moment: `peak_abandon_percent` is the highest the day's rate (and
`peak_window_abandon_percent` the last N's) has been at any moment of the run, from the first answered call.

Baseline (VICIdial's `AST_VDadapt.pl` / `AST_VDauto_dial.pl`):
every 2.5 s, lines = operators logged in × level − calls in progress (ringing, waiting, talking); every
15 s, level × (1 + (average Ready − waiting over the last minute) / average operators), clamped to
[1, 3]; halved when the last minute has > 20 calls and > 50 % drops, or the day has > 50 calls and its
drop % is over the cap.

`--compare-orders`: our pacer once per join order on the same calls, paced and with the same dials replayed (the
order's effect alone), and the baseline (heavy holds): abandon %, LOST %, and how long clients waited on hold.

Last line: one JSON object for the headline case (25 operators, 30 %, 120 s, cap 3 %), or the last case run.
"""
from __future__ import annotations

import argparse
import heapq
import itertools
import json
import math
import random
from collections import deque
from dataclasses import dataclass

from ari_app import holding, pacer

WRAP_S, GRACE_S, WAIT_TIMEOUT_S, TICK_S = 10.0, 2.0, 20.0, 1.0


@dataclass(frozen=True)
class Call:
    answers: bool
    delay: float     # dial → answer, or dial → end when not answered
    talk: float
    patience: float  # how long the client waits on hold before hanging up


def draw_calls(seed: int, n: int, answer_rate: float, talk_mean: float) -> list[Call]:
    r = random.Random(seed)
    sigma = 0.8  # talk times are skewed: many short calls, a long tail (log-normal)
    mu = math.log(talk_mean) - sigma ** 2 / 2
    out = []
    for _ in range(n):
        answers = r.random() < answer_rate
        if answers:
            delay = r.uniform(3, 15)
        else:  # no answer rings to the 25 s timeout; busy, rejected and failed end within seconds
            delay = 25.0 if r.random() < 0.5 else r.uniform(1, 8)
        out.append(Call(answers, delay, r.lognormvariate(mu, sigma), r.expovariate(1 / 40)))
    return out


class Sim:
    """One strategy on one list of calls."""

    def __init__(self, strategy, operators: int, calls: list[Call], hours: float, cap: float, window: int = 0,
                 order: str = holding.JOIN_ORDER):
        self.strategy, self.n, self.calls, self.cap = strategy, operators, iter(calls), cap
        self.order = order  # which client on hold an operator who frees up is joined to (holding.join_key)
        self.holds: list[float] = []  # how long each client put on hold waited (joined or gone)
        self.end = hours * 3600
        self.events: list = []
        self.seq = itertools.count()
        self.idle_since = {o: 0.0 for o in range(operators)}  # free operators → since when
        self.talk_start: dict[int, float] = {}
        self.wrap_start: dict[int, float] = {}
        self.dialing = 0
        self.hold: deque = deque()  # (answered at, call, id)
        self.counted: set[int] = set()  # clients on hold already counted abandoned (their grace has passed)
        self.talk_s = self.idle_s = 0.0
        self.answered = self.abandoned = self.lost = self.dialled = 0
        self.recent_dials: deque = deque(maxlen=500)  # answered? of the last calls dialled
        self.talks: deque = deque(maxlen=pacer.MAX_SAMPLES)
        self.delays: deque = deque(maxlen=200)
        self.fails: deque = deque(maxlen=200)
        self.in_flight: dict[int, float] = {}  # call → dialled at
        self.window_n = window  # the last-N window (0: the day only)
        self.window: deque = deque()  # [abandoned?, in it?] of the last N answered, in the order they answered
        self.window_abandoned = 0
        self.cells: dict[int, list] = {}  # client on hold → its cell in the window
        self.minute: deque = deque()  # (time, abandoned?) of answers in the last minute
        self.now = 0.0
        self.worst = 0.0  # the highest day abandon rate seen after the small-sample phase
        self.peak = self.peak_window = 0.0  # the highest rate at any moment (the day; the last N)

    def at(self, t: float, kind: str, *data) -> None:
        heapq.heappush(self.events, (t, next(self.seq), kind, data))

    def run(self) -> dict:
        self.at(0.0, "tick")
        if hasattr(self.strategy, "start"):
            self.strategy.start(self)
        while self.events:
            t, _, kind, data = heapq.heappop(self.events)
            if t > self.end:
                break
            self.idle_s += len(self.idle_since) * (t - self.now)
            self.now = t
            getattr(self, "on_" + kind)(*data)
            self.pace()
        talk_h = self.n * self.end / 3600
        holds = sorted(self.holds)
        return {"talk_min_per_hour": round(self.talk_s / 60 / talk_h, 2),
                "abandon_percent": round(100 * self.abandoned / max(1, self.answered), 2),
                "lost_percent": round(100 * self.lost / max(1, self.answered), 2),
                "idle_percent": round(100 * self.idle_s / (self.n * self.end), 1),
                "answered": self.answered, "dialled": self.dialled,
                "worst_day_abandon_percent": round(100 * self.worst, 2),
                "peak_abandon_percent": round(100 * self.peak, 2),
                "peak_window_abandon_percent": round(100 * self.peak_window, 2),
                "held_percent": round(100 * len(holds) / max(1, self.answered), 2),
                "hold_max_s": round(holds[-1], 1) if holds else 0.0,
                "hold_p99_s": round(holds[int(0.99 * (len(holds) - 1))], 1) if holds else 0.0,
                "hold_mean_s": round(sum(holds) / len(holds), 2) if holds else 0.0}

    # ---- events ------------------------------------------------------------------------------------------------
    def on_tick(self) -> None:
        self.strategy.tick(self)
        self.at(self.now + TICK_S, "tick")

    def on_result(self, call: Call, cid: int) -> None:
        self.dialing -= 1
        del self.in_flight[cid]
        self.recent_dials.append(call.answers)
        if not call.answers:
            self.fails.append(call.delay)
            return
        self.answered += 1
        self.delays.append(call.delay)
        cell = [False, bool(self.window_n)]  # abandoned?, still in the last-N window?
        if self.window_n:
            self.window.append(cell)
            if len(self.window) > self.window_n:
                gone = self.window.popleft()
                gone[1] = False
                self.window_abandoned -= gone[0]
        if self.idle_since:
            self._join(call, self.now, abandoned=False)
        else:
            self.hold.append((self.now, call, cid))
            self.cells[cid] = cell
            self.at(self.now + GRACE_S, "grace", cid)
            self.at(self.now + min(call.patience, WAIT_TIMEOUT_S), "gives_up", cid)

    def on_grace(self, cid: int) -> None:
        """Still on hold once the grace has passed: abandoned from now on, whatever comes next."""
        if cid in self.cells:
            self._abandon(cid)

    def on_gives_up(self, cid: int) -> None:
        for item in self.hold:
            if item[2] == cid:
                self.hold.remove(item)
                self.holds.append(self.now - item[0])
                self.lost += 1
                self._abandon(cid)
                self.cells.pop(cid, None)
                self._count(True)
                return

    def on_talk_end(self, op: int) -> None:
        self.talk_s += self.now - self.talk_start.pop(op)
        self.wrap_start[op] = self.now
        self.at(self.now + WRAP_S, "wrap_end", op)

    def on_wrap_end(self, op: int) -> None:
        del self.wrap_start[op]
        if self.hold:
            item = min(self.hold, key=lambda h: (*holding.join_key(h[0], self.now, GRACE_S, self.order), h[2]))
            self.hold.remove(item)
            answered_at, call, cid = item
            self.holds.append(self.now - answered_at)
            self.idle_since[op] = self.now
            if self.now - answered_at > GRACE_S:
                self._abandon(cid)
            self.cells.pop(cid, None)
            self._join(call, answered_at, abandoned=cid in self.counted)
        else:
            self.idle_since[op] = self.now

    def _join(self, call: Call, answered_at: float, abandoned: bool) -> None:
        op = min(self.idle_since, key=self.idle_since.get)  # the longest idle
        del self.idle_since[op]
        self.talk_start[op] = self.now
        self.talks.append(call.talk)
        self._count(abandoned)
        self.at(self.now + call.talk, "talk_end", op)

    def _abandon(self, cid: int) -> None:
        """Count one client abandoned, once, the moment it is known (the grace passed with it on hold)."""
        if cid in self.counted:
            return
        self.counted.add(cid)
        self.abandoned += 1
        cell = self.cells.get(cid)
        if cell is not None and not cell[0]:
            cell[0] = True
            self.window_abandoned += cell[1]
        self.peak = max(self.peak, self.abandoned / self.answered)
        if self.window_n:
            self.peak_window = max(self.peak_window, self.window_abandoned / min(self.window_n, len(self.window)))
        if self.answered >= 50:
            self.worst = max(self.worst, self.abandoned / self.answered)

    def _count(self, abandoned: bool) -> None:
        """The last minute's record the baseline reads: counted when the client is joined or gives up."""
        self.minute.append((self.now, abandoned))

    # ---- pacing ------------------------------------------------------------------------------------------------
    def pace(self) -> None:
        self.dial(self.strategy.dials(self))

    def on_dial(self, k: int) -> None:
        self.dial(k)

    def dial(self, k: int) -> None:
        for _ in range(k):
            call = next(self.calls)
            self.dialing += 1
            self.dialled += 1
            self.in_flight[self.dialled] = self.now
            self.at(self.now + call.delay, "result", call, self.dialled)

    def pace_input(self, mode: str, max_ratio: float) -> pacer.PaceInput:
        day = pacer.Abandons(self.answered, self.abandoned)
        last = pacer.Abandons(len(self.window), self.window_abandoned)
        return pacer.PaceInput(
            mode=mode, ready=len(self.idle_since), in_call=tuple(self.now - t for t in self.talk_start.values()),
            in_wrap=tuple(self.now - t for t in self.wrap_start.values()), dialing=self.dialing,
            dialing_for=tuple(self.now - t for t in self.in_flight.values()),
            answer_delays=tuple(self.delays), fail_delays=tuple(self.fails),
            waiting=len(self.hold), waiting_for=tuple(self.now - h[0] for h in self.hold),
            dialled=len(self.recent_dials), answered=sum(self.recent_dials),
            talk=tuple(self.talks), wrap=(WRAP_S,) * 20,
            ring_s=sum(self.delays) / len(self.delays) if self.delays else pacer.DEFAULT_RING_S,
            grace_s=GRACE_S, windows=(last, day) if self.window_n else (day,), max_ratio=max_ratio, cap=self.cap)


class Ours:
    def __init__(self, mode: str = pacer.PREDICTIVE, max_ratio: float = 3.0):
        self.mode, self.max_ratio = mode, max_ratio

    def tick(self, sim: Sim) -> None:
        pass

    def dials(self, sim: Sim) -> int:
        return pacer.decide(sim.pace_input(self.mode, self.max_ratio)).dials


class Recorder(Ours):
    """Our pacer, keeping when it dialled how many (for `Replay`)."""

    def __init__(self):
        super().__init__()
        self.log: list[tuple[float, int]] = []

    def dials(self, sim: Sim) -> int:
        k = super().dials(sim)
        if k:
            self.log.append((sim.now, k))
        return k


class Replay:
    """The same dials at the same moments as a recorded run, whatever happens: only what is measured differs
    (here: the order clients on hold are joined in), not the pacer's answer to it."""

    def __init__(self, log: list[tuple[float, int]]):
        self.log = log

    def start(self, sim: Sim) -> None:
        for t, k in self.log:
            sim.at(t, "dial", k)

    def tick(self, sim: Sim) -> None:
        pass

    def dials(self, sim: Sim) -> int:
        return 0


class Baseline:
    """VICIdial's adaptive dial level, as its scripts publish it (see the module's docstring)."""
    LOOP_S, ADAPT_S, MAX_LEVEL = 2.5, 15.0, 3.0

    def __init__(self):
        self.level, self.next_loop, self.next_adapt = 1.0, 0.0, 15.0
        self.samples: deque = deque()  # (time, ready − waiting)
        self.goal = 0

    def tick(self, sim: Sim) -> None:
        now = sim.now
        self.samples.append((now, len(sim.idle_since) - len(sim.hold)))
        while self.samples and self.samples[0][0] < now - 60:
            self.samples.popleft()
        while sim.minute and sim.minute[0][0] < now - 60:
            sim.minute.popleft()
        if now >= self.next_adapt:
            self.next_adapt = now + self.ADAPT_S
            diff = sum(s for _, s in self.samples) / max(1, len(self.samples))
            self.level = min(self.MAX_LEVEL, max(1.0, self.level * (1 + diff / sim.n)))
            drops_min = sum(1 for _, a in sim.minute if a)
            if len(sim.minute) > 20 and drops_min > len(sim.minute) / 2:
                self.level = max(1.0, self.level / 2)
            if sim.answered > 50 and sim.abandoned / sim.answered > sim.cap:
                self.level = max(1.0, self.level / 2)
        if now >= self.next_loop:
            self.next_loop = now + self.LOOP_S
            busy = sim.dialing + len(sim.hold) + len(sim.talk_start)
            self.goal = max(0, math.floor(sim.n * self.level) - busy - len(sim.wrap_start))

    def dials(self, sim: Sim) -> int:
        goal, self.goal = self.goal, 0
        return goal


def case_calls(operators: int, answer_rate: float, talk: float, hours: float, seed: int) -> list[Call]:
    return draw_calls(seed, int(operators * hours * 3600 / 5) + 1000, answer_rate, talk)


def case(operators: int, answer_rate: float, talk: float, cap: float, hours: float, seed: int = 7,
         window: int = 0, order: str = holding.JOIN_ORDER) -> dict:
    calls = case_calls(operators, answer_rate, talk, hours, seed)
    ours = Sim(Ours(), operators, calls, hours, cap, window, order).run()
    progressive = Sim(Ours(pacer.PROGRESSIVE), operators, calls, hours, cap, window, order).run()
    baseline = Sim(Baseline(), operators, calls, hours, cap, window, order).run()
    upper = round(60 * talk / (talk + WRAP_S), 2)
    return {"operators": operators, "answer_rate": answer_rate, "talk_s": talk, "cap_percent": 100 * cap,
            "join_order": order, **{k: ours[k] for k in HOLD_KEYS},
            "talk_min_per_hour": ours["talk_min_per_hour"], "abandon_percent": ours["abandon_percent"],
            "lost_percent": ours["lost_percent"], "idle_percent": ours["idle_percent"],
            "worst_day_abandon_percent": ours["worst_day_abandon_percent"],
            "peak_abandon_percent": ours["peak_abandon_percent"],
            **({"window_answered": window, "peak_window_abandon_percent": ours["peak_window_abandon_percent"]}
               if window else {}),
            "over_cap": (ours["peak_abandon_percent"] if not window else
                         max(ours["peak_abandon_percent"], ours["peak_window_abandon_percent"])) > 100 * cap + 1e-9,
            "progressive_talk_min_per_hour": progressive["talk_min_per_hour"],
            "baseline_talk_min_per_hour": baseline["talk_min_per_hour"],
            "baseline_abandon_percent": baseline["abandon_percent"],
            "upper_bound_talk_min_per_hour": upper,
            "vs_progressive_ratio": round(ours["talk_min_per_hour"] / max(1e-9, progressive["talk_min_per_hour"]), 3),
            "vs_baseline_ratio": round(ours["talk_min_per_hour"] / max(1e-9, baseline["talk_min_per_hour"]), 3),
            "vs_upper_bound_ratio": round(ours["talk_min_per_hour"] / upper, 3)}


HOLD_KEYS = ("held_percent", "hold_mean_s", "hold_p99_s", "hold_max_s")


def compare_orders(operators: int, answer_rate: float, talk: float, cap: float, hours: float, seed: int = 7,
                   window: int = 0) -> list[dict]:
    """Our pacer with each order of joining clients on hold (holding.JOIN_ORDERS), on the same calls: the abandons
    it saves against how long the clients wait. Twice: the pacer answering what it measures ("paced"), and the
    first order's dials replayed at the same moments under each order ("same dials"), the order's effect alone;
    and the baseline's pacing ("baseline"), whose clients wait on hold far more often: the order under stress."""
    calls = case_calls(operators, answer_rate, talk, hours, seed)
    out = []
    recorder = Recorder()
    for run in ("paced", "same dials", "baseline"):
        for order in holding.JOIN_ORDERS:
            if run == "paced":
                strategy = recorder if order == holding.JOIN_ORDERS[0] else Ours()
            elif run == "baseline":
                strategy = Baseline()
            else:
                strategy = Replay(recorder.log)
            r = Sim(strategy, operators, calls, hours, cap, window, order).run()
            out.append({"operators": operators, "answer_rate": answer_rate, "talk_s": talk,
                        "cap_percent": 100 * cap, "seed": seed, "run": run, "join_order": order,
                        **{k: r[k] for k in ("talk_min_per_hour", "abandon_percent", "lost_percent",
                                             "peak_abandon_percent", "dialled", *HOLD_KEYS)}})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hours", type=float, default=3.0)
    ap.add_argument("--quick", action="store_true", help="the headline case only")
    ap.add_argument("--case", action="append", default=[], metavar="N,P,T,C",
                    help="one case: operators, answer rate, mean talk s, cap (e.g. 50,0.15,120,0.01); repeatable")
    ap.add_argument("--seed", type=int, default=7, help="the random calls (the same for every pacer)")
    ap.add_argument("--window", type=int, default=0, metavar="N",
                    help="also cap the last N answered calls (default: the day only, the campaign default)")
    ap.add_argument("--json", action="store_true", help="one JSON line per case (after the table row)")
    ap.add_argument("--join-order", choices=holding.JOIN_ORDERS, default=holding.JOIN_ORDER,
                    help="which client on hold a freed operator is joined to (default: the engine's)")
    ap.add_argument("--compare-orders", action="store_true",
                    help="our pacer only, once per join order, one JSON line each")
    args = ap.parse_args()
    if args.case:
        grid = [(int(n), float(p), float(t), float(c)) for n, p, t, c in (x.split(",") for x in args.case)]
    elif args.quick:
        grid = [(25, 0.30, 120.0, 0.03)]
    else:
        grid = [(n, p, t, c) for n in (10, 25, 50) for p in (0.15, 0.30, 0.50) for t in (60.0, 120.0, 300.0)
                for c in (0.03, 0.01)]
    cols = ("operators", "answer_rate", "talk_s", "cap_percent", "talk_min_per_hour", "progressive_talk_min_per_hour",
            "baseline_talk_min_per_hour", "upper_bound_talk_min_per_hour", "abandon_percent",
            "peak_abandon_percent", "baseline_abandon_percent", "idle_percent")
    if args.compare_orders:
        for n, p, t, c in grid:
            for r in compare_orders(n, p, t, c, args.hours, args.seed, args.window):
                print(json.dumps(r), flush=True)
        return
    print(" ".join(f"{c[:14]:>14}" for c in cols))
    headline = None
    for n, p, t, c in grid:
        r = case(n, p, t, c, args.hours, args.seed, args.window, args.join_order)
        print(" ".join(f"{r[c_]!s:>14}" for c_ in cols) + ("  OVER THE CAP" if r["over_cap"] else ""), flush=True)
        if args.json:
            print(json.dumps(r), flush=True)
        if (n, p, t, c) == (25, 0.30, 120.0, 0.03):
            headline = r
    print(json.dumps(headline or r))


if __name__ == "__main__":
    main()
