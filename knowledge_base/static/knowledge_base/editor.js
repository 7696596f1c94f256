/* Agent article editor: live Markdown preview (server-rendered, sanitized) and confirmations. */
(function () {
  "use strict";

  function csrfToken() {
    if (window.Portal && typeof window.Portal.csrfToken === "function") return window.Portal.csrfToken();
    var field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  }

  function init() {
    var textarea = document.querySelector("textarea[data-kb-editor]");
    var preview = document.getElementById("kb-preview");
    if (textarea && preview) {
      var url = preview.getAttribute("data-preview-url");
      var timer = null;
      var refresh = function () {
        var body = new FormData();
        body.append("body", textarea.value);
        fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { "X-CSRFToken": csrfToken() } })
          .then(function (response) { return response.ok ? response.json() : null; })
          .then(function (data) {
            if (!data || typeof data.html !== "string") return;
            /* The server returns HTML sanitized by nh3 with a strict allowlist. */
            var parsed = new DOMParser().parseFromString(data.html, "text/html");
            preview.replaceChildren.apply(preview, Array.prototype.slice.call(parsed.body.childNodes));
          })
          .catch(function () {});
      };
      textarea.addEventListener("input", function () {
        clearTimeout(timer);
        timer = setTimeout(refresh, 400);
      });
      refresh();
    }
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
