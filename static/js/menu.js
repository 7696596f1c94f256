// Header menu on narrow screens (loaded in <head>, no inline scripts: CSP).
// Marks the document as scripted at once (no flash of the open menu), then wires the button:
// it toggles aria-expanded, the stylesheet shows #site-menu only when it is "true" (below the
// desktop breakpoint); Escape closes the menu and gives the focus back to the button.
(function () {
  "use strict";
  var root = document.documentElement;
  root.classList.remove("no-js");
  root.classList.add("js");

  function wire() {
    var button = document.getElementById("nav-toggle");
    var menu = button && document.getElementById(button.getAttribute("aria-controls"));
    if (!menu) { return; }
    function setOpen(open) {
      button.setAttribute("aria-expanded", open ? "true" : "false");
      menu.classList.toggle("open", open);
    }
    function isOpen() { return button.getAttribute("aria-expanded") === "true"; }
    button.addEventListener("click", function () { setOpen(!isOpen()); });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && isOpen() && menu.contains(document.activeElement)) {
        setOpen(false);
        button.focus();
      } else if (event.key === "Escape" && isOpen() && document.activeElement === button) {
        setOpen(false);
      }
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", wire);
  } else {
    wire();
  }
})();
