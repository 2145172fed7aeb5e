"""The operator panel against its live events in headless Chromium, without the engine: the call's rows are written
here as the engine writes them (ari_app/store.py), the events they make are read back from `live_event` and handed to
the page as the server sends them (`batch` messages, web/live.py format_batch) through a stand-in EventSource, and the
page's reads of /api/panel/state are made at once but answered when the test says — so a read older than the events
that came while it was under way is no matter of luck.

What broke: a read under way (a second one started on the same new call, or a `reload`) answered after the call's
answer, end and the operator's wrap-up had been applied, and put the card and the status back where the read had found
them: «Набор номера» / «В разговоре» over a call already ended, no wrap-up form."""
from __future__ import annotations

import time

import pytest

from ari_app import events as ev
from ari_app import store
from ari_app.classifier import AttemptFacts
from dialer.models import Campaign, Lead, Operator, OperatorCampaign
from dialer.services import users
from web import live

from .conftest import PASSWORD, sign_in

# a stand-in for the page's EventSource (dialer.js opens one) and a hold on the panel's state reads: each read is
# made when the page asks (the server reads the state then) and answered only on window.__reads.release()
FAKES = """
(() => {
  const sources = [];
  class StandIn {
    constructor(url) { this.url = url; this.readyState = 1; this.listeners = {}; sources.push(this);
                       setTimeout(() => this.onopen && this.onopen(), 0); }
    addEventListener(kind, fn) { (this.listeners[kind] = this.listeners[kind] || []).push(fn); }
    close() { this.readyState = 2; }
  }
  StandIn.CLOSED = 2;
  window.EventSource = StandIn;
  window.__live = (kind, data, id) => sources.forEach((s) =>
    (s.listeners[kind] || []).forEach((fn) => fn({ data, lastEventId: id || "" })));
  const realFetch = window.fetch.bind(window), held = [];
  window.__reads = { hold: false, made: 0,
                     release() { this.hold = false; held.splice(0).forEach((answer) => answer()); } };
  window.fetch = async (url, options) => {
    if (!String(url).includes("/api/panel/state")) return realFetch(url, options);
    const r = await realFetch(url, options), text = await r.text();
    window.__reads.made++;
    const answer = () => new Response(text, { status: r.status, headers: { "Content-Type": "application/json" } });
    return window.__reads.hold ? new Promise((resolve) => held.push(() => resolve(answer()))) : answer();
  };
  // every phase the card was drawn in, in order
  window.__drawn = [];
  new MutationObserver(() => {
    const el = document.querySelector("[data-testid=call-phase]");
    const phase = el && el.dataset.phase;
    if (phase && window.__drawn[window.__drawn.length - 1] !== phase) window.__drawn.push(phase);
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ["data-phase"] });
})();
"""


@pytest.fixture
def shift(db, accounts, new_page):
    """An operator (a user with the operator role) in a campaign with two clients, the panel open on the stand-ins."""
    c = Campaign.create(name="Подтверждение", wrap_up_limit_s=0)
    Lead.insert_many([{"campaign": c.id, "external_id": f"L-{i}", "phone": f"+7900555000{i}", "name": f"Клиент {i}"}
                      for i in (1, 2)]).execute()
    op = Operator.create(name="Оператор 1", login="op1", sip_password="secret-op-1", status="paused")
    OperatorCampaign.create(operator=op.id, campaign=c.id)
    users.create_user("op1@example.org", op.name, PASSWORD, [accounts["operator"]], operator_id=op.id)
    page = new_page()
    page.add_init_script(FAKES)
    sign_in(page, "op1@example.org", PASSWORD)
    return {"db": db, "op": op.id, "page": page, "mark": _head(db)}


def _head(db) -> int:
    return live.head(db).high


def open_panel(s):
    page = s["page"]
    page.goto("/panel")
    page.wait_for_function("window.__reads.made >= 1 && document.querySelector('[data-testid=panel-status]')"
                           ".dataset.status !== 'offline'")
    s["mark"] = _head(s["db"])
    return page


def claim(s):
    """The engine reserves a client for the operator and dials it (the status follows in its own write)."""
    db = s["db"]
    lead = store.claim(db, s["op"], "pbx", "t", time.time(), None)
    store.save_operator(db, s["op"], "in_call", None, None, True)
    store.record(db, lead.attempt_id, "dial_started_at", time.time())
    return lead.attempt_id


def talk_and_end(s, attempt_id):
    """The client answers, is bridged, talks and hangs up; the operator goes to wrap-up."""
    db = s["db"]
    store.record(db, attempt_id, "answered_at", time.time())
    store.record(db, attempt_id, "bridged_at", time.time())
    store.end_attempt(db, ev.EndAttempt(attempt_id, "ANSWERED", AttemptFacts(answered=True, bridged=True, cause=16),
                                        time.time()))
    store.save_operator(db, s["op"], "wrap_up", None, None, True)


def new_events(s) -> list[dict]:
    """The live events written since the last look that this operator's stream carries, oldest first."""
    events = [e for e in live.missed(s["db"], live.Cursor(s["mark"])) if e["operator_id"] == s["op"]]
    s["mark"] = _head(s["db"])
    return events


def send_batch(page, events):
    """As web/live.py sends them: one `batch` message (the data line of format_batch)."""
    assert len(events) > 1
    message = live.format_batch(events, live.Cursor(max(e["id"] for e in events)))
    data = next(line[6:] for line in message.split("\n") if line.startswith("data: "))
    page.evaluate("([data, id]) => window.__live('batch', data, id)", [data, str(max(e["id"] for e in events))])


def hold_a_read(page, trigger):
    """A read of the state made now and answered later: `trigger` makes the page ask."""
    made = page.evaluate("window.__reads.hold = true; window.__reads.made")
    trigger()
    page.wait_for_function(f"window.__reads.made > {made}")


PANEL = "Alpine.$data(document.querySelector('[data-testid=panel]'))"


def release(page):
    """The held reads are answered; back once the page has taken every answer."""
    page.evaluate("window.__reads.release()")
    page.wait_for_function(f"{PANEL}.reading === 0")


def wrapping_up(page, attempt_id):
    page.wait_for_selector(f"body[data-card-shown='{attempt_id}:wrap_up']", timeout=5_000)
    page.wait_for_selector("[data-testid=panel-status][data-status=wrap_up]", timeout=5_000)
    assert page.locator("[data-testid=call-phase]").get_attribute("data-phase") == "wrap_up"
    assert page.locator("[data-testid=wrap-up]").is_visible()
    assert page.locator("[data-testid=result-text]").input_value() == ""
    page.fill("[data-testid=result-text]", "confirmed")
    assert page.locator("[data-testid=wrap-up-save]").is_enabled()


def kinds(events):
    return [(e["kind"], e["data"].get("what")) for e in events]


def test_a_read_answered_after_the_calls_end_does_not_take_the_card_back_to_dialling(shift):
    """The card shows the call dialling; a read is under way (here a `reload`) when the answer, the end and the wrap-up
    come in one batch; the read, made before them, is answered last. The panel stays in wrap-up with the form."""
    s = shift
    attempt_id = claim(s)
    page = open_panel(s)
    page.wait_for_selector(f"body[data-card-shown='{attempt_id}:dialling']")
    hold_a_read(page, lambda: page.evaluate("window.__live('reload', '{}', '1')"))
    talk_and_end(s, attempt_id)
    events = new_events(s)
    assert kinds(events) == [("attempt", None), ("panel.changed", "attempt"), ("attempt", None),
                             ("operator.status", None)]
    send_batch(page, events)
    page.wait_for_selector(f"body[data-card-shown='{attempt_id}:wrap_up']")
    release(page)
    assert page.evaluate("document.body.dataset.cardShown") == f"{attempt_id}:wrap_up"
    wrapping_up(page, attempt_id)
    assert page.locator("[data-testid=panel-status]").get_attribute("data-status") == "wrap_up"


@pytest.mark.parametrize("in_one_batch", [True, False], ids=["one-batch", "one-message-each"])
def test_a_short_call_that_ended_before_the_first_read_was_answered_leaves_the_operator_in_wrap_up(shift, in_one_batch):
    """A 3 s talk on a busy machine: the page hears of the new call and reads its card, and the answer, the end and
    the wrap-up come before that read is answered (which found the call dialling). The card never shows «Разговор» —
    there is no moment it could — and the operator is left in wrap-up with the form."""
    s = shift
    page = open_panel(s)
    page.wait_for_selector("[data-testid=panel-status][data-status=paused]")
    attempt_id = claim(s)
    reserved = new_events(s)
    assert kinds(reserved) == [("attempt", None), ("panel.changed", "operator"), ("operator.status", None),
                               ("panel.changed", "attempt")]
    asked = page.evaluate(f"{PANEL}.asked")
    hold_a_read(page, lambda: send_batch(page, reserved))
    assert page.evaluate(f"{PANEL}.asked") == asked + 1, "one read for one new call"
    talk_and_end(s, attempt_id)
    ended = new_events(s)
    if in_one_batch:
        send_batch(page, ended)
    else:
        for e in ended:
            page.evaluate("([kind, data, id]) => window.__live(kind, data, id)",
                          [e["kind"], live._data(e), str(e["id"])])
    release(page)
    wrapping_up(page, attempt_id)
    assert page.evaluate("window.__drawn") == ["wrap_up"]


@pytest.mark.parametrize("order", ["as-written", "status-first", "status-last"])
def test_the_operators_status_before_or_after_the_new_call_in_one_batch_shows_the_call_and_in_call(shift, order):
    s = shift
    page = open_panel(s)
    page.wait_for_selector("[data-testid=panel-status][data-status=paused]")
    attempt_id = claim(s)
    events = new_events(s)
    status = [e for e in events if e["kind"] == "operator.status"]
    rest = [e for e in events if e["kind"] != "operator.status"]
    send_batch(page, {"as-written": events, "status-first": status + rest, "status-last": rest + status}[order])
    page.wait_for_selector(f"body[data-card-shown='{attempt_id}:dialling']", timeout=5_000)
    page.wait_for_selector("[data-testid=panel-status][data-status=in_call]", timeout=5_000)
    talk_and_end(s, attempt_id)
    ended = new_events(s)
    status = [e for e in ended if e["kind"] == "operator.status"]
    rest = [e for e in ended if e["kind"] != "operator.status"]
    send_batch(page, {"as-written": ended, "status-first": status + rest, "status-last": rest + status}[order])
    wrapping_up(page, attempt_id)


def test_the_panel_starts_once_one_read_and_one_handler_per_event(shift):
    """Alpine calls the component's init() by itself: an x-init calling it too read the state twice on opening and
    handed every event to two handlers."""
    page = open_panel(shift)
    page.wait_for_selector("[data-testid=panel-status][data-status=paused]")
    assert page.evaluate(f"{PANEL}.asked") == 1
    # while a read is under way, each event is kept once to be applied again on its answer
    kept = page.evaluate(f"""([id]) => {{ const p = {PANEL}; p.reading++;
        window.__live('operator.status', JSON.stringify({{id, status: 'paused', since: p.s.status_since, attempt_id: null}}), '1');
        const kept = p.heard.length; p.reading--; p.heard = []; return kept; }}""", [shift["op"]])
    assert kept == 1
