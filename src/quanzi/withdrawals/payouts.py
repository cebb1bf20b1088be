"""Payout channels: how an approved withdrawal's money leaves the platform.

- `wechat`: WeChat Pay merchant transfer to the payee's change (商家转账到零钱, v3 transfer-bills, wechatpayv3);
  needs the payee's openid in the merchant's app (wechat.service.openid_for).
- `alipay`: Alipay transfer to an account (alipay.fund.trans.uni.transfer, python-alipay-sdk).
- `offline`: bank card (and the platform wallet): the operator pays outside the system and confirms in the
  withdrawal console with the bank's reference; nothing is called here.
- `sandbox`: the local payment sandbox; only when QUANZI_PAYOUT_SANDBOX=1, never in production.

Every call is idempotent by our out-bill number (WeChat out_bill_no, Alipay out_biz_no), so a retry after a
timeout never pays twice, and `query` tells the final state of a transfer that was still processing
(transfers are asynchronous). Calls raise `ProviderError` when the outcome is unknown (network, 5xx, rate
limits): the caller retries. A definite refusal is a result with status "failed" and a reason.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog
from alipay import AliPay
from alipay.utils import AliPayConfig
from cryptography.hazmat.primitives import serialization
from wechatpayv3 import WeChatPay, WeChatPayType

from quanzi.config import Settings
from quanzi.payments import registry as payment_registry
from quanzi.payments.providers import AlipayConfig, ProviderConfig, ProviderError, WechatPayConfig, make_provider
from quanzi.payments.providers._common import CHINA_TZ, fen_to_yuan, require_fen

log = structlog.get_logger("quanzi.withdrawals.payouts")

OFFLINE = "offline"


class ConfigurationError(RuntimeError):
    """A configuration this process must not start with; the message says what to change."""


@dataclass(frozen=True)
class PayoutResult:
    status: str  # succeeded | processing | failed
    transfer_id: str = ""
    state: str = ""  # the provider's own word for it (SUCCESS, WAIT_USER_CONFIRM, FAIL, DEALING, …)
    reason: str = ""  # why it failed, as the provider said
    raw: dict[str, Any] = field(default_factory=dict)


class PayoutChannel(Protocol):
    name: str
    # The WeChat app whose openid the payee must have (None: the channel needs no openid).
    openid_app_id: str | None

    async def transfer(self, out_bill_no: str, payee: dict[str, Any], amount_fen: int, remark: str) -> PayoutResult:
        ...

    async def query(self, out_bill_no: str) -> PayoutResult | None:
        """The transfer's state now; None if the provider never heard of `out_bill_no`."""
        ...


# ------------------------------------------------------------------------------------------ WeChat Pay

# transfer-bills states: ACCEPTED, PROCESSING, WAIT_USER_CONFIRM, TRANSFERING, SUCCESS, FAIL, CANCELING, CANCELLED
_WX_FINAL = {"SUCCESS": "succeeded", "FAIL": "failed", "CANCELLED": "failed"}
# 4xx codes after which the same request can succeed later: the outcome is not final.
_WX_RETRY = {"NOT_ENOUGH", "FREQUENCY_LIMITED", "SYSTEM_ERROR", "FREQUENCY_LIMIT_EXCEED"}
_OUT_NO = re.compile(r"^[0-9A-Za-z]{5,32}$")


def _pkcs8(pem: str) -> str:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _spki(pem: str) -> str:
    key = serialization.load_pem_public_key(pem.encode())
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _json(text: Any) -> Any:
    if isinstance(text, bytes | bytearray):
        text = text.decode("utf-8")
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {}


class WechatTransfer:
    """商家转账 (transfer-bills) in platform public-key mode; the library signs requests and verifies the
    signature of every answer with WeChat Pay's public key."""

    name = "wechat"

    def __init__(self, config: WechatPayConfig) -> None:
        self.config = config
        self.openid_app_id = config.appid
        t = config.timeout_seconds
        self._pay = WeChatPay(wechatpay_type=WeChatPayType.JSAPI, mchid=config.mchid,
                              private_key=_pkcs8(config.private_key), cert_serial_no=config.cert_serial_no,
                              appid=config.appid, apiv3_key=config.apiv3_key, notify_url=config.notify_url,
                              timeout=(t, t), public_key=_spki(config.public_key),
                              public_key_id=config.public_key_id)
        if config.api_base_url:
            self._pay._core._gate_way = config.api_base_url.rstrip("/")  # no public setting in the library

    async def _call(self, operation: str, fn: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        try:
            code, text = await asyncio.to_thread(fn, **kwargs)
        except Exception as exc:  # network, TLS, an answer not signed by WeChat Pay
            log.warning("payout.wechat.call_failed", operation=operation, error=repr(exc))
            raise ProviderError(provider=self.name, operation=operation, reason=type(exc).__name__) from exc
        body = _json(text)
        return code, body if isinstance(body, dict) else {}

    def _result(self, body: dict[str, Any]) -> PayoutResult:
        state = str(body.get("state") or "")
        return PayoutResult(status=_WX_FINAL.get(state, "processing"), transfer_id=str(body.get("transfer_bill_no") or ""),
                            state=state, reason=str(body.get("fail_reason") or ""), raw=body)

    async def transfer(self, out_bill_no: str, payee: dict[str, Any], amount_fen: int, remark: str) -> PayoutResult:
        if not _OUT_NO.match(out_bill_no):
            raise ValueError(f"out_bill_no must be 5–32 letters or digits: {out_bill_no!r}")
        require_fen(amount_fen)
        openid = str(payee.get("openid") or "")
        if not openid:
            return PayoutResult(status="failed", state="NO_OPENID", reason="payee has no openid")
        code, body = await self._call(
            "transfer", self._pay.mch_transfer_bills, out_bill_no=out_bill_no,
            transfer_scene_id=self.config.transfer_scene_id, openid=openid, transfer_amount=amount_fen,
            transfer_remark=(remark or "佣金")[:32],
            transfer_scene_report_infos=[{"info_type": k, "info_content": v}
                                         for k, v in self.config.transfer_scene_report_infos],
            notify_url=self.config.transfer_notify_url)
        if 200 <= code < 300:
            return self._result(body)
        provider_code = str(body.get("code") or "")
        if code >= 500 or code == 429 or provider_code in _WX_RETRY:
            raise ProviderError(provider=self.name, operation="transfer", http_status=code, provider_code=provider_code)
        # A definite refusal (bad openid, real-name mismatch, no permission): nothing was paid.
        return PayoutResult(status="failed", state=provider_code or str(code),
                            reason=str(body.get("message") or provider_code), raw=body)

    async def query(self, out_bill_no: str) -> PayoutResult | None:
        code, body = await self._call("query", self._pay.mch_transfer_bills_query, out_bill_no=out_bill_no)
        if code == 404:
            return None
        if not 200 <= code < 300:
            raise ProviderError(provider=self.name, operation="query", http_status=code,
                                provider_code=body.get("code"))
        if body.get("out_bill_no") not in (None, out_bill_no):
            raise ProviderError(provider=self.name, operation="query", reason="answer for another transfer")
        return self._result(body)


# ---------------------------------------------------------------------------------------------- Alipay

_ALIPAY_USER_ID = re.compile(r"^2088[0-9]{12}$")
_ALI_STATUS = {"SUCCESS": "succeeded", "FAIL": "failed", "CLOSED": "failed", "REFUND": "failed"}  # DEALING …
# Business refusals after which the same transfer may still go through: not final.
_ALI_RETRY = {"SYSTEM_ERROR", "PAYER_BALANCE_NOT_ENOUGH", "aop.SYSTEM_ERROR", "isp.unknow-error"}


def _pem(key: str, private: bool) -> str:
    from quanzi.payments.providers.alipay import _pem as alipay_pem  # PEM or Alipay's bare base64

    return alipay_pem(key, private)


class AlipayTransfer:
    """alipay.fund.trans.uni.transfer to an Alipay account (2088… user id, or a logon id — phone or e-mail —
    with the account holder's real name, which Alipay checks); the library verifies every answer's RSA2
    signature with Alipay's public key."""

    name = "alipay"
    openid_app_id = None

    def __init__(self, config: AlipayConfig) -> None:
        self.config = config
        self._alipay = AliPay(appid=config.app_id, app_notify_url=None,
                              app_private_key_string=_pem(config.app_private_key, private=True),
                              alipay_public_key_string=_pem(config.alipay_public_key, private=False),
                              sign_type="RSA2", debug=config.sandbox,
                              config=AliPayConfig(timeout=config.timeout_seconds))
        if config.gateway_url:
            self._alipay._gateway = config.gateway_url  # no public setting in the library

    async def _api(self, operation: str, method: str, biz: dict[str, Any]) -> dict[str, Any]:
        # Alipay compares `timestamp` with its own clock: real China time, not the rules' clock.
        now = datetime.now(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")
        try:
            response = await asyncio.to_thread(self._alipay.server_api, method, biz, timestamp=now)
        except Exception as exc:  # network, HTTP error, an answer not signed by Alipay
            log.warning("payout.alipay.call_failed", operation=operation, error=repr(exc))
            raise ProviderError(provider=self.name, operation=operation, reason=type(exc).__name__) from exc
        if not isinstance(response, dict):
            raise ProviderError(provider=self.name, operation=operation, reason="response is not an object")
        return response

    def _result(self, response: dict[str, Any]) -> PayoutResult:
        state = str(response.get("status") or "")
        return PayoutResult(status=_ALI_STATUS.get(state, "processing"), transfer_id=str(response.get("order_id") or ""),
                            state=state, reason=str(response.get("fail_reason") or response.get("error_code") or ""),
                            raw=response)

    async def transfer(self, out_bill_no: str, payee: dict[str, Any], amount_fen: int, remark: str) -> PayoutResult:
        require_fen(amount_fen)
        account = str(payee.get("account") or "")
        info: dict[str, Any] = {"identity": account}
        if _ALIPAY_USER_ID.match(account):
            info["identity_type"] = "ALIPAY_USER_ID"
        else:
            info.update(identity_type="ALIPAY_LOGON_ID", name=str(payee.get("name") or ""))
        response = await self._api("transfer", "alipay.fund.trans.uni.transfer", {
            "out_biz_no": out_bill_no, "trans_amount": fen_to_yuan(amount_fen), "product_code": "TRANS_ACCOUNT_NO_PWD",
            "biz_scene": "DIRECT_TRANSFER", "order_title": (remark or "佣金")[:128], "remark": (remark or "佣金")[:200],
            "payee_info": info})
        code = str(response.get("code") or "")
        if code == "10000":
            return self._result(response)
        sub_code = str(response.get("sub_code") or "")
        if code == "40004" and sub_code not in _ALI_RETRY:
            return PayoutResult(status="failed", state=sub_code, reason=str(response.get("sub_msg") or sub_code),
                                raw=response)
        raise ProviderError(provider=self.name, operation="transfer", provider_code=code, sub_code=sub_code)

    async def query(self, out_bill_no: str) -> PayoutResult | None:
        response = await self._api("query", "alipay.fund.trans.common.query", {
            "out_biz_no": out_bill_no, "product_code": "TRANS_ACCOUNT_NO_PWD", "biz_scene": "DIRECT_TRANSFER"})
        if response.get("code") != "10000":
            if response.get("sub_code") == "ORDER_NOT_EXIST":
                return None
            raise ProviderError(provider=self.name, operation="query", provider_code=response.get("code"),
                                sub_code=response.get("sub_code"))
        return self._result(response)


# --------------------------------------------------------------------------------------------- sandbox


class SandboxPayout:
    """The local sandbox (development, demos, tests): succeeds at once, idempotent per out_bill_no."""

    name = "sandbox"
    openid_app_id = None

    def __init__(self, provider: Any) -> None:
        self.provider = provider

    async def transfer(self, out_bill_no: str, payee: dict[str, Any], amount_fen: int, remark: str) -> PayoutResult:
        r = await self.provider.transfer(out_bill_no, str(payee.get("openid") or payee.get("account") or "-"),
                                         amount_fen, remark)
        return PayoutResult(status=r.status, transfer_id=r.transfer_id, state=r.status.upper(), raw=dict(r.raw))

    async def query(self, out_bill_no: str) -> PayoutResult | None:
        return None  # the sandbox settles in the transfer call itself; a repeat transfer is idempotent


# ---------------------------------------------------------------------------------------------- registry

_channels: dict[str, PayoutChannel] = {}


def check_configuration(settings: Settings) -> None:
    """Refuse to start a production process that would 'pay' withdrawals through the sandbox."""
    if settings.is_production and settings.payout_sandbox:
        raise ConfigurationError(
            "QUANZI_ENVIRONMENT=production with QUANZI_PAYOUT_SANDBOX=1: withdrawals would be marked paid by the local "
            "sandbox while no money moves. Unset QUANZI_PAYOUT_SANDBOX and configure WeChat Pay "
            "(QUANZI_WECHATPAY_*) and/or Alipay (QUANZI_ALIPAY_*) for payouts; bank-card withdrawals are "
            "settled offline by an operator.")


def configure(settings: Settings, config: ProviderConfig | None = None) -> None:
    """Build this process's payout channels from the settings (after the production check)."""
    check_configuration(settings)
    config = config or ProviderConfig.from_settings(settings)
    channels: dict[str, PayoutChannel] = {}
    if config.wechatpay is not None:
        channels["wechat"] = WechatTransfer(config.wechatpay)
    if config.alipay is not None:
        channels["alipay"] = AlipayTransfer(config.alipay)
    if settings.payout_sandbox:
        sandbox = (payment_registry.get("sandbox") if "sandbox" in payment_registry.names()
                   else make_provider("sandbox", config))
        channels["sandbox"] = SandboxPayout(sandbox)
    set_channels(channels)


def set_channels(channels: dict[str, PayoutChannel]) -> None:
    _channels.clear()
    _channels.update(channels)


def channel_for(method: str) -> str | None:
    """Which channel pays a withdrawal by `method`; None when this deployment cannot pay that way."""
    if method in ("bank", "wallet"):
        return OFFLINE
    real = {"wechat": "wechat", "alipay": "alipay"}.get(method)
    if real in _channels:
        return real
    if "sandbox" in _channels and real is not None:
        return "sandbox"
    return None


def get(name: str) -> PayoutChannel | None:
    return _channels.get(name)
