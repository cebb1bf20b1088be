"""After-sales: refund-only and return-and-refund requests per order line and quantity."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime

OPEN_STATES = ("requested", "awaiting_return", "returned", "refunding")


class AfterSale(Base):
    __tablename__ = "aftersales"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    supplier_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(20))  # refund_only | return_refund
    quantity: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int] = mapped_column(Integer)  # goods part, exact share of what was paid
    shipping_fen: Mapped[int] = mapped_column(Integer, default=0)
    reason: Mapped[str] = mapped_column(String(200))
    # requested → awaiting_return → returned → refunding → refunded; or rejected / cancelled
    status: Mapped[str] = mapped_column(String(20))
    restock: Mapped[bool] = mapped_column(default=False)
    reject_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    return_carrier: Mapped[str | None] = mapped_column(String(40), nullable=True)
    return_tracking_no: Mapped[str | None] = mapped_column(String(60), nullable=True)
    refund_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        # One open request per order line at a time: two racing requests cannot both pass.
        Index("uq_aftersales_open_line", "line_id", unique=True,
              sqlite_where=text("status IN ('requested','awaiting_return','returned','refunding')"),
              postgresql_where=text("status IN ('requested','awaiting_return','returned','refunding')")),
    )


class AfterSaleEvent(Base):
    __tablename__ = "aftersale_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    aftersale_id: Mapped[int] = mapped_column(ForeignKey("aftersales.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))
    actor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
