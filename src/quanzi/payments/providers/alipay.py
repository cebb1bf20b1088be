"""Alipay (open platform, public-key mode, RSA2) through `python-alipay-sdk`.

Async notifications are form-encoded; the library's `verify` checks `sign` (RSA-SHA256 over the sorted
`key=value&…` string of every parameter except `sign` and `sign_type`) with the Alipay public key.
Around it: strict form parsing, RSA2 only (no downgrade to RSA1), a 5-minute window on `notify_time`
(China time in the payload), app / seller checks and exact yuan → fen conversion.

`create_payment` signs an `alipay.trade.wap.pay` order string locally (no network). Query, refund and
transfer are blocking HTTP calls inside the library: they run in a worker thread and any failure becomes
`ProviderError`. Every request carries an explicit China-time `timestamp` (the library would otherwise
use the server's local time, which is UTC on our hosts).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl

import structlog
from alipay import AliPay
from alipay.utils import AliPayConfig
from Cryptodome.PublicKey import RSA

from quanzi.kit.clock import as_utc

from ._common import CHINA_TZ, check_fresh, china_time, fen_to_yuan, require_fen, yuan_to_fen
from .base import (
    BadSignature,
    MalformedNotification,
    PaymentIntent,
    PaymentResult,
    ProviderError,
    RefundResult,
    SubOrder,
    TransferResult,
    WrongMerchant,
)

log = structlog.get_logger("quanzi.payments.alipay")

TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
PAID_STATUSES = frozenset({"TRADE_SUCCESS", "TRADE_FINISHED"})
KNOWN_STATUSES = PAID_STATUSES | {"WAIT_BUYER_PAY", "TRADE_CLOSED"}
_ALIPAY_USER_ID = re.compile(r"^2088[0-9]{12}$")
_TRANSFER_STATUS = {"SUCCESS": "succeeded", "FAIL": "failed", "CLOSED": "failed"}  # others: processing


@dataclass(frozen=True)
class AlipayConfig:
    app_id: str
    app_private_key: str  # PEM (PKCS#1 or PKCS#8) or the bare base64 the Alipay key tool prints
    alipay_public_key: str  # "支付宝公钥", PEM or bare base64
    notify_url: str | None = None
    return_url: str | None = None
    seller_id: str | None = None  # the merchant PID (2088…); when set, notifications must carry it
    sandbox: bool = False  # use Alipay's sandbox gateway
    gateway_url: str | None = None  # override (tests, egress proxies)
    timeout_seconds: float = 15.0


def _pem(key: str, private: bool) -> str:
    """Accept PEM or the bare base64 DER Alipay's tools hand out; return PEM for the library."""
    key = key.strip()
    if "-----BEGIN" in key:
        return key
    try:
        der = base64.b64decode("".join(key.split()), validate=True)
        rsa_key = RSA.import_key(der)
    except (binascii.Error, ValueError, IndexError, TypeError) as exc:
        raise ValueError("not an RSA key in PEM or base64 DER") from exc
    if private != rsa_key.has_private():
        raise ValueError("expected a private key" if private else "expected a public key")
    return rsa_key.export_key().decode()


def _china_now() -> str:
    # Real time on purpose: Alipay compares it with its own clock, not with our rules' clock.
    return datetime.now(CHINA_TZ).strftime(TIME_FORMAT)


def _parse_china_time(value: str) -> datetime:
    return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=CHINA_TZ)


class AlipayProvider:
    """`PaymentProvider` for Alipay (mobile web pay, `alipay.trade.wap.pay`)."""

    refunds_per_sub_order = False  # a checkout is one trade: partial refunds (out_request_no) against it

    def __init__(self, config: AlipayConfig, *, name: str = "alipay") -> None:
        self.name = name
        self.config = config
        self.merchant_id = config.app_id
        self._alipay = AliPay(
            appid=config.app_id,
            app_notify_url=config.notify_url,
            app_private_key_string=_pem(config.app_private_key, private=True),
            alipay_public_key_string=_pem(config.alipay_public_key, private=False),
            sign_type="RSA2",
            debug=config.sandbox,
            config=AliPayConfig(timeout=config.timeout_seconds),
        )
        if config.gateway_url:
            self._alipay._gateway = config.gateway_url  # no public setting in the library
        self.gateway = self._alipay._gateway

    # ------------------------------------------------------------------ notifications

    def verify_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> PaymentResult:
        try:
            text = bytes(body).decode("utf-8")
            pairs = parse_qsl(text, keep_blank_values=True, strict_parsing=True, errors="strict")
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedNotification(reason="body is not a form") from exc
        data: dict[str, str] = {}
        for key, value in pairs:
            if key in data:
                raise MalformedNotification(reason=f"duplicate parameter {key}")
            data[key] = value
        signature = data.pop("sign", "")
        if not signature:
            raise MalformedNotification(reason="sign missing")
        if data.get("sign_type", "RSA2") != "RSA2":
            raise MalformedNotification(reason="only RSA2 is accepted", sign_type=data.get("sign_type"))
        missing = [
            k
            for k in ("notify_time", "app_id", "out_trade_no", "trade_status", "total_amount")
            if not data.get(k)
        ]
        if missing:
            raise MalformedNotification(missing=missing)
        try:
            sent_at = _parse_china_time(data["notify_time"])
        except ValueError as exc:
            raise MalformedNotification(reason="notify_time is not yyyy-MM-dd HH:mm:ss") from exc
        check_fresh(sent_at, now)
        try:
            # verify() pops sign_type from the dict it is given: hand it a copy.
            authentic = self._alipay.verify(dict(data), signature)
        except Exception as exc:  # undecodable base64, wrong key size, …
            raise BadSignature() from exc
        if not authentic:
            raise BadSignature()
        if data["app_id"] != self.config.app_id:
            raise WrongMerchant(merchant_id=data["app_id"])
        if self.config.seller_id and data.get("seller_id") != self.config.seller_id:
            raise WrongMerchant(merchant_id=data.get("seller_id"))
        try:
            return self._to_result(data)
        except ValueError as exc:
            raise MalformedNotification(reason=str(exc)) from exc

    def _to_result(self, data: Mapping[str, Any], merchant_id: str | None = None) -> PaymentResult:
        status = data.get("trade_status")
        if status not in KNOWN_STATUSES:
            raise ValueError(f"unknown trade_status {status!r}")
        paid = status in PAID_STATUSES
        trade_no = data.get("trade_no") or ""
        if paid and not trade_no:
            raise ValueError("trade_no missing")
        when = data.get("gmt_payment") or data.get("send_pay_date")
        paid_at = as_utc(_parse_china_time(when)) if paid and when else None
        return PaymentResult(
            provider=self.name,
            out_trade_no=str(data["out_trade_no"]),
            transaction_id=trade_no,
            amount_fen=yuan_to_fen(data["total_amount"]),
            merchant_id=merchant_id or str(data["app_id"]),
            paid=paid,
            paid_at=paid_at,
            raw=dict(data),
        )

    # ------------------------------------------------------------------ outgoing calls

    async def _server_api(self, operation: str, method: str, biz_content: dict[str, Any]) -> dict[str, Any]:
        try:
            response = await asyncio.to_thread(
                self._alipay.server_api, method, biz_content, timestamp=_china_now()
            )
        except Exception as exc:  # network, HTTP error, unsigned error_response, bad response signature
            log.warning("alipay.call_failed", operation=operation, error=repr(exc))
            raise ProviderError(provider=self.name, operation=operation, reason=type(exc).__name__) from exc
        if not isinstance(response, dict):
            raise ProviderError(provider=self.name, operation=operation, reason="response is not an object")
        return response

    def _fail(self, operation: str, response: Mapping[str, Any]) -> ProviderError:
        log.warning(
            "alipay.call_refused",
            operation=operation,
            provider_code=response.get("code"),
            sub_code=response.get("sub_code"),
        )
        return ProviderError(
            provider=self.name,
            operation=operation,
            provider_code=response.get("code"),
            sub_code=response.get("sub_code"),
        )

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
        require_fen(amount_fen)
        biz: dict[str, Any] = {
            "subject": (description or out_trade_no)[:256],
            "out_trade_no": out_trade_no,
            "total_amount": fen_to_yuan(amount_fen),
            "product_code": "QUICK_WAP_WAY",
        }
        if expires_at is not None:
            biz["time_expire"] = china_time(expires_at).strftime(TIME_FORMAT)
        if self.config.return_url:
            biz["quit_url"] = self.config.return_url
        order_string = self._alipay.client_api(
            "alipay.trade.wap.pay",
            biz,
            return_url=self.config.return_url,
            notify_url=self.config.notify_url,
            timestamp=_china_now(),
        )
        return PaymentIntent(
            provider=self.name,
            out_trade_no=out_trade_no,
            amount_fen=amount_fen,
            client_params={"pay_url": f"{self.gateway}?{order_string}", "order_string": order_string},
        )

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
        """Alipay has no sub-orders for a direct merchant: one trade for the checkout's total; how it splits
        over the orders is kept on our side (the sub-orders' shares), and refunds go against this trade."""
        if sum(x.amount_fen for x in sub_orders) != amount_fen:
            raise ValueError("sub-orders must sum to the amount")
        return await self.create_payment(out_trade_no, amount_fen, description, payer_ref,
                                         client_ip=client_ip, expires_at=expires_at)

    async def query_combined_payment(self, out_trade_no: str) -> PaymentResult | None:
        return await self.query_payment(out_trade_no)

    async def query_payment(self, out_trade_no: str) -> PaymentResult | None:
        response = await self._server_api(
            "query_payment", "alipay.trade.query", {"out_trade_no": out_trade_no}
        )
        if response.get("code") != "10000":
            if response.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return None
            raise self._fail("query_payment", response)
        if response.get("out_trade_no") != out_trade_no:
            raise ProviderError(
                provider=self.name, operation="query_payment", reason="answer for another order"
            )
        try:
            return self._to_result(response, merchant_id=self.config.app_id)
        except (ValueError, KeyError) as exc:
            raise ProviderError(provider=self.name, operation="query_payment", reason=str(exc)) from exc

    async def refund(
        self,
        out_refund_no: str,
        out_trade_no: str,
        transaction_id: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
    ) -> RefundResult:
        """Idempotent per `out_refund_no` (Alipay's out_request_no).

        fund_change "N" means this call moved no money (e.g. a repeat): we ask the refund query
        whether the refund under this out_request_no has succeeded."""
        require_fen(refund_fen, "refund_fen")
        require_fen(total_fen, "total_fen")
        biz: dict[str, Any] = {
            "refund_amount": fen_to_yuan(refund_fen),
            "out_trade_no": out_trade_no,
            "out_request_no": out_refund_no,
        }
        if transaction_id:
            biz["trade_no"] = transaction_id
        if reason:
            biz["refund_reason"] = reason[:256]
        response = await self._server_api("refund", "alipay.trade.refund", biz)
        if response.get("code") != "10000":
            raise self._fail("refund", response)
        status = "succeeded" if response.get("fund_change") == "Y" else "processing"
        if status == "processing":
            query = await self._server_api(
                "refund",
                "alipay.trade.fastpay.refund.query",
                {
                    "out_trade_no": out_trade_no,
                    "out_request_no": out_refund_no,
                    "query_options": ["gmt_refund_pay"],
                },
            )
            if query.get("code") == "10000" and query.get("refund_status") == "REFUND_SUCCESS":
                status = "succeeded"
                response = {**response, "refund_query": query}
        return RefundResult(
            provider=self.name,
            out_refund_no=out_refund_no,
            refund_id=str(response.get("trade_no") or transaction_id),
            amount_fen=refund_fen,
            status=status,
            raw=response,
        )

    async def query_refund(self, out_refund_no: str, out_trade_no: str) -> RefundResult | None:
        response = await self._server_api(
            "query_refund",
            "alipay.trade.fastpay.refund.query",
            {"out_trade_no": out_trade_no, "out_request_no": out_refund_no},
        )
        if response.get("code") != "10000":
            if response.get("sub_code") == "ACQ.TRADE_NOT_EXIST":
                return None
            raise self._fail("query_refund", response)
        if not response.get("refund_amount"):
            return None  # Alipay answers 10000 with no refund fields when there is no such refund
        try:
            amount = yuan_to_fen(str(response["refund_amount"]))
        except ValueError as exc:
            raise ProviderError(provider=self.name, operation="query_refund", reason=str(exc)) from exc
        return RefundResult(
            provider=self.name,
            out_refund_no=out_refund_no,
            refund_id=str(response.get("trade_no") or ""),
            amount_fen=amount,
            status="succeeded" if response.get("refund_status") == "REFUND_SUCCESS" else "processing",
            raw=response,
        )

    async def transfer(
        self, out_batch_no: str, payee_ref: str, amount_fen: int, remark: str
    ) -> TransferResult:
        """Single transfer to an Alipay account (alipay.fund.trans.uni.transfer).

        `payee_ref`: a 2088… user id, else an open id. Note: Alipay only grants this API to apps in
        public-key-*certificate* mode; in plain public-key mode it answers with an error (→ ProviderError)."""
        require_fen(amount_fen)
        identity_type = "ALIPAY_USER_ID" if _ALIPAY_USER_ID.match(payee_ref) else "ALIPAY_OPEN_ID"
        biz = {
            "out_biz_no": out_batch_no,
            "trans_amount": fen_to_yuan(amount_fen),
            "product_code": "TRANS_ACCOUNT_NO_PWD",
            "biz_scene": "DIRECT_TRANSFER",
            "order_title": (remark or "佣金")[:128],
            "remark": (remark or "佣金")[:200],
            "payee_info": {"identity": payee_ref, "identity_type": identity_type},
        }
        response = await self._server_api("transfer", "alipay.fund.trans.uni.transfer", biz)
        if response.get("code") != "10000":
            raise self._fail("transfer", response)
        return TransferResult(
            provider=self.name,
            out_batch_no=out_batch_no,
            transfer_id=str(response.get("order_id") or ""),
            amount_fen=amount_fen,
            status=_TRANSFER_STATUS.get(str(response.get("status")), "processing"),
            raw=response,
        )
