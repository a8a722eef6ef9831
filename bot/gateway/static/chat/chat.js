/*
 * The web chat. State lives in memory and in this tab's sessionStorage only: a reload resumes the
 * conversation, closing the tab forgets it. No cookies, no localStorage.
 * Every piece of text, from the bot or the person, is put in the page with textContent.
 */
(function () {
  "use strict";

  var STORE_KEY = "chat";
  var ENDPOINT = "/webhooks/rest/webhook";
  var SENDER_RE = /^[0-9a-f]{32}$/;
  var TIMEOUT_MS = 30000;
  var MAX_CHARS = 2000;

  var $ = function (id) { return document.getElementById(id); };
  var startSection = $("start");
  var startButton = $("start-button");
  var chatSection = $("chat");
  var log = $("log");
  var typing = $("typing");
  var offline = $("offline");
  var rejected = $("rejected");
  var retryButton = $("retry-button");
  var quickReplies = $("quick-replies");
  var emergency = $("emergency");
  var form = $("composer");
  var input = $("message");

  var reducedMotion = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  var exited = false;
  var busy = false;
  var pending = null;      // {text} of a turn not yet answered (kept for "Try again")
  var inflight = null;     // AbortController of the request in progress

  /* ---------- state ---------- */

  function newSender() {
    // 128 random bits as 32 hex characters (the gateway takes 20-128 URL-safe characters, not all digits).
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    var hex = "";
    for (var i = 0; i < bytes.length; i++) { hex += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16); }
    return /^[0-9]+$/.test(hex) ? newSender() : hex;
  }

  function freshState() {
    return { v: 1, sender: newSender(), started: false, messages: [], quick: [], emergency: false };
  }

  function validState(s) {
    return s && s.v === 1 && typeof s.sender === "string" && SENDER_RE.test(s.sender) &&
      Array.isArray(s.messages) && Array.isArray(s.quick);
  }

  function loadState() {
    try {
      var s = JSON.parse(window.sessionStorage.getItem(STORE_KEY) || "null");
      return validState(s) ? s : null;
    } catch (e) {
      return null;
    }
  }

  function save() {
    if (exited || !state.started) { return; }
    try { window.sessionStorage.setItem(STORE_KEY, JSON.stringify(state)); } catch (e) { /* memory only */ }
  }

  var state = loadState() || freshState();

  var api = (window.SafeExit = window.SafeExit || {});
  api.sender = function () { return state.started ? state.sender : null; };
  // After an exit elsewhere in this tab the storage is empty while this page still shows a chat.
  api.isStale = function () {
    if (exited) { return true; }
    if (!state.started) { return false; }
    try { return !window.sessionStorage.getItem(STORE_KEY); } catch (e) { return false; }
  };

  /* ---------- rendering (text only) ---------- */

  var URL_RE = /(https:\/\/[^\s<>"']+)/g;

  function appendText(parent, text) {
    // Plain text; web addresses (https only) become links. Nothing is ever parsed as HTML.
    var parts = String(text).split(URL_RE);
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (!part) { continue; }
      if (i % 2 === 1) {
        var trail = /[.,;:!?)\]]+$/.exec(part);
        var url = trail ? part.slice(0, -trail[0].length) : part;
        var link = null;
        try {
          if (new URL(url).protocol === "https:") {
            link = document.createElement("a");
            link.href = url;
            link.rel = "noreferrer noopener";
            link.textContent = url;
          }
        } catch (e) { link = null; }
        if (link) {
          parent.appendChild(link);
          if (trail) { parent.appendChild(document.createTextNode(trail[0])); }
          continue;
        }
      }
      parent.appendChild(document.createTextNode(part));
    }
  }

  function renderMessage(message) {
    var item = document.createElement("div");
    item.className = "message message--" + (message.from === "user" ? "user" : "bot");
    var who = document.createElement("span");
    who.className = "visually-hidden";
    who.textContent = message.from === "user" ? "You said: " : "The assistant said: ";
    var text = document.createElement("p");
    text.className = "message-text";
    appendText(text, message.text);
    item.appendChild(who);
    item.appendChild(text);
    log.appendChild(item);
    return item;
  }

  function renderQuickReplies() {
    while (quickReplies.firstChild) { quickReplies.removeChild(quickReplies.firstChild); }
    state.quick.forEach(function (reply) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "button button--secondary quick-reply";
      b.textContent = reply.title;
      b.addEventListener("click", function () {
        send(reply.payload, reply.title);
      });
      quickReplies.appendChild(b);
    });
    quickReplies.hidden = state.quick.length === 0;
  }

  function showEmergency(announce) {
    if (!emergency.hidden) { return; }
    if (announce) { emergency.setAttribute("role", "alert"); }
    emergency.hidden = false;
  }

  function scrollToLatest(element) {
    if (!element || !element.scrollIntoView) { return; }
    element.scrollIntoView({ block: "nearest", behavior: reducedMotion ? "auto" : "smooth" });
  }

  function renderAll() {
    while (log.firstChild) { log.removeChild(log.firstChild); }
    state.messages.forEach(renderMessage);
    renderQuickReplies();
    if (state.emergency) { showEmergency(false); }
  }

  /* ---------- conversation ---------- */

  function setBusy(value) {
    busy = value;
    typing.hidden = !value;
    if (value) { scrollToLatest(typing); }
  }

  function cleanButtons(buttons) {
    if (!Array.isArray(buttons)) { return []; }
    return buttons.filter(function (b) {
      return b && typeof b.title === "string" && b.title && typeof b.payload === "string" && b.payload;
    }).map(function (b) { return { title: b.title, payload: b.payload }; });
  }

  function receive(replies) {
    var last = null;
    var quick = [];
    (Array.isArray(replies) ? replies : []).forEach(function (reply) {
      if (!reply || typeof reply !== "object") { return; }
      if (reply.custom && reply.custom.escalation === "emergency") {
        state.emergency = true;
        showEmergency(true);
      }
      if (typeof reply.text === "string" && reply.text.trim()) {
        var message = { from: "bot", text: reply.text };
        state.messages.push(message);
        last = renderMessage(message);
      }
      var buttons = cleanButtons(reply.buttons);
      if (buttons.length) { quick = buttons; }
    });
    state.quick = quick;
    renderQuickReplies();
    save();
    scrollToLatest(quick.length ? quickReplies : last);
  }

  function post() {
    if (!pending || exited) { return; }
    var controller = window.AbortController ? new AbortController() : null;
    inflight = controller;
    var timer = setTimeout(function () { if (controller) { controller.abort(); } }, TIMEOUT_MS);
    offline.hidden = true;
    setBusy(true);
    window.fetch(ENDPOINT, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: state.sender, message: pending.text }),
      credentials: "omit",
      cache: "no-store",
      referrerPolicy: "no-referrer",
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      if (response.status === 400 || response.status === 413) { throw { rejected: true }; }
      if (!response.ok) { throw { offline: true }; }
      return response.json();
    }).then(function (replies) {
      if (exited) { return; }
      pending = null;
      receive(replies);
    }).catch(function (error) {
      if (exited) { return; }
      if (error && error.rejected) {
        pending = null;
        rejected.hidden = false;
      } else {
        offline.hidden = false;
        scrollToLatest(offline);
      }
    }).then(function () {
      clearTimeout(timer);
      inflight = null;
      if (!exited) { setBusy(false); }
    });
  }

  function send(text, shown) {
    if (busy || exited || pending) { return; }
    var refocus = document.activeElement && quickReplies.contains(document.activeElement);
    state.quick = [];
    renderQuickReplies();
    rejected.hidden = true;
    if (shown !== null) {
      var message = { from: "user", text: shown };
      state.messages.push(message);
      renderMessage(message);
    }
    pending = { text: text };
    save();
    if (refocus) { input.focus(); }
    post();
  }

  function start() {
    state.started = true;
    save();
    showChat();
    input.focus();
    send("/greet", null);
  }

  function showChat() {
    startSection.hidden = true;
    chatSection.hidden = false;
  }

  /* ---------- events ---------- */

  startButton.addEventListener("click", start);

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || busy || pending) { return; }
    if (text.length > MAX_CHARS) { rejected.hidden = false; return; }
    input.value = "";
    send(text, text);
  });

  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (form.requestSubmit) { form.requestSubmit(); } else { form.dispatchEvent(new Event("submit", { cancelable: true })); }
    }
  });

  retryButton.addEventListener("click", function () {
    if (busy) { return; }
    input.focus();
    post();
  });

  document.addEventListener("safeexit:exit", function () {
    // Quick exit: drop everything this page holds, in memory and on screen.
    exited = true;
    if (inflight) { try { inflight.abort(); } catch (e) { /* already finished */ } }
    pending = null;
    state = freshState();
    while (log.firstChild) { log.removeChild(log.firstChild); }
    while (quickReplies.firstChild) { quickReplies.removeChild(quickReplies.firstChild); }
    input.value = "";
  });

  /* ---------- resume ---------- */

  startButton.hidden = false;
  if (state.started) {
    renderAll();
    showChat();
    var lastMessage = log.lastElementChild;
    if (lastMessage) { scrollToLatest(lastMessage); }
  }
})();
