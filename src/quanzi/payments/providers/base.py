"""The provider interface used by everything that takes or returns money.

Adapters: `sandbox` (local; WeChat Pay v3-shaped signed notifications through the same verification
code as `wechatpay`), `wechatpay` (wechatpayv3, public-key mode) and `alipay` (python-alipay-sdk).
No adapter method may be called while a database transaction holds locks (DESIGN rule 3).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from quanzi.kit.errors import DomainError


class PaymentCode:
    BAD_SIGNATURE = "payment.bad_signature"
    STALE = "payment.stale_notification"
    MALFORMED = "payment.malformed_notification"
    WRONG_MERCHANT = "payment.wrong_merchant"
    PROVIDER_ERROR = "payment.provider_error"


# A notification whose own timestamp is further than this from our clock is refused (replay window).
NOTIFICATION_TOLERANCE = timedelta(minutes=5)


class NotificationRejected(DomainError):
    """A provider notification that must not change anything (forged, stale, malformed)."""

    status = 400
    code = PaymentCode.BAD_SIGNATURE
    message = {"zh": "支付通知验证失败", "en": "Payment notification rejected"}


class BadSignature(NotificationRejected):
    code = PaymentCode.BAD_SIGNATURE


class StaleNotification(NotificationRejected):
    code = PaymentCode.STALE
    message = {"zh": "支付通知已过期", "en": "Payment notification is too old"}


class MalformedNotification(NotificationRejected):
    code = PaymentCode.MALFORMED
    message = {"zh": "支付通知格式错误", "en": "Malformed payment notification"}


class WrongMerchant(NotificationRejected):
    """Authentic, but addressed to another merchant / app than the one this provider is configured for."""

    code = PaymentCode.WRONG_MERCHANT
    message = {"zh": "支付通知的商户号不匹配", "en": "Payment notification is for another merchant"}


class ProviderError(DomainError):
    """The provider could not be reached or refused the call; safe to retry with the same key."""

    status = 502
    code = PaymentCode.PROVIDER_ERROR
    message = {
        "zh": "支付渠道暂时不可用，请稍后再试",
        "en": "The payment provider is unavailable; try again later",
    }


@dataclass(frozen=True)
class PaymentIntent:
    """What the client needs to start paying (prepay id / pay URL / sandbox page)."""

    provider: str
    out_trade_no: str
    amount_fen: int
    client_params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SubOrder:
    """One order's share of a combined payment, as we ask for it."""

    out_trade_no: str
    amount_fen: int
    description: str = ""


@dataclass(frozen=True)
class SubPayment:
    """One sub-order of a combined payment as the provider reports it (WeChat 合单: its own transaction id)."""

    out_trade_no: str
    transaction_id: str
    amount_fen: int
    paid: bool


@dataclass(frozen=True)
class PaymentResult:
    """A verified statement from the provider that money for `out_trade_no` arrived (or not).

    For a combined payment `out_trade_no` is the combined number, `amount_fen` the sum of its sub-orders,
    `transaction_id` the first sub-order's (a stable inbox key) and `sub_payments` lists every sub-order;
    a provider without sub-orders (Alipay: one trade for the total) leaves `sub_payments` empty."""

    provider: str
    out_trade_no: str
    transaction_id: str
    amount_fen: int
    merchant_id: str
    paid: bool
    paid_at: datetime | None
    raw: dict[str, Any] = field(default_factory=dict)
    sub_payments: tuple[SubPayment, ...] = ()


@dataclass(frozen=True)
class RefundResult:
    provider: str
    out_refund_no: str
    refund_id: str
    amount_fen: int
    status: str  # succeeded | processing | failed
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TransferResult:
    provider: str
    out_batch_no: str
    transfer_id: str
    amount_fen: int
    status: str  # succeeded | processing | failed
    # Provider extras, e.g. WeChat's `package_info` the payee's client needs to confirm a transfer.
    raw: dict[str, Any] = field(default_factory=dict)


class PaymentProvider(Protocol):
    name: str
    merchant_id: str
    # True: a combined payment's sub-orders are refunded one by one against their own transaction (WeChat
    # 合单, sandbox). False: refunds go against the one trade of the total (Alipay), split on our side.
    refunds_per_sub_order: bool

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
        """Open a payment. `payer_ref`: the payer's WeChat openid (JSAPI / mini-program) if known;
        `client_ip`: the buyer's IP (WeChat H5 needs it); `expires_at`: after this the provider
        refuses to take the money (set it to the order's payment deadline)."""
        ...

    def verify_notification(self, headers: Mapping[str, str], body: bytes, now: datetime) -> PaymentResult:
        """Verify signature, freshness (≤ 5 minutes), merchant and decrypt. Raises NotificationRejected.

        Headers are matched case-insensitively. The caller still checks the amount against its order
        and de-duplicates by (provider, transaction_id) in the inbox."""
        ...

    async def query_payment(self, out_trade_no: str) -> PaymentResult | None:
        """What the provider knows about `out_trade_no`: None if it never heard of it."""
        ...

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
        """One payment for several orders: the buyer pays `amount_fen` (= the sum of `sub_orders`) once."""
        ...

    async def query_combined_payment(self, out_trade_no: str) -> PaymentResult | None:
        """What the provider knows about the combined payment `out_trade_no`; None if nothing."""
        ...

    async def refund(
        self,
        out_refund_no: str,
        out_trade_no: str,
        transaction_id: str,
        refund_fen: int,
        total_fen: int,
        reason: str,
    ) -> RefundResult:
        """Idempotent per `out_refund_no`. Status "processing" is normal for WeChat Pay: the final state
        comes later (refund notification or `query_refund`)."""
        ...

    async def query_refund(self, out_refund_no: str, out_trade_no: str) -> RefundResult | None:
        """Where the refund `out_refund_no` stands now; None if the provider never heard of it."""
        ...

    async def transfer(
        self, out_batch_no: str, payee_ref: str, amount_fen: int, remark: str
    ) -> TransferResult: ...
