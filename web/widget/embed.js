// Put Despatch on a story page: <script src="https://DESPATCH/widget/embed.js" data-mode="inline|launcher"
// data-doc="STORY-ID" ...></script>. Inline: an iframe where the script stands (or in data-target).
// Launcher: a small button in the corner that opens the chat in a panel (full screen on phones,
// closable with its button or Escape); closed, nothing covers the story. Full screen, the panel is
// modal: keyboard focus that leaves it (Tab past its last control) is brought back into it, so
// it never lands on the hidden page behind. See docs/embedding.md.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script) return;
  var base = new URL(script.src).origin;
  var d = script.dataset;
  var mode = d.mode === "launcher" ? "launcher" : "inline";
  var q = new URLSearchParams();
  [["doc", d.doc], ["tag", d.tag], ["from", d.from], ["to", d.to], ["source", d.source],
   ["speaker", d.speaker], ["party", d.party], ["accent", d.accent], ["pub", d.publication],
   ["title", d.title]].forEach(function (p) { if (p[1]) q.set(p[0], p[1]); });
  q.set("mode", mode);
  var label = d.title || (d.doc ? "Ask about this story" : "Ask about the coverage");
  var accent = /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/.test(d.accent || "") ? d.accent : "#8a1c1c";

  function frame() {
    var f = document.createElement("iframe");
    f.src = base + "/widget/?" + q.toString();
    f.title = label;
    f.className = "despatch-frame";
    f.setAttribute("loading", "lazy");
    f.style.border = "0";
    f.style.width = "100%";
    f.style.display = "block";
    return f;
  }

  if (mode === "inline") {
    var f = frame();
    f.style.height = (parseInt(d.height, 10) || 560) + "px";
    f.style.border = "1px solid #ddd";
    f.style.borderRadius = "6px";
    var target = d.target ? document.querySelector(d.target) : null;
    if (target) target.appendChild(f); else script.parentNode.insertBefore(f, script.nextSibling);
    return;
  }

  var button = document.createElement("button");
  button.type = "button";
  button.className = "despatch-launcher";
  button.textContent = "Ask";
  button.setAttribute("aria-label", label);
  button.setAttribute("aria-expanded", "false");
  var bs = button.style;
  bs.position = "fixed"; bs.right = "16px"; bs.bottom = "16px"; bs.zIndex = "2147483000";
  bs.minWidth = "56px"; bs.minHeight = "44px"; bs.padding = "0 16px"; bs.borderRadius = "22px";
  bs.border = "0"; bs.background = accent; bs.color = "#fff"; bs.cursor = "pointer";
  bs.font = "600 15px system-ui, sans-serif"; bs.boxShadow = "0 2px 8px rgba(0,0,0,.3)";

  var panel = null;
  function isOpen() { return !!panel && panel.style.display === "block"; }
  function isModal() { return isOpen() && panel.getAttribute("aria-modal") === "true"; }
  function place() {
    if (!panel) return;
    var s = panel.style;
    var phone = window.innerWidth < 600;
    if (phone) {  // the whole screen, with its own close button: a modal dialog
      s.left = "0"; s.top = "0"; s.right = "0"; s.bottom = "0"; s.width = "100%"; s.height = "100%";
      s.borderRadius = "0";
      panel.setAttribute("aria-modal", "true");
    } else {  // a panel beside the story, above the launcher
      panel.removeAttribute("aria-modal");
      s.left = "auto"; s.top = "auto"; s.right = "16px"; s.bottom = "72px"; s.width = "380px";
      s.height = "min(600px, calc(100vh - 96px))"; s.borderRadius = "8px";
    }
    var guards = panel.querySelectorAll(".despatch-focus-guard");  // tab stops only when modal
    for (var i = 0; i < guards.length; i++) guards[i].tabIndex = phone ? 0 : -1;
    // Full screen, the launcher would sit under the panel; beside the story it stays, to close
    // it. A resize can move between the two while the panel is open.
    if (isOpen()) button.style.display = phone ? "none" : "block";
  }
  // A guard sends focus back into the frame, to the control at the end the reader wrapped to:
  // the first after Tab past the last, the last after Shift+Tab before the first.
  function guard(where) {
    var g = document.createElement("span");
    g.className = "despatch-focus-guard";
    g.tabIndex = -1;
    g.style.position = "absolute"; g.style.top = "0"; g.style.left = "0";  // never scrolls the panel
    g.style.width = "1px"; g.style.height = "1px"; g.style.overflow = "hidden";
    g.style.opacity = "0"; g.style.pointerEvents = "none";
    g.addEventListener("focus", function () {
      if (!isModal()) return;
      var f = panel.querySelector("iframe");
      f.focus({ preventScroll: true });
      f.contentWindow.postMessage({ type: "despatch:focus", where: where }, base);
    });
    return g;
  }
  function open() {
    if (!panel) {
      panel = document.createElement("div");
      panel.className = "despatch-panel";
      panel.setAttribute("role", "dialog");
      panel.setAttribute("aria-label", label);
      var s = panel.style;
      s.position = "fixed"; s.zIndex = "2147483001"; s.background = "#fff"; s.overflow = "hidden";
      s.boxShadow = "0 4px 24px rgba(0,0,0,.35)";
      var f = frame();
      f.style.height = "100%";
      // Focus guards around the frame: Tab past the frame's last control (or Shift+Tab before
      // its first) lands on a guard inside the panel, which sends focus back to the frame.
      panel.appendChild(guard("last"));
      panel.appendChild(f);
      panel.appendChild(guard("first"));
      document.body.appendChild(panel);
      window.addEventListener("resize", place);
    }
    panel.style.display = "block";
    place();
    button.setAttribute("aria-expanded", "true");
    panel.querySelector("iframe").focus();
  }
  function close() {
    if (!isOpen()) return;
    panel.style.display = "none";
    button.style.display = "block";
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }
  button.addEventListener("click", function () {
    if (isOpen()) close(); else open();
  });
  window.addEventListener("message", function (e) {
    if (e.origin === base && e.data && e.data.type === "despatch:close") close();
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape") close(); });
  // The focus trap: while the panel covers the page, focus on anything outside it goes back in.
  document.addEventListener("focusin", function (e) {
    if (isModal() && !panel.contains(e.target)) panel.querySelector("iframe").focus({ preventScroll: true });
  });
  document.body.appendChild(button);
})();
