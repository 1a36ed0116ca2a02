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

// Commands: a form of class "command" is posted with the token typed in the navigation bar
// (never stored); the answer (202, or 401/403 without the right token) shows beside it.
(function () {
  "use strict";
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.classList || !form.classList.contains("command")) { return; }
    event.preventDefault();
    var field = document.getElementById("token");
    var status = document.getElementById("command-status");
    var token = field ? field.value : "";
    var headers = { "Content-Type": "application/x-www-form-urlencoded" };
    if (token) { headers["X-Engine-Token"] = token; }
    fetch(form.action, { method: "POST", headers: headers, body: "" })
      .then(function (response) {
        return response.text().then(function (text) {
          if (status) { status.textContent = response.status + ": " + text; }
        });
      })
      .catch(function (error) { if (status) { status.textContent = String(error); } });
  });
}());
