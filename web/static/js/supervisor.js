/* The supervisor's screen (SPEC F1–F4, F8). The server is the truth; the page keeps a small model of it:
 *   - it reads /api/supervisor/board once the live stream is open (so nothing falls between the read and the
 *     stream), and again only on the stream's `reload` (too much missed to replay) or at midnight;
 *   - then every live event carries facts — `operator.status` (status, since, call), `attempt` (a new call, its
 *     answer, its end and outcome), `attempt.gone` (an offer withdrawn), `campaign` (paused / resumed), `alert` —
 *     and the page applies them to its model and marks what they touch: that operator's row, that campaign;
 *   - the `attempt` event carries the call's client and order (sql/023); the only extra reads are those of a call
 *     heard of first by another event (/api/supervisor/calls?ids=…, batched, and not when its `attempt` event
 *     comes meanwhile) and the queue sizes (/api/supervisor/queues), which no event carries: at most every 15 s.
 * Drawing (measured with bench.supervisor and bench.supervisor_page: 100 operators, 60–100 events/s;
 * docs/supervisor.md): the server paces this page's stream (data-live-pace: at most one message per 70 ms) and the
 * events of a message are applied before it is drawn, once; the marked rows are written in the message's own task
 * while the frame the last drawing asked for has not come (they are rendered with it) or FRAME_MS after that
 * drawing, else at the next such event or an animation frame (see handle; no frame is asked for only to wait), so
 * the browser renders at most every FRAME_MS;
 * inside Alpine.mutateDom (Alpine's document-wide observer never walks the page's own drawing), each changing text
 * through its own text node (no nodes made or thrown away), attributes only when they change, no layout read; a row
 * whose sort key changed moves alone (a binary search in the kept order); the rows have one height in one scroll
 * area, so the rows on screen are a range of the order found from the scroll position, and only their clocks tick,
 * in one pass a second; a row off screen is not written at all until it comes into view (then from the model as it
 * is), and a change to it alone needs no drawing (applyOffScreen); the campaign boxes and status chips, which add
 * up many events, at most once a second; the action buttons' states when their menu opens; an alert's own item
 * only (a new one flashes at most every FLASH_EVERY_MS). Events that arrive while the board is being read are kept
 * and applied after it; an attempt's end is counted once (the board names the attempts that ended in the last
 * minutes).
 * Nothing here uses innerHTML with data. */
(function () {
  "use strict";
  const root = document.getElementById("supervisor");
  if (!root) return;
  const W = JSON.parse(document.getElementById("sv-words").textContent);
  const OUTCOMES = JSON.parse(document.getElementById("sv-outcomes").textContent);
  const lang = document.body.dataset.lang || "ru";
  const may = { op: root.dataset.mayOperator === "1", camp: root.dataset.mayCampaign === "1",
                alerts: root.dataset.mayAlerts === "1", calls: root.dataset.mayCalls === "1" };
  const STATUSES = ["ready", "in_call", "wrap_up", "paused", "lunch", "offline"];
  const STATUS_ORDER = { in_call: 0, wrap_up: 1, ready: 2, paused: 3, lunch: 4, offline: 5 };
  const QUEUE_EVERY_MS = 15000;
  const BRIEF_WAIT_MS = 200;  // a call heard of first by another event: its `attempt` event may follow, else one read
  const BRIEF_FACTS = ["client", "order_id", "reserved_at", "offer", "manual", "dial_started_at"];  // a call's, read or told
  const SIGNED_IN = ["ready", "in_call", "wrap_up", "paused", "lunch"];  // the day bar: shares of the time not offline
  const DAY_BAR_EVERY_S = 5;
  const RIDE_MS = 250;  // the clock pass waits at most this long for an event's drawing to ride on (see the clock)
  // at most 10 drawings a second while events stream in (schedule, below). A stream paced by the server (the page's
  // data-live-pace, web/pages/supervisor.py) brings at most one message so often, and each is drawn as it comes:
  // the wait here is then only a bound for the other causes of a drawing, and lets a message that came a little
  // early (the network's and the machine's jitter) be drawn at once
  const PACED_MS = Number(document.body.dataset.livePace) || 0;
  const FRAME_MS = PACED_MS ? PACED_MS / 2 : 100;
  const $ = (id) => document.getElementById(id);
  const NBSP = "\u00a0";

  const S = {
    ops: new Map(), camps: new Map(), calls: new Map(), alerts: new Map(),
    counted: new Set(),       // attempts whose end is in today's figures
    skew: 0, dayEnd: Infinity, loaded: false, reading: 0, buffered: [],
    dirtyOps: new Set(), moved: new Set(), dirtyCamps: false, dirtyChips: false, arrangeAll: true, frame: false,
    needBrief: new Set(), briefTimer: null, queueAt: 0, queueTimer: null, loadAt: 0,
    dirtyAlerts: new Set(), alertEls: new Map(), alertOrder: [], flashAt: -Infinity,
    filter: { pool: "", campaign: "", status: "" }, sort: "name", order: [], onScreen: new Set(), ticking: new Set(),
    flushAt: -Infinity, beeps: 0, ticks: 0, urgent: false, flushes: 0,
    clocksDue: false, dayDue: false, sumsDue: false, eventAt: -Infinity, rideTimer: null, drawn: null, drawQueued: false,
    campsOnScreen: new Set(),
  };
  const baseTitle = document.title;
  const now = () => Date.now() + S.skew;
  const ms = (iso) => (iso ? Date.parse(iso) : null);

  // ---- small DOM helpers -------------------------------------------------------------------------------
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v; else if (k === "text") el.textContent = v; else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children) if (c !== null && c !== undefined) el.append(c);
    return el;
  }
  // a text that changes lives in its own text node: writing `.data` is a characterData mutation, which no
  // observer of this page watches (Alpine's watches childList and attributes of the whole document), and it
  // makes and drops no node; every write is guarded, as a write of the same value is still a mutation
  const txt = (text) => document.createTextNode(text || "");
  const put = (node, text) => { if (node.data !== text) node.data = text; };
  const setText = (el, text) => { if (el.textContent !== text) el.textContent = text; };
  const setData = (el, key, value) => { if (el.dataset[key] !== value) el.dataset[key] = value; };
  const setAttr = (el, name, value) => { if (el.getAttribute(name) !== value) el.setAttribute(name, value); };
  const setTitle = (el, value) => { if (el.title !== value) el.title = value; };
  const setWidth = (el, value) => { if (el.style.width !== value) el.style.width = value; };
  const setFlag = (el, key, value) => { if (el[key] !== value) el[key] = value; };
  const percent = (n, total) => (total ? ((100 * n) / total).toFixed(2) + "%" : "0%");
  function clock(seconds) {
    if (seconds === null || seconds === undefined || !isFinite(seconds)) return "—";
    const s = Math.max(0, Math.floor(seconds)), hh = Math.floor(s / 3600), mm = Math.floor((s % 3600) / 60), ss = s % 60;
    const two = (n) => String(n).padStart(2, "0");
    return hh ? hh + ":" + two(mm) + ":" + two(ss) : mm + ":" + two(ss);
  }
  const hhmm = (iso) => (iso ? new Date(iso).toLocaleTimeString(lang === "en" ? "en-GB" : "ru-RU") : "");

  let messageTimer = null;
  function message(text, bad) {
    const el = $("sv-message");
    el.textContent = text; el.hidden = false; el.classList.toggle("bad", !!bad);
    clearTimeout(messageTimer);
    messageTimer = setTimeout(() => { el.hidden = true; }, 5000);
  }
  const errorText = (body) => (lang === "ru" ? body.message_ru || body.message : body.message) || String(body.error || body);

  async function post(url, body) {
    const r = await fetch(url, { method: "POST", body: JSON.stringify(body || {}),
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": window.Dialer.csrf() } });
    let data = {};
    try { data = await r.json(); } catch (_) { /* an empty answer */ }
    if (!r.ok) throw data;
    return data;
  }

  // ---- reading the board -----------------------------------------------------------------------------
  async function load() {
    S.loadAt = Date.now();
    S.reading++;
    try {
      const r = await fetch("/api/supervisor/board", { headers: { Accept: "application/json" } });
      const body = await r.json();
      if (!r.ok) { message(errorText(body), true); return; }
      applyBoard(body);
      if (may.alerts) await loadAlerts();
    } catch (e) {
      message(String(e), true);
    } finally {
      S.reading--;
      if (!S.reading) {  // what arrived meanwhile is newer than (or already in) the board: apply it now
        const later = S.buffered; S.buffered = [];
        if (S.overflow || S.again) { S.overflow = S.again = false; load(); return; }
        for (const [kind, data] of later) handle(kind, data);
      }
    }
  }

  function applyBoard(b) {
    S.skew = Date.parse(b.now) - Date.now();
    S.dayEnd = Date.parse(b.day_start) + 24 * 3600 * 1000;
    S.counted = new Set(b.ended_recent);
    S.calls.clear();
    for (const c of b.calls) S.calls.set(c.id, c);
    const seen = new Set();
    for (const o of b.operators) {
      seen.add(o.id);
      const op = S.ops.get(o.id) || { id: o.id, el: null };
      Object.assign(op, { name: o.name, login: o.login, status: o.status, since: o.since, reason: o.pause_reason || "",
                          campaign_ids: o.campaign_ids,
                          sip: o.sip, today: o.today, callId: o.attempt_id || null, dayAt: Date.parse(b.now) });
      op.today.status_s = op.today.status_s || {};
      S.ops.set(o.id, op);
      markOp(op);
    }
    for (const [id, op] of S.ops) if (!seen.has(id)) { if (op.el) dropRow(op); S.ops.delete(id); }
    for (const c of S.calls.values()) noteCall(c);
    const list = $("sv-campaign-list");
    const campSeen = new Set();
    for (const cp of b.campaigns) {
      campSeen.add(cp.id);
      const camp = S.camps.get(cp.id) || { id: cp.id, el: null };
      Object.assign(camp, { name: cp.name, active: cp.active, outcomes: cp.outcomes, queue: cp.queue, autostop: cp.autostop });
      S.camps.set(cp.id, camp);
    }
    for (const [id, camp] of S.camps) {
      if (campSeen.has(id)) continue;
      if (camp.el) { campWatch.unobserve(camp.el.box); camp.el.box.remove(); }
      S.camps.delete(id); S.campsOnScreen.delete(id);
    }
    list.replaceChildren(...b.campaigns.map((cp) => campaignBox(S.camps.get(cp.id)).box));
    fillCampaignFilter();
    S.queueAt = Date.now();
    S.loaded = true;
    S.dirtyCamps = true; S.dirtyChips = true; S.arrangeAll = true; S.urgent = true;
    schedule();
  }

  // the pool filter (operators in a campaign's pool) and the campaign filter (operators calling for it now)
  function fillCampaignFilter() {
    for (const key of ["pool", "campaign"]) {
      const sel = $("sv-filter-" + key), keep = sel.value;
      const first = sel.options[0];
      sel.replaceChildren(first, ...[...S.camps.values()].map((c) => h("option", { value: c.id, text: c.name })));
      sel.value = [...sel.options].some((o) => o.value === keep) ? keep : "";
      S.filter[key] = sel.value;
    }
  }

  async function loadAlerts() {
    const r = await fetch("/api/supervisor/alerts", { headers: { Accept: "application/json" } });
    if (!r.ok) return;
    const list = await r.json();
    S.alerts.clear();
    for (const a of list) S.alerts.set(a.id, a);
    renderAlerts();
  }

  // ---- live events: facts in, the model changes, the page redraws what changed -------------------------
  function handle(kind, d) {
    if (!S.loaded || S.reading) {
      if (S.buffered.length < 5000) S.buffered.push([kind, d]); else S.overflow = true;  // then the board is read again
      return;
    }
    // the frame is asked for after the event is applied, and only when something on screen is left to draw: most
    // events change a row scrolled away (applyOffScreen) or only the sums drawn once a second, and a frame asked for
    // them runs the browser's rendering update (and its compositor's frames) for nothing (traced: ~2 empty frames a
    // second at 100 operators)
    S.inEvent = true;
    try {
      switch (kind) {
        case "operator.status": onOperatorStatus(d); break;
        case "attempt": onAttempt(d); break;
        case "attempt.gone": onAttemptGone(d); break;
        case "campaign": onCampaign(d); break;
        case "alert": onAlert(d); break;
        case "sip.registration": onSip(d); break;
        default: return;
      }
    } finally { S.inEvent = false; }
    // drawn in this event's own task when that costs the browser no rendering of its own: while the last drawing
    // has not been rendered yet (its frame has not come: what is written now is rendered in the same one), or
    // FRAME_MS after the drawing that asked for a frame; else at the next such event, or the frame schedule()
    // asked for. Measured with bench.supervisor on a machine short of cores: each step between an event and its
    // drawing that is not this task (a timer, an animation frame: the compositor's turn, then the main thread's; a
    // posted message was worse still) waits for a core, and the page drew 0.5–0.8 times a second, seconds after
    // the events had arrived (arrive_ms against dom_ms). The browser renders no more often than before.
    // The events of one message (a batch) are all applied before that drawing: it is done once, after them (a
    // microtask runs when the message's task has handed out its last event)
    applyOffScreen();
    S.eventAt = performance.now();
    if (!drawingWanted()) return;
    schedule();
    if (!S.drawQueued) { S.drawQueued = true; queueMicrotask(drawInTask); }
  }
  function drawInTask() {
    S.drawQueued = false;
    if ((S.frame || S.waitTimer) && !document.hidden && (S.framePending || performance.now() - S.flushAt >= FRAME_MS)) flush();
  }

  // whether the model holds changes a drawing must write now; the sums alone (chips, campaign boxes) wait for the
  // once-a-second clock pass (below), unless a person's own change or a read of the board wants them at once
  function drawingWanted() {
    if (S.dirtyOps.size || S.moved.size || S.arrangeAll || S.viewDirty || S.dirtyAlerts.size) return true;
    return S.urgent && (S.dirtyChips || S.dirtyCamps);
  }

  // a marked operator whose row is off screen, stays shown or hidden and keeps its place: nothing of theirs is written
  // (drawOp), so they need no drawing and do not wait for one (FRAME_MS) — done here, in the event's own task (the
  // sums that count them, the chips, are drawn with the next drawing as before)
  function applyOffScreen() {
    if (!S.dirtyOps.size || S.arrangeAll || !S.loaded) return;
    let done = 0;
    for (const id of S.dirtyOps) {
      const op = S.ops.get(id);
      if (!op || !op.el || S.onScreen.has(id) || (op.el.menu && op.el.menu.open)) continue;
      if (visible(op) === op.el.row.hidden || sortKey(op) !== op.placedKey) continue;  // it shows, hides or moves
      op.stale = true;
      S.dirtyOps.delete(id);
      done++;
      if (S.drawn) S.drawn(id, op.status);
    }
    if (done) S.dirtyChips = true;
  }

  // ---- SIP registration (issue 14): the operator's device, online or not, its address and user agent ---------
  function onSip(d) {
    const op = d.operator_id && S.ops.get(d.operator_id);
    if (!op) return;  // a seat's device, or one unbound: not on this screen
    const before = sipSig(op.sip);
    op.sip = { device_id: d.device_id, login: d.login, registration: d.registration };
    // most of these events are a phone's registration refreshed or its round-trip time measured again (~9 a second
    // at 100 operators): nothing this screen shows changed, so nothing is drawn for them
    if (sipSig(op.sip) !== before) markOp(op);
  }

  // what this screen shows of a device's registration (its expiry and round-trip time are the «Телефония» page's)
  function sipSig(s) {
    const reg = s && s.registration;
    return s ? [s.login, reg.online, reg.ip, reg.port, reg.user_agent, reg.qualify_status].join("|") : "";
  }

  function drawSip(op) {
    const s = op.sip, reg = s && s.registration, el = op.el.sip;
    const sig = sipSig(s);
    if (el.dataset.sig === sig && el.childNodes.length) return;
    el.dataset.sig = sig;
    if (!s) { el.className = "sv-sip muted"; el.title = W.sip_none || ""; el.replaceChildren("—"); return; }
    const bad = reg.online && reg.qualify_status === "Unreachable";
    el.className = "sv-sip";
    el.dataset.online = reg.online ? "yes" : "no";
    el.dataset.qualify = reg.qualify_status || "";
    el.title = s.login + (reg.online ? " · " + reg.ip + ":" + reg.port + " · " + (reg.user_agent || "") : "");
    el.replaceChildren(h("span", { class: "reg-dot" }), " ",
      h("span", { "data-reg": "state", text: bad ? W.sip_unreachable : reg.online ? W.sip_online : W.sip_offline }),
      reg.online ? h("div", { class: "sv-sub", text: reg.ip + (reg.user_agent ? " · " + reg.user_agent : "") }) : "");
  }

  // the operator's `pause_reason` (ari_app/servers.py pause_code): their Asterisk server was lost
  function reasonText(code) {
    const m = /^asterisk-lost:(.*)$/.exec(code || "");
    return m ? W.server_lost.replace("{server}", m[1]) : code || "";
  }

  function onOperatorStatus(d) {
    const op = S.ops.get(d.id);
    if (!op) { reloadSoon(); return; }  // an operator created after the board was read
    if (op.since && d.since && Date.parse(d.since) < Date.parse(op.since)) return;  // an older change, delivered late
    accrue(op, d.since ? Date.parse(d.since) : now());
    op.status = d.status; op.since = d.since; op.reason = d.pause_reason || "";
    if (d.attempt_id) { op.callId = Math.max(op.callId || 0, d.attempt_id); if (!S.calls.has(d.attempt_id)) brief(d.attempt_id); }
    S.dirtyCamps = true; S.dirtyChips = true;
    markOp(op);
  }

  function onAttempt(d) {
    let c = S.calls.get(d.id);
    if (!c) {
      c = { id: d.id, campaign_id: d.campaign_id, operator_id: d.operator_id, client: null, order_id: null,
            answered_at: null, ended_at: null, outcome: null, offer: false };
      S.calls.set(d.id, c);
      if (d.client === undefined) brief(d.id);  // an event without the call's own facts: read them
      queueSoon();  // a lead left the queue
    }
    if (d.client !== undefined) {  // the event carries the call's facts (sql/023): no read of its own
      for (const k of BRIEF_FACTS) c[k] = d[k];
      c.briefed = true;
    }
    // timeline facts only ever get set: a late event never unsets one
    c.answered_at = c.answered_at || d.answered_at;
    c.ended_at = c.ended_at || d.ended_at;
    c.outcome = c.outcome || d.outcome;
    noteCall(c);
    if (c.ended_at && c.outcome && !S.counted.has(c.id)) countEnd(c);
    S.dirtyCamps = true;
  }

  function noteCall(c) {
    const op = c.operator_id && S.ops.get(c.operator_id);
    if (!op) return;
    if (!op.callId || c.id >= op.callId) {
      if (op.callId && op.callId !== c.id) dropCall(op.callId);
      op.callId = c.id;
    }
    markOp(op);
  }

  function dropCall(id) {
    const c = S.calls.get(id);
    if (c && c.ended_at) S.calls.delete(id);  // ended and no longer anybody's current call
  }

  function countEnd(c) {
    S.counted.add(c.id);
    if (S.counted.size > 20000) S.counted.delete(S.counted.values().next().value);
    const camp = S.camps.get(c.campaign_id);
    if (camp) camp.outcomes[c.outcome] = (camp.outcomes[c.outcome] || 0) + 1;
    const op = c.operator_id && S.ops.get(c.operator_id);
    if (op) {
      const t = op.today;
      t.calls++;
      if (c.outcome === "ANSWERED") {
        t.answered++;
        if (c.answered_at) t.talk_s += Math.max(0, (ms(c.ended_at) - ms(c.answered_at)) / 1000);
      }
      t.rating = t.answered + Math.floor(t.talk_s / 60);  // dialer/services/supervisor.py `rating`
      markOp(op);
    }
    if (!op || op.callId !== c.id) S.calls.delete(c.id);
  }

  function onAttemptGone(d) {
    S.calls.delete(d.id);
    const op = d.operator_id && S.ops.get(d.operator_id);
    if (op) markOp(op);
    S.dirtyCamps = true;
    queueSoon();  // the lead is back in the queue
    schedule();
  }

  function onCampaign(d) {
    const camp = S.camps.get(d.id);
    if (!camp) { reloadSoon(); return; }
    camp.active = d.active; camp.name = d.name;
    if (d.active) camp.autostop = null;  // resumed: by a confirmation, or by hand
    S.dirtyCamps = true;
    queueSoon();
    schedule();
  }

  function brief(id) {
    S.needBrief.add(id);
    if (!S.briefTimer) S.briefTimer = setTimeout(readBriefs, BRIEF_WAIT_MS);
  }

  async function readBriefs() {
    S.briefTimer = null;
    for (const id of S.needBrief) if ((S.calls.get(id) || {}).briefed) S.needBrief.delete(id);  // its event told
    if (!S.needBrief.size) return;
    const ids = [...S.needBrief].slice(0, 100);
    ids.forEach((id) => S.needBrief.delete(id));
    if (S.needBrief.size) S.briefTimer = setTimeout(readBriefs, BRIEF_WAIT_MS);
    try {
      const r = await fetch("/api/supervisor/calls?ids=" + ids.join(","), { headers: { Accept: "application/json" } });
      if (!r.ok) return;
      for (const b of await r.json()) {
        let c = S.calls.get(b.id);
        if (!c) {  // gone meanwhile: wanted again only while it is still somebody's call
          const op = b.operator_id && S.ops.get(b.operator_id);
          if (b.ended_at && !(op && op.callId === b.id)) continue;
          c = b; S.calls.set(b.id, c);
        }
        for (const k of [...BRIEF_FACTS, "campaign_id", "operator_id"]) c[k] = b[k];
        for (const k of ["answered_at", "ended_at", "outcome"]) c[k] = c[k] || b[k];
        noteCall(c);
        if (c.ended_at && c.outcome && !S.counted.has(c.id) && S.loaded) countEnd(c);
      }
      S.dirtyCamps = true;
      schedule();
    } catch (_) { /* the next event asks again */ }
  }

  function queueSoon() {
    if (S.queueTimer) return;
    const wait = Math.max(0, S.queueAt + QUEUE_EVERY_MS - Date.now());
    S.queueTimer = setTimeout(async () => {
      S.queueAt = Date.now();
      try {
        const r = await fetch("/api/supervisor/queues", { headers: { Accept: "application/json" } });
        if (r.ok) {
          for (const [id, n] of Object.entries(await r.json())) { const c = S.camps.get(Number(id)); if (c) c.queue = n; }
          S.dirtyCamps = true; schedule();
        }
      } finally { S.queueTimer = null; }
    }, wait);
  }

  function reloadSoon() {
    if (S.reading || Date.now() - S.loadAt < 5000) return;
    load();
  }

  // today's time in each status (dialer/services/status_time.py): the board's seconds up to its `now`, then the
  // live status changes; the status the operator is in now counts up to this moment
  function accrue(op, t) {
    if (!op.dayAt || !(t > op.dayAt)) return;
    const s = op.today.status_s;
    s[op.status] = (s[op.status] || 0) + (t - op.dayAt) / 1000;
    op.dayAt = t;
  }

  function daySeconds(op, t) {
    const s = Object.assign({}, op.today.status_s);
    if (op.dayAt && t > op.dayAt) s[op.status] = (s[op.status] || 0) + (t - op.dayAt) / 1000;
    return s;
  }

  function drawDay(op, t) {
    const bar = op.el.day, s = daySeconds(op, t);
    const total = SIGNED_IN.reduce((sum, k) => sum + (s[k] || 0), 0);
    if (bar.children.length !== SIGNED_IN.length) {
      bar.replaceChildren(...SIGNED_IN.map((k) => h("span", { "data-status": k })));
    }
    SIGNED_IN.forEach((k, i) => {
      const span = bar.children[i], n = s[k] || 0;
      setWidth(span, percent(n, total));
    });
    setTitle(bar, total ? SIGNED_IN.filter((k) => s[k]).map((k) => W[k] + " " + Math.round((100 * s[k]) / total) + " % (" + clock(s[k]) + ")").join(" · ")
      + (s.offline ? " · " + W.offline + " " + clock(s.offline) : "") : W.no_day);
    op.dayStatus = op.status;
  }

  // ---- drawing -----------------------------------------------------------------------------------------
  function markOp(op) { S.dirtyOps.add(op.id); schedule(); }
  // a frame with changes costs the page a few ms of fixed work (style, layout, paint, layerize) besides what changed
  // (bench.supervisor_page traces): while events stream in, the marked rows are drawn at most every FRAME_MS, a
  // change after a quiet moment at the next frame. The drawing itself is always in an animation frame (on a busy
  // machine the browser keeps giving frames while timer tasks wait behind the stream's events: with the drawing in
  // a timer the page drew 0.1 times a second under bench.supervisor). The wait is not done by asking frame after
  // frame (each asked frame runs the whole rendering update even when nothing changed: traced, 41 frames a second
  // for 9 drawings): while events stream in, the first event after the wait asks for the frame; a timer asks only
  // for the last events of a burst, when no event is queued before it
  function schedule() {
    if (S.frame || S.inEvent) return;  // an event's own changes: handle() asks once they are applied
    if (document.hidden) { S.frame = true; setTimeout(() => { if (S.frame) flush(true); }, 200); return; }  // frames stop in a hidden tab
    const wait = S.flushAt + FRAME_MS - 8 - performance.now();
    if (wait <= 0) {
      S.frame = true;
      if (S.waitTimer) { clearTimeout(S.waitTimer); S.waitTimer = null; }
      requestAnimationFrame(flushFrame);
    } else if (!S.waitTimer) {
      S.waitTimer = setTimeout(() => { S.waitTimer = null; schedule(); }, wait);
    }
  }

  // once a frame: the marked rows (their cells, visibility and place); the sums (chips, campaign boxes) once a
  // second with the clocks (drawDue) — a person's own change of a filter or sort is drawn at once
  // Alpine watches the attributes of the whole document; the page's own drawing is of no interest to it (no x-
  // directive is ever made here), so it is done inside Alpine.mutateDom, which leaves it out (traced: Alpine's
  // callback took 4.5 ms for each drawing's attribute changes)
  const quiet = (fn) => (window.Alpine && window.Alpine.mutateDom ? window.Alpine.mutateDom(fn) : fn());
  function flushFrame() { if (S.frame) flush(true); }  // else drawn meanwhile (handle, drawNow): nothing is waiting
  // a drawing out of an animation frame asks for one (framePending until it comes): the drawings before it come
  // are rendered with it; FRAME_MS counts from the drawing that asked
  function flush(inFrame) {
    S.frame = false;
    if (S.waitTimer) { clearTimeout(S.waitTimer); S.waitTimer = null; }
    if (inFrame) S.flushAt = performance.now();
    else if (!S.framePending) {
      S.flushAt = performance.now();
      S.framePending = true;
      requestAnimationFrame(() => { S.framePending = false; });
    }
    quiet(draw);
  }
  // S.drawn(id, status), when set (bench.supervisor): told of each operator this drawing applied, at its end — the
  // moment the screen is current for them, whether their row is on screen (written) or not (written on coming into view)
  function draw() {
    S.flushes++;
    const applied = S.drawn ? [...S.dirtyOps] : null;
    drawMarked();
    if (applied) for (const id of applied) { const op = S.ops.get(id); if (op) S.drawn(id, op.status); }
  }
  function drawMarked() {
    const rows = $("sv-operator-rows");
    for (const id of S.dirtyOps) {
      const op = S.ops.get(id);
      if (!op) continue;
      let fresh = false;
      if (!op.el) { op.el = opRow(op); rows.append(op.el.row); S.arrangeAll = true; fresh = true; }
      drawOp(op, fresh);
    }
    if (S.dirtyOps.size) S.dirtyChips = true;  // the counts, and the shown count under a filter
    S.dirtyOps.clear();
    if (S.arrangeAll) { S.arrangeAll = false; S.moved.clear(); arrange(); S.dirtyChips = true; S.viewDirty = true; }
    else if (S.moved.size) { placeMoved(); S.viewDirty = true; }
    if (S.viewDirty) findOnScreen();
    if (S.dirtyAlerts.size) drawAlerts();
    drawDue();
  }
  // what the clock pass marked due (and the sums a person's own change wants now): with this drawing, so that the
  // once-a-second work costs the browser no frame of its own while events stream in
  function drawDue() {
    if (S.clocksDue) tickClocks();
    if (!S.urgent && !S.sumsDue) return;
    S.urgent = S.sumsDue = false;
    if (S.dirtyChips) { S.dirtyChips = false; drawChips(); }
    if (S.dirtyCamps) { S.dirtyCamps = false; drawCampaigns(); }
  }
  const drawNow = () => { S.urgent = true; flush(); };  // a person's own change: drawn at once, in its own event

  function currentCall(op) {
    const c = op.callId && S.calls.get(op.callId);
    if (!c) return null;
    if (!c.ended_at) return c;
    return op.status === "wrap_up" && c.outcome === "ANSWERED" ? c : null;
  }

  function phaseOf(c) {
    if (c.ended_at) return "wrapping";
    if (c.answered_at) return "talking";
    return c.offer ? "offer" : "dialling";
  }

  // a row is built once; afterwards only its text nodes and a few attributes change
  function opRow(op) {
    const id = op.id;
    const el = {};
    const cell = (cls, testid, ...kids) => h("div", { role: "cell", class: cls, "data-testid": testid && testid + "-" + id }, ...kids);
    el.nameT = txt(); el.loginT = txt(); el.statusT = txt(); el.sinceT = txt();
    el.callsT = txt(); el.talkT = txt(); el.shareT = txt(); el.ratingT = txt();
    el.status = h("span", { class: "sv-st", "data-testid": "op-status-" + id }, h("span", { class: "sv-dot" }), h("span", {}, el.statusT));
    el.day = h("div", { class: "sv-day", "data-testid": "op-day-" + id });
    el.since = cell("r sv-time", "op-since", el.sinceT);
    // the current call: phase, talk time, client (a link to the card for calls.read), campaign · order
    el.phaseT = txt(); el.callTimeT = txt(); el.clientT = txt(); el.callSubT = txt();
    el.phase = h("span", { class: "sv-phase" }, el.phaseT);
    el.client = may.calls ? h("a", { target: "_blank", rel: "noopener", title: W.open_card, class: "sv-client" }, el.clientT)
                          : h("span", { class: "sv-client" }, el.clientT);
    // the two lines stay in place without a call (the phase and the link hidden, a blank in each line): see drawCall
    el.phase.hidden = true; el.client.hidden = true;
    el.callLine = h("div", {}, el.phase, h("span", { class: "sv-time" }, el.callTimeT), el.client);
    el.callSub = h("div", { class: "sv-sub" }, el.callSubT);
    el.call = cell("sv-call", "op-call", el.callLine, el.callSub);
    el.sip = cell("sv-sip", "op-sip");
    const cells = [h("div", { role: "cell", class: "sv-who" }, h("span", { class: "sv-name" }, el.nameT), " ", h("span", { class: "sv-login" }, el.loginT)),
      h("div", { role: "cell" }, el.status, el.day), el.since, el.call, el.sip,
      cell("sv-num", "op-calls", el.callsT), cell("sv-num sv-time", "op-talk", el.talkT),
      cell("sv-num", "op-answered", el.shareT), cell("sv-num", "op-rating", el.ratingT)];
    if (may.op) cells.push(h("div", { role: "cell", class: "sv-actions" }, actionMenu(op, el)));
    el.row = h("div", { class: "sv-row", role: "row", "data-op": id, "data-testid": "op-row-" + id }, ...cells);
    return el;
  }

  function actionMenu(op, el) {
    const b = (key, label, fn) => {
      const btn = h("button", { type: "button", "data-testid": "op-" + key + "-" + op.id, text: label });
      btn.addEventListener("click", () => { btn.closest("details").open = false; fn(); });
      el["btn_" + key] = btn;
      return btn;
    };
    const url = "/api/supervisor/operators/" + op.id;
    const act = async (path, body, text) => {
      try {
        const r = await post(url + path, body);
        message(op.name + ": " + text + (r.after_call ? " — " + W.after_call : ""));
      } catch (e) { message(op.name + ": " + errorText(e), true); }
    };
    const menu = h("details", { class: "sv-menu", "data-testid": "op-menu-" + op.id },
      h("summary", { title: W.actions, "aria-label": W.actions, text: "⋯" }),
      h("div", {},
        b("ready", W.set_ready, () => act("/status", { status: "ready" }, W.set_ready)),
        b("pause", W.set_pause, () => act("/status", { status: "pause" }, W.set_pause)),
        b("lunch", W.set_lunch, () => act("/status", { status: "lunch" }, W.set_lunch)),
        b("hangup", W.hangup, () => { if (window.confirm(W.confirm_hangup)) act("/hangup", {}, W.hangup); }),
        b("release", W.release, () => act("/release", {}, W.release))));
    // a row paints only inside itself (supervisor.css): while its menu is open, the menu may overflow it
    el.menu = menu;
    menu.addEventListener("toggle", () => { if (menu.open) drawActions(op); el.row.classList.toggle("menu-open", menu.open); });
    return menu;
  }

  // a row off screen is not written (measured: each change to one laid its row and the whole scroll area out again,
  // ~7 times a second at 100 operators): only what decides where the rows are — shown under the filter, its place in
  // the order — is kept; the rest is written when it comes into view (findOnScreen), from the model as it is then.
  // A new row is written once in full (its name and login are there for the page's own search)
  function drawOp(op, fresh) {
    const el = op.el;
    if (el.menu && el.menu.open) drawActions(op);
    const hide = !visible(op);
    if (el.row.hidden !== hide) { el.row.hidden = hide; S.viewDirty = true; }
    const key = sortKey(op);
    if (key !== op.placedKey) { op.placedKey = key; S.moved.add(op.id); }
    if (!fresh && !S.onScreen.has(op.id)) { op.stale = true; return; }
    drawCells(op);
  }

  function drawCells(op) {
    const el = op.el;
    op.stale = false;
    setData(el.row, "status", op.status);
    put(el.nameT, op.name); put(el.loginT, op.login);
    setData(el.status, "status", op.status);
    put(el.statusT, W[op.status] || op.status);
    setAttr(el.status, "title", reasonText(op.reason));  // why the engine paused the operator
    setData(el.status, "reason", op.reason ? "yes" : "");
    const t = op.today;
    put(el.callsT, String(t.calls));
    put(el.talkT, clock(t.talk_s));
    put(el.shareT, t.calls ? Math.round((100 * t.answered) / t.calls) + " %" : "—");
    put(el.ratingT, String(t.rating));
    drawCall(op);
    drawSip(op);
    // the clocks and the day bar: now when the row is on screen, else when it comes into view
    if (S.onScreen.has(op.id)) tickOp(op, now());  // the day bar: with the clock's pass every DAY_BAR_EVERY_S
  }

  // the actions a person may take now: worked out when the menu opens and while it is open, not at every drawing
  function drawActions(op) {
    const el = op.el, c = currentCall(op);
    setFlag(el.btn_ready, "disabled", op.status === "ready");
    setFlag(el.btn_pause, "disabled", op.status === "paused");
    setFlag(el.btn_lunch, "disabled", op.status === "lunch");
    setFlag(el.btn_hangup, "disabled", !(c && !c.ended_at));
    setFlag(el.btn_release, "disabled", op.status !== "wrap_up");
  }

  // The call cell clips its text, so its contents are a paint chunk of their own; a chunk that appears, goes, changes
  // its bounds or whether it has text makes the browser work out the page's compositing layers again in full at that
  // frame (~1.5 ms, traced: nearly every drawing, as nearly every status change starts or ends a call). So the cell
  // keeps its two lines without a call, each a box of the card's colour with a blank (invisible: the row has no
  // colour of its own), and only the phase and the link are hidden: the chunk stays, its bounds are the lines'
  function drawCall(op) {
    const el = op.el, c = currentCall(op);
    setFlag(el.phase, "hidden", !c); setFlag(el.client, "hidden", !c);
    if (!c) {
      put(el.phaseT, ""); put(el.callTimeT, NBSP); put(el.clientT, ""); put(el.callSubT, NBSP);
      return;
    }
    const camp = S.camps.get(c.campaign_id), phase = phaseOf(c);
    setData(el.phase, "phase", phase);
    put(el.phaseT, W[phase]);
    put(el.clientT, c.client === null || c.client === undefined ? "…" : c.client || "—");
    if (may.calls) setAttr(el.client, "href", "/supervisor/calls/" + c.id);
    put(el.callSubT, (camp ? camp.name : "#" + c.campaign_id) + (c.order_id ? " · " + W.order + " " + c.order_id : "")
      + (c.manual ? " · " + W.manual : ""));
    if (phase !== "talking" && phase !== "wrapping") put(el.callTimeT, "");  // drawOp's tickOp writes it
  }

  function tickOp(op, t) {
    const el = op.el;
    put(el.sinceT, op.since ? clock((t - ms(op.since)) / 1000) : "—");
    const c = currentCall(op);
    if (c && c.answered_at) put(el.callTimeT, clock(((c.ended_at ? ms(c.ended_at) : t) - ms(c.answered_at)) / 1000));
  }

  // which rows are on screen: the rows have one height (ROW_PX, supervisor.css) in one scroll area, so they are a
  // range of the shown order found from the scroll position, which the scroll event keeps (no layout read and no
  // observer at drawing time). The area is at most the window's height less AREA_OFF_PX high and at least
  // AREA_MIN_PX (supervisor.css .sv-grid), its column heads take HEAD_PX of it: the rows that can show are a range
  // the area's height long. The rows written (S.onScreen) are those and MARGIN_ROWS more each side (~16 at 1366×768;
  // a range the window's height long wrote ~22: every event for the 6 rows the area never shows asked for a drawing,
  // bench.supervisor); the clocks tick in the rows that can show and one row more each side (S.ticking, ~15 rather
  // than ~22, each a row laid out and repainted every second)
  const ROW_PX = 41, MARGIN_ROWS = 2, AREA_OFF_PX = 215, AREA_MIN_PX = 160, HEAD_PX = 34;
  const scroller = $("sv-operators");
  const view = { top: 0 };
  scroller.addEventListener("scroll", () => {
    view.top = scroller.scrollTop;
    if (S.viewFrame) return;
    S.viewFrame = true;
    requestAnimationFrame(() => { S.viewFrame = false; quiet(findOnScreen); });
  }, { passive: true });
  window.addEventListener("resize", () => { S.viewDirty = true; schedule(); });
  function findOnScreen() {
    S.viewDirty = false;
    const area = Math.max(AREA_MIN_PX, window.innerHeight - AREA_OFF_PX) - HEAD_PX;
    const first = Math.floor(view.top / ROW_PX) - MARGIN_ROWS, last = Math.ceil((view.top + area) / ROW_PX) + MARGIN_ROWS;
    const tickFirst = Math.floor(view.top / ROW_PX) - 1, tickLast = Math.ceil((view.top + area) / ROW_PX) + 1;
    const on = new Set(), ticking = new Set(), t = now();
    let i = 0;
    for (const id of S.order) {
      const op = S.ops.get(id);
      if (!op || !op.el || op.el.row.hidden) continue;
      if (i >= first) {
        on.add(id);
        if (!S.onScreen.has(id) && op.stale) drawCells(op);  // came into view: what changed meanwhile
      }
      if (i >= tickFirst && i <= tickLast) {
        ticking.add(id);
        if (!S.ticking.has(id)) { tickOp(op, t); drawDay(op, t); }  // its clocks and day bar now
      }
      if (++i > last) break;
    }
    S.onScreen = on; S.ticking = ticking;
  }
  function dropRow(op) {
    S.onScreen.delete(op.id); S.ticking.delete(op.id);
    op.el.row.remove();
  }

  function visible(op) {
    if (S.filter.status && op.status !== S.filter.status) return false;
    if (S.filter.pool && !op.campaign_ids.includes(Number(S.filter.pool))) return false;
    if (S.filter.campaign) { const c = currentCall(op); if (!c || c.campaign_id !== Number(S.filter.campaign)) return false; }
    return true;
  }

  // what the chosen sort orders by: a row whose key changed moves (placeMoved), the others stay
  function sortKey(op) {
    switch (S.sort) {
      case "status": return STATUS_ORDER[op.status];
      case "since": return ms(op.since) || 0;
      case "rating": return -op.today.rating;
      case "campaign": { const c = currentCall(op), camp = c && S.camps.get(c.campaign_id); return camp ? "0" + camp.name : "1"; }  // no call: last
      default: return "";
    }
  }
  function compare(a, b) {
    const ka = sortKey(a), kb = sortKey(b);
    const by = typeof ka === "string" ? ka.localeCompare(kb) : ka - kb;
    return by || a.name.localeCompare(b.name) || a.id - b.id;
  }

  // the whole order, the rows' visibility: after a read of the board and a person's change of sort or filter
  function arrange() {
    const ops = [...S.ops.values()].filter((op) => op.el).sort(compare);
    const order = ops.map((op) => op.id);
    if (order.join(",") !== S.order.join(",")) $("sv-operator-rows").append(...ops.map((op) => op.el.row));  // moves, keeps state
    S.order = order;
    for (const op of ops) { setFlag(op.el.row, "hidden", !visible(op)); op.placedKey = sortKey(op); }
    const rowsVar = String(ops.length);
    if (scroller.style.getPropertyValue("--sv-rows") !== rowsVar) scroller.style.setProperty("--sv-rows", rowsVar);
  }

  // only the rows whose sort key changed move: out of the kept order, then each back in by binary search; the DOM
  // moves go from the last place up, so every row is put before one that is already where it belongs
  function placeMoved() {
    const moving = [...S.moved].map((id) => S.ops.get(id)).filter((op) => op && op.el);
    S.moved.clear();
    const out = new Set(moving.map((op) => op.id));
    const order = S.order.filter((id) => !out.has(id));
    for (const op of moving) {
      let lo = 0, hi = order.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (compare(S.ops.get(order[mid]), op) <= 0) lo = mid + 1; else hi = mid; }
      order.splice(lo, 0, op.id);
    }
    S.order = order;
    const rows = $("sv-operator-rows");
    const at = moving.map((op) => order.indexOf(op.id)).sort((a, b) => b - a);
    for (const i of at) {
      const row = S.ops.get(order[i]).el.row;
      const next = i + 1 < order.length ? S.ops.get(order[i + 1]).el.row : null;
      if (row.nextSibling !== next) rows.insertBefore(row, next);
    }
  }

  // the status chips (counts within the campaign filter, a click filters), the shown count
  const chipText = {};
  for (const chip of $("sv-chips").children) {
    const b = chip.querySelector("b");
    b.replaceChildren(chipText[chip.dataset.status] = txt(b.textContent));
  }
  const shownText = txt();
  $("sv-shown").append(shownText);
  function drawChips() {
    const counts = Object.fromEntries(STATUSES.map((s) => [s, 0]));
    let shown = 0, all = 0;
    for (const op of S.ops.values()) {
      if (!op.el) continue;
      all++;
      if (visible(op)) shown++;
      if (!S.filter.pool || op.campaign_ids.includes(Number(S.filter.pool))) counts[op.status]++;
    }
    for (const chip of $("sv-chips").children) {
      put(chipText[chip.dataset.status], String(counts[chip.dataset.status] || 0));
      setAttr(chip, "aria-pressed", S.filter.status === chip.dataset.status ? "true" : "false");
    }
    put(shownText, shown + " / " + all);
    setFlag($("sv-operators-empty"), "hidden", shown > 0 || !S.loaded);
  }

  // campaigns: numbers from the model (calls in progress, operators of the pool by status), today's outcomes bar
  function campaignBox(camp) {
    if (camp.el) return camp.el;
    const el = {};
    el.name = h("span", { class: "sv-camp-name" });
    el.state = h("span", { class: "sv-camp-state", "data-testid": "camp-state-" + camp.id });
    const head = h("div", { class: "sv-camp-head" }, el.name, el.state);
    if (may.camp) {
      el.toggle = h("button", { type: "button", "data-testid": "camp-toggle-" + camp.id });
      el.toggle.addEventListener("click", async () => {
        el.toggle.disabled = true;
        try {
          const r = await post("/api/supervisor/campaigns/" + camp.id + (camp.active ? "/pause" : "/resume"));
          camp.active = r.active; S.dirtyCamps = true; drawNow();
        } catch (e) { message(camp.name + ": " + errorText(e), true); } finally { el.toggle.disabled = false; }
      });
      head.append(el.toggle);
    }
    const num = (key) => h("b", { class: "sv-n", "data-testid": "camp-" + key + "-" + camp.id }, (el[key] = txt()));
    el.ops = h("span", { class: "sv-camp-ops" });
    const opsBy = {};
    for (const s of ["ready", "in_call", "wrap_up", "paused", "lunch"]) {
      opsBy[s] = txt();
      el.ops.append(h("span", { "data-status": s, title: W[s] }, h("span", { class: "sv-dot" }), h("b", { class: "sv-n" }, opsBy[s])));
    }
    el.opsBy = opsBy;
    const confirm = h("button", { type: "button", disabled: true, title: W.autostop_none, "data-testid": "camp-autostop-" + camp.id, text: W.autostop_confirm });
    confirm.addEventListener("click", async () => {
      confirm.disabled = true;
      try {
        const r = await post("/api/supervisor/campaigns/" + camp.id + "/confirm-autostop");
        camp.active = r.active; camp.autostop = null; S.dirtyCamps = true; drawNow();
      } catch (e) { message(camp.name + ": " + errorText(e), true); confirm.disabled = !camp.autostop; }
    });
    el.confirm = confirm; el.autostopT = txt();
    el.bar = h("div", { class: "sv-bar", "data-testid": "camp-bar-" + camp.id });
    el.box = h("div", { class: "sv-camp", "data-camp": camp.id, "data-testid": "camp-" + camp.id },
      head,
      h("div", { class: "sv-camp-nums" },
        h("span", {}, W.queue + " ", num("queue")), h("span", {}, W.ringing + " ", num("ringing")),
        h("span", {}, W.talking_n + " ", num("talking")), el.ops),
      el.bar,
      h("div", { class: "sv-autostop" }, h("span", { "data-testid": "camp-autostop-state-" + camp.id }, el.autostopT), confirm));
    camp.el = el;
    campWatch.observe(el.box);
    return el;
  }

  // the campaign boxes on screen (with a margin): only they are written; the others keep what they showed and are
  // written from the model when they come into view. The numbers of every box change nearly every second at 100
  // operators, and each box written lays out and repaints (traced: 11–19 boxes a second where ~5 show at 1366×768)
  const campWatch = new IntersectionObserver((entries) => {
    let due = false;
    for (const e of entries) {
      const id = Number(e.target.dataset.camp);
      if (e.isIntersecting) { S.campsOnScreen.add(id); if ((S.camps.get(id) || {}).stale) due = true; }
      else S.campsOnScreen.delete(id);
    }
    if (due) { S.dirtyCamps = true; S.urgent = true; schedule(); }
  }, { rootMargin: "200px 0px" });

  function drawCampaigns() {
    const live = new Map(), ops = new Map();
    for (const c of S.calls.values()) {
      if (c.ended_at) continue;
      const n = live.get(c.campaign_id) || { ringing: 0, talking: 0 };
      if (c.answered_at) n.talking++; else n.ringing++;
      live.set(c.campaign_id, n);
    }
    for (const op of S.ops.values()) {
      for (const cid of op.campaign_ids) {
        const n = ops.get(cid) || {};
        n[op.status] = (n[op.status] || 0) + 1;
        ops.set(cid, n);
      }
    }
    for (const camp of S.camps.values()) {
      const el = campaignBox(camp);
      if (!S.campsOnScreen.has(camp.id) && camp.written) { camp.stale = true; continue; }  // written when it comes into view
      camp.stale = false; camp.written = true;
      setData(el.box, "active", String(camp.active));
      setText(el.name, camp.name); setTitle(el.name, camp.name);
      setText(el.state, camp.active ? W.active : W.stopped);
      if (el.toggle) setText(el.toggle, camp.active ? W.pause_campaign : W.resume_campaign);
      put(el.queue, camp.queue === undefined || camp.queue === null ? "—" : String(camp.queue));
      const n = live.get(camp.id) || { ringing: 0, talking: 0 };
      put(el.ringing, String(n.ringing)); put(el.talking, String(n.talking));
      const o = ops.get(camp.id) || {};
      for (const [s, t] of Object.entries(el.opsBy)) put(t, String(o[s] || 0));
      drawBar(el.bar, camp.outcomes);
      // the protective autostop (dialer/services/pacing.py): its reason, and the confirmation for those who may
      const stop = camp.autostop;
      const why = stop ? (lang === "en" ? stop.reason_en : stop.reason_ru) : "";
      put(el.autostopT, W.autostop + ": " + (stop ? W.autostop_stopped : "—"));
      setAttr(el.autostopT.parentNode, "title", why);  // the reason, on hover
      setData(el.box, "autostop", stop ? "yes" : "");
      setFlag(el.confirm, "disabled", !(stop && may.camp));
      setAttr(el.confirm, "title", stop ? "" : W.autostop_none);
    }
  }

  function drawBar(bar, outcomes) {
    const total = OUTCOMES.reduce((sum, o) => sum + (outcomes[o.code] || 0), 0);
    if (bar.children.length !== OUTCOMES.length) {
      bar.replaceChildren(...OUTCOMES.map((o) => h("span", { style: "background:" + o.colour, "data-outcome": o.code })));
    }
    OUTCOMES.forEach((o, i) => {
      const n = outcomes[o.code] || 0, span = bar.children[i];
      setWidth(span, percent(n, total));
      setTitle(span, o.label + ": " + n + (total ? " (" + Math.round((100 * n) / total) + " %)" : ""));
      setData(span, "count", String(n));
    });
    setTitle(bar, total ? OUTCOMES.map((o) => o.label + " " + (outcomes[o.code] || 0)).join(" · ") : "");
  }

  // ---- alerts: a sound and a title-bar badge once per new alert; acknowledged by a person -----------------
  let audio = null;
  const unlockAudio = () => {
    if (audio) return;
    try { audio = new (window.AudioContext || window.webkitAudioContext)(); } catch (_) { audio = null; }
  };
  ["pointerdown", "keydown"].forEach((k) => document.addEventListener(k, unlockAudio, { once: true, capture: true }));
  function beep() {
    S.beeps++;
    quiet(() => { root.dataset.alertsSounded = String(S.beeps); });  // Alpine's observer need not look
    if (!audio) return;  // the browser allows sound only after the page was touched once
    if (audio.state === "suspended") audio.resume();
    const t = audio.currentTime, osc = audio.createOscillator(), gain = audio.createGain();
    osc.type = "sine"; osc.frequency.setValueAtTime(880, t); osc.frequency.setValueAtTime(660, t + 0.18);
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.25, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.4);
    osc.connect(gain).connect(audio.destination);
    osc.start(t); osc.stop(t + 0.42);
  }

  // an alert event changes one item: it is drawn at the next drawing, alone, and put in its place (open ones first,
  // the newest first) by a binary search in the kept order; the list is never built again as a whole. A new alert
  // flashes (a background animation: a drawing every frame while it runs), at most one per FLASH_EVERY_MS: a storm
  // of alerts (devices flapping on a loaded network) would otherwise keep the page drawing at every frame
  const FLASH_EVERY_MS = 10000;
  function onAlert(d) {
    if (!may.alerts) return;
    const known = S.alerts.get(d.id);
    S.alerts.set(d.id, Object.assign(known || {}, d));
    const camp = d.kind === "campaign_autostop" && d.campaign_id && S.camps.get(d.campaign_id);
    if (camp && !d.cleared_at && !d.acknowledged_at) {  // the autostop fired: the alert's words are its reason
      camp.autostop = camp.autostop || { at: d.created_at, reason_ru: d.text_ru, reason_en: d.text_en };
      S.dirtyCamps = true;
    }
    if (!known && !d.acknowledged_at) {
      beep();
      if (performance.now() - S.flashAt >= FLASH_EVERY_MS) { S.flashAt = performance.now(); S.fresh = d.id; }
    }
    S.dirtyAlerts.add(d.id);
    schedule();
  }

  function alertBefore(a, b) {  // <0: a is shown above b
    return (!b.acknowledged_at - !a.acknowledged_at) || (ms(b.created_at) || 0) - (ms(a.created_at) || 0) || b.id - a.id;
  }

  function renderAlerts() {  // after a read of the alerts: every item again
    S.alertEls.clear(); S.alertOrder = [];
    $("sv-alert-list").replaceChildren();
    S.dirtyAlerts = new Set(S.alerts.keys());
    quiet(drawAlerts);
  }

  function drawAlerts() {
    if (!may.alerts) return;
    const list = $("sv-alert-list"), dirty = S.dirtyAlerts;
    S.dirtyAlerts = new Set();
    for (const id of dirty) {
      const a = S.alerts.get(id), old = S.alertEls.get(id);
      if (!a) { if (old) old.li.remove(); S.alertEls.delete(id); continue; }
      const sig = [a.acknowledged_at, a.acknowledged_by_name, a.cleared_at, a.text_ru, a.text_en, a.created_at].join("|");
      if (old && old.sig === sig) continue;
      const li = alertItem(a, !old && S.fresh === id);
      if (old) old.li.replaceWith(li);
      S.alertEls.set(id, { li, sig });
    }
    const order = S.alertOrder.filter((id) => !dirty.has(id));
    for (const id of dirty) {
      const a = S.alerts.get(id);
      if (!a) continue;
      let lo = 0, hi = order.length;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (alertBefore(S.alerts.get(order[mid]), a) <= 0) lo = mid + 1; else hi = mid; }
      order.splice(lo, 0, id);
    }
    S.alertOrder = order;
    let next = null;  // from the last up: only an item not already before the one that follows it moves
    for (let i = order.length - 1; i >= 0; i--) {
      const li = S.alertEls.get(order[i]).li;
      if (li.parentNode !== list || li.nextSibling !== next) list.insertBefore(li, next);
      next = li;
    }
    let open = 0;
    for (const a of S.alerts.values()) if (!a.acknowledged_at) open++;
    const count = $("sv-alerts-open");
    setText(count, String(open));
    if (count.classList.contains("hot") !== open > 0) count.classList.toggle("hot", open > 0);
    setFlag($("sv-alerts-empty"), "hidden", S.alerts.size > 0);
    const title = (open ? "(" + open + ") " : "") + baseTitle;
    if (document.title !== title) document.title = title;
  }

  function alertItem(a, fresh) {
    const text = lang === "en" ? a.text_en : a.text_ru;
    const li = h("li", { class: "sv-alert" + (a.acknowledged_at ? " done" : "") + (fresh && !a.acknowledged_at ? " fresh" : ""),
                         "data-testid": "alert-" + a.id, "data-kind": a.kind },
      h("span", { class: "sv-time muted", text: hhmm(a.created_at) }), h("span", { class: "sv-alert-text", text }));
    if (a.cleared_at) li.append(h("span", { class: "muted", "data-testid": "alert-cleared-" + a.id, text: W.cleared + " " + hhmm(a.cleared_at) }));
    if (a.acknowledged_at) {
      li.append(h("span", { class: "muted", "data-testid": "alert-ack-" + a.id,
                            text: W.acknowledged_by + " " + (a.acknowledged_by_name || "—") + ", " + hhmm(a.acknowledged_at) }));
    } else {
      const btn = h("button", { type: "button", "data-testid": "alert-acknowledge-" + a.id, text: W.acknowledge });
      btn.addEventListener("click", async () => {
        btn.disabled = true;
        try { onAlert(Object.assign({}, a, await post("/api/supervisor/alerts/" + a.id + "/acknowledge"))); drawNow(); } catch (e) { message(errorText(e), true); btn.disabled = false; }
      });
      li.append(btn);
    }
    return li;
  }

  // ---- controls and timers ----------------------------------------------------------------------------
  for (const key of ["pool", "campaign"]) {
    $("sv-filter-" + key).addEventListener("change", (e) => { S.filter[key] = e.target.value; S.arrangeAll = true; S.dirtyChips = true; drawNow(); });
  }
  $("sv-filter-status").addEventListener("change", (e) => { S.filter.status = e.target.value; S.arrangeAll = true; drawNow(); });
  $("sv-sort").addEventListener("change", (e) => { S.sort = e.target.value; S.arrangeAll = true; drawNow(); });
  $("sv-chips").addEventListener("click", (e) => {
    const chip = e.target.closest(".sv-chip");
    if (!chip) return;
    S.filter.status = S.filter.status === chip.dataset.status ? "" : chip.dataset.status;
    $("sv-filter-status").value = S.filter.status;
    S.arrangeAll = true; drawNow();
  });

  // one clock for the page: the times in status and talk times of the rows on screen, their day bars every 5 s, and
  // the sums that add up many events (the status chips, the campaign boxes: once a second). They are marked due and
  // ride on the next drawing of the rows (drawDue) instead of costing the browser one more frame a second (a frame's
  // fixed work: style, layout, paint, layerize, raster, the compositor's frame; traced, the clocks and the sums were
  // two frames a second of their own): on the drawing already on its way, or, while events stream in, on the next
  // event's drawing within RIDE_MS. Else (a quiet page) they are written now, in this task, which is no drawing of the
  // rows (it leaves flushAt alone, so the next event is still drawn in its own task)
  setInterval(() => {
    if (now() >= S.dayEnd && !S.reading) { S.dayEnd = Infinity; load(); return; }  // a new day: today's figures start again
    S.clocksDue = true;
    if (S.dirtyChips || S.dirtyCamps) S.sumsDue = true;
    if (++S.ticks % DAY_BAR_EVERY_S === 0) S.dayDue = true;
    if (S.frame || S.waitTimer || S.rideTimer) return;
    if (performance.now() - S.eventAt < RIDE_MS) {
      S.rideTimer = setTimeout(() => { S.rideTimer = null; if (S.clocksDue || S.sumsDue) quiet(drawDue); }, RIDE_MS);
      return;
    }
    quiet(drawDue);
  }, 1000);
  function tickClocks() {
    const t = now(), day = S.dayDue;
    S.clocksDue = S.dayDue = false;
    for (const id of S.ticking) { const op = S.ops.get(id); if (op && op.el) { tickOp(op, t); if (day) drawDay(op, t); } }
  }

  ["operator.status", "attempt", "attempt.gone", "campaign", "alert", "sip.registration"].forEach((kind) => window.Dialer.live.on(kind, (d) => handle(kind, d)));
  // the stream could not replay what was missed: read the board again (after the read under way, if one is)
  window.Dialer.live.on("reload", () => { if (S.reading) S.again = true; else load(); });

  // read the board once the stream is open, so that every change after the read reaches the page as an event
  function whenLive(fn) {
    const dot = $("live-status");
    if (!dot || dot.dataset.state === "open") { fn(); return; }
    const watch = new MutationObserver(() => { if (dot.dataset.state === "open") { watch.disconnect(); fn(); } });
    watch.observe(dot, { attributes: true, attributeFilter: ["data-state"] });
    setTimeout(() => { if (!S.loaded && !S.reading) load(); }, 3000);  // a slow stream: show the board meanwhile
  }
  document.addEventListener("DOMContentLoaded", () => whenLive(load));
  window.Supervisor = { state: S, FRAME_MS };  // for the browser tests and the benchmark
})();
