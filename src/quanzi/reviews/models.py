"""Reviews of received order lines (one per line), with the seller's one reply."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # One review per order line, by the database: two racing submissions cannot both land.
    line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"), unique=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(Integer)
    sku_label: Mapped[str] = mapped_column(String(80))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    # Who may reply: the supplier of the order, and the shopkeeper of the shop it came through.
    supplier_id: Mapped[int] = mapped_column(Integer, index=True)
    shop_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    stars: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(String(500), default="")
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    photo_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reply_body: Mapped[str | None] = mapped_column(String(500), nullable=True)
    reply_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reply_role: Mapped[str | None] = mapped_column(String(12), nullable=True)  # supplier | shopkeeper
    replied_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        CheckConstraint("stars BETWEEN 1 AND 5", name="stars_range"),
        Index("ix_reviews_product_newest", "product_id", "created_at"),
    )
