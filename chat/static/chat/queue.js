// Agent dashboard panel: keeps the waiting queue and "my active chats" live from the
// `queue` frames that notifications/bell.js re-dispatches as `portal:queue` DOM events.
(function () {
  "use strict";
  var panel = document.getElementById("chat-queue");
  if (!panel) { return; }
  var me = Number(panel.dataset.userId);
  var waiting = document.getElementById("chat-queue-waiting");
  var mine = document.getElementById("chat-queue-mine");
  var count = document.getElementById("chat-queue-count");

  function removeEverywhere(id) {
    panel.querySelectorAll('li[data-id="' + id + '"]').forEach(function (li) { li.remove(); });
  }

  function syncEmpty(listEl) {
    var placeholder = listEl.querySelector("li.empty");
    var hasItems = listEl.querySelector("li[data-id]") !== null;
    if (hasItems && placeholder) { placeholder.remove(); }
    if (!hasItems && !placeholder) {
      var li = document.createElement("li");
      li.className = "muted empty";
      li.textContent = listEl.dataset.empty;
      listEl.appendChild(li);
    }
  }

  function item(conversation, extra) {
    var li = document.createElement("li");
    li.dataset.id = conversation.id;
    var a = document.createElement("a");
    a.href = conversation.url;
    a.textContent = conversation.topic;
    li.appendChild(a);
    var meta = document.createElement("span");
    meta.className = "muted";
    meta.textContent = " · " + conversation.franchise + (extra ? " · " + extra : "");
    li.appendChild(meta);
    return li;
  }

  document.addEventListener("portal:queue", function (event) {
    var frame = event.detail || {};
    var conversation = frame.conversation;
    if (!conversation) { return; }
    removeEverywhere(conversation.id);
    if (conversation.status === "waiting") {
      var li = item(conversation, conversation.franchisee ? conversation.franchisee.name : "");
      li.classList.add("new");
      waiting.appendChild(li);
    } else if (conversation.status === "active" && conversation.agent && conversation.agent.id === me) {
      mine.insertBefore(item(conversation, ""), mine.firstChild);
    }
    if (typeof frame.waiting === "number") { count.textContent = String(frame.waiting); }
    syncEmpty(waiting);
    syncEmpty(mine);
  });
})();
