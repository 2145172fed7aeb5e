/* Dialer page support: CSRF on every htmx request, and the live-event subscriber.
 *
 *   Dialer.live.on("operator.status", (data, id) => { ... })   // any page script
 *
 * One EventSource per page on /events (server-sent events, no polling: it keeps working in a
 * background tab). The browser reconnects by itself and sends Last-Event-ID, and the server first
 * replays what was missed. If the server refuses a reconnect (e.g. the session ended), we retry
 * with a growing delay, passing the last id we saw. Past what it can replay the server sends `reload`:
 * a page that can read its state again registers Dialer.live.on("reload", fn); any other page reloads. */
(function () {
  "use strict";
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  document.addEventListener("htmx:configRequest", (e) => { e.detail.headers["X-CSRF-Token"] = csrf(); });

  const STATUS = {
    ru: { offline: "Не в сети", paused: "Пауза", ready: "Готов", in_call: "Разговор", wrap_up: "Постобработка", lunch: "Обед" },
    en: { offline: "Offline", paused: "Paused", ready: "Ready", in_call: "In a call", wrap_up: "Wrap-up", lunch: "Lunch" },
  };
  const lang = () => document.body.dataset.lang || "ru";
  const statusLabel = (s) => (STATUS[lang()] || STATUS.ru)[s] || s;

  const handlers = {};
  let source = null, lastId = null, delay = 1000, messages = 0;  // messages: the stream's messages handed out so far
  const dot = () => document.getElementById("live-status");
  const show = (state) => { const d = dot(); if (d) d.dataset.state = state; };

  function dispatch(kind, ev) {
    messages++;
    if (ev.lastEventId) lastId = ev.lastEventId;
    let data = null;
    try { data = JSON.parse(ev.data); } catch (_) { return; }
    handOut(kind, data, ev.lastEventId);
  }
  function handOut(kind, data, id) {
    (handlers[kind] || []).forEach((fn) => { try { fn(data, id); } catch (err) { console.error(err); } });
  }
  // events the server had queued together come in one message, [[kind, data], ...] in order (web/live.py
  // format_batch): one task of the page instead of one each; each is handed out as if it had come alone
  function dispatchBatch(ev) {
    messages++;
    if (ev.lastEventId) lastId = ev.lastEventId;
    let list = null;
    try { list = JSON.parse(ev.data); } catch (_) { return; }
    for (const [kind, data] of list) if (kind !== "reload") handOut(kind, data, ev.lastEventId);
  }

  function connect() {
    const pace = document.body.dataset.livePace;  // a page that draws at most every N ms: a message at most so often
    const url = "/events?batch=1" + (pace ? "&pace=" + encodeURIComponent(pace) : "")
      + (lastId ? "&last_id=" + encodeURIComponent(lastId) : "");
    source = new EventSource(url);
    source.onopen = () => { delay = 1000; show("open"); };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {  // refused: the browser will not retry by itself
        show("closed");
        setTimeout(connect, delay);
        delay = Math.min(delay * 2, 30000);
      } else { show("connecting"); }
    };
    source.addEventListener("batch", dispatchBatch);
    source.addEventListener("reload", (ev) => {
      if ((handlers.reload || []).length) dispatch("reload", ev); else location.reload();
    });
    Object.keys(handlers).forEach((kind) => { if (kind !== "reload") source.addEventListener(kind, (ev) => dispatch(kind, ev)); });
  }

  const live = {
    on(kind, fn) {
      if (!handlers[kind]) {
        handlers[kind] = [];
        if (source && kind !== "reload") source.addEventListener(kind, (ev) => dispatch(kind, ev));
      }
      handlers[kind].push(fn);
    },
    statusLabel,
    get lastId() { return lastId; },
    get messages() { return messages; },
  };

  // built-in: any element marked data-live-operator-status="<id>" (or -since) follows that operator's status. The
  // marked elements are found once and again only after the DOM changed (htmx swaps, a page's own drawing), so an
  // event costs a map look-up, and nothing on a page without such elements (the supervisor's: ~80 events/s).
  const MARKED = "[data-live-operator-status],[data-live-operator-since]";
  let marked = null;  // operator id -> [elements]; null: to be found again
  // found again only when an added element is or holds a marked one (a removed one is dropped when next met)
  const holdsMarked = (n) => n.nodeType === 1 && (n.matches(MARKED) || n.querySelector(MARKED) !== null);
  const watchDom = () => new MutationObserver((records) => {
    if (marked && records.some((r) => Array.prototype.some.call(r.addedNodes, holdsMarked))) marked = null;
  }).observe(document.body, { childList: true, subtree: true });
  function markedFor(id) {
    if (!marked) {
      marked = new Map();
      document.querySelectorAll(MARKED).forEach((el) => {
        const key = el.dataset.liveOperatorStatus || el.dataset.liveOperatorSince;
        if (!marked.has(key)) marked.set(key, []);
        marked.get(key).push(el);
      });
    }
    return marked.get(String(id));
  }
  live.on("operator.status", (op) => {
    const els = markedFor(op.id);
    if (!els) return;
    for (const el of els) {
      if (!el.isConnected) { marked = null; continue; }
      if (el.dataset.liveOperatorStatus !== undefined) { el.textContent = statusLabel(op.status); el.dataset.status = op.status; }
      else el.textContent = (op.since || "").slice(11, 19);
    }
  });

  window.Dialer = { csrf, live };
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-live-operator-status]").forEach((el) => { el.textContent = statusLabel(el.dataset.status); });
    watchDom();
    lastId = document.body.dataset.liveFrom || null;  // the events since the page was read, not since now
    if (document.body.dataset.live === "on") connect();
  });
})();
