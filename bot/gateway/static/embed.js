/*
 * Embed the web chat in a council's own page with one tag:
 *
 *   <script src="https://chat.example.gov.uk/embed.js" defer></script>
 *
 * Optional attributes on that tag: data-label="Chat with us" (the launcher's text).
 * It adds a launcher button; the chat opens in a panel holding an iframe of /embed from the same
 * origin as this script. The framing origin must be listed in the organisation profile
 * (web_chat.frame_ancestors). The quick exit inside the chat replaces this whole page with the
 * neutral destination. Nothing here reads or stores anything, and styles are set through the DOM so
 * a strict CSP on the council's page does not have to allow inline styles.
 *
 * The chat must never fail silently. When it cannot be framed here (this page's origin is not in
 * web_chat.frame_ancestors, the chat server is down, or the frame does not answer in time), the
 * panel shows 999, the National Domestic Abuse Helpline and a link that opens the chat in a new tab,
 * and the console says which profile key to set. The exit goes to the configured exit site even
 * when the frame never loaded: the gateway writes the profile's values into CONFIG when it serves
 * this file.
 */
(function () {
  "use strict";

  var CONFIG = /*CONFIG*/null;
  var LOAD_TIMEOUT_MS = 10000;   // no word from the chat frame by then: show the fallback

  var script = document.currentScript;
  if (!script || !script.src) { return; }
  var origin = new URL(script.src, document.baseURI).origin;
  var label = script.getAttribute("data-label") || "Chat with us";
  var config = CONFIG || {};

  var launcher, panel, frame, closeButton, status, fallback;
  var exitUrl = config.exitUrl || null;   // confirmed by the chat frame ("quick-exit-url")
  var frameReady = false;
  var loadTimer = null;
  var exiting = false;
  var presses = 0;
  var pressTimer = null;
  var lastKeyWasModified = false;

  function css(element, styles) {
    for (var name in styles) {
      if (Object.prototype.hasOwnProperty.call(styles, name)) { element.style[name] = styles[name]; }
    }
  }

  function build() {
    launcher = document.createElement("button");
    launcher.type = "button";
    launcher.textContent = label;
    launcher.setAttribute("aria-expanded", "false");
    css(launcher, {
      position: "fixed", right: "1rem", bottom: "1rem", zIndex: "2147483000",
      minHeight: "2.75rem", padding: ".5rem 1.25rem", font: "700 1.1875rem/1.5 system-ui, Arial, sans-serif",
      color: "#ffffff", background: "#1d4f91", border: "3px solid #1d4f91", borderRadius: "0",
      boxShadow: "0 2px 0 #0b0c0c", cursor: "pointer"
    });
    launcher.addEventListener("focus", function () { css(launcher, { outline: "3px solid #ffdd00", outlineOffset: "0" }); });
    launcher.addEventListener("blur", function () { css(launcher, { outline: "none" }); });
    launcher.addEventListener("click", toggle);

    panel = document.createElement("div");
    panel.setAttribute("role", "region");
    panel.setAttribute("aria-label", label);
    panel.hidden = true;
    css(panel, {
      position: "fixed", right: "1rem", bottom: "4.5rem", zIndex: "2147483000",
      width: "min(26rem, calc(100vw - 2rem))", height: "min(40rem, calc(100vh - 6rem))",
      display: "none", flexDirection: "column", background: "#ffffff",
      border: "2px solid #0b0c0c", boxShadow: "0 4px 16px rgba(0,0,0,.3)"
    });

    closeButton = document.createElement("button");
    closeButton.type = "button";
    closeButton.textContent = "Close chat";
    css(closeButton, {
      alignSelf: "flex-end", margin: ".25rem", minHeight: "2.75rem", padding: ".25rem .75rem",
      font: "600 1rem/1.5 system-ui, Arial, sans-serif", color: "#0b0c0c", background: "#f3f2f1",
      border: "2px solid #0b0c0c", cursor: "pointer"
    });
    closeButton.addEventListener("click", function () { toggle(); launcher.focus(); });

    panel.appendChild(closeButton);
    status = document.createElement("p");
    status.setAttribute("role", "status");
    css(status, { position: "absolute", width: "1px", height: "1px", margin: "0", padding: "0", overflow: "hidden",
      clip: "rect(0 0 0 0)", clipPath: "inset(50%)", border: "0", whiteSpace: "nowrap" });
    panel.appendChild(status);
    document.body.appendChild(panel);
    document.body.appendChild(launcher);
  }

  // Does web_chat.frame_ancestors allow this page's origin? (CSP host-source: exact, or *.host)
  function allowedHere() {
    var here = window.location.origin;
    var list = Array.isArray(config.frameAncestors) ? config.frameAncestors : [];
    return list.some(function (entry) {
      try {
        var wildcard = /^https:\/\/\*\./.test(entry);
        var parsed = new URL(wildcard ? entry.replace("*.", "x.") : entry);
        if (!wildcard) { return parsed.origin === here; }
        var host = parsed.host.slice(2);
        var mine = new URL(here);
        return mine.protocol === "https:" && mine.host.slice(-host.length - 1) === "." + host;
      } catch (e) { return false; }
    });
  }

  function text(tag, content, styles) {
    var element = document.createElement(tag);
    element.textContent = content;
    css(element, styles || { margin: "0 0 .75rem" });
    return element;
  }

  function telLink(number, tel) {
    var link = document.createElement("a");
    link.href = "tel:" + tel;
    link.textContent = number;
    css(link, { color: "#1d4f91", fontWeight: "700", whiteSpace: "nowrap" });
    return link;
  }

  function showFallback(reason) {
    if (fallback) { return; }
    if (loadTimer) { clearTimeout(loadTimer); loadTimer = null; }
    if (frame) { frame.parentNode.removeChild(frame); frame = null; }
    console.error("Chat embed: " + reason);
    fallback = document.createElement("div");
    css(fallback, { flex: "1 1 auto", overflow: "auto", padding: "0 1rem 1rem",
      font: "400 1.1875rem/1.5 system-ui, Arial, sans-serif", color: "#0b0c0c" });
    var exit = document.createElement("a");
    exit.href = exitUrl || "about:blank";
    exit.textContent = "Exit this page";
    exit.setAttribute("role", "button");
    exit.rel = "nofollow noreferrer";
    css(exit, { display: "inline-block", margin: "0 0 1rem", padding: ".5rem 1rem", fontWeight: "700",
      color: "#ffffff", background: "#b3261e", textDecoration: "none" });
    exit.addEventListener("click", function (event) { event.preventDefault(); leave(); });
    fallback.appendChild(exit);
    fallback.appendChild(text("p", "The chat can't open here at the moment.", { margin: "0 0 .75rem", fontWeight: "700" }));
    var danger = text("p", "In danger now? Call ");
    danger.appendChild(telLink(config.emergency || "999", config.emergency || "999"));
    danger.appendChild(document.createTextNode(". Can't speak? On a mobile, call 999, listen, then press 55 when asked."));
    fallback.appendChild(danger);
    if (config.helpline) {
      var helpline = text("p", "The " + (config.helplineName || "National Domestic Abuse Helpline") + " is free and open 24 hours: ");
      helpline.appendChild(telLink(config.helpline, config.helplineTel || config.helpline.replace(/ /g, "")));
      helpline.appendChild(document.createTextNode("."));
      fallback.appendChild(helpline);
    }
    var open = document.createElement("a");
    open.href = origin + "/";
    open.target = "_blank";
    open.rel = "noopener noreferrer";
    open.textContent = "Open the chat in a new tab";
    css(open, { color: "#1d4f91", fontWeight: "700" });
    var p = text("p", "");
    p.appendChild(open);
    fallback.appendChild(p);
    panel.appendChild(fallback);
  }

  function openFrame() {
    if (!allowedHere()) {
      showFallback("this page's origin (" + window.location.origin + ") is not allowed to show the chat. " +
        "Add it to web_chat.frame_ancestors in the organisation profile.");
      return;
    }
    frame = document.createElement("iframe");
    frame.src = origin + "/embed";
    frame.title = label;
    frame.setAttribute("referrerpolicy", "no-referrer");
    frame.setAttribute("allow", "");
    css(frame, { flex: "1 1 auto", width: "100%", border: "0" });
    panel.appendChild(frame);
    loadTimer = setTimeout(function () {
      if (!frameReady) {
        showFallback("the chat at " + origin + " did not load in time. Check that the chat server is " +
          "running and that web_chat.frame_ancestors in the organisation profile lists " + window.location.origin + ".");
      }
    }, LOAD_TIMEOUT_MS);
  }

  function toggle() {
    var open = panel.hidden;
    if (open && !frame && !fallback) { openFrame(); }
    panel.hidden = !open;
    css(panel, { display: open ? "flex" : "none" });
    launcher.setAttribute("aria-expanded", open ? "true" : "false");
    if (open && frame) { frame.focus(); }
  }

  function cover() {
    var blank = document.createElement("div");
    css(blank, { position: "fixed", top: "0", left: "0", right: "0", bottom: "0", zIndex: "2147483647", background: "#ffffff" });
    document.body.appendChild(blank);
  }

  var leaving = false;
  function leave(url) {
    if (leaving) { return; }      // one navigation only: a second would abort the first
    leaving = true;
    if (!exiting) { cover(); }
    exiting = true;
    window.location.replace(url || exitUrl || "about:blank");   // exitUrl: always in CONFIG
  }

  window.addEventListener("message", function (event) {
    // Only the chat frame we opened may talk to this page.
    if (event.origin !== origin || !frame || event.source !== frame.contentWindow) { return; }
    var data = event.data;
    if (!data || typeof data.url !== "string" || !/^https?:\/\//.test(data.url)) { return; }
    if (data.type === "quick-exit-url") {
      exitUrl = data.url;
      frameReady = true;
      if (loadTimer) { clearTimeout(loadTimer); loadTimer = null; }
      // Tell the chat that this page replaces itself on exit: one top-level navigation only.
      frame.contentWindow.postMessage({ type: "embed-host" }, origin);
    }
    if (data.type === "quick-exit") { leave(data.url); }
  });

  // Shift pressed 3 times while the chat is open and focus is on this page (inside the frame the
  // chat counts for itself): the chat forgets the conversation, then this page is replaced.
  function requestExit() {
    if (exiting) { return; }
    exiting = true;
    cover();
    if (!frame || !frameReady) { leave(); return; }   // nothing to forget: leave at once
    try { frame.contentWindow.postMessage({ type: "quick-exit-request" }, origin); } catch (e) { /* gone */ }
    setTimeout(leave, 400);   // the chat normally answers "quick-exit" at once
  }

  function resetPresses() {
    presses = 0;
    if (pressTimer) { clearTimeout(pressTimer); pressTimer = null; }
    if (status) { status.textContent = ""; }
  }

  document.addEventListener("keyup", function (event) {
    if (!panel || panel.hidden || (!frame && !fallback)) { lastKeyWasModified = event.shiftKey; return; }
    var isShift = event.key === "Shift" || event.keyCode === 16;
    if (isShift && !lastKeyWasModified) {
      presses += 1;
      if (pressTimer) { clearTimeout(pressTimer); }
      if (presses >= 3) { resetPresses(); requestExit(); return; }
      status.textContent = presses === 1 ? "Shift, press 2 more times to exit." : "Shift, press 1 more time to exit.";
      pressTimer = setTimeout(resetPresses, 5000);
    } else if (!isShift && presses > 0) {
      resetPresses();
    }
    lastKeyWasModified = event.shiftKey;
  }, true);

  if (document.body) { build(); } else { document.addEventListener("DOMContentLoaded", build); }
})();
