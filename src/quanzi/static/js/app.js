// Quanzi page glue. No inline scripts anywhere (CSP: script-src 'self').
(function () {
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : null;
  }
  // htmx requests carry the CSRF token of the cookie session.
  document.addEventListener("htmx:configRequest", function (e) {
    var t = csrf();
    if (t) e.detail.headers["X-CSRF-Token"] = t;
  });
  // Charts: <div data-echarts='{...option...}'> is rendered with ECharts when the library is on the page.
  function drawCharts() {
    if (!window.echarts) return;
    document.querySelectorAll("[data-echarts]").forEach(function (el) {
      if (el.dataset.drawn) return;
      el.dataset.drawn = "1";
      var chart = window.echarts.init(el, null, { renderer: "svg" });
      chart.setOption(JSON.parse(el.getAttribute("data-echarts")));
      window.addEventListener("resize", function () { chart.resize(); });
    });
  }
  document.addEventListener("DOMContentLoaded", drawCharts);
  document.addEventListener("htmx:afterSettle", drawCharts);
  // Countdowns: <span data-countdown="ISO-8601 end">. With data-now="ISO-8601 server time when the page
  // was made", the count follows the server's clock, not the phone's (which may be minutes off).
  var loaded = Date.now();
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var skew = parseInt(el.dataset.skew || "0", 10);
      if (el.dataset.now && !isNaN(Date.parse(el.dataset.now))) skew = Date.parse(el.dataset.now) - loaded;
      var end = Date.parse(el.getAttribute("data-countdown")) - skew;
      var s = Math.max(0, Math.floor((end - Date.now()) / 1000));
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      el.textContent = (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m + ":" + (sec < 10 ? "0" : "") + sec;
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
  // Share links: <button data-share="#input-with-the-link" data-copied="…" data-copy-failed="…"> copies the
  // link; where the browser may not, it selects it for a long press.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest ? e.target.closest("[data-share]") : null;
    if (!btn) return;
    var input = document.querySelector(btn.getAttribute("data-share"));
    var url = input ? input.value : location.href;
    function done(ok) {
      var words = btn.getAttribute(ok ? "data-copied" : "data-copy-failed");
      if (words) btn.textContent = words;
      btn.setAttribute("data-shared", ok ? "copied" : "select");
      if (!ok && input) { input.focus(); input.select(); }
    }
    if (navigator.clipboard && navigator.clipboard.writeText) {
      navigator.clipboard.writeText(url).then(function () { done(true); }, function () { done(false); });
    } else {
      done(false);
    }
  });
})();
