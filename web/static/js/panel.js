/* Operator panel: one Alpine component. The server is the truth: every live event about this operator
 * (`operator.status`, `attempt` and `panel.changed`, through Dialer.live over SSE) carries the new facts
 * (status, the call's timeline); only a new call makes the panel read /api/panel/state. Requests go to
 * /api/panel/* and their effect arrives the same way. Timers tick locally, corrected by the server's clock.
 * A read may have been answered before or after the events that came while it was under way: those events are
 * applied again on its answer, and facts only ever move forward (a timeline stamp is never unset, a status older
 * than the one shown is not taken), so events and reads in any interleaving end at the newest facts. */
(function () {
  "use strict";
  const RU = { ready: "Готов", in_call: "В разговоре", wrap_up: "Постобработка", paused: "Пауза", lunch: "Обед", offline: "Не в сети",
               offer: "Предложен звонок", connecting: "Соединение с оператором", dialling: "Набор номера", talking: "Разговор", ended: "Завершён",
               server_lost: "Пауза от системы: сервер Asterisk {server} недоступен" };
  const EN = { ready: "Ready", in_call: "In a call", wrap_up: "Wrap-up", paused: "Pause", lunch: "Lunch", offline: "Offline",
               offer: "Call offered", connecting: "Connecting you", dialling: "Dialling", talking: "Talking", ended: "Ended",
               server_lost: "Paused by the dialer: Asterisk server {server} is unreachable" };
  const POSTPONE = [[30, "30 мин", "30 min"], [60, "1 ч", "1 h"], [120, "2 ч", "2 h"], [180, "3 ч", "3 h"]];

  function phaseOf(c) {  // mirrors dialer/services/panel.py `_phase`
    if (c.ended_at) return c.outcome === "ANSWERED" && !c.wrap_up_at ? "wrap_up" : "ended";
    if (c.offer_expires_at && !c.offer_accepted_at) return "offer";
    if (c.answered_at) return "talking";
    return c.dial_started_at ? "dialling" : "connecting";
  }

  window.operatorPanel = function () {
    const lang = document.body.dataset.lang || "ru";
    const words = lang === "en" ? EN : RU;
    return {
      lang, s: { status: "offline", campaigns: [] }, call: null, error: "", noOperator: false, skew: 0, now: Date.now(), asked: 0, shown: 0, reading: 0,
      heard: [], readFor: null,  // heard: the events of the reads under way (cleared when none is)
      w: { result: "", comment: "", postpone_minutes: null, postpone_until: "", do_not_call: false }, wrapFor: null,
      d: { value: "", kind: "phone", campaign_id: "" },
      postpones: POSTPONE.map(([m, ru, en]) => ({ minutes: m, label: lang === "en" ? en : ru })),

      init() {  // Alpine calls it once by itself (an x-init calling it as well registered every handler twice)
        this.load();
        // until a state names this panel's operator, an event cannot be told to be ours: read the state instead of
        // showing someone else's status; once the account turns out to have no operator, nothing more is asked
        const on = (facts, operatorId) => {
          if (this.noOperator) return;
          if (this.s.operator_id === undefined) { this.load(); return; }
          if (operatorId !== undefined && operatorId !== this.s.operator_id) return;
          if (this.reading) this.heard.push(facts);  // a read under way may be older than this
          if (!this.apply(facts)) this.load(facts && facts.attempt_id);
        };
        window.Dialer.live.on("panel.changed", (d) => on(d));
        // more was missed than the server replays: read the state again (a typed wrap-up is kept)
        window.Dialer.live.on("reload", () => { if (!this.noOperator) this.load(); });
        window.Dialer.live.on("operator.status", (d) =>
          on({ operator: { status: d.status, status_since: d.since, pause_reason: d.pause_reason || null },
               attempt_id: d.attempt_id }, d.id));
        window.Dialer.live.on("attempt", (d) =>
          on({ attempt: { outcome: d.outcome, answered_at: d.answered_at, ended_at: d.ended_at }, attempt_id: d.id }, d.operator_id));
        setInterval(() => { this.now = Date.now(); }, 250);
      },
      async load(forCall) {  // every change starts a read at once; an answer older than one already shown is dropped
        const seq = ++this.asked, from = this.heard.length;  // what this read cannot have seen comes after
        this.readFor = forCall;  // the newest read was started on hearing of this call (undefined: of no call)
        this.reading++;
        try {
          const r = await fetch("/api/panel/state", { headers: { Accept: "application/json" } });
          const body = await r.json();
          if (seq < this.shown) return;
          this.shown = seq;
          if (!r.ok) { this.error = this.message(body); this.noOperator = body.error === "not-an-operator"; return; }
          this.skew = Date.parse(body.now) - Date.now();
          this.s = body;
          this.call = body.call;
          // what came while this read was under way: the read may have been made before it (a status, the answer,
          // the end, the wrap-up), and nothing else brings it back
          for (const facts of this.heard.slice(from)) this.apply(facts);
          this.shownCall();
        } catch (e) { if (seq >= this.shown) this.error = String(e); } finally {
          if (--this.reading === 0) this.heard = [];
        }
      },
      apply(data) {  // the event carries the new facts; only a new call needs the whole state read (false)
        if (!data) return false;
        const current = this.call ? this.call.attempt_id : null;
        // a call not shown yet: a read started after it was heard of shows it (or what came after it)
        const asked = data.attempt_id !== current && this.reading > 0 && this.readFor === data.attempt_id;
        if (data.operator) {
          const o = data.operator, since = Date.parse(o.status_since), shown = Date.parse(this.s.status_since);
          if (!(since < shown)) Object.assign(this.s, o);  // a status older than the one shown was read over
          return (data.attempt_id || null) === current || asked;
        }
        if (!data.attempt) return false;
        if (data.attempt_id !== current) return asked;
        // the timeline's stamps and the outcome are only ever set: an older event never unsets a newer one
        for (const [k, v] of Object.entries(data.attempt)) if (v !== null && v !== undefined) this.call[k] = v;
        this.call.phase = phaseOf(this.call);
        this.shownCall();
        return true;
      },
      shownCall() {  // a new wrap-up starts with an empty form; the page says which card it shows (tests, bench)
        if (!this.call) { delete document.body.dataset.cardShown; return; }
        if (this.call.phase === "wrap_up" && this.wrapFor !== this.call.attempt_id) {
          this.wrapFor = this.call.attempt_id;
          this.w = { result: "", comment: "", postpone_minutes: null, postpone_until: "", do_not_call: false };
        }
        document.body.dataset.cardShown = String(this.call.attempt_id) + ":" + this.call.phase;
      },
      message(body) { return (lang === "ru" && body.message_ru) || body.message || body.error || "error"; },
      async post(path, data) {
        this.error = "";
        const r = await fetch("/api/panel/" + path, { method: "POST", body: JSON.stringify(data || {}),
          headers: { "Content-Type": "application/json", "X-CSRF-Token": window.Dialer.csrf(), Accept: "application/json" } });
        const body = await r.json().catch(() => ({}));
        if (!r.ok) { this.error = this.message(body); return null; }
        return body;
      },
      status(kind) { return this.post("status", { status: kind }); },
      autoAnswer(on) { return this.post("auto-answer", { on }); },
      act(what) { return this.call && this.post("calls/" + this.call.attempt_id + "/" + what); },
      postpone(minutes) { this.w.postpone_minutes = this.w.postpone_minutes === minutes ? null : minutes; this.w.postpone_until = ""; this.w.do_not_call = false; },
      async wrapUp() {
        const w = this.w, body = { result: w.result, comment: w.comment, do_not_call: !!w.do_not_call };
        if (w.postpone_minutes) body.postpone_minutes = w.postpone_minutes;
        if (w.postpone_until) body.postpone_until = w.postpone_until.length === 16 ? w.postpone_until + ":00" : w.postpone_until;
        await this.post("calls/" + this.call.attempt_id + "/wrap-up", body);
      },
      async dial() {
        const body = this.d.kind === "order" ? { order_id: this.d.value.trim() } : { phone: this.d.value.trim() };
        if (this.d.campaign_id) body.campaign_id = Number(this.d.campaign_id);
        if (await this.post("dial", body)) this.d.value = "";
      },

      serverNow() { return this.now + this.skew; },
      secondsSince(iso) { return iso ? Math.max(0, Math.floor((this.serverNow() - Date.parse(iso)) / 1000)) : null; },
      since(iso) { const s = this.secondsSince(iso); return s === null ? "" : this.clock(s); },
      talkSeconds() {
        if (!this.call || !this.call.bridged_at) return null;
        const end = this.call.ended_at ? Date.parse(this.call.ended_at) : this.serverNow();
        return Math.max(0, Math.floor((end - Date.parse(this.call.bridged_at)) / 1000));
      },
      wrapSeconds() { return this.call && this.call.ended_at ? this.secondsSince(this.call.ended_at) : 0; },
      offerSeconds() { return this.call && this.call.offer_expires_at ? Math.max(0, Math.ceil((Date.parse(this.call.offer_expires_at) - this.serverNow()) / 1000)) : 0; },
      clock(total) {
        if (total === null || total === undefined) return "";
        const h = Math.floor(total / 3600), m = Math.floor((total % 3600) / 60), s = total % 60;
        const two = (n) => String(n).padStart(2, "0");
        return (h ? h + ":" + two(m) : String(m)) + ":" + two(s);
      },
      when(iso) { return iso ? new Date(iso).toLocaleString(lang === "en" ? "en-GB" : "ru-RU") : ""; },
      delivery(state) {
        const ru = {none: "—", pending: "отправляется", delivered: "доставлен", failed: "не доставлен"};
        const en = {none: "—", pending: "sending", delivered: "delivered", failed: "failed"};
        return (lang === "en" ? en : ru)[state] || state;
      },
      resultTitle(code) {  // a result of this campaign by its title; one of another campaign by its code
        const r = this.call && this.call.results.find((x) => x.code === code);
        return r ? r.title : code;
      },
      statusLabel(s) { return words[s] || s; },
      reasonText(code) {  // the operator's `pause_reason` (ari_app/servers.py pause_code)
        const m = /^asterisk-lost:(.*)$/.exec(code || "");
        return m ? words.server_lost.replace("{server}", m[1]) : code || "";
      },
      phaseLabel(p) { return words[p] || p; },
    };
  };
})();
