"""Faults injected into a live call centre, measured: what is lost, stuck or doubled, and how soon dialling
resumes. The same faults and invariants as the chaos test tier (bench.chaos_faults, tests/chaos).

    python -m bench.chaos [--faults db_restart,ari_drop,asterisk_restart,engine_kill_in_wrap_up]

10 auto-answering operators on 2–3 s calls (busy, rejected, unanswered mixed in), 1 s wrap-up limit with
auto-ready (6 s for the engine kill, so operators are in wrap-up when it dies). Per fault, one JSON line:
recovered_s (fault end → next client originate; after an Asterisk restart this includes the phones
registering again and the operators pressing Ready), attempts_lost, wrapups_lost (not written, not the
submitted result, or not in the CRM outbox), leads_stuck, double_dials, operators_stuck. Last line: the
summary (faults, the counts summed, db_restart_recovered_s; goal: counts 0, db_restart_recovered_s ≤ 5).
"""
from __future__ import annotations

import argparse
import json
import os
import traceback

from dialer.dev.testing import BENCHMARK, isolate, start_telephony

isolate(os.environ.get("DIALER_BENCH_STATE_DIR", "/var/lib/dialer-bench"), BENCHMARK)

from dialer import settings as settings_mod  # noqa: E402
from dialer.dev import instances  # noqa: E402
from dialer.dev.testing import hang_up_everything  # noqa: E402

from . import chaos_faults as chaos  # noqa: E402
from .progressive import machine  # noqa: E402

# CASCADE empties what hangs off them too (CRM connections and outbox, claim queues, selections)
TABLES = "attempt_event, engine_command, attempt, operator_campaign, lead, operator, campaign"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--faults", default=",".join(chaos.FAULTS), help="comma-separated, of: " + ", ".join(chaos.FAULTS))
    args = ap.parse_args()
    names = [n for n in args.faults.split(",") if n]
    unknown = set(names) - set(chaos.FAULTS)
    if unknown:
        ap.error(f"unknown faults: {', '.join(sorted(unknown))}")
    settings = settings_mod.load()
    db = start_telephony(settings)
    reports = []
    try:
        for name in names:
            hang_up_everything(settings)
            chaos.forget_connections(db)  # the previous fault may have restarted PostgreSQL
            db.execute_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
            log_path = settings.state_dir / f"chaos-{name}.log"
            log_path.unlink(missing_ok=True)  # this run's engine only
            try:
                report = chaos.run_fault(name, settings, db, log_path)
            except Exception as e:  # a fault the call centre did not get through: say so, go on with the next
                traceback.print_exc()
                print(json.dumps({"fault": name, "error": str(e), "engine_log": str(log_path)}, ensure_ascii=False),
                      flush=True)
                continue
            reports.append(report)
            print(json.dumps({**report, "engine_log": str(log_path), "machine": machine()}, ensure_ascii=False),
                  flush=True)
    finally:
        hang_up_everything(settings)
        for name in ("sim", "pbx"):
            instances.stop(settings, name)
    failed = len(names) - len(reports)
    print(json.dumps({**chaos.summary(reports), **({"faults_not_run_to_the_end": failed} if failed else {})}))


if __name__ == "__main__":
    main()
