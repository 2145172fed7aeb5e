"""The supervisor's screen through real calls: headless Chromium at 1366×768 on /supervisor, real pbx + sim
Asterisk, PostgreSQL, the engine as its own process, 10 operators with simulated softphones calling.

- every status change of every operator reaches the page (in order), and each answered call shows its client and
  campaign; the counters (calls per operator, the campaign's outcome bar) end equal to the database's;
- a forced Pause of an operator in a call takes effect after the call; a forced end of the call hangs the client
  up in Asterisk;
- an operator who misses three offers raises an alert that appears without a reload and is acknowledged."""
from __future__ import annotations

import json
import os

import pytest

from dialer.models import Alert, Attempt, Campaign, EngineCommand, Operator
from dialer.services import campaigns, leads, operators, users
from dialer.dev.testing import command_all, until
from tests.e2e.conftest import asterisk, engine  # noqa: F401  (real Asterisk and the engine process)

from .conftest import PASSWORD, sign_in

pytestmark = pytest.mark.e2e
LIVE_MS = 5_000
A_NAME, B_NAME, C_NAME = "Подтверждение заказов", "Долгие разговоры", "Без автоответа"

# the page's record of what it showed: each operator's statuses in order, and each call cell's text
OBSERVE = """() => {
  const rows = document.getElementById('sv-operator-rows');
  window.seen = {};
  const snap = () => {
    for (const tr of rows.querySelectorAll('.sv-row[data-op]')) {
      const s = window.seen[tr.dataset.op] || (window.seen[tr.dataset.op] = {statuses: [], calls: []});
      const st = tr.dataset.status, call = tr.querySelector('.sv-call').textContent;
      if (s.statuses[s.statuses.length - 1] !== st) s.statuses.push(st);
      if (call && s.calls[s.calls.length - 1] !== call) s.calls.push(call);
    }
  };
  snap();
  new MutationObserver(snap).observe(rows, {subtree: true, childList: true, characterData: true, attributes: true});
  window.received = [];  // every status change the page was told of
  window.Dialer.live.on("operator.status", (d) => window.received.push([d.id, d.status]));
}"""
GLIMPSE_S = 0.2  # a status shorter than this may be drawn over in the same frame (the page draws once a frame)


def make_campaign(name, **extra):
    cid = campaigns.create_campaign(name=name, max_attempts=1, retry_delay_s=3600, ring_timeout_s=10,
                                    wrap_up_limit_s=extra.pop("wrap_up_limit_s", 1))["id"]
    if hasattr(Campaign, "calling_window"):  # dial whatever the hour of the run (the default window closes at night)
        extra["calling_window"] = {"any_hour": True}
    if extra:
        Campaign.update(**extra).where(Campaign.id == cid).execute()
    return cid


def import_leads(cid, rows):
    text = "external_id,phone,name\n" + "\n".join(f"{ext},+{phone},{name}" for ext, phone, name in rows)
    report = leads.import_csv(cid, text)
    assert not report.errors, report.errors


def make_operators(settings, pools):
    """[(name, login, campaign)] → operators with registered simulated softphones."""
    from dialer.dev import instances

    made = [operators.create_operator(name, login, f"Phone-pass-{n:02d}", [cid]) for n, (name, login, cid) in enumerate(pools)]
    phones = operators.sip_devices()
    instances.sync_sim_phones(settings, phones)
    instances.wait_registered(settings, [login for login, _ in phones], timeout=60)
    return [m["id"] for m in made]


def channels(settings):
    from dialer.dev import instances

    return instances.rx(settings, "pbx", "core show channels concise")


def test_the_screen_follows_ten_operators_calling_and_the_supervisor_steers_them(engine, accounts, browser, web_url, db,
                                                                                request):
    settings = engine.settings
    a = make_campaign(A_NAME)
    b = make_campaign(B_NAME, wrap_up_limit_s=2)
    c = make_campaign(C_NAME, operator_answer_timeout_s=3, missed_offers_limit=3)
    # A: answered calls of 3 s, busy and declining clients; B: a client who talks until hung up; C: offers only
    import_leads(a, [(f"A{i:02d}", f"7900003{i:04d}", f"Клиент А{i:02d}") for i in range(1, 17)]
                 + [(f"B{i:02d}", f"7900100{i:04d}", f"Занятой Б{i:02d}") for i in range(1, 5)]
                 + [(f"R{i:02d}", f"7900200{i:04d}", f"Отказ Р{i:02d}") for i in range(1, 5)])
    import_leads(b, [("LONG", "79000000001", "Долгий Клиент")])
    import_leads(c, [(f"C{i}", f"7900003090{i}", f"Ждущий {i}") for i in range(1, 4)])
    pools = [(f"Оператор {i}", f"sva{i}", a) for i in range(1, 9)] + [("Оператор Долгий", "svb", b),
                                                                       ("Оператор Невнимательный", "svc", c)]
    ids = make_operators(settings, pools)
    calling, long_talker, inattentive = ids[:8], ids[8], ids[9]
    Operator.update(auto_answer=False).where(Operator.id == inattentive).execute()

    users.create_user("sv@example.org", "Светлана Супервайзер", PASSWORD, [accounts["supervisor"]])
    ctx = browser.new_context(base_url=web_url, viewport={"width": 1366, "height": 768})
    request.addfinalizer(ctx.close)
    page = ctx.new_page()
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    sign_in(page, "sv@example.org", PASSWORD)
    page.goto("/supervisor")
    page.wait_for_selector(f"[data-testid=op-row-{inattentive}]")
    page.wait_for_function("document.getElementById('live-status').dataset.state === 'open'")
    page.wait_for_function("window.Supervisor.state.loaded")
    page.evaluate("window.notReloaded = true")
    page.evaluate(OBSERVE)
    (started,) = db.execute_sql("SELECT clock_timestamp()").fetchone()

    command_all(ids, "ready")

    # the long talker is in a call: a forced Pause waits for the call's end
    page.wait_for_function(f"document.querySelector('[data-testid=op-call-{long_talker}]').textContent"
                           ".includes('Долгий Клиент')", timeout=30_000)
    until(lambda: Operator.get_by_id(long_talker).status == "in_call", 20, message="the long talker in a call")
    page.click(f"[data-testid=op-menu-{long_talker}] summary")
    page.click(f"[data-testid=op-pause-{long_talker}]")
    page.wait_for_selector("[data-testid=sv-message]:not([hidden])")
    assert "после звонка" in page.locator("[data-testid=sv-message]").inner_text()
    until(lambda: EngineCommand.select().where(EngineCommand.operator == long_talker, EngineCommand.kind == "pause",
                                               EngineCommand.done_at.is_null(False)).exists(), 10,
          message="the engine to take the Pause")
    call = Attempt.get(Attempt.operator == long_talker)
    assert Operator.get_by_id(long_talker).status == "in_call" and call.ended_at is None
    assert call.client_channel in channels(settings)  # the client still talks
    assert page.locator(f"[data-testid=op-status-{long_talker}]").inner_text() == "В разговоре"

    # the forced end of the call hangs the client up in Asterisk; the Pause then takes effect
    page.once("dialog", lambda d: d.accept())
    page.click(f"[data-testid=op-menu-{long_talker}] summary")
    page.click(f"[data-testid=op-hangup-{long_talker}]")
    until(lambda: Attempt.get_by_id(call.id).ended_at is not None, 10, message="the attempt's end")
    until(lambda: call.client_channel not in channels(settings), 10, message="the client's channel gone")
    assert Attempt.get_by_id(call.id).outcome == "ANSWERED"
    page.wait_for_function(f"document.querySelector('[data-testid=op-status-{long_talker}]').textContent === 'Пауза'",
                           timeout=15_000)
    assert Operator.get_by_id(long_talker).status == "paused"

    # three missed offers: an alert appears without a reload and is acknowledged
    page.wait_for_selector("[data-kind=operator_missed_offers] [data-testid^=alert-acknowledge-]", timeout=40_000)
    assert page.title().startswith("(1) ")
    [alert] = list(Alert.select().where(Alert.kind == "operator_missed_offers"))
    assert alert.operator_id == inattentive
    page.click(f"[data-testid=alert-acknowledge-{alert.id}]")
    page.wait_for_selector(f"[data-testid=alert-ack-{alert.id}]", timeout=LIVE_MS)
    assert "Светлана Супервайзер" in page.locator(f"[data-testid=alert-ack-{alert.id}]").inner_text()
    assert Alert.get_by_id(alert.id).acknowledged_at is not None
    until(lambda: Operator.get_by_id(inattentive).status == "paused", 10, message="the inattentive operator paused")

    # campaign A runs out: everyone of it Ready again, nothing moving
    until(lambda: Attempt.select().where(Attempt.campaign == a, Attempt.ended_at.is_null(False)).count() == 24, 90,
          1.0, message="every lead of campaign A called")
    until(lambda: all(o.status == "ready" for o in Operator.select().where(Operator.id.in_(calling))), 20,
          message="campaign A's operators Ready")
    page.wait_for_function(
        f"[{','.join(map(str, calling))}].every(id => document.querySelector(`[data-testid=op-status-${{id}}]`)"
        ".textContent === 'Готов')", timeout=LIVE_MS)

    # each status change of each operator reached the page, in order, and was shown unless it lasted a glimpse
    seen, received = page.evaluate("window.seen"), page.evaluate("window.received")
    for oid in ids:
        rows = db.execute_sql("SELECT status, extract(epoch FROM lead(at) OVER (ORDER BY at, id) - at)"
                              " FROM operator_status_log WHERE operator_id = %s AND at > %s ORDER BY at, id",
                              (oid, started)).fetchall()
        assert rows, oid
        assert [st for i, st in received if i == oid] == [st for st, _ in rows], oid
        assert _shown(seen[str(oid)]["statuses"][1:], rows), (oid, seen[str(oid)]["statuses"], rows)
    for oid in calling:
        assert {"ready", "in_call", "wrap_up"} <= set(seen[str(oid)]["statuses"]), oid
    # each answered call was shown with its client and campaign
    answered = (Attempt.select(Attempt.operator, Attempt.lead).where(Attempt.campaign == a, Attempt.outcome == "ANSWERED"))
    assert answered.count() == 16
    for at in answered:
        name = at.lead.name
        assert any(name in text and A_NAME in text for text in seen[str(at.operator_id)]["calls"]), (name, at.operator_id)
    # the counters ended where the database is
    for oid in calling:
        n = Attempt.select().where(Attempt.operator == oid, Attempt.ended_at.is_null(False)).count()
        assert page.locator(f"[data-testid=op-calls-{oid}]").inner_text() == str(n), oid
    # the campaign boxes and the chips add up many events and are redrawn at most once a second: waited for
    counts = {"ANSWERED": 16, "BUSY": 4, "REJECTED": 4}
    bar = ("Object.fromEntries([...document.querySelectorAll('[data-testid=camp-bar-%d] [data-outcome]')]"
           ".map((s) => [s.dataset.outcome, Number(s.dataset.count)]))" % a)
    try:
        page.wait_for_function(f"(() => {{ const got = {bar}, want = {json.dumps(counts)};"
                               " return Object.keys(want).every((k) => got[k] === want[k]); })()", timeout=LIVE_MS)
    except Exception:
        raise AssertionError(page.evaluate(bar)) from None
    page.wait_for_function("document.querySelector('[data-testid=chip-ready] b').textContent === '8'"
                           " && document.querySelector('[data-testid=chip-paused] b').textContent === '2'", timeout=LIVE_MS)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    if os.environ.get("DIALER_SHOTS_DIR"):
        page.screenshot(path=os.path.join(os.environ["DIALER_SHOTS_DIR"], "supervisor-calls-ru-1366.png"))
    assert page.evaluate("window.notReloaded") is True
    assert errors == []
    # the engine and AGI processes report themselves for the health check (jobs do not run in this test)
    from dialer.services.health import check
    codes = [r.code for r in check(db, ["pbx"], None)["reasons"]]
    assert codes == ["jobs-not-running"], codes
    assert db.execute_sql("SELECT component, ok FROM component_health ORDER BY 1").fetchall() == [("agi", True),
                                                                                                ("engine", True)]


def _shown(shown: list[str], changes) -> bool:
    """The page showed the logged statuses in their order, nothing else, and missed none that lasted GLIMPSE_S
    or more. `changes`: [(status, seconds it lasted or None for the current one)]."""
    i = 0
    for status, lasted in changes:
        if i < len(shown) and shown[i] == status:
            i += 1
        elif lasted is not None and lasted < GLIMPSE_S:
            continue  # drawn over within a frame
        else:
            return False
    return i == len(shown)
