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
  // Countdowns: <span data-countdown="ISO-8601 end">.
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var end = Date.parse(el.getAttribute("data-countdown")) - (parseInt(el.dataset.skew || "0", 10));
      var s = Math.max(0, Math.floor((end - Date.now()) / 1000));
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      el.textContent = (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m + ":" + (sec < 10 ? "0" : "") + sec;
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);
})();
