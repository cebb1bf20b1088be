"""Payment providers by name: `sandbox` (default), `wechatpay`, `alipay`.

    config = ProviderConfig.from_settings(get_settings())
    provider = make_provider(settings.payment_provider, config)

Build each provider once per process and keep it (the sandbox keeps failure-simulation counters;
the real adapters hold parsed keys). See base.py for the interface and the error classes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quanzi.config import ROOT

from .alipay import AlipayConfig, AlipayProvider
from .base import (
    NOTIFICATION_TOLERANCE,
    BadSignature,
    MalformedNotification,
    NotificationRejected,
    PaymentCode,
    PaymentIntent,
    PaymentProvider,
    PaymentResult,
    ProviderError,
    RefundResult,
    StaleNotification,
    SubOrder,
    SubPayment,
    TransferResult,
    WrongMerchant,
)
from .sandbox import SandboxProvider
from .wechatpay import WechatPayConfig, WechatPayProvider

__all__ = [
    "NOTIFICATION_TOLERANCE",
    "PROVIDERS",
    "AlipayConfig",
    "AlipayProvider",
    "BadSignature",
    "MalformedNotification",
    "NotificationRejected",
    "PaymentCode",
    "PaymentIntent",
    "PaymentProvider",
    "PaymentResult",
    "ProviderConfig",
    "ProviderError",
    "RefundResult",
    "SandboxProvider",
    "StaleNotification",
    "SubOrder",
    "SubPayment",
    "TransferResult",
    "WechatPayConfig",
    "WechatPayProvider",
    "WrongMerchant",
    "make_provider",
]


@dataclass(frozen=True)
class ProviderConfig:
    """Everything the three adapters need. `from_settings` reads it from the app settings."""

    sandbox_key_dir: Path = ROOT / "var" / "sandbox-keys"
    sandbox_merchant_id: str = "sandbox-mch"
    sandbox_pay_url: str = "/pay/sandbox/{out_trade_no}"
    sandbox_notify_url: str = "http://127.0.0.1:8000/api/payments/notify/sandbox"
    wechatpay: WechatPayConfig | None = None  # None: not configured
    alipay: AlipayConfig | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> ProviderConfig:
        """Read the `sandbox_*`, `wechatpay_*` and `alipay_*` fields of Settings (missing fields → defaults;
        WeChat Pay / Alipay count as configured once their merchant id / app id is set)."""

        def get(name: str, default: Any = None) -> Any:
            value = getattr(settings, name, default)
            if hasattr(value, "get_secret_value"):  # pydantic SecretStr
                value = value.get_secret_value()
            return default if value in (None, "") else value

        def read(name: str) -> str:
            path = get(name)
            if not path:
                raise ValueError(f"payment settings: {name} is required")
            return Path(path).read_text()

        def need(name: str) -> Any:
            value = get(name)
            if value is None:
                raise ValueError(f"payment settings: {name} is required")
            return value

        public_url = str(get("public_url", "http://127.0.0.1:8000")).rstrip("/")
        key_dir = Path(get("sandbox_key_dir", ROOT / "var" / "sandbox-keys"))

        wechatpay = None
        if get("wechatpay_mchid"):
            wechatpay = WechatPayConfig(
                mchid=need("wechatpay_mchid"),
                appid=need("wechatpay_appid"),
                apiv3_key=need("wechatpay_apiv3_key"),
                private_key=read("wechatpay_private_key_path"),
                cert_serial_no=need("wechatpay_cert_serial_no"),
                public_key=read("wechatpay_public_key_path"),
                public_key_id=need("wechatpay_public_key_id"),
                notify_url=get("wechatpay_notify_url", f"{public_url}/api/payments/notify/wechatpay"),
                refund_notify_url=get("wechatpay_refund_notify_url"),
                transfer_notify_url=get("wechatpay_transfer_notify_url"),
                transfer_scene_id=get("wechatpay_transfer_scene_id", "1005"),
                api_base_url=get("wechatpay_api_base_url"),
            )
        alipay = None
        if get("alipay_app_id"):
            alipay = AlipayConfig(
                app_id=need("alipay_app_id"),
                app_private_key=read("alipay_app_private_key_path"),
                alipay_public_key=read("alipay_public_key_path"),
                notify_url=get("alipay_notify_url", f"{public_url}/api/payments/notify/alipay"),
                return_url=get("alipay_return_url"),
                seller_id=get("alipay_seller_id"),
                sandbox=bool(get("alipay_sandbox", False)),
                gateway_url=get("alipay_gateway_url"),
            )
        return cls(
            sandbox_key_dir=key_dir,
            sandbox_merchant_id=get("sandbox_merchant_id", "sandbox-mch"),
            sandbox_pay_url=get("sandbox_pay_url", "/pay/sandbox/{out_trade_no}"),
            sandbox_notify_url=get("sandbox_notify_url", f"{public_url}/api/payments/notify/sandbox"),
            wechatpay=wechatpay,
            alipay=alipay,
        )


def _sandbox(config: ProviderConfig) -> PaymentProvider:
    return SandboxProvider(
        config.sandbox_key_dir,
        merchant_id=config.sandbox_merchant_id,
        pay_url=config.sandbox_pay_url,
        notify_url=config.sandbox_notify_url,
    )


def _wechatpay(config: ProviderConfig) -> PaymentProvider:
    if config.wechatpay is None:
        raise ValueError("payment provider 'wechatpay' is not configured (set QUANZI_WECHATPAY_MCHID, …)")
    return WechatPayProvider(config.wechatpay)


def _alipay(config: ProviderConfig) -> PaymentProvider:
    if config.alipay is None:
        raise ValueError("payment provider 'alipay' is not configured (set QUANZI_ALIPAY_APP_ID, …)")
    return AlipayProvider(config.alipay)


PROVIDERS: dict[str, Callable[[ProviderConfig], PaymentProvider]] = {
    "sandbox": _sandbox,
    "wechatpay": _wechatpay,
    "alipay": _alipay,
}


def make_provider(name: str, config: ProviderConfig | None = None) -> PaymentProvider:
    """The provider called `name`, built from `config` (default: sandbox with its default key dir)."""
    try:
        factory = PROVIDERS[name]
    except KeyError:
        raise ValueError(f"unknown payment provider {name!r}; known: {', '.join(PROVIDERS)}") from None
    return factory(config or ProviderConfig())
