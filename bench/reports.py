"""«Отчёты» over a large history: 10,000,000 attempts in 90 days, 100 operators, 20 campaigns.

    python -m bench.reports [--attempts 10000000] [--days 90] [--operators 100] [--campaigns 20] [--reuse]
                            [--runs 20] [--xlsx-rows 1000000]

The attempts are generated set-based (generate_series, a million a statement, the triggers and foreign-key checks
off for the load as in a restore) and the hourly rollup is then built in one statement (`report_rollup_rebuild()`,
what sql/017 runs as its backfill). Each operator works one campaign, 09:00–21:00 Moscow time every day, in two
selections; the outcomes are mixed as in a real centre. `--reuse` keeps the generated data of the previous run
when its size matches (only the attempts the run itself added are removed).

Measured in one run, over the 30 days before today (about a third of the attempts), each `--runs` times in turn
(the first two of each are warm-up, not counted), as the server computes them (`reports.report` with one part):
- histogram_ms: the histogram by day; kpi_ms: the KPI tiles (with the operator-hours); operators_ms: the operator
  slice (with each operator's hours);
- scan_ms: a plain `SELECT outcome, count(*) FROM attempt WHERE ended_at in the month GROUP BY outcome`;
- worst_vs_scan_ratio: the slowest report's p95 ÷ the scan's p95 (goal ≤ 0.2);
- freshness_s: an attempt ended by an UPDATE (as the engine ends one) until today's KPI tiles count it, worst of 5;
- xlsx_*: the XLSX export of `--xlsx-rows` calls (the call list's columns, streamed from a server-side cursor as
  `/reports/export` does) written by a child process; its time and peak RSS (goal ≤ 300 MB).
Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import date, datetime, timedelta

from dialer.dev.testing import BENCHMARK, isolate

isolate(os.environ.get("DIALER_BENCH_STATE_DIR", "/var/lib/dialer-bench-reports"), BENCHMARK)

from dialer import db as dbm  # noqa: E402
from dialer import migrate, models, pg, settings as settings_mod  # noqa: E402
from dialer.access import SYSTEM  # noqa: E402
from dialer.services import report_calls, reports, reports_export  # noqa: E402

from .stats import pct  # noqa: E402

ZONE = "Europe/Moscow"
LEADS_PER_CAMPAIGN = 5000
CHUNK = 1_000_000
WARMUP = 2
# outcome by a hash of the attempt number: 30 % answered, 35 no answer, 12 busy, 8 rejected, 5 lost, 10 error
OUTCOME_SQL = """CASE WHEN h < 30 THEN 'ANSWERED' WHEN h < 65 THEN 'NO_ANSWER' WHEN h < 77 THEN 'BUSY'
                      WHEN h < 85 THEN 'REJECTED' WHEN h < 90 THEN 'LOST' ELSE 'ERROR' END"""

H = "(hashint8extended(i, {seed}) & 2147483647)"  # a well-mixed non-negative hash of the attempt number
ATTEMPTS_SQL = f"""
INSERT INTO attempt (lead_id, campaign_id, operator_id, selection_id, phone, reserved_at, answered_at, bridged_at,
                     ended_at, outcome, wrap_up_at, wrap_up_result)
SELECT (c - 1) * {LEADS_PER_CAMPAIGN} + 1 + {H.format(seed=3)} %% {LEADS_PER_CAMPAIGN}, c, op,
       2 * c - (CASE WHEN {H.format(seed=4)} %% 10 < 7 THEN 1 ELSE 0 END),
       '+7900' || lpad(({H.format(seed=3)} %% 10000000)::text, 7, '0'),
       ended - interval '60 s',
       CASE WHEN o IN ('ANSWERED', 'LOST') THEN ended - (20 + {H.format(seed=5)} %% 300) * interval '1 s' END,
       CASE WHEN o = 'ANSWERED' THEN ended - (19 + {H.format(seed=5)} %% 300) * interval '1 s' END,
       ended, o,
       CASE WHEN o = 'ANSWERED' THEN ended + (5 + {H.format(seed=6)} %% 60) * interval '1 s' END,
       CASE WHEN o = 'ANSWERED' THEN 'confirmed' END
  FROM (SELECT i, op, 1 + (op - 1) %% %(campaigns)s AS c, o,
               -- evenly over the working hours (12 a day) of the days, to the microsecond
               %(first)s::timestamptz + floor(w / 43200) * interval '1 day' + (w - floor(w / 43200) * 43200) * interval '1 s'
                 AS ended
          FROM (SELECT i, 1 + {H.format(seed=1)} %% %(operators)s AS op, {OUTCOME_SQL} AS o,
                       (i - 1)::float8 / %(attempts)s * %(days)s * 43200 AS w
                  FROM (SELECT i, {H.format(seed=2)} %% 100 AS h FROM generate_series(%(lo)s::bigint, %(hi)s) AS i) s) t) u
"""


def load(settings, db, args, first: datetime) -> None:
    """Campaigns, selections, operators, leads, the attempts and their rollup, the operators' status history."""
    print(f"generating {args.attempts:,} attempts …", file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    db.execute_sql("TRUNCATE attempt, operator_status_log, operator_campaign, lead, selection, operator, campaign"
                   " RESTART IDENTITY CASCADE")  # the rollup empties with the attempts (its truncate trigger)
    for c in range(1, args.campaigns + 1):
        cid = models.Campaign.insert(name=f"Кампания {c}").execute()
        for k in range(2):
            models.Selection.insert(campaign=cid, name=f"Отбор {c}.{k + 1}", position=k, rule={"all": []}).execute()
    for k in range(1, args.operators + 1):
        oid = models.Operator.insert(name=f"Оператор {k:03d}", login=f"rep{k}", sip_password="secret-123").execute()
        models.OperatorCampaign.insert(operator=oid, campaign=1 + (oid - 1) % args.campaigns).execute()
    db.execute_sql(f"""INSERT INTO lead (campaign_id, external_id, phone)
                       SELECT c, i::text, '+7901' || lpad((c * {LEADS_PER_CAMPAIGN} + i)::text, 7, '0')
                         FROM generate_series(1, %s) c, generate_series(1, {LEADS_PER_CAMPAIGN}) i""",
                   (args.campaigns,))
    # signed in 09:00–21:00 Moscow every day (the operator-hours of the KPI tiles and the operator slice)
    db.execute_sql("DELETE FROM operator_status_log")
    db.execute_sql("""INSERT INTO operator_status_log (operator_id, status, at)
                      SELECT o.id, s.status, %s::timestamptz + d * interval '1 day' + s.off
                        FROM operator o, generate_series(0, %s) d,
                             (VALUES ('ready', interval '0 h'), ('offline', interval '12 h')) s (status, off)""",
                   (first, args.days))
    # the bulk load as a restore does it: the superuser's connection with triggers and foreign-key checks off
    conn = pg.superuser_conn(settings, settings.db_name)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("SET session_replication_role = replica")
            for lo in range(1, args.attempts + 1, CHUNK):
                hi = min(args.attempts, lo + CHUNK - 1)
                cur.execute(ATTEMPTS_SQL, {"first": first, "attempts": args.attempts, "days": args.days,
                                           "operators": args.operators, "campaigns": args.campaigns, "lo": lo, "hi": hi})
                print(f"  {hi:,} attempts, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
            cur.execute("SET session_replication_role = DEFAULT")
            cur.execute("SELECT report_rollup_rebuild()")
            print(f"  rollup: {cur.fetchone()[0]:,} rows, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
            cur.execute("VACUUM ANALYZE attempt")
            cur.execute("VACUUM ANALYZE report_rollup")
            cur.execute("ANALYZE")
    finally:
        conn.close()


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def freshness(db, today: reports.Filter) -> float:
    """Seconds from the commit of an attempt's end to today's KPI tiles counting it (worst of five)."""
    lead_id, campaign_id = db.execute_sql("SELECT id, campaign_id FROM lead ORDER BY id LIMIT 1").fetchone()
    worst = 0.0
    for _ in range(5):
        before = reports.report(SYSTEM, today, parts=("kpis",))["kpis"]["attempts"]
        (aid,) = db.execute_sql("INSERT INTO attempt (lead_id, campaign_id, operator_id, phone) VALUES (%s, %s, 1,"
                                " '+79010000001') RETURNING id", (lead_id, campaign_id)).fetchone()
        db.execute_sql("UPDATE attempt SET answered_at = now() - interval '30 s', bridged_at = now() - interval '29 s',"
                       " ended_at = now(), outcome = 'ANSWERED' WHERE id = %s", (aid,))
        t = time.perf_counter()
        while reports.report(SYSTEM, today, parts=("kpis",))["kpis"]["attempts"] <= before:
            if time.perf_counter() - t > 60:
                raise RuntimeError("an ended attempt did not show in the report within 60 s")
            time.sleep(0.01)
        worst = max(worst, time.perf_counter() - t)
    return worst


def xlsx_child(rows: int, first: str, last: str) -> None:
    """Runs in its own process: the XLSX export of `rows` calls, as /reports/export streams it; prints its figures."""
    settings = settings_mod.load()
    db = dbm.connect(settings)
    flt = reports.Filter(date.fromisoformat(first), date.fromisoformat(last), ZONE)
    written = [0]

    def counted(it):
        for r in it:
            written[0] += 1
            yield r

    def sections():
        cols = reports_export.TABLES["calls"][2]
        return [("", cols, counted(reports_export.call_row(r, "ru") for r in report_calls.stream(flt, "-ended", rows)))]

    t = time.perf_counter()
    size = 0
    with db.connection_context():
        preface = reports_export.describe(flt, "ru")
        for chunk in reports_export.export("xlsx", sections, "ru", ",", preface, None):
            size += len(chunk)
    print(json.dumps({"rows": written[0], "s": round(time.perf_counter() - t, 1), "bytes": size,
                      "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--attempts", type=int, default=10_000_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--operators", type=int, default=100)
    ap.add_argument("--campaigns", type=int, default=20)
    ap.add_argument("--runs", type=int, default=20, help="timed runs of each measure (the first two are warm-up)")
    ap.add_argument("--xlsx-rows", type=int, default=1_000_000)
    ap.add_argument("--reuse", action="store_true", help="keep the generated attempts of the previous run")
    ap.add_argument("--xlsx-child", nargs=3, metavar=("ROWS", "FROM", "TO"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.xlsx_child:
        xlsx_child(int(args.xlsx_child[0]), *args.xlsx_child[1:])
        return {}

    settings = settings_mod.load()
    pg.start_until_exit(settings)
    migrate.migrate(settings)
    db = dbm.connect(settings)
    z = reports.ZoneInfo(ZONE)
    today = datetime.now(z).date()
    first_day = today - timedelta(days=args.days)
    first = datetime(first_day.year, first_day.month, first_day.day, 9, tzinfo=z)  # 09:00 Moscow
    t0 = time.perf_counter()
    with db.connection_context():
        shape = [args.attempts, args.operators, args.campaigns, first_day.isoformat()]
        stored = db.execute_sql("SELECT obj_description('report_rollup'::regclass, 'pg_class')").fetchone()[0]
        if args.reuse and stored == json.dumps(shape):
            # only the run's own attempts (the freshness probes) go; their rollup rows follow by the trigger
            db.execute_sql("DELETE FROM attempt WHERE id > %s", (args.attempts,))
            reused = True
        else:
            load(settings, db, args, first)
            db.execute_sql(f"COMMENT ON TABLE report_rollup IS '{json.dumps(shape)}'")  # what --reuse checks
            reused = False
        (total,) = db.execute_sql("SELECT count(*) FROM attempt").fetchone()
        (rollup_rows,) = db.execute_sql("SELECT count(*) FROM report_rollup").fetchone()
    load_s = time.perf_counter() - t0

    month = reports.Filter(today - timedelta(days=30), today - timedelta(days=1), ZONE)
    start, end = month.bounds()
    measures = {
        "histogram": lambda: reports.report(SYSTEM, month, parts=("by_day",)),
        "kpi": lambda: reports.report(SYSTEM, month, parts=("kpis",)),
        "operators": lambda: reports.report(SYSTEM, month, parts=("operators",)),
        "report": lambda: reports.report(SYSTEM, month),
        "scan": lambda: db.execute_sql("SELECT outcome, count(*) FROM attempt WHERE ended_at >= %s AND ended_at < %s"
                                       " GROUP BY outcome", (start, end)).fetchall(),
    }
    times: dict[str, list[float]] = {k: [] for k in measures}
    with db.connection_context():
        (in_month,) = db.execute_sql("SELECT count(*) FROM attempt WHERE ended_at >= %s AND ended_at < %s",
                                     (start, end)).fetchone()
        for run in range(args.runs):
            for k, fn in measures.items():
                ms = timed(fn)
                if run >= WARMUP:
                    times[k].append(ms)
        check = reports.report(SYSTEM, month, parts=("kpis",))["kpis"]["attempts"]
        assert check == in_month, (check, in_month)  # the rollup's month holds every attempt of the raw month
        fresh = freshness(db, reports.Filter(today, today, ZONE))
    p95 = {k: pct(v, 95, 1) for k, v in times.items()}

    xlsx_rows = min(args.xlsx_rows, total)
    t = time.perf_counter()
    child = subprocess.run([sys.executable, "-m", "bench.reports", "--xlsx-child", str(xlsx_rows),
                            first_day.isoformat(), today.isoformat()], capture_output=True, text=True, check=True)
    xlsx = json.loads(child.stdout.strip().splitlines()[-1])
    result = {
        "histogram_ms_p95": p95["histogram"], "kpi_ms_p95": p95["kpi"], "operators_ms_p95": p95["operators"],
        "report_ms_p95": p95["report"], "scan_ms_p95": p95["scan"],
        "worst_vs_scan_ratio": round(max(p95["histogram"], p95["kpi"], p95["operators"]) / p95["scan"], 3),
        "histogram_ms_p50": pct(times["histogram"], 50, 1), "kpi_ms_p50": pct(times["kpi"], 50, 1),
        "operators_ms_p50": pct(times["operators"], 50, 1), "scan_ms_p50": pct(times["scan"], 50, 1),
        "freshness_s": round(fresh, 3),
        "xlsx_rows": xlsx["rows"], "xlsx_s": xlsx["s"], "xlsx_mb": round(xlsx["bytes"] / 2**20, 1),
        "xlsx_rss_mb": xlsx["rss_mb"], "xlsx_wall_s": round(time.perf_counter() - t, 1),
        "attempts": total, "month_attempts": in_month, "rollup_rows": rollup_rows, "days": args.days,
        "operators": args.operators, "campaigns": args.campaigns, "runs": args.runs - WARMUP, "reused": reused,
        "load_s": round(load_s, 1), "machine": f"{platform.machine()}, {os.cpu_count()} cores, shared",
        "python": platform.python_version(),
    }
    print(json.dumps(result, ensure_ascii=False))
    return result


if __name__ == "__main__":
    main()
