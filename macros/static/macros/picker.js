/* Macros picker (docs/TICKETS.md "Macros"): in a reply box, type "/" and part of a name; a listbox
 * of the agent's macros opens (a listbox the textarea controls — a textarea may not take the
 * combobox role, so it keeps its textbox role with aria-activedescendant: it keeps focus, arrows move the active
 * option, Enter inserts it, Escape closes). The inserted text is rendered by the server for this
 * ticket or conversation and stays editable; the macro's ticket actions are shown as a summary
 * and applied by the server with the reply. In the chat, the message the agent sends with it is
 * reported once (usage count). Text only ever goes in through textContent and input.value. */
(function () {
  "use strict";

  var TOKEN = /(^|\s)\/([^\s\/]{0,60})$/;

  function setup(box, index) {
    var input = document.getElementById(box.dataset.target);
    if (!input) { return; }
    var list = box.querySelector(".macro-options");
    var summary = box.querySelector(".macro-summary");
    var hidden = box.querySelector("input[name=macro]");
    var results = [];
    var active = -1;
    var seq = 0;
    var timer = null;
    var token = null;
    var chosen = null;

    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);

    function currentToken() {
      if (input.selectionStart !== input.selectionEnd) { return null; }
      var caret = input.selectionStart;
      var match = TOKEN.exec(input.value.slice(0, caret));
      if (!match) { return null; }
      return { start: caret - match[2].length - 1, end: caret, query: match[2] };
    }

    function close() {
      list.hidden = true;
      list.textContent = "";
      results = [];
      active = -1;
      box.dataset.open = "false";
      input.removeAttribute("aria-activedescendant");
    }

    function highlight(i) {
      var options = list.querySelectorAll("[role=option]");
      if (!options.length) { return; }
      active = (i + options.length) % options.length;
      options.forEach(function (option, n) { option.setAttribute("aria-selected", n === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", options[active].id);
      options[active].scrollIntoView({ block: "nearest" });
    }

    function show(query) {
      list.textContent = "";
      if (!results.length) {
        var empty = document.createElement("li");
        empty.className = "macro-empty muted";
        empty.textContent = box.dataset.noResults;
        list.appendChild(empty);
      }
      results.forEach(function (macro, n) {
        var li = document.createElement("li");
        li.id = list.id + "-" + macro.id;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.dataset.name = macro.name;
        var name = document.createElement("strong");
        name.textContent = "/" + macro.name;
        li.appendChild(name);
        if (macro.shared) {
          var badge = document.createElement("span");
          badge.className = "badge";
          badge.textContent = box.dataset.shared;
          li.appendChild(badge);
        }
        var preview = document.createElement("span");
        preview.className = "macro-preview";
        preview.textContent = macro.text.length > 140 ? macro.text.slice(0, 140) + "…" : macro.text;
        li.appendChild(preview);
        if (macro.actions.length) {
          var actions = document.createElement("small");
          actions.className = "muted";
          actions.textContent = macro.actions.join(" · ");
          li.appendChild(actions);
        }
        li.addEventListener("mousedown", function (event) { event.preventDefault(); pick(n); });
        list.appendChild(li);
      });
      list.hidden = false;
      box.dataset.open = "true";
      box.dataset.answered = query;
      if (results.length) { highlight(0); } else { active = -1; input.removeAttribute("aria-activedescendant"); }
    }

    function search() {
      token = currentToken();
      if (!token) { close(); return; }
      var mine = ++seq;
      var query = token.query;
      fetch(box.dataset.searchUrl + "&q=" + encodeURIComponent(query), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      })
        .then(function (response) { return response.ok ? response.json() : { results: [] }; })
        .then(function (data) {
          if (mine !== seq || !currentToken()) { return; }
          results = data.results || [];
          show(query);
        })
        .catch(function () { if (mine === seq) { close(); } });
    }

    function pick(i) {
      var macro = results[i];
      var where = token;
      if (!macro || !where) { return; }
      input.value = input.value.slice(0, where.start) + macro.text + input.value.slice(where.end);
      var caret = where.start + macro.text.length;
      input.focus();
      input.setSelectionRange(caret, caret);
      close();
      chosen = macro;
      if (hidden) { hidden.value = String(macro.id); }
      var note = box.dataset.inserted + " /" + macro.name;
      if (macro.actions.length) {
        // In a chat the actions apply only to its linked ticket (docs/CHAT.md "Macros in the chat box").
        note += hidden ? " — " + box.dataset.actions + ": " + macro.actions.join(" · ")
          : " — " + box.dataset.chatActions + ": " + macro.actions.join(" · ");
      }
      summary.textContent = note;
      box.dataset.chosen = macro.name;
    }

    input.addEventListener("input", function () {
      if (hidden && !input.value.trim()) { hidden.value = ""; summary.textContent = ""; chosen = null; }
      window.clearTimeout(timer);
      timer = window.setTimeout(search, 120);
    });
    input.addEventListener("blur", close);

    // Capture phase on the document: runs before the box's own handlers (the chat sends on Enter).
    document.addEventListener("keydown", function (event) {
      if (event.target !== input || list.hidden) { return; }
      if (event.key === "ArrowDown" || event.key === "ArrowUp") {
        if (results.length) { highlight(active + (event.key === "ArrowDown" ? 1 : -1)); }
      } else if (event.key === "Enter" && active >= 0 && !event.shiftKey) {
        pick(active);
      } else if (event.key === "Escape") {
        close();
      } else {
        return;
      }
      event.preventDefault();
      event.stopImmediatePropagation();
    }, true);

    if (box.dataset.usedUrl) { watchChat(box, input, function () { var c = chosen; chosen = null; return c; }); }
  }

  /* Chat: when the agent sends a message that used a macro, report that message once it is stored. */
  function watchChat(box, input, takeChosen) {
    var messages = document.getElementById("chat-messages");
    if (!messages || !input.form) { return; }
    document.addEventListener("submit", function (event) {
      if (event.target !== input.form) { return; }
      var macro = takeChosen();
      var body = input.value.trim();
      if (!macro || !body) { return; }
      var known = {};
      messages.querySelectorAll("li[data-id]").forEach(function (li) { known[li.dataset.id] = true; });
      var observer = new MutationObserver(function () {
        var mine = messages.querySelectorAll("li.mine[data-id]");
        for (var i = 0; i < mine.length; i++) {
          var li = mine[i];
          var text = li.querySelector(".body");
          if (known[li.dataset.id] || !text || text.textContent.trim() !== body) { continue; }
          observer.disconnect();
          report(box, macro, li.dataset.id);
          return;
        }
      });
      observer.observe(messages, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-id"] });
      window.setTimeout(function () { observer.disconnect(); }, 120000);
      box.querySelector(".macro-summary").textContent = "";
    }, true);
  }

  function report(box, macro, messageId) {
    fetch(box.dataset.usedUrl + macro.id + "/used/", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": window.Portal.csrfToken(), "Content-Type": "application/x-www-form-urlencoded" },
      body: "message=" + encodeURIComponent(messageId),
    }).then(function (response) { if (response.ok) { box.dataset.reported = messageId; } });
  }

  document.querySelectorAll("[data-macro-picker]").forEach(setup);
})();
