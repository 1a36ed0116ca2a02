// Live updates: every few seconds, fetch this page's <main> content (header X-Live) and swap it
// in. The server renders it with every value escaped; nothing here builds HTML from data.
(function () {
  "use strict";
  var main = document.getElementById("live");
  if (!main) { return; }
  var seconds = parseFloat(main.getAttribute("data-refresh")) || 2;
  function refresh() {
    fetch(window.location.pathname, { headers: { "X-Live": "1" }, cache: "no-store" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) { if (html !== null) { main.innerHTML = html; } })
      .catch(function () { /* the server restarts: try again at the next tick */ })
      .finally(function () { window.setTimeout(refresh, seconds * 1000); });
  }
  window.setTimeout(refresh, seconds * 1000);
}());
