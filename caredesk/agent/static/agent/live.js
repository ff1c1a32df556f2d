/* The live workspace over one WebSocket (/ws/agent/): chat offers and the chat desk, inbox and
   ticket pages that update without a reload, and live collision detection. Falls back quietly
   to the polling the pages already do when the socket is down. No inline scripts (CSP). */
(function () {
  "use strict";
  var ws = null, connected = false, backoff = 500, outbox = [];
  var csrf = document.body.getAttribute("data-csrf");
  var ticketEl = document.querySelector("[data-live-ticket]");
  var ticketId = ticketEl ? +ticketEl.getAttribute("data-live-ticket") : null;
  var desk = document.getElementById("chat-desk");
  var refreshTimer = null;

  function send(frame) {
    if (connected && ws.readyState === 1) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }
  function clientId() { return "a" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10); }
  function flush() { outbox.forEach(function (f) { send(f); }); }

  function connect() {
    ws = new WebSocket(location.origin.replace(/^http/, "ws") + "/ws/agent/");
    ws.onopen = function () {
      connected = true; backoff = 500;
      document.body.classList.add("live");
      if (ticketId) send({ type: "watch", ticket: ticketId, state: "viewing" });
      document.querySelectorAll(".chat-column[data-session]").forEach(function (c) {
        send({ type: "join", session: c.getAttribute("data-session") });
      });
      flush();
    };
    ws.onclose = function () {
      connected = false; document.body.classList.remove("live");
      setTimeout(connect, backoff); backoff = Math.min(backoff * 2, 8000);
    };
    ws.onmessage = function (event) {
      var d; try { d = JSON.parse(event.data); } catch (e) { return; }
      handle(d);
    };
  }

  // ---- live inbox and ticket page ----
  function refreshFrom(selectors) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(function () {
      fetch(location.href, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        selectors.forEach(function (sel) {
          var fresh = doc.querySelector(sel), old = document.querySelector(sel);
          if (fresh && old) old.innerHTML = fresh.innerHTML;
        });
      });
    }, 600);
  }
  function ticketChanged(d) {
    var rows = document.getElementById("ticket-rows");
    if (rows && !document.querySelector("#ticket-rows input:checked")) {
      refreshFrom(["#ticket-rows", "aside.views", "#inbox-total"]);
    }
    if (ticketId && d.ticket === ticketId) {
      refreshFrom(["ol.timeline"]);
    }
  }
  function presence(d) {
    if (!ticketId || d.ticket !== ticketId) return;
    var box = document.getElementById("presence");
    if (!box) return;
    var who = box.querySelector('[data-agent="' + d.agent_id + '"]');
    if (d.state === "left") { if (who) who.remove(); return; }
    if (!who) { who = document.createElement("p"); who.className = "collision"; who.setAttribute("role", "status"); who.setAttribute("data-agent", d.agent_id); box.appendChild(who); }
    // The same wording as agent/_presence.html.
    who.textContent = "";
    who.appendChild(document.createElement("strong")).textContent = d.name;
    who.appendChild(document.createTextNode(d.state === "typing" ? " is replying to this ticket…" : " is viewing this ticket."));
  }
  if (ticketId) {
    var body = document.getElementById("composer-body"), last = 0, idle = null;
    if (body) body.addEventListener("input", function () {
      // Back to "viewing" once the agent has stopped typing for a few seconds.
      clearTimeout(idle);
      idle = setTimeout(function () { last = 0; send({ type: "watch", ticket: ticketId, state: "viewing" }); }, 5000);
      var now = Date.now(); if (now - last < 3000) return; last = now;
      send({ type: "watch", ticket: ticketId, state: "typing" });
    });
    setInterval(function () { send({ type: "watch", ticket: ticketId, state: "viewing" }); }, 20000);
    window.addEventListener("pagehide", function () { send({ type: "watch", ticket: ticketId, state: "left" }); });
  }

  // ---- notifications: the header's bell counts up live ----
  function notified(d) {
    var count = document.getElementById("bell-count");
    if (!count) return;
    var shown = count.querySelector("[data-unread]");
    var unread = (shown ? +shown.getAttribute("data-unread") : 0) + 1;
    count.textContent = "";
    var number = document.createElement("span");
    number.setAttribute("data-unread", unread);
    number.textContent = String(unread);
    var hint = document.createElement("span");
    hint.className = "visually-hidden";
    hint.textContent = " unread";
    count.append(number, hint);
    var bell = document.getElementById("bell");
    if (bell) { bell.setAttribute("title", d.text || ""); bell.classList.add("bell-new"); }
  }

  // ---- chat offers (anywhere in the workspace) ----
  var offers = document.getElementById("chat-offers");
  function offer(d) {
    if (d.queue) { queueAdd(d); return; }
    if (!offers || offers.querySelector('[data-session="' + d.session + '"]')) return;
    var box = document.createElement("div");
    box.className = "chat-offer"; box.setAttribute("role", "alertdialog"); box.setAttribute("data-session", d.session);
    box.setAttribute("aria-label", "Incoming chat");
    var p = document.createElement("p");
    p.textContent = "Incoming chat: " + d.customer + (d.topic ? " — " + d.topic : "") + (d.note ? " (" + d.note + ")" : "");
    var accept = document.createElement("button"); accept.type = "button"; accept.textContent = "Accept"; accept.setAttribute("data-chat-accept", d.session);
    var decline = document.createElement("button"); decline.type = "button"; decline.textContent = "Decline"; decline.setAttribute("data-chat-decline", d.session);
    box.append(p, accept, decline); offers.appendChild(box); accept.focus();
  }
  function queueAdd(d) {
    var list = document.getElementById("chat-queue");
    if (!list || list.querySelector('[data-session="' + d.session + '"]')) return;
    var empty = list.querySelector(".empty"); if (empty) empty.remove();
    var li = document.createElement("li"); li.setAttribute("data-session", d.session);
    li.textContent = d.customer + " — " + (d.topic || "") + " ";
    var b = document.createElement("button"); b.type = "button"; b.textContent = "Accept"; b.setAttribute("data-chat-accept", d.session);
    li.appendChild(b); list.appendChild(li);
  }
  function dropOffer(session) {
    document.querySelectorAll('.chat-offer[data-session="' + session + '"], #chat-queue [data-session="' + session + '"]').forEach(function (e) { e.remove(); });
    var list = document.getElementById("chat-queue");
    if (list && !list.children.length) {
      var li = document.createElement("li"); li.className = "muted empty"; li.textContent = "Nobody is waiting."; list.appendChild(li);
    }
  }
  document.addEventListener("click", function (e) {
    var a = e.target.closest("[data-chat-accept]");
    if (a) { send({ type: "accept", session: a.getAttribute("data-chat-accept") }); }
    var d = e.target.closest("[data-chat-decline]");
    if (d) { send({ type: "decline", session: d.getAttribute("data-chat-decline") }); dropOffer(d.getAttribute("data-chat-decline")); }
    var end = e.target.closest(".chat-end");
    if (end) { send({ type: "end", session: end.closest(".chat-column").getAttribute("data-session") }); }
  });

  // ---- chat desk ----
  function column(session) { return document.querySelector('.chat-column[data-session="' + session + '"]'); }
  function openColumn(session) {
    if (!desk) { location.href = "/agent/chats/"; return; }
    if (column(session)) return;
    fetch("/agent/chats/" + session + "/column/", { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
      var none = document.getElementById("no-chats"); if (none) none.remove();
      document.getElementById("chat-columns").insertAdjacentHTML("beforeend", html);
      var box = column(session).querySelector("textarea"); if (box) box.focus();
    });
  }
  function addChatMessage(session, m, pending) {
    var col = column(session); if (!col) return;
    var log = col.querySelector(".chat-log");
    var el = (m.client_id && log.querySelector('[data-client="' + CSS.escape(m.client_id) + '"]')) || (m.id && log.querySelector('[data-id="' + m.id + '"]'));
    if (!el) {
      el = document.createElement("li"); el.className = "chat-msg " + m.from;
      el.appendChild(document.createElement("span")).className = "text";
      el.appendChild(document.createElement("span")).className = "meta";
      log.appendChild(el);
    }
    if (m.id) el.setAttribute("data-id", m.id);
    if (m.client_id) el.setAttribute("data-client", m.client_id);
    el.querySelector(".text").textContent = m.text + (m.files && m.files.length ? " [" + m.files.map(function (f) { return f.name; }).join(", ") + "]" : "");
    el.querySelector(".meta").textContent = (m.author || "") + (pending ? " · sending…" : "");
    el.classList.toggle("pending", !!pending);
    log.scrollTop = log.scrollHeight;
    if (m.from === "visitor" && m.id) send({ type: "read", session: session, up_to: m.id });
  }
  function systemLine(session, text) {
    var col = column(session); if (!col) return;
    var li = document.createElement("li"); li.className = "chat-sys"; li.textContent = text; col.querySelector(".chat-log").appendChild(li);
  }
  if (desk) {
    desk.addEventListener("submit", function (e) {
      var form = e.target;
      if (form.classList.contains("chat-compose")) {
        e.preventDefault();
        var session = form.closest(".chat-column").getAttribute("data-session");
        var text = form.text.value.trim(); if (!text) return;
        var frame = { type: "message", session: session, client_id: clientId(), text: text };
        outbox.push(frame); addChatMessage(session, { client_id: frame.client_id, text: text, from: "agent", author: "You" }, true);
        form.text.value = ""; flush();
      } else if (form.classList.contains("chat-transfer-form")) {
        e.preventDefault();
        fetch(form.action, { method: "POST", body: new FormData(form), credentials: "same-origin" })
          .then(function (r) { return r.json(); }).then(function (j) {
            if (j.ok) { form.closest(".chat-column").remove(); } else { alert(j.message); }
          });
      }
    });
    desk.addEventListener("keydown", function (e) {
      if (e.key === "Enter" && !e.shiftKey && e.target.matches(".chat-compose textarea")) { e.preventDefault(); e.target.form.requestSubmit(); }
    });
    desk.addEventListener("input", function (e) {
      if (!e.target.matches(".chat-compose textarea")) return;
      var session = e.target.closest(".chat-column").getAttribute("data-session");
      var now = Date.now(), lastT = +(e.target.getAttribute("data-typed") || 0);
      if (now - lastT > 3000) { e.target.setAttribute("data-typed", now); send({ type: "typing", session: session, state: true }); }
    });
    desk.addEventListener("change", function (e) {
      if (!e.target.matches(".chat-snippet") || !e.target.value) return;
      var box = e.target.closest("form").text;
      box.value = (box.value ? box.value + " " : "") + e.target.value; e.target.value = ""; box.focus();
    });
  }

  function handle(d) {
    switch (d.type) {
      case "ticket.changed": case "changed": ticketChanged(d); break;
      case "presence": if (d.agent_id) presence(d); break;
      case "notification": notified(d); break;
      case "offer": offer(d); break;
      case "taken": dropOffer(d.session); break;
      case "accepted": dropOffer(d.session); openColumn(d.session); break;
      case "message": addChatMessage(d.session, d.message); break;
      case "ack":
        outbox = outbox.filter(function (f) { return f.client_id !== d.client_id; });
        addChatMessage(d.session, { client_id: d.client_id, id: d.id, text: (column(d.session) && column(d.session).querySelector('[data-client="' + CSS.escape(d.client_id) + '"] .text') || {}).textContent || "", from: "agent", author: "You" });
        break;
      case "history": (d.messages || []).forEach(function (m) { addChatMessage(d.session, m); }); break;
      case "typing": var col = column(d.session); if (col) { col.querySelector(".chat-typing").textContent = d.state ? "Customer is typing…" : ""; } break;
      case "read": var c = column(d.session); if (c) c.querySelectorAll(".chat-msg.agent[data-id]").forEach(function (el) { if (+el.getAttribute("data-id") <= d.up_to) el.classList.add("seen"); }); break;
      case "joined": dropOffer(d.session); break;
      case "transferred": systemLine(d.session, "Transferred to " + d.to + "."); break;
      case "ended":
        systemLine(d.session, "The chat ended (" + d.by + "). The transcript is on the ticket.");
        var colE = column(d.session); if (colE) { colE.classList.add("ended"); var f = colE.querySelector(".chat-compose"); if (f) f.remove(); }
        break;
      case "error":
        if (d.client_id) { outbox = outbox.filter(function (f) { return f.client_id !== d.client_id; }); }
        var flash = document.getElementById("live-error"); if (flash) { flash.textContent = d.message; }
        break;
    }
  }
  if (window.WebSocket) connect();
})();
