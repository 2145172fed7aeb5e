"""The supervisor page alone, fed the engine's writes at a set rate, without the telephony (development aid for
bench.supervisor: the same observers and figures, minus pbx, sim and the engine, so a change to the page can be
compared run against run on a shared machine in a minute).

    python -m bench.supervisor_page [--operators 100] [--campaigns 20] [--seconds 30] [--cycle 7] [--js FILE]
        [--css FILE] [--browser-nice -10]

Each operator goes round reserve → in call (answered) → ended ANSWERED + wrap-up → ready every `--cycle` seconds,
written with ari_app/store.py as the engine writes them (six live events a round: 100 operators every 7 s ≈ 86
events/s, the rate bench.supervisor sees). `--js FILE` serves FILE as /static/js/supervisor.js, `--css FILE` as
/static/css/supervisor.css (A/B of a change); `--browser-nice` as bench.supervisor's. DIALER_BENCH_TRACE=FILE traces
5 s of the window (DIALER_BENCH_TRACE_CATEGORIES: comma-separated, default the main thread's; add `cc` for the
compositor and raster threads); DIALER_BENCH_SHOT=FILE.png saves the page as it is at the end of the run.
Last line: one JSON object (the figures of bench.supervisor that do not need calls).
"""
from __future__ import annotations

import heapq
import os
import signal
import threading
import time

from dialer.dev.testing import BENCHMARK, isolate

isolate(os.environ.get("DIALER_BENCH_STATE_DIR", "/var/lib/dialer-bench"), BENCHMARK)

from ari_app import events as ev  # noqa: E402
from ari_app import store  # noqa: E402
from ari_app.classifier import AttemptFacts  # noqa: E402
from dialer.models import Campaign  # noqa: E402

from . import supervisor as sb  # noqa: E402
from .operator import CHROMIUM  # noqa: E402
from .supervisor import start_web  # noqa: E402
from .progressive import machine, pct  # noqa: E402
from rules.window import ANY_HOUR  # a benchmark runs at any hour of the day


def prepare(db, operators: int, campaigns: int) -> list[int]:
    from dialer.services import campaigns as cs
    from dialer.services import leads
    from dialer.services import operators as ops
    from dialer.services import users

    with db.connection_context():
        db.execute_sql(f"TRUNCATE {sb.TABLES} RESTART IDENTITY CASCADE")
        users.seed_roles()
        role = {r["code"]: r["id"] for r in users.list_roles()}
        cids = [cs.create_campaign(f"Кампания {c + 1:02d}", calling_window=ANY_HOUR, max_attempts=100)["id"] for c in range(campaigns)]
        if hasattr(Campaign, "calling_window"):
            Campaign.update(calling_window={"any_hour": True}).where(Campaign.id.in_(cids)).execute()
        for i, cid in enumerate(cids):
            report = leads.import_csv(cid, sb.leads_csv(i, 3))
            assert not report.errors, report.errors
        made = [ops.create_operator(f"Оператор {i + 1:03d}", f"sv{i + 1:03d}", f"Bench-pass-{i + 1:03d}",
                                    [cids[i % campaigns]]) for i in range(operators)]
        db.execute_sql("UPDATE operator SET status = 'ready', status_since = now()")
        users.create_user("supervisor@example.org", "Супервайзер", sb.PASSWORD, [role["supervisor"]])
        users.create_user("op1@example.org", made[0]["name"], sb.PASSWORD, [role["operator"]], operator_id=made[0]["id"])
    return [m["id"] for m in made]


def status(db, oid: int, value: str) -> None:
    db.execute_sql("UPDATE operator SET status = %s, status_since = clock_timestamp() WHERE id = %s", (value, oid))


def drive(db, ids: list[int], cycle: float, stop: threading.Event, errors: list) -> None:
    """Every operator's round, spread evenly over the cycle, as timed steps on one heap."""
    start = time.time() + 0.5
    steps = [(start + cycle * i / len(ids), oid, 0, None) for i, oid in enumerate(ids)]
    heapq.heapify(steps)
    with db.connection_context():
        while not stop.is_set() and steps:
            at, oid, step, attempt = heapq.heappop(steps)
            wait = at - time.time()
            if wait > 0:
                stop.wait(wait)
            try:
                t = time.time()
                if step == 0:
                    claimed = store.claim(db, oid, "pbx", f"n{oid}-{t}", t, None)
                    if claimed is None:
                        errors.append(f"operator {oid}: nothing to claim")
                        continue
                    heapq.heappush(steps, (at + 0.4 * cycle * 0.2, oid, 1, claimed.attempt_id))
                elif step == 1:
                    store.record(db, attempt, "answered_at", t)
                    store.record(db, attempt, "bridged_at", t)
                    status(db, oid, "in_call")
                    heapq.heappush(steps, (at + 0.5 * cycle, oid, 2, attempt))
                elif step == 2:
                    store.end_attempt(db, ev.EndAttempt(attempt, "ANSWERED", AttemptFacts(answered=True, bridged=True,
                                                                                         cause=16), t))
                    status(db, oid, "wrap_up")
                    heapq.heappush(steps, (at + 0.2 * cycle, oid, 3, attempt))
                else:
                    store.finish_wrap_up(db, oid, ev.FinishWrapUp(attempt, "confirmed", "", None, t))
                    status(db, oid, "ready")
                    heapq.heappush(steps, (at + 0.22 * cycle, oid, 0, None))
            except Exception as e:  # noqa: BLE001  (the figures say how many; the first is shown)
                errors.append(f"operator {oid} step {step}: {e!r}")


def measure(settings, db, operators: int, campaigns: int, seconds: float, cycle: float, js: str | None,
            css: str | None = None, browser_nice: int | None = None) -> dict:
    from playwright.sync_api import sync_playwright

    ids = prepare(db, operators, campaigns)
    web = start_web(settings)
    base = f"http://{settings.web_host}:{settings.web_port}"
    stop, errors = threading.Event(), []
    fore = None
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            sv = browser.new_context(base_url=base, viewport={"width": 1366, "height": 768}).new_page()
            for path, kind in ((js, "js"), (css, "css")):  # a changed file served in place of the tree's
                if path:
                    sv.route(f"**/static/{kind}/supervisor.{kind}", sb.serve(path, kind))
            sv.goto("/login")
            sv.fill("input[name=email]", "supervisor@example.org")
            sv.fill("input[name=password]", sb.PASSWORD)
            sv.click("button[type=submit]")
            sv.wait_for_load_state()
            sv.goto("/supervisor")
            sv.wait_for_selector("#live-status[data-state=open]")
            sv.wait_for_function("window.Supervisor.state.loaded")
            panel = sb.sign_in(browser, base, "op1@example.org", "/panel", {"width": 1280, "height": 900})
            sv.evaluate(sb.SUPERVISOR_OBSERVER)
            panel.evaluate(sb.PANEL_OBSERVER)
            procs = sb.browser_pids(browser)
            fore = sb.BrowserNice([p for pids in procs.values() for p in pids], browser_nice) \
                if browser_nice is not None else None
            cdp, panel_cdp = sv.context.new_cdp_session(sv), panel.context.new_cdp_session(panel)
            cdp.send("Performance.enable")
            panel_cdp.send("Performance.enable")
            with db.connection_context():
                (opened,) = db.execute_sql("SELECT extract(epoch FROM clock_timestamp())").fetchone()
            driver = threading.Thread(target=drive, args=(db, ids, cycle, stop, errors), daemon=True)
            driver.start()
            time.sleep(cycle + 1)  # every operator in the round
            profile = os.environ.get("DIALER_BENCH_PROFILE")  # JS self time of the measured window
            if profile:
                cdp.send("Profiler.enable")
                cdp.send("Profiler.start")
            m0, s0, t0 = sb._task_s(cdp), sb._task_s(panel_cdp), time.time()
            trace = os.environ.get("DIALER_BENCH_TRACE")  # the renderer's main thread for 5 s
            if trace:
                categories = os.environ.get("DIALER_BENCH_TRACE_CATEGORIES", "devtools.timeline,blink").split(",")
                browser.start_tracing(page=sv, path=trace, categories=categories)
                time.sleep(5)
                browser.stop_tracing()
            time.sleep(seconds - (5 if trace else 0))
            m1, s1, t1 = sb._task_s(cdp), sb._task_s(panel_cdp), time.time()
            if profile:
                sb._top_functions(cdp.send("Profiler.stop")["profile"], profile)
            stop.set()
            driver.join(10)
            closed = sb.settle(db, sv, opened)
            page_data, panel_data = sv.evaluate("window.__b"), panel.evaluate("window.__b")
            flushes = sv.evaluate("window.Supervisor.state.flushes || null")
            shot = os.environ.get("DIALER_BENCH_SHOT")  # the page at the end of the run, 1366×768, for looking at
            if shot:
                sv.screenshot(path=shot)
            browser.close()
    finally:
        stop.set()
        if fore is not None:
            fore.stop()
        web.send_signal(signal.SIGTERM)
        web.wait(15)
    with db.connection_context():
        changes: dict[int, list] = {}
        for oid, st, at in db.execute_sql(
                "SELECT operator_id, status, extract(epoch FROM at) FROM operator_status_log"
                " WHERE at > to_timestamp(%s) ORDER BY operator_id, at, id", (opened,)).fetchall():
            changes.setdefault(oid, []).append((st, float(at)))
        (committed,) = db.execute_sql("SELECT count(*) FROM live_event WHERE kind = ANY(%s) AND at > to_timestamp(%s)"
                                      " AND at <= to_timestamp(%s)", (list(sb.KINDS), opened, closed)).fetchone()
    shown: dict[int, list] = {}
    for oid, st, t in page_data["obs"]:
        shown.setdefault(oid, []).append((oid, st, t))
    dom, over = sb.latencies(changes, shown, t0, t1)
    single, _ = sb.latencies({ids[0]: changes.get(ids[0], [])},
                             {ids[0]: [(ids[0], s, t) for _, s, t in panel_data["obs"]]}, t0, t1)
    received = sum(page_data["received"].get(k, 0) for k in sb.KINDS)

    def share(a: dict, b: dict, key: str) -> float:
        return round(100 * (b[key] - a[key]) / (t1 - t0), 1)

    dom_p95, single_p95 = pct(dom, 95, 1), pct(single, 95, 1)
    return {"operators": operators, "seconds": round(t1 - t0, 1), "samples": len(dom), "drawn_over_in_a_frame": over,
            "dom_ms_p50": pct(dom, 50, 1), "dom_ms_p95": dom_p95, "dom_ms_max": round(max(dom), 1) if dom else None,
            "single_dom_ms_p95": single_p95,
            "arrive_ms_p95": pct(sb.arrivals(page_data, t0, t1), 95, 1),
            "single_arrive_ms_p95": pct(sb.arrivals(panel_data, t0, t1), 95, 1),
            "dom_vs_single_ratio": round(dom_p95 / single_p95, 2) if single and single_p95 > 0 else None,
            "browser_cpu_percent": share(m0, m1, "ProcessTime"), "main_thread_cpu_percent": share(m0, m1, "ThreadTime"),
            "task_wall_percent": share(m0, m1, "TaskDuration"), "single_browser_cpu_percent": share(s0, s1, "ProcessTime"),
            "frames_per_s": round(flushes / float(closed - opened), 1) if flushes else None,
            "events_per_s": round(received / float(closed - opened), 1), "events_dropped": max(0, committed - received)
            + page_data["reloads"], "driver_errors": len(errors), "first_error": errors[0] if errors else None,
            "js": js or "tree", "css": css or "tree", "browser_nice": browser_nice, "machine": machine()}


def main() -> None:
    import argparse
    import json

    from dialer import db as dbm
    from dialer import migrate, pg
    from dialer import settings as settings_mod

    ap = argparse.ArgumentParser(prog="python -m bench.supervisor_page")
    ap.add_argument("--operators", type=int, default=100)
    ap.add_argument("--campaigns", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--cycle", type=float, default=7.0, help="seconds of one operator's round (six events)")
    ap.add_argument("--js", help="serve this file as the page's script")
    ap.add_argument("--css", help="serve this file as the page's stylesheet")
    ap.add_argument("--browser-nice", type=int, default=None, choices=range(-20, 1), metavar="-20..0",
                    help="the browser's threads at this CPU priority at most (bench.supervisor's option)")
    args = ap.parse_args()
    settings = settings_mod.load()
    pg.start_until_exit(settings)
    migrate.migrate(settings)
    db = dbm.connect(settings)
    print(json.dumps(measure(settings, db, args.operators, max(1, args.campaigns), args.seconds, args.cycle, args.js,
                             args.css, args.browser_nice), ensure_ascii=False))


if __name__ == "__main__":
    main()
