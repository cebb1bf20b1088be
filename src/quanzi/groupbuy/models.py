"""Group buy (拼团): activities with group prices per SKU, groups with a fixed number of seats, members."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime

# A person's membership that still ties them to a group: they may hold one per activity.
OPEN_MEMBER_STATES = ("pending_payment", "joined")


class GroupActivity(Base):
    """The operator's terms. `time_limit_minutes` runs per group from the leader's payment."""

    __tablename__ = "groupbuy_activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    title: Mapped[str] = mapped_column(String(60))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    group_size: Mapped[int] = mapped_column(Integer)
    time_limit_minutes: Mapped[int] = mapped_column(Integer)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    per_order_limit: Mapped[int] = mapped_column(Integer, default=1)
    per_user_limit: Mapped[int] = mapped_column(Integer, default=1)
    pay_minutes: Mapped[int] = mapped_column(Integer, default=15)
    # Off by a price cut per unit for whoever opens the group (0 = none).
    leader_discount_fen: Mapped[int] = mapped_column(Integer, default=0)
    # The leader's reward, basis points of what the group's members paid (0 = none; CRMEB head_commission).
    leader_commission_bp: Mapped[int] = mapped_column(Integer, default=0)
    # Whether distribution commission (levels 1 and 2) applies to the orders of this activity.
    commission_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    # Honest completion: an expired group filled to at least this ratio (basis points of its seats) succeeds
    # as "completed by the platform" with its real members only. None = never.
    complete_ratio_bp: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="active")  # active | stopped
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("group_size >= 2", name="group_size_at_least_two"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_groupbuy_activities_window", "status", "ends_at"),
    )


class GroupSku(Base):
    __tablename__ = "groupbuy_skus"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("groupbuy_activities.id", ondelete="CASCADE"), index=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id"))
    group_price_fen: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        UniqueConstraint("activity_id", "sku_id"),
        CheckConstraint("group_price_fen > 0", name="group_price_positive"),
    )


class Group(Base):
    """pending (leader not paid yet) → forming (expires_at set) → succeeded | failed; pending → cancelled.

    `filled` counts seats taken by real paying people and only changes by guarded updates; it never
    exceeds `seats`. A group the platform completed keeps its empty seats empty (completed_by_platform)."""

    __tablename__ = "groupbuy_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("groupbuy_activities.id"), index=True)
    leader_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    seats: Mapped[int] = mapped_column(Integer)
    filled: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12))
    time_limit_minutes: Mapped[int] = mapped_column(Integer)
    completed_by_platform: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        CheckConstraint("filled >= 0", name="filled_not_negative"),
        CheckConstraint("filled <= seats", name="filled_within_seats"),
        Index("ix_groupbuy_groups_status_expires", "status", "expires_at"),
    )


class GroupMember(Base):
    """One person in one group, with the order they pay. Only rows of real people are ever written.

    pending_payment → joined (took a seat) → succeeded | refunding → refunded;
    pending_payment → refunding (paid, but no seat was left) → refunded; pending_payment → cancelled;
    joined → left (refunded in full by an after-sale while the group was forming: the seat is free again)."""

    __tablename__ = "groupbuy_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groupbuy_groups.id"), index=True)
    activity_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), unique=True)
    is_leader: Mapped[bool] = mapped_column(Boolean, default=False)
    sku_id: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    # Why the money went back: group_full | group_closed | group_failed | aftersale.
    refund_reason: Mapped[str | None] = mapped_column(String(20), nullable=True)
    refund_fen: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    seated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("group_id", "user_id"),
        # One open group per person per activity (DOMAIN_RULES §2), held by the database under any concurrency.
        Index("uq_groupbuy_members_one_open", "activity_id", "user_id", unique=True,
              sqlite_where=text("status IN ('pending_payment', 'joined')"),
              postgresql_where=text("status IN ('pending_payment', 'joined')")),
    )


class GroupUserTotal(Base):
    """Units a person holds (unpaid, forming or bought) in an activity: the per-person limit."""

    __tablename__ = "groupbuy_user_totals"

    activity_id: Mapped[int] = mapped_column(ForeignKey("groupbuy_activities.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (CheckConstraint("quantity >= 0", name="quantity_not_negative"),)
