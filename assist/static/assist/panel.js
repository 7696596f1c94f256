// Desk panels filled after the page loads (docs/TICKETS.md "Knowledge at hand", "Similar tickets"):
// - [data-assist-kb]: articles related to the ticket or conversation (refetched as the chat
//   grows), a search box, and "Insertar" buttons that put the article's link and title (and
//   optionally its summary) at the cursor of the reply box;
// - [data-assist-similar]: resolved tickets like this one and how they were solved;
// - [data-assist-same]: while a franchisee writes a ticket, an open one of their franchise on the
//   same problem.
// Everything is rendered with textContent; links are only ever our own relative URLs.
(function () {
  "use strict";

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    });
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      var args = arguments;
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { fn.apply(null, args); }, ms);
    };
  }

  function relative(url) {
    // Only our own paths become links (the server sends /kb/<slug>/ and /tickets/<id>/).
    return typeof url === "string" && /^\/[a-z0-9/_-]*$/i.test(url) ? url : "#";
  }

  function message(list, text) {
    list.textContent = "";
    var li = document.createElement("li");
    li.className = "muted";
    li.textContent = text;
    list.appendChild(li);
  }

  function insertAtCursor(box, text) {
    var start = box.selectionStart != null ? box.selectionStart : box.value.length;
    var end = box.selectionEnd != null ? box.selectionEnd : box.value.length;
    var before = box.value.slice(0, start);
    var after = box.value.slice(end);
    var lead = before && !/\s$/.test(before) ? "\n" : "";
    var tail = after && !/^\s/.test(after) ? "\n" : "";
    box.value = before + lead + text + tail + after;
    var caret = (before + lead + text).length;
    box.focus();
    box.setSelectionRange(caret, caret);
    box.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function articleText(hit, format, withSummary) {
    var summary = withSummary && hit.summary ? hit.summary : "";
    if (format === "markdown") {
      var title = hit.title.replace(/[[\]]/g, "");
      return "[" + title + "](" + hit.link + ")" + (summary ? "\n> " + summary : "");
    }
    return hit.title + ": " + hit.link + (summary ? "\n" + summary : "");
  }

  // --- knowledge at hand ------------------------------------------------------------------
  function kbPanel(panel) {
    var data = panel.dataset;
    var list = panel.querySelector(".assist-results");
    var search = panel.querySelector(".assist-kb-q");
    var withSummary = panel.querySelector(".assist-kb-with-summary");
    var status = panel.querySelector(".assist-status");
    var target = data.target ? document.getElementById(data.target) : null;
    var serial = 0;

    function render(payload, answered) {
      panel.dataset.answered = answered;
      list.textContent = "";
      if (!payload.results.length) { message(list, data.empty); return; }
      payload.results.forEach(function (hit) {
        var li = document.createElement("li");
        li.className = "assist-hit";
        var a = document.createElement("a");
        a.href = relative(hit.url);
        a.target = "_blank";
        a.rel = "noopener";
        a.textContent = hit.title;
        li.appendChild(a);
        if (hit.summary) {
          var p = document.createElement("p");
          p.className = "muted assist-hit-summary";
          p.textContent = hit.summary;
          li.appendChild(p);
        }
        if (target) {
          var button = document.createElement("button");
          button.type = "button";
          button.className = "assist-insert";
          button.textContent = data.insert;
          button.setAttribute("aria-label", data.insertLabel.replace("%(title)s", hit.title));
          button.addEventListener("click", function () {
            insertAtCursor(target, articleText(hit, data.format, withSummary && withSummary.checked));
            status.textContent = data.inserted;
          });
          li.appendChild(button);
        }
        list.appendChild(li);
      });
    }

    function load(query) {
      var mine = ++serial;
      var url = data.url + "?" + (query ? "q=" + encodeURIComponent(query) : data.source);
      getJSON(url).then(function (payload) {
        if (mine === serial) { render(payload, query || "context"); }
      }).catch(function () {
        if (mine === serial) { message(list, data.error); panel.dataset.answered = "error"; }
      });
    }

    load("");
    if (search) {
      search.addEventListener("input", debounce(function () { load(search.value.trim()); }, 300));
      search.addEventListener("keydown", function (event) {
        if (event.key === "Enter") { event.preventDefault(); load(search.value.trim()); }
      });
    }
    // A chat grows: search its new text again (unless the agent is searching by hand).
    var messages = document.getElementById("chat-messages");
    if (messages && window.MutationObserver) {
      var again = debounce(function () { if (!search || !search.value.trim()) { load(""); } }, 1500);
      new MutationObserver(again).observe(messages, { childList: true });
    }
  }

  // --- similar tickets ---------------------------------------------------------------------
  function similarPanel(panel) {
    var data = panel.dataset;
    var list = panel.querySelector(".assist-results");
    getJSON(data.url).then(function (payload) {
      list.textContent = "";
      panel.dataset.answered = "true";
      if (!payload.results.length) { message(list, data.empty); return; }
      payload.results.forEach(function (item) {
        var li = document.createElement("li");
        li.className = "assist-hit";
        var a = document.createElement("a");
        a.href = relative(item.url);
        a.textContent = item.number + " · " + item.subject;
        li.appendChild(a);
        var meta = document.createElement("p");
        meta.className = "muted";
        meta.textContent = item.franchise + " · " + item.status_label;
        if (item.same_franchise) {
          var badge = document.createElement("span");
          badge.className = "badge info";
          badge.textContent = data.same;
          meta.appendChild(document.createTextNode(" "));
          meta.appendChild(badge);
        }
        li.appendChild(meta);
        var details = document.createElement("details");
        var summary = document.createElement("summary");
        summary.textContent = data.solution;
        details.appendChild(summary);
        var solution = document.createElement("p");
        solution.className = "assist-solution";
        solution.textContent = item.solution || data.noSolution;
        details.appendChild(solution);
        li.appendChild(details);
        list.appendChild(li);
      });
    }).catch(function () { message(list, data.error); panel.dataset.answered = "error"; });
  }

  // --- same problem (new ticket) -------------------------------------------------------------
  function samePanel(box) {
    var data = box.dataset;
    var subject = document.getElementById(data.subject);
    var description = document.getElementById(data.description);
    if (!subject) { return; }
    var serial = 0;
    function check() {
      var text = subject.value.trim();
      if (text.length < 4) { box.hidden = true; return; }
      var mine = ++serial;
      var url = data.url + "?subject=" + encodeURIComponent(text) +
        "&description=" + encodeURIComponent(description ? description.value.slice(0, 1000) : "");
      getJSON(url).then(function (payload) {
        if (mine !== serial) { return; }
        box.dataset.answered = text;
        box.textContent = "";
        if (!payload.results.length) { box.hidden = true; return; }
        var first = payload.results[0];
        var parts = data.question.split("%(number)s");
        box.appendChild(document.createTextNode(parts[0]));
        var a = document.createElement("a");
        a.href = relative(first.url);
        a.textContent = first.number;
        a.title = first.subject;
        box.appendChild(a);
        box.appendChild(document.createTextNode((parts[1] || "") + " " + first.subject));
        box.hidden = false;
      }).catch(function () { box.hidden = true; });
    }
    var later = debounce(check, 500);
    subject.addEventListener("input", later);
    if (description) { description.addEventListener("input", later); }
    if (subject.value) { check(); }
  }

  document.querySelectorAll("[data-assist-kb]").forEach(kbPanel);
  document.querySelectorAll("[data-assist-similar]").forEach(similarPanel);
  document.querySelectorAll("[data-assist-same]").forEach(samePanel);
})();
