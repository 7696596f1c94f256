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
};
