"""WeChat Pay v3 combined payment (合单支付) in the adapter: the combine order call, the combine query and the
combine notification, against a local stand-in that checks our request signatures and signs its answers
(the library's own response verification runs), and notifications built from WeChat's documented shape."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from quanzi.payments.providers import BadSignature, MalformedNotification, SubOrder, WechatPayProvider

from .test_providers import APPID, MCHID, PUBLIC_KEY_ID, public_pem, rsa_sha256, wx_config
from .test_providers_http import FakeWechatPay

NOW = datetime(2025, 3, 1, 4, 0, 0, tzinfo=UTC)
APIV3 = "k" * 32


class FakeCombine(FakeWechatPay):
    """Adds /v3/combine-transactions/{jsapi,h5,native} and the combine query to the stand-in."""

    def __init__(self, *args: Any) -> None:
        self.combines: dict[str, dict[str, Any]] = {}
        super().__init__(*args)

    def handle(self, method: str, path: str, headers: dict[str, str], body: str) -> tuple[int, dict[str, str], str]:
        route = urlsplit(path).path
        if not route.startswith("/v3/combine-transactions/"):
            return super().handle(method, path, headers, body)
        # The parent checks our signature and records the call; it does not route this path (a 404 we drop).
        status, _headers, text = super().handle(method, path, headers, body)
        if status == 401:
            return status, _headers, text
        data = json.loads(body) if body else {}
        if method == "POST" and route.count("/") == 3:
            kind = route.rsplit("/", 1)[1]
            self.combines[data["combine_out_trade_no"]] = {
                "combine_appid": data["combine_appid"], "combine_mchid": data["combine_mchid"],
                "combine_out_trade_no": data["combine_out_trade_no"],
                "sub_orders": [{"mchid": x["mchid"], "trade_state": "NOTPAY", "out_trade_no": x["out_trade_no"],
                                "amount": {"total_amount": x["amount"]["total_amount"], "currency": "CNY"}}
                               for x in data["sub_orders"]],
            }
            return self.answer(200, {"jsapi": {"prepay_id": "wx2025030112000011"},
                                     "h5": {"h5_url": "https://wx.tenpay.com/cgi-bin/mmpayweb-bin/checkmweb?c=1"},
                                     "native": {"code_url": "weixin://wxpay/bizpayurl?pr=combine"}}[kind])
        if method == "GET" and "/out-trade-no/" in route:
            tx = self.combines.get(route.rsplit("/", 1)[1])
            if tx is None:
                return self.answer(404, {"code": "ORDER_NOT_EXIST", "message": "订单不存在"})
            return self.answer(200, tx)
        return self.answer(404, {"code": "NOT_FOUND"})


@pytest.fixture(scope="module")
def keys():  # noqa: ANN201
    from .test_providers import new_key

    return new_key(), new_key()


@pytest.fixture
def fake(keys) -> Iterator[FakeCombine]:  # noqa: ANN001
    platform, merchant = keys
    f = FakeCombine(platform, merchant.public_key())
    yield f
    f.server.close()


@pytest.fixture
def wechat(fake, keys) -> WechatPayProvider:  # noqa: ANN001
    platform, merchant = keys
    return WechatPayProvider(wx_config(public_pem(platform), APIV3, merchant, api_base_url=fake.server.url))


SUBS = (SubOrder("QC2503010000000011P1S01", 6780, "苹果"), SubOrder("QC2503010000000011P1S02", 2790, "芒果"),
        SubOrder("QC2503010000000011P1S03", 6700, "香梨"))


async def test_combined_order_call_and_query(wechat, fake) -> None:  # noqa: ANN001
    intent = await wechat.create_combined_payment("QC2503010000000011P1", 16270, SUBS, "圈子订单",
                                                  payer_ref="oUpF8uMuAJO_M2pxb1Q9zNjWeS6o",
                                                  expires_at=datetime(2025, 3, 1, 4, 15, tzinfo=UTC))
    method, path, sent = fake.seen[-1]
    assert (method, path) == ("POST", "/v3/combine-transactions/jsapi")
    assert sent["combine_mchid"] == MCHID and sent["combine_appid"] == APPID
    assert sent["combine_payer_info"] == {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"}
    assert sent["time_expire"] == "2025-03-01T12:15:00+08:00"
    assert [(x["out_trade_no"], x["amount"], x["mchid"]) for x in sent["sub_orders"]] == [
        (s.out_trade_no, {"total_amount": s.amount_fen, "currency": "CNY"}, MCHID) for s in SUBS]
    assert intent.client_params["package"] == "prepay_id=wx2025030112000011"

    native = await wechat.create_combined_payment("QC2503010000000012P1", 16270, SUBS, "圈子订单")
    assert native.client_params["code_url"].startswith("weixin://")
    with pytest.raises(ValueError, match="2–50 sub-orders summing"):
        await wechat.create_combined_payment("QC2503010000000013P1", 16271, SUBS, "圈子订单")
    with pytest.raises(ValueError, match="2–50 sub-orders"):
        await wechat.create_combined_payment("QC2503010000000013P1", 6780, SUBS[:1], "圈子订单")

    assert await wechat.query_combined_payment("QC2503010000000099P1") is None
    unpaid = await wechat.query_combined_payment("QC2503010000000011P1")
    assert unpaid is not None and not unpaid.paid and unpaid.amount_fen == 16270
    for i, sub in enumerate(fake.combines["QC2503010000000011P1"]["sub_orders"]):
        sub.update(trade_state="SUCCESS", transaction_id=f"42000009852025030112345678{i:02d}",
                   success_time="2025-03-01T12:01:02+08:00")
    paid = await wechat.query_combined_payment("QC2503010000000011P1")
    assert paid.paid and paid.amount_fen == 16270 and paid.transaction_id == "4200000985202503011234567800"
    assert [(x.out_trade_no, x.amount_fen) for x in paid.sub_payments] == [(s.out_trade_no, s.amount_fen) for s in SUBS]


def combine_resource(paid: bool = True) -> dict[str, Any]:
    """The decrypted resource of a combined payment notification, as WeChat documents it."""
    return {
        "combine_appid": APPID, "combine_mchid": MCHID, "combine_out_trade_no": "QC2503010000000011P1",
        "scene_info": {"device_id": "POS1:123"},
        "sub_orders": [
            {"mchid": MCHID, "trade_type": "JSAPI", "trade_state": "SUCCESS" if paid else "NOTPAY",
             "bank_type": "CMC", "attach": "", "success_time": "2025-03-01T11:59:30+08:00",
             "transaction_id": f"42000009852025030112345678{i:02d}", "out_trade_no": s.out_trade_no,
             "amount": {"total_amount": s.amount_fen, "currency": "CNY", "payer_amount": s.amount_fen,
                        "payer_currency": "CNY"}}
            for i, s in enumerate(SUBS)],
        "combine_payer_info": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
    }


def notification(platform, resource: dict[str, Any], *, ts: int | None = None) -> tuple[dict[str, str], bytes]:  # noqa: ANN001
    nonce = "fdasflkja484"
    ciphertext = AESGCM(APIV3.encode()).encrypt(nonce.encode(), json.dumps(resource).encode(), b"transaction")
    body = json.dumps({"id": "EV-1", "create_time": "2025-03-01T12:00:00+08:00", "resource_type": "encrypt-resource",
                       "event_type": "TRANSACTION.SUCCESS", "summary": "支付成功",
                       "resource": {"original_type": "transaction", "algorithm": "AEAD_AES_256_GCM",
                                    "ciphertext": base64.b64encode(ciphertext).decode(),
                                    "associated_data": "transaction", "nonce": nonce}})
    ts = ts or int(NOW.timestamp())
    headers = {"Wechatpay-Timestamp": str(ts), "Wechatpay-Nonce": "n" * 32, "Wechatpay-Serial": PUBLIC_KEY_ID,
               "Wechatpay-Signature": rsa_sha256(platform, f"{ts}\n{'n' * 32}\n{body}\n")}
    return headers, body.encode()


def test_combined_notification_verifies_and_maps(wechat, keys) -> None:  # noqa: ANN001
    platform, _ = keys
    result = wechat.verify_notification(*notification(platform, combine_resource()), NOW)
    assert (result.out_trade_no, result.amount_fen, result.merchant_id, result.paid) == (
        "QC2503010000000011P1", 16270, MCHID, True)
    assert result.transaction_id == "4200000985202503011234567800"
    assert [(x.out_trade_no, x.transaction_id, x.amount_fen) for x in result.sub_payments] == [
        (s.out_trade_no, f"42000009852025030112345678{i:02d}", s.amount_fen) for i, s in enumerate(SUBS)]
    assert not wechat.verify_notification(*notification(platform, combine_resource(paid=False)), NOW).paid


def test_combined_notification_forged_or_malformed_is_refused(wechat, keys) -> None:  # noqa: ANN001
    platform, merchant = keys
    headers, body = notification(merchant, combine_resource())  # signed by a key that is not WeChat's
    with pytest.raises(BadSignature):
        wechat.verify_notification(headers, body, NOW)
    other = combine_resource()
    other["sub_orders"][1]["mchid"] = "1900000999"  # a sub-order of another merchant
    with pytest.raises(MalformedNotification):
        wechat.verify_notification(*notification(platform, other), NOW)
    twice = combine_resource()
    twice["sub_orders"][1]["out_trade_no"] = twice["sub_orders"][0]["out_trade_no"]
    with pytest.raises(MalformedNotification):
        wechat.verify_notification(*notification(platform, twice), NOW)
    floaty = combine_resource()
    floaty["sub_orders"][0]["amount"]["total_amount"] = 67.8
    with pytest.raises(MalformedNotification):
        wechat.verify_notification(*notification(platform, floaty), NOW)
