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
 */
(function () {
  "use strict";

  var script = document.currentScript;
  if (!script || !script.src) { return; }
  var origin = new URL(script.src, document.baseURI).origin;
  var label = script.getAttribute("data-label") || "Chat with us";

  var launcher, panel, frame, closeButton, status;
  var exitUrl = null;       // told by the chat frame ("quick-exit-url")
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

  function toggle() {
    var open = panel.hidden;
    if (open && !frame) {
      frame = document.createElement("iframe");
      frame.src = origin + "/embed";
      frame.title = label;
      frame.setAttribute("referrerpolicy", "no-referrer");
      frame.setAttribute("allow", "");
      css(frame, { flex: "1 1 auto", width: "100%", border: "0" });
      panel.appendChild(frame);
    }
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
    window.location.replace(url || exitUrl || "about:blank");
  }

  window.addEventListener("message", function (event) {
    // Only the chat frame we opened may talk to this page.
    if (event.origin !== origin || !frame || event.source !== frame.contentWindow) { return; }
    var data = event.data;
    if (!data || typeof data.url !== "string" || !/^https?:\/\//.test(data.url)) { return; }
    if (data.type === "quick-exit-url") {
      exitUrl = data.url;
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
    try { frame.contentWindow.postMessage({ type: "quick-exit-request" }, origin); } catch (e) { /* gone */ }
    setTimeout(leave, 400);   // the chat normally answers "quick-exit" at once
  }

  function resetPresses() {
    presses = 0;
    if (pressTimer) { clearTimeout(pressTimer); pressTimer = null; }
    if (status) { status.textContent = ""; }
  }

  document.addEventListener("keyup", function (event) {
    if (!frame || !panel || panel.hidden) { lastKeyWasModified = event.shiftKey; return; }
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
