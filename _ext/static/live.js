/* Live pages: run a chapter's cells on the kernel that `make serve` starts.
 *
 * `make serve` prints one URL whose fragment carries the local Jupyter
 * server's port and token (#live=PORT&token=TOKEN). The fragment never
 * reaches a server; this script keeps it in the browser's storage for the
 * book's own origin and removes it from the address bar.
 *
 * On a chapter page (one with a #live-cells block, written by
 * _ext/live_pages.py) a control appears at the top. Without a server, opened
 * from disk or a static host, it says how to go live and nothing else runs.
 * With one, a click loads thebe (served by the book itself), starts a kernel,
 * turns the code cells into editors that run in place, and runs the chapter's
 * cells in order, except the worked solutions, so that every explorer and
 * exercise widget on the page responds.
 */
(function () {
  "use strict";

  var KEY = "conv1x1-live";
  var FRAGMENT = /(?:^#|&)live=(\d+)&token=([A-Za-z0-9_-]+)/;
  var HOW_TO_GO_LIVE =
    "This page shows the results saved when the book was built. To run its " +
    "code and use its widgets here, start the book from the course's folder " +
    "with <code>make serve</code> and open the address it prints.";

  function takeFragment() {
    var match = FRAGMENT.exec(window.location.hash);
    if (!match) return;
    try {
      window.localStorage.setItem(KEY, JSON.stringify({ port: match[1], token: match[2] }));
    } catch (err) { /* storage refused: the page stays static */ }
    window.history.replaceState(null, "", window.location.pathname + window.location.search);
  }

  function settings() {
    if (window.location.protocol !== "http:" && window.location.protocol !== "https:") return null;
    try {
      var saved = JSON.parse(window.localStorage.getItem(KEY) || "null");
      return saved && /^\d+$/.test(saved.port) ? saved : null;
    } catch (err) {
      return null;
    }
  }

  function contentRoot() {
    var root = document.documentElement.dataset.content_root;
    if (root === undefined && window.DOCUMENTATION_OPTIONS) root = DOCUMENTATION_OPTIONS.URL_ROOT;
    return root || "./";
  }

  function load(tag, attributes) {
    return new Promise(function (resolve, reject) {
      var element = document.createElement(tag);
      Object.keys(attributes).forEach(function (k) { element.setAttribute(k, attributes[k]); });
      element.onload = resolve;
      element.onerror = function () { reject(new Error("could not load " + (attributes.src || attributes.href))); };
      document.head.appendChild(element);
    });
  }

  function makeControl() {
    var bar = document.createElement("div");
    bar.className = "live-bar";
    bar.setAttribute("role", "region");
    bar.setAttribute("aria-label", "Run this page");
    var button = document.createElement("button");
    button.type = "button";
    button.className = "live-button";
    button.textContent = "Make this page live";
    var status = document.createElement("span");
    status.className = "live-status";
    status.setAttribute("aria-live", "polite");
    status.innerHTML = settings()
      ? "Runs this chapter on your own kernel; the explorers and exercises then respond."
      : "The explorers and exercises respond on a live page.";
    bar.appendChild(button);
    bar.appendChild(status);
    // Under the chapter's title, or at the top of the page.
    var title = document.querySelector("article h1");
    if (title) title.parentNode.insertBefore(bar, title.nextSibling);
    else {
      var article = document.querySelector("article") || document.querySelector("main") || document.body;
      article.insertBefore(bar, article.firstChild);
    }
    return {
      bar: bar,
      button: button,
      say: function (html, kind) {
        status.innerHTML = html;
        bar.dataset.state = kind || "";
      },
    };
  }

  /* Thebe turns an element into an editor (source) and renders outputs into
     another (output); each cell gets one of each, next to its static copy. */
  function placeholders(spec) {
    var holder = document.createElement("div");
    holder.className = "live-hidden";
    holder.id = "live-unshown-cells";
    document.querySelector("article").appendChild(holder);
    spec.cells.forEach(function (cell) {
      var source = document.createElement("pre");
      source.className = "live-source";
      source.id = "live-source-" + cell.index;
      source.setAttribute("data-language", "python");
      source.textContent = cell.source;
      var output = document.createElement("div");
      output.className = "live-output";
      output.id = "live-output-" + cell.index;
      var box = document.querySelector(".live-cell-" + cell.index);
      cell.box = box;
      if (!box) {
        holder.appendChild(source);
        holder.appendChild(output);
        return;
      }
      var input = box.querySelector(".cell_input");
      if (input) input.parentNode.insertBefore(source, input.nextSibling);
      else box.insertBefore(source, box.firstChild);
      var saved = box.querySelector(".cell_output");
      if (saved) saved.parentNode.insertBefore(output, saved);
      else box.appendChild(output);
    });
  }

  function options(live, spec) {
    var base = "http://127.0.0.1:" + live.port;
    return {
      useBinder: false,
      useJupyterLite: false,
      requestKernel: true,
      selector: ".live-source",
      outputSelector: ".live-output",
      mountStatusWidget: false,
      mountActivateWidget: false,
      mountRunButton: true,
      mountRunAllButton: false,
      mountRestartButton: false,
      mountRestartAllButton: false,
      mathjaxUrl: "",              // the page's own MathJax typesets; nothing is fetched
      savedSessionOptions: { enabled: false },
      serverSettings: { baseUrl: base, wsUrl: "ws://127.0.0.1:" + live.port, token: live.token, appendToken: true },
      kernelOptions: { kernelName: "python3", path: spec.notebook },
      codeMirrorConfig: { lineNumbers: false },
    };
  }

  function shutdownOnLeave(live, session) {
    window.addEventListener("pagehide", function () {
      var kernel = session && session.kernel;
      if (!kernel) return;
      try {
        fetch("http://127.0.0.1:" + live.port + "/api/kernels/" + kernel.id, {
          method: "DELETE", keepalive: true, headers: { Authorization: "token " + live.token },
        }).catch(function () {});
      } catch (err) { /* the server culls kernels left idle */ }
    });
  }

  /* thebe's widget manager fetches require.js from a CDN before it builds any
     widget, even the built-in ones; offline that fetch fails and no widget
     ever appears. The book serves the same file (require.js 2.3.6, from npm):
     this answers that one request with it, and lets every other through. */
  var REQUIREJS_CDN = "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.6/require.min.js";

  function serveRequireJsLocally() {
    if (window.fetch.liveBook) return;
    var local = contentRoot() + "_static/_vendor/requirejs/require.js";
    var original = window.fetch.bind(window);
    var patched = function (input, init) {
      var url = typeof input === "string" ? input : input && input.url;
      return original(url === REQUIREJS_CDN ? local : input, init);
    };
    patched.liveBook = true;
    window.fetch = patched;
  }

  async function activate(spec, ui) {
    var live = settings();
    if (!live) {
      ui.say(HOW_TO_GO_LIVE, "static");
      return;
    }
    ui.button.disabled = true;
    ui.say("Connecting to the kernel on this machine…", "busy");
    try {
      var answer = await fetch("http://127.0.0.1:" + live.port + "/api/status", {
        headers: { Authorization: "token " + live.token },
      });
      if (!answer.ok) throw new Error("status " + answer.status);
    } catch (err) {
      ui.button.disabled = false;
      ui.say("The live server does not answer. Is <code>make serve</code> still running? " +
             "Start it again and open the address it prints.", "error");
      return;
    }
    var started = performance.now();
    var vendor = contentRoot() + "_static/_vendor/thebe/";
    try {
      await load("link", { rel: "stylesheet", href: vendor + "thebe.css" });
      await load("script", { src: vendor + "index.js" });
      serveRequireJsLocally();
      if (!document.getElementById("live-unshown-cells")) placeholders(spec);
      ui.say("Starting a kernel…", "busy");
      document.body.classList.add("live-starting");
      var running = await window.thebe.bootstrap(options(live, spec));
    } catch (err) {
      ui.button.disabled = false;
      ui.say("Could not start a kernel: " + String(err && err.message || err), "error");
      return;
    }
    var notebook = running.notebook;
    shutdownOnLeave(live, running.session);
    document.body.classList.add("live");
    var byIndex = {};
    spec.cells.forEach(function (cell) {
      byIndex[cell.index] = cell;
      var editor = document.getElementById("live-source-" + cell.index);
      cell.thebe = editor ? notebook.getCellById(editor.getAttribute("data-thebe-id")) : null;
      if (cell.box) {
        var input = cell.box.querySelector(".cell_input");
        if (input && cell.shown) input.classList.add("live-replaced");
        else if (editor) editor.classList.add("live-hidden");
      }
      if (cell.thebe) wrapExecute(cell, byIndex);
    });
    var setup = [];
    spec.cells.forEach(function (cell) {
      if (!cell.setup) return;
      cell.deps.concat([cell.index]).forEach(function (i) {
        if (setup.indexOf(i) < 0) setup.push(i);
      });
    });
    setup.sort(function (a, b) { return a - b; });
    for (var i = 0; i < setup.length; i++) {
      ui.say("Running what the explorers and exercises need: cell " + (i + 1) + " of " +
             setup.length + "…", "busy");
      var cell = byIndex[setup[i]];
      if (cell.ran) continue;
      var result = await cell.thebe.execute();
      if (!result || result.error) {
        document.body.classList.remove("live-starting");
        ui.say("A cell stopped with an error (shown under it). Fix it and run it again, " +
               "or reload the page.", "error");
        var where = document.getElementById("live-output-" + cell.index);
        if (where) where.scrollIntoView({ block: "center" });
        return;
      }
    }
    document.body.classList.remove("live-starting");
    var seconds = ((performance.now() - started) / 1000).toFixed(1);
    ui.bar.dataset.seconds = seconds;
    ui.say("This page is live (ready in " + seconds + " s). The explorers and exercises " +
           "respond. Edit any cell and press Shift+Enter or its run button: the cells " +
           "it needs run first.", "live");
  }

  /* Running a cell first runs the earlier cells it needs that have not run
     on this kernel (the page lists them: _ext/live_pages.py), so a reader
     never meets a NameError for a name the chapter defined above. The cell's
     saved output gives way to the live one. */
  function wrapExecute(cell, byIndex) {
    var original = cell.thebe.execute.bind(cell.thebe);
    cell.thebe.execute = async function (source) {
      for (var d = 0; d < cell.deps.length; d++) {
        var before = byIndex[cell.deps[d]];
        if (before && before.thebe && !before.ran) {
          var answer = await before.thebe.execute();
          if (!answer || answer.error) return answer;
        }
      }
      cell.ran = true;
      if (cell.box) {
        var saved = cell.box.querySelector(".cell_output");
        if (saved) saved.classList.add("live-replaced");
      }
      return original(source);
    };
  }

  function start() {
    takeFragment();
    var data = document.getElementById("live-cells");
    if (!data) return;
    var spec = JSON.parse(data.textContent);
    var ui = makeControl();
    ui.button.addEventListener("click", function () { activate(spec, ui); });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
