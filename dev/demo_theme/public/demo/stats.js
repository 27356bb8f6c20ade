/*
 * The demo's statistics script (`make demo`). It stands for Matomo or any audience
 * measurement: it sets a first-party cookie, demo_stats_id, and, so that you see it run,
 * shows a badge at the bottom left of the page. The demo theme loads it through
 * ckanext-cookieconsent's gate: it runs only once "statistics" is allowed.
 * It sends nothing anywhere.
 */
(function () {
  "use strict";

  var fr = (document.documentElement.lang || "").indexOf("fr") === 0;
  var name = "demo_stats_id";
  var match = document.cookie.match(/(?:^|; )demo_stats_id=([^;]*)/);
  var id = match ? match[1] : Math.random().toString(36).slice(2, 12);
  // 13 months, like Matomo's visitor cookie.
  document.cookie = name + "=" + id + "; path=/; max-age=" + 13 * 30 * 24 * 3600 + "; samesite=lax";

  var badge = document.createElement("div");
  badge.id = "demo-stats-badge";
  badge.setAttribute("role", "status");
  badge.style.cssText = "position:fixed;left:1em;bottom:1em;z-index:1000;padding:.4em .8em;" +
    "border-radius:4px;background:#1b5e20;color:#fff;font-size:14px;" +
    "box-shadow:0 1px 4px rgba(0,0,0,.3)";
  badge.textContent = fr
    ? "Script de mesure d’audience chargé (cookie " + name + ")"
    : "Statistics script loaded (cookie " + name + ")";
  document.body.appendChild(badge);

  // A well-behaved script stops when consent is withdrawn; ckanext-cookieconsent deletes
  // its cookie.
  document.addEventListener("cookieconsent:change", function (event) {
    if (!event.detail.choice.categories.statistics) {
      badge.style.background = "#555";
      badge.textContent = fr
        ? "Mesure d’audience refusée : script arrêté, cookie supprimé"
        : "Statistics refused: script stopped, cookie deleted";
    }
  });
})();
