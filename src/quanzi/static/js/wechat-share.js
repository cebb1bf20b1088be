// Inside WeChat: sign this page with the JS-SDK (GET /api/wechat/jssdk) and set the share card — title,
// description, image and link — from the page's Open Graph tags. Loaded only in WeChat's browser and only
// when the site has a WeChat official account; elsewhere the Open Graph tags alone describe the link.
(function () {
  "use strict";
  function meta(name) {
    var el = document.querySelector('meta[property="' + name + '"]');
    return el ? el.getAttribute("content") : "";
  }
  function start() {
    if (!window.wx || !/MicroMessenger/i.test(navigator.userAgent)) return;
    var url = location.href.split("#")[0];
    fetch("/api/wechat/jssdk?url=" + encodeURIComponent(url), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (cfg) {
        if (!cfg) return;
        window.wx.config({
          debug: false, appId: cfg.appId, timestamp: cfg.timestamp, nonceStr: cfg.nonceStr,
          signature: cfg.signature, jsApiList: cfg.jsApiList
        });
        window.wx.ready(function () {
          var card = {
            title: meta("og:title") || document.title,
            desc: meta("og:description"),
            link: meta("og:url") || url,
            imgUrl: meta("og:image")
          };
          window.wx.updateAppMessageShareData(card);
          window.wx.updateTimelineShareData({ title: card.title, link: card.link, imgUrl: card.imgUrl });
        });
      })
      .catch(function () { /* no card: the link still works */ });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
