/* «Операторы» and «Телефония»: registrations follow the live event `sip.registration` (a trigger on the contacts
 * Asterisk writes, sql/012_devices.sql) without a reload; the import's passwords can be saved as CSV. */
(function () {
  "use strict";
  const words = () => { const el = document.getElementById("reg-words"); return el ? JSON.parse(el.textContent) : {}; };
  const set = (root, key, text, title) => {
    root.querySelectorAll('[data-reg="' + key + '"]').forEach((el) => {
      el.textContent = text;
      if (title !== undefined) el.title = title;
    });
  };
  const clock = (iso) => {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? "" : d.toLocaleString(document.body.dataset.lang === "en" ? "en-GB" : "ru-RU",
      { day: "2-digit", month: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" });
  };

  // times arrive as ISO with an offset: shown in the browser's own time zone, here and at page load
  function when(root, key, iso) {
    root.querySelectorAll('[data-reg="' + key + '"]').forEach((el) => { el.dataset.when = iso || ""; el.textContent = clock(iso) || "—"; });
  }

  function show(root, reg) {
    const W = words();
    const on = !!(reg && reg.online);
    root.dataset.online = on ? "yes" : "no";
    root.dataset.qualify = (on && reg.qualify_status) || "";
    const unreachable = on && reg.qualify_status === "Unreachable";
    set(root, "state", unreachable ? W.unreachable : on ? W.online : W.offline);
    set(root, "addr", on && reg.ip ? reg.ip + ":" + reg.port : "");
    set(root, "ua", on ? reg.user_agent || "" : "", on ? reg.user_agent || "" : "");
    when(root, "expires", on ? reg.expires_at : "");
    when(root, "since", on ? reg.registered_at : "");
    set(root, "rtt", on && reg.rtt_us != null && !unreachable ? (reg.rtt_us / 1000).toFixed(1) + " " + (W.ms || "ms") : "—");
    set(root, "server", on ? reg.server || "" : "");
  }

  function onRegistration(ev) {
    document.querySelectorAll('[data-reg-login="' + CSS.escape(ev.login) + '"]').forEach((root) => show(root, ev.registration));
  }

  function downloadCredentials(e) {
    e.preventDefault();
    const rows = [["name", "login", "sip_password"]];
    document.querySelectorAll("#credentials tbody tr").forEach((tr) => {
      const cells = tr.querySelectorAll("td");
      rows.push([cells[1].textContent.trim(), cells[2].textContent.trim(), cells[3].textContent.trim()]);
    });
    const quote = (v) => (/[";,\n]/.test(v) ? '"' + v.replace(/"/g, '""') + '"' : v);
    const blob = new Blob(["\ufeff" + rows.map((r) => r.map(quote).join(";")).join("\r\n") + "\r\n"], { type: "text/csv" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "sip-credentials.csv";
    document.body.append(a);
    a.click();
    setTimeout(() => { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }

  function toggleColumn(e) {
    const col = e.currentTarget.dataset.col;
    const boxes = [...document.querySelectorAll('#pools-grid input[type=checkbox][data-col="' + col + '"]')];
    const tick = boxes.some((b) => !b.checked);
    boxes.forEach((b) => { b.checked = tick; });
  }

  if (window.Dialer) window.Dialer.live.on("sip.registration", onRegistration);
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-reg][data-when]").forEach((el) => { el.textContent = clock(el.dataset.when) || "—"; });
    const link = document.getElementById("download-credentials");
    if (link) link.addEventListener("click", downloadCredentials);
    document.querySelectorAll("button.pools-col").forEach((b) => b.addEventListener("click", toggleColumn));
  });
})();
