// Collision detection on a ticket (docs/TICKETS.md "Collision detection"): the agent's ticket page
// opens /ws/tickets/<id>/presence/, says when the reply box is being written in, and shows the
// other agents viewing the ticket and who of them is writing a reply.
(function () {
  "use strict";
  var box = document.querySelector("[data-assist-presence]");
  if (!box || !window.WebSocket || !window.Portal) { return; }
  var strings = box.dataset;
  var reply = document.getElementById(strings.target);
  var socket = null;
  var attempts = 0;
  var lastTyping = 0;
  var idleTimer = null;
  var TYPING_EVERY = 3000;
  var IDLE_AFTER = 5000;
  var FINAL = [4401, 4403, 4404];

  function render(viewers) {
    box.textContent = "";
    box.dataset.count = String(viewers.length);
    if (!viewers.length) { return; }
    var writing = viewers.filter(function (v) { return v.typing; });
    var watching = viewers.filter(function (v) { return !v.typing; });
    function line(people, kind, css) {
      if (!people.length) { return; }
      var p = document.createElement("span");
      p.className = "badge " + css;
      var text = strings[kind + (people.length === 1 ? "One" : "Many")];
      p.textContent = people.map(function (v) { return v.name; }).join(", ") + " " + text;
      box.appendChild(p);
      box.appendChild(document.createTextNode(" "));
    }
    line(writing, "writing", "warn");
    line(watching, "viewing", "info");
  }

  function send(frame) {
    if (socket && socket.readyState === WebSocket.OPEN) { socket.send(JSON.stringify(frame)); }
  }

  function typed() {
    var now = Date.now();
    if (now - lastTyping > TYPING_EVERY) { lastTyping = now; send({ type: "typing" }); }
    window.clearTimeout(idleTimer);
    idleTimer = window.setTimeout(idle, IDLE_AFTER);
  }

  function idle() {
    if (lastTyping) { lastTyping = 0; send({ type: "idle" }); }
  }

  function connect() {
    socket = new WebSocket(window.Portal.wsUrl(strings.wsPath));
    socket.addEventListener("open", function () { attempts = 0; box.dataset.socket = "open"; });
    socket.addEventListener("message", function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (frame.type === "viewers") { render(frame.viewers || []); }
    });
    socket.addEventListener("close", function (event) {
      box.dataset.socket = "closed";
      render([]);
      if (FINAL.indexOf(event.code) !== -1) { return; }
      attempts += 1;
      window.setTimeout(connect, Math.min(30000, 1000 * Math.pow(2, attempts)));
    });
  }

  if (reply) {
    reply.addEventListener("input", typed);
    reply.addEventListener("blur", idle);
    if (reply.form) { reply.form.addEventListener("submit", idle); }
  }
  connect();
})();
