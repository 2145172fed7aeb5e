/* «Кампании»: the list's counters follow the live events by their facts alone, as the supervisor's screen does
 * (supervisor.js): the page is read once, in one snapshot with its live-event cursor (web/pages/campaigns.py), so
 * every later change reaches it as an event after that cursor, and each event is applied to a small model:
 *   - `attempt` (a call, its end with its outcome): calls in progress by attempt id, today's outcomes by the
 *     attempt's end (counted once: the attempts ended lately are named by the page), `attempt.gone` (an offer
 *     withdrawn before any call);
 *   - `lead.counts` (sql/024): a statement's net change of a campaign's leads by state;
 *   - `operator.status` and `operator.pool` (sql/024): the pools' operators, their status, who is in which pool;
 *   - `campaign`: paused or resumed;
 *   - `campaign.call`, `campaign.call.gone`, `campaign.operator`, `campaign.active`: the same facts for a user who
 *     may see the campaigns but not those events (web/live.py REDUCED).
 * Nothing is read again: past what the stream can replay it sends `reload` and the page is read anew (dialer.js);
 * at local midnight today's figures start from zero. The marked rows are drawn at most every DRAW_MS.
 * The results editor moves rows up and down and keeps each "closes the lead" box tied to its row's code. */
(function () {
  "use strict";
  const DRAW_MS = 200;
  const KEEP_ENDED = 20000;  // attempt ids remembered as ended (a late event of one changes nothing)

  function listPage(table, S) {
    const camps = new Map(), ops = new Map(), ended = new Set(S.ended_lately || []);
    const dirty = new Set();
    let timer = null;
    let dayStart = Date.parse(S.day_start), dayEnd = Date.parse(S.day_end);
    const skew = Date.parse(S.now) - Date.now();
    for (const [id, c] of Object.entries(S.campaigns)) {
      camps.set(Number(id), { active: c.active, leads: Object.assign({}, c.leads), today: Object.assign({}, c.today),
                              live: new Set(c.live_attempts || []) });
    }
    for (const [id, o] of Object.entries(S.operators)) {
      ops.set(Number(id), { status: o.status, since: o.since, campaigns: new Set(o.campaign_ids) });
    }

    const mark = (cid) => { if (camps.has(cid)) { dirty.add(cid); if (!timer) timer = setTimeout(draw, DRAW_MS); } };
    const forget = (id) => {
      ended.add(id);
      if (ended.size > KEEP_ENDED) ended.delete(ended.values().next().value);
    };

    function onAttempt(d) {
      const c = camps.get(d.campaign_id);
      if (!c) return;
      if (!d.ended_at) {
        if (!ended.has(d.id)) c.live.add(d.id);  // a late "answered" of an attempt already ended adds nothing
      } else {
        c.live.delete(d.id);
        if (!ended.has(d.id)) {
          forget(d.id);
          if (d.outcome && Date.parse(d.ended_at) >= dayStart) c.today[d.outcome] = (c.today[d.outcome] || 0) + 1;
        }
      }
      mark(d.campaign_id);
    }

    function onGone(d) {
      const c = camps.get(d.campaign_id);
      if (c) { c.live.delete(d.id); mark(d.campaign_id); }
    }

    function onLeads(d) {
      const c = camps.get(d.campaign_id);
      if (!c) return;
      for (const [state, n] of Object.entries(d.leads)) c.leads[state] = (c.leads[state] || 0) + n;
      mark(d.campaign_id);
    }

    function onStatus(d) {
      const o = ops.get(d.id);
      if (!o) return;  // in no pool, or switched off
      if (o.since && d.since && Date.parse(d.since) < Date.parse(o.since)) return;  // an older change, delivered late
      o.status = d.status; o.since = d.since;
      o.campaigns.forEach(mark);
    }

    function onPool(d) {
      const o = ops.get(d.id);
      if (o) o.campaigns.forEach(mark);
      if (!d.active || !d.campaign_ids.length) { ops.delete(d.id); return; }
      const next = { status: d.status, since: o ? o.since : null, campaigns: new Set(d.campaign_ids) };
      if (o && o.status !== d.status) next.since = null;  // the pool event's status is the newer one
      ops.set(d.id, next);
      next.campaigns.forEach(mark);
    }

    function onCampaign(d) {
      const c = camps.get(d.id);
      if (c) { c.active = d.active; mark(d.id); }
    }

    function newDay() {
      dayStart = dayEnd;
      dayEnd += 24 * 3600 * 1000;
      for (const [cid, c] of camps) { Object.keys(c.today).forEach((k) => { c.today[k] = 0; }); mark(cid); }
      setTimeout(newDay, Math.max(1000, dayEnd - (Date.now() + skew)));
    }
    setTimeout(newDay, Math.max(1000, dayEnd - (Date.now() + skew)));

    const put = (el, v) => { if (el && el.textContent !== String(v)) el.textContent = v; };
    function draw() {
      timer = null;
      const pools = new Map();
      for (const o of ops.values()) {
        for (const cid of o.campaigns) {
          if (!dirty.has(cid)) continue;
          const p = pools.get(cid) || { total: 0, ready: 0 };
          p.total += 1;
          if (o.status === "ready") p.ready += 1;
          pools.set(cid, p);
        }
      }
      for (const cid of dirty) {
        const c = camps.get(cid), tr = table.querySelector('tr[data-campaign="' + cid + '"]');
        if (!tr) continue;
        const q = (sel) => tr.querySelector(sel);
        tr.querySelectorAll("[data-lead-state]").forEach((el) => put(el, c.leads[el.dataset.leadState] || 0));
        const total = Object.values(c.today).reduce((a, b) => a + b, 0);
        put(q('[data-field="today_total"]'), total);
        tr.querySelectorAll(".cmp-seg").forEach((seg) => {
          const n = c.today[seg.dataset.outcome] || 0;
          if (seg.style.flexGrow !== String(n)) seg.style.flexGrow = n;
          seg.title = seg.title.replace(/\d+$/, n);
        });
        const bar = q(".cmp-bar"), segs = [...tr.querySelectorAll(".cmp-seg")];
        if (bar) bar.setAttribute("aria-label", segs.map((seg) => seg.title.replace(/: (\d+)$/, " $1")).join(", "));
        const empty = q(".cmp-empty");
        if (empty) empty.hidden = total > 0;
        put(q('[data-field="in_progress"]'), c.live.size);
        const p = pools.get(cid) || { total: 0, ready: 0 };
        put(q('[data-field="pool_total"]'), p.total);
        put(q('[data-field="pool_ready"]'), p.ready);
        tr.querySelectorAll("[data-active]").forEach((el) => { el.hidden = (el.dataset.active === "1") !== c.active; });
      }
      dirty.clear();
    }

    const on = (kind, fn) => Dialer.live.on(kind, fn);
    on("attempt", onAttempt);
    on("attempt.gone", onGone);
    on("lead.counts", onLeads);
    on("operator.status", onStatus);
    on("operator.pool", onPool);
    on("campaign", onCampaign);
    // a user who may see the campaigns but not the calls, the operators or the supervisor's screen gets the same
    // facts, only those the counters need, as `campaign.*` (web/live.py REDUCED): live as after a reload
    on("campaign.call", onAttempt);
    on("campaign.call.gone", onGone);
    on("campaign.operator", onStatus);
    on("campaign.active", onCampaign);
    window.CampaignList = { camps, ops };  // for the browser tests
  }

  function resultsEditor(form) {
    const body = form.querySelector("tbody");
    const renumber = () => body.querySelectorAll("tr").forEach((tr, i) => { tr.querySelector(".cmp-pos").value = i + 1; });
    body.addEventListener("click", (ev) => {
      const tr = ev.target.closest("tr");
      if (ev.target.classList.contains("cmp-up") && tr.previousElementSibling) body.insertBefore(tr, tr.previousElementSibling);
      else if (ev.target.classList.contains("cmp-down") && tr.nextElementSibling) body.insertBefore(tr.nextElementSibling, tr);
      else return;
      renumber();
    });
    body.addEventListener("input", (ev) => {
      if (ev.target.name !== "code") return;
      const box = ev.target.closest("tr").querySelector(".cmp-closes");
      if (box) box.value = ev.target.value.trim();
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    const table = document.querySelector('[data-testid="campaign-list"]');
    const state = document.getElementById("cmp-live");
    if (table && state && window.Dialer) listPage(table, JSON.parse(state.textContent));
    const results = document.getElementById("results-form");
    if (results) resultsEditor(results);
  });
})();
