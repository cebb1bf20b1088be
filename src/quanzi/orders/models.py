"""Orders: the checkout a placement produced, one order per (supplier, shop) of it, lines that snapshot
what was bought, an event log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime


class Checkout(Base):
    """What one placement produced: the orders it split into (for fulfilment) and the one amount to pay.

    Its totals are the sums of its orders' at placement; the shipping mode is the policy's at that moment,
    so a later policy change never re-prices a checkout already shown to the buyer."""

    __tablename__ = "checkouts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # pending_payment → paid (every order paid or later states) | cancelled (no order was paid)
    status: Mapped[str] = mapped_column(String(20))
    shipping_mode: Mapped[str] = mapped_column(String(12))  # per_checkout | per_package
    goods_fen: Mapped[int] = mapped_column(Integer)
    shipping_fen: Mapped[int] = mapped_column(Integer)
    total_fen: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        CheckConstraint("total_fen = goods_fen + shipping_fen", name="total_is_goods_plus_shipping"),
        CheckConstraint("total_fen >= 0", name="total_not_negative"),
    )


class Order(Base):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_no: Mapped[str] = mapped_column(String(32), unique=True)
    checkout_id: Mapped[int] = mapped_column(ForeignKey("checkouts.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"), nullable=True, index=True)
    # pending_payment → paid → shipped → received → completed; cancelled; closed (fully refunded)
    status: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20), default="normal")  # normal | groupbuy | bargain | flashsale …
    # Attribution snapshot taken at creation: later rebinding never moves an old order.
    referrer_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    referrer2_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    commission_eligible: Mapped[bool] = mapped_column(Boolean, default=True)
    # Set while a campaign keeps a paid order from shipping (e.g. "group_forming"); cleared on release.
    hold_reason: Mapped[str | None] = mapped_column(String(30), nullable=True)
    goods_fen: Mapped[int] = mapped_column(Integer)
    shipping_fen: Mapped[int] = mapped_column(Integer)
    discount_fen: Mapped[int] = mapped_column(Integer, default=0)
    total_fen: Mapped[int] = mapped_column(Integer)  # what the buyer pays
    refunded_fen: Mapped[int] = mapped_column(Integer, default=0)
    address: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str] = mapped_column(String(200), default="")
    open_aftersales: Mapped[int] = mapped_column(Integer, default=0)
    carrier: Mapped[str | None] = mapped_column(String(40), nullable=True)
    tracking_no: Mapped[str | None] = mapped_column(String(60), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    pay_deadline: Mapped[datetime] = mapped_column(UTCDateTime())
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    return_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        Index("ix_orders_status_deadline", "status", "pay_deadline"),
        CheckConstraint("total_fen >= 0", name="total_not_negative"),
        CheckConstraint("refunded_fen <= total_fen", name="refund_within_total"),
        CheckConstraint("open_aftersales >= 0", name="open_aftersales_not_negative"),
    )


class OrderLine(Base):
    """A snapshot: later catalog changes never alter what was bought or at what price."""

    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    product_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(80))
    sku_label: Mapped[str] = mapped_column(String(80))
    image_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    unit_price_fen: Mapped[int] = mapped_column(Integer)
    unit_cost_fen: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    # What the buyer actually paid for this line (after discounts, before shipping).
    paid_fen: Mapped[int] = mapped_column(Integer)
    non_returnable: Mapped[bool] = mapped_column(Boolean, default=False)
    non_returnable_reason: Mapped[str] = mapped_column(String(60), default="")
    refunded_qty: Mapped[int] = mapped_column(Integer, default=0)
    refunded_fen: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("refunded_qty <= quantity", name="refund_qty_within"),
        CheckConstraint("refunded_fen <= paid_fen", name="refund_fen_within"),
    )


class OrderEvent(Base):
    """Append-only timeline of an order."""

    __tablename__ = "order_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    from_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    to_status: Mapped[str | None] = mapped_column(String(20), nullable=True)
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
