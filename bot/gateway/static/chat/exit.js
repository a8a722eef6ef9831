/*
 * Quick exit, after the GOV.UK Design System "Exit this page" component, plus one step of ours:
 * the server forgets the conversation.
 *
 * Activated by the red button or by pressing Shift 3 times (the count resets after 5 seconds or on
 * any other key). At once, in this order:
 *   1. a blank overlay hides everything;
 *   2. navigator.sendBeacon asks /api/forget to delete the Rasa tracker for this sender;
 *   3. the tab's storage is cleared;
 *   4. location.replace() opens the neutral destination, so this page is not left as the current
 *      history entry. Inside the embed, the council's page is replaced instead.
 * If the browser brings a page back from the back/forward cache after an exit, it is reloaded
 * before anything shows (see "pageshow").
 */
(function () {
  "use strict";

  var STORE_KEY = "chat";
  var FORGET_URL = "/api/forget";
  var PRESSES = 3;
  var TIMEOUT_MS = 5000;
  var MESSAGES = {
    2: "Shift, press 2 more times to exit.",
    1: "Shift, press 1 more time to exit.",
    expired: "Exit this page expired.",
    activated: "Loading."
  };

  var body = document.body;
  var exitUrl = body.getAttribute("data-exit-url");
  var embedded = body.getAttribute("data-embed") === "true";
  var button = document.getElementById("exit-button");
  var indicator = document.getElementById("exit-indicator");
  var status = document.getElementById("exit-status");
  var overlay = document.getElementById("exit-overlay");

  var count = 0;
  var timer = null;
  var clearStatusTimer = null;
  var lastKeyWasModified = false;
  var exiting = false;
  var hostLeaves = false;   // embed.js on the framing page said it will navigate itself

  // chat.js registers a function returning the current sender; other pages read the tab's storage.
  var api = (window.SafeExit = window.SafeExit || {});

  function storedSender() {
    try {
      var state = JSON.parse(window.sessionStorage.getItem(STORE_KEY) || "null");
      return state && typeof state.sender === "string" ? state.sender : null;
    } catch (e) {
      return null;
    }
  }

  function currentSender() {
    var sender = null;
    if (typeof api.sender === "function") {
      try { sender = api.sender(); } catch (e) { sender = null; }
    }
    return sender || storedSender();
  }

  function forget(sender) {
    if (!sender) { return; }
    var payload = JSON.stringify({ sender: sender });
    var sent = false;
    try {
      if (navigator.sendBeacon) {
        // text/plain keeps it a "simple" request; the gateway reads the JSON body either way.
        sent = navigator.sendBeacon(FORGET_URL, new Blob([payload], { type: "text/plain;charset=UTF-8" }));
      }
    } catch (e) { sent = false; }
    if (!sent && window.fetch) {
      try {
        window.fetch(FORGET_URL, {
          method: "POST", body: payload, keepalive: true, credentials: "omit",
          cache: "no-store", referrerPolicy: "no-referrer", headers: { "Content-Type": "text/plain" }
        }).catch(function () {});
      } catch (e) { /* nothing more we can do without delaying the exit */ }
    }
  }

  function showOverlay() {
    overlay.hidden = false;
    document.documentElement.className += " is-exiting";
  }

  function go(parentLeaves) {
    if (embedded) {
      try { window.parent.postMessage({ type: "quick-exit", url: exitUrl }, "*"); } catch (e) { /* no parent */ }
      if (parentLeaves || hostLeaves) { return; }    // the council page (embed.js) navigates itself
      try {
        window.top.location.replace(exitUrl);
        return;
      } catch (e) { /* top navigation refused: at least leave the chat */ }
    }
    window.location.replace(exitUrl);
  }

  function exitPage(event, parentLeaves) {
    if (event && event.preventDefault) { event.preventDefault(); }
    if (exiting) { return; }
    exiting = true;
    showOverlay();                                   // 1. hide everything
    var sender = currentSender();
    try {                                            // let the chat drop its in-memory conversation
      document.dispatchEvent(new CustomEvent("safeexit:exit"));
    } catch (e) { /* the exit goes on regardless */ }
    forget(sender);                                  // 2. server forgets
    try { window.sessionStorage.clear(); } catch (e) { /* storage disabled */ }   // 3.
    status.textContent = MESSAGES.activated;
    go(parentLeaves === true);                       // 4. leave, replacing this history entry
  }

  function updateIndicator() {
    if (!indicator) { return; }
    indicator.hidden = count === 0;
    var lights = indicator.children;
    for (var i = 0; i < lights.length; i++) {
      lights[i].className = i < count ? "is-on" : "";
    }
  }

  function announce(text) {
    if (clearStatusTimer) { clearTimeout(clearStatusTimer); clearStatusTimer = null; }
    status.textContent = text;
  }

  function resetCount(expired) {
    if (timer) { clearTimeout(timer); timer = null; }
    count = 0;
    updateIndicator();
    if (expired) {
      announce(MESSAGES.expired);
      clearStatusTimer = setTimeout(function () { status.textContent = ""; }, 1500);
    } else {
      status.textContent = "";
    }
  }

  function onKeyup(event) {
    var isShift = event.key === "Shift" || event.keyCode === 16;
    if (isShift && !lastKeyWasModified) {
      count += 1;
      updateIndicator();
      if (timer) { clearTimeout(timer); timer = null; }
      if (count >= PRESSES) {
        count = 0;
        updateIndicator();
        exitPage(event);
        return;
      }
      announce(MESSAGES[PRESSES - count]);
      timer = setTimeout(function () { resetCount(true); }, TIMEOUT_MS);
    } else if (!isShift && count > 0) {
      resetCount(false);                             // any other key starts the count again
    }
    // A Shift released after Shift+letter (a capital) or Shift+Tab is not a press: the other key's
    // keyup arrives with shiftKey set, and the Shift keyup that follows is skipped.
    lastKeyWasModified = event.shiftKey;
  }

  button.addEventListener("click", exitPage);
  button.addEventListener("keydown", function (event) {
    // role="button" on a link: Space activates it too.
    if (event.key === " " || event.key === "Spacebar") { exitPage(event); }
  });
  document.addEventListener("keyup", onKeyup, true);

  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) { return; }
    // Restored from the back/forward cache: never show a conversation that was exited or whose
    // storage was cleared by an exit elsewhere in this tab.
    var stale = exiting || (typeof api.isStale === "function" && api.isStale());
    if (stale) {
      showOverlay();
      window.location.reload();
    }
  });

  if (embedded && window.parent !== window) {
    // The council's page (embed.js) learns where the exit goes, and may ask for the exit when Shift
    // is pressed 3 times while focus is on its own page. Only the page framing us can ask, and only
    // origins listed in web_chat.frame_ancestors can frame us.
    try { window.parent.postMessage({ type: "quick-exit-url", url: exitUrl }, "*"); } catch (e) { /* none */ }
    window.addEventListener("message", function (event) {
      if (event.source !== window.parent || !event.data) { return; }
      if (event.data.type === "embed-host") { hostLeaves = true; }
      if (event.data.type === "quick-exit-request") { exitPage(null, true); }
    });
  }

  api.exit = exitPage;
})();
