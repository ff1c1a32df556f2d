// The rule builder: "Add a condition/action" appends an empty row from the page's template
// (without this script the button asks the server for one), and the "field to set" select only
// shows for "Set field" actions. In rows with pickers, only the value picker
// for the chosen field or action is shown (data-value-for lists the choices it serves); without
// this script every picker shows and the server reads the one that matches.
(function () {
  "use strict";

  function showPickers(row) {
    if (!row || !row.querySelector("[data-value-for]")) return;
    const chooser = row.querySelector("select[name$='-field'], select[name$='-type']");
    const typeSelect = row.querySelector("select[name$='-type']");
    const fieldSelect = row.querySelector("select[name$='-field']");
    const keys = [chooser && chooser.value];
    if (typeSelect) keys.push(typeSelect.value + ":" + (fieldSelect ? fieldSelect.value : ""));
    let anyPicker = false;
    row.querySelectorAll("[data-value-for]").forEach(function (label) {
      const serves = label.dataset.valueFor.split(" ");
      const shown = keys.some(function (key) { return key && serves.includes(key); });
      label.hidden = !shown;
      anyPicker = anyPicker || shown;
    });
    const typed = row.querySelector("[data-typed-value]");
    if (typed) typed.hidden = anyPicker;
  }

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
    showPickers(added);
    const first = added.querySelector("select, input, textarea");
    if (first) first.focus();
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches("select[name$='-type']")) {
      showSetField(event.target.closest(".rule-row"));
    }
    if (event.target.matches("select[name$='-type'], select[name$='-field']")) {
      showPickers(event.target.closest(".rule-row"));
    }
  });

  document.querySelectorAll("#rule-actions .rule-row").forEach(showSetField);
  document.querySelectorAll(".rule-row").forEach(showPickers);
})();
