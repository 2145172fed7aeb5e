"""What recording costs (SPEC J1): N simultaneous answered calls for M minutes without recording beside M minutes of
the same with every call recorded, on real pbx + sim + PostgreSQL with the engine as its own process.

    python -m bench.recording [--operators 20] [--minutes 5] [--talk 30] [--rounds 5]

The two kinds alternate inside one run, in `--rounds` rounds of M / rounds minutes each, ordered ABBA ABBA …: on
a machine shared with other work the load moves a lot within minutes, and a drift then falls on both kinds alike
instead of on whichever ran second. Each round: the campaign's recording switched, every operator Ready, all N in
a call, M / rounds minutes measured, then all paused and the calls left to end (so no round's calls overlap the
next's). Measures per kind: pbx's CPU (its process, all threads) over the rounds' measured time, answer → bridged
p50/p95/p99 over all its calls (Asterisk's own event times, from the attempts) and their count, the engine's
`addChannel` requests over 50 ms (its warning), the machine's load average as each round ended; of the recorded
ones the disk bytes per call-minute of the stored files. The ratios (recorded / not) are the figures. Also where
the slowest 5 % of the calls spent their answer → bridged (inside `addChannel` or before it), and p50/p95 of each
operator's first call in a round (just after the campaign was switched: the leg snoop made or dropped around it)
apart from the calls after it (the steady state). Last line: one JSON object with `bridge_p99_ratio`,
`asterisk_cpu_ratio`, `bytes_per_call_minute`.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import time
from dataclasses import dataclass, field

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


@dataclass
class Kind:
    """One side of the comparison: its rounds' samples and measures, summed."""
    name: str
    record: bool
    bridge_ms: list[float] = field(default_factory=list)
    cpu_s: float = 0.0  # pbx CPU seconds over the measured time
    seconds: float = 0.0
    slow_adds: int = 0  # addChannel requests over 50 ms (the engine's warning)
    add_ms: dict = field(default_factory=dict)  # attempt → its addChannel's ms, those over 50 ms
    by_attempt: list = field(default_factory=list)  # (attempt, answer → bridged ms)
    # answer → bridged of each operator's first call in a round (the campaign was just switched: a recording
    # operator's leg snoop is made as that call is dialled, a non-recording one's dropped) and of the calls after it
    first_ms: list = field(default_factory=list)
    later_ms: list = field(default_factory=list)
    attempts: list[tuple[int, int]] = field(default_factory=list)  # (first, last) attempt id of each round
    loads: list[float] = field(default_factory=list)
    bridges: dict = field(default_factory=dict)
    rounds: list[dict] = field(default_factory=list)
    encoder_cpu_s: float = 0.0  # opusenc, after the calls (recorded only)


def round_order(kinds: int, rounds: int) -> list[int]:
    """ABBA ABBA … (or ABC CBA …): each kind as often early as late in every pair of cycles, so a steady drift of
    the machine's load cancels out of the comparison."""
    order: list[int] = []
    for cycle in range(rounds):
        order += list(range(kinds)) if cycle % 2 == 0 else list(reversed(range(kinds)))
    return order


_SLOW_ADD = re.compile(r"client at(\d+)-\S+ bridged, ARI took (\d+) ms")


def slow_adds(log_path, offset: int) -> tuple[dict[int, float], int]:
    """The engine's "bridged, ARI took N ms" warnings (over 50 ms) written after `offset`, {attempt: ms}; the new
    offset."""
    with open(log_path, "rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
        found = {int(m.group(1)): float(m.group(2)) for line in text.splitlines()
                 if "WARNING" in line and (m := _SLOW_ADD.search(line))}
        return found, f.tell()


def tail_split(samples: list[tuple[int, float]], adds: dict[int, float], share: float = 0.05) -> dict:
    """Where the slowest calls' answer → bridged went: of the slowest `share` of the calls, the mean total and the
    mean spent inside the `addChannel` request (the engine logs it over 50 ms; under that it counts as 50, an upper
    bound) — the rest is before the request: the answer's event reaching the engine and the operator's actor."""
    slow = sorted(samples, key=lambda s: s[1])[-max(1, int(len(samples) * share)):] if samples else []
    if not slow:
        return {}
    total = sum(ms for _, ms in slow) / len(slow)
    inside = sum(min(adds.get(a, 50.0), ms) for a, ms in slow) / len(slow)
    return {"calls": len(slow), "total_ms": round(total), "add_channel_ms": round(inside),
            "before_ms": round(total - inside)}


def run_round(settings, db, ops: list[dict], cid: int, kind: Kind, seconds: float, talk_s: int, log_path,
              offset: int) -> int:
    operators = len(ops)
    ids = [o["id"] for o in ops]
    pbx = psutil.Process(instances._pid(settings, "pbx"))
    with db.connection_context():
        db.execute_sql("UPDATE campaign SET record_calls = %s WHERE id = %s", (kind.record, cid))
        first = (db.execute_sql("SELECT coalesce(max(id), 0) FROM attempt").fetchone()[0]) + 1
        command_all(ids, "ready")
        until(lambda: Attempt.select().where(Attempt.id >= first, Attempt.bridged_at.is_null(False)).count()
              >= operators, 120, 0.2, "every operator in a call")
        before = pbx.cpu_times()
        started = time.monotonic()
        # a quarter in (the calls started together and end together, mid-round many may be ending): what kind of
        # bridge the operators' calls are in
        time.sleep(seconds / 4)
        if not kind.bridges:
            kind.bridges = bridge_technologies(settings)
        time.sleep(seconds * 3 / 4)
        after = pbx.cpu_times()
        elapsed = time.monotonic() - started
        command_all(ids, "pause")
        until(lambda: Attempt.select().where(Attempt.ended_at.is_null()).count() == 0, talk_s + 60, 0.5,
              "the calls to end")
        last = db.execute_sql("SELECT coalesce(max(id), 0) FROM attempt").fetchone()[0]
        listed = db.execute_sql(
            "SELECT id, extract(epoch FROM bridged_at - answered_at) * 1000,"
            " row_number() OVER (PARTITION BY operator_id ORDER BY id) = 1 FROM attempt"
            " WHERE bridged_at IS NOT NULL AND id BETWEEN %s AND %s", (first, last)).fetchall()
        rows = [(r[0], float(r[1])) for r in listed]
        samples = [ms for _, ms in rows]
        kind.first_ms += [float(r[1]) for r in listed if r[2]]
        kind.later_ms += [float(r[1]) for r in listed if not r[2]]
    cpu_s = (after.user + after.system) - (before.user + before.system)
    adds, offset = slow_adds(log_path, offset)
    slow = len(adds)
    kind.add_ms.update(adds)
    kind.by_attempt += rows
    load = round(os.getloadavg()[0], 1)
    kind.bridge_ms += samples
    kind.cpu_s += cpu_s
    kind.seconds += elapsed
    kind.slow_adds += slow
    kind.attempts.append((first, last))
    kind.loads.append(load)
    kind.rounds.append({"calls": len(samples), "p50": pct(samples, 50, 1), "p95": pct(samples, 95, 1),
                        "cpu_percent": round(100 * cpu_s / elapsed, 1), "slow_adds": slow, "load": load})
    print(json.dumps({"round": kind.name, **kind.rounds[-1]}), flush=True)
    return offset


def summary(db, kind: Kind) -> dict:
    b = kind.bridge_ms
    out = {"calls": len(b), "asterisk_cpu_percent": round(100 * kind.cpu_s / kind.seconds, 1) if kind.seconds else None,
           "seconds": round(kind.seconds, 1), "bridges": kind.bridges, "slow_adds": kind.slow_adds,
           "load": [min(kind.loads), max(kind.loads)],
           "answer_to_bridge_ms_p50": pct(b, 50, 1), "answer_to_bridge_ms_p95": pct(b, 95, 1),
           "answer_to_bridge_ms_p99": pct(b, 99, 1), "answer_to_bridge_ms_max": pct(b, 100, 1),
           "slowest_5pct": tail_split(kind.by_attempt, kind.add_ms),
           "first_calls_p50_p95": [pct(kind.first_ms, 50, 1), pct(kind.first_ms, 95, 1)],
           "later_calls_p50_p95": [pct(kind.later_ms, 50, 1), pct(kind.later_ms, 95, 1)]}
    if kind.record:
        within = " OR ".join(["a.id BETWEEN %s AND %s"] * len(kind.attempts))
        flat = [x for pair in kind.attempts for x in pair]
        with db.connection_context():
            count, size, duration, not_stored = db.execute_sql(
                "SELECT count(*), coalesce(sum(r.bytes), 0), coalesce(sum(r.duration_s), 0),"
                " count(*) FILTER (WHERE r.state <> 'stored')"
                " FROM call_recording r JOIN attempt a ON a.id = r.attempt_id"
                f" WHERE {within}", flat).fetchone()
            talked = db.execute_sql("SELECT coalesce(sum(extract(epoch FROM ended_at - bridged_at)), 0) FROM attempt a"
                                    f" WHERE bridged_at IS NOT NULL AND ({within})", flat).fetchone()[0]
        out.update(recordings=count, recordings_not_stored=not_stored, recorded_s=round(float(duration), 1),
                   talked_s=round(float(talked), 1),
                   bytes_per_call_minute=round(float(size) / (float(duration) / 60)) if duration else None)
    return out


def run(settings, db, operators: int, minutes: float, talk_s: int, rounds: int) -> tuple[Kind, Kind, float]:
    from dialer.services import campaigns

    kinds = [Kind("not recorded", False), Kind("recorded", True)]
    seconds = minutes * 60 / rounds
    calls_each = int(minutes * 60 / (talk_s + 2)) + 2 * rounds + 2
    with db.connection_context():
        db.execute_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        cid = campaigns.create_campaign("bench-recording", calling_window=ANY_HOUR, max_attempts=1, ring_timeout_s=5,
                                        wrap_up_limit_s=1)["id"]
        add_leads(cid, [f"79000{talk_s:02d}{i:04d}" for i in range(operators * calls_each * len(kinds))])
        ops = make_operators(settings, cid, operators, prefix="rec")
    log_path = settings.state_dir / "bench-recording-engine.log"
    engine = EngineProcess(settings, log_path)
    engine.mark()
    engine.start()
    try:
        offset = log_path.stat().st_size
        for k in round_order(len(kinds), rounds):
            offset = run_round(settings, db, ops, cid, kinds[k], seconds, talk_s, log_path, offset)
        with db.connection_context():
            stored_wait_s = wait_stored(db)
        kinds[1].encoder_cpu_s = children_cpu_s(engine.proc.pid)  # opusenc's, waited for: the engine's children
    finally:  # a run that fails must not leave its engine on the ports
        engine.kill(signal.SIGTERM)
    return kinds[0], kinds[1], stored_wait_s


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--operators", type=int, default=20)
    ap.add_argument("--minutes", type=float, default=5, help="minutes of each kind, in all")
    ap.add_argument("--talk", type=int, default=30, help="seconds each call talks")
    ap.add_argument("--rounds", type=int, default=5, help="rounds of each kind, alternating")
    args = ap.parse_args()
    settings = settings_mod.load()
    db = start_telephony(settings)
    try:
        hang_up_everything(settings)
        plain_kind, recorded_kind, stored_wait_s = run(settings, db, args.operators, args.minutes, args.talk,
                                                       args.rounds)
        plain, recorded = summary(db, plain_kind), summary(db, recorded_kind)
        print(json.dumps({"run": "not recorded", **plain}), flush=True)
        print(json.dumps({"run": "recorded", **recorded, "stored_wait_s": stored_wait_s}), flush=True)
    finally:
        hang_up_everything(settings)
        for name in ("sim", "pbx"):
            instances.stop(settings, name)

    def ratio(a, b):
        return round(a / b, 2) if a is not None and b else None

    def both(key):
        return [plain[key], recorded[key]]
    print(json.dumps({
        "operators": args.operators, "minutes": args.minutes, "talk_s": args.talk, "rounds": args.rounds,
        "bridge_p99_ratio": ratio(recorded["answer_to_bridge_ms_p99"], plain["answer_to_bridge_ms_p99"]),
        "bridge_p95_ratio": ratio(recorded["answer_to_bridge_ms_p95"], plain["answer_to_bridge_ms_p95"]),
        "bridge_p50_ratio": ratio(recorded["answer_to_bridge_ms_p50"], plain["answer_to_bridge_ms_p50"]),
        "asterisk_cpu_ratio": ratio(recorded["asterisk_cpu_percent"], plain["asterisk_cpu_percent"]),
        "bytes_per_call_minute": recorded.get("bytes_per_call_minute"),
        "calls": both("calls"),
        "bridge_p50_ms": both("answer_to_bridge_ms_p50"), "bridge_p95_ms": both("answer_to_bridge_ms_p95"),
        "bridge_p99_ms": both("answer_to_bridge_ms_p99"), "bridge_max_ms": both("answer_to_bridge_ms_max"),
        "asterisk_cpu_percent": both("asterisk_cpu_percent"), "slow_adds": both("slow_adds"),
        "slowest_5pct": both("slowest_5pct"), "first_calls_p50_p95": both("first_calls_p50_p95"),
        "later_calls_p50_p95": both("later_calls_p50_p95"),
        "recordings": recorded.get("recordings"), "recordings_not_stored": recorded.get("recordings_not_stored"),
        "bridges": both("bridges"), "encoder_cpu_s": round(recorded_kind.encoder_cpu_s, 1),
        "load": [plain_kind.loads, recorded_kind.loads], "machine": machine()}))


if __name__ == "__main__":
    main()
