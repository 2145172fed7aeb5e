"""Predictive dialling on real pbx + sim + PostgreSQL: N auto-answer operators, one predictive campaign on the
sim's mixed numbers, for a few minutes.

    python -m bench.predictive [--operators 20] [--minutes 3] [--cap 3]

The campaign starts with no history: progressive until its small-sample rule is met, then the pacer
(ari_app/pacer.py) dials ahead. Clients talk 10–40 s (the sim's 79000SSxxxx), wrap-up is 1 s, so each
operator handles many calls in a short run. Measured from the attempts table (Asterisk's event times):
- talk_min_per_hour: client talk time (bridged → ended, clipped to the run) per operator-hour;
- lost_percent: LOST (answered, never joined) over answered; abandon_percent: not joined within the
  grace (what the cap measures), over answered; abandon_cap_percent: the campaign's cap;
- answer_to_join_ms p50/p99 when an operator is Ready: client answered → in the operator's bridge, for
  clients who answered while their operator was already free (their previous call and wrap-up over);
- the same run's progressive reference is the model's: `upper_bound_talk_min_per_hour` (always talking
  outside wrap-up, from the talk times measured) and `vs_upper_bound_ratio`.
Last line: one JSON object.
"""
from __future__ import annotations

import os
import random
import signal
import time

from dialer.dev.testing import BENCHMARK, isolate

isolate(os.environ.get("DIALER_BENCH_STATE_DIR", "/var/lib/dialer-bench"), BENCHMARK)

from dialer.dev.testing import EngineProcess, add_leads, command_all, make_operators, until  # noqa: E402

from .progressive import TABLES, machine, run_with_telephony  # noqa: E402
from .stats import pct  # noqa: E402
from rules.window import ANY_HOUR  # noqa: E402  (a benchmark runs at any hour of the day)

GRACE_S = 2.0
# how the sim's network answers (sim/README.md): talks, busy, declines, rings for ever, fails, answers and hangs up
MIX = [("79000{talk:02d}{n:04d}", 0.55), ("79001{n:06d}", 0.12), ("79002{n:06d}", 0.06),
       ("79003{n:06d}", 0.15), ("79004{n:06d}", 0.03), ("79005{n:06d}", 0.09)]


def phones(count: int, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    patterns, weights = zip(*MIX)
    return [rng.choices(patterns, weights)[0].format(talk=rng.randint(10, 40), n=i) for i in range(count)]


def measure(settings, db, operators: int, minutes: float, cap: float = 3.0) -> dict:
    from dialer.services import campaigns, pacing

    with db.connection_context():
        db.execute_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        cid = campaigns.create_campaign("bench predictive", calling_window=ANY_HOUR, max_attempts=1,
                                        ring_timeout_s=10, wrap_up_limit_s=1)["id"]
        pacing.update_pacing(cid, mode="predictive", max_ratio=3, abandon_cap_percent=cap, grace_s=GRACE_S,
                             wait_timeout_s=20)
        # enough numbers that the run never runs out: at most one call a second per operator (the sim's numbers
        # carry a 4-digit serial: 10,000 at most, some 40 times what 20 operators dial in 10 minutes)
        add_leads(cid, phones(min(10_000, int(operators * minutes * 60))))
        ops = make_operators(settings, cid, operators, prefix="bench")
    engine = EngineProcess(settings, settings.state_dir / "bench-engine.log")
    engine.mark()
    try:
        engine.start()
        with db.connection_context():
            command_all([o["id"] for o in ops], "ready")
            # the run starts once every operator has a line (the first calls start as soon as the first one has)
            until(lambda: db.execute_sql("SELECT count(*) FROM operator WHERE leg_channel IS NOT NULL")
                  .fetchone()[0] == operators, 120, 0.5, "every operator with a line")
            started = db.execute_sql("SELECT clock_timestamp()").fetchone()[0]
            t0 = time.monotonic()
            until(lambda: time.monotonic() - t0 >= minutes * 60, minutes * 60 + 5, 1.0, "the run's end")
            stopped = db.execute_sql("SELECT clock_timestamp()").fetchone()[0]
            command_all([o["id"] for o in ops], "pause")
            facts = run_facts(db, cid, started, stopped)
    finally:
        engine.kill(signal.SIGTERM)  # never left running, whatever happened
    hours = (stopped - started).total_seconds() / 3600
    talk_min = facts["talk_s"] / 60 / (operators * hours)
    talks = facts["talks"]
    mean_talk = sum(talks) / len(talks) if talks else 0.0
    upper = 60 * mean_talk / (mean_talk + 1.0) if talks else None  # wrap-up limit 1 s
    answered = max(1, facts["answered"])
    return {"operators": operators, "minutes": minutes, "dialled": facts["dialled"], "answered": facts["answered"],
            "outcomes": facts["outcomes"],
            "talk_min_per_hour": round(talk_min, 2),
            "lost_percent": round(100 * facts["lost"] / answered, 2),
            "abandon_percent": round(100 * facts["abandoned"] / answered, 2),
            "abandon_cap_percent": cap,
            "answer_to_join_ms_p50": pct(facts["ready_joins"], 50, 2),
            "answer_to_join_ms_p99": pct(facts["ready_joins"], 99, 2),
            "answer_to_join_samples": len(facts["ready_joins"]),
            "held_join_ms_p50": pct(facts["held_joins"], 50, 2),
            "upper_bound_talk_min_per_hour": round(upper, 2) if upper else None,
            "vs_upper_bound_ratio": round(talk_min / upper, 3) if upper else None,
            "machine": machine()}


def run_facts(db, cid: int, started, stopped) -> dict:
    """What the run did, from the attempts of its window (calls dialled after the start, talk clipped to it)."""
    p = {"c": cid, "s": started, "e": stopped, "g": GRACE_S}
    talk_s = db.execute_sql(
        "SELECT coalesce(sum(extract(epoch FROM least(coalesce(ended_at, %(e)s), %(e)s)"
        "                          - greatest(bridged_at, %(s)s))), 0)"
        "  FROM attempt WHERE campaign_id = %(c)s AND bridged_at IS NOT NULL AND bridged_at < %(e)s"
        "   AND coalesce(ended_at, %(e)s) > %(s)s", p).fetchone()[0]
    talks = [float(r[0]) for r in db.execute_sql(
        "SELECT extract(epoch FROM ended_at - bridged_at) FROM attempt WHERE campaign_id = %(c)s"
        "   AND bridged_at IS NOT NULL AND ended_at IS NOT NULL", p).fetchall()]
    row = db.execute_sql(
        "SELECT count(*) FILTER (WHERE dial_started_at IS NOT NULL),"
        "       count(*) FILTER (WHERE answered_at IS NOT NULL),"
        "       count(*) FILTER (WHERE outcome = 'LOST'),"
        "       count(*) FILTER (WHERE answered_at IS NOT NULL AND (bridged_at IS NULL AND ended_at IS NOT NULL"
        "                         OR bridged_at > answered_at + %(g)s * interval '1 s'))"
        "  FROM attempt WHERE campaign_id = %(c)s AND dial_started_at BETWEEN %(s)s AND %(e)s", p).fetchone()
    outcomes = dict(db.execute_sql(
        "SELECT outcome, count(*) FROM attempt WHERE campaign_id = %(c)s AND outcome IS NOT NULL"
        "   AND dial_started_at BETWEEN %(s)s AND %(e)s GROUP BY 1", p).fetchall())
    # answered → joined, split by whether the operator was already free when the client answered (their
    # previous call's wrap-up over, or their Ready command for the first)
    joins = db.execute_sql(
        "WITH a AS (SELECT operator_id, answered_at, bridged_at,"
        "                  lag(coalesce(wrap_up_at, ended_at)) OVER (PARTITION BY operator_id ORDER BY bridged_at) AS prev"
        "             FROM attempt WHERE campaign_id = %(c)s AND bridged_at IS NOT NULL AND operator_id IS NOT NULL)"
        " SELECT extract(epoch FROM bridged_at - answered_at) * 1000,"
        "        coalesce(prev, (SELECT min(created_at) FROM engine_command c"
        "                         WHERE c.operator_id = a.operator_id AND kind = 'ready')) <= answered_at"
        "   FROM a WHERE answered_at BETWEEN %(s)s AND %(e)s", p).fetchall()
    return {"talk_s": float(talk_s), "talks": talks, "dialled": row[0], "answered": row[1], "lost": row[2],
            "abandoned": row[3], "outcomes": outcomes,
            "ready_joins": [float(ms) for ms, ready in joins if ready],
            "held_joins": [float(ms) for ms, ready in joins if not ready]}


if __name__ == "__main__":
    import argparse
    import sys

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--operators", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=3.0)
    ap.add_argument("--cap", type=float, default=3.0)
    args = ap.parse_args()
    sys.argv = sys.argv[:1] + ["--operators", str(args.operators), "--calls", "0"]
    run_with_telephony(lambda s, db, n, _calls: measure(s, db, n, args.minutes, args.cap), args.operators, 0)
