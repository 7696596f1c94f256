/* Search-as-you-type for the knowledge base.
 *
 * Enhances every <input data-kb-suggest data-kb-results="#element-id">: while the user types
 * (debounced), it asks /kb/suggest/?q= and lists the best articles in the results element.
 * Everything is rendered with DOM nodes and textContent; the snippet's <mark> highlighting is
 * rebuilt from the parsed snippet (text nodes and <mark> only), never injected as HTML.
 *
 * Deflection: on the ticket form (an input inside a form posting to /tickets/new/, or one
 * with data-kb-deflection) suggested articles open in a new tab and the click is reported
 * to POST /kb/<slug>/deflection/. The server counts it as a deflection if the same user does
 * not create a ticket within 30 minutes (see docs/KNOWLEDGE_BASE.md).
 */
(function () {
  "use strict";

  var DEBOUNCE_MS = 200;
  var MIN_CHARS = 3;

  function csrfToken() {
    if (window.Portal && typeof window.Portal.csrfToken === "function") {
      return window.Portal.csrfToken();
    }
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  /* Rebuild a sanitized snippet ("text <mark>word</mark> text") as safe DOM nodes. */
  function snippetNodes(snippet) {
    var fragment = document.createDocumentFragment();
    var parsed = new DOMParser().parseFromString("<p>" + String(snippet || "") + "</p>", "text/html");
    var source = parsed.body.firstChild;
    if (!source) return fragment;
    source.childNodes.forEach(function (node) {
      if (node.nodeType === Node.ELEMENT_NODE && node.tagName === "MARK") {
        var mark = document.createElement("mark");
        mark.textContent = node.textContent;
        fragment.appendChild(mark);
      } else {
        fragment.appendChild(document.createTextNode(node.textContent || ""));
      }
    });
    return fragment;
  }

  function isDeflectionInput(input) {
    if (input.hasAttribute("data-kb-deflection")) return true;
    var form = input.form;
    if (!form) return false;
    var action = form.getAttribute("action") || window.location.pathname;
    return /\/tickets\/new\/?$/.test(action.split("?")[0]);
  }

  function reportDeflection(slug) {
    fetch("/kb/" + encodeURIComponent(slug) + "/deflection/", {
      method: "POST",
      credentials: "same-origin",
      keepalive: true,
      headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" },
    }).catch(function () { /* best effort: a lost report only undercounts */ });
  }

  function enhance(input) {
    var target = document.querySelector(input.getAttribute("data-kb-results") || "");
    if (!target) return;
    var endpoint = input.getAttribute("data-kb-suggest-url") || "/kb/suggest/";
    var deflection = isDeflectionInput(input);
    var labels = {
      heading: input.getAttribute("data-kb-label-heading") || (document.documentElement.lang === "en" ? "These articles may help:" : "Estos artículos pueden ayudarte:"),
      didYouMean: input.getAttribute("data-kb-label-didyoumean") || (document.documentElement.lang === "en" ? "Did you mean" : "¿Quisiste decir"),
    };
    var timer = null;
    var controller = null;
    var lastQuery = "";

    target.classList.add("kb-suggestions");
    target.setAttribute("aria-live", "polite");

    function clear() {
      while (target.firstChild) target.removeChild(target.firstChild);
    }

    function render(data) {
      clear();
      var results = (data && data.results) || [];
      if (data && data.suggestion) {
        var hint = document.createElement("p");
        hint.className = "kb-didyoumean";
        hint.appendChild(document.createTextNode(labels.didYouMean + " "));
        var fix = document.createElement("button");
        fix.type = "button";
        fix.className = "link";
        fix.textContent = data.suggestion;
        fix.addEventListener("click", function () {
          input.value = data.suggestion;
          schedule(0);
          input.focus();
        });
        hint.appendChild(fix);
        hint.appendChild(document.createTextNode("?"));
        target.appendChild(hint);
      }
      if (!results.length) return;
      var heading = document.createElement("p");
      heading.className = "kb-suggestions-heading";
      heading.textContent = labels.heading;
      target.appendChild(heading);
      var list = document.createElement("ul");
      results.forEach(function (hit) {
        var item = document.createElement("li");
        var link = document.createElement("a");
        link.href = String(hit.url || "").charAt(0) === "/" ? hit.url : "#";
        link.textContent = hit.title;
        if (deflection) {
          link.target = "_blank";
          link.rel = "noopener";
          link.addEventListener("click", function () { reportDeflection(hit.slug); });
        }
        item.appendChild(link);
        if (hit.snippet) {
          var snippet = document.createElement("p");
          snippet.className = "kb-snippet";
          snippet.appendChild(snippetNodes(hit.snippet));
          item.appendChild(snippet);
        }
        list.appendChild(item);
      });
      target.appendChild(list);
    }

    function run() {
      var query = input.value.trim();
      if (query === lastQuery) return;
      lastQuery = query;
      if (controller) controller.abort();
      if (query.length < MIN_CHARS) {
        clear();
        return;
      }
      controller = new AbortController();
      fetch(endpoint + "?q=" + encodeURIComponent(query.slice(0, 200)), {
        credentials: "same-origin",
        headers: { Accept: "application/json" },
        signal: controller.signal,
      })
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (data) {
          if (data) render(data);
          target.setAttribute("data-answered", query);  // tests wait on this, never on a delay
        })
        .catch(function () { /* aborted or offline: keep what is shown */ });
    }

    function schedule(delay) {
      clearTimeout(timer);
      timer = setTimeout(run, delay);
    }

    input.addEventListener("input", function () { schedule(DEBOUNCE_MS); });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Escape") {
        lastQuery = "";
        clear();
      }
    });
    if (input.value.trim().length >= MIN_CHARS && input.hasAttribute("data-kb-suggest-initial")) schedule(0);
  }

  function init() {
    document.querySelectorAll("input[data-kb-suggest], textarea[data-kb-suggest]").forEach(enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
