// Site-wide behaviour shared by every page. No inline scripts anywhere (CSP).
(function () {
  "use strict";
  // Language selector: a pick with the mouse or touch submits at once; arrow keys only move the
  // choice (no navigation while browsing the options, WCAG 3.2.2) and Enter or the button submits.
  var browseKeys = ["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "Home", "End", "PageUp", "PageDown"];
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    var byKeyboard = false;
    select.addEventListener("keydown", function (event) {
      if (event.key === "Enter") {
        event.preventDefault();
        select.form.submit();
      } else if (browseKeys.indexOf(event.key) !== -1 || event.key.length === 1) {
        byKeyboard = true;
      }
    });
    select.addEventListener("change", function () {
      if (byKeyboard) {
        byKeyboard = false;
        select.dataset.pending = "true"; // chosen, not sent: the button or Enter sends it
        return;
      }
      select.form.submit();
    });
  });
  // After a failed submit the error summary takes the focus (screen readers read it first).
  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }
  // Buttons that ask for confirmation before submitting their form.
  document.addEventListener("submit", function (event) {
    var message = event.target.getAttribute("data-confirm");
    if (message && !window.confirm(message)) { event.preventDefault(); }
  });
})();

// Small helpers other modules use.
window.Portal = {
  csrfToken: function () {
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  },
  wsUrl: function (path) {
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    return scheme + window.location.host + path;
  },
  // The one time formatter of the browser side (the server's is support_portal.times.format_datetime):
  // an ISO instant in the reader's zone (<html data-time-zone>, the profile's, never the device's) as
  // "02/12/2026 14:05" ("datetime"), "02/12/2026" ("date") or "14:05" ("time"), like the pages.
  formatTime: function (iso, style) {
    var date = iso instanceof Date ? iso : new Date(iso);
    if (isNaN(date.getTime())) { return ""; }
    var zone = document.documentElement.getAttribute("data-time-zone") || undefined;
    var parts = {};
    var options = {
      timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", hourCycle: "h23",
    };
    var format;
    try {
      format = new Intl.DateTimeFormat("en-GB", options);
    } catch (error) {  // an unknown zone: the device's rather than nothing
      delete options.timeZone;
      format = new Intl.DateTimeFormat("en-GB", options);
    }
    format.formatToParts(date).forEach(function (part) { parts[part.type] = part.value; });
    var day = parts.day + "/" + parts.month + "/" + parts.year;
    var time = (parts.hour === "24" ? "00" : parts.hour) + ":" + parts.minute;
    if (style === "date") { return day; }
    if (style === "time") { return time; }
    return day + " " + time;
  },
  // A valid <time datetime> value: UTC, whole seconds ("2026-12-02T13:05:00Z").
  isoInstant: function (iso) {
    var date = iso instanceof Date ? iso : new Date(iso);
    return isNaN(date.getTime()) ? "" : date.toISOString().replace(/\.\d+Z$/, "Z");
  },
};

// First page after login without a time zone of one's own: send the browser's (once).
(function () {
  "use strict";
  var url = document.documentElement.getAttribute("data-time-zone-guess");
  var zone = window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!url || !zone || !window.fetch) { return; }
  var body = new URLSearchParams({ time_zone: zone });
  fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": Portal.csrfToken() } })
    .then(function (response) {
      if (response.ok && zone !== document.documentElement.getAttribute("data-time-zone")) {
        document.documentElement.setAttribute("data-time-zone-guessed", zone);
      }
    })
    .catch(function () {});
})();
