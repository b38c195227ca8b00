// The findings browser of report.html. It reads the findings from a JSON data block and only ever writes text
// (textContent), so no model output is ever parsed as HTML. The page's CSP admits this script alone, by its hash.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("findings-data").textContent);
  var PAGE = 25;
  var page = 0;
  var filters = { round: "", category: "", technique: "", language: "" };
  var body = document.getElementById("findings-body");
  var status = document.getElementById("findings-status");

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }

  function options(key) {
    var seen = {};
    data.forEach(function (f) { seen[String(f[key])] = true; });
    var values = Object.keys(seen).sort(function (a, b) {
      return key === "round" ? Number(a) - Number(b) : a.localeCompare(b);
    });
    var select = document.getElementById("filter-" + key);
    values.forEach(function (v) { var o = el("option", v); o.value = v; select.appendChild(o); });
    select.addEventListener("change", function () { filters[key] = select.value; page = 0; draw(); });
  }

  function matches(f) {
    return Object.keys(filters).every(function (k) { return !filters[k] || String(f[k]) === filters[k]; });
  }

  function transcriptRow(f, cols) {
    var tr = el("tr", null, "transcript");
    var td = el("td");
    td.colSpan = cols;
    if (!f.transcript) {
      td.appendChild(el("p", "Redacted: this report was written with --redact.", "muted"));
    } else {
      td.appendChild(el("p", "Content warning: the model's harmful output, shown because you asked.", "warn"));
      f.transcript.forEach(function (t) {
        var turn = el("div", null, "turn " + (t.role === "assistant" ? "assistant" : "user"));
        turn.appendChild(el("span", t.role, "role"));
        turn.appendChild(el("pre", t.content));
        td.appendChild(turn);
      });
    }
    tr.appendChild(td);
    return tr;
  }

  function draw() {
    var shown = data.filter(matches);
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(page, pages - 1);
    while (body.firstChild) body.removeChild(body.firstChild);
    shown.slice(page * PAGE, (page + 1) * PAGE).forEach(function (f) {
      var tr = el("tr", null, "finding");
      [f.round, f.category, f.technique, f.language, f.turns, f.severity].forEach(function (v) {
        tr.appendChild(el("td", v));
      });
      var td = el("td");
      var button = el("button", f.transcript ? "show transcript" : "redacted");
      button.type = "button";
      button.disabled = !f.transcript;
      var open = null;
      button.addEventListener("click", function () {
        if (open) { open.remove(); open = null; button.textContent = "show transcript"; return; }
        open = transcriptRow(f, 7);
        tr.after(open);
        button.textContent = "hide transcript";
      });
      td.appendChild(button);
      tr.appendChild(td);
      body.appendChild(tr);
    });
    status.textContent = shown.length === 0 ? "no findings match" :
      "findings " + (page * PAGE + 1) + "-" + Math.min(shown.length, (page + 1) * PAGE) + " of " + shown.length +
      (shown.length !== data.length ? " (filtered from " + data.length + ")" : "") +
      " \u00b7 page " + (page + 1) + " of " + pages;
    document.getElementById("findings-prev").disabled = page === 0;
    document.getElementById("findings-next").disabled = page >= pages - 1;
  }

  ["round", "category", "technique", "language"].forEach(options);
  document.getElementById("findings-prev").addEventListener("click", function () { page -= 1; draw(); });
  document.getElementById("findings-next").addEventListener("click", function () { page += 1; draw(); });
  draw();
  document.body.setAttribute("data-findings-ready", String(data.length));
})();
