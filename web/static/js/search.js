/* «Поиск»: the lead card follows its calls — when an attempt of this lead starts, is answered or ends, the card's
 * live part (why it is not dialled, the attempts) is read again and swapped in, without a reload. */
(function () {
  "use strict";
  let pending = null;

  function refresh() {
    pending = null;
    fetch(location.pathname, { credentials: "same-origin" }).then((r) => (r.ok ? r.text() : null)).then((html) => {
      if (!html) return;
      const fresh = new DOMParser().parseFromString(html, "text/html");
      ["lead-main"].forEach((id) => {
        const now = document.getElementById(id), next = fresh.getElementById(id);
        if (now && next) { now.replaceWith(next); localTimes(next); }
      });
      const state = document.querySelector('[data-testid="lead-state"]'), nextState = fresh.querySelector('[data-testid="lead-state"]');
      if (state && nextState) state.replaceWith(nextState);
    });
  }

  // times arrive as ISO with an offset: shown in the browser's own time zone (the client's is said where it matters)
  function localTimes(root) {
    const lang = document.body.dataset.lang === "en" ? "en-GB" : "ru-RU";
    (root || document).querySelectorAll("[data-when]").forEach((el) => {
      const d = new Date(el.dataset.when);
      if (el.dataset.when && !isNaN(d)) {
        el.textContent = d.toLocaleString(lang, { day: "2-digit", month: "2-digit", year: "numeric", hour: "2-digit", minute: "2-digit" });
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    localTimes();
    const card = document.getElementById("lead-live");
    if (!card || !window.Dialer) return;
    const leadId = Number(card.dataset.lead);
    window.Dialer.live.on("attempt", (a) => {
      if (a.lead_id !== leadId || pending) return;
      pending = setTimeout(refresh, 300);  // the answer and the end may come close together: read once
    });
  });
})();
