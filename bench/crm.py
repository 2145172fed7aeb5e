"""CRM sync figures: import speed and memory for 100,000 orders from the fake LeadVertex (in its own
process, over HTTP), wrap-up → CRM "OK" latency, and an outage scenario's lost/duplicated results.

    python -m bench.crm [--orders 100000] [--writebacks 200]

Last line: one JSON object.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import threading
import time
import urllib.request
from collections import Counter
from datetime import timedelta

from dialer.dev.testing import BENCHMARK, isolate

isolate(os.environ.get("DIALER_BENCH_STATE_DIR", "/var/lib/dialer-bench"), BENCHMARK)

import aiohttp  # noqa: E402
import psutil  # noqa: E402

from dialer import db as dbm, migrate, pg, settings as settings_mod  # noqa: E402
from dialer.crm import connections, outbox, store, sync  # noqa: E402
from dialer.crm.adapter import CrmStatus  # noqa: E402
from dialer.crm.adapters import Adapters  # noqa: E402
from dialer.crm.leadvertex import LeadVertex  # noqa: E402
from dialer.db import run  # noqa: E402
from rules.window import ANY_HOUR  # a benchmark runs at any hour of the day

SHOP = "shop-a"
ACTIONS = {"1": "call", "2": "postpone", "3": "final", "4": "final", "5": "hold", "9": "final"}


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * p / 100))], 1) if ordered else 0.0


def serve_fake(port: int, orders: int) -> None:
    from aiohttp import web

    from dialer.dev.fake_leadvertex import FakeCrm, fill
    fake = FakeCrm()
    fill(fake.shops[SHOP], orders, "1")
    web.run_app(fake.app(), host="127.0.0.1", port=port, access_log=None, print=None, handle_signals=True)


def control(port: int, path: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                                 headers={"Content-Type": "application/json"})
    return json.loads(urllib.request.urlopen(req, timeout=30).read())


class PeakRss:
    def __init__(self):
        self.proc, self.peak, self.stop = psutil.Process(), 0, threading.Event()

    def __enter__(self):
        def sample():
            while not self.stop.is_set():
                self.peak = max(self.peak, self.proc.memory_info().rss)
                time.sleep(0.02)
        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def make_connection(db, port: int, name: str, results=True) -> dict:
    from dialer.dev.fake_leadvertex import sample_shops
    from dialer.services import campaigns
    campaign = campaigns.create_campaign(name, calling_window=ANY_HOUR, max_attempts=100, retry_delay_s=0)["id"]
    shop = sample_shops()[SHOP]
    conn = connections.create_connection(db, {"kind": "leadvertex", "campaign_id": campaign, "name": name,
                                              "base_url": f"http://127.0.0.1:{port}/{SHOP}/api/admin",
                                              "token": shop.token})
    store.save_statuses(db, conn["id"], [CrmStatus(k, v["name"], v["group"]) for k, v in shop.statuses.items()])
    connections.set_status_map(db, conn["id"], [{"status_id": s, "action": a} for s, a in ACTIONS.items()])
    if results:
        connections.set_result_map(db, conn["id"], [
            {"result_code": "callback", "status_id": "1", "comment_template": "{result}: {comment}"},
            {"result_code": "accepted", "status_id": "3", "comment_template": "{result}: {comment}"}])
    return store.connection(db, conn["id"])


def wrap_up_one(db, conn_id: int, campaign_id: int, result: str, at) -> tuple[int, str] | None:
    """The engine's path from the claim to the saved wrap-up (its own store function, so the trigger fires)."""
    from ari_app import events as ev
    from ari_app import store as engine_store
    from dialer.services import operators
    op = db.execute_sql("SELECT operator_id FROM operator_campaign WHERE campaign_id = %s", (campaign_id,)).fetchone()
    op_id = op[0] if op else operators.create_operator("Bench CRM", f"crmb{campaign_id}", "bench-secret-123",
                                                       [campaign_id])["id"]
    with db.atomic():
        row = db.execute_sql(
            "SELECT id, phone, external_id FROM lead WHERE crm_connection_id = %s AND state IN ('new', 'callable')"
            " AND next_call_at <= %s ORDER BY next_call_at, id LIMIT 1 FOR UPDATE SKIP LOCKED", (conn_id, at)).fetchone()
        if row is None:
            return None
        attempt = db.execute_sql(
            "INSERT INTO attempt (lead_id, campaign_id, operator_id, phone, reserved_at, answered_at, ended_at, outcome)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, 'ANSWERED') RETURNING id",
            (row[0], campaign_id, op_id, row[1], at, at, at)).fetchone()[0]
        db.execute_sql("UPDATE lead SET state = 'in_progress', attempts = attempts + 1 WHERE id = %s", (row[0],))
        db.execute_sql("UPDATE operator SET attempt_id = %s WHERE id = %s", (attempt, op_id))
    engine_store.finish_wrap_up(db, op_id, ev.FinishWrapUp(attempt, result, "bench", 1 if result == "callback"
                                                           else None, at.timestamp()))
    return attempt, row[2]


async def measure_import(db, conn: dict, adapters) -> dict:
    with PeakRss() as rss:
        started = time.perf_counter()
        result = await sync.pull(db, conn["id"], adapters(conn))
        elapsed = time.perf_counter() - started
    assert result["error"] is None, result["error"]
    return {"import_orders": result["imported"], "import_s": round(elapsed, 1),
            "import_orders_per_s": round(result["imported"] / elapsed), "import_peak_rss_mb": round(rss.peak / 2**20, 1)}


async def measure_writeback(db, conn: dict, settings, count: int) -> dict:
    """Wrap-ups one after another while the outbox job runs as in `dialer run` (poll + NOTIFY wake-up);
    latency from the wrap-up's commit to the CRM's OK."""
    confirmed: dict[str, float] = {}

    class Timed(LeadVertex):
        async def push(self, push):
            await super().push(push)
            confirmed[push.idempotency_key] = time.perf_counter()

    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    from dialer.crm.jobs import register
    adapters = Adapters(lambda c: Timed(c["base_url"], c["token"], c["key_field"]))
    scheduler = AsyncIOScheduler(timezone="UTC")
    register(scheduler, settings, db, adapters)  # the jobs exactly as `dialer run` has them
    for job_id in ("crm-pull", "crm-alerts"):
        scheduler.remove_job(job_id)
    scheduler.start()
    wrapped: dict[int, float] = {}
    for _ in range(count):
        done = await run(db, wrap_up_one, db, conn["id"], conn["campaign_id"], "callback", sync.utcnow())
        wrapped[done[0]] = time.perf_counter()
        await asyncio.sleep(0.05)
    keys = dict(await run(db, lambda: db.execute_sql(
        "SELECT attempt_id, idempotency_key FROM crm_outbox WHERE attempt_id = ANY(%s)", (list(wrapped),)).fetchall()))
    deadline = time.monotonic() + 60
    while len([k for k in keys.values() if k in confirmed]) < len(keys) and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    scheduler.shutdown(wait=False)
    await adapters.close()
    latencies = [(confirmed[keys[a]] - t) * 1000 for a, t in wrapped.items() if keys[a] in confirmed]
    return {"writeback_count": len(latencies), "writeback_ms_p50": pct(latencies, 50),
            "writeback_ms_p95": pct(latencies, 95), "writeback_poll_s": settings.crm_outbox_poll_s}


async def measure_outage(db, port: int, conn: dict) -> dict:
    """A 10-minute outage in simulated time (every fault in turn, answers lost after writes) during calls."""
    timeout = aiohttp.ClientTimeout(total=0.5)
    adapters = Adapters(lambda c: LeadVertex(c["base_url"], c["token"], c["key_field"], timeout=timeout))
    await sync.pull(db, conn["id"], adapters(conn))
    faults = ["5xx", "reset", "non_json", "timeout", "error"]
    t0 = sync.utcnow()
    now, n, wrapped = t0, 0, {}
    while now < t0 + timedelta(minutes=20):
        minute = int((now - t0).total_seconds() // 60)
        down = 2 <= minute < 12
        control(port, "/_control/faults", {"down": faults[minute % len(faults)] if down else "", "timeout_s": 1.0,
                                           **({"lose_answers": 3} if (now - t0).total_seconds() in (60, 720) else {})})
        if minute < 16:
            for _ in range(2):
                done = await run(db, wrap_up_one, db, conn["id"], conn["campaign_id"],
                                 "callback" if n % 3 else "accepted", now)
                n += 1
                if done:
                    wrapped[done[0]] = done[1]
        await outbox.deliver_due(db, adapters, now)
        now += timedelta(seconds=10)
    control(port, "/_control/faults", {"down": ""})
    for _ in range(100):
        pending = await run(db, lambda: db.execute_sql("SELECT count(*) FROM crm_outbox WHERE connection_id = %s"
                                                       " AND state = 'pending'", (conn["id"],)).fetchone()[0])
        if not pending:
            break
        now += timedelta(minutes=1)
        await outbox.deliver_due(db, adapters, now)
    await adapters.close()
    keys = dict(await run(db, lambda: db.execute_sql(
        "SELECT attempt_id, idempotency_key FROM crm_outbox WHERE connection_id = %s", (conn["id"],)).fetchall()))
    written = Counter(w.get("additional25") for w in control(port, f"/_control/shops/{SHOP}/writes"))
    ours = {keys[a] for a in wrapped}
    return {"outage_results": len(wrapped),
            "results_lost": len([k for k in ours if written[k] == 0]) + len(set(wrapped) - set(keys)),
            "results_duplicated": sum(written[k] - 1 for k in ours if written[k] > 1)}


async def measure(settings, db, port: int, orders: int, writebacks: int) -> dict:
    stamp = time.strftime("%Y%m%d-%H%M%S")
    conn = await run(db, make_connection, db, port, f"bench-crm-import-{stamp}")
    adapters = Adapters()
    result = await measure_import(db, conn, adapters)
    await adapters.close()
    result.update(await measure_writeback(db, conn, settings, writebacks))
    # a small shop of its own for the outage, so 100,000 orders do not slow the simulated minutes
    outage_conn = await run(db, make_connection, db, port, f"bench-crm-outage-{stamp}")
    db.execute_sql("UPDATE crm_status_map SET action = 'hold' WHERE connection_id = %s", (outage_conn["id"],))
    db.execute_sql("UPDATE crm_status_map SET action = 'call' WHERE connection_id = %s AND status_id = '5'",
                   (outage_conn["id"],))
    for oid in range(1, 41):  # 40 orders moved to a status only the outage connection calls
        control(port, f"/_control/shops/{SHOP}/orders/{oid}", {"status": "5"})
    result.update(await measure_outage(db, port, outage_conn))
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=100_000)
    ap.add_argument("--writebacks", type=int, default=200)
    args = ap.parse_args()
    settings = settings_mod.load()
    pg.start_until_exit(settings)
    migrate.migrate(settings)
    port = settings.fake_crm_port
    fake = multiprocessing.get_context("spawn").Process(target=serve_fake, args=(port, args.orders), daemon=True)
    fake.start()
    deadline = time.monotonic() + 120
    while True:
        try:
            control(port, "/_control")
            break
        except OSError:
            if time.monotonic() > deadline or not fake.is_alive():
                raise SystemExit("the fake CRM did not start")
            time.sleep(0.2)
    db = dbm.connect(settings)
    try:
        with db.connection_context():
            result = asyncio.new_event_loop().run_until_complete(measure(settings, db, port, args.orders,
                                                                         args.writebacks))
    finally:
        fake.terminate()
        fake.join(10)
    result["machine"] = (f"{platform.machine()} {os.cpu_count()} cores, "
                         f"{round(psutil.virtual_memory().total / 2**30)} GB")
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
