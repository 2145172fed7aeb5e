"""The operator panel under calls: time from the client answering to the call card showing the answered
call in the operator's browser (headless Chromium on /panel), on real pbx + sim + PostgreSQL.

    python -m bench.operator [--operators 3] [--calls 60]

Each operator is a signed-in user with the panel open and auto-answer on; the campaign's clients
answer and talk 2 s, wrap-up ends by its 1 s limit, and the operator is Ready again. For every
answered call:
- answer_to_db_ms / db_to_card_ms: the same split at the live event's insert (engine side / web side);
- answer_to_card_ms: the client's answer (Asterisk's own StasisStart time, `attempt.answered_at`) to the
  moment the page's DOM shows that call's card as answered (a MutationObserver in the page, same
  machine clock). The path: engine → PostgreSQL (live_event + NOTIFY) → web hub → server-sent event
  → the page reads /api/panel/state → Alpine renders.
Last line: one JSON object.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from dialer.dev.testing import BENCHMARK, isolate

isolate(os.environ.get("DIALER_BENCH_STATE_DIR", "/var/lib/dialer-bench"), BENCHMARK)

import psutil  # noqa: E402

from dialer.models import Attempt  # noqa: E402
from dialer.settings import REPO_ROOT  # noqa: E402
from dialer.dev.testing import EngineProcess, add_leads, make_operators, until  # noqa: E402

from .progressive import machine, pct, run_with_telephony  # noqa: E402
from rules.window import ANY_HOUR  # a benchmark runs at any hour of the day

TABLES = ("alert, missed_offer, do_not_call, attempt_event, engine_command, attempt, operator_campaign, lead, "
          "operator, campaign, live_event, web_session, user_permission, user_role, app_user")
PASSWORD = "bench-operator-password"
CHROMIUM = "/usr/bin/chromium"
# the first time the card shows an answered call (talking, or already over when the read came late)
OBSERVER = """
window.__shown = {};
new MutationObserver(() => {
  const el = document.querySelector('[data-testid=call-phase]');
  const card = document.body.dataset.cardShown || '';
  if (!el || !card) return;
  const [attempt, phase] = card.split(':');
  if (['talking', 'wrap_up', 'ended'].includes(el.dataset.phase) && phase === el.dataset.phase
      && !(attempt in window.__shown)) window.__shown[attempt] = Date.now();
}).observe(document, {subtree: true, attributes: true, childList: true, characterData: true});
"""


def start_web(settings) -> subprocess.Popen:
    log = open(settings.state_dir / "bench-web.log", "a")
    proc = subprocess.Popen([sys.executable, "-m", "dialer.cli", "run", "--only", "web"], cwd=REPO_ROOT,
                            stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy(), start_new_session=True)
    import socket

    def listening():
        try:
            socket.create_connection((settings.web_host, settings.web_port), 0.2).close()
            return True
        except OSError:
            return False
    until(listening, 30, 0.1, "the web process to listen")
    return proc


def measure(settings, db, operators: int, calls: int) -> dict:
    from playwright.sync_api import sync_playwright

    from dialer.services import campaigns, users

    with db.connection_context():
        db.execute_sql(f"TRUNCATE {TABLES} RESTART IDENTITY CASCADE")
        users.seed_roles()
        role = {r["code"]: r["id"] for r in users.list_roles()}["operator"]
        cid = campaigns.create_campaign("bench", calling_window=ANY_HOUR, max_attempts=1, ring_timeout_s=10, wrap_up_limit_s=1)["id"]
        add_leads(cid, [f"7900002{i:04d}" for i in range(calls + operators * 3)])
        ops = make_operators(settings, cid, operators, prefix="bench")
        for o in ops:
            users.create_user(f"{o['login']}@example.org", o["name"], PASSWORD, [role], operator_id=o["id"])
    engine = EngineProcess(settings, settings.state_dir / "bench-engine.log")
    engine.mark()
    engine.start()
    web = start_web(settings)
    base = f"http://{settings.web_host}:{settings.web_port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            pages = []
            for o in ops:
                page = browser.new_context(base_url=base, viewport={"width": 1280, "height": 900}).new_page()
                page.add_init_script(OBSERVER)
                page.goto("/login")
                page.fill("input[name=email]", f"{o['login']}@example.org")
                page.fill("input[name=password]", PASSWORD)
                page.click("button[type=submit]")
                page.wait_for_load_state()
                page.goto("/panel")
                page.wait_for_selector("#live-status[data-state=open]")
                pages.append(page)
            web_proc = psutil.Process(web.pid)
            web_proc.cpu_percent()
            started = time.time()
            for page in pages:
                page.click("[data-testid=go-ready]")
            with db.connection_context():
                until(lambda: Attempt.select().where(Attempt.wrap_up_at.is_null(False)).count() >= calls, 900, 0.5,
                      f"{calls} answered and wrapped-up calls")
            elapsed = time.time() - started
            web_cpu = web_proc.cpu_percent()
            for page in pages:
                page.click("[data-testid=go-pause]")
            time.sleep(1)
            shown = {}
            for page in pages:
                shown.update({int(k): v for k, v in page.evaluate("window.__shown").items()})
            browser.close()
    finally:
        web.send_signal(signal.SIGTERM)
        web.wait(15)
        engine.kill(signal.SIGTERM)
    with db.connection_context():
        answered = {a.id: a.answered_at.timestamp() * 1000 for a in
                    Attempt.select(Attempt.id, Attempt.answered_at).where(Attempt.answered_at.is_null(False))}
        # where the time goes: the engine writing the answer (its live event's insert time), then the rest
        written = dict(db.execute_sql(
            "SELECT (data->>'id')::bigint, extract(epoch FROM min(at)) * 1000 FROM live_event"
            " WHERE kind = 'attempt' AND data->>'answered_at' IS NOT NULL GROUP BY 1").fetchall())
    latencies = [shown[a] - t for a, t in answered.items() if a in shown]
    to_db = [float(written[a]) - t for a, t in answered.items() if a in written]
    db_to_card = [shown[a] - float(written[a]) for a in answered if a in shown and a in written]
    return {"operators": operators, "answered_calls": len(answered), "samples": len(latencies),
            "answer_to_card_ms_p50": pct(latencies, 50), "answer_to_card_ms_p95": pct(latencies, 95),
            "answer_to_card_ms_max": round(max(latencies), 1) if latencies else None,
            "answer_to_db_ms_p50": pct(to_db, 50), "answer_to_db_ms_p95": pct(to_db, 95),
            "db_to_card_ms_p50": pct(db_to_card, 50), "db_to_card_ms_p95": pct(db_to_card, 95),
            "calls_per_minute": round(len(answered) / elapsed * 60, 1), "web_cpu_percent": round(web_cpu, 1),
            "machine": machine()}


if __name__ == "__main__":
    run_with_telephony(measure, operators=3, calls=60)
