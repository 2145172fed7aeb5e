"""Two Asterisk servers driven by one engine: progressive calling at scale, on real pbx + pbx2 + sim + PostgreSQL.

    python -m bench.scale [--operators 100] [--minutes 10] [--talk-s 20] [--idle-s 60]

`--operators` auto-answering operators on each of pbx and pbx2 (simulated softphones registered to their own
server), all Ready in one campaign for `--minutes` of progressive calling. The numbers dialled are a list's usual
mix: most answer and talk `--talk-s` seconds (± a third), some are busy, ring without answer (5 s ring window),
reject or fail. Measured over the calling window:
- calls_per_minute: attempts ended per minute (both servers), and per server;
- CPU per 1,000 calls of the engine process (ARI, commands, AGI) beside that of the two Asterisk processes (the sim
  playing the outside world is not counted): `engine_vs_asterisk_cpu_ratio` = engine / (pbx + pbx2), goal ≤ 0.25;
- answer → bridge p50/p99 on each server (from Asterisk's own event times, as bench.progressive);
- RSS of each process at the end; the engine's CPU split into user and system (kernel) seconds.
- calls ended in each minute, and whether the protective autostop (SPEC B3) stopped the campaign during the run
  (on a machine too small for the load, Asterisk's requests time out and the errors stop it: the figures per call
  then include the idle rest of the run and are not the engine's cost).
- with `--idle-s`: then, every operator still Ready and the campaign paused (nothing to call), the CPU the engine
  and each Asterisk spend waiting (idle operators look for a lead less and less often: ari_app/runtime.py).
Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import signal
import time

from dialer.dev.testing import BENCHMARK, isolate, start_telephony

isolate(os.environ.get("DIALER_BENCH_STATE_DIR", "/var/lib/dialer-bench"), BENCHMARK)

import psutil  # noqa: E402

from dialer import settings as settings_mod  # noqa: E402
from dialer.dev import instances  # noqa: E402
from dialer.dev.testing import EngineProcess, add_leads, command_all, hang_up_everything, make_operators  # noqa: E402
from dialer.models import Attempt  # noqa: E402
from rules.window import ANY_HOUR  # noqa: E402  (a benchmark runs at any hour of the day)

from .progressive import machine  # noqa: E402
from .stats import pct  # noqa: E402

SERVERS = ("pbx", "pbx2")
# ps_contacts first: Asterisk writes it while phones re-register, and its trigger reads sip_device and operator
TABLES = "ps_contacts, attempt_event, engine_command, attempt, operator_campaign, lead, operator, campaign, sip_device"


def phones(count: int, talk_s: int, seed: int = 7) -> list[str]:
    """Numbers of the sim's PSTN (sim/README.md): 70 % answer and talk talk_s ± a third, the rest busy, no answer,
    rejected, failing — shuffled as a list is."""
    rnd = random.Random(seed)
    out, used = [], {}
    for _ in range(count):
        roll = rnd.random()
        if roll < 0.70:
            talk = max(1, min(99, round(talk_s * rnd.uniform(2 / 3, 4 / 3))))
            prefix, digits = f"79000{talk:02d}", 4
        else:
            prefix = "79001" if roll < 0.80 else "79003" if roll < 0.90 else "79002" if roll < 0.96 else "79004"
            digits = 6
        n = used[prefix] = used.get(prefix, -1) + 1
        if n >= 10 ** digits:
            raise ValueError(f"more than {10 ** digits} numbers of {prefix}: lower --minutes or --operators")
        out.append(f"{prefix}{n:0{digits}d}")
    return out


def cpu_s(p: psutil.Process) -> float:
    t = p.cpu_times()
    return t.user + t.system


def idle_cost(db, procs: dict, cid: int, seconds: float) -> dict:
    """Every operator still Ready and nothing to call (the campaign paused, its calls over): what waiting costs."""
    with db.connection_context():
        db.execute_sql("UPDATE campaign SET active = false WHERE id = %s", (cid,))
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with db.connection_context():
            if not db.execute_sql("SELECT count(*) FROM attempt WHERE ended_at IS NULL").fetchone()[0]:
                break
        time.sleep(1)
    time.sleep(10)  # the last wrap-ups (1 s) and the first empty looks
    before = {name: cpu_s(procs[name]) for name in ("engine", "pbx", "pbx2")}
    time.sleep(seconds)
    return {f"idle_{name}_cpu_percent": round((cpu_s(procs[name]) - before[name]) / seconds * 100, 2)
            for name in before}


def measure(settings, db, operators: int, minutes: float, talk_s: int, idle_s: float = 0) -> dict:
    from dialer.services import campaigns

    window_s = minutes * 60
    # enough leads that nobody runs out: every operator could place a call every few seconds
    leads = int(operators * len(SERVERS) * (window_s / 4 + 10))
    with db.connection_context():
        db.execute_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        cid = campaigns.create_campaign("scale", calling_window=ANY_HOUR, max_attempts=1, ring_timeout_s=5,
                                        wrap_up_limit_s=1)["id"]
        numbers = phones(leads, talk_s)
        for start in range(0, leads, 20_000):
            add_leads(cid, numbers[start:start + 20_000])
        ops = []
        for prefix, server in zip("ab", SERVERS):
            ops += make_operators(settings, cid, operators, prefix=prefix, server=server)
    os.environ["DIALER_ASTERISK_SERVERS"] = instances.two_servers(settings)
    engine = EngineProcess(settings, settings.state_dir / "scale-engine.log")
    engine.mark()
    engine.start()
    procs = {"engine": psutil.Process(engine.proc.pid),
             **{name: psutil.Process(instances.status(settings, name)["pid"]) for name in (*SERVERS, "sim")}}
    try:
        cpu0 = {name: cpu_s(p) for name, p in procs.items()}
        engine0 = procs["engine"].cpu_times()
        with db.connection_context():
            started = db.execute_sql("SELECT clock_timestamp()").fetchone()[0]
            command_all([o["id"] for o in ops], "ready")
        time.sleep(window_s)  # the calling window itself: nothing to poll for, the calls go on by themselves
        cpu = {name: cpu_s(p) - cpu0[name] for name, p in procs.items()}
        engine1 = procs["engine"].cpu_times()
        rss = {name: round(p.memory_info().rss / 2**20, 1) for name, p in procs.items()}
        with db.connection_context():
            ended = db.execute_sql("SELECT clock_timestamp()").fetchone()[0]
            rows = db.execute_sql(
                "SELECT server, outcome, extract(epoch FROM bridged_at - answered_at) * 1000 FROM attempt "
                "WHERE ended_at BETWEEN %s AND %s", (started, ended)).fetchall()
            # a campaign the protective autostop (SPEC B3) stopped mid-run makes every figure per call wrong: say so
            stopped = db.execute_sql(
                "SELECT p.autostopped_at, p.autostop_reason FROM campaign c"
                " LEFT JOIN campaign_pacing p ON p.campaign_id = c.id WHERE c.id = %s", (cid,)).fetchone()
            per_minute = [r[0] for r in db.execute_sql(
                "SELECT count(a.id) FROM generate_series(0, %s - 1) m LEFT JOIN attempt a "
                "ON a.ended_at >= %s + m * interval '1 minute' AND a.ended_at < %s + (m + 1) * interval '1 minute' "
                "GROUP BY m ORDER BY m", (max(1, int(minutes)), started, started)).fetchall()]
            wrong_server = db.execute_sql(
                "SELECT count(*) FROM attempt a JOIN operator o ON o.id = a.operator_id WHERE a.server <> o.server"
            ).fetchone()[0]
        idle = idle_cost(db, procs, cid, idle_s) if idle_s else {}
        with db.connection_context():
            command_all([o["id"] for o in ops], "pause")
    finally:
        engine.kill(signal.SIGTERM)
    elapsed_min = (ended - started).total_seconds() / 60
    calls = len(rows)
    per_server = {s: [r for r in rows if r[0] == s] for s in SERVERS}
    bridge = {s: [float(r[2]) for r in per_server[s] if r[2] is not None] for s in SERVERS}
    asterisk_cpu = sum(cpu[s] for s in SERVERS)
    per_1000 = {name: round(value / calls * 1000, 1) if calls else float("nan") for name, value in cpu.items()}
    outcomes: dict[str, int] = {}
    for r in rows:
        outcomes[r[1]] = outcomes.get(r[1], 0) + 1
    return {"operators_per_server": operators, "servers": len(SERVERS), "minutes": round(elapsed_min, 2),
            "talk_s": talk_s, "calls": calls, "outcomes": outcomes,
            "calls_per_minute": round(calls / elapsed_min, 1),
            "calls_per_minute_by_server": {s: round(len(per_server[s]) / elapsed_min, 1) for s in SERVERS},
            "cpu_s_per_1000_calls": per_1000,
            "engine_cpu_percent": round(cpu["engine"] / (elapsed_min * 60) * 100, 1),
            # the kernel's share (thread wake-ups, sockets, log writes) beside the process's own
            "engine_cpu_user_system_s": [round(engine1.user - engine0.user, 1),
                                         round(engine1.system - engine0.system, 1)],
            "asterisk_cpu_percent": {s: round(cpu[s] / (elapsed_min * 60) * 100, 1) for s in SERVERS},
            "engine_vs_asterisk_cpu_ratio": round(cpu["engine"] / asterisk_cpu, 3) if asterisk_cpu else float("nan"),
            "answer_to_bridge_ms_p50": {s: pct(bridge[s], 50, 1) for s in SERVERS},
            "answer_to_bridge_ms_p99": {s: pct(bridge[s], 99, 1) for s in SERVERS},
            "answered_samples": {s: len(bridge[s]) for s in SERVERS},
            "attempts_on_another_server_than_their_operator": wrong_server,
            "calls_by_minute": per_minute,
            "campaign_stopped_automatically": (
                {"after_s": round((stopped[0] - started).total_seconds(), 1), "reason": stopped[1]}
                if stopped[0] else None),
            "rss_mb": rss, "engine_rss_mb": rss["engine"], **idle,
            "load_average_1m": round(os.getloadavg()[0], 1), "machine": machine()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--operators", type=int, default=100, help="operators on each of the two servers")
    ap.add_argument("--minutes", type=float, default=10.0, help="minutes of progressive calling measured")
    ap.add_argument("--talk-s", type=int, default=20, help="how long an answered client talks, on average")
    ap.add_argument("--idle-s", type=float, default=0,
                    help="then measure this long with every operator Ready and nothing to call (campaign paused)")
    args = ap.parse_args()
    settings = settings_mod.load()
    db = start_telephony(settings, ("pbx", "sim", "pbx2"))
    try:
        hang_up_everything(settings)
        result = measure(settings, db, args.operators, args.minutes, args.talk_s, args.idle_s)
    finally:
        hang_up_everything(settings)
        for name in ("sim", "pbx2", "pbx"):
            instances.stop(settings, name)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
