// New-ticket form: show only the custom fields of the chosen category (issue 16).
// Without JavaScript every category's fieldset stays visible, each labelled with its category;
// the server validates only the chosen category's fields.
(function () {
  "use strict";
  const select = document.getElementById("id_category");
  const sets = document.querySelectorAll("fieldset.custom-fields[data-category]");
  if (!select || sets.length === 0) return;
  function update() {
    sets.forEach(function (set) {
      const shown = set.dataset.category === select.value;
      set.hidden = !shown;
      set.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = !shown; });
    });
  }
  select.addEventListener("change", update);
  update();
})();
