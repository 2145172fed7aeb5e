/* «Кампании»: the list's counters follow the live events (an attempt, an operator's status, a campaign paused
 * or resumed) by reading /api/campaigns/overview again, at most twice a second; the results editor moves rows
 * up and down and keeps each "closes the lead" box tied to its row's code. */
(function () {
  "use strict";

  function applyOverview(rows) {
    rows.forEach((c) => {
      const tr = document.querySelector('tr[data-campaign="' + c.id + '"]');
      if (!tr) return;
      const set = (sel, v) => { const el = tr.querySelector(sel); if (el) el.textContent = v; };
      Object.keys(c.leads).forEach((k) => set('[data-lead-state="' + k + '"]', c.leads[k]));
      set('[data-field="in_progress"]', c.in_progress);
      set('[data-field="pool_total"]', c.pool_total);
      set('[data-field="pool_ready"]', c.pool.ready || 0);
      set('[data-field="today_total"]', c.today_total);
      tr.querySelectorAll(".cmp-seg").forEach((seg) => {
        const n = c.today[seg.dataset.outcome] || 0;
        seg.style.flexGrow = n;
        seg.title = seg.title.replace(/\d+$/, n);
      });
      const empty = tr.querySelector(".cmp-empty");
      if (empty) empty.hidden = c.today_total > 0;
    });
  }

  function listPage(table) {
    let timer = null;
    const refresh = () => {
      if (timer) return;
      timer = setTimeout(() => {
        timer = null;
        fetch("/api/campaigns/overview", { headers: { Accept: "application/json" } })
          .then((r) => (r.ok ? r.json() : Promise.reject(r.status)))
          .then(applyOverview)
          .catch((e) => console.warn("campaign counters not refreshed", e));
      }, 500);
    };
    ["attempt", "attempt.gone", "operator.status", "campaign", "reload"].forEach((k) => Dialer.live.on(k, refresh));
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
    if (table && window.Dialer) listPage(table);
    const results = document.getElementById("results-form");
    if (results) resultsEditor(results);
  });
})();
