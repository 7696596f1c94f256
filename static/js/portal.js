// Site-wide behaviour shared by every page. No inline scripts anywhere (CSP).
(function () {
  "use strict";
  // Language selector: submit on change (the button stays for keyboard and no-JS users).
  document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });
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
