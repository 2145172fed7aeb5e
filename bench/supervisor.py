"""The supervisor's screen under a full call centre: state change committed → the supervisor page's DOM updated,
beside the same figure for a page showing one operator (the operator panel), in the same run, on real pbx + sim +
PostgreSQL with the engine running (issue 15, Figures).

    python -m bench.supervisor [--operators 100] [--campaigns 20] [--seconds 60] [--talk 3] [--browser-nice -10] [--panels 4]
        [--js FILE] [--css FILE] [--live-js FILE]

Each campaign has its pool of operators (simulated auto-answering softphones) and leads that answer and talk 3 s, are busy or
decline; wrap-up ends by its 1 s limit, so every operator goes Ready → In call → Wrap-up → Ready over and over.
One headless Chromium has /supervisor open (1366×768, a supervisor) and the /panel of operators 1–N (`--panels`,
4 by default: each its own user and page).
- dom_ms: an operator's status change (`operator_status_log.at`, stamped by the engine in the change's own
  transaction) → the end of the page's drawing that applied it (same machine clock): the page tells each drawing's
  operators to `Supervisor.state.drawn(id, status)` (supervisor.js), as a row on screen is written by it and a row
  off screen is not written at all (it is, from the model as it is then, when it comes into view: nothing scrolls
  here). A page without that hook (an older supervisor.js given by --js) is measured as before: the moment the row's
  `data-status` changes (a MutationObserver; `dom_measured_by` says which). With the hook, the rows' `data-status`
  changes are measured apart as dom_on_screen_ms (the rows on screen, ~21 of 100: the same point as before for them).
  Showings are matched to changes in order (`latencies`); a status drawn over by a later one before the page drew
  (a page draws at most once a frame) has no sample and is counted apart (`drawn_over_in_a_frame`).
- single_dom_ms: the same for operators 1–N's changes, each on its own panel, measured the same way in the same run
  (pooled: one operator changes status ~23 times a minute, so one panel's p95 is its slowest sample or two and moved
  the ratio between 0.7 and 1.6 from run to run); single_browser_cpu_percent is a panel's mean.
- browser_cpu_percent: the CPU time of the supervisor page's renderer process per second of wall time (DevTools
  `Performance.getMetrics` ProcessTime), over the measured window; its main thread alone (ThreadTime) and the
  wall time in tasks (TaskDuration, which counts the waits for a core on a shared machine) are shown as parts.
- events_per_s: the live events the supervisor page received per second; events_dropped: events committed that
  the page may see but had not received SETTLE_S after the run (and any `reload` the stream had to ask for);
  page_errors: its console.
- arrive_ms (and single_arrive_ms): an operator's change → its event handed to the page's script (ARRIVE): the
  part of dom_ms before the page had the event (database, web, network, the browser's queue; for the supervisor's
  page also the server's pace, web/pages/supervisor.py LIVE_PACE_MS); the rest is the page's.
  Split by plain clients in a process given the browser's share of the cores (Wire, bench/supervisor_wire.py):
  notified_ms, the change → its NOTIFY at a LISTEN (the database's part: commit, delivery to a listener);
  served_ms, the change → its event read from the supervisor's /events?batch=1, unpaced (the database's and the web's).
  web_main_thread: the web process's main thread (its event loop) as the kernel saw it, as renderer_main_thread.
- renderer_main_thread: the supervisor page's main thread as the kernel saw it over the window: % of a core it ran,
  % of the time it was runnable and waited for a core. On this shared machine it waits ~97 % of the time unless the
  browser is given a share of the cores as on a machine of its own (`--browser-nice -10`, BrowserNice; reported as
  browser_nice): a figure without it measures the machine's queue for a core more than the page.
- stream_messages_per_s: the stream's messages the supervisor page received per second (a message carries one event
  or a batch of them, web/live.py): the browser's cost of receiving is per message. stream_messages: the same stream
  as Wire read it — messages a second, those with only kinds the page has no handler for, events a second by kind.
`--js`/`--css` serve other files as the supervisor page's script and stylesheet, `--live-js` as its dialer.js (the
live client): a change compared with the tree's in the same conditions. `python -m bench.supervisor_page` feeds the
same page the engine's writes without the telephony, for comparing a change to the page run against run.
Last line: one JSON object.
"""
from __future__ import annotations

import contextlib
import os
import signal
import time

from dialer.dev.testing import BENCHMARK, isolate, start_telephony

isolate(os.environ.get("DIALER_BENCH_STATE_DIR", "/var/lib/dialer-bench"), BENCHMARK)

from peewee import OperationalError  # noqa: E402

from dialer.models import Attempt, Campaign, Operator  # noqa: E402
from dialer.dev.testing import EngineProcess, command_all, until  # noqa: E402

from .operator import CHROMIUM  # noqa: E402
from .progressive import machine, pct  # noqa: E402
from rules.window import ANY_HOUR  # a benchmark runs at any hour of the day

TABLES = ("alert, missed_offer, do_not_call, attempt_event, engine_command, attempt, operator_campaign, lead, "
          "operator, campaign, live_event, web_session, user_permission, user_role, app_user, component_health, job_run")
PASSWORD = "bench-supervisor-password"
KINDS = ("operator.status", "attempt", "attempt.gone", "campaign", "alert")
OBSERVED = (*KINDS, "sip.registration")  # counted apart: the page draws them too (`received_by_kind`)
WARM_UP_S = 10
IDLE_S = 8
# an operator.status event handed to the page's script: (when, ms since the change it tells of) — the part of dom_ms
# spent before the page had the event (database, web, network, the browser's own queue), the rest is the page's
ARRIVE = "(d) => { if (d.since) { const t = Date.now(); window.__b.arrive.push([t, t - Date.parse(d.since)]); } }"
SUPERVISOR_OBSERVER = """() => {
  const rows = document.getElementById('sv-operator-rows'), S = window.Supervisor.state;
  // a page that reports its drawings (S.drawn, supervisor.js) is measured by them: a row off screen is not written
  // until it comes into view; the rows' data-status (written for the rows on screen) is then kept apart (`rows`)
  const drawn = 'drawn' in S;
  window.__b = {obs: [], rows: [], received: {}, reloads: 0, arrive: [], by: drawn ? 'drawn' : 'data-status'};
  const last = {}, lastRow = {};  // a row's status is set again at every redraw: only a change is a showing
  if (drawn) S.drawn = (id, status) => {
    if (last[id] === status) return;
    last[id] = status;
    window.__b.obs.push([id, status, Date.now()]);
  };
  new MutationObserver((records) => {
    const t = Date.now();
    for (const m of records) {
      const tr = m.target;
      if (!tr.classList.contains('sv-row') || lastRow[tr.dataset.op] === tr.dataset.status) continue;
      lastRow[tr.dataset.op] = tr.dataset.status;
      window.__b[drawn ? 'rows' : 'obs'].push([Number(tr.dataset.op), tr.dataset.status, t]);
    }
  }).observe(rows, {subtree: true, attributes: true, attributeFilter: ['data-status']});
  for (const k of %s) window.Dialer.live.on(k, () => { window.__b.received[k] = (window.__b.received[k] || 0) + 1; });
  window.Dialer.live.on('reload', () => { window.__b.reloads++; });
  window.Dialer.live.on('operator.status', ARRIVE);
}""".replace("ARRIVE", ARRIVE) % list(OBSERVED)
PANEL_OBSERVER = """() => {
  const el = document.querySelector('[data-testid=panel-status]');
  window.__b = {obs: [], arrive: []};
  window.Dialer.live.on('operator.status', ARRIVE);
  let last = el.dataset.status;
  new MutationObserver(() => {
    if (el.dataset.status !== last) { last = el.dataset.status; window.__b.obs.push([0, last, Date.now()]); }
  }).observe(el, {attributes: true, attributeFilter: ['data-status']});
}""".replace("ARRIVE", ARRIVE)


WEB_START_S = 180  # the web process's imports can take minutes on a machine whose load average is in the hundreds


def start_web(settings):
    """bench.operator's web process, waited for up to WEB_START_S (bench.operator waits 30 s: a web still importing
    then was left to start against a database already stopped)."""
    import socket
    import subprocess
    import sys

    from dialer.settings import REPO_ROOT

    log = open(settings.state_dir / "bench-web.log", "a")
    proc = subprocess.Popen([sys.executable, "-m", "dialer.cli", "run", "--only", "web"], cwd=REPO_ROOT,
                            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True)

    def listening():
        if proc.poll() is not None:
            raise RuntimeError(f"the web process exited ({proc.returncode}): see {log.name}")
        try:
            socket.create_connection((settings.web_host, settings.web_port), 0.2).close()
            return True
        except OSError:
            return False
    until(listening, WEB_START_S, 0.2, "the web process to listen")
    return proc


def leads_csv(campaign: int, talk_s: int) -> str:
    """80 leads: 48 answer and talk `talk_s` seconds, 16 are busy, 16 decline after ringing 1 s (phones unique per
    campaign; sim/README.md has the number plan)."""
    rows = [f"A{campaign}-{n},+79000{talk_s:02d}{campaign:02d}{n:02d},Клиент {campaign}-{n}" for n in range(48)]
    rows += [f"B{campaign}-{n},+7900100{campaign:02d}{n:02d},Занят {campaign}-{n}" for n in range(16)]
    rows += [f"R{campaign}-{n},+7900200{campaign:02d}{n:02d},Отказ {campaign}-{n}" for n in range(16)]
    return "external_id,phone,name\n" + "\n".join(rows)


def prepare(settings, db, operators: int, campaigns: int, talk_s: int, panels: int = 1) -> list[int]:
    from dialer.dev import instances
    from dialer.services import campaigns as cs
    from dialer.services import leads
    from dialer.services import operators as ops
    from dialer.services import users

    with db.connection_context():
        for attempt in range(5):  # pbx writes registrations (ps_contacts → device triggers) until its phones are gone
            try:
                db.execute_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
                break
            except OperationalError as e:
                if "deadlock" not in str(e) or attempt == 4:
                    raise
                time.sleep(1)
        users.seed_roles()
        role = {r["code"]: r["id"] for r in users.list_roles()}
        cids = [cs.create_campaign(f"Кампания {c + 1:02d}", calling_window=ANY_HOUR, max_attempts=1, ring_timeout_s=10, wrap_up_limit_s=1)["id"]
                for c in range(campaigns)]
        if hasattr(Campaign, "calling_window"):  # dial whatever the hour of the run (the default window closes at night)
            Campaign.update(calling_window={"any_hour": True}).where(Campaign.id.in_(cids)).execute()
        for i, cid in enumerate(cids):
            report = leads.import_csv(cid, leads_csv(i, talk_s))
            assert not report.errors, report.errors
        made = [ops.create_operator(f"Оператор {i + 1:03d}", f"sv{i + 1:03d}", f"Bench-pass-{i + 1:03d}",
                                    [cids[i % campaigns]]) for i in range(operators)]
        phones = ops.sip_devices()
        users.create_user("supervisor@example.org", "Супервайзер", PASSWORD, [role["supervisor"]])
        for k, op in enumerate(made[:panels], 1):
            users.create_user(f"op{k}@example.org", op["name"], PASSWORD, [role["operator"]], operator_id=op["id"])
    instances.sync_sim_phones(settings, phones)
    instances.wait_registered(settings, [login for login, _ in phones], timeout=300)
    return [m["id"] for m in made]


def serve(path: str, kind: str):
    """A route handler that answers with the file at `path` (a script or a stylesheet): A/B of a change to the page."""
    body = open(path, encoding="utf-8").read()
    content_type = "text/javascript" if kind == "js" else "text/css"
    return lambda route, _request=None: route.fulfill(body=body, content_type=content_type)


def sign_in(browser, base, email, path, viewport, errors: list | None = None, files: dict | None = None):
    page = browser.new_context(base_url=base, viewport=viewport).new_page()
    for kind, file in (files or {}).items():  # {"js": FILE, "css": FILE}: served as /static/<kind>/supervisor.<kind>
        if file and kind == "live":  # the live client, dialer.js
            page.route("**/static/js/dialer.js", serve(file, "js"))
        elif file:
            page.route(f"**/static/{kind}/supervisor.{kind}", serve(file, kind))
    if errors is not None:  # the page's own errors (a page that fails is not measured: they are reported)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" and path in page.url else None)
    page.goto("/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()
    page.goto(path)
    page.wait_for_selector("#live-status[data-state=open]")
    return page


def latencies(changes: dict, shown: dict, since: float, until: float) -> tuple[list[float], int]:
    """Per operator, the page's showings (in the order the page made them) matched to the logged changes (status, at)
    in order: a page applies changes in the order they were made and never shows one twice, so each showing is the
    next change not yet matched that has its status and was made before it; the changes it passed over were drawn
    over (a later one drawn in the same frame). (samples in ms of the changes made in [since, until], drawn over).

    Matching each change to the first showing after it instead (as this did before) pairs a page that lags behind
    by more than one change with the wrong showings, and then counts nearly every change as drawn over."""
    out, over = [], 0
    for oid, rows in changes.items():
        i = 0
        for _, status, t in shown.get(oid, []):
            k = i
            while k < len(rows) and rows[k][0] != status:
                k += 1
            if k == len(rows) or rows[k][1] * 1000 > t:
                continue  # no change explains it (the state from before the window): not a sample
            over += sum(1 for _, at in rows[i:k] if since <= at <= until)
            if since <= rows[k][1] <= until:
                out.append(t - rows[k][1] * 1000)
            i = k + 1
        over += sum(1 for _, at in rows[i:] if since <= at <= until)  # never shown by the end
    return out, over


def browser_pids(browser) -> dict[str, list[int]]:
    """The browser's processes by type (browser, GPU, utility, renderer), from the DevTools protocol."""
    out: dict[str, list[int]] = {}
    for p in browser.new_browser_cdp_session().send("SystemInfo.getProcessInfo")["processInfo"]:
        out.setdefault(p["type"], []).append(p["id"])
    return out


def _schedstat(pids: list[int]) -> dict[int, tuple[int, int, int]]:
    """Each renderer's main thread from the kernel's side: ns on a core, ns runnable but waiting for one, slices."""
    out = {}
    for pid in pids:
        with contextlib.suppress(OSError, ValueError):
            run, wait, slices = map(int, open(f"/proc/{pid}/task/{pid}/schedstat").read().split())
            out[pid] = (run, wait, slices)
    return out


def main_thread_wait(before: dict, after: dict, seconds: float) -> dict | None:
    """The busiest renderer's main thread over the window (the supervisor page's): % of a core it ran, and % of the
    wall time it was runnable but waited for a core (/proc/…/schedstat)."""
    deltas = [(after[p][0] - before[p][0], after[p][1] - before[p][1], p) for p in after if p in before]
    if not deltas:
        return None
    run, wait, _ = max(deltas)
    return {"ran_percent": round(100 * run / 1e9 / seconds, 1), "waited_percent": round(100 * wait / 1e9 / seconds, 1)}


class BrowserNice:
    """The browser's processes at CPU priority `nice`: their scheduling groups (the kernel shares the cores between
    sessions first, `/proc/<pid>/autogroup`, and the browser is a session of its own) and every thread in them at
    most (threads made later too: looked at every second; a thread Chromium already runs higher, e.g. its compositor
    at -8, is left alone). The benchmark runs the browser on the server's own 2 cores, shared with pbx, sim,
    PostgreSQL, the engine, the web and whatever else runs on the machine: measured, the supervisor page's main
    thread waited for a core 97–98 % of the measured window (renderer_main_thread), a group among some 60 busy ones,
    and Chromium runs most of a headless browser's renderers at nice 5 besides. A supervisor's browser runs on a
    machine of its own; this gives it a share of the cores instead. None: left as it is."""

    def __init__(self, pids: list[int], nice: int):
        import threading

        self.pids, self.nice = pids, nice
        self.done, self.raised = threading.Event(), 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while not self.done.is_set():
            for pid in self.pids:
                with contextlib.suppress(OSError):
                    with open(f"/proc/{pid}/autogroup", "w") as group:
                        group.write(str(self.nice))
                with contextlib.suppress(OSError):
                    for tid in map(int, os.listdir(f"/proc/{pid}/task")):
                        with contextlib.suppress(OSError):
                            if os.getpriority(os.PRIO_PROCESS, tid) > self.nice:
                                os.setpriority(os.PRIO_PROCESS, tid, self.nice)
                                self.raised += 1
            self.done.wait(1.0)

    def stop(self) -> None:
        self.done.set()


def measure(settings, db, operators: int, campaigns: int, seconds: float, talk_s: int = 3,
            browser_nice: int | None = None, files: dict | None = None, panels: int = 4) -> dict:
    from playwright.sync_api import sync_playwright

    panels = max(1, min(panels, operators))
    ids = prepare(settings, db, operators, campaigns, talk_s, panels)
    engine = EngineProcess(settings, settings.state_dir / "bench-engine.log")
    engine.mark()
    engine.start()
    web = fore = wire = None
    base = f"http://{settings.web_host}:{settings.web_port}"
    try:  # the engine is stopped whatever fails after it started (a web that does not come up included)
        web = start_web(settings)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            page_errors: list[str] = []
            sv = sign_in(browser, base, "supervisor@example.org", "/supervisor", {"width": 1366, "height": 768},
                         page_errors, files)
            sv.wait_for_function("window.Supervisor.state.loaded")
            pans = [sign_in(browser, base, f"op{k}@example.org", "/panel", {"width": 1280, "height": 900})
                    for k in range(1, panels + 1)]
            sv.evaluate(SUPERVISOR_OBSERVER)
            for panel in pans:
                panel.evaluate(PANEL_OBSERVER)
            procs = browser_pids(browser)
            renderers = procs.get("renderer", [])
            wire = Wire(settings, base, sv.context.cookies())
            fore = BrowserNice([p for pids in procs.values() for p in pids] + [wire.proc.pid], browser_nice) \
                if browser_nice is not None else None
            cdp = sv.context.new_cdp_session(sv)
            cdp.send("Performance.enable")
            panel_cdps = [panel.context.new_cdp_session(panel) for panel in pans]
            for panel_cdp in panel_cdps:
                panel_cdp.send("Performance.enable")
            idle0, it0 = _task_s(cdp), time.time()
            time.sleep(IDLE_S)  # the page with nothing happening: its clocks tick
            idle1, it1 = _task_s(cdp), time.time()
            with db.connection_context():
                (opened,) = db.execute_sql("SELECT extract(epoch FROM clock_timestamp())").fetchone()
                command_all(ids, "ready")
            time.sleep(WARM_UP_S)  # every operator's line up, the first burst of claims over
            profile = os.environ.get("DIALER_BENCH_PROFILE")  # a JS profile of the measured window, for development
            if profile:
                cdp.send("Profiler.enable")
                cdp.send("Profiler.start")
            task0, single0, t0 = _task_s(cdp), [_task_s(c) for c in panel_cdps], time.time()
            sched0, web0, msg0 = _schedstat(renderers), _schedstat([web.pid]), sv.evaluate(MESSAGES)
            with db.connection_context():
                calls0 = Attempt.select().where(Attempt.ended_at.is_null(False)).count()
            trace = os.environ.get("DIALER_BENCH_TRACE")  # the renderer's main thread for 5 s, for development
            if trace:
                browser.start_tracing(page=sv, path=trace, categories=["devtools.timeline", "blink"])
                time.sleep(5)
                browser.stop_tracing()
                time.sleep(max(0.0, seconds - 5))
            else:
                time.sleep(seconds)
            task1, single1, t1 = _task_s(cdp), [_task_s(c) for c in panel_cdps], time.time()
            sched1, web1, msg1 = _schedstat(renderers), _schedstat([web.pid]), sv.evaluate(MESSAGES)
            if profile:
                _top_functions(cdp.send("Profiler.stop")["profile"], profile)
            with db.connection_context():
                calls1 = Attempt.select().where(Attempt.ended_at.is_null(False)).count()
                command_all(ids, "pause")
                until(lambda: not Operator.select().where(Operator.status != "paused").exists(), 60, 0.5,
                      "every operator paused after their call")
            closed = settle(db, sv, opened)  # the last events reach the page (or are counted as dropped)
            wired = wire.close()
            page_data, panel_data = sv.evaluate("window.__b"), [panel.evaluate("window.__b") for panel in pans]
            flushes = sv.evaluate("window.Supervisor.state.flushes")
            browser.close()
    finally:
        if fore is not None:
            fore.stop()
        if wire is not None and wire.proc.poll() is None:
            wire.proc.kill()
        if web is not None:
            web.send_signal(signal.SIGTERM)
            web.wait(15)
        engine.kill(signal.SIGTERM)
    with db.connection_context():
        changes: dict[int, list] = {}
        for oid, status, at in db.execute_sql(
                "SELECT operator_id, status, extract(epoch FROM at) FROM operator_status_log"
                " WHERE at > to_timestamp(%s) ORDER BY operator_id, at, id", (opened,)).fetchall():
            changes.setdefault(oid, []).append((status, float(at)))
        (committed,) = db.execute_sql("SELECT count(*) FROM live_event WHERE kind = ANY(%s) AND at > to_timestamp(%s)"
                                      " AND at <= to_timestamp(%s)", (list(KINDS), opened, closed)).fetchone()
    shown = _by_operator(page_data["obs"])
    if calls1 == calls0:
        raise RuntimeError("no call ended in the measured window: nothing to measure (see bench-engine.log)")
    dom, over = latencies(changes, shown, t0, t1)

    def share(before: dict, after: dict, key: str) -> float:
        return round(100 * (after[key] - before[key]) / (t1 - t0), 1)
    single = [lag for oid, data in zip(ids, panel_data)
              for lag in latencies({oid: changes.get(oid, [])}, {oid: [(oid, s, t) for _, s, t in data["obs"]]},
                                   t0, t1)[0]]
    received = sum(page_data["received"].get(k, 0) for k in KINDS)
    dom_p95, single_p95 = pct(dom, 95, 1), pct(single, 95, 1)
    arrive, single_arrive = arrivals(page_data, t0, t1), [a for data in panel_data for a in arrivals(data, t0, t1)]
    served = arrivals({"arrive": wired["served"]}, t0, t1)
    notified = arrivals({"arrive": wired["notified"]}, t0, t1)
    on_screen, _ = latencies(changes, _by_operator(page_data["rows"]), t0, t1)
    return {"operators": operators, "campaigns": campaigns, "talk_s": talk_s, "seconds": round(t1 - t0, 1),
            "calls": calls1 - calls0, "calls_per_minute": round((calls1 - calls0) / (t1 - t0) * 60, 1),
            "status_changes": sum(1 for rows in changes.values() for _, at in rows if t0 <= at <= t1),
            "samples": len(dom), "drawn_over_in_a_frame": over, "dom_measured_by": page_data["by"],
            "dom_ms_p50": pct(dom, 50, 1), "dom_ms_p95": dom_p95, "dom_ms_max": round(max(dom), 1) if dom else None,
            "single_samples": len(single), "single_dom_ms_p50": pct(single, 50, 1), "single_dom_ms_p95": single_p95,
            "dom_vs_single_ratio": round(dom_p95 / single_p95, 2) if single and single_p95 > 0 else None,
            "arrive_ms_p50": pct(arrive, 50, 1), "arrive_ms_p95": pct(arrive, 95, 1),
            "single_arrive_ms_p95": pct(single_arrive, 95, 1),
            "notified_ms_p50": pct(notified, 50, 1), "notified_ms_p95": pct(notified, 95, 1),
            "served_ms_p50": pct(served, 50, 1), "served_ms_p95": pct(served, 95, 1),
            "on_screen_samples": len(on_screen), "dom_on_screen_ms_p50": pct(on_screen, 50, 1),
            "dom_on_screen_ms_p95": pct(on_screen, 95, 1),
            "browser_cpu_percent": share(task0, task1, "ProcessTime"),
            "browser_idle_cpu_percent": round(100 * (idle1["ProcessTime"] - idle0["ProcessTime"]) / (it1 - it0), 1),
            "browser_cpu_parts_percent": {k: share(task0, task1, k) for k in PARTS},
            "single_browser_cpu_percent": round(sum(share(a, b, "ProcessTime") for a, b in zip(single0, single1))
                                                / len(single0), 1), "single_pages": len(single0),
            "events_per_s": round(received / float(closed - opened), 1), "events_received": received,
            "events_committed": committed, "events_dropped": max(0, committed - received) + page_data["reloads"],
            "received_by_kind": page_data["received"],
            "stream_messages_per_s": round((msg1 - msg0) / (t1 - t0), 1) if msg0 is not None else None,
            "stream_messages": census(wired.get("messages", []), t0, t1, OBSERVED),
            "page_drawings_per_s": round(flushes / float(closed - opened), 1), "page_errors": len(page_errors), "first_page_error": page_errors[0][:300] if page_errors else None,
            "renderer_main_thread": main_thread_wait(sched0, sched1, t1 - t0),
            "web_main_thread": main_thread_wait(web0, web1, t1 - t0), "browser_nice": browser_nice,
            "browser_threads_reniced": fore.raised if fore else 0,
            **{f"page_{k}": v for k, v in (files or {}).items() if v}, "machine": machine()}


def _by_operator(obs: list) -> dict[int, list]:
    shown: dict[int, list] = {}
    for oid, status, t in obs:
        shown.setdefault(oid, []).append((oid, status, t))
    return shown


class Wire:
    """bench.supervisor_wire beside the browser, in a session of its own (BrowserNice gives it the browser's share of
    the cores): an operator's change → its NOTIFY read by a plain LISTEN (`notified`, the database's part of
    arrive_ms) and → its event read by a plain HTTP client of the supervisor's /events?batch=1 (`served`, the
    database's and the web's parts); the rest of arrive_ms is the browser's."""

    def __init__(self, settings, base: str, cookies: list[dict]):
        import json
        import subprocess
        import sys

        from dialer.settings import REPO_ROOT

        config = {"dsn": settings.dsn, "base": base, "cookie": "; ".join(f"{c['name']}={c['value']}" for c in cookies)}
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.supervisor_wire", json.dumps(config)], cwd=REPO_ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, start_new_session=True)

    def close(self) -> dict:
        import json

        try:
            out, _ = self.proc.communicate("", timeout=60)
            return json.loads(out.strip().splitlines()[-1])
        except Exception:  # noqa: BLE001  (the figures say none)
            self.proc.kill()
            return {"notified": [], "served": [], "messages": []}


def census(messages: list, since: float, until: float, wanted) -> dict:
    """The supervisor's stream as a plain client read it (Wire) over the window: messages per second, and how many
    of them carried only events of kinds the page has no handler for (each costs the browser a message all the same)."""
    window = [kinds for t, kinds in messages if since * 1000 <= t <= until * 1000]
    seconds = max(until - since, 1e-9)
    by_kind: dict[str, int] = {}
    for kinds in window:
        for k in kinds:
            by_kind[k] = by_kind.get(k, 0) + 1
    unused = sum(1 for kinds in window if not set(kinds) & set(wanted))
    return {"per_s": round(len(window) / seconds, 1), "unused_per_s": round(unused / seconds, 1),
            "events_per_s": {k: round(n / seconds, 1) for k, n in sorted(by_kind.items())}}


def arrivals(data: dict, since: float, until: float) -> list[float]:
    """The ms from an operator's change to its event reaching the page's script, for the events handed over in
    [since, until] (ARRIVE)."""
    return [lag for t, lag in data.get("arrive", []) if since * 1000 <= t <= until * 1000]


# CPU from the DevTools protocol: ProcessTime is the CPU time of the page's renderer process (all its threads),
# ThreadTime that of its main thread. TaskDuration, LayoutDuration, ... are wall time spent in tasks: on a machine
# whose cores are shared (pbx, sim, PostgreSQL, the engine and the web run beside the browser) a task that waits
# for a core counts the wait too — measured 10–20× the CPU time at a load average of 20 — so they are shown as
# parts only, never as the CPU figure.
PARTS = ("ThreadTime", "TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration")


def _task_s(cdp) -> dict:
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return {k: metrics[k] for k in ("ProcessTime", *PARTS)}


def _top_functions(profile: dict, path: str) -> None:
    """Self time per function (from the samples), the heaviest first, written to `path`."""
    from collections import Counter

    nodes = {n["id"]: n for n in profile["nodes"]}
    deltas = profile.get("timeDeltas", [])
    self_us: Counter = Counter()
    for sample, dt in zip(profile.get("samples", []), deltas):
        f = nodes[sample]["callFrame"]
        self_us[f"{f['functionName'] or '(anonymous)'} {f['url'].rsplit('/', 1)[-1]}:{f['lineNumber'] + 1}"] += dt
    total = sum(self_us.values()) or 1
    with open(path, "w") as out:
        for name, us in self_us.most_common(40):
            out.write(f"{100 * us / total:5.1f} %  {us / 1000:8.0f} ms  {name}\n")


SETTLE_S = 30.0
MESSAGES = "window.Dialer.live.messages ?? null"  # the stream's messages so far (null: a dialer.js without the count)
RECEIVED = "KINDS.reduce((n, k) => n + (window.__b.received[k] || 0), 0)".replace("KINDS", str(list(KINDS)))


def settle(db, page, opened: float) -> float:
    """Waits until the page has received every event of KINDS committed since `opened` (a page that lags behind a
    loaded machine gets the last ones seconds later), at most SETTLE_S; the database time up to which it counts."""
    deadline = time.monotonic() + SETTLE_S
    while True:
        with db.connection_context():
            closed, committed = db.execute_sql(
                "SELECT extract(epoch FROM clock_timestamp()), (SELECT count(*) FROM live_event WHERE kind = ANY(%s)"
                " AND at > to_timestamp(%s))", (list(KINDS), opened)).fetchone()
        if page.evaluate(RECEIVED) >= committed or time.monotonic() > deadline:
            return closed
        time.sleep(0.5)


def _db_now(db):
    with db.connection_context():
        return db.execute_sql("SELECT extract(epoch FROM clock_timestamp())").fetchone()


def main() -> None:
    import argparse
    import json

    from dialer import settings as settings_mod
    from dialer.dev import instances
    from dialer.dev.testing import hang_up_everything

    ap = argparse.ArgumentParser(prog="python -m bench.supervisor")
    ap.add_argument("--operators", type=int, default=100)
    ap.add_argument("--campaigns", type=int, default=20)
    ap.add_argument("--seconds", type=float, default=60.0, help="the measured window, after a warm-up")
    ap.add_argument("--talk", type=int, default=3, choices=range(1, 100), metavar="1-99",
                    help="seconds each answered client talks (3: the busiest screen; real calls last minutes)")
    ap.add_argument("--browser-nice", type=int, default=None, choices=range(-20, 1), metavar="-20..0",
                    help="the browser's threads at this CPU priority at most (as on a machine of its own; default:"
                         " as Chromium sets them, its renderers mostly at nice 5)")
    ap.add_argument("--panels", type=int, default=4, help="operator panels open beside the supervisor's page: the"
                    " single-operator figure pools their samples")
    ap.add_argument("--js", help="serve this file as the supervisor page's script (A/B of a change)")
    ap.add_argument("--css", help="serve this file as the supervisor page's stylesheet")
    ap.add_argument("--live-js", help="serve this file as the supervisor page's dialer.js (the live client)")
    args = ap.parse_args()
    settings = settings_mod.load()
    db = start_telephony(settings)
    try:
        hang_up_everything(settings)
        result = measure(settings, db, args.operators, max(1, args.campaigns), args.seconds, args.talk,
                         args.browser_nice, {"js": args.js, "css": args.css, "live": args.live_js}, args.panels)
    finally:
        hang_up_everything(settings)
        for name in ("sim", "pbx"):
            instances.stop(settings, name)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
