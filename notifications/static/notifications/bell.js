// Notification bell: live unread counter, dropdown of the latest notifications, count in the
// tab title, desktop notifications while the tab is hidden. The socket reconnects with
// exponential backoff + jitter and, on every (re)connect, the bell fetches what it missed
// from the catch-up endpoint, so a dropped socket never hides a notification.
// Other apps listen to DOM events on `document`:
//   portal:notification (detail = notification frame), portal:queue (detail = queue frame),
//   portal:agent_status (detail = agent_status frame, supervisors only).
// User text is always rendered with textContent, never innerHTML.
(function () {
  "use strict";
  var root = document.getElementById("notification-bell");
  if (!root || !window.WebSocket) { return; }

  var LATEST = 8;
  var BACKOFF_BASE_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  var NO_RETRY = { 4401: true, 4403: true };  // not logged in / foreign origin: retrying cannot help
  var ASKED_KEY = "portal.notifications.permissionAsked";

  var toggle = document.getElementById("notification-bell-toggle");
  var countEl = document.getElementById("notification-count");
  var dropdown = document.getElementById("notification-dropdown");
  var list = root.querySelector("[data-bell-list]");
  var statusEl = root.querySelector("[data-bell-status]");
  var readAllButton = root.querySelector("[data-bell-read-all]");
  var baseTitle = document.title.replace(/^\(\d+\+?\)\s*/, "");

  var unread = 0;
  var items = [];        // latest notifications, newest first
  var socket = null;
  var attempts = 0;
  var reconnectTimer = null;
  var stopped = false;
  // Read changes made here (mark one / all read) that the server has not confirmed yet. A
  // catch-up answer or a frame's count computed before such a change is stale: applying it
  // would bring back a counter the user just cleared (seen after a reconnect: "mark all read"
  // followed by the answer of the catch-up the reconnect had started). Counts from the server
  // are taken only when no change is in flight and none happened while the request was out;
  // once the server has confirmed the last change, one fresh catch-up resynchronises.
  var readChanges = 0;   // local read changes so far
  var confirmed = 0;     // of them, answered by the server (success or failure)

  // ---- rendering -------------------------------------------------------------------------
  function setUnread(count) {
    unread = Math.max(0, count | 0);
    countEl.textContent = unread > 99 ? "99+" : String(unread);
    countEl.hidden = unread === 0;
    toggle.setAttribute("data-unread", String(unread));
    document.title = unread > 0 ? "(" + (unread > 99 ? "99+" : unread) + ") " + baseTitle : baseTitle;
  }

  function safeUrl(url) {
    // Only site-relative links, as support_portal/links.py:safe_link (the server sends nothing
    // else): a path, no "//host" or "/\\host", no backslash or control characters.
    if (typeof url !== "string" || url.charAt(0) !== "/" || url.length > 300) { return ""; }
    return /^\/(?![\/\\])[^\\\u0000-\u001f\u007f]*$/.test(url) ? url : "";
  }

  function formatTime(iso) {
    return window.Portal.formatTime(iso, "datetime");  // the reader's zone and format (portal.js)
  }

  function renderItem(item) {
    var li = document.createElement("li");
    li.className = "bell-item" + (item.read ? "" : " unread");
    li.setAttribute("data-notification-id", String(item.id));
    var link = document.createElement(safeUrl(item.url) ? "a" : "span");
    link.className = "bell-item-link";
    if (safeUrl(item.url)) { link.href = safeUrl(item.url); }
    var title = document.createElement("strong");
    title.textContent = item.title;
    link.appendChild(title);
    if (item.body) {
      var body = document.createElement("span");
      body.className = "bell-item-body";
      body.textContent = item.body.length > 140 ? item.body.slice(0, 139) + "…" : item.body;
      link.appendChild(body);
    }
    var time = document.createElement("time");
    time.className = "muted";
    time.dateTime = window.Portal.isoInstant(item.created);
    time.textContent = formatTime(item.created);
    link.appendChild(time);
    link.addEventListener("click", function () { if (!item.read) { markRead(item); } });
    li.appendChild(link);
    return li;
  }

  function render() {
    list.replaceChildren();
    if (!items.length) {
      var empty = document.createElement("li");
      empty.className = "bell-empty muted";
      empty.textContent = root.getAttribute("data-text-empty");
      list.appendChild(empty);
    }
    items.forEach(function (item) { list.appendChild(renderItem(item)); });
    readAllButton.hidden = unread === 0;
  }

  function showStatus(text) {
    statusEl.textContent = text || "";
    statusEl.hidden = !text;
  }

  // ---- server calls ----------------------------------------------------------------------
  function post(url) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      keepalive: true,  // survives the navigation that follows a click
      headers: { "Accept": "application/json", "X-CSRFToken": window.Portal.csrfToken() },
    }).then(function (response) { return response.ok ? response.json() : null; });
  }

  function readUrl(id) {
    return root.getAttribute("data-read-url-template").replace("/0/", "/" + encodeURIComponent(id) + "/");
  }

  function readChangesSettled() { return confirmed === readChanges; }

  function sendReadChange(url) {
    readChanges += 1;
    function done() {
      confirmed += 1;
      if (readChangesSettled()) { catchUp(); }  // the server's state after every change here
    }
    post(url).then(done, done);
  }

  function markRead(item) {
    item.read = true;
    setUnread(unread - 1);
    render();
    sendReadChange(readUrl(item.id));
  }

  function markAllRead() {
    items.forEach(function (item) { item.read = true; });
    setUnread(0);
    render();
    sendReadChange(root.getAttribute("data-read-all-url"));
  }

  function catchUpHandled() {
    // Tests wait on this instead of sleeping: a catch-up answer has been applied or dropped.
    root.setAttribute("data-catch-ups", String((parseInt(root.getAttribute("data-catch-ups"), 10) || 0) + 1));
  }

  function catchUp() {
    var asked = readChanges;
    var url = root.getAttribute("data-latest-url") + "?limit=" + LATEST;
    return fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok || !/json/.test(response.headers.get("Content-Type") || "")) {
          throw new Error("catch-up failed");
        }
        return response.json();
      })
      .then(function (data) {
        if (asked !== readChanges || !readChangesSettled()) { return; }  // stale: see readChanges
        // Keep live frames that arrived while this request was in flight (newer than its answer).
        var newest = data.results.length ? data.results[0].id : 0;
        var newer = items.filter(function (item) { return item.id > newest; });
        var newerUnread = newer.filter(function (item) { return !item.read; }).length;
        items = newer.concat(data.results).slice(0, LATEST);
        setUnread(data.unread + newerUnread);
        render();
      })
      .catch(function () { /* the next reconnect tries again */ })
      .then(catchUpHandled);
  }

  // ---- live frames -----------------------------------------------------------------------
  function desktopNotify(frame) {
    if (!document.hidden || !("Notification" in window) || Notification.permission !== "granted") { return; }
    try {
      var shown = new Notification(frame.title, { body: frame.body || "", tag: "portal-notification-" + frame.id });
      shown.onclick = function () {
        window.focus();
        if (safeUrl(frame.url)) { window.location.assign(safeUrl(frame.url)); }
        shown.close();
      };
    } catch (error) { /* some browsers only allow notifications from a service worker */ }
  }

  function onNotification(frame) {
    var known = items.some(function (item) { return item.id === frame.id; });
    if (!known) {
      var item = Object.assign({}, frame, { read: false });
      items.unshift(item);
      items = items.slice(0, LATEST);
    }
    // The frame's count was taken when it was sent; while a read change is in flight count locally.
    setUnread(readChangesSettled() ? frame.unread : unread + (known ? 0 : 1));
    render();
    if (!known) { desktopNotify(frame); }
    document.dispatchEvent(new CustomEvent("portal:notification", { detail: frame }));
  }

  function onFrame(event) {
    var frame;
    try { frame = JSON.parse(event.data); } catch (error) { return; }
    if (frame.type === "notification") {
      onNotification(frame);
    } else if (frame.type === "queue") {
      document.dispatchEvent(new CustomEvent("portal:queue", { detail: frame }));
    } else if (frame.type === "agent_status") {
      document.dispatchEvent(new CustomEvent("portal:agent_status", { detail: frame }));
    }
  }

  // ---- connection ------------------------------------------------------------------------
  function backoffDelay() {
    // Exponential backoff with jitter: between half and all of min(max, base * 2^attempts).
    var ceiling = Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * Math.pow(2, attempts));
    return Math.round(ceiling / 2 + Math.random() * ceiling / 2);
  }

  function scheduleReconnect() {
    if (stopped || reconnectTimer) { return; }
    var delay = backoffDelay();
    attempts += 1;
    reconnectTimer = window.setTimeout(function () { reconnectTimer = null; connect(); }, delay);
  }

  function connect() {
    if (stopped) { return; }
    try {
      socket = new WebSocket(window.Portal.wsUrl(root.getAttribute("data-ws-path")));
    } catch (error) {
      scheduleReconnect();
      return;
    }
    socket.addEventListener("open", function () {
      attempts = 0;
      root.setAttribute("data-socket", "open");  // tests wait on this, never on a delay
      showStatus("");
      catchUp();  // whatever arrived while we were away
    });
    socket.addEventListener("message", onFrame);
    socket.addEventListener("close", function (event) {
      socket = null;
      root.setAttribute("data-socket", "closed");
      if (NO_RETRY[event.code]) { stopped = true; return; }
      showStatus(root.getAttribute("data-text-offline"));
      catchUp();  // the HTTP side may still work while the socket is down
      scheduleReconnect();
    });
  }

  // Back online or back to the tab: reconnect now instead of waiting out the backoff.
  function reconnectNow() {
    if (stopped || socket) { return; }
    if (reconnectTimer) { window.clearTimeout(reconnectTimer); reconnectTimer = null; }
    attempts = 0;
    connect();
  }
  window.addEventListener("online", reconnectNow);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { reconnectNow(); } });

  // ---- dropdown and permission ----------------------------------------------------------
  function askPermissionOnce() {
    if (!("Notification" in window) || Notification.permission !== "default") { return; }
    try {
      if (window.localStorage.getItem(ASKED_KEY)) { return; }
      window.localStorage.setItem(ASKED_KEY, "1");
    } catch (error) { /* storage blocked: ask anyway, the browser remembers the answer */ }
    Notification.requestPermission();
  }

  function setOpen(open) {
    dropdown.hidden = !open;
    toggle.setAttribute("aria-expanded", open ? "true" : "false");
  }

  toggle.addEventListener("click", function (event) {
    // Plain link without JS; with JS a click opens the dropdown (a user gesture).
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) { return; }
    event.preventDefault();
    askPermissionOnce();
    setOpen(dropdown.hidden);
    if (!dropdown.hidden) { catchUp(); }
  });
  readAllButton.addEventListener("click", markAllRead);
  // On the /notifications/ page, following an unread notification's link marks it read too.
  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("#notification-list .notif-item.unread a.notif-title");
    if (!link) { return; }
    var id = link.closest("[data-notification-id]").getAttribute("data-notification-id");
    post(readUrl(id)).catch(function () {});
  });
  document.addEventListener("click", function (event) {
    if (!dropdown.hidden && !root.contains(event.target)) { setOpen(false); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && !dropdown.hidden) { setOpen(false); toggle.focus(); }
  });

  render();
  connect();  // its "open" (or "close") handler fetches the catch-up
})();
