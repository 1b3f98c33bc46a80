/* Live warnings: a badge, a list and a short tone when a warning for the user arrives.
   Server-sent events; browsers without EventSource simply see warnings on the next page. */
(function () {
  "use strict";
  if (!window.EventSource) { return; }
  var badge = document.getElementById("warning-badge");
  var panel = document.getElementById("live-panel");
  var list = document.getElementById("live-warnings");
  if (!badge) { return; }
  var count = 0;
  var title = document.title;
  function tone() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) { return; }
      var ctx = new Ctx();
      var osc = ctx.createOscillator();
      var gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.1;
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.25);
    } catch (e) { /* no sound available */ }
  }
  var source = new EventSource("/api/v1/warnings/stream");
  source.addEventListener("warning", function (e) {
    var n;
    try { n = JSON.parse(e.data); } catch (err) { return; }
    count += 1;
    badge.textContent = String(count);
    badge.hidden = false;
    document.title = "(" + count + ") " + title;
    if (list && panel) {
      var li = document.createElement("li");
      li.className = "live-warning";
      var a = document.createElement("a");
      a.href = n.url;
      a.textContent = n.title;
      li.appendChild(a);
      list.insertBefore(li, list.firstChild);
      panel.hidden = false;
    }
    tone();
  });
}());

/* Comparison run progress: polls the job and opens the run when it is done. Without
   JavaScript the page refreshes itself instead. */
(function () {
  "use strict";
  var box = document.getElementById("compare-job");
  if (!box || !window.XMLHttpRequest) { return; }
  var token = box.getAttribute("data-token");
  function text(id, v) { var e = document.getElementById(id); if (e) { e.textContent = v; } }
  function poll() {
    var x = new XMLHttpRequest();
    x.open("GET", "/api/v1/compare/jobs/" + encodeURIComponent(token));
    x.onload = function () {
      var j;
      // Gone (expired, or the server restarted): the page itself says so.
      if (x.status !== 200) { window.location.reload(); return; }
      try { j = JSON.parse(x.responseText); } catch (e) { return; }
      if (j.state === "done" && j.run_id) { window.location.href = "/compare/runs/" + j.run_id; return; }
      if (j.state === "failed") { window.location.reload(); return; }
      text("job-phase", j.phase);
      text("job-done", j.done);
      text("job-total", j.total);
      var bar = document.getElementById("job-progress");
      if (bar) { bar.max = j.total || 1; bar.value = j.done; }
      setTimeout(poll, 500);
    };
    x.onerror = function () { setTimeout(poll, 2000); };
    x.send();
  }
  setTimeout(poll, 300);
})();
