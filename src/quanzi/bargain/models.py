"""Bargain (砍价): friends help cut a price down to a floor within a time limit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime


class BargainActivity(Base):
    __tablename__ = "bargain_activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(60))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    start_price_fen: Mapped[int] = mapped_column(Integer)
    floor_price_fen: Mapped[int] = mapped_column(Integer)
    helpers_needed: Mapped[int] = mapped_column(Integer)
    cut_mode: Mapped[str] = mapped_column(String(10))  # random | fixed
    cut_min_fen: Mapped[int] = mapped_column(Integer)
    cut_max_fen: Mapped[int] = mapped_column(Integer)
    first_cut_fen: Mapped[int] = mapped_column(Integer, default=0)  # the initiator's own first cut
    helps_per_user: Mapped[int] = mapped_column(Integer, default=1)  # across all bargains of this activity
    launches_per_user: Mapped[int] = mapped_column(Integer, default=1)
    launch_hours: Mapped[int] = mapped_column(Integer, default=24)
    pay_hours: Mapped[int] = mapped_column(Integer, default=24)
    allow_buy_above_floor: Mapped[bool] = mapped_column(Boolean, default=False)
    commission_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(12), default="active")

    __table_args__ = (CheckConstraint("floor_price_fen > 0 AND floor_price_fen < start_price_fen",
                                      name="floor_below_start"),)


class Bargain(Base):
    """One person's launch. `plan` is every cut decided at launch, so the cuts always sum exactly to
    start − floor and the last required helper takes the remainder."""

    __tablename__ = "bargains"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("bargain_activities.id"), index=True)
    initiator_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    plan: Mapped[list[Any]] = mapped_column(JSON)
    helpers_count: Mapped[int] = mapped_column(Integer, default=0)
    current_price_fen: Mapped[int] = mapped_column(Integer)
    # active → succeeded (floor reached) → purchased; expired (launch or payment window passed)
    status: Mapped[str] = mapped_column(String(12))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    pay_by: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    order_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_bargains_status_expires", "status", "expires_at"),)


class BargainHelp(Base):
    __tablename__ = "bargain_helps"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bargain_id: Mapped[int] = mapped_column(ForeignKey("bargains.id", ondelete="CASCADE"), index=True)
    activity_id: Mapped[int] = mapped_column(Integer)
    helper_id: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    cut_fen: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    # One help per person per bargain (DOMAIN_RULES §3, C8), and one cut per position.
    __table_args__ = (UniqueConstraint("bargain_id", "helper_id"), UniqueConstraint("bargain_id", "seq"),
                      Index("ix_bargain_helps_activity_helper", "activity_id", "helper_id"))


class BargainUserTotal(Base):
    """Per person and activity: launches and helps so far (guarded counters for the per-person caps)."""

    __tablename__ = "bargain_user_totals"

    activity_id: Mapped[int] = mapped_column(ForeignKey("bargain_activities.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    launches: Mapped[int] = mapped_column(Integer, default=0)
    helps: Mapped[int] = mapped_column(Integer, default=0)
