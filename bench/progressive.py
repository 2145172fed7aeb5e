"""Progressive dialing under load: N auto-answer operators, ≥ M calls, on real pbx + sim + PostgreSQL.

    python -m bench.progressive [--operators 20] [--calls 200]

Measures, from the attempts table (Asterisk's own event times for answer and bridge):
- ready_to_originate_ms: the operator's Ready command (or the end of their previous attempt, or
  their wrap-up) to the client's originate — how long a free operator waits for the next call to
  start; the first one includes calling the operator's softphone;
- answer_to_bridge_ms: client answered (StasisStart) to the client in the operator's bridge;
- calls_per_minute, and the engine process's CPU and memory;
- steady_*: the same without each operator's first call (the start-up burst).
Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import time

from dialer.dev.testing import BENCHMARK, isolate, start_telephony

isolate(os.environ.get("DIALER_BENCH_STATE_DIR", "/var/lib/dialer-bench"), BENCHMARK)

import psutil  # noqa: E402

from dialer import settings as settings_mod  # noqa: E402
from dialer.dev import instances  # noqa: E402
from dialer.models import Attempt  # noqa: E402
from dialer.dev.testing import EngineProcess, add_leads, command_all, hang_up_everything, make_operators, until  # noqa: E402

from .stats import pct  # noqa: E402
from rules.window import ANY_HOUR  # a benchmark runs at any hour of the day

TABLES = "attempt_event, engine_command, attempt, operator_campaign, lead, operator, campaign"


def phones(count: int) -> list[str]:
    """Mostly short answered calls, with busy, no-answer and failures mixed in, like a real list."""
    mix = ["7900002", "7900003", "7900001", "7900100", "7900300", "7900002", "7900400", "7900003"]
    return [f"{mix[i % len(mix)]}{i:04d}" for i in range(count)]


def measure(settings, db, operators: int, calls: int) -> dict:
    from dialer.services import campaigns

    with db.connection_context():
        db.execute_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        cid = campaigns.create_campaign("bench", calling_window=ANY_HOUR, max_attempts=1, ring_timeout_s=5, wrap_up_limit_s=1)["id"]
        add_leads(cid, phones(calls + operators * 2))
        ops = make_operators(settings, cid, operators, prefix="bench")
    engine = EngineProcess(settings, settings.state_dir / "bench-engine.log")
    engine.mark()
    engine.start()
    proc = psutil.Process(engine.proc.pid)
    proc.cpu_percent()
    started = time.time()
    with db.connection_context():
        command_all([o["id"] for o in ops], "ready")
        until(lambda: Attempt.select().where(Attempt.ended_at.is_null(False)).count() >= calls, 900, 0.5,
              f"{calls} finished calls")
    elapsed = time.time() - started
    cpu = proc.cpu_percent()
    rss = proc.memory_info().rss / 2**20
    with db.connection_context():
        command_all([o["id"] for o in ops], "pause")
        rows = db.execute_sql("""
            WITH a AS (
              SELECT operator_id, dial_started_at, answered_at, bridged_at, ended_at,
                     lag(ended_at) OVER (PARTITION BY operator_id ORDER BY id) AS prev_end,
                     lag(wrap_up_at) OVER (PARTITION BY operator_id ORDER BY id) AS prev_wrap
                FROM attempt WHERE dial_started_at IS NOT NULL)
            SELECT extract(epoch FROM dial_started_at - coalesce(prev_wrap, prev_end, c.first_ready)) * 1000,
                   extract(epoch FROM bridged_at - answered_at) * 1000,
                   prev_end IS NULL
              FROM a JOIN (SELECT operator_id, min(created_at) AS first_ready FROM engine_command
                            WHERE kind = 'ready' GROUP BY operator_id) c USING (operator_id)""").fetchall()
        done = Attempt.select().where(Attempt.ended_at.is_null(False)).count()
        outcomes = dict(db.execute_sql("SELECT outcome, count(*) FROM attempt WHERE outcome IS NOT NULL GROUP BY 1").fetchall())
    engine.kill(signal.SIGTERM)
    # ready→originate counts only operator-side waits that started when the operator was free and ready
    ready = [float(r[0]) for r in rows if r[0] is not None and r[0] >= 0]
    bridge = [float(r[1]) for r in rows if r[1] is not None]
    # after each operator's first call: the start, when every operator's first client answers in
    # the same instant, is a burst a running call centre does not see
    steady_bridge = [float(r[1]) for r in rows if r[1] is not None and not r[2]]
    steady_ready = [float(r[0]) for r in rows if r[0] is not None and r[0] >= 0 and not r[2]]
    return {"operators": operators, "calls": done, "outcomes": outcomes,
            "ready_to_originate_ms_p50": pct(ready, 50, 2), "ready_to_originate_ms_p99": pct(ready, 99, 2),
            "answer_to_bridge_ms_p50": pct(bridge, 50, 2), "answer_to_bridge_ms_p99": pct(bridge, 99, 2),
            "answered_samples": len(bridge),
            "steady_ready_to_originate_ms_p50": pct(steady_ready, 50, 2),
            "steady_ready_to_originate_ms_p99": pct(steady_ready, 99, 2),
            "steady_answer_to_bridge_ms_p50": pct(steady_bridge, 50, 2),
            "steady_answer_to_bridge_ms_p99": pct(steady_bridge, 99, 2),
            "calls_per_minute": round(done / elapsed * 60, 1), "engine_cpu_percent": round(cpu, 1),
            "engine_rss_mb": round(rss, 1),
            "machine": machine()}


def run_with_telephony(measure, operators: int, calls: int) -> None:
    """The command line of a benchmark on real pbx + sim: start them (and PostgreSQL), measure, stop, print
    one JSON object as the last line."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--operators", type=int, default=operators)
    ap.add_argument("--calls", type=int, default=calls)
    args = ap.parse_args()
    settings = settings_mod.load()
    db = start_telephony(settings)
    try:
        hang_up_everything(settings)
        result = measure(settings, db, args.operators, args.calls)
    finally:
        hang_up_everything(settings)
        for name in ("sim", "pbx"):
            instances.stop(settings, name)
    print(json.dumps(result, ensure_ascii=False))


def machine() -> str:
    return f"{platform.machine()} {os.cpu_count()} cores, {round(psutil.virtual_memory().total / 2**30)} GB"


if __name__ == "__main__":
    run_with_telephony(measure, operators=20, calls=200)
