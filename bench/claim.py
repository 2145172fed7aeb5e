"""The claim under load on a real PostgreSQL: 1,000,000 leads, 10 campaigns × 5 selections, 100 claimers.

    python -m bench.claim [--leads 1000000] [--claimers 100] [--seconds 60] [--think-ms 2000] [--connections N]

Each claimer is an operator in two campaigns' pools; it claims through the engine's own `store.claim`
(selections in priority order, window, limits, do-not-call, SKIP LOCKED, attempt opened and counted), ends the
attempt as the engine does (no answer: the lead waits for its retry), then waits `--think-ms` (±50 %, 0: back
to back) before the next claim; claimers start spread over one think time. 100 operators claiming every 2 s on
average is 50 claims a second, ten times what 100 operators on calls of 20 s and more ask for. A shorter think
time measures the machine's capacity instead (the claims then queue for the CPU and the connections).

The database work runs as in `dialer run`: each claim, stamp and end checks a connection out of the engine's
pool (`dialer.db.connect`, `db_pool_size` connections unless `--connections` says) and gives it back;
`--connections 0` gives each claimer a connection of its own instead. The claim-queue job runs beside them on
the same pool (`rules.queue.refill` every second); `--no-queue` measures the direct walk alone.

Measures, after `--warmup-s` (the first claims of each new connection: catalog caches, prepared statements and
trigger functions compiled per server session — reported apart as warmup_*), for `--seconds`:
- claim_ms_*: the time of one `store.claim` call, as the claimer sees it (with the wait for a pooled connection);
- duplicates: attempts beyond one per lead (a lead claimed twice while it was still being called);
- errors: claims that failed (e.g. a unique violation would mean two claimers got the same lead);
- preview_count_ms: "matches now" for a draft rule over one campaign (100,000 leads), median of 5;
- queue_*: the job's rounds (selections filled, time per round).
Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import platform
import random
import threading
import time
from datetime import timedelta

from dialer.dev.testing import BENCHMARK, isolate

isolate(os.environ.get("DIALER_BENCH_STATE_DIR", "/var/lib/dialer-bench"), BENCHMARK)

from ari_app import events as ev  # noqa: E402
from ari_app import store  # noqa: E402
from ari_app.classifier import AttemptFacts  # noqa: E402
from dialer import db as dbm  # noqa: E402
from dialer import migrate, models, pg, settings as settings_mod  # noqa: E402
from rules import claim as claim_mod  # noqa: E402
from rules import queue, selections  # noqa: E402

from .stats import pct  # noqa: E402

CAMPAIGNS = 10
TABLES = ("claim_queue, claim_queue_fill, do_not_call, operator_skill, selection_version, selection, campaign_result, attempt_event, engine_command,"
          " attempt, operator_campaign, lead, operator, campaign")
REGIONS = ["Москва", "Тверь", "Новосибирская обл.", "Приморский край", "Свердловская обл.", "Татарстан"]
ZONES = ["Europe/Moscow", "Europe/Moscow", "Asia/Novosibirsk", "Asia/Vladivostok", "Asia/Yekaterinburg",
         "Europe/Kaliningrad"]
PRODUCTS = ["loan", "card", "deposit", "insurance"]


def selection_rules(campaign: int) -> list[tuple[str, dict]]:
    """Five selections like a supervisor writes them: callbacks and big amounts first, a catch-all last."""
    all_day = {"from": "00:00", "to": "24:00"}
    limits = {"max_attempts": 5, "max_per_day": 3, "min_pause_minutes": 30}
    return [
        ("large debts, two regions", {"conditions": [[{"field": "amount", "op": "ge", "value": 900},
                                                      {"field": "region", "op": "in", "value": REGIONS[:2]}]],
                                      "limits": limits, "window": all_day, "order": "priority"}),
        ("new cards", {"conditions": [[{"field": "product", "op": "eq", "value": "card"},
                                       {"field": "attempts", "op": "eq", "value": 0}]],
                       "limits": limits, "window": all_day}),
        ("weekday mornings", {"conditions": [[{"field": "created_at", "op": "within", "value": [-3, 0]}]],
                              "limits": limits, "window": {"from": "09:00", "to": "12:00", "days": [1, 2, 3, 4, 5]},
                              "order": "created_at"}),
        ("crm vip", {"conditions": [[{"field": "attrs.segment", "op": "eq", "value": "vip"}],
                                    [{"field": "crm_status", "op": "eq", "value": "promised"}]],
                     "limits": limits, "window": all_day, "order": "priority"}),
        ("everyone else", {"limits": limits, "window": all_day}),
    ]


def load(db, leads: int) -> None:
    """The leads by generate_series in one statement per campaign (never row by row)."""
    db.execute_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
    for c in range(CAMPAIGNS):
        models.Campaign.insert(name=f"bench {c}", retry_delay_s=3600, max_attempts=5,
                               calling_window={"any_hour": True}).execute()  # measured at any hour
    for c in range(1, CAMPAIGNS + 1):
        db.execute_sql(
            """INSERT INTO lead (campaign_id, external_id, phone, region, time_zone, time_zone_source, amount, product,
                                 crm_status, priority, attempts, created_at, next_call_at, attrs)
               SELECT %(c)s, i::text, '+7900' || lpad(i::text, 7, '0'),
                      (%(regions)s::text[])[1 + i %% 6], (%(zones)s::text[])[1 + i %% 6], 'region',
                      (i::bigint * 7919 %% 100000) / 100.0, (%(products)s::text[])[1 + i %% 4],
                      CASE WHEN i %% 50 = 0 THEN 'promised' ELSE '' END, (i::bigint * 2654435761 %% 1000003) %% 5, i %% 3,
                      now() - (i %% 20000) * interval '1 minute', now() - interval '1 minute',
                      CASE WHEN i %% 100 = 0 THEN '{"segment": "vip"}'::jsonb ELSE '{}'::jsonb END
                 FROM generate_series(%(lo)s, %(hi)s) AS i""",
            {"c": c, "regions": REGIONS, "zones": ZONES, "products": PRODUCTS,
             "lo": (c - 1) * (leads // CAMPAIGNS) + 1, "hi": c * (leads // CAMPAIGNS)})
        for name, rule in selection_rules(c):
            selections.create_selection(c, name, rule)
    # 0.1 % of the numbers are on the do-not-call list
    db.execute_sql("INSERT INTO do_not_call (phone, source) SELECT phone, 'import' FROM lead WHERE id %% %s = 7", (1000,))
    db.execute_sql("VACUUM ANALYZE lead")
    db.execute_sql("ANALYZE")


def make_operators(claimers: int) -> list[int]:
    ids = []
    for k in range(claimers):
        oid = models.Operator.insert(name=f"bench {k}", login=f"bench{k}", sip_password="secret-123",
                                     status="ready").execute()
        models.OperatorCampaign.insert_many([{"operator": oid, "campaign": 1 + k % CAMPAIGNS},
                                             {"operator": oid, "campaign": 1 + (k + 1) % CAMPAIGNS}]).execute()
        ids.append(oid)
    return ids


def claimer(db, operator_id: int, clock: dict, think_s: float, start: threading.Barrier, out: list, errors: list,
            hold: bool):
    """One operator: claim, dial, no answer, think, again. Each piece of database work checks a connection out of
    the pool and gives it back, as the engine's `dialer.db.run` does (`hold`: the claimer keeps one connection)."""
    rnd = random.Random(operator_id)
    each = contextlib.nullcontext if hold else db.connection_context
    with db.connection_context() if hold else contextlib.nullcontext():
        start.wait()
        until = clock["until"]
        time.sleep(rnd.uniform(0, think_s))  # operators press Ready at different moments, not all in one ms
        while time.monotonic() < until:
            at = time.monotonic()
            t0 = time.perf_counter()
            try:
                with each():
                    got = store.claim(db, operator_id, "pbx", "bench", time.time(), None)
            except Exception as e:  # counted and reported: a failed claim is a finding, not a crash
                errors.append(repr(e)[:200])
                continue
            out.append((at, (time.perf_counter() - t0) * 1000))
            if got is None:
                time.sleep(0.05)
                continue
            with each():
                store.record(db, got.attempt_id, "dial_started_at", time.time())
            with each():
                store.end_attempt(db, ev.EndAttempt(got.attempt_id, "NO_ANSWER", AttemptFacts(cause=19), time.time()))
            if think_s:
                time.sleep(rnd.uniform(0.5, 1.5) * think_s)


def refiller(db, clock: dict, start: threading.Barrier, rounds: list, size: int, refresh_s: float) -> None:
    """The claim-queue job, as `dialer run` schedules it: a round every second, on a connection of the same pool."""
    start.wait()
    while time.monotonic() < clock["until"]:
        t0 = time.monotonic()
        with db.connection_context():
            done = queue.refill(db, size=size, refresh=timedelta(seconds=refresh_s))
        rounds.append((done.filled, done.ms, t0))
        time.sleep(max(0.0, queue.ROUND_S - (time.monotonic() - t0)))


def preview_ms(db) -> float:
    rule = {"conditions": [[{"field": "amount", "op": "between", "value": [100, 500]},
                            {"field": "region", "op": "ne", "value": "Тверь"}]],
            "limits": {"max_per_day": 3, "min_pause_minutes": 30}, "window": {"from": "08:00", "to": "22:00"}}
    times = []
    with db.connection_context():
        for _ in range(5):
            t0 = time.perf_counter()
            selections.preview(1, rule)
            times.append((time.perf_counter() - t0) * 1000)
    return pct(times, 50)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leads", type=int, default=1_000_000)
    ap.add_argument("--claimers", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--think-ms", type=float, default=2000)
    ap.add_argument("--warmup-s", type=float, default=5,
                    help="claims in the first seconds are reported apart: each connection's first use (catalog caches,"
                         " prepared statements, trigger functions) is not the steady state")
    ap.add_argument("--reuse", action="store_true", help="keep the loaded leads of the previous run")
    ap.add_argument("--no-queue", action="store_true", help="without the claim-queue job: every claim walks the leads")
    ap.add_argument("--queue-size", type=int, default=queue.SIZE, help="leads queued per selection")
    ap.add_argument("--connections", type=int, default=None,
                    help="the claimers share a pool of this many connections, as the engine runs its database work"
                         " (default: the engine's pool size, db_pool_size); 0: each claimer holds a connection of its own")
    ap.add_argument("--samples", metavar="FILE", help="write every claim (start s, ms) and every job round (start s, ms) as CSV")
    ap.add_argument("--refresh-s", type=float, default=queue.REFRESH.total_seconds(),
                    help="a queue is rebuilt at least this often")
    args = ap.parse_args(argv)

    settings = settings_mod.load()
    pg.start_until_exit(settings)
    migrate.migrate(settings)
    hold = args.connections == 0
    # the engine's own pool (dialer.db.connect), of the engine's size unless told
    pool_size = args.claimers + 2 if hold else args.connections or settings.db_pool_size
    db = dbm.connect(dataclasses.replace(settings, db_pool_size=pool_size))
    t0 = time.perf_counter()
    with db.connection_context():
        if not args.reuse or models.Lead.select().count() != args.leads:
            load(db, args.leads)
        else:  # back to the loaded state: nothing claimed yet
            db.execute_sql("TRUNCATE attempt_event, engine_command, attempt, claim_queue, claim_queue_fill"
                           " RESTART IDENTITY CASCADE")
            db.execute_sql("DELETE FROM operator_campaign")
            db.execute_sql("DELETE FROM operator")  # not TRUNCATE: that would cascade to the leads
            db.execute_sql("UPDATE lead SET state = 'new', attempts = id %% %s, attempts_today = 0, attempts_day = NULL,"
                           " last_attempt_at = NULL, next_call_at = now() - interval '1 minute' WHERE state <> 'new'"
                           " OR attempts_day IS NOT NULL", (3,))
            db.execute_sql("VACUUM ANALYZE lead")
        ops = make_operators(args.claimers)
        if not args.no_queue:  # the job's first round, as at the start of `dialer run`
            first = queue.refill(db, size=args.queue_size)
    load_s = time.perf_counter() - t0

    timed: list[tuple[float, float]] = []
    errors: list[str] = []
    clock: dict = {}

    def go():  # when every claimer holds its connection: the warm-up, then the measured seconds
        clock["start"] = time.monotonic()
        clock["measured"] = clock["start"] + args.warmup_s
        clock["until"] = clock["measured"] + args.seconds

    barrier = threading.Barrier(len(ops) + (0 if args.no_queue else 1), action=go)
    threads = [threading.Thread(target=claimer, args=(db, oid, clock, args.think_ms / 1000, barrier, timed, errors, hold))
               for oid in ops]
    rounds: list[tuple[int, float, float]] = []
    if not args.no_queue:
        threads.append(threading.Thread(target=refiller, args=(db, clock, barrier, rounds, args.queue_size,
                                                                args.refresh_s)))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    latencies = [ms for at, ms in timed if at >= clock["measured"]]
    warming = [ms for at, ms in timed if at < clock["measured"]]

    if args.samples:
        with open(args.samples, "w") as f:
            f.write("kind,start_s,ms\n")
            f.writelines(f"claim,{at - clock['start']:.4f},{ms:.3f}\n" for at, ms in timed)
            f.writelines(f"round,{at - clock['start']:.4f},{ms:.3f}\n" for _, ms, at in rounds)
    with db.connection_context():
        attempts, leads_called = db.execute_sql("SELECT count(*), count(DISTINCT lead_id) FROM attempt").fetchone()
        measured = db.execute_sql("SELECT count(*) FROM attempt WHERE reserved_at >= now() - %s * interval '1 second'",
                                  (time.monotonic() - clock["measured"],)).fetchone()[0]
        listed = db.execute_sql("SELECT count(*) FROM attempt a JOIN do_not_call d ON d.phone = a.phone").fetchone()[0]
        db.execute_sql("TRUNCATE claim_queue, claim_queue_fill")  # the preview is measured without the job
        preview = preview_ms(db)
    result = {
        "claim_ms_p50": pct(latencies, 50), "claim_ms_p90": pct(latencies, 90), "claim_ms_p99": pct(latencies, 99),
        "claim_ms_max": round(max(latencies), 3) if latencies else None,
        "claims": attempts, "claims_measured": len(latencies), "empty_claims": len(timed) - attempts,
        "claims_per_s": round(measured / args.seconds, 1),
        "warmup_claims": len(warming), "warmup_claim_ms_p50": pct(warming, 50), "warmup_claim_ms_p99": pct(warming, 99),
        "duplicates": attempts - leads_called, "do_not_call_dialled": listed, "errors": len(errors),
        "first_error": errors[0] if errors else None, "preview_count_ms": preview,
        "claims_by_way": claim_mod.ways_taken.snapshot(), "queue": not args.no_queue, "queue_first_round_ms": round(first.ms, 1) if not args.no_queue else None,
        "queue_rounds": len(rounds), "queue_fills": sum(f for f, _, _ in rounds),
        "queue_round_ms_p50": pct([ms for _, ms, _ in rounds], 50), "queue_round_ms_max": round(max((ms for _, ms, _ in rounds), default=0), 1),
        "leads": args.leads, "campaigns": CAMPAIGNS, "selections": CAMPAIGNS * 5, "claimers": args.claimers,
        "connections": "one per claimer" if hold else pool_size,
        "think_ms": args.think_ms, "warmup_s": args.warmup_s, "seconds": args.seconds, "load_s": round(load_s, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared", "python": platform.python_version(),
    }
    print(json.dumps(result, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
