// Chat attachments (docs/CHAT.md "Attachments"): the file picker of the chat box posts one image
// or PDF to /chat/<id>/attachments/; the stored message reaches every side (this one included)
// as a `message` frame with an `attachment` field, rendered by chat.js.
(function () {
  "use strict";
  var input = document.getElementById("chat-file");
  if (!input || !window.fetch || !window.FormData) { return; }
  var status = document.getElementById("chat-file-status");
  var errorBox = document.getElementById("chat-error");
  var strings = input.dataset;

  function newClientId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return "f-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  function say(text, isError) {
    status.textContent = isError ? "" : text;
    errorBox.textContent = isError ? text : "";
    errorBox.hidden = !isError;
  }

  function upload(file, clientId, attempt) {
    var data = new FormData();
    data.append("file", file);
    data.append("client_id", clientId);
    return fetch(input.dataset.uploadUrl, {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRFToken": window.Portal.csrfToken(), Accept: "application/json" },
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (payload) {
        if (response.ok) { return payload; }
        throw new Error(payload.detail || strings.failed);
      });
    }, function () {
      // Network trouble: the same client_id again stores nothing twice.
      if (attempt < 2) { return upload(file, clientId, attempt + 1); }
      throw new Error(strings.failed);
    });
  }

  input.addEventListener("change", function () {
    var file = input.files && input.files[0];
    if (!file) { return; }
    if (file.size > Number(strings.maxBytes)) { say(strings.tooBig, true); input.value = ""; return; }
    say(strings.sending, false);
    input.disabled = true;
    upload(file, newClientId(), 0).then(function () {
      say(strings.sent, false);
    }).catch(function (error) {
      say(error.message, true);
    }).then(function () {
      input.disabled = false;
      input.value = "";
    });
  });
})();
