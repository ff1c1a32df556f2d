/* caredesk live chat widget. Embed with one tag:
     <script src="https://care.example.com/chat/widget.js" data-widget="KEY" async></script>
   Optional signed identity: data-user-id="42" data-user-hash="<hex HMAC-SHA256(secret, "42")>".
   No framework, no third-party requests. Messages carry client ids and wait in an outbox (kept in
   localStorage) until the server acknowledges them, so a dropped network or a reload neither
   loses nor duplicates them. */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-widget]");
  if (!script || window.__caredeskChat) return;
  window.__caredeskChat = true;
  var key = script.getAttribute("data-widget");
  var origin = new URL(script.src, location.href).origin;
  var wsOrigin = origin.replace(/^http/, "ws");
  var store = "caredesk-chat:" + key + ":";
  function load(name, fallback) {
    try { var v = localStorage.getItem(store + name); return v ? JSON.parse(v) : fallback; } catch (e) { return fallback; }
  }
  function save(name, value) { try { localStorage.setItem(store + name, JSON.stringify(value)); } catch (e) { /* private mode */ } }

  var state = {
    ws: null, connected: false, backoff: 500, visitor: load("visitor", ""), session: null,
    status: "", outbox: load("outbox", []), shown: {}, lastId: 0, config: null, open: load("open", false),
    typingSent: 0, typingTimer: null, readUpto: 0
  };

  // ---- DOM (in a shadow root so the host page's styles neither leak in nor out) ----
  var host = document.createElement("div");
  host.setAttribute("data-caredesk-chat", key);
  var root = host.attachShadow ? host.attachShadow({ mode: "open" }) : host;
  var css = ":host{all:initial}[hidden]{display:none!important}*{box-sizing:border-box;font:14px/1.4 system-ui,-apple-system,'Segoe UI',sans-serif}" +
    ".launcher{position:fixed;bottom:20px;width:56px;height:56px;border-radius:50%;border:0;color:#fff;cursor:pointer;box-shadow:0 4px 14px rgba(0,0,0,.25);z-index:2147483000}" +
    ".launcher:focus-visible,button:focus-visible,textarea:focus-visible,input:focus-visible,select:focus-visible{outline:3px solid #f59e0b;outline-offset:2px}" +
    ".panel{position:fixed;bottom:88px;width:360px;max-width:calc(100vw - 24px);height:520px;max-height:calc(100vh - 110px);background:#fff;color:#111;border-radius:12px;box-shadow:0 8px 30px rgba(0,0,0,.25);display:flex;flex-direction:column;overflow:hidden;z-index:2147483000}" +
    ".panel[hidden]{display:none}.head{color:#fff;padding:12px 14px;display:flex;gap:8px;align-items:center}.head h2{flex:1;margin:0;font-size:15px;font-weight:600}" +
    ".head button{background:transparent;border:1px solid rgba(255,255,255,.6);color:#fff;border-radius:6px;padding:3px 8px;cursor:pointer}" +
    ".status{font-size:12px;padding:4px 14px;background:#fef3c7;color:#713f12}.status[hidden]{display:none}" +
    ".body{flex:1;overflow:auto;padding:12px}.msgs{list-style:none;margin:0;padding:0;display:flex;flex-direction:column;gap:8px}" +
    ".msg{max-width:80%;padding:8px 10px;border-radius:10px;white-space:pre-wrap;word-wrap:break-word}.msg.visitor{align-self:flex-end;color:#fff}.msg.agent{align-self:flex-start;background:#f1f5f9}" +
    ".msg .meta{display:block;font-size:11px;opacity:.8;margin-top:2px}.msg.pending{opacity:.6}.msg.failed{outline:2px solid #b91c1c}.sys{align-self:center;font-size:12px;color:#475569}" +
    ".typing{font-size:12px;color:#475569;min-height:18px;padding:0 14px}" +
    "form{display:flex;flex-direction:column;gap:8px}label{font-size:12px;color:#334155}input,textarea,select{width:100%;padding:8px;border:1px solid #94a3b8;border-radius:6px;color:#111;background:#fff}" +
    ".compose{border-top:1px solid #e2e8f0;padding:8px;display:flex;flex-direction:row;gap:6px;align-items:flex-end}.compose textarea{flex:1;resize:none;height:40px}" +
    ".btn{border:0;color:#fff;border-radius:6px;padding:8px 12px;cursor:pointer}.link{background:none;border:0;color:#1e40af;text-decoration:underline;cursor:pointer;padding:0;font-size:12px}" +
    ".tools{display:flex;gap:10px;padding:0 10px 8px;align-items:center}.err{color:#b91c1c;font-size:12px}" +
    "@media (max-width:480px){.panel{right:0!important;left:0!important;bottom:0;width:100vw;max-width:100vw;height:100vh;max-height:100vh;border-radius:0}}";
  root.innerHTML = "<style>" + css + "</style>" +
    '<button class="launcher" type="button" aria-expanded="false" aria-controls="cd-panel" aria-label="Open chat" hidden>' +
    '<svg width="26" height="26" viewBox="0 0 24 24" aria-hidden="true"><path fill="currentColor" d="M4 4h16v12H7l-3 3z"/></svg></button>' +
    '<section class="panel" id="cd-panel" role="dialog" aria-label="Chat with us" hidden>' +
    '<div class="head"><h2 class="greeting"></h2><button type="button" class="end" hidden>End chat</button><button type="button" class="close" aria-label="Close chat">×</button></div>' +
    '<div class="status" role="status" hidden></div>' +
    '<div class="body"><form class="prechat" hidden novalidate>' +
    '<label>Name<input name="name" autocomplete="name" maxlength="100"></label>' +
    '<label>Email<input name="email" type="email" autocomplete="email" maxlength="254"></label>' +
    '<label class="topic-label">Topic<select name="topic"></select></label>' +
    '<label>Message<textarea name="text" rows="3" maxlength="5000" required></textarea></label>' +
    '<p class="err" role="alert"></p><button class="btn" type="submit">Start chat</button></form>' +
    '<form class="offline" hidden novalidate><p class="offline-msg"></p>' +
    '<label>Name<input name="name" autocomplete="name" maxlength="100"></label>' +
    '<label>Email<input name="email" type="email" autocomplete="email" required maxlength="254"></label>' +
    '<label>Message<textarea name="text" rows="4" maxlength="5000" required></textarea></label>' +
    '<p class="err" role="alert"></p><button class="btn" type="submit">Send</button></form>' +
    '<ol class="msgs" aria-live="polite" aria-label="Messages"></ol></div>' +
    '<div class="typing" aria-live="polite"></div>' +
    '<div class="conversation" hidden><form class="compose"><label style="position:absolute;left:-9999px" for="cd-text">Your message</label>' +
    '<textarea id="cd-text" name="text" maxlength="5000" placeholder="Type a message…"></textarea><button class="btn send" type="submit">Send</button></form>' +
    '<div class="tools"><label class="link">Attach a file<input type="file" class="file" hidden></label><button type="button" class="link transcript">Email me the transcript</button><span class="err tools-err" role="alert"></span></div></div>' +
    "</section>";
  document.body.appendChild(host);
  function $(sel) { return root.querySelector(sel); }
  var launcher = $(".launcher"), panel = $(".panel"), msgs = $(".msgs"), body = $(".body");

  function applyConfig(config) {
    state.config = config;
    var color = /^#[0-9a-fA-F]{6}$/.test(config.color) ? config.color : "#1d4ed8";
    launcher.style.background = color;
    $(".head").style.background = color;
    Array.prototype.forEach.call(root.querySelectorAll(".btn"), function (b) { b.style.background = color; });
    var side = config.position === "left" ? "left" : "right";
    launcher.style[side] = "20px"; panel.style[side] = "20px";
    $(".greeting").textContent = config.greeting;
    $(".offline-msg").textContent = config.offline_message;
    $(".prechat [name=name]").closest("label").hidden = !config.ask_name;
    $(".prechat [name=email]").closest("label").hidden = !config.require_email;
    var select = $(".prechat [name=topic]");
    select.innerHTML = "";
    (config.topics || []).forEach(function (t) { var o = document.createElement("option"); o.textContent = t; o.value = t; select.appendChild(o); });
    $(".topic-label").hidden = !(config.topics || []).length;
    launcher.hidden = false;
    visitorStyle();
  }
  function visitorStyle() {
    if (!state.config) return;
    Array.prototype.forEach.call(root.querySelectorAll(".msg.visitor"), function (m) { m.style.background = state.config.color; });
  }

  function show(view) {
    $(".prechat").hidden = view !== "prechat";
    $(".offline").hidden = view !== "offline";
    $(".conversation").hidden = view !== "conversation" && view !== "ended";
    $(".compose").hidden = view === "ended";
    $(".end").hidden = view !== "conversation";
  }
  function status(text) { var s = $(".status"); s.textContent = text || ""; s.hidden = !text; }

  function time(iso) { try { return new Date(iso).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }); } catch (e) { return ""; } }
  function addMessage(m, pending) {
    var el = (m.client_id && msgs.querySelector('[data-client="' + CSS.escape(m.client_id) + '"]')) ||
      (m.id && msgs.querySelector('[data-id="' + m.id + '"]'));
    if (!el) {
      el = document.createElement("li");
      el.className = "msg " + (m.from === "visitor" ? "visitor" : "agent");
      el.appendChild(document.createElement("span")).className = "text";
      el.appendChild(document.createElement("span")).className = "meta";
      msgs.appendChild(el);
    }
    if (m.client_id) el.setAttribute("data-client", m.client_id);
    if (m.author) el.setAttribute("data-author", m.author);
    el.querySelector(".text").textContent = m.text;
    el.classList.toggle("pending", !!pending);
    if (m.id) { el.setAttribute("data-id", m.id); state.lastId = Math.max(state.lastId, m.id); save("last", state.lastId); }
    if (m.at) el.setAttribute("data-at", m.at);
    el.setAttribute("data-from", m.from);
    meta(el);
    visitorStyle();
    body.scrollTop = body.scrollHeight;
    markRead();
    return el;
  }
  // One rendering of a line's meta whatever arrives first (ack, history or the live echo), so the
  // visitor's own line never loses its "sent" or "Seen" mark to a later frame.
  function meta(el) {
    var from = el.getAttribute("data-from"), at = el.getAttribute("data-at");
    var text = from === "visitor" ? "You" : (el.getAttribute("data-author") || "Agent");
    if (at) text += " · " + time(at);
    if (el.classList.contains("pending")) text += " · sending…";
    else if (from === "visitor" && el.hasAttribute("data-id")) text += " · sent";
    if (el.hasAttribute("data-seen")) text += " · Seen";
    el.querySelector(".meta").textContent = text;
  }
  function systemLine(text) {
    var li = document.createElement("li"); li.className = "sys"; li.textContent = text; msgs.appendChild(li);
    body.scrollTop = body.scrollHeight;
  }
  function markRead() {
    if (!state.open || !state.connected || !state.session) return;
    var agentMsgs = msgs.querySelectorAll('.msg.agent[data-id]');
    if (!agentMsgs.length) return;
    var top = +agentMsgs[agentMsgs.length - 1].getAttribute("data-id");
    if (top > state.readUpto) { state.readUpto = top; send({ type: "read", up_to: top }); }
  }
  function seen(upTo) {
    Array.prototype.forEach.call(msgs.querySelectorAll('.msg.visitor[data-id]'), function (el) {
      if (+el.getAttribute("data-id") <= upTo && !el.hasAttribute("data-seen")) {
        el.setAttribute("data-seen", "1"); meta(el);
      }
    });
  }

  function send(frame) {
    if (state.connected && state.ws.readyState === 1) { state.ws.send(JSON.stringify(frame)); return true; }
    return false;
  }
  function clientId() { return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 10); }
  function flush() {
    state.outbox.forEach(function (item) { send(item); });
  }
  function queue(frame) {
    state.outbox.push(frame); save("outbox", state.outbox);
    addMessage({ client_id: frame.client_id, text: frame.text, from: "visitor" }, true);
    flush();
  }

  function connect() {
    var url = wsOrigin + "/ws/chat/" + encodeURIComponent(key) + "/?visitor=" + encodeURIComponent(state.visitor || "");
    var uid = script.getAttribute("data-user-id");
    if (uid) url += "&user_id=" + encodeURIComponent(uid) + "&user_hash=" + encodeURIComponent(script.getAttribute("data-user-hash") || "");
    var ws;
    try { ws = new WebSocket(url); } catch (e) { return retry(); }
    state.ws = ws;
    ws.onopen = function () { state.connected = true; state.backoff = 500; status(""); };
    ws.onclose = function (event) {
      state.connected = false;
      if (event.code === 4403 && state.visitor && !uid) { state.visitor = ""; save("visitor", ""); }
      if (state.config) status("Connection lost. Reconnecting…");
      retry();
    };
    ws.onmessage = function (event) {
      var data; try { data = JSON.parse(event.data); } catch (e) { return; }
      handle(data);
    };
  }
  function retry() {
    setTimeout(connect, state.backoff);
    state.backoff = Math.min(state.backoff * 2, 8000);
  }

  function handle(d) {
    switch (d.type) {
      case "hello":
        state.visitor = d.visitor; save("visitor", d.visitor);
        applyConfig(d.widget);
        if (d.session) {
          state.session = d.session.id; state.status = d.session.status;
          d.session.messages.forEach(function (m) { addMessage(m); });
          seen(d.session.agent_read_upto || 0);
          show("conversation");
        } else if (state.status !== "ended") {
          show(d.agents_online ? "prechat" : "offline");
        }
        panel.hidden = !state.open; launcher.setAttribute("aria-expanded", String(state.open));
        flush();
        break;
      case "started": state.session = d.session; state.status = d.status; show("conversation");
        if (d.status === "waiting") systemLine("Connecting you to an agent…");
        break;
      case "ack":
        state.outbox = state.outbox.filter(function (f) { return f.client_id !== d.client_id; }); save("outbox", state.outbox);
        var pend = msgs.querySelector('[data-client="' + CSS.escape(d.client_id || "") + '"]');
        if (pend) { pend.classList.remove("pending"); pend.setAttribute("data-id", d.id); meta(pend); }
        state.lastId = Math.max(state.lastId, d.id);
        break;
      case "message": addMessage(d.message); if (d.message.from === "agent") $(".typing").textContent = ""; break;
      case "history": d.messages.forEach(function (m) { addMessage(m); }); break;
      case "typing": $(".typing").textContent = d.state ? (d.name || "The agent") + " is typing…" : ""; break;
      case "read": seen(d.up_to); break;
      case "joined": state.status = "active"; systemLine(d.agent + " joined the chat."); break;
      case "transferred": systemLine("You are being transferred to " + d.to + "."); break;
      case "ended":
        state.status = "ended"; state.session = null; show("ended");
        systemLine("The chat has ended. Thank you!");
        var again = document.createElement("li"); again.className = "sys";
        var b = document.createElement("button"); b.type = "button"; b.className = "link"; b.textContent = "Start a new chat";
        b.onclick = function () { msgs.innerHTML = ""; state.status = ""; show(state.config ? "prechat" : "offline"); };
        again.appendChild(b); msgs.appendChild(again);
        break;
      case "survey":
        // CSAT rating buttons: each opens the survey page with the rating chosen, where it is
        // confirmed (the page records an answer only when its form is sent).
        systemLine(d.question || "How did we do?");
        var rate = document.createElement("li"); rate.className = "sys survey";
        (d.links || []).forEach(function (l) {
          var a = document.createElement("a"); a.href = l.url; a.target = "_blank"; a.rel = "noopener";
          a.className = "button"; a.textContent = String(l.score); a.title = l.label;
          a.setAttribute("aria-label", l.score + " – " + l.label);
          rate.appendChild(a); rate.appendChild(document.createTextNode(" "));
        });
        msgs.appendChild(rate);
        break;
      case "transcript_requested": $(".tools-err").textContent = "The transcript will be emailed when the chat ends."; break;
      case "offline_received":
        show("none"); systemLine("Thanks! We received your message (request #" + d.ticket + ") and will answer by email.");
        break;
      case "error":
        if (d.code === "rate_limited" || d.code === "internal" || d.code === "unavailable") { setTimeout(flush, 3000); status(d.message); break; }
        if (d.client_id) {
          state.outbox = state.outbox.filter(function (f) { return f.client_id !== d.client_id; }); save("outbox", state.outbox);
          var failed = msgs.querySelector('[data-client="' + CSS.escape(d.client_id) + '"]');
          if (failed) { failed.classList.add("failed"); failed.querySelector(".meta").textContent = "Not sent: " + d.message; }
        }
        var form = !$(".prechat").hidden ? $(".prechat") : (!$(".offline").hidden ? $(".offline") : null);
        if (form) form.querySelector(".err").textContent = d.message; else $(".tools-err").textContent = d.message;
        break;
    }
  }

  // ---- events ----
  launcher.addEventListener("click", function () {
    state.open = panel.hidden; save("open", state.open);
    panel.hidden = !state.open; launcher.setAttribute("aria-expanded", String(state.open));
    if (state.open) { var f = panel.querySelector("form:not([hidden]) input:not([hidden]), form:not([hidden]) textarea"); if (f) f.focus(); markRead(); }
  });
  $(".close").addEventListener("click", function () { state.open = false; save("open", false); panel.hidden = true; launcher.setAttribute("aria-expanded", "false"); launcher.focus(); });
  $(".end").addEventListener("click", function () { send({ type: "end" }); });
  $(".prechat").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target, text = f.text.value.trim();
    if (!text) { f.querySelector(".err").textContent = "Please write a message."; return; }
    if (state.config.require_email && !/^\S+@\S+\.\S+$/.test(f.email.value.trim())) { f.querySelector(".err").textContent = "Please give your email address."; return; }
    f.querySelector(".err").textContent = "";
    show("conversation");
    queue({ type: "start", client_id: clientId(), text: text, name: f.name.value.trim(), email: f.email.value.trim(), topic: f.topic.value });
    f.text.value = "";
  });
  $(".offline").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target;
    if (!f.text.value.trim() || !f.email.value.trim()) { f.querySelector(".err").textContent = "Please give your email address and a message."; return; }
    if (!send({ type: "offline", client_id: clientId(), text: f.text.value, email: f.email.value, name: f.name.value })) {
      f.querySelector(".err").textContent = "Not connected; please try again in a moment.";
    }
  });
  $(".compose").addEventListener("submit", function (e) {
    e.preventDefault();
    var box = $("#cd-text"), text = box.value.trim();
    if (!text) return;
    box.value = "";
    queue({ type: state.session ? "message" : "start", client_id: clientId(), text: text });
    send({ type: "typing", state: false });
  });
  $("#cd-text").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $(".compose").requestSubmit(); }
  });
  $("#cd-text").addEventListener("input", function () {
    var now = Date.now();
    if (now - state.typingSent > 3000) { state.typingSent = now; send({ type: "typing", state: true }); }
    clearTimeout(state.typingTimer);
    state.typingTimer = setTimeout(function () { state.typingSent = 0; send({ type: "typing", state: false }); }, 4000);
  });
  $(".file").addEventListener("change", function (e) {
    var file = e.target.files[0];
    if (!file || !state.session) return;
    var data = new FormData();
    data.append("visitor", state.visitor); data.append("session", state.session); data.append("file", file);
    $(".tools-err").textContent = "Uploading " + file.name + "…";
    fetch(origin + "/chat/upload/" + encodeURIComponent(key) + "/", { method: "POST", body: data })
      .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, body: j }; }); })
      .then(function (r) { $(".tools-err").textContent = r.ok ? "" : r.body.message; })
      .catch(function () { $(".tools-err").textContent = "The upload failed; please try again."; });
    e.target.value = "";
  });
  $(".transcript").addEventListener("click", function () {
    var email = window.prompt("Email address for the transcript:");
    if (email) send({ type: "transcript", email: email });
  });
  window.addEventListener("online", function () { if (!state.connected) { state.backoff = 500; } });

  connect();
})();
