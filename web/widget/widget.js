// The Despatch widget: a page of its own (served at /widget) that asks /api/ask and renders the
// answer with DOM methods only (textContent), so nothing from a question, a document or an
// answer ever becomes markup. Configured by URL parameters (see docs/embedding.md).
(function () {
  "use strict";
  var params = new URLSearchParams(window.location.search);
  var $ = function (id) { return document.getElementById(id); };

  function list(name) {
    var out = [];
    params.getAll(name).forEach(function (v) {
      v.split(",").forEach(function (x) { x = x.trim(); if (x && out.indexOf(x) < 0) out.push(x); });
    });
    return out;
  }
  function date(name) {
    var v = params.get(name) || "";
    return /^\d{4}-\d{2}-\d{2}$/.test(v) ? v : null;
  }
  function short(text, n) { text = String(text || ""); return text.length > n ? text.slice(0, n - 1) + "…" : text; }
  function safeUrl(url) { return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null; }

  var scope = {
    doc_ids: list("doc").slice(0, 100),
    tags: list("tag").slice(0, 20),
    date_from: date("from"),
    date_to: date("to"),
    source: params.get("source") || null,
    speaker: params.get("speaker") || null,
    party: params.get("party") || null
  };
  if (scope.date_from && scope.date_to && scope.date_from > scope.date_to) {
    // A publisher's reversed range would make every question a 422: take it the right way round.
    console.warn("despatch: data-from " + scope.date_from + " is after data-to " + scope.date_to + "; swapped");
    var later = scope.date_from; scope.date_from = scope.date_to; scope.date_to = later;
  }
  var scoped = scope.doc_ids.length || scope.tags.length || scope.date_from || scope.date_to ||
    scope.source || scope.speaker || scope.party;
  var useScope = !!scoped;
  var history = [];
  var publication = short(params.get("pub") || "", 80);

  // Theming within the page's CSP: a colour from a strict pattern, set through the CSSOM.
  var accent = params.get("accent") || "";
  if (/^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/.test(accent)) {
    document.documentElement.style.setProperty("--dw-accent", accent);
  }
  var title = params.get("title") || (scope.doc_ids.length ? "Ask about this story"
    : publication ? "Ask " + publication : "Ask about the coverage");
  $("dw-title").textContent = short(title, 80);
  document.title = short(title, 80);

  if (params.get("mode") === "launcher") {
    var close = $("dw-close");
    close.hidden = false;
    close.addEventListener("click", function () {
      window.parent.postMessage({ type: "despatch:close" }, "*");
    });
    document.addEventListener("keydown", function (e) {
      if (e.key === "Escape") window.parent.postMessage({ type: "despatch:close" }, "*");
    });
    // The host page's focus guards (embed.js) ask for the first or the last control.
    window.addEventListener("message", function (e) {
      if (e.source !== window.parent || !e.data || e.data.type !== "despatch:focus") return;
      var controls = Array.prototype.filter.call(
        document.querySelectorAll("a[href], button, input, textarea, select, [tabindex]"),
        function (c) { return !c.disabled && c.tabIndex >= 0 && c.offsetParent !== null; });
      var target = e.data.where === "last" ? controls[controls.length - 1] : controls[0];
      if (target) target.focus();
    });
  }

  function describeScope() {
    if (scope.doc_ids.length === 1) return "this story";
    if (scope.doc_ids.length) return scope.doc_ids.length + " stories";
    var parts = [];
    if (scope.tags.length) parts.push("stories tagged " + scope.tags.join(", "));
    if (scope.speaker) parts.push("speeches by " + scope.speaker);
    if (scope.party) parts.push("speeches by " + scope.party + " members");
    if (scope.source) parts.push(scope.source);
    if (scope.date_from) parts.push("from " + scope.date_from);
    if (scope.date_to) parts.push("up to " + scope.date_to);
    return parts.join(", ");
  }
  function showScope() {
    if (!scoped) return;
    $("dw-scope").hidden = false;
    $("dw-scope-text").textContent = useScope
      ? "Answers come only from " + describeScope() + "."
      : "Answers come from all coverage.";
    $("dw-widen").textContent = useScope ? "Ask about all coverage" : "Only " + describeScope();
  }
  $("dw-widen").addEventListener("click", function () { useScope = !useScope; showScope(); });
  showScope();

  function coverage() {
    var q = scope.doc_ids.length ? "?doc=" + encodeURIComponent(scope.doc_ids.join(",")) : "";
    fetch("/api/coverage" + q).then(function (r) { return r.ok ? r.json() : null; }).then(function (c) {
      if (!c) return;
      var box = $("dw-coverage");
      box.textContent = "";
      var names = (c.scoped && c.scoped.length ? c.scoped : c.titles || []).slice(0, 3);
      box.appendChild(document.createTextNode(
        c.scoped && c.scoped.length ? "Story: " : "Answers come from " + c.documents + " indexed document(s)" +
        (names.length ? ", including " : ".")));
      names.forEach(function (d, i) {
        if (i) box.appendChild(document.createTextNode(", "));
        box.appendChild(sourceTitle(d.title, d.url));
      });
      if (c.documents > names.length && !(c.scoped && c.scoped.length)) {
        box.appendChild(document.createTextNode(" and others."));
      }
    }).catch(function () {});
  }

  function sourceTitle(text, url) {
    var href = safeUrl(url);
    var node = document.createElement(href ? "a" : "span");
    // <bdi>: a title's own direction marks (a right-to-left override, say) stay inside it.
    var bdi = document.createElement("bdi");
    bdi.textContent = short(text || "Untitled", 120);
    node.appendChild(bdi);
    if (href) { node.href = href; node.target = "_blank"; node.rel = "noopener"; }
    return node;
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }

  // "Sentence one. [1] Sentence two. [2][3]" -> text nodes and links to the numbered sources.
  function answerText(parent, text, turn) {
    var re = /\[(\d+)\]/g, last = 0, m;
    while ((m = re.exec(text)) !== null) {
      parent.appendChild(document.createTextNode(text.slice(last, m.index)));
      var a = el("a", "dw-marker", "[" + m[1] + "]");
      a.href = "#dw-src-" + turn + "-" + m[1];
      a.setAttribute("aria-label", "source " + m[1]);
      parent.appendChild(a);
      last = re.lastIndex;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function render(item, answer, turn) {
    var body = el("div", "dw-a");
    if (answer.refused) body.appendChild(el("p", "dw-refused", "Not in the indexed coverage."));
    if (answer.short_answer && !answer.refused) {
      body.appendChild(el("strong", "dw-short", answer.short_answer.text));
    }
    var p = el("p", "dw-text");
    answerText(p, answer.answer || "", turn);
    body.appendChild(p);
    var cites = answer.refused ? (answer.related || []) : (answer.citations || []);
    if (cites.length) {
      body.appendChild(el("p", "dw-meta", answer.refused ? "Related passages (they do not answer it):" : "Sources:"));
      var ol = el("ol", "dw-sources");
      cites.forEach(function (c) {
        var li = el("li");
        li.id = "dw-src-" + turn + "-" + c.n;
        li.value = c.n;
        li.appendChild(sourceTitle(c.title, c.url));
        var meta = [c.date, c.byline, c.speaker].filter(Boolean).join(" · ");
        if (meta) li.appendChild(el("span", "dw-meta", " · " + meta));
        li.appendChild(el("blockquote", "dw-quote", "“" + c.quote + "”"));
        ol.appendChild(li);
      });
      body.appendChild(ol);
    }
    item.appendChild(body);
  }

  var busy = false;
  $("dw-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var box = $("dw-q");
    var question = box.value.trim();
    if (!question || busy) return;
    busy = true;
    $("dw-send").disabled = true;
    $("dw-status").textContent = "Looking through the coverage…";
    var turn = $("dw-log").children.length + 1;
    var item = el("li", "dw-turn");
    item.appendChild(el("p", "dw-q", question));
    $("dw-log").appendChild(item);
    var payload = { question: question, history: history.slice(-10) };
    if (useScope && scoped) {
      var s = {};
      Object.keys(scope).forEach(function (k) {
        var v = scope[k];
        if (v && (!Array.isArray(v) || v.length)) s[k] = v;
      });
      payload.scope = s;
    }
    fetch("/api/ask", {
      method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload)
    }).then(function (r) {
      return r.json().then(function (data) { return { ok: r.ok, data: data }; });
    }).then(function (res) {
      if (!res.ok) {
        var d = res.data && res.data.detail;
        // FastAPI's validation errors are a list; show the first one's message.
        var msg = typeof d === "string" ? d : Array.isArray(d) && d[0] && typeof d[0].msg === "string" ? d[0].msg : "";
        item.appendChild(el("p", "dw-refused", msg || "That question could not be taken."));
        return;
      }
      // The answer goes along with its question: "she" after a "who" question is who it named.
      history.push({ question: question, answer: (res.data.answer || "").slice(0, 4000),
        refused: res.data.refused, short_answer: res.data.short_answer });
      render(item, res.data, turn);
      box.value = "";
    }).catch(function () {
      item.appendChild(el("p", "dw-refused", "The assistant could not be reached. Please try again."));
    }).then(function () {
      busy = false;
      $("dw-send").disabled = false;
      $("dw-status").textContent = "";
      item.scrollIntoView({ block: "nearest" });
    });
  });
  $("dw-q").addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); $("dw-form").requestSubmit(); }
  });
  coverage();
})();
