"""Local doubles of the two payout APIs, as real HTTP servers on 127.0.0.1 (the libraries use `requests`):
they check our request signatures with our public key and sign their answers with the provider's key, so
wechatpayv3's and python-alipay-sdk's own response verification runs too. Both remember transfers by our
out-bill number, as the real APIs do, so a repeated request finds the same transfer."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from cryptography.hazmat.primitives.asymmetric import rsa

from tests.payments.test_providers import ALIPAY_APP_ID, MCHID
from tests.payments.test_providers_http import FakeAlipay, FakeWechatPay, _verify


class WechatTransfers(FakeWechatPay):
    """api.mch.weixin.qq.com transfer-bills: create (idempotent by out_bill_no) and query by out_bill_no."""

    def __init__(self, platform: rsa.RSAPrivateKey, merchant_public: rsa.RSAPublicKey) -> None:
        self.bills: dict[str, dict[str, Any]] = {}
        self.lose_next_answer = False  # record the transfer, then answer 500 (the answer is lost)
        super().__init__(platform, merchant_public)

    def handle(self, method: str, path: str, headers: dict[str, str], body: str) -> tuple[int, dict[str, str], str]:
        auth = headers.get("Authorization", "")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
        message = f"{method}\n{path}\n{fields.get('timestamp')}\n{fields.get('nonce_str')}\n{body}\n"
        if fields.get("mchid") != MCHID or not _verify(self.merchant_public, message, fields.get("signature", "")):
            return self.answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        data = json.loads(body) if body else {}
        self.seen.append((method, path, data))
        route = urlsplit(path).path
        if method == "POST" and route == "/v3/fund-app/mch-transfer/transfer-bills":
            if data["openid"].startswith("o-not-this-app"):
                return self.answer(400, {"code": "INVALID_REQUEST", "message": "openid与appid不匹配"})
            no = data["out_bill_no"]
            if no not in self.bills:
                self.bills[no] = {
                    "mch_id": MCHID, "out_bill_no": no, "appid": data["appid"], "openid": data["openid"],
                    "transfer_bill_no": f"1330000071100999991182020050700019{len(self.bills):06d}",
                    "transfer_amount": data["transfer_amount"], "state": "WAIT_USER_CONFIRM",
                    "create_time": "2025-03-01T12:00:00+08:00", "update_time": "2025-03-01T12:00:00+08:00"}
            if self.lose_next_answer:
                self.lose_next_answer = False
                return self.answer(500, {"code": "SYSTEM_ERROR", "message": "系统繁忙"})
            bill = self.bills[no]
            return self.answer(200, {k: bill[k] for k in ("out_bill_no", "transfer_bill_no", "create_time", "state")}
                               | {"package_info": "ABBQO+oYAAABAAAAAAAk+yPZGrQ=="})
        prefix = "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/"
        if method == "GET" and route.startswith(prefix):
            bill = self.bills.get(route[len(prefix):])
            if bill is None:
                return self.answer(404, {"code": "NOT_FOUND", "message": "记录不存在"})
            return self.answer(200, bill)
        return self.answer(404, {"code": "NOT_FOUND", "message": "无此接口"})

    def settle(self, out_bill_no: str, state: str, fail_reason: str | None = None) -> None:
        """What WeChat does later: the payee confirmed (SUCCESS) or the transfer failed (FAIL)."""
        self.bills[out_bill_no]["state"] = state
        if fail_reason:
            self.bills[out_bill_no]["fail_reason"] = fail_reason


class AlipayTransfers(FakeAlipay):
    """openapi.alipay.com: alipay.fund.trans.uni.transfer (idempotent by out_biz_no) and .common.query."""

    def __init__(self, alipay: rsa.RSAPrivateKey, app_public: rsa.RSAPublicKey) -> None:
        self.transfers: dict[str, dict[str, Any]] = {}
        self.next_status = "SUCCESS"
        super().__init__(alipay, app_public)

    def handle(self, method: str, path: str, headers: dict[str, str], body: str) -> tuple[int, dict[str, str], str]:
        params = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
        sign = params.pop("sign", "")
        content = "&".join(f"{k}={params[k]}" for k in sorted(params))
        api = params.get("method", "")
        response_type = api.replace(".", "_") + "_response"
        if params.get("app_id") != ALIPAY_APP_ID or not _verify(self.app_public, content, sign):
            return self.answer(response_type, {"code": "40002", "msg": "Invalid Arguments",
                                               "sub_code": "isv.invalid-signature"})
        biz = json.loads(params["biz_content"])
        self.seen.append({**params, "biz_content": biz})
        if api == "alipay.fund.trans.uni.transfer":
            payee = biz["payee_info"]
            if payee["identity"] == "closed@example.com":
                return self.answer(response_type, {"code": "40004", "msg": "Business Failed",
                                                   "sub_code": "PAYEE_NOT_EXIST", "sub_msg": "收款账号不存在"})
            if payee.get("identity_type") == "ALIPAY_LOGON_ID" and not payee.get("name"):
                return self.answer(response_type, {"code": "40004", "msg": "Business Failed",
                                                   "sub_code": "PAYEE_USERINFO_ERROR", "sub_msg": "收款方姓名不能为空"})
            no = biz["out_biz_no"]
            if no not in self.transfers:
                self.transfers[no] = {"out_biz_no": no, "order_id": f"2025030111007000000621{len(self.transfers):010d}",
                                      "pay_fund_order_id": "20250301110070001506210000000001",
                                      "status": self.next_status, "trans_date": "2025-03-01 12:00:00",
                                      "amount": biz["trans_amount"]}
            t = self.transfers[no]
            return self.answer(response_type, {"code": "10000", "msg": "Success",
                                               **{k: t[k] for k in ("out_biz_no", "order_id", "pay_fund_order_id",
                                                                    "status", "trans_date")}})
        if api == "alipay.fund.trans.common.query":
            t = self.transfers.get(biz["out_biz_no"])
            if t is None:
                return self.answer(response_type, {"code": "40004", "msg": "Business Failed",
                                                   "sub_code": "ORDER_NOT_EXIST", "sub_msg": "转账订单不存在"})
            return self.answer(response_type, {"code": "10000", "msg": "Success", **t})
        return super().handle(method, path, headers, body)
