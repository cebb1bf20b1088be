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
  // With data-refresh="#region", the region is fetched again when the count reaches zero, so the page moves
  // on by itself (soon → live → ended) without a reload by hand.
  function secondsLeft(el, attr) {
    // Each element counts from when this page first saw it (a region fetched again brings its own data-now).
    if (!el.dataset.seenAt) el.dataset.seenAt = String(Date.now());
    var skew = parseInt(el.dataset.skew || "0", 10);
    if (el.dataset.now && !isNaN(Date.parse(el.dataset.now))) skew = Date.parse(el.dataset.now) - Number(el.dataset.seenAt);
    var end = Date.parse(el.getAttribute(attr)) - skew;
    return Math.max(0, Math.ceil((end - Date.now()) / 1000));
  }
  function refresh(el, tries) {
    var sel = el.getAttribute("data-refresh");
    var region = sel && document.querySelector(sel);
    if (!region || el.dataset.refreshing) return;
    el.dataset.refreshing = "1";
    var before = region.getAttribute("data-state");
    fetch(location.href, { headers: { "HX-Request": "true", "Accept": "text/html" }, credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector(sel);
        var now = document.querySelector(sel);
        if (!fresh || !now) return;
        // The server's clock may be a moment behind the count: ask again shortly if nothing moved yet.
        if (fresh.getAttribute("data-state") === before && tries < 5) {
          delete el.dataset.refreshing;
          setTimeout(function () { refresh(el, tries + 1); }, 1500);
          return;
        }
        now.replaceWith(fresh);
        if (window.htmx) window.htmx.process(fresh);
        tick();
      })
      .catch(function () { delete el.dataset.refreshing; });
  }
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var s = secondsLeft(el, "data-countdown");
      var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
      el.textContent = (h < 10 ? "0" : "") + h + ":" + (m < 10 ? "0" : "") + m + ":" + (sec < 10 ? "0" : "") + sec;
      if (s === 0 && el.hasAttribute("data-refresh")) setTimeout(function () { refresh(el, 0); }, 600);
    });
    // Send-again buttons: <button disabled data-resend-at="ISO" data-wait-label="… {s} …" data-ready-label="…">
    document.querySelectorAll("[data-resend-at]").forEach(function (btn) {
      var s = secondsLeft(btn, "data-resend-at");
      if (s > 0) {
        btn.disabled = true;
        btn.textContent = (btn.getAttribute("data-wait-label") || "{s}").replace("{s}", s);
      } else {
        btn.disabled = false;
        btn.textContent = btn.getAttribute("data-ready-label") || btn.textContent;
        btn.removeAttribute("data-resend-at");
      }
    });
  }
  setInterval(tick, 1000);
  document.addEventListener("DOMContentLoaded", tick);

  // Busy buttons: a form on its way cannot be sent twice. Its submit button says so (aria-busy, a spinner in
  // app.css) until the next page arrives; htmx forms get the same until their answer is swapped in. A form
  // may opt out with data-no-busy (e.g. a download that never leaves the page).
  function markBusy(form, submitter) {
    form.setAttribute("data-busy", "1");
    var btns = submitter ? [submitter] : form.querySelectorAll("button[type=submit], button:not([type])");
    Array.prototype.forEach.call(btns, function (b) { b.setAttribute("aria-busy", "true"); });
    Array.prototype.forEach.call(form.querySelectorAll("button"), function (b) {
      b.setAttribute("aria-disabled", "true");
    });
  }
  function clearBusy(form) {
    form.removeAttribute("data-busy");
    Array.prototype.forEach.call(form.querySelectorAll("[aria-busy], [aria-disabled]"), function (b) {
      b.removeAttribute("aria-busy");
      b.removeAttribute("aria-disabled");
    });
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!(form instanceof HTMLFormElement) || form.hasAttribute("data-no-busy")) return;
    if (form.getAttribute("data-busy")) { e.preventDefault(); e.stopImmediatePropagation(); return; }
    var ask = form.getAttribute("data-confirm");
    if (ask && !window.confirm(ask)) { e.preventDefault(); return; }
    markBusy(form, e.submitter || null);
    // A page that never unloads (a download, a refused htmx swap) must not stay locked.
    setTimeout(function () { clearBusy(form); }, 15000);
  }, true);
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail && e.detail.elt && e.detail.elt.closest ? e.detail.elt.closest("form") : null;
    if (form) clearBusy(form);
  });
  // Back to a page kept in the browser's memory: its forms are ready again.
  window.addEventListener("pageshow", function (e) {
    if (e.persisted) document.querySelectorAll("form[data-busy]").forEach(clearBusy);
  });
  // Address picker: choosing a province or a city asks the server for the next level's choices
  // (GET /addresses/picker) and swaps the picker in place. Listening on the document, not on each select, so a
  // choice made the moment a fresh picker arrives is never missed; an older answer never overwrites a newer.
  var pickerSeq = 0;
  document.addEventListener("change", function (e) {
    var sel = e.target;
    if (!sel.matches || !sel.matches(".region-picker select[data-cascade]")) return;
    var picker = sel.closest(".region-picker");
    var params = new URLSearchParams();
    picker.querySelectorAll("select").forEach(function (s) { params.set(s.name, s.value); });
    var seq = ++pickerSeq;
    picker.setAttribute("aria-busy", "true");
    fetch("/addresses/picker?" + params.toString(), { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) {
        if (seq !== pickerSeq || !picker.isConnected) return;
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector(".region-picker");
        if (!fresh) return;
        // A choice made while the answer was on its way stays, if it is one of the fresh choices.
        fresh.querySelectorAll("select").forEach(function (f) {
          var old = picker.querySelector('select[name="' + f.name + '"]');
          if (old && old.value && f.querySelector('option[value="' + old.value + '"]')) f.value = old.value;
        });
        picker.replaceWith(fresh);
        var next = fresh.querySelector(sel.name === "province_code" ? "[name=city_code]" : "[name=district_code]");
        if (next && !next.disabled) next.focus();
      })
      .catch(function () { picker.removeAttribute("aria-busy"); });
  });

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
