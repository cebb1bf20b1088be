"""WeChat Pay v3 through `wechatpayv3`, in platform PUBLIC-KEY mode (never downloads platform certificates).

Notifications: the library checks the RSA-SHA256 signature over "timestamp\\nnonce\\nbody\\n" with the
platform public key and decrypts the AES-256-GCM `resource` with the APIv3 key. Around it we add what
the library does not do: case-insensitive headers, a 5-minute replay window on `Wechatpay-Timestamp`,
refusing an unknown key serial *before* the library would go to the network for certificates, shape
checks, the merchant check and the mapping to `PaymentResult`.

Outgoing calls (pay, query, refund, merchant transfer) are blocking `requests` calls inside the library:
they run in a worker thread and every failure or non-2xx answer becomes `ProviderError`.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import string
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog
from cryptography.hazmat.primitives import serialization
from wechatpayv3 import WeChatPay, WeChatPayType

from quanzi.kit.clock import as_utc

from ._common import check_fresh, china_time, lower_headers, require_fen
from .base import (
    BadSignature,
    MalformedNotification,
    PaymentIntent,
    PaymentResult,
    ProviderError,
    RefundResult,
    SubOrder,
    SubPayment,
    TransferResult,
    WrongMerchant,
)

log = structlog.get_logger("quanzi.payments.wechatpay")

SIGNATURE_TYPE = "WECHATPAY2-SHA256-RSA2048"
_REQUIRED_HEADERS = ("wechatpay-timestamp", "wechatpay-nonce", "wechatpay-signature", "wechatpay-serial")
# out_trade_no / out_refund_no / out_bill_no: WeChat allows 6–32 (refund: 1–64) of [0-9A-Za-z_-|*];
# they are also pasted into URL paths by the library, so nothing else may get through.
_OUT_NO = re.compile(r"^[0-9A-Za-z_\-|*]+$")
_PAID_STATES = frozenset({"SUCCESS", "REFUND"})  # REFUND: paid, then (partly) refunded
_REFUND_STATUS = {
    "SUCCESS": "succeeded",
    "PROCESSING": "processing",
    "CLOSED": "failed",
    "ABNORMAL": "failed",
}
_TRANSFER_STATE = {"SUCCESS": "succeeded", "FAIL": "failed", "CANCELLED": "failed"}  # others: processing


@dataclass(frozen=True)
class WechatPayConfig:
    mchid: str
    appid: str
    apiv3_key: str  # 32 ASCII characters
    private_key: str  # merchant API private key, PEM (PKCS#1 or PKCS#8)
    cert_serial_no: str  # serial number of the merchant API certificate
    public_key: str  # WeChat Pay platform public key, PEM
    public_key_id: str  # "PUB_KEY_ID_…", sent by WeChat as Wechatpay-Serial
    notify_url: str
    refund_notify_url: str | None = None  # default: notify_url (the library's fallback)
    transfer_notify_url: str | None = None
    transfer_scene_id: str = "1005"  # 佣金报酬
    transfer_scene_report_infos: tuple[tuple[str, str], ...] = (
        ("岗位类型", "推广员"),
        ("报酬说明", "推广佣金"),
    )
    api_base_url: str | None = None  # default https://api.mch.weixin.qq.com (tests point it elsewhere)
    timeout_seconds: float = 10.0


def _pkcs8(pem: str) -> str:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _spki(pem: str) -> str:
    key = serialization.load_pem_public_key(pem.encode())
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _check_no(value: str, what: str, max_length: int = 32) -> str:
    if not isinstance(value, str) or not _OUT_NO.match(value) or len(value) > max_length:
        raise ValueError(f"{what} must be 1–{max_length} characters of [0-9A-Za-z_-|*]: {value!r}")
    return value


def transaction_to_result(provider: str, tx: Any) -> PaymentResult:
    """Map a WeChat Pay v3 transaction object (decrypted notification or query answer).

    Raises ValueError when the object does not have the documented shape."""
    if not isinstance(tx, dict):
        raise ValueError("transaction is not an object")  # noqa: TRY004 - bad input, not a bad call
    out_trade_no = tx.get("out_trade_no")
    mchid = tx.get("mchid")
    trade_state = tx.get("trade_state")
    amount = tx.get("amount")
    if not (isinstance(out_trade_no, str) and out_trade_no):
        raise ValueError("out_trade_no missing")
    if not (isinstance(mchid, str) and mchid):
        raise ValueError("mchid missing")
    if not (isinstance(trade_state, str) and trade_state):
        raise ValueError("trade_state missing")
    if not isinstance(amount, dict):
        raise ValueError("amount missing")  # noqa: TRY004 - bad input, not a bad call
    total = amount.get("total")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise ValueError("amount.total is not an integer number of fen")
    currency = amount.get("currency", "CNY")
    if currency != "CNY":
        raise ValueError(f"unsupported currency {currency!r}")
    paid = trade_state in _PAID_STATES
    transaction_id = tx.get("transaction_id") or ""
    if not isinstance(transaction_id, str) or (paid and not transaction_id):
        raise ValueError("transaction_id missing")
    paid_at: datetime | None = None
    success_time = tx.get("success_time")
    if paid:
        if not isinstance(success_time, str):
            raise ValueError("success_time missing")
        parsed = datetime.fromisoformat(success_time)
        if parsed.tzinfo is None:
            raise ValueError("success_time has no UTC offset")
        paid_at = as_utc(parsed)
    return PaymentResult(
        provider=provider,
        out_trade_no=out_trade_no,
        transaction_id=transaction_id,
        amount_fen=total,
        merchant_id=mchid,
        paid=paid,
        paid_at=paid_at,
        raw=tx,
    )


def combine_to_result(provider: str, tx: Any) -> PaymentResult:
    """Map a WeChat Pay v3 combined transaction (合单支付: its notification's resource or the combine query
    answer): `combine_out_trade_no`, `combine_mchid` and `sub_orders`, each with its own `out_trade_no`,
    `transaction_id`, `trade_state` and `amount.total_amount`. Paid only when every sub-order is.

    Raises ValueError when the object does not have the documented shape."""
    if not isinstance(tx, dict):
        raise ValueError("combined transaction is not an object")  # noqa: TRY004 - bad input
    combine_no = tx.get("combine_out_trade_no")
    mchid = tx.get("combine_mchid")
    subs = tx.get("sub_orders")
    if not (isinstance(combine_no, str) and combine_no):
        raise ValueError("combine_out_trade_no missing")
    if not (isinstance(mchid, str) and mchid):
        raise ValueError("combine_mchid missing")
    if not (isinstance(subs, list) and subs):
        raise ValueError("sub_orders missing")
    parts: list[SubPayment] = []
    paid_at: datetime | None = None
    for sub in subs:
        if not isinstance(sub, dict):
            raise ValueError("sub_order is not an object")  # noqa: TRY004 - bad input
        amount = sub.get("amount")
        total = amount.get("total_amount") if isinstance(amount, dict) else None
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ValueError("sub_order amount.total_amount is not an integer number of fen")
        if isinstance(amount, dict) and amount.get("currency", "CNY") != "CNY":
            raise ValueError("unsupported currency")
        if sub.get("mchid") != mchid:
            raise ValueError("sub_order of another merchant")
        out_no = sub.get("out_trade_no")
        state = sub.get("trade_state")
        if not (isinstance(out_no, str) and out_no and isinstance(state, str) and state):
            raise ValueError("sub_order out_trade_no or trade_state missing")
        paid = state in _PAID_STATES
        tid = sub.get("transaction_id") or ""
        if not isinstance(tid, str) or (paid and not tid):
            raise ValueError("sub_order transaction_id missing")
        if paid:
            success_time = sub.get("success_time")
            if not isinstance(success_time, str):
                raise ValueError("sub_order success_time missing")
            parsed = datetime.fromisoformat(success_time)
            if parsed.tzinfo is None:
                raise ValueError("success_time has no UTC offset")
            paid_at = max(paid_at, as_utc(parsed)) if paid_at else as_utc(parsed)
        parts.append(SubPayment(out_trade_no=out_no, transaction_id=tid, amount_fen=total, paid=paid))
    if len({p.out_trade_no for p in parts}) != len(parts):
        raise ValueError("sub_order listed twice")
    return PaymentResult(
        provider=provider,
        out_trade_no=combine_no,
        transaction_id=parts[0].transaction_id,
        amount_fen=sum(p.amount_fen for p in parts),
        merchant_id=mchid,
        paid=all(p.paid for p in parts),
        paid_at=paid_at,
        raw=tx,
        sub_payments=tuple(parts),
    )


def _json(text: Any) -> Any:
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    return json.loads(text) if text else {}


class WechatPayProvider:
    """`PaymentProvider` for WeChat Pay v3 (direct merchant)."""

    refunds_per_sub_order = True  # 合单: each sub-order is its own transaction, refunded on its own

    def __init__(self, config: WechatPayConfig, *, name: str = "wechatpay") -> None:
        self.name = name
        self.config = config
        self.merchant_id = config.mchid
        if len(config.apiv3_key.encode()) != 32:
            raise ValueError("the WeChat Pay APIv3 key must be 32 bytes")
        timeout = config.timeout_seconds
        # Public-key mode: with public_key + public_key_id the library never fetches /v3/certificates.
        self._pay = WeChatPay(
            wechatpay_type=WeChatPayType.JSAPI,
            mchid=config.mchid,
            private_key=_pkcs8(config.private_key),
            cert_serial_no=config.cert_serial_no,
            appid=config.appid,
            apiv3_key=config.apiv3_key,
            notify_url=config.notify_url,
            timeout=(timeout, timeout),
            public_key=_spki(config.public_key),
            public_key_id=config.public_key_id,
        )
        if config.api_base_url:
            # The library has no public setting for the gateway; tests and egress proxies need one.
            self._pay._core._gate_way = config.api_base_url.rstrip("/")

    # ------------------------------------------------------------------ notifications

    def verify_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> PaymentResult:
        h = lower_headers(headers)
        missing = [n for n in _REQUIRED_HEADERS if not h.get(n)]
        if missing:
            raise MalformedNotification(missing_headers=missing)
        signature_type = h.get("wechatpay-signature-type") or SIGNATURE_TYPE
        if signature_type != SIGNATURE_TYPE:
            raise MalformedNotification(signature_type=signature_type)
        timestamp = h["wechatpay-timestamp"].strip()
        if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
            raise MalformedNotification(reason="Wechatpay-Timestamp is not a unix time")
        check_fresh(datetime.fromtimestamp(int(timestamp), UTC), now)
        if h["wechatpay-serial"] != self.config.public_key_id:
            # Any other serial would make the library download platform certificates; we only trust our key.
            raise BadSignature(reason="unknown Wechatpay-Serial")
        try:
            text = bytes(body).decode("utf-8")
            envelope = json.loads(text)
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedNotification(reason="body is not JSON") from exc
        resource = envelope.get("resource") if isinstance(envelope, dict) else None
        if not (
            isinstance(resource, dict)
            and envelope.get("resource_type") == "encrypt-resource"
            and resource.get("algorithm") == "AEAD_AES_256_GCM"
            and isinstance(resource.get("nonce"), str)
            and resource["nonce"]
            and isinstance(resource.get("ciphertext"), str)
            and resource["ciphertext"]
            and isinstance(resource.get("associated_data", ""), str)
        ):
            raise MalformedNotification(reason="not an encrypted WeChat Pay v3 notification")
        canonical = {
            "Wechatpay-Timestamp": timestamp,
            "Wechatpay-Nonce": h["wechatpay-nonce"],
            "Wechatpay-Signature": h["wechatpay-signature"],
            "Wechatpay-Serial": h["wechatpay-serial"],
            "Wechatpay-Signature-Type": signature_type,
        }
        try:
            data = self._pay.callback(canonical, text)
        except Exception as exc:  # e.g. authentic, but the resource is not base64 / does not decrypt to JSON
            raise MalformedNotification(reason="resource does not decrypt to JSON") from exc
        if data is None:
            # The library returns None when the signature fails, and when GCM decryption fails
            # (tampered ciphertext or a different APIv3 key): neither may change anything.
            raise BadSignature()
        try:
            resource = data["resource"]
            if isinstance(resource, dict) and "combine_out_trade_no" in resource:
                result = combine_to_result(self.name, resource)
            else:
                result = transaction_to_result(self.name, resource)
        except ValueError as exc:
            raise MalformedNotification(reason=str(exc)) from exc
        if result.merchant_id != self.merchant_id:
            raise WrongMerchant(merchant_id=result.merchant_id)
        return result

    # ------------------------------------------------------------------ outgoing calls

    async def _call(
        self, operation: str, fn: Callable[..., tuple[int, Any]], **kwargs: Any
    ) -> tuple[int, Any]:
        try:
            code, text = await asyncio.to_thread(fn, **kwargs)
        except Exception as exc:  # network, TLS, bad response signature, library argument checks
            log.warning("wechatpay.call_failed", operation=operation, error=repr(exc))
            raise ProviderError(provider=self.name, operation=operation, reason=type(exc).__name__) from exc
        return code, text

    def _fail(self, operation: str, code: int, text: Any) -> ProviderError:
        provider_code = None
        try:
            body = _json(text)
            provider_code = body.get("code") if isinstance(body, dict) else None
        except ValueError:
            pass
        log.warning(
            "wechatpay.call_refused", operation=operation, http_status=code, provider_code=provider_code
        )
        return ProviderError(
            provider=self.name, operation=operation, http_status=code, provider_code=provider_code
        )

    def _ok_json(self, operation: str, code: int, text: Any) -> dict[str, Any]:
        if not 200 <= code < 300:
            raise self._fail(operation, code, text)
        try:
            body = _json(text)
        except ValueError as exc:
            raise ProviderError(
                provider=self.name, operation=operation, reason="response is not JSON"
            ) from exc
        if not isinstance(body, dict):
            raise ProviderError(provider=self.name, operation=operation, reason="response is not an object")
        return body

    async def create_payment(
        self,
        out_trade_no: str,
        amount_fen: int,
        description: str,
        payer_ref: str | None = None,
        *,
        client_ip: str | None = None,
        expires_at: datetime | None = None,
    ) -> PaymentIntent:
        """JSAPI / mini-program when the payer's openid is known, else H5 with the client IP,
        else Native (a QR code URL)."""
        _check_no(out_trade_no, "out_trade_no")
        require_fen(amount_fen, "amount_fen")
        kwargs: dict[str, Any] = {
            "description": (description or out_trade_no)[:127],
            "out_trade_no": out_trade_no,
            "amount": {"total": amount_fen, "currency": "CNY"},
        }
        if expires_at is not None:
            kwargs["time_expire"] = china_time(expires_at).isoformat(timespec="seconds")
        if payer_ref:
            kwargs.update(pay_type=WeChatPayType.JSAPI, payer={"openid": payer_ref})
        elif client_ip:
            kwargs.update(
                pay_type=WeChatPayType.H5,
                scene_info={"payer_client_ip": client_ip, "h5_info": {"type": "Wap"}},
            )
        else:
            kwargs.update(pay_type=WeChatPayType.NATIVE)
        code, text = await self._call("create_payment", self._pay.pay, **kwargs)
        body = self._ok_json("create_payment", code, text)
        params: dict[str, Any]
        if payer_ref:
            prepay_id = body.get("prepay_id")
            if not prepay_id:
                raise ProviderError(provider=self.name, operation="create_payment", reason="no prepay_id")
            params = self.jsapi_params(prepay_id)
        elif client_ip:
            params = {"h5_url": body.get("h5_url")}
        else:
            params = {"code_url": body.get("code_url")}
        return PaymentIntent(
            provider=self.name, out_trade_no=out_trade_no, amount_fen=amount_fen, client_params=params
        )

    def jsapi_params(self, prepay_id: str) -> dict[str, str]:
        """The signed arguments of `wx.requestPayment` / `WeixinJSBridge.invoke('getBrandWCPayRequest')`.

        timeStamp is real time on purpose: it is read by WeChat, not by our rules."""
        timestamp = str(int(time.time()))
        nonce = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(32))
        package = f"prepay_id={prepay_id}"
        pay_sign = self._pay.sign([self.config.appid, timestamp, nonce, package])
        return {
            "appId": self.config.appid,
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": pay_sign,
        }

    async def create_combined_payment(
        self,
        out_trade_no: str,
        amount_fen: int,
        sub_orders: Sequence[SubOrder],
        description: str,
        payer_ref: str | None = None,
        *,
        client_ip: str | None = None,
        expires_at: datetime | None = None,
    ) -> PaymentIntent:
        """合单支付 (POST /v3/combine-transactions/{jsapi|h5|native}): one payment, 2–50 sub-orders, each
        under our merchant id with its own out_trade_no and amount; same payer choice as create_payment."""
        _check_no(out_trade_no, "combine_out_trade_no")
        require_fen(amount_fen, "amount_fen")
        if not 2 <= len(sub_orders) <= 50 or sum(x.amount_fen for x in sub_orders) != amount_fen:
            raise ValueError("a combined payment has 2–50 sub-orders summing to its amount")
        subs = []
        for sub in sub_orders:
            _check_no(sub.out_trade_no, "out_trade_no")
            subs.append({
                "mchid": self.config.mchid,
                "attach": "",
                "amount": {"total_amount": require_fen(sub.amount_fen), "currency": "CNY"},
                "out_trade_no": sub.out_trade_no,
                "description": (sub.description or description or sub.out_trade_no)[:127],
            })
        kwargs: dict[str, Any] = {"combine_out_trade_no": out_trade_no, "sub_orders": subs}
        if expires_at is not None:
            kwargs["time_expire"] = china_time(expires_at).isoformat(timespec="seconds")
        if payer_ref:
            kwargs.update(pay_type=WeChatPayType.JSAPI, combine_payer_info={"openid": payer_ref})
        elif client_ip:
            kwargs.update(pay_type=WeChatPayType.H5,
                          scene_info={"payer_client_ip": client_ip, "h5_info": {"type": "Wap"}})
        else:
            kwargs.update(pay_type=WeChatPayType.NATIVE)
        code, text = await self._call("create_combined_payment", self._pay.combine_pay, **kwargs)
        body = self._ok_json("create_combined_payment", code, text)
        params: dict[str, Any]
        if payer_ref:
            prepay_id = body.get("prepay_id")
            if not prepay_id:
                raise ProviderError(provider=self.name, operation="create_combined_payment", reason="no prepay_id")
            params = self.jsapi_params(prepay_id)
        elif client_ip:
            params = {"h5_url": body.get("h5_url")}
        else:
            params = {"code_url": body.get("code_url")}
        return PaymentIntent(provider=self.name, out_trade_no=out_trade_no, amount_fen=amount_fen,
                             client_params=params)

    async def query_combined_payment(self, out_trade_no: str) -> PaymentResult | None:
        _check_no(out_trade_no, "combine_out_trade_no")
        code, text = await self._call("query_combined_payment", self._pay.combine_query,
                                      combine_out_trade_no=out_trade_no)
        if code == 404:
            return None
        body = self._ok_json("query_combined_payment", code, text)
        try:
            result = combine_to_result(self.name, body)
        except ValueError as exc:
            raise ProviderError(provider=self.name, operation="query_combined_payment", reason=str(exc)) from exc
        if result.merchant_id != self.merchant_id or result.out_trade_no != out_trade_no:
            raise ProviderError(provider=self.name, operation="query_combined_payment",
                                reason="answer for another order")
        return result

    async def query_payment(self, out_trade_no: str) -> PaymentResult | None:
        _check_no(out_trade_no, "out_trade_no")
        code, text = await self._call("query_payment", self._pay.query, out_trade_no=out_trade_no)
        if code == 404:
            return None  # ORDER_NOT_EXIST
        body = self._ok_json("query_payment", code, text)
        try:
            result = transaction_to_result(self.name, body)
        except ValueError as exc:
            raise ProviderError(provider=self.name, operation="query_payment", reason=str(exc)) from exc
        if result.merchant_id != self.merchant_id or result.out_trade_no != out_trade_no:
            raise ProviderError(
                provider=self.name, operation="query_payment", reason="answer for another order"
            )
        return result

    async def refund(
        self,
        out_refund_no: str,
        out_trade_no: str,
        transaction_id: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
    ) -> RefundResult:
        _check_no(out_refund_no, "out_refund_no", 64)
        _check_no(out_trade_no, "out_trade_no")
        require_fen(refund_fen, "refund_fen")
        require_fen(total_fen, "total_fen")
        code, text = await self._call(
            "refund",
            self._pay.refund,
            out_refund_no=out_refund_no,
            amount={"refund": refund_fen, "total": total_fen, "currency": "CNY"},
            transaction_id=transaction_id or None,
            out_trade_no=None if transaction_id else out_trade_no,
            reason=(reason or None) and reason[:80],
            notify_url=self.config.refund_notify_url,
        )
        return self._refund_result(out_refund_no, self._ok_json("refund", code, text), refund_fen)

    def _refund_result(self, out_refund_no: str, body: dict[str, Any], fallback_fen: int) -> RefundResult:
        amount = body.get("amount") if isinstance(body.get("amount"), dict) else {}
        refunded = amount.get("refund", fallback_fen)
        return RefundResult(
            provider=self.name,
            out_refund_no=body.get("out_refund_no") or out_refund_no,
            refund_id=str(body.get("refund_id") or ""),
            amount_fen=refunded
            if isinstance(refunded, int) and not isinstance(refunded, bool)
            else fallback_fen,
            status=_REFUND_STATUS.get(str(body.get("status")), "processing"),
            raw=body,
        )

    async def query_refund(self, out_refund_no: str, out_trade_no: str) -> RefundResult | None:
        _check_no(out_refund_no, "out_refund_no", 64)
        code, text = await self._call("query_refund", self._pay.query_refund, out_refund_no=out_refund_no)
        if code == 404:
            return None  # RESOURCE_NOT_EXISTS
        return self._refund_result(out_refund_no, self._ok_json("query_refund", code, text), 0)

    async def transfer(
        self, out_batch_no: str, payee_ref: str, amount_fen: int, remark: str
    ) -> TransferResult:
        """Merchant transfer to a user's change (商家转账， transfer-bills). `payee_ref` is the payee's openid.

        WeChat may answer WAIT_USER_CONFIRM: the payee's client then needs `raw["package_info"]`."""
        _check_no(out_batch_no, "out_batch_no")
        require_fen(amount_fen, "amount_fen")
        code, text = await self._call(
            "transfer",
            self._pay.mch_transfer_bills,
            out_bill_no=out_batch_no,
            transfer_scene_id=self.config.transfer_scene_id,
            openid=payee_ref,
            transfer_amount=amount_fen,
            transfer_remark=(remark or "佣金")[:32],
            transfer_scene_report_infos=[
                {"info_type": t, "info_content": c} for t, c in self.config.transfer_scene_report_infos
            ],
            notify_url=self.config.transfer_notify_url,
        )
        body = self._ok_json("transfer", code, text)
        return TransferResult(
            provider=self.name,
            out_batch_no=body.get("out_bill_no") or out_batch_no,
            transfer_id=str(body.get("transfer_bill_no") or ""),
            amount_fen=amount_fen,
            status=_TRANSFER_STATE.get(str(body.get("state")), "processing"),
            raw=body,
        )
