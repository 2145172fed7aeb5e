/* «Отчёты»: stacked histograms in the six outcome colours (SVG, drawn here from the page's data), a legend that
 * hides and shows outcomes, a tooltip with numbers and percentages, sortable tables, column choice and saved views.
 * window.Reports.charts holds what each chart shows (tests read the chart's data, not its pixels). */
(function () {
  "use strict";
  const NS = "http://www.w3.org/2000/svg";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  let data = { outcomes: [], by_day: [], by_hour: [], compare: [], state: null, words: {} };
  const hidden = new Set();
  const state = { hidden: {}, sort: {} };
  const lang = () => document.body.dataset.lang || "ru";
  const fmtPct = (n, of) => (of ? (100 * n / of).toFixed(1) + " %" : "—");

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (parent) parent.appendChild(node);
    return node;
  }

  function dayLabel(key) { return key.slice(8, 10) + "." + key.slice(5, 7); }

  /* the top of the scale: four whole, round steps (1, 2, 5 × 10^k) that reach the tallest bar */
  function niceMax(v) {
    const raw = Math.max(v / 4, 1);
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of p >= 10 ? [1, 2, 2.5, 5, 10] : [1, 2, 5, 10]) if (m * p >= raw) return 4 * m * p;
    return 40 * p;
  }

  /* one stacked bar chart: bars in time order, segments bottom-up in the SPEC A2 order */
  function draw(holder, bars, label, name) {
    if (!holder) return;
    holder.textContent = "";
    const shown = data.outcomes.filter((o) => !hidden.has(o.code));
    const width = Math.max(holder.getBoundingClientRect().width, 200), height = 210;
    const left = 34, bottom = 20, top = 8, plotH = height - top - bottom, plotW = width - left - 4;
    const totals = bars.map((b) => shown.reduce((s, o) => s + (b.counts[o.code] || 0), 0));
    const max = niceMax(Math.max(1, ...totals));
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "data-series": shown.map((o) => o.code).join(","),
                            "aria-label": name }, holder);
    const axis = el("g", { class: "axis" }, svg);
    for (let i = 0; i <= 4; i++) {
      const y = top + plotH - plotH * i / 4;
      el("line", { x1: left, x2: width - 4, y1: y, y2: y }, axis);
      const t = el("text", { x: left - 4, y: y + 3, "text-anchor": "end" }, axis);
      t.textContent = String(Math.round(max * i / 4));
    }
    const step = plotW / Math.max(bars.length, 1);
    const every = Math.ceil(bars.length / Math.max(1, Math.floor(plotW / 34)));
    const series = shown.map((o) => ({ code: o.code, colour: o.colour, values: bars.map((b) => b.counts[o.code] || 0) }));
    bars.forEach((b, i) => {
      const g = el("g", { class: "bar", "data-key": String(b.key), "data-total": String(totals[i]) }, svg);
      let y = top + plotH;
      const x = left + i * step + step * 0.12, w = Math.max(step * 0.76, 1);
      el("rect", { x: left + i * step, y: top, width: step, height: plotH, fill: "transparent" }, g);  // the hover target
      shown.forEach((o) => {
        const n = b.counts[o.code] || 0;
        const h = plotH * n / max;
        y -= h;
        if (n) el("rect", { x, y, width: w, height: h, fill: o.colour, "data-outcome": o.code, "data-n": String(n) }, g);
      });
      if (i % every === 0) {
        const t = el("text", { x: left + i * step + step / 2, y: height - 6, "text-anchor": "middle" }, axis);
        t.textContent = label(b.key);
      }
      g.addEventListener("mouseenter", (ev) => tip(ev, b, label(b.key)));
      g.addEventListener("mousemove", move);
      g.addEventListener("mouseleave", () => { $("#rp-tip").hidden = true; });
    });
    window.Reports.charts[name] = { labels: bars.map((b) => String(b.key)), series, max };
  }

  function tip(ev, bar, title) {
    const box = $("#rp-tip");
    const all = data.outcomes.reduce((s, o) => s + (bar.counts[o.code] || 0), 0);
    const rows = data.outcomes.filter((o) => !hidden.has(o.code)).map((o) => {
      const n = bar.counts[o.code] || 0;
      return `<tr data-outcome="${o.code}"><td><span class="rp-swatch" style="background:${o.colour}"></span> ${o.label}</td>` +
             `<td class="r">${n}</td><td class="r">${fmtPct(n, all)}</td></tr>`;
    }).join("");
    box.innerHTML = `<b>${title}</b> · ${data.words.total || "Total"}: ${all}<table>${rows}</table>`;
    box.hidden = false;
    move(ev);
  }

  function move(ev) {
    const box = $("#rp-tip");
    const x = Math.min(ev.clientX + 14, window.innerWidth - box.offsetWidth - 8);
    const y = Math.min(ev.clientY + 14, window.innerHeight - box.offsetHeight - 8);
    box.style.left = x + "px"; box.style.top = y + "px";
  }

  /* G4: several operators on one chart — each one's outcome mix (100 % of the outcomes shown) and, beside it,
   * minutes of talk per hour signed in */
  function drawCompare(holder, rows) {
    if (!holder) return;
    holder.textContent = "";
    const shown = data.outcomes.filter((o) => !hidden.has(o.code));
    const width = Math.max(holder.getBoundingClientRect().width, 300), rowH = 22, top = 18;
    const nameW = 170, mixW = (width - nameW) * 0.62, talkX = nameW + mixW + 24, talkW = width - talkX - 40;
    const height = top + rows.length * rowH + 4;
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": "compare",
                            "data-series": shown.map((o) => o.code).join(","), style: `height: ${height}px` }, holder);
    const axis = el("g", { class: "axis" }, svg);
    [[nameW, data.words.mix], [talkX, data.words.talk_per_hour]].forEach(([x, text]) => {
      const t = el("text", { x, y: 11 }, axis); t.textContent = text || "";
    });
    const maxTalk = Math.max(1, ...rows.map((r) => r.talk_min_per_hour || 0));
    const series = shown.map((o) => ({ code: o.code, colour: o.colour, values: [] }));
    rows.forEach((r, i) => {
      const y = top + i * rowH;
      const g = el("g", { class: "bar", "data-key": r.name, "data-total": String(r.attempts) }, svg);
      el("rect", { x: 0, y, width, height: rowH, fill: "transparent" }, g);
      const name = el("text", { x: nameW - 8, y: y + 15, "text-anchor": "end", class: "rp-compare-name" }, g);
      name.textContent = r.name.length > 24 ? r.name.slice(0, 23) + "…" : r.name;
      const counts = Object.fromEntries(r.outcomes.map((o) => [o.code, o.n]));
      const visible = shown.reduce((s2, o) => s2 + (counts[o.code] || 0), 0);
      let x = nameW;
      shown.forEach((o, k) => {
        const share = visible ? (counts[o.code] || 0) / visible : 0;
        series[k].values.push(Math.round(share * 1000) / 10);
        if (share > 0) el("rect", { x, y: y + 4, width: mixW * share, height: rowH - 8, fill: o.colour, "data-outcome": o.code,
                                    "data-n": String(counts[o.code] || 0) }, g);
        x += mixW * share;
      });
      const talk = r.talk_min_per_hour;
      el("rect", { x: talkX, y: y + 6, width: talk ? talkW * talk / maxTalk : 0, height: rowH - 12, class: "rp-compare-talk" }, g);
      const v = el("text", { x: talkX + (talk ? talkW * talk / maxTalk : 0) + 4, y: y + 15 }, g);
      v.textContent = talk == null ? "—" : talk.toFixed(1);
      g.addEventListener("mouseenter", (ev) => tip(ev, { counts }, r.name + " · " + (data.words.talk_per_hour || "") + ": " +
                                                   (talk == null ? "—" : talk.toFixed(1))));
      g.addEventListener("mousemove", move);
      g.addEventListener("mouseleave", () => { $("#rp-tip").hidden = true; });
    });
    window.Reports.charts.compare = { labels: rows.map((r) => r.name), series, talk_min_per_hour: rows.map((r) => r.talk_min_per_hour) };
  }

  function drawAll() {
    draw($("#rp-chart-day"), data.by_day, dayLabel, "day");
    draw($("#rp-chart-hour"), data.by_hour, (h) => String(h), "hour");
    drawCompare($("#rp-chart-compare"), data.compare || []);
  }

  /* ---- tables: sort and columns ---- */
  function cellValue(row, col) {
    const td = row.querySelector(`[data-col="${col}"]`);
    const v = td ? td.dataset.v : "";
    const n = Number(v);
    return v !== "" && !Number.isNaN(n) ? n : (v || "");
  }

  function sortTable(table, col, way) {
    const body = table.tBodies[0];
    const rows = Array.from(body.rows).filter((r) => !r.classList.contains("rp-empty"));
    const sign = way === "asc" ? 1 : -1;
    rows.sort((a, b) => {
      const x = cellValue(a, col), y = cellValue(b, col);
      const c = typeof x === "number" && typeof y === "number" ? x - y : String(x).localeCompare(String(y), lang());
      return sign * c;
    });
    rows.forEach((r) => body.appendChild(r));
    $$("thead th", table).forEach((th) => th.setAttribute("aria-sort", th.dataset.col === col ? (way === "asc" ? "ascending" : "descending") : "none"));
    state.sort[table.dataset.table] = col + ":" + way;
  }

  function setHidden(tableName, cols) {
    const table = $(`table[data-table="${tableName}"]`);
    if (!table) return;
    $$("[data-col]", table).forEach((c) => c.classList.toggle("rp-hidden", cols.includes(c.dataset.col)));
    $$(`.rp-columns[data-table="${tableName}"] input[data-col]`).forEach((box) => { box.checked = !cols.includes(box.dataset.col); });
    if (cols.length) state.hidden[tableName] = cols.slice(); else delete state.hidden[tableName];
  }

  function wireTables() {
    $$("table.rp-grid").forEach((table) => {
      $$("thead th .rp-sort", table).forEach((btn) => btn.addEventListener("click", () => {
        const th = btn.closest("th");
        const way = th.getAttribute("aria-sort") === "descending" ? "asc" : "desc";
        sortTable(table, th.dataset.col, th.dataset.col === "name" && th.getAttribute("aria-sort") === "none" ? "asc" : way);
      }));
    });
    $$(".rp-columns").forEach((picker) => picker.addEventListener("change", () => {
      const off = $$("input[data-col]", picker).filter((b) => !b.checked).map((b) => b.dataset.col);
      setHidden(picker.dataset.table, off);
    }));
  }

  function applyState(saved) {
    if (!saved) return;
    Object.entries(saved.hidden || {}).forEach(([t, cols]) => setHidden(t, cols));
    Object.entries(saved.sort || {}).forEach(([t, value]) => {
      const table = $(`table.rp-grid[data-table="${t}"]`);
      const [col, way] = value.split(":");
      if (table && table.tHead) sortTable(table, col, way);
    });
  }

  /* ---- saved views ---- */
  function currentQuery() {
    const q = new URLSearchParams(location.search);
    q.delete("view"); q.delete("page");
    return q.toString();
  }

  function message(text, bad) {
    const m = $("#rp-view-msg");
    if (m) { m.textContent = text; m.classList.toggle("bad", !!bad); }
  }

  async function saveView() {
    const name = ($("#rp-view-name").value || "").trim();
    if (!name) { message(data.words.name_needed || "Name?", true); return; }
    const role = $("#rp-view-role");
    const body = { table: $("#reports").dataset.table, name, state: { query: currentQuery(), hidden: state.hidden, sort: state.sort },
                   shared_role_id: role && role.value ? Number(role.value) : null };
    const r = await fetch("/api/reports/views", { method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": window.Dialer.csrf() }, body: JSON.stringify(body) });
    const answer = await r.json().catch(() => ({}));
    if (!r.ok) { message((lang() === "ru" && answer.message_ru) || answer.message || String(r.status), true); return; }
    message(data.words.saved || "Saved");
    const q = body.state.query;
    location.href = location.pathname + "?" + (q ? q + "&" : "") + "view=" + answer.id;
  }

  async function deleteView(btn) {
    if (!window.confirm(data.words.delete_confirm || "Delete?")) return;
    const r = await fetch("/api/reports/views/" + btn.dataset.id, { method: "DELETE", credentials: "same-origin",
      headers: { "X-CSRF-Token": window.Dialer.csrf() } });
    if (r.ok) location.href = location.pathname + "?" + currentQuery();
    else message(String(r.status), true);
  }

  function wireViews() {
    const pick = $("#rp-view");
    if (pick) pick.addEventListener("change", () => {
      const opt = pick.selectedOptions[0];
      if (!pick.value) { location.href = location.pathname + "?" + currentQuery(); return; }
      const q = opt.dataset.query || "";
      location.href = location.pathname + "?" + (q ? q + "&" : "") + "view=" + pick.value;
    });
    const save = $("#rp-view-save");
    if (save) save.addEventListener("click", saveView);
    const del = $("#rp-view-delete");
    if (del) del.addEventListener("click", () => deleteView(del));
  }

  function wireFilters() {
    const form = $("#rp-form");
    if (!form) return;
    $$("input[name=period]", form).forEach((radio) => radio.addEventListener("change", () => {
      if (radio.value !== "custom") form.submit();
    }));
    $$("input[type=date]", form).forEach((d) => d.addEventListener("change", () => {
      const custom = $("input[name=period][value=custom]", form);
      if (custom) custom.checked = true;
    }));
  }

  function wireLegend() {
    $$(".rp-legend-item").forEach((btn) => btn.addEventListener("click", () => {
      const code = btn.dataset.outcome;
      if (hidden.has(code)) hidden.delete(code); else hidden.add(code);
      btn.setAttribute("aria-pressed", hidden.has(code) ? "false" : "true");
      drawAll();
    }));
  }

  window.Reports = { charts: {}, hidden, state };
  document.addEventListener("DOMContentLoaded", () => {
    const src = $("#rp-data");
    if (src) data = Object.assign(data, JSON.parse(src.textContent));
    wireFilters(); wireLegend(); wireTables(); wireViews();
    document.addEventListener("click", (ev) => {  // an open pop-over list closes on a click elsewhere
      $$("details.rp-save[open], details.rp-shift[open], details.rp-columns[open]").forEach((d) => {
        if (!d.contains(ev.target)) d.open = false;
      });
    });
    applyState(data.state);
    drawAll();
    let pending = null;
    window.addEventListener("resize", () => { clearTimeout(pending); pending = setTimeout(drawAll, 150); });
  });
})();
