"""What recording costs (SPEC J1): N simultaneous answered calls for M minutes, first without recording, then the same
with every call recorded, on real pbx + sim + PostgreSQL with the engine as its own process.

    python -m bench.recording [--operators 20] [--minutes 5] [--talk 30]

Measures in each run: pbx's CPU (its process, all threads), answer → bridged p50/p99 (Asterisk's own event times,
from the attempts), calls, the machine's load average as the run ended; in the recorded run the disk bytes per
call-minute of the stored files. The ratios (recorded / not) are the figures: the runs share the machine's noise. Last line: one JSON object with
`bridge_p99_ratio`, `asterisk_cpu_ratio`, `bytes_per_call_minute`.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import time

from dialer.dev.testing import BENCHMARK, isolate, start_telephony

# its own state directory: beside the tests' (DIALER_TEST_STATE_DIR, with the ports given) or the default's
_test_dir = os.environ.get("DIALER_TEST_STATE_DIR")
isolate(os.environ.get("DIALER_BENCH_STATE_DIR") or (f"{_test_dir}-bench" if _test_dir else "/var/lib/dialer-bench"),
        BENCHMARK)

import psutil  # noqa: E402

from dialer import settings as settings_mod  # noqa: E402
from dialer.dev import instances  # noqa: E402
from dialer.dev.testing import EngineProcess, add_leads, command_all, hang_up_everything, make_operators, until  # noqa: E402
from dialer.models import Attempt  # noqa: E402
from rules.window import ANY_HOUR  # noqa: E402

from .stats import pct  # noqa: E402

def machine() -> str:  # not imported from bench.progressive: importing it points this process at its state dir
    import platform
    return f"{platform.machine()} {os.cpu_count()} cores, {round(psutil.virtual_memory().total / 2**30)} GB"


TABLES = "call_recording, attempt_event, engine_command, attempt, operator_campaign, lead, operator, campaign"


def bridge_technologies(settings) -> dict[str, int]:
    """{"technology/channels": bridges} on pbx (`bridge show all`: id, name, channels, type, technology, duration;
    a name may have spaces, so read from the right)."""
    counts: dict[str, int] = {}
    for line in instances.rx(settings, "pbx", "bridge show all").splitlines()[1:]:
        m = re.search(r"\s(\d+)\s+\S+\s+(\S+)\s+[\d:]+\s*$", line)
        if m:
            key = f"{m.group(2)}/{m.group(1)}ch"
            counts[key] = counts.get(key, 0) + 1
    return counts


def children_cpu_s(pid: int) -> float:
    """CPU seconds of the finished children of the engine's processes (the encoder runs as one)."""
    try:
        procs = [psutil.Process(pid)]
        procs += procs[0].children(recursive=True)
        return sum(p.cpu_times().children_user + p.cpu_times().children_system for p in procs)
    except psutil.Error:
        return 0.0


def wait_stored(db, stall_s: float = 60) -> float:
    """Wait while the recordings are still being stored and the queue moves: opusenc runs at nice 19, one file at a
    time, so on a busy machine a 5-minute run leaves a queue that takes minutes — what is measured is pbx, not the
    queue. Gives up after `stall_s` without progress (the count not stored is reported). Seconds waited."""
    started = last_change = time.monotonic()
    left = None
    while True:
        now_left = db.execute_sql("SELECT count(*) FROM call_recording WHERE state = 'recording'").fetchone()[0]
        if now_left == 0:
            return round(time.monotonic() - started, 1)
        if now_left != left:
            left, last_change = now_left, time.monotonic()
        elif time.monotonic() - last_change > stall_s:
            return round(time.monotonic() - started, 1)
        time.sleep(1)


def run_once(settings, db, operators: int, minutes: float, talk_s: int, record: bool) -> dict:
    from dialer.services import campaigns

    calls_each = int(minutes * 60 / (talk_s + 2)) + 2
    with db.connection_context():
        db.execute_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        cid = campaigns.create_campaign("bench-recording", calling_window=ANY_HOUR, max_attempts=1, ring_timeout_s=5,
                                        wrap_up_limit_s=1)["id"]
        db.execute_sql("UPDATE campaign SET record_calls = %s WHERE id = %s", (record, cid))
        add_leads(cid, [f"79000{talk_s:02d}{i:04d}" for i in range(operators * calls_each)])
        ops = make_operators(settings, cid, operators, prefix="rec")
    engine = EngineProcess(settings, settings.state_dir / "bench-recording-engine.log")
    engine.mark()
    engine.start()
    try:
        return measure(settings, db, engine, ops, minutes, talk_s, record)
    finally:  # a run that fails must not leave its engine on the ports (the next run's would not start)
        engine.kill(signal.SIGTERM)


def measure(settings, db, engine, ops: list[dict], minutes: float, talk_s: int, record: bool) -> dict:
    operators = len(ops)
    pbx = psutil.Process(instances._pid(settings, "pbx"))
    with db.connection_context():
        command_all([o["id"] for o in ops], "ready")
        until(lambda: Attempt.select().where(Attempt.bridged_at.is_null(False)).count() >= operators, 120, 0.2,
              "every operator in a call")
        pbx.cpu_percent()  # from here: all calls up
        started = time.time()
        time.sleep(minutes * 30)
        bridges = bridge_technologies(settings)  # mid-run: what kind of bridge the operators' calls are in
        time.sleep(minutes * 30)
        cpu = pbx.cpu_percent()
        elapsed = time.time() - started
        command_all([o["id"] for o in ops], "pause")
        until(lambda: Attempt.select().where(Attempt.ended_at.is_null()).count() == 0, talk_s + 60, 0.5,
              "the calls to end")
        if record:
            stored_wait_s = wait_stored(db)
        bridge = [float(r[0]) for r in db.execute_sql(
            "SELECT extract(epoch FROM bridged_at - answered_at) * 1000 FROM attempt WHERE bridged_at IS NOT NULL"
        ).fetchall()]
        stored = db.execute_sql("SELECT count(*), coalesce(sum(bytes), 0), coalesce(sum(duration_s), 0),"
                                " count(*) FILTER (WHERE state <> 'stored') FROM call_recording").fetchone()
        talked = db.execute_sql("SELECT coalesce(sum(extract(epoch FROM ended_at - bridged_at)), 0) FROM attempt"
                                " WHERE bridged_at IS NOT NULL").fetchone()[0]
    encoder_s = children_cpu_s(engine.proc.pid)  # the compressions after the calls (opusenc, waited for)
    out = {"calls": len(bridge), "asterisk_cpu_percent": round(cpu, 1), "seconds": round(elapsed, 1),
           "load": [round(x, 1) for x in os.getloadavg()],  # the machine's 1/5/15-minute load when the run ended
           "bridges": bridges, "encoder_cpu_s": round(encoder_s, 1),
           "answer_to_bridge_ms_p50": pct(bridge, 50, 2), "answer_to_bridge_ms_p99": pct(bridge, 99, 2)}
    if record:
        count, size, duration, not_stored = stored
        out.update(recordings=count, recordings_not_stored=not_stored, stored_wait_s=stored_wait_s,
                   recorded_s=round(float(duration), 1),
                   talked_s=round(float(talked), 1),
                   bytes_per_call_minute=round(float(size) / (float(duration) / 60)) if duration else None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--operators", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--talk", type=int, default=30, help="seconds each call talks")
    args = ap.parse_args()
    settings = settings_mod.load()
    db = start_telephony(settings)
    try:
        hang_up_everything(settings)
        plain = run_once(settings, db, args.operators, args.minutes, args.talk, record=False)
        print(json.dumps({"run": "not recorded", **plain}), flush=True)
        hang_up_everything(settings)
        recorded = run_once(settings, db, args.operators, args.minutes, args.talk, record=True)
        print(json.dumps({"run": "recorded", **recorded}), flush=True)
    finally:
        hang_up_everything(settings)
        for name in ("sim", "pbx"):
            instances.stop(settings, name)

    def ratio(a, b):
        return round(a / b, 2) if a is not None and b else None
    print(json.dumps({
        "operators": args.operators, "minutes": args.minutes, "talk_s": args.talk,
        "bridge_p99_ratio": ratio(recorded["answer_to_bridge_ms_p99"], plain["answer_to_bridge_ms_p99"]),
        "asterisk_cpu_ratio": ratio(recorded["asterisk_cpu_percent"], plain["asterisk_cpu_percent"]),
        "bytes_per_call_minute": recorded.get("bytes_per_call_minute"),
        "bridge_p99_ms": [plain["answer_to_bridge_ms_p99"], recorded["answer_to_bridge_ms_p99"]],
        "asterisk_cpu_percent": [plain["asterisk_cpu_percent"], recorded["asterisk_cpu_percent"]],
        "recordings": recorded.get("recordings"), "recordings_not_stored": recorded.get("recordings_not_stored"),
        "bridges": [plain["bridges"], recorded["bridges"]], "encoder_cpu_s": recorded["encoder_cpu_s"],
        "load": [plain["load"], recorded["load"]], "machine": machine()}))


if __name__ == "__main__":
    main()
