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

  var launcher, panel, frame, closeButton;

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

  window.addEventListener("message", function (event) {
    // Only the chat frame we opened may ask for the quick exit.
    if (event.origin !== origin || !frame || event.source !== frame.contentWindow) { return; }
    var data = event.data;
    if (!data || data.type !== "quick-exit" || typeof data.url !== "string" || !/^https?:\/\//.test(data.url)) { return; }
    cover();
    window.location.replace(data.url);
  });

  if (document.body) { build(); } else { document.addEventListener("DOMContentLoaded", build); }
})();
