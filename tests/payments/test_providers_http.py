"""The adapters' outgoing calls against local stand-ins for the WeChat Pay and Alipay gateways.

Each stand-in is a real HTTP server on 127.0.0.1 that checks our request signatures with our public key
and signs its answers with the "provider" key, so the libraries' own response verification runs too.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from quanzi.payments.providers import (
    AlipayProvider,
    ProviderError,
    WechatPayProvider,
)
from quanzi.payments.providers._common import CHINA_TZ

from .test_providers import (
    ALIPAY_APP_ID,
    APPID,
    MCHID,
    PUBLIC_KEY_ID,
    alipay_provider,
    new_key,
    public_pem,
    rsa_sha256,
    wx_config,
)


def _verify(key: rsa.RSAPublicKey, message: str, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature), message.encode(), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True


class _Server:
    def __init__(self, handle: Any) -> None:
        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                status, headers, text = handle(self.command, self.path, dict(self.headers), body)
                data = text.encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


# ------------------------------------------------------------------------------------------ WeChat Pay


class FakeWechatPay:
    """Just enough of api.mch.weixin.qq.com: pay (jsapi/h5/native), query, refund, transfer-bills."""

    def __init__(self, platform: rsa.RSAPrivateKey, merchant_public: rsa.RSAPublicKey) -> None:
        self.platform = platform
        self.merchant_public = merchant_public
        self.transactions: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.seen: list[tuple[str, str, dict[str, Any]]] = []
        self.fail_next: tuple[int, dict[str, Any]] | None = None
        self.forge_next = False
        self.server = _Server(self.handle)

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, str], str]:
        auth = headers.get("Authorization", "")
        fields = dict(re.findall(r'(\w+)="([^"]*)"', auth))
        message = f"{method}\n{path}\n{fields.get('timestamp')}\n{fields.get('nonce_str')}\n{body}\n"
        if (
            not auth.startswith("WECHATPAY2-SHA256-RSA2048 ")
            or fields.get("mchid") != MCHID
            or not _verify(self.merchant_public, message, fields.get("signature", ""))
        ):
            return self.answer(401, {"code": "SIGN_ERROR", "message": "签名错误"})
        data = json.loads(body) if body else {}
        self.seen.append((method, path, data))
        if self.fail_next:
            (status, payload), self.fail_next = self.fail_next, None
            return self.answer(status, payload)
        route = urlsplit(path).path
        if method == "POST" and route.startswith("/v3/pay/transactions/"):
            kind = route.rsplit("/", 1)[1]
            self.transactions[data["out_trade_no"]] = {
                "appid": data["appid"],
                "mchid": data["mchid"],
                "out_trade_no": data["out_trade_no"],
                "trade_state": "NOTPAY",
                "trade_state_desc": "订单未支付",
                "amount": {"total": data["amount"]["total"], "currency": "CNY"},
            }
            return self.answer(
                200,
                {
                    "jsapi": {"prepay_id": "wx201410272009395522657a690389285100"},
                    "h5": {"h5_url": "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?x=1"},
                    "native": {"code_url": "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"},
                }[kind],
            )
        if method == "GET" and route.startswith("/v3/pay/transactions/out-trade-no/"):
            tx = self.transactions.get(route.rsplit("/", 1)[1])
            if tx is None:
                return self.answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
            return self.answer(200, tx)
        if method == "POST" and route == "/v3/refund/domestic/refunds":
            if data["out_refund_no"] not in self.refunds:
                if data["amount"]["refund"] > data["amount"]["total"]:
                    return self.answer(400, {"code": "INVALID_REQUEST", "message": "退款金额超过订单金额"})
                self.refunds[data["out_refund_no"]] = {
                    "refund_id": f"5030010077202503011{len(self.refunds):010d}",
                    "out_refund_no": data["out_refund_no"],
                    "transaction_id": data.get("transaction_id"),
                    "status": "PROCESSING",
                    "amount": {
                        "refund": data["amount"]["refund"],
                        "total": data["amount"]["total"],
                        "currency": "CNY",
                    },
                }
            return self.answer(200, self.refunds[data["out_refund_no"]])
        if method == "GET" and route.startswith("/v3/refund/domestic/refunds/"):
            refund = self.refunds.get(route.rsplit("/", 1)[1])
            if refund is None:
                return self.answer(404, {"code": "RESOURCE_NOT_EXISTS", "message": "退款单不存在"})
            return self.answer(200, refund)
        if method == "POST" and route == "/v3/fund-app/mch-transfer/transfer-bills":
            return self.answer(
                200,
                {
                    "out_bill_no": data["out_bill_no"],
                    "transfer_bill_no": "1330000071100999991182020050700019480001",
                    "create_time": "2025-03-01T12:00:00+08:00",
                    "state": "WAIT_USER_CONFIRM",
                    "package_info": "affffddafdfafddffda==",
                },
            )
        return self.answer(404, {"code": "NOT_FOUND"})

    def answer(self, status: int, payload: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        text = json.dumps(payload, ensure_ascii=False)
        ts, nonce = str(int(datetime.now(UTC).timestamp())), "593BEC0C930BF1AFEB40B4A08C8FB242"
        key = new_key() if self.forge_next else self.platform
        self.forge_next = False
        return (
            status,
            {
                "Content-Type": "application/json; charset=utf-8",
                "Request-ID": "08F78BB5AF0610",
                "Wechatpay-Timestamp": ts,
                "Wechatpay-Nonce": nonce,
                "Wechatpay-Serial": PUBLIC_KEY_ID,
                "Wechatpay-Signature": rsa_sha256(key, f"{ts}\n{nonce}\n{text}\n"),
                "Wechatpay-Signature-Type": "WECHATPAY2-SHA256-RSA2048",
            },
            text,
        )


@pytest.fixture(scope="module")
def wx_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    return new_key(), new_key()


@pytest.fixture
def fake_wechat(wx_keys) -> Iterator[FakeWechatPay]:
    platform, merchant = wx_keys
    fake = FakeWechatPay(platform, merchant.public_key())
    yield fake
    fake.server.close()


@pytest.fixture
def wechat(fake_wechat, wx_keys) -> WechatPayProvider:
    platform, merchant = wx_keys
    return WechatPayProvider(
        wx_config(
            public_pem(platform),
            "k" * 32,
            merchant,
            api_base_url=fake_wechat.server.url,
            refund_notify_url="https://shop.example/api/payments/notify/wechatpay-refund",
        )
    )


async def test_wechat_jsapi_payment_returns_signed_client_params(wechat, fake_wechat, wx_keys) -> None:
    intent = await wechat.create_payment(
        "Q20250301000010",
        1234,
        "两斤橙子",
        payer_ref="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
        expires_at=datetime(2025, 3, 1, 4, 15, tzinfo=UTC),
    )
    method, path, sent = fake_wechat.seen[-1]
    assert (method, path) == ("POST", "/v3/pay/transactions/jsapi")
    assert sent["amount"] == {"total": 1234, "currency": "CNY"} and sent["mchid"] == MCHID
    assert sent["payer"] == {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
    assert sent["time_expire"] == "2025-03-01T12:15:00+08:00"
    p = intent.client_params
    assert p["appId"] == APPID and p["package"] == "prepay_id=wx201410272009395522657a690389285100"
    assert p["signType"] == "RSA"
    _, merchant = wx_keys
    assert _verify(
        merchant.public_key(),
        f"{p['appId']}\n{p['timeStamp']}\n{p['nonceStr']}\n{p['package']}\n",
        p["paySign"],
    )


async def test_wechat_h5_and_native_payments(wechat, fake_wechat) -> None:
    h5 = await wechat.create_payment("Q20250301000011", 100, "x", client_ip="203.0.113.7")
    assert h5.client_params["h5_url"].startswith("https://wx.tenpay.com/")
    assert fake_wechat.seen[-1][2]["scene_info"] == {
        "payer_client_ip": "203.0.113.7",
        "h5_info": {"type": "Wap"},
    }
    native = await wechat.create_payment("Q20250301000012", 100, "x")
    assert native.client_params["code_url"].startswith("weixin://")


async def test_wechat_query_payment(wechat, fake_wechat) -> None:
    assert await wechat.query_payment("Q20250301000013") is None
    await wechat.create_payment("Q20250301000013", 700, "x")
    unpaid = await wechat.query_payment("Q20250301000013")
    assert unpaid is not None and unpaid.paid is False and unpaid.amount_fen == 700
    fake_wechat.transactions["Q20250301000013"].update(
        trade_state="SUCCESS",
        transaction_id="4200000985202503011234567891",
        success_time="2025-03-01T12:01:02+08:00",
    )
    paid = await wechat.query_payment("Q20250301000013")
    assert paid.paid and paid.transaction_id == "4200000985202503011234567891"
    assert paid.paid_at == datetime(2025, 3, 1, 4, 1, 2, tzinfo=UTC)


async def test_wechat_refund_and_transfer(wechat, fake_wechat) -> None:
    refund = await wechat.refund(
        "R20250301000001", "Q20250301000014", "4200000985202503011234567892", 300, 1000, "缺货"
    )
    assert refund.status == "processing" and refund.refund_id and refund.amount_fen == 300
    sent = fake_wechat.seen[-1][2]
    assert sent["amount"] == {"refund": 300, "total": 1000, "currency": "CNY"}
    assert sent["notify_url"] == "https://shop.example/api/payments/notify/wechatpay-refund"
    again = await wechat.refund(
        "R20250301000001", "Q20250301000014", "4200000985202503011234567892", 300, 1000, ""
    )
    assert again.refund_id == refund.refund_id
    assert await wechat.query_refund("R20250301000009", "Q20250301000014") is None
    fake_wechat.refunds["R20250301000001"]["status"] = "SUCCESS"
    settled = await wechat.query_refund("R20250301000001", "Q20250301000014")
    assert settled is not None and settled.status == "succeeded" and settled.amount_fen == 300
    assert settled.refund_id == refund.refund_id
    transfer = await wechat.transfer("W20250301000001", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o", 5000, "佣金提现")
    assert transfer.status == "processing" and transfer.raw["package_info"] == "affffddafdfafddffda=="
    sent = fake_wechat.seen[-1][2]
    assert sent["transfer_scene_id"] == "1005" and sent["transfer_amount"] == 5000
    assert {i["info_type"] for i in sent["transfer_scene_report_infos"]} == {"岗位类型", "报酬说明"}


async def test_wechat_failures_become_provider_errors(wechat, fake_wechat, wx_keys) -> None:
    fake_wechat.fail_next = (500, {"code": "SYSTEM_ERROR", "message": "系统繁忙"})
    with pytest.raises(ProviderError) as err:
        await wechat.query_payment("Q20250301000015")
    assert err.value.detail["http_status"] == 500 and err.value.detail["provider_code"] == "SYSTEM_ERROR"
    with pytest.raises(ProviderError):  # 4xx refusal
        await wechat.refund("R20250301000002", "Q20250301000015", "", 2000, 1000, "")
    fake_wechat.forge_next = True  # an answer not signed by WeChat's key is not believed
    with pytest.raises(ProviderError):
        await wechat.create_payment("Q20250301000016", 100, "x")
    platform, merchant = wx_keys
    down = WechatPayProvider(
        wx_config(public_pem(platform), "k" * 32, merchant, api_base_url="http://127.0.0.1:9")
    )
    with pytest.raises(ProviderError):
        await down.query_payment("Q20250301000017")
    with pytest.raises(ValueError):  # would be pasted into a URL path
        await wechat.query_payment("../../v3/certificates")


# ---------------------------------------------------------------------------------------------- Alipay


class FakeAlipay:
    """Just enough of openapi.alipay.com/gateway.do: trade.query, trade.refund, refund.query, uni.transfer."""

    def __init__(self, alipay: rsa.RSAPrivateKey, app_public: rsa.RSAPublicKey) -> None:
        self.alipay = alipay
        self.app_public = app_public
        self.trades: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, str] = {}
        self.seen: list[dict[str, Any]] = []
        self.forge_next = False
        self.server = _Server(self.handle)

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: str
    ) -> tuple[int, dict[str, str], str]:
        params = dict(parse_qsl(urlsplit(path).query, keep_blank_values=True))
        sign = params.pop("sign", "")
        content = "&".join(f"{k}={params[k]}" for k in sorted(params))
        api = params.get("method", "")
        response_type = api.replace(".", "_") + "_response"
        if params.get("app_id") != ALIPAY_APP_ID or not _verify(self.app_public, content, sign):
            return self.answer(
                response_type,
                {"code": "40002", "msg": "Invalid Arguments", "sub_code": "isv.invalid-signature"},
            )
        biz = json.loads(params["biz_content"])
        self.seen.append({**params, "biz_content": biz})
        if api == "alipay.trade.query":
            trade = self.trades.get(biz.get("out_trade_no"))
            if trade is None:
                return self.answer(
                    response_type,
                    {
                        "code": "40004",
                        "msg": "Business Failed",
                        "sub_code": "ACQ.TRADE_NOT_EXIST",
                        "sub_msg": "交易不存在",
                    },
                )
            return self.answer(response_type, {"code": "10000", "msg": "Success", **trade})
        if api == "alipay.trade.refund":
            repeat = biz["out_request_no"] in self.refunds
            self.refunds[biz["out_request_no"]] = biz["refund_amount"]
            return self.answer(
                response_type,
                {
                    "code": "10000",
                    "msg": "Success",
                    "trade_no": "2025030122001",
                    "out_trade_no": biz["out_trade_no"],
                    "refund_fee": biz["refund_amount"],
                    "fund_change": "N" if repeat else "Y",
                },
            )
        if api == "alipay.trade.fastpay.refund.query":
            amount = self.refunds.get(biz["out_request_no"])
            found = {
                "out_request_no": biz["out_request_no"],
                "refund_amount": amount,
                "refund_status": "REFUND_SUCCESS",
                "trade_no": "2025030122001",
            }
            return self.answer(
                response_type, {"code": "10000", "msg": "Success", **(found if amount else {})}
            )
        if api == "alipay.fund.trans.uni.transfer":
            if biz["payee_info"]["identity"] == "closed-account":
                return self.answer(
                    response_type,
                    {
                        "code": "40004",
                        "msg": "Business Failed",
                        "sub_code": "PAYEE_NOT_EXIST",
                        "sub_msg": "收款账号不存在",
                    },
                )
            return self.answer(
                response_type,
                {
                    "code": "10000",
                    "msg": "Success",
                    "out_biz_no": biz["out_biz_no"],
                    "order_id": "20250301110070000006210000000001",
                    "status": "SUCCESS",
                    "trans_date": "2025-03-01 12:00:00",
                },
            )
        return self.answer(response_type, {"code": "40004", "msg": "Business Failed", "sub_code": "UNKNOWN"})

    def answer(self, response_type: str, payload: dict[str, Any]) -> tuple[int, dict[str, str], str]:
        inner = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
        key = new_key() if self.forge_next else self.alipay
        self.forge_next = False
        text = f'{{"{response_type}":{inner},"sign":"{rsa_sha256(key, inner)}"}}'
        return 200, {"Content-Type": "text/html;charset=utf-8"}, text


@pytest.fixture(scope="module")
def ali_keys() -> tuple[rsa.RSAPrivateKey, rsa.RSAPrivateKey]:
    return new_key(), new_key()


@pytest.fixture
def fake_alipay(ali_keys) -> Iterator[FakeAlipay]:
    alipay_key, app_key = ali_keys
    fake = FakeAlipay(alipay_key, app_key.public_key())
    yield fake
    fake.server.close()


@pytest.fixture
def alipay(fake_alipay, ali_keys) -> AlipayProvider:
    alipay_key, app_key = ali_keys
    return alipay_provider(
        public_pem(alipay_key), app_key, gateway_url=f"{fake_alipay.server.url}/gateway.do"
    )


async def test_alipay_query_payment(alipay, fake_alipay) -> None:
    assert await alipay.query_payment("Q20250301000020") is None
    fake_alipay.trades["Q20250301000020"] = {
        "trade_no": "2025030122001405351234567899",
        "out_trade_no": "Q20250301000020",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "0.29",
        "send_pay_date": "2025-03-01 11:59:30",
    }
    paid = await alipay.query_payment("Q20250301000020")
    assert paid is not None and paid.paid and paid.amount_fen == 29 and paid.merchant_id == ALIPAY_APP_ID
    assert paid.paid_at == datetime(2025, 3, 1, 3, 59, 30, tzinfo=UTC)
    sent = fake_alipay.seen[-1]
    when = datetime.strptime(sent["timestamp"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA_TZ)
    assert abs(when - datetime.now(UTC)) < timedelta(minutes=1)  # China time on the wire
    fake_alipay.trades["Q20250301000020"]["trade_status"] = "WAIT_BUYER_PAY"
    assert (await alipay.query_payment("Q20250301000020")).paid is False


async def test_alipay_refund_is_idempotent_and_confirms_repeats(alipay, fake_alipay) -> None:
    first = await alipay.refund("R20250301000020", "Q20250301000020", "2025030122001", 1234, 5000, "缺货")
    assert first.status == "succeeded" and first.amount_fen == 1234
    assert fake_alipay.seen[-1]["biz_content"]["refund_amount"] == "12.34"
    assert fake_alipay.seen[-1]["biz_content"]["out_request_no"] == "R20250301000020"
    again = await alipay.refund("R20250301000020", "Q20250301000020", "2025030122001", 1234, 5000, "缺货")
    assert again.status == "succeeded"  # fund_change N, confirmed by the refund query
    assert fake_alipay.seen[-1]["method"] == "alipay.trade.fastpay.refund.query"
    queried = await alipay.query_refund("R20250301000020", "Q20250301000020")
    assert queried is not None and queried.status == "succeeded" and queried.amount_fen == 1234
    assert await alipay.query_refund("R20250301000099", "Q20250301000020") is None


async def test_alipay_transfer(alipay, fake_alipay) -> None:
    result = await alipay.transfer("W20250301000020", "2088102177846881", 10000, "佣金提现")
    assert result.status == "succeeded" and result.transfer_id
    biz = fake_alipay.seen[-1]["biz_content"]
    assert biz["trans_amount"] == "100.00" and biz["payee_info"]["identity_type"] == "ALIPAY_USER_ID"


async def test_alipay_failures_become_provider_errors(alipay, fake_alipay, ali_keys) -> None:
    fake_alipay.forge_next = True
    with pytest.raises(ProviderError):
        await alipay.query_payment("Q20250301000021")
    with pytest.raises(ProviderError) as err:  # a business refusal
        await alipay.transfer("W20250301000021", "closed-account", 100, "")
    assert err.value.detail["sub_code"] == "PAYEE_NOT_EXIST"
    alipay_key, app_key = ali_keys
    down = alipay_provider(public_pem(alipay_key), app_key, gateway_url="http://127.0.0.1:9/gateway.do")
    with pytest.raises(ProviderError):
        await down.query_payment("Q20250301000022")
