"""One claim taken apart: the operator's selections and the claim statement, each as one round trip, on a
warm connection, back to back and after idle pauses.

    python -m bench.claim_parts [--count 500]

Runs on the leads `python -m bench.claim` loaded (loads a small set when there are none), for one operator
in two campaigns' pools, with the claim queues filled. Each claim is the engine's own `store.claim` inside a
transaction that is rolled back, so every repetition finds the same lead and does the same work; the two
statements are timed as the client sees them. With `bench.roundtrip` this says how much of a claim is the
work on the server and how much the machine's waking up between claims.
Last line: one JSON object (milliseconds).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import time

from . import claim as bench  # isolates this process as the claim benchmark does; its loader

from ari_app import store  # noqa: E402
from dialer import db as dbm, migrate, models, pg, prepared, settings as settings_mod  # noqa: E402
from rules import claim as claim_mod, queue  # noqa: E402

from .stats import pct  # noqa: E402

PAUSES_MS = (0, 20)


class _Parts:
    """The last claim's two round trips, in ms (one claimer: no thread has its own)."""
    selections_ms = 0.0
    statement_ms = 0.0


def timed_parts():
    """Wrap the claim's two round trips so each is timed (the engine's code is run unchanged)."""
    parts = _Parts()
    selections, execute = claim_mod.selections, prepared.execute

    def timed_selections(*args):
        t0 = time.perf_counter()
        try:
            return selections(*args)
        finally:
            parts.selections_ms += (time.perf_counter() - t0) * 1000

    def timed_execute(db, sql, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return execute(db, sql, *args, **kwargs)
        finally:
            if "INSERT INTO attempt " in sql:
                parts.statement_ms += (time.perf_counter() - t0) * 1000

    claim_mod.selections, prepared.execute = timed_selections, timed_execute
    return parts


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=500, help="claims per pause")
    args = ap.parse_args(argv)
    settings = settings_mod.load()
    pg.start_until_exit(settings)
    migrate.migrate(settings)
    db = dbm.connect(settings)
    parts = timed_parts()
    result: dict = {}
    with db.connection_context():
        if not models.Lead.select().exists():
            bench.load(db, 10_000)
        db.execute_sql("UPDATE attempt SET ended_at = now(), outcome = 'ERROR' WHERE ended_at IS NULL")
        db.execute_sql("UPDATE operator SET attempt_id = NULL")
        operator = (models.Operator.select(models.Operator.id).join(models.OperatorCampaign,
                                                                      on=models.OperatorCampaign.operator == models.Operator.id)
                    .order_by(models.Operator.id).first())
        operator_id = operator.id if operator else bench.make_operators(1)[0]
        queue.refill(db)
        for pause in PAUSES_MS:
            rows = []
            for i in range(args.count + 20):  # the first 20: this connection prepares and plans
                if pause:
                    time.sleep(pause / 1000)
                parts.selections_ms = parts.statement_ms = 0.0
                with db.atomic() as txn:
                    t0 = time.perf_counter()
                    got = store.claim(db, operator_id, "pbx", "parts", time.time(), None)
                    total = (time.perf_counter() - t0) * 1000
                    txn.rollback()
                if got is None:
                    raise SystemExit("no lead to claim: run `python -m bench.claim` first")
                if i >= 20:
                    rows.append((total, parts.selections_ms, parts.statement_ms))
            for name, k in (("claim", 0), ("selections", 1), ("statement", 2)):
                values = [r[k] for r in rows]
                result[f"after_{pause}ms_{name}_p50"] = pct(values, 50)
                result[f"after_{pause}ms_{name}_p99"] = pct(values, 99)
    result["machine"] = f"{platform.machine()}, {os.cpu_count()} cores"
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
