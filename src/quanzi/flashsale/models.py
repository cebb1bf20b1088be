"""Flash sales (秒杀): daily time slots, activities per slot and day, per-SKU quotas, reservations."""

from __future__ import annotations

from datetime import date, datetime, time

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Time, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime


class FlashSlot(Base):
    """A daily time window in China time, e.g. 10:00–12:00. Slots never overlap."""

    __tablename__ = "flash_slots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    starts: Mapped[time] = mapped_column(Time)
    ends: Mapped[time] = mapped_column(Time)


class FlashActivity(Base):
    __tablename__ = "flash_activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slot_id: Mapped[int] = mapped_column(ForeignKey("flash_slots.id"))
    day: Mapped[date] = mapped_column(Date)
    title: Mapped[str] = mapped_column(String(60))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    per_order_limit: Mapped[int] = mapped_column(Integer, default=1)
    per_user_limit: Mapped[int] = mapped_column(Integer, default=1)
    pay_minutes: Mapped[int] = mapped_column(Integer, default=5)
    commission_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(12), default="scheduled")  # scheduled | cancelled
    # When the unsold rest of the set-aside quota went back to stock (flashsale.service.settle_ended).
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_flash_activities_day", "day", "slot_id"),)


class FlashItem(Base):
    """One SKU of an activity: flash price and quota. `remaining` only changes by guarded updates."""

    __tablename__ = "flash_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("flash_activities.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    flash_price_fen: Mapped[int] = mapped_column(Integer)
    quota: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer)
    # Units taken out of the SKU's stock for this sale when it was created (0 for sales made before
    # set-asides existed, which sell from ordinary stock as they always did).
    set_aside: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    __table_args__ = (
        UniqueConstraint("activity_id", "sku_id"),
        CheckConstraint("remaining >= 0", name="remaining_not_negative"),
        CheckConstraint("remaining <= quota", name="remaining_within_quota"),
    )


class FlashUserTotal(Base):
    """How many units a user holds (reserved or bought) in an activity: the per-user total limit."""

    __tablename__ = "flash_user_totals"

    activity_id: Mapped[int] = mapped_column(ForeignKey("flash_activities.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),)


class FlashReservation(Base):
    """A grab that won: held for `pay_minutes` as an unpaid order, released if not paid in time."""

    __tablename__ = "flash_reservations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("flash_items.id"), index=True)
    activity_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer, index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    status: Mapped[str] = mapped_column(String(12))  # reserved | paid | released
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class FlashWaitlist(Base):
    """"Notify me for the next batch" (饥饿营销): one row per person and product."""

    __tablename__ = "flash_waitlist"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (UniqueConstraint("product_id", "user_id"),)
