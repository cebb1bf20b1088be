// A WeChat merchant transfer (商家转账) waiting for the payee: the button opens WeChat's own sheet to accept
// the money (requestMerchantTransfer, with the package WeChat gave us), then asks the server to check the
// transfer at once and reloads the page.
(function () {
  "use strict";
  function csrf() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute("content") : "";
  }
  function accepted(id) {
    fetch("/api/withdrawals/" + id + "/check", {
      method: "POST", credentials: "same-origin", headers: { "X-CSRF-Token": csrf() }
    }).finally(function () { location.reload(); });
  }
  function open(button) {
    var args = JSON.parse(button.getAttribute("data-wx-transfer"));
    var id = button.getAttribute("data-withdrawal-id");
    var url = location.href.split("#")[0];
    button.disabled = true;
    fetch("/api/wechat/jssdk?url=" + encodeURIComponent(url), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (cfg) {
        window.wx.config({ debug: false, appId: cfg.appId, timestamp: cfg.timestamp, nonceStr: cfg.nonceStr,
                           signature: cfg.signature, jsApiList: ["requestMerchantTransfer"] });
        window.wx.ready(function () {
          window.wx.checkJsApi({ jsApiList: ["requestMerchantTransfer"], success: function (res) {
            if (!res.checkResult || !res.checkResult.requestMerchantTransfer) { button.disabled = false; return; }
            window.WeixinJSBridge.invoke("requestMerchantTransfer",
              { mchId: args.mchId, appId: args.appId, package: args.package },
              function (r) {
                if (r.err_msg === "requestMerchantTransfer:ok") accepted(id);
                else button.disabled = false;
              });
          } });
        });
      })
      .catch(function () { button.disabled = false; });
  }
  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-wx-transfer]");
    if (button && window.wx) open(button);
  });
})();
