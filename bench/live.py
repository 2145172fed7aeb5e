"""`python -m bench.live`: how fast a state change reaches the page (SPEC L1).

Starts PostgreSQL and `dialer run --only web` in the bench state directory, connects 99 server-sent
event clients (aiohttp, each a signed-in session) plus one headless Chromium page (Debian's chromium,
playwright) on the home page, then changes an operator's status N times. For each change: the time
from the committing UPDATE (its trigger NOTIFYs) until the browser's DOM shows the new status
(a MutationObserver stamps it), and whether every other client got the event. The last line is JSON.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import time

from dialer.dev.testing import BENCHMARK, isolate

isolate(os.environ.get("DIALER_BENCH_STATE_DIR", "/var/lib/dialer-bench"), BENCHMARK)

from dialer import db as dbm, migrate, pg, settings as settings_mod  # noqa: E402
from dialer.settings import REPO_ROOT  # noqa: E402

PASSWORD = "bench-password-1"
STATUSES = ("ready", "paused", "lunch", "ready", "paused")
LABELS = {"ready": "Готов", "paused": "Пауза", "lunch": "Обед"}


def _prepare(settings, clients: int) -> tuple[int, list[str]]:
    from dialer.services import operators, users

    db = dbm.connect(settings)
    with db.connection_context():
        db.execute_sql("TRUNCATE live_event, web_session, user_permission, user_role, role_permission, role,"
                       " app_user, engine_command, attempt_event, attempt, operator_campaign, operator CASCADE")
        users.seed_roles()
        admin_role = next(r["id"] for r in users.list_roles() if r["code"] == "admin")
        users.create_user("bench@example.org", "Bench", PASSWORD, [admin_role])
        op = operators.create_operator("Оператор Bench", "bench1", "bench-secret-1", [])
        tokens = [users.sign_in("bench@example.org", PASSWORD)["token"] for _ in range(clients)]
    db.close_all()
    return op["id"], tokens


def _wait_port(host, port, proc, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("the web process exited")
        try:
            socket.create_connection((host, port), 0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the web process did not start")


async def _sse_client(session, url: str, token: str, received: dict, ready: asyncio.Event, opened: list):
    async with session.get(url + "/events", headers={"Cookie": f"dialer_session={token}"}) as resp:
        assert resp.status == 200, resp.status
        opened.append(1)
        if len(opened) == received["expected_clients"]:
            ready.set()
        async for line in resp.content:
            if line.startswith(b"id: "):
                received.setdefault(int(line[4:]), 0)
                received[int(line[4:])] += 1


async def run(changes: int, clients: int) -> dict:
    import aiohttp
    import psycopg2
    from playwright.async_api import async_playwright

    settings = settings_mod.load()
    pg_was_running = pg.is_running(settings)
    pg.start(settings)
    migrate.migrate(settings)
    operator_id, tokens = _prepare(settings, clients)
    url = f"http://{settings.web_host}:{settings.web_port}"
    log = open(settings.state_dir / "bench-live-web.log", "w")
    web = subprocess.Popen([sys.executable, "-m", "dialer.cli", "run", "--only", "web"], cwd=REPO_ROOT,
                           stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True)
    conn = psycopg2.connect(**settings.dsn)
    conn.autocommit = True
    try:
        _wait_port(settings.web_host, settings.web_port, web)
        received: dict = {"expected_clients": clients - 1}
        ready = asyncio.Event()
        opened: list = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as http, \
                async_playwright() as p:
            tasks = [asyncio.create_task(_sse_client(http, url, t, received, ready, opened)) for t in tokens[1:]]
            await asyncio.wait_for(ready.wait(), 60)
            browser = await p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                              args=["--headless", "--no-sandbox", "--disable-gpu"])
            ctx = await browser.new_context(base_url=url)
            await ctx.add_cookies([{"name": "dialer_session", "value": tokens[0], "url": url}])
            page = await ctx.new_page()
            await page.goto("/")
            await page.wait_for_function("document.getElementById('live-status').dataset.state === 'open'")
            selector = f"[data-testid=operator-status-{operator_id}]"
            latencies = []
            cur = conn.cursor()
            for i in range(changes):
                status = STATUSES[i % len(STATUSES)]
                await page.evaluate("""([sel, want]) => { const el = document.querySelector(sel);
                    window.__seen = new Promise(res => { const obs = new MutationObserver(() => {
                      if (el.textContent === want) { obs.disconnect(); res(Date.now()); } });
                      obs.observe(el, {childList: true, characterData: true, subtree: true}); }); }""",
                                    [selector, LABELS[status]])
                t0 = time.time() * 1000
                cur.execute("UPDATE operator SET status = %s, status_since = now() WHERE id = %s",
                            (status, operator_id))
                seen = await page.evaluate("window.__seen")
                latencies.append(seen - t0)
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)  # the SSE clients read their last event
            cur.execute("SELECT id FROM live_event ORDER BY id")
            ids = [r[0] for r in cur.fetchall()]
            delivered = sum(1 for i in ids if received.get(i) == clients - 1)
            await browser.close()
            for t in tasks:
                t.cancel()
    finally:
        conn.close()
        web.terminate()
        web.wait(15)
        if not pg_was_running:
            pg.stop(settings)
    latencies.sort()
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    return {"changes": changes, "clients": clients, "browser_clients": 1, "sse_clients": clients - 1,
            "events_delivered_to_all_sse_clients": delivered, "events": len(ids),
            "notify_to_dom_ms_p50": round(q[49], 1), "notify_to_dom_ms_p95": round(q[94], 1),
            "notify_to_dom_ms_max": round(latencies[-1], 1),
            "machine": f"{platform.machine()}, {os.cpu_count()} cores"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--changes", type=int, default=100)
    ap.add_argument("--clients", type=int, default=100, help="connected live clients, the browser included")
    args = ap.parse_args()
    result = asyncio.run(run(args.changes, args.clients))
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
