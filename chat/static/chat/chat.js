// Conversation page: live messages over /ws/chat/<id>/ (protocol in docs/CHAT.md).
// Messages are rendered with textContent only. Unsent messages live in an outbox (kept in
// sessionStorage) and are resent with the same client_id until the server echoes them back;
// after a dropped connection the socket reconnects with backoff and resumes with ?after=<last id>.
// The backoff grows on every failure and resets only once a connection has stayed up for
// HEALTHY_AFTER; a message the server refuses (invalid, too_long, forbidden) leaves the outbox
// at once, stays on the page as "failed" with edit/discard actions, and the next ones are sent.
(function () {
  "use strict";
  var root = document.getElementById("chat");
  if (!root || !window.WebSocket) { return; }

  var strings = document.getElementById("chat-strings").dataset;
  var list = document.getElementById("chat-messages");
  var form = document.getElementById("chat-compose");
  var input = document.getElementById("chat-body");
  var errorBox = document.getElementById("chat-error");
  var typingBox = document.getElementById("chat-typing");
  var connectionBox = document.getElementById("chat-connection");
  var statusBox = document.getElementById("chat-status");
  var agentBox = document.getElementById("chat-agent");
  var ticketBox = document.getElementById("chat-ticket");
  var waitingBox = document.getElementById("chat-waiting");

  var userId = Number(root.dataset.userId);
  var isAgent = document.body.dataset.isAgent === "true";
  var canPost = root.dataset.canPost === "true";
  var storageKey = "chat-outbox-" + root.dataset.conversation;
  var FINAL_CODES = [4401, 4403, 4404];
  var ACK_TIMEOUT = 10000;
  var MAX_BODY = 4000;
  var HEALTHY_AFTER = 10000;  // ms a connection must stay up before the backoff resets
  var LAYER_BACK = 4012;  // the server's live channel is back: reconnect now and resume
  // Kept in the outbox and sent again later. `busy`: the server is at capacity right now
  // (chat.hot_path admission control): retried after 2–5 s, spread so clients do not return together.
  var RETRY_LATER_CODES = ["rate_limited", "unavailable", "busy"];

  var socket = null;
  var attempts = 0;
  var lastId = 0;
  var readSent = 0;
  var othersRead = 0;
  var inflight = null;
  var ackTimer = null;
  var retryTimer = null;
  var healthyTimer = null;
  var typingHide = null;
  var lastTypingSent = 0;
  var stopped = false;

  list.querySelectorAll("li[data-id]").forEach(function (li) {
    lastId = Math.max(lastId, Number(li.dataset.id));
  });

  // --- outbox --------------------------------------------------------------------------
  function loadOutbox() {
    try { return JSON.parse(window.sessionStorage.getItem(storageKey)) || []; } catch (e) { return []; }
  }
  var outbox = loadOutbox();
  function saveOutbox() {
    try { window.sessionStorage.setItem(storageKey, JSON.stringify(outbox)); } catch (e) { /* private mode */ }
  }
  function newClientId() {
    if (window.crypto && window.crypto.randomUUID) { return window.crypto.randomUUID(); }
    return "c-" + Date.now().toString(36) + "-" + Math.random().toString(36).slice(2);
  }

  // --- rendering -----------------------------------------------------------------------
  // Links to our own knowledge-base articles (what the agent's "Insertar" puts in a message)
  // become links; everything else stays text.
  var KB_LINK = new RegExp("(" + window.location.origin.replace(/[.*+?^${}()|[\]\\]/g, "\\$&") +
    "/kb/[-a-z0-9]+/)");

  function appendLinked(p, text) {
    p.textContent = "";
    text.split(KB_LINK).forEach(function (part) {
      if (KB_LINK.test(part) && part.indexOf(window.location.origin + "/kb/") === 0) {
        var a = document.createElement("a");
        a.href = part;
        a.textContent = part;
        a.target = "_blank";
        a.rel = "noopener";
        p.appendChild(a);
      } else if (part) {
        p.appendChild(document.createTextNode(part));
      }
    });
  }

  function appendBody(p, text, system) {
    if (!system) { appendLinked(p, text); return; }
    // System messages may name a ticket: make /tickets/<id>/ a link, everything else text.
    text.split(/(\/tickets\/\d+\/)/).forEach(function (part) {
      if (/^\/tickets\/\d+\/$/.test(part)) {
        var a = document.createElement("a");
        a.href = part;
        a.textContent = part;
        p.appendChild(a);
      } else if (part) {
        p.appendChild(document.createTextNode(part));
      }
    });
  }

  // Messages rendered by the server: the same links.
  list.querySelectorAll("li.chat-msg.user p.body").forEach(function (p) {
    if (KB_LINK.test(p.textContent)) { appendLinked(p, p.textContent); }
  });

  function sameOrigin(url) {
    return typeof url === "string" && /^\/chat\/\d+\/attachments\/\d+\/(thumbnail\/)?$/.test(url);
  }

  function sizeText(bytes) {
    if (bytes >= 1048576) { return (bytes / 1048576).toFixed(1) + " MB"; }
    return Math.max(1, Math.round(bytes / 1024)) + " KB";
  }

  // A message's file (chat.attachments): the markup of chat/_attachment.html.
  function attachmentNode(file) {
    var figure = document.createElement("figure");
    figure.className = "chat-attachment";
    if (!sameOrigin(file.url)) { return figure; }
    if (file.thumbnail && sameOrigin(file.thumbnail)) {
      var link = document.createElement("a");
      link.href = file.url;
      var img = document.createElement("img");
      img.src = file.thumbnail;
      img.alt = file.name;
      img.loading = "lazy";
      link.appendChild(img);
      figure.appendChild(link);
    }
    var caption = document.createElement("figcaption");
    var download = document.createElement("a");
    download.href = file.url;
    download.setAttribute("download", "");
    download.textContent = file.name;
    caption.appendChild(download);
    var size = document.createElement("small");
    size.className = "muted";
    size.textContent = " (" + sizeText(file.size) + ")";
    caption.appendChild(size);
    figure.appendChild(caption);
    return figure;
  }

  function buildItem(frame, pending) {
    var li = document.createElement("li");
    var mine = pending || (frame.author && frame.author.id === userId);
    li.className = "chat-msg " + (frame.kind || "user") + (mine ? " mine" : "") + (pending ? " pending" : "");
    if (frame.id) { li.dataset.id = frame.id; }
    li.dataset.clientId = frame.client_id || "";
    if (frame.author) {
      var who = document.createElement("span");
      who.className = "who";
      who.textContent = frame.author.name;
      li.appendChild(who);
    }
    var p = document.createElement("p");
    p.className = "body";
    appendBody(p, frame.body, frame.kind === "system");
    li.appendChild(p);
    if (frame.attachment) {
      // No caption: the body only names the file, which the attachment shows already.
      p.hidden = frame.body === "\uD83D\uDCCE " + frame.attachment.name;
      li.appendChild(attachmentNode(frame.attachment));
    }
    var time = document.createElement("time");
    var created = frame.created ? new Date(frame.created) : new Date();
    time.dateTime = window.Portal.isoInstant(created);
    time.textContent = window.Portal.formatTime(created, "time");  // the reader's zone, like the page
    li.appendChild(time);
    if (mine) {
      var tick = document.createElement("span");
      tick.className = "tick";
      tick.setAttribute("role", "img"); // announced by its aria-label (sent, read, pending, failed)
      li.appendChild(tick);
      setTick(li, pending ? "pending" : "sent");
    }
    return li;
  }

  function setTick(li, state) {
    var tick = li.querySelector(".tick");
    if (!tick) { return; }
    tick.dataset.state = state;
    tick.textContent = state === "pending" ? "…" : state === "failed" ? "!" : state === "read" ? "✓✓" : "✓";
    tick.setAttribute("aria-label", strings[state] || "");
  }

  function insertInOrder(li, id) {
    var items = list.querySelectorAll("li[data-id]");
    for (var i = 0; i < items.length; i++) {
      if (Number(items[i].dataset.id) > id) { list.insertBefore(li, items[i]); return; }
    }
    var firstPending = list.querySelector("li.pending");
    list.insertBefore(li, firstPending);
  }

  function nearBottom() {
    return window.innerHeight + window.scrollY >= document.body.offsetHeight - 120;
  }

  function showMessage(frame) {
    if (list.querySelector('li[data-id="' + frame.id + '"]')) { return; }  // never twice
    var stick = nearBottom();
    var pending = frame.client_id && frame.author && frame.author.id === userId
      ? list.querySelector('li.pending[data-client-id="' + CSS.escape(frame.client_id) + '"]') : null;
    if (pending) { pending.remove(); }
    var li = buildItem(frame, false);
    insertInOrder(li, frame.id);
    lastId = Math.max(lastId, frame.id);
    markTicks();
    if (stick) { li.scrollIntoView({ block: "end" }); }
  }

  function markTicks() {
    list.querySelectorAll("li.mine[data-id]").forEach(function (li) {
      setTick(li, Number(li.dataset.id) <= othersRead ? "read" : "sent");
    });
  }

  function showPending(item) {
    var li = buildItem({ client_id: item.client_id, body: item.body, author: null, kind: "user" }, true);
    list.appendChild(li);
    li.scrollIntoView({ block: "end" });
  }

  function showError(text) {
    errorBox.textContent = text;
    errorBox.hidden = !text;
  }

  function setConnection(state, text) {
    connectionBox.dataset.state = state;
    connectionBox.textContent = text;
  }

  function applyStatus(frame) {
    root.dataset.status = frame.status;
    statusBox.dataset.status = frame.status;
    statusBox.textContent = strings["status" + frame.status.charAt(0).toUpperCase() + frame.status.slice(1)];
    agentBox.textContent = frame.agent ? frame.agent.name : "—";
    if (frame.ticket) {
      ticketBox.hidden = false;
      ticketBox.querySelector("a").href = "/tickets/" + frame.ticket + "/";
      // Whoever converted it, the ticket exists now: the "convert" button gives way to the link.
      var toTicket = document.getElementById("chat-to-ticket");
      if (toTicket) { toTicket.hidden = true; }
    }
    if (waitingBox && frame.status !== "waiting") { waitingBox.hidden = true; }
    // Once an agent has the conversation, "no agent online" no longer applies.
    var noAgents = document.getElementById("no-agents");
    if (noAgents && frame.agent) { noAgents.hidden = true; }
    if (frame.status === "closed") {
      canPost = false;
    } else if (isAgent) {
      canPost = frame.status === "active" && !!frame.agent && frame.agent.id === userId;
    }
    if (form) { form.hidden = !canPost; }
  }

  // --- socket --------------------------------------------------------------------------
  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function flush() {
    if (inflight || !outbox.length) { return; }
    var item = outbox[0];
    if (send({ type: "message.send", client_id: item.client_id, body: item.body })) {
      inflight = item;
      ackTimer = window.setTimeout(function () { if (socket) { socket.close(); } }, ACK_TIMEOUT);
    }
  }

  function acknowledged(clientId) {
    outbox = outbox.filter(function (item) { return item.client_id !== clientId; });
    saveOutbox();
    if (inflight && inflight.client_id === clientId) {
      inflight = null;
      window.clearTimeout(ackTimer);
    }
    flush();
  }

  function dropInflight() {
    var item = inflight;
    inflight = null;
    window.clearTimeout(ackTimer);
    return item;
  }

  function sendRead() {
    if (document.visibilityState === "visible" && lastId > readSent && send({ type: "read", up_to: lastId })) {
      readSent = lastId;
    }
  }

  // "Un agente te responderá en aproximadamente N minutos", kept live by `wait` frames.
  function showWait(minutes) {
    var box = document.getElementById("chat-wait");
    if (!box) { return; }
    box.hidden = !minutes;
    if (minutes) {
      var text = minutes === 1 ? box.dataset.one : box.dataset.many;
      box.textContent = text.replace("__N__", String(minutes));
    }
  }

  function onFrame(frame) {
    switch (frame.type) {
      case "message":
        showMessage(frame);
        if (frame.author && frame.author.id === userId && frame.client_id) { acknowledged(frame.client_id); }
        sendRead();
        break;
      case "typing":
        if (!frame.author || frame.author.id === userId) { break; }
        typingBox.textContent = frame.author.name + " " + strings.typing;
        typingBox.hidden = false;
        window.clearTimeout(typingHide);
        typingHide = window.setTimeout(function () { typingBox.hidden = true; }, 4000);
        break;
      case "read":
        if (frame.user !== userId) { othersRead = Math.max(othersRead, frame.up_to); markTicks(); }
        // Someone read a message this page never received (a live frame was lost, e.g. the
        // server fell behind): reconnect, and the replay from ?after=<last id> fills the gap.
        if (frame.up_to > lastId && socket) { socket.close(); }
        break;
      case "conversation":
        applyStatus(frame);
        break;
      case "wait":
        showWait(frame.minutes);
        break;
      case "error":
        onError(frame);
        break;
      default:
        break;
    }
  }

  function onError(frame) {
    var key = "error" + frame.code.split("_").map(function (w) { return w.charAt(0).toUpperCase() + w.slice(1); }).join("");
    showError(strings[key] || frame.detail);
    if (frame.code === "unavailable") { setConnection("degraded", strings.degraded); }
    var item = dropInflight();
    if (!item) { return; }
    if (RETRY_LATER_CODES.indexOf(frame.code) !== -1) {
      var delay = frame.code === "busy" ? 2000 + Math.random() * 3000 : 5000;
      window.setTimeout(flush, delay);  // keep it in the outbox and try again later
      return;
    }
    // too_long / invalid / forbidden: the server will never take it. Take it out of the outbox
    // (the next messages must not wait behind it) and let the user edit or discard it.
    outbox = outbox.filter(function (other) { return other.client_id !== item.client_id; });
    saveOutbox();
    var li = list.querySelector('li.pending[data-client-id="' + CSS.escape(item.client_id) + '"]');
    if (li) { markFailed(li, item); }
    flush();
  }

  function markFailed(li, item) {
    li.classList.remove("pending");
    li.classList.add("failed");
    setTick(li, "failed");
    var actions = document.createElement("span");
    actions.className = "chat-failed-actions";
    var edit = document.createElement("button");
    edit.type = "button";
    edit.className = "small chat-edit";
    edit.textContent = strings.edit;
    edit.addEventListener("click", function () {
      li.remove();
      if (input) { input.value = item.body; input.focus(); }
      showError("");
    });
    var discard = document.createElement("button");
    discard.type = "button";
    discard.className = "small chat-discard";
    discard.textContent = strings.discard;
    discard.addEventListener("click", function () { li.remove(); showError(""); });
    actions.appendChild(edit);
    actions.appendChild(discard);
    li.appendChild(actions);
  }

  function connect() {
    window.clearTimeout(retryTimer);
    setConnection("connecting", strings.connecting);
    var url = window.Portal.wsUrl(root.dataset.wsPath + (lastId ? "?after=" + lastId : ""));
    socket = new WebSocket(url);
    socket.onopen = function () {
      // Reset the backoff only once this connection proves healthy: a socket that opens and
      // is closed again at once (a server refusing something) must not reconnect every second.
      window.clearTimeout(healthyTimer);
      healthyTimer = window.setTimeout(function () { attempts = 0; }, HEALTHY_AFTER);
      setConnection("online", strings.online);
      if (errorBox.textContent === strings.errorUnavailable) { showError(""); }  // the outage is over
      flush();
    };
    socket.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      onFrame(frame);
    };
    socket.onclose = function (event) {
      socket = null;
      window.clearTimeout(healthyTimer);
      dropInflight();
      if (FINAL_CODES.indexOf(event.code) !== -1) {
        stopped = true;
        setConnection("closed", strings.closedSocket);
        return;
      }
      setConnection("offline", strings.offline);
      var delay = Math.min(30000, 1000 * Math.pow(2, attempts)) * (0.5 + Math.random() / 2);
      if (event.code === LAYER_BACK) {
        delay = Math.random() * 1000;  // everyone reconnects now, spread over a second
      } else {
        attempts += 1;
      }
      retryTimer = window.setTimeout(connect, delay);
    };
  }

  // --- user input ----------------------------------------------------------------------
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var body = input.value;
      if (!body.trim()) { return; }
      if (body.length > MAX_BODY) { showError(strings.errorTooLong); return; }
      showError("");
      var item = { client_id: newClientId(), body: body };
      outbox.push(item);
      saveOutbox();
      showPending(item);
      input.value = "";
      flush();
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
    });
    input.addEventListener("input", function () {
      var now = Date.now();
      if (canPost && now - lastTypingSent > 2000 && send({ type: "typing" })) { lastTypingSent = now; }
    });
  }
  document.addEventListener("visibilitychange", sendRead);
  window.addEventListener("online", function () { if (!socket && !stopped) { attempts = 0; connect(); } });

  outbox.forEach(showPending);
  markTicks();
  connect();
})();
