"""Payments: attempts to pay an order or a whole checkout, the provider notification inbox, refunds.

A checkout of several orders is paid by one `CheckoutPayment` (one provider transaction: WeChat Pay's
combined payment 合单支付, one Alipay trade, one sandbox transaction) with one `Payment` per order under
it holding that order's exact share. Refunds are booked on the order's `Payment`, so they stay per
order and line and can never exceed what the order was allocated."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime


class Payment(Base):
    __tablename__ = "payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    out_trade_no: Mapped[str] = mapped_column(String(40), unique=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="created")  # created | succeeded | closed
    transaction_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    refunded_fen: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_queried_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Set when this is an order's share of a checkout payment (its out_trade_no is then the WeChat sub-order's).
    checkout_payment_id: Mapped[int | None] = mapped_column(ForeignKey("checkout_payments.id"), nullable=True,
                                                            index=True)
    # True once this payment is the one that paid its order (a late or duplicate payment never is).
    settled_order: Mapped[bool] = mapped_column(Boolean, default=False)

    __table_args__ = (
        CheckConstraint("refunded_fen <= amount_fen", name="refund_within_amount"),
        Index("ix_payments_status_created", "status", "created_at"),
    )


class CheckoutPayment(Base):
    """One provider transaction for several orders of a checkout; its orders' shares are `Payment` rows
    (`checkout_payment_id`), summing exactly to `amount_fen`."""

    __tablename__ = "checkout_payments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkout_id: Mapped[int] = mapped_column(ForeignKey("checkouts.id"), index=True)
    provider: Mapped[str] = mapped_column(String(20))
    out_trade_no: Mapped[str] = mapped_column(String(40), unique=True)  # WeChat: combine_out_trade_no
    amount_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="created")  # created | succeeded | closed
    transaction_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_queried_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_checkout_payments_status_created", "status", "created_at"),
    )


class PaymentNotification(Base):
    """Inbox: a provider's statement is applied at most once per (provider, transaction id)."""

    __tablename__ = "payment_notifications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    provider: Mapped[str] = mapped_column(String(20))
    transaction_id: Mapped[str] = mapped_column(String(64))
    out_trade_no: Mapped[str] = mapped_column(String(40))
    amount_fen: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(10))  # notify | query
    outcome: Mapped[str] = mapped_column(String(30))
    raw: Mapped[dict[str, Any]] = mapped_column(JSON)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("provider", "transaction_id"),)


class Refund(Base):
    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    out_refund_no: Mapped[str] = mapped_column(String(40), unique=True)
    amount_fen: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending | succeeded | failed
    reason: Mapped[str] = mapped_column(String(40))
    # Who asked for it, so the right domain can react when the money is back (e.g. "aftersale:12").
    source: Mapped[str] = mapped_column(String(40), default="")
    provider_refund_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (CheckConstraint("amount_fen > 0", name="refund_positive"),)
