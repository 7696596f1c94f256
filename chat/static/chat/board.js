// Supervisors' board on /agent/: keeps each agent's state and active chats live from the
// `agent_status` frames that notifications/bell.js re-dispatches as `portal:agent_status`.
(function () {
  "use strict";
  var board = document.getElementById("agent-board");
  if (!board) { return; }
  var badges = { available: "badge ok", away: "badge warn", offline: "badge" };

  document.addEventListener("portal:agent_status", function (event) {
    var frame = event.detail || {};
    if (!frame.agent) { return; }
    var row = board.querySelector('tr[data-agent="' + Number(frame.agent.id) + '"]');
    if (!row) { return; }
    var state = badges[frame.state] ? frame.state : "offline";
    row.dataset.state = state;
    var badge = row.querySelector('[data-field="state"]');
    badge.className = badges[state];
    badge.textContent = board.dataset["state" + state.charAt(0).toUpperCase() + state.slice(1)];
    row.querySelector('[data-field="active"]').textContent = String(frame.active);
    row.querySelector('[data-field="capacity"]').textContent = String(frame.capacity);
  });
})();
