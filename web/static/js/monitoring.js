/* «Мониторинг»: the server renders the panel; this fetches it again every few seconds and swaps it in. A failed
 * fetch keeps the last panel and says since when it is old; a session that ended (a redirect to sign-in) reloads
 * the page, which then asks to sign in. */
(function () {
  "use strict";
  const stamp = document.getElementById("mon-updated");
  if (!stamp) return;
  const every = Number(stamp.dataset.refreshS || 3) * 1000;
  const lang = document.body.dataset.lang || "ru";
  const fmt = (d) => d.toLocaleTimeString(lang === "en" ? "en-GB" : "ru-RU");
  let last = new Date(), busy = false;
  const show = (ok) => {
    stamp.textContent = (lang === "en" ? (ok ? "Updated " : "Not updated since ") : (ok ? "Обновлено " : "Не обновляется с ")) + fmt(last);
    stamp.classList.toggle("stale", !ok);
  };
  async function refresh() {
    if (busy || document.hidden) return;
    busy = true;
    try {
      const r = await fetch("/monitoring/panel", { headers: { Accept: "text/html" }, credentials: "same-origin" });
      if (r.redirected) { window.location.reload(); return; }
      if (!r.ok) { show(false); return; }
      const doc = new DOMParser().parseFromString(await r.text(), "text/html");
      const fresh = doc.getElementById("mon-panel");
      const panel = document.getElementById("mon-panel");
      if (!fresh || !panel) { show(false); return; }
      panel.replaceWith(document.importNode(fresh, true));
      last = new Date();
      show(true);
      document.dispatchEvent(new CustomEvent("monitoring:refreshed"));
    } catch (_) {
      show(false);
    } finally {
      busy = false;
    }
  }
  setInterval(refresh, every);
  document.addEventListener("visibilitychange", () => { if (!document.hidden) refresh(); });
  show(true);
})();
