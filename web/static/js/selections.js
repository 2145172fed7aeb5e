/* «Выборки»: the priority order (drag a row or press an arrow: saved at once), and the rule editor — a condition
 * builder over every lead field and the CRM fields seen in the campaign, limits, window, order and skill. While
 * the rule is edited the server counts the leads it matches (debounced, nothing saved); a save goes through the
 * JSON API, and every mistake it names is shown beside the condition or input it belongs to. */
(function () {
  "use strict";
  const $ = (sel, root) => (root || document).querySelector(sel);
  const $$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));
  const dataEl = document.getElementById("sel-data");
  if (!dataEl) return;
  const D = JSON.parse(dataEl.textContent);
  const W = D.words, CAT = D.catalogue, LANG = D.lang;
  const pick = (ru, en) => (LANG === "en" ? en : ru);
  const NUM = /^-?\d+(\.\d+)?$/;

  function api(method, url, body) {
    return fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": window.Dialer ? window.Dialer.csrf() : "" },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).then((r) => r.json().catch(() => ({})).then((json) => ({ ok: r.ok, status: r.status, json })));
  }
  const messageOf = (p) => pick(p.message_ru || p.message, p.message || "");

  // the history's times arrive as ISO with an offset: shown in the browser's own time zone
  document.querySelectorAll("[data-when]").forEach((e) => {
    const d = new Date(e.dataset.when);
    if (!isNaN(d)) e.textContent = d.toLocaleString(LANG === "en" ? "en-GB" : "ru-RU", { day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit" });
  });

  // ---- the priority order ---------------------------------------------------------------------------------
  const list = document.getElementById("sel-list");
  const orderError = $('[data-testid="order-error"]');

  function renumber() {
    const items = $$(".sel-item", list);
    items.forEach((li, i) => {
      $(".sel-pos", li).textContent = String(i + 1);
      const up = $('[data-move="up"]', li), down = $('[data-move="down"]', li);
      if (up) up.disabled = i === 0;
      if (down) down.disabled = i === items.length - 1;
    });
  }

  function saveOrder(before) {
    const ids = $$(".sel-item", list).map((li) => Number(li.dataset.id));
    renumber();
    api("PUT", "/api/campaigns/" + D.campaign_id + "/selections/order", { selection_ids: ids }).then((r) => {
      if (r.ok) { orderError.hidden = true; list.dataset.saved = ids.join(","); return; }
      orderError.textContent = messageOf(r.json);
      orderError.hidden = false;
      before.forEach((li) => list.appendChild(li));  // put the rows back as they were saved
      renumber();
    });
  }

  if (list) {
    list.addEventListener("click", (e) => {
      const btn = e.target.closest("[data-move]");
      if (!btn) return;
      const li = btn.closest(".sel-item"), before = $$(".sel-item", list);
      if (btn.dataset.move === "up" && li.previousElementSibling) list.insertBefore(li, li.previousElementSibling);
      else if (btn.dataset.move === "down" && li.nextElementSibling) list.insertBefore(li.nextElementSibling, li);
      else return;
      saveOrder(before);
    });
    let dragged = null, before = null;
    list.addEventListener("dragstart", (e) => {
      dragged = e.target.closest(".sel-item");
      if (!dragged) return;
      before = $$(".sel-item", list);
      dragged.classList.add("dragging");
      e.dataTransfer.effectAllowed = "move";
      e.dataTransfer.setData("text/plain", dragged.dataset.id);
    });
    list.addEventListener("dragover", (e) => {
      const over = e.target.closest(".sel-item");
      if (!dragged || !over || over === dragged) return;
      e.preventDefault();
      const r = over.getBoundingClientRect();
      list.insertBefore(dragged, e.clientY > r.top + r.height / 2 ? over.nextElementSibling : over);
    });
    list.addEventListener("drop", (e) => e.preventDefault());
    list.addEventListener("dragend", () => {
      if (!dragged) return;
      dragged.classList.remove("dragging");
      const changed = before.some((li, i) => li !== $$(".sel-item", list)[i]);
      if (changed) saveOrder(before);
      dragged = null;
    });
  }

  // ---- the editor -------------------------------------------------------------------------------------------
  const editor = document.getElementById("editor");
  if (!editor) return;
  const readonly = editor.dataset.readonly === "1";
  const selectionId = editor.dataset.selection;
  const groupsEl = document.getElementById("groups");
  const FIELDS = {};
  CAT.fields.forEach((f) => { FIELDS[f.field] = f; });
  const ATTRS = {};
  (CAT.attributes || []).forEach((a) => { ATTRS[a.field] = a; });

  const kindOf = (field) => (field.startsWith(CAT.attribute.prefix) ? "attr" : (FIELDS[field] || {}).type);
  const opsOf = (field) => (kindOf(field) === "attr" ? CAT.attribute.ops : (FIELDS[field] || {}).ops || []);
  const typeName = (t) => W[t] || t;

  function el(tag, attrs, children) {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => {
      if (k === "text") e.textContent = v; else if (v !== undefined && v !== null && v !== false) e.setAttribute(k, v === true ? "" : v);
    });
    (children || []).forEach((c) => e.appendChild(c));
    return e;
  }

  function fieldSelect(value) {
    const s = el("select", { class: "c-field", "aria-label": W.field, "data-testid": "cond-field" });
    const g1 = el("optgroup", { label: W.fields });
    CAT.fields.forEach((f) => g1.appendChild(el("option", { value: f.field, text: pick(f.label_ru, f.label_en) })));
    s.appendChild(g1);
    const g2 = el("optgroup", { label: W.attributes });
    const attrs = (CAT.attributes || []).slice();
    if (value && value.startsWith(CAT.attribute.prefix) && !ATTRS[value]) attrs.push({ field: value, key: value.slice(CAT.attribute.prefix.length), type: "text" });
    attrs.forEach((a) => g2.appendChild(el("option", { value: a.field, text: a.key + " (" + typeName(a.type) + ")" })));
    g2.appendChild(el("option", { value: "__attr", text: W.other_attribute }));
    s.appendChild(g2);
    s.value = value || CAT.fields[0].field;
    return s;
  }

  function opSelect(field, op) {
    const s = el("select", { class: "c-op", "aria-label": W.op, "data-testid": "cond-op" });
    opsOf(field).forEach((o) => s.appendChild(el("option", { value: o, text: pick(CAT.ops[o].label_ru, CAT.ops[o].label_en) })));
    s.value = opsOf(field).includes(op) ? op : opsOf(field)[0];
    return s;
  }

  function inputType(field, op) {
    const k = kindOf(field);
    if (op === "today" || op === "within") return "number";
    if (k === "date" || k === "datetime") return "date";
    if (k === "number" || k === "integer") return "number-ish";
    return "text";
  }

  function valueInputs(field, op, value) {
    const box = el("span", { class: "c-value" });
    if (!CAT.ops[op] || !CAT.ops[op].takes_value) return box;
    const t = inputType(field, op);
    const mk = (v, placeholder, testid) => el("input", {
      type: t === "date" ? "date" : "text", class: "c-in", value: v === undefined || v === null ? "" : String(v),
      placeholder, "aria-label": W.value, "data-testid": testid || "cond-value", inputmode: t === "number" || t === "number-ish" ? "decimal" : undefined,
    });
    if (op === "in" || op === "not_in") {
      box.appendChild(mk(Array.isArray(value) ? value.join(", ") : value, W.list_hint));
    } else if (op === "between" || op === "within") {
      const v = Array.isArray(value) ? value : [];
      box.appendChild(mk(v[0], op === "within" ? W.from + ", " + W.days : W.from, "cond-value"));
      box.appendChild(el("span", { class: "muted", text: "…" }));
      box.appendChild(mk(v[1], op === "within" ? W.to + ", " + W.days : W.to, "cond-value-2"));
    } else if (op === "today") {
      box.appendChild(mk(value === undefined ? 0 : value, "± " + W.days));
      box.appendChild(el("span", { class: "muted", text: W.days }));
    } else {
      box.appendChild(mk(value, ""));
    }
    return box;
  }

  function conditionRow(cond) {
    const row = el("div", { class: "sel-cond", "data-testid": "condition" });
    const field = fieldSelect(cond.field);
    const attrKey = el("input", { type: "text", class: "c-attr", placeholder: W.attribute_key, "aria-label": W.attribute_key, hidden: true, "data-testid": "cond-attr" });
    const op = opSelect(field.value, cond.op);
    const remove = el("button", { type: "button", class: "icon c-remove", "aria-label": W.remove, title: W.remove, text: "×", "data-testid": "cond-remove" });
    row.append(field, attrKey, op, valueInputs(field.value, op.value, cond.value), remove, el("div", { class: "field-error", "data-testid": "cond-error" }));
    field.addEventListener("change", () => {
      attrKey.hidden = field.value !== "__attr";
      const f = currentField(row);
      const newOp = opSelect(f, op.value);
      row.replaceChild(newOp, row.querySelector(".c-op"));
      row.replaceChild(valueInputs(f, newOp.value), row.querySelector(".c-value"));
      changed();
    });
    row.addEventListener("change", (e) => {
      if (!e.target.classList.contains("c-op")) return;
      row.replaceChild(valueInputs(currentField(row), e.target.value), row.querySelector(".c-value"));
      changed();
    });
    remove.addEventListener("click", () => {
      const group = row.closest(".sel-group");
      row.remove();
      if (!$(".sel-cond", group)) group.remove();
      renumberPaths();
      changed();
    });
    return row;
  }

  function currentField(row) {
    const f = $(".c-field", row).value;
    return f === "__attr" ? CAT.attribute.prefix + ($(".c-attr", row).value.trim() || "?") : f;
  }

  function groupBox(conds) {
    const g = el("div", { class: "sel-group", "data-testid": "group" });
    const head = el("div", { class: "sel-group-head" }, [el("span", { class: "sel-or", text: W.or })]);
    const body = el("div", { class: "sel-conds" });
    conds.forEach((c) => body.appendChild(conditionRow(c)));
    const add = el("button", { type: "button", class: "link", text: W.add_condition, "data-testid": "add-condition" });
    add.addEventListener("click", () => { body.appendChild(conditionRow({ field: CAT.fields[0].field, op: "eq" })); renumberPaths(); changed(); });
    g.append(head, body, add);
    return g;
  }

  function renumberPaths() {
    $$(".sel-group", groupsEl).forEach((g, i) => {
      g.dataset.path = "conditions[" + i + "]";
      $$(".sel-cond", g).forEach((row, j) => {
        const p = "conditions[" + i + "][" + j + "]";
        row.dataset.path = p;
        $(".c-field", row).dataset.path = p + ".field";
        $(".c-op", row).dataset.path = p + ".op";
        const vals = $$(".c-in", row);
        vals.forEach((v, k) => { v.dataset.path = vals.length > 1 ? p + ".value[" + k + "]" : p + ".value"; });
      });
    });
  }

  function scalar(raw, kind, op, attrType) {
    const s = raw.trim();
    const numeric = kind === "number" || kind === "integer" ||
      (kind === "attr" && (["gt", "lt", "ge", "le", "between"].includes(op) || attrType === "number"));
    return numeric && NUM.test(s) ? Number(s) : s;
  }

  function readCondition(row) {
    const field = currentField(row), op = $(".c-op", row).value, kind = kindOf(field);
    const attrType = (ATTRS[field] || {}).type;
    const cond = { field, op };
    if (!CAT.ops[op].takes_value) return cond;
    const vals = $$(".c-in", row).map((i) => i.value);
    if (op === "in" || op === "not_in") cond.value = vals[0].split(",").map((x) => x.trim()).filter((x) => x !== "").map((x) => scalar(x, kind, op, attrType));
    else if (op === "today") cond.value = NUM.test(vals[0].trim()) ? Number(vals[0]) : vals[0];
    else if (op === "within") cond.value = vals.map((v) => (NUM.test(v.trim()) ? Number(v) : v));
    else if (op === "between") cond.value = vals.map((v) => scalar(v, kind, op, attrType));
    else cond.value = scalar(vals[0], kind, op, attrType);
    return cond;
  }

  const intOrRaw = (v) => { const s = v.trim(); return s === "" ? null : NUM.test(s) ? Number(s) : s; };

  function readRule() {
    const rule = { conditions: $$(".sel-group", groupsEl).map((g) => $$(".sel-cond", g).map(readCondition)).filter((g) => g.length) };
    const limits = {};
    ["max_attempts", "max_per_day", "min_pause_minutes"].forEach((k) => { const v = intOrRaw($("#lim-" + k).value); if (v !== null) limits[k] = v; });
    rule.limits = limits;
    if ($("#win-on").checked) {
      const holidays = $("#win-holidays").value.split(",").map((x) => x.trim()).filter(Boolean);
      rule.window = { from: $("#win-from").value.trim() || "00:00", to: $("#win-to").value.trim() || "24:00",
        days: $$(".win-day").filter((c) => c.checked).map((c) => Number(c.value)), holidays };
    } else rule.window = null;
    rule.order = $("#sel-order").value;
    const skill = $("#skill-name").value.trim();
    rule.skill = skill ? { name: skill, level: intOrRaw($("#skill-level").value) ?? 1 } : null;
    rule.exhausted_status = $("#exhausted-status").value;
    return rule;
  }

  function load(rule) {
    rule = rule || {};
    (rule.conditions || []).forEach((g) => groupsEl.appendChild(groupBox(g)));
    const lim = rule.limits || {};
    ["max_attempts", "max_per_day", "min_pause_minutes"].forEach((k) => { $("#lim-" + k).value = lim[k] ?? ""; });
    const w = rule.window;
    $("#win-on").checked = !!w;
    $("#win-from").value = w ? w.from : "09:00";
    $("#win-to").value = w ? w.to : "21:00";
    $$(".win-day").forEach((c) => { c.checked = !w || w.days.includes(Number(c.value)); });
    $("#win-holidays").value = w ? (w.holidays || []).join(", ") : "";
    $("#sel-order").value = rule.order || "due";
    $("#skill-name").value = rule.skill ? rule.skill.name : "";
    $("#skill-level").value = rule.skill ? rule.skill.level : "";
    $("#exhausted-status").value = rule.exhausted_status || "";
    renumberPaths();
    syncWindow();
  }

  function syncWindow() {
    const on = $("#win-on").checked;
    ["#win-from", "#win-to", "#win-holidays"].forEach((s) => { $(s).disabled = !on || readonly; });
    $$(".win-day").forEach((c) => { c.disabled = !on || readonly; });
  }

  // ---- mistakes beside their inputs ------------------------------------------------------------------------------
  const topError = $('[data-testid="editor-error"]');

  function clearErrors() {
    $$(".has-error", editor).forEach((e) => e.classList.remove("has-error"));
    $$(".sel-cond .field-error", editor).forEach((e) => { e.textContent = ""; });
    $$(".field-error.added", editor).forEach((e) => e.remove());
    topError.hidden = true;
  }

  function placeFor(path) {
    let p = path;
    while (p) {
      const found = editor.querySelector('[data-path="' + CSS.escape(p) + '"]');
      if (found) return found;
      const cut = Math.max(p.lastIndexOf("."), p.lastIndexOf("["));
      p = cut > 0 ? p.slice(0, cut) : "";
    }
    return null;
  }

  function showErrors(answer) {
    clearErrors();
    const problems = answer.problems && answer.problems.length ? answer.problems : [answer];
    const loose = [];
    problems.forEach((p) => {
      const path = p.field || "";
      const text = messageOf(p).replace(path + ": ", "");
      const place = path ? placeFor(path) : null;
      if (!place) { loose.push(messageOf(p)); return; }
      place.classList.add("has-error");
      const row = place.closest(".sel-cond");
      if (row) {
        const box = $(".field-error", row);
        box.textContent = (box.textContent ? box.textContent + "; " : "") + text;
      } else {
        const holder = place.closest("label, fieldset, .sel-days") || place;
        holder.appendChild(el("div", { class: "field-error added", "data-testid": "field-error", text }));
      }
    });
    if (loose.length) { topError.textContent = loose.join("; "); topError.hidden = false; }
  }

  // ---- «Подходит сейчас» ----------------------------------------------------------------------------------------
  const now = document.getElementById("matches-now"), byConditions = document.getElementById("matches-conditions");
  let timer = null, seq = 0;

  function preview() {
    const mine = ++seq;
    api("POST", "/api/campaigns/" + D.campaign_id + "/selections/preview", { rule: readRule() }).then((r) => {
      if (mine !== seq) return;  // an older answer arriving late must not overwrite a newer one
      if (r.ok) {
        clearErrors();
        now.textContent = r.json.matches_now.toLocaleString(LANG === "en" ? "en-GB" : "ru-RU");
        byConditions.textContent = "(" + W.by_conditions + ": " + r.json.matches_conditions.toLocaleString(LANG === "en" ? "en-GB" : "ru-RU") + ")";
        editor.dataset.count = String(r.json.matches_now);
      } else {
        now.textContent = "—";
        byConditions.textContent = W.invalid;
        editor.dataset.count = "";
        if (r.status === 422) showErrors(r.json);
      }
    });
  }

  function changed() {
    $('[data-testid="editor-saved"]').hidden = true;
    clearTimeout(timer);
    timer = setTimeout(preview, 300);
  }

  editor.addEventListener("input", (e) => { if (e.target.matches("input")) changed(); });
  editor.addEventListener("change", (e) => { if (e.target.id === "win-on") syncWindow(); if (e.target.matches("input, select")) changed(); });
  document.getElementById("add-group").addEventListener("click", () => {
    groupsEl.appendChild(groupBox([{ field: CAT.fields[0].field, op: "eq" }]));
    renumberPaths();
    changed();
  });

  const saveBtn = document.getElementById("save");
  if (saveBtn) saveBtn.addEventListener("click", () => {
    const body = { name: $("#sel-name").value, rule: readRule(), enabled: $("#sel-enabled").checked };
    saveBtn.disabled = true;
    const req = selectionId ? api("PATCH", "/api/selections/" + selectionId, body)
      : api("POST", "/api/campaigns/" + D.campaign_id + "/selections", body);
    req.then((r) => {
      saveBtn.disabled = false;
      if (r.ok) { location.href = "/campaigns/" + D.campaign_id + "/selections?edit=" + r.json.id + "&saved=1"; return; }
      showErrors(r.json);
      topError.textContent = W.failed + ": " + (r.json.problems || [r.json]).map(messageOf).join("; ");
      topError.hidden = false;
    });
  });

  load(D.rule);
  if (readonly) $$("input, select, button", editor).forEach((e) => { e.disabled = true; });
  if (new URLSearchParams(location.search).get("saved")) $('[data-testid="editor-saved"]').hidden = false;
  preview();
  // the count follows the calls: a finished attempt changes which leads are callable
  if (window.Dialer) window.Dialer.live.on("attempt", (a) => { if (a.campaign_id === D.campaign_id && a.ended_at) changed(); });
})();
