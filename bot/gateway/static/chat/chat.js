/*
 * The web chat. The conversation's text lives in this page's memory only. This tab's
 * sessionStorage keeps the random conversation id and two flags, never a message, so a reload
 * (or a tab the browser reopens) carries on the conversation without showing what was said.
 * No cookies, no localStorage.
 * Every piece of text, from the bot or the person, is put in the page with textContent; web
 * addresses and phone numbers become links through DOM methods, never by parsing HTML.
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
    return { v: 2, sender: newSender(), started: false, messages: [], quick: [], emergency: false };
  }

  // What goes into sessionStorage: no message text and no buttons (a button's title can echo
  // what was said), only what lets a reload carry on the same conversation.
  function storedPart(s) {
    return { v: 2, sender: s.sender, started: s.started, emergency: s.emergency };
  }

  function validState(s) {
    return s && s.v === 2 && typeof s.sender === "string" && SENDER_RE.test(s.sender) &&
      typeof s.started === "boolean";
  }

  function loadState() {
    try {
      var s = JSON.parse(window.sessionStorage.getItem(STORE_KEY) || "null");
      if (!validState(s)) { return null; }
      return { v: 2, sender: s.sender, started: s.started, messages: [], quick: [],
        emergency: s.emergency === true, resumed: s.started };
    } catch (e) {
      return null;
    }
  }

  function save() {
    if (exited || !state.started) { return; }
    try { window.sessionStorage.setItem(STORE_KEY, JSON.stringify(storedPart(state))); } catch (e) { /* memory only */ }
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
  // UK numbers as the bot writes them: 999, 111, 116 123, and 0-numbers of 8 to 11 digits in
  // groups ("0808 2000 247", "0808 80 10 800", "0113 496 0123"). Not "55" (pressed, not dialled).
  var PHONE_RE = /(?:^|[^\d\w])((?:999|111|116 ?\d{3}|0\d{2,4}(?: ?\d{2,4}){1,3}))(?![\d\w])/g;

  function phoneLink(number) {
    var link = document.createElement("a");
    link.className = "tel";
    link.href = "tel:" + number.replace(/ /g, "");
    link.textContent = number;
    return link;
  }

  function appendPhones(parent, text) {
    // Plain text with each phone number as a tel: link; the text itself is unchanged.
    var at = 0;
    var match;
    PHONE_RE.lastIndex = 0;
    while ((match = PHONE_RE.exec(text)) !== null) {
      var number = match[1];
      var digits = number.replace(/ /g, "").length;
      var start = match.index + match[0].length - number.length;
      if (number.charAt(0) === "0" && (digits < 8 || digits > 11)) { continue; }
      if (start > at) { parent.appendChild(document.createTextNode(text.slice(at, start))); }
      parent.appendChild(phoneLink(number));
      at = start + number.length;
    }
    if (at < text.length) { parent.appendChild(document.createTextNode(text.slice(at))); }
  }

  function appendText(parent, text) {
    // Plain text; web addresses (https only) and phone numbers become links. Nothing is ever
    // parsed as HTML.
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
      appendPhones(parent, part);
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

  var EMERGENCY_PAYLOAD = "/emergency";

  function renderQuickReplies() {
    while (quickReplies.firstChild) { quickReplies.removeChild(quickReplies.firstChild); }
    // "I'm in danger now" comes first and looks different from the topic buttons.
    var replies = state.quick.filter(function (r) { return r.payload === EMERGENCY_PAYLOAD; })
      .concat(state.quick.filter(function (r) { return r.payload !== EMERGENCY_PAYLOAD; }));
    replies.forEach(function (reply) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = reply.payload === EMERGENCY_PAYLOAD ? "button button--danger quick-reply"
        : "button button--secondary quick-reply";
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

  function scrollBehavior() { return reducedMotion ? "auto" : "smooth"; }

  function scrollToLatest(element) {
    if (!element || !element.scrollIntoView) { return; }
    element.scrollIntoView({ block: "nearest", behavior: scrollBehavior() });
  }

  // How far down the sticky exit bar (with its "Call 999") reaches.
  function stickyBottom() {
    var bar = document.querySelector(".exit-bar");
    return bar ? Math.max(0, bar.getBoundingClientRect().bottom) : 0;
  }

  function scrollToTop(element) {
    // Put the top of `element` just under the sticky bar.
    var top = element.getBoundingClientRect().top + window.pageYOffset - stickyBottom() - 8;
    window.scrollTo({ top: Math.max(0, top), behavior: "auto" });
  }

  function showTurn(first, last, emergencyFirst) {
    // An emergency reply is read from its start: its first message ("call 999") stays in view.
    // Any other turn shows its end (the buttons), but never scrolls its first message off the top.
    if (emergencyFirst) { scrollToTop(emergencyFirst); return; }
    if (!last) { return; }
    if (last.scrollIntoView) { last.scrollIntoView({ block: "nearest", behavior: "auto" }); }
    if (first && first.getBoundingClientRect().top < stickyBottom()) { scrollToTop(first); }
  }

  function showResumed() {
    // After a reload the earlier messages are not shown: they were never stored on this device.
    var note = document.createElement("p");
    note.className = "resumed-note";
    note.textContent = "Your earlier messages are not shown here, to keep them private. You can carry on where you left off.";
    log.appendChild(note);
    state.quick = [{ title: "I'm in danger now", payload: EMERGENCY_PAYLOAD }, { title: "Show me the topics", payload: "/menu" }];
    renderQuickReplies();
  }

  function renderAll() {
    while (log.firstChild) { log.removeChild(log.firstChild); }
    state.messages.forEach(renderMessage);
    if (state.resumed) { showResumed(); } else { renderQuickReplies(); }
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
    var first = null;
    var last = null;
    var emergencyFirst = null;
    var quick = [];
    var escalationPending = false;
    function markEmergency(element) {
      emergencyFirst = element;
      element.className += " message--emergency";
    }
    (Array.isArray(replies) ? replies : []).forEach(function (reply) {
      if (!reply || typeof reply !== "object") { return; }
      // Rasa's REST channel sends a response's custom payload as its own item, right after the
      // response's text: the escalation marks the text before it (or, failing that, the next).
      var escalation = reply.custom && reply.custom.escalation === "emergency";
      if (escalation) {
        state.emergency = true;
        showEmergency(true);
        if (!emergencyFirst) {
          if (last && !(typeof reply.text === "string" && reply.text.trim())) { markEmergency(last); }
          else { escalationPending = true; }
        }
      }
      if (typeof reply.text === "string" && reply.text.trim()) {
        var message = { from: "bot", text: reply.text };
        state.messages.push(message);
        last = renderMessage(message);
        first = first || last;
        if (escalationPending && !emergencyFirst) { markEmergency(last); escalationPending = false; }
      }
      var buttons = cleanButtons(reply.buttons);
      if (buttons.length) { quick = buttons; }
    });
    state.quick = quick;
    renderQuickReplies();
    save();
    showTurn(first, quick.length ? quickReplies : last, emergencyFirst);
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
