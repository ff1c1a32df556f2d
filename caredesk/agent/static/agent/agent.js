/* Keyboard-first workspace: j/k move, Enter opens, r reply, n note, a assign to me, s solve,
   / search, ? shortcuts. No inline scripts anywhere (the CSP forbids them). */
(function () {
  "use strict";
  var rows = function () { return Array.prototype.slice.call(document.querySelectorAll("tr[data-row]")); };
  var current = -1;

  function select(index) {
    var list = rows();
    if (!list.length) return;
    current = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (row, i) { row.classList.toggle("selected", i === current); });
    var link = list[current].querySelector("a");
    if (link) { link.focus({ preventScroll: true }); }
    list[current].scrollIntoView({ block: "nearest" });
  }

  function typing(target) {
    return target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName));
  }

  function composer(mode) {
    var form = document.getElementById("composer-form");
    if (!form) return false;
    var note = mode === "note";
    document.getElementById("composer-internal").value = note ? "1" : "0";
    form.closest(".composer").classList.toggle("note-mode", note);
    document.getElementById("composer-label").textContent = note ? "Internal note (only agents see it)" : "Reply to the customer";
    document.getElementById("composer-submit").textContent = note ? "Add note" : "Send";
    document.getElementById("tab-reply").setAttribute("aria-selected", String(!note));
    document.getElementById("tab-note").setAttribute("aria-selected", String(note));
    document.getElementById("composer-body").focus();
    return true;
  }

  function submit(id) {
    var form = document.getElementById(id);
    if (form) { form.requestSubmit ? form.requestSubmit() : form.submit(); return true; }
    return false;
  }

  document.addEventListener("click", function (event) {
    var tab = event.target.closest("[data-composer]");
    if (tab) { composer(tab.getAttribute("data-composer")); }
    if (event.target.closest("[data-shortcuts-open]")) { document.getElementById("shortcuts").showModal(); }
    var insert = event.target.closest("[data-insert], [data-insert-text]");
    if (insert) {
      var box = document.getElementById("composer-body");
      var text = insert.getAttribute("data-insert") || insert.getAttribute("data-insert-text");
      box.value = (box.value ? box.value + "\n\n" : "") + text;
      box.focus();
      var data = new FormData();
      data.append("csrfmiddlewaretoken", document.body.getAttribute("data-csrf"));
      fetch(insert.getAttribute("data-used"), { method: "POST", body: data, credentials: "same-origin" });
    }
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && typing(event.target)) { event.target.blur(); return; }
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) return;
    var handled = true;
    switch (event.key) {
      case "j": select(current + 1); break;
      case "k": select(current - 1); break;
      case "Enter":
        if (current >= 0 && rows()[current]) { window.location = rows()[current].getAttribute("data-href"); } else { handled = false; }
        break;
      case "r": handled = composer("reply"); break;
      case "n": handled = composer("note"); break;
      case "a": handled = submit("assign-me-form"); break;
      case "s": handled = submit("solve-form"); break;
      case "/": document.getElementById("global-search").focus(); break;
      case "?": document.getElementById("shortcuts").showModal(); break;
      default: handled = false;
    }
    if (handled) event.preventDefault();
  });

  // Text expander: "::shortcut" followed by space or Tab becomes the snippet, filled in for this
  // ticket by the server (placeholders need the ticket and the agent).
  var reply = document.getElementById("composer-body");
  if (reply && reply.getAttribute("data-snippet-url")) {
    var hint = document.getElementById("composer-hint");
    var expand = function (shortcut, start) {
      var token = "::" + shortcut;
      var url = reply.getAttribute("data-snippet-url") + "?shortcut=" + encodeURIComponent(shortcut);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (data) { return { ok: response.ok, data: data }; });
        })
        .then(function (result) {
          if (!result.ok) { hint.textContent = result.data.error || "No such snippet."; return; }
          // The agent may have kept typing: replace the shortcut only if it is still there.
          if (reply.value.slice(start, start + token.length) !== token) return;
          var caretAtEnd = reply.selectionStart === start + token.length;
          reply.setRangeText(result.data.text, start, start + token.length, caretAtEnd ? "end" : "preserve");
          hint.textContent = "Inserted " + token + ".";
          reply.dispatchEvent(new Event("input", { bubbles: true }));
        })
        .catch(function () { hint.textContent = "Could not load the snippet; try again."; });
    };
    reply.addEventListener("keydown", function (event) {
      if ((event.key !== " " && event.key !== "Tab") || event.ctrlKey || event.metaKey || event.altKey || event.shiftKey) return;
      var end = reply.selectionStart;
      if (end !== reply.selectionEnd) return;
      var match = /(^|\s)::([a-z0-9_-]+)$/i.exec(reply.value.slice(0, end));
      if (!match) return;
      if (event.key === "Tab") event.preventDefault();  // stay in the reply box
      expand(match[2], end - match[2].length - 2);
    });
  }

  // Macros: Apply fills the composer (text, note or reply, "Then set", the other changes listed)
  // for the agent to review; Send applies it. Applying again replaces the macro loaded before.
  var macroInput = document.getElementById("composer-macro");
  var loadedMacroText = macroInput && macroInput.value ? document.getElementById("composer-body").value : "";
  function showMacro(draft) {
    var box = document.getElementById("composer-body");
    var form = document.getElementById("composer-form");
    if (!box || !form) return;
    if (loadedMacroText && box.value.indexOf(loadedMacroText) !== -1) {
      box.value = box.value.replace(loadedMacroText, draft.body);
    } else if (draft.body) {
      box.value = box.value.trim() ? box.value + "\n\n" + draft.body : draft.body;
    }
    loadedMacroText = draft.body;
    box.required = !draft.body && !draft.changes.length && !draft.status;
    document.getElementById("composer-macro").value = String(draft.macro);
    composer(draft.internal ? "note" : "reply");
    if (draft.status) { document.getElementById("composer-status").value = draft.status; }
    var list = document.getElementById("macro-pending-changes");
    list.textContent = "";
    draft.changes.forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    });
    document.getElementById("macro-pending-name").textContent = draft.name;
    document.getElementById("macro-pending").hidden = false;
  }
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.id === "macro-form" && form.getAttribute("data-draft-url")) {
      event.preventDefault();
      var url = form.getAttribute("data-draft-url") + "?macro=" + encodeURIComponent(form.elements.macro.value);
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (data) { return { ok: response.ok, data: data }; });
        })
        .then(function (result) {
          var hint = document.getElementById("composer-hint");
          if (!result.ok) { hint.textContent = result.data.error || "Could not load the macro."; return; }
          showMacro(result.data);
        });
    }
    if (form.id === "composer-form") {
      // One click sends once (the server also refuses a second submit of the same draft).
      var button = document.getElementById("composer-submit");
      if (button.disabled) { event.preventDefault(); return; }
      button.disabled = true;
    }
  });
  document.addEventListener("click", function (event) {
    if (!event.target.closest("[data-macro-clear]")) return;
    var box = document.getElementById("composer-body");
    if (loadedMacroText) { box.value = box.value.replace(loadedMacroText, "").trim(); }
    loadedMacroText = "";
    box.required = true;
    document.getElementById("composer-macro").value = "";
    document.getElementById("composer-status").value = "";
    document.getElementById("macro-pending").hidden = true;
  });

  // SLA badges count down in place (the same phrases as caredesk/sla/badges.py): "breaches in
  // 25 min" turns into "breached 1 min ago" without a reload.
  function span(seconds) {
    var minutes = Math.floor(Math.abs(seconds) / 60);
    if (minutes < 1) return "less than 1 min";
    if (minutes < 60) return minutes + " min";
    var hours = Math.floor(minutes / 60); minutes = minutes % 60;
    if (hours < 24) return minutes ? hours + " h " + minutes + " min" : hours + " h";
    var days = Math.floor(hours / 24); hours = hours % 24;
    return hours ? days + " d " + hours + " h" : days + " d";
  }
  function tickSla() {
    var now = Date.now();
    document.querySelectorAll("[data-sla-due]").forEach(function (badge) {
      var left = (Date.parse(badge.getAttribute("data-sla-due")) - now) / 1000;
      if (isNaN(left)) return;
      var warn = Number(badge.getAttribute("data-sla-warn")) || 0;
      var state = left <= 0 ? "breached" : left <= warn ? "warning" : "ok";
      badge.textContent = left <= 0 ? "breached " + span(left) + " ago" : "breaches in " + span(left);
      badge.classList.remove("sla-ok", "sla-warning", "sla-breached");
      badge.classList.add("sla-" + state);
    });
  }
  window.setInterval(tickSla, 15000);
  document.addEventListener("htmx:afterSwap", tickSla);

  // Markdown toolbar: wraps the selection (or inserts a sample) in the reply box.
  var MARKS = {
    bold: ["**", "**", "bold text"],
    italic: ["_", "_", "italic text"],
    code: ["`", "`", "code"],
    link: ["[", "](https://)", "link text"],
    list: ["\n- ", "", "item"]
  };
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-md]");
    if (!button) return;
    var box = document.getElementById("composer-body");
    var mark = MARKS[button.getAttribute("data-md")];
    if (!box || !mark) return;
    var start = box.selectionStart, end = box.selectionEnd;
    var chosen = box.value.slice(start, end) || mark[2];
    box.setRangeText(mark[0] + chosen + mark[1], start, end, "end");
    box.focus();
    box.dispatchEvent(new Event("input", { bubbles: true }));
  });

  // Inline images: "Insert image" (or pasting an image into the reply box) uploads it for this
  // draft and puts "![name](cid:...)" at the cursor; sending the reply takes the image along.
  var imageInput = document.getElementById("composer-image-file");
  function insertImage(file) {
    var box = document.getElementById("composer-body");
    var hint = document.getElementById("composer-hint");
    var data = new FormData();
    data.append("image", file, file.name || "pasted-image");
    hint.textContent = "Uploading " + (file.name || "the image") + "…";
    fetch(imageInput.getAttribute("data-image-url"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": document.body.getAttribute("data-csrf"), Accept: "application/json" }
    })
      .then(function (response) {
        return response.json().then(function (result) { return { ok: response.ok, data: result }; });
      })
      .then(function (result) {
        if (!result.ok) { hint.textContent = result.data.error || "The image could not be inserted."; return; }
        var start = box.selectionStart, end = box.selectionEnd;
        box.setRangeText(result.data.markdown, start, end, "end");
        box.focus();
        hint.textContent = "Image inserted; it is sent inside the reply.";
        box.dispatchEvent(new Event("input", { bubbles: true }));
      })
      .catch(function () { hint.textContent = "The image could not be uploaded; try again."; });
  }
  if (imageInput) {
    document.addEventListener("click", function (event) {
      if (event.target.closest("[data-insert-image]")) imageInput.click();
    });
    imageInput.addEventListener("change", function () {
      Array.prototype.forEach.call(imageInput.files, insertImage);
      imageInput.value = "";
    });
    document.getElementById("composer-body").addEventListener("paste", function (event) {
      var items = (event.clipboardData && event.clipboardData.files) || [];
      var images = Array.prototype.filter.call(items, function (f) { return /^image\//.test(f.type); });
      if (!images.length) return;
      event.preventDefault();
      images.forEach(insertImage);
    });
  }

  // Inbox: select all the rows shown (for the bulk actions), a count of the selection, and the
  // "Showing 1–N of total" line kept right as "Load more" appends rows.
  function ticketBoxes() { return Array.prototype.slice.call(document.querySelectorAll('input[name="ticket"][form="bulk"]')); }
  function selectionChanged() {
    var boxes = ticketBoxes(), chosen = boxes.filter(function (b) { return b.checked; }).length;
    var all = document.getElementById("select-all");
    if (all) { all.checked = boxes.length > 0 && chosen === boxes.length; all.indeterminate = chosen > 0 && chosen < boxes.length; }
    var label = document.getElementById("selected-count");
    if (label) label.textContent = chosen ? chosen + " selected" : "";
  }
  function shownChanged() {
    var shown = document.querySelector("#inbox-total [data-shown]");
    if (shown) shown.textContent = String(rows().length);
  }
  document.addEventListener("change", function (event) {
    if (event.target.matches("[data-select-all]")) {
      var on = event.target.checked;
      ticketBoxes().forEach(function (b) { b.checked = on; });
    }
    if (event.target.matches('[data-select-all], input[name="ticket"]')) selectionChanged();
  });
  document.addEventListener("htmx:afterSwap", function () { shownChanged(); selectionChanged(); });

  // Collision detection: tell the others when this agent starts typing.
  var body = document.getElementById("composer-body");
  if (body) {
    var form = document.getElementById("composer-form");
    var last = 0;
    body.addEventListener("input", function () {
      var now = Date.now();
      if (now - last < 4000) return;
      last = now;
      var data = new FormData();
      data.append("state", "typing");
      data.append("csrfmiddlewaretoken", document.body.getAttribute("data-csrf"));
      fetch(form.getAttribute("data-presence-url"), { method: "POST", body: data, credentials: "same-origin" });
    });
  }
})();
