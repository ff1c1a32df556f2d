// The rule builder: "Add a condition/action" appends an empty row from the page's template
// (without this script the button asks the server for one), and the "field to set" select only
// shows for "Set field" actions.
(function () {
  "use strict";

  function showSetField(row) {
    const type = row.querySelector("select[name$='-type']");
    const field = row.querySelector("[data-set-field]");
    if (type && field) field.hidden = type.value !== "set";
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-add-row]");
    if (!button) return;
    const fieldset = document.getElementById(button.dataset.addRow);
    const total = fieldset.querySelector("input[name$='-TOTAL_FORMS']");
    const template = fieldset.querySelector("template");
    if (!total || !template) return;
    event.preventDefault();
    const html = template.innerHTML.replaceAll("__prefix__", total.value);
    const list = fieldset.querySelector(".rule-list");
    list.insertAdjacentHTML("beforeend", html);
    total.value = String(Number(total.value) + 1);
    const added = list.lastElementChild;
    showSetField(added);
    const first = added.querySelector("select, input, textarea");
    if (first) first.focus();
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("select[name$='-type']")) {
      showSetField(event.target.closest(".rule-row"));
    }
  });

  document.querySelectorAll("#rule-actions .rule-row").forEach(showSetField);
})();
