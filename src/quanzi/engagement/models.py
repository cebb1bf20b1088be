"""Engagement: the rituals that keep a community alive — daily check-in, lucky draws, red packets of points,
invite-new rewards, polls, the activity calendar. Every table is keyed by the community it belongs to
(community/ owns the community and its members); points live on the ledger (see service.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime


class EngagementSettings(Base):
    """A community's own engagement settings (the operator's switches in the policy section come first)."""

    __tablename__ = "engagement_settings"

    community_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    checkin_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    checkin_cycle: Mapped[str] = mapped_column(String(10), default="week")  # week | month | none
    checkin_rewards: Mapped[list[int]] = mapped_column(JSON, default=list)  # points on day 1, 2, … of a streak
    draws_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    red_packets_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    polls_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    poll_results_for_members: Mapped[bool] = mapped_column(Boolean, default=False)
    invite_enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    invite_reward_points: Mapped[int] = mapped_column(Integer, default=100)
    invite_daily_cap: Mapped[int] = mapped_column(Integer, default=5)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class CheckIn(Base):
    """One check-in of one member on one China calendar day. `streak` is the day number in the cycle."""

    __tablename__ = "engagement_checkins"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(Integer)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    day: Mapped[str] = mapped_column(String(10))  # YYYY-MM-DD in China time
    streak: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("community_id", "user_id", "day", name="uq_checkin_once_a_day"),
        Index("ix_checkins_member", "community_id", "user_id", "day"),
        Index("ix_checkins_day", "community_id", "day"),
    )


class Draw(Base):
    """A lucky draw. Its rules and prize table are frozen once it opens (status draft → open → closed)."""

    __tablename__ = "engagement_draws"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(Integer, index=True)
    shop_id: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(60))
    rules: Mapped[str] = mapped_column(Text)
    cost_points: Mapped[int] = mapped_column(Integer)
    per_person_limit: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10), default="draft")
    rules_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)  # sha256 of rules + prizes at opening
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    opened_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    entries: Mapped[int] = mapped_column(Integer, default=0)

    __table_args__ = (
        CheckConstraint("cost_points >= 0", name="draw_cost_not_negative"),
        CheckConstraint("per_person_limit >= 1", name="draw_limit_positive"),
    )


class DrawPrize(Base):
    """One line of the prize table: a chance in basis points of 10,000 and a stock that never goes negative.
    Kind points (amount in `points`), goods (described by `name`, worth `value_fen`) or nothing."""

    __tablename__ = "engagement_draw_prizes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("engagement_draws.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[str] = mapped_column(String(10))  # points | goods | nothing
    points: Mapped[int] = mapped_column(Integer, default=0)
    value_fen: Mapped[int] = mapped_column(Integer, default=0)
    chance_bp: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer)
    remaining: Mapped[int] = mapped_column(Integer)

    __table_args__ = (
        CheckConstraint("remaining >= 0", name="prize_stock_not_negative"),
        CheckConstraint("remaining <= stock", name="prize_stock_within_total"),
    )


class DrawQuota(Base):
    """How many times a person has entered a draw: one guarded UPDATE (used < limit) per entry."""

    __tablename__ = "engagement_draw_quotas"

    draw_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    used: Mapped[int] = mapped_column(Integer, default=0)


class DrawEntry(Base):
    """Every entry and its outcome, public (winners are shown with masked names: no fake winners)."""

    __tablename__ = "engagement_draw_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("engagement_draws.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    prize_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    prize_kind: Mapped[str] = mapped_column(String(10))  # the prize's kind, or "nothing"
    prize_name: Mapped[str] = mapped_column(String(60))
    roll: Mapped[int] = mapped_column(Integer)  # 0..9999, the number drawn
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_draw_entries_draw", "draw_id", "id"), Index("ix_draw_entries_user", "draw_id", "user_id"))


class RedPacket(Base):
    """Points shared in a community: the split is planned at creation (parts sum exactly to the total), the
    n-th grab takes part n. The rest returns to the sender when it expires."""

    __tablename__ = "engagement_red_packets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(Integer, index=True)
    shop_id: Mapped[int] = mapped_column(Integer)
    sender_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    funded_by: Mapped[str] = mapped_column(String(10))  # shop (new points the shop issues) | member (own points)
    split: Mapped[str] = mapped_column(String(10))  # fixed | lucky
    greeting: Mapped[str] = mapped_column(String(60), default="")
    total_points: Mapped[int] = mapped_column(Integer)
    parts: Mapped[int] = mapped_column(Integer)
    plan: Mapped[list[int]] = mapped_column(JSON)
    grabbed_parts: Mapped[int] = mapped_column(Integer, default=0)
    grabbed_points: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | finished | expired
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    returned_points: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("grabbed_parts <= parts", name="packet_parts_within"),
        CheckConstraint("grabbed_points <= total_points", name="packet_points_within"),
        Index("ix_red_packets_due", "status", "expires_at"),
    )


class RedPacketGrab(Base):
    __tablename__ = "engagement_red_packet_grabs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    packet_id: Mapped[int] = mapped_column(ForeignKey("engagement_red_packets.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    position: Mapped[int] = mapped_column(Integer)
    points: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("packet_id", "user_id", name="uq_packet_grab_once"),
        UniqueConstraint("packet_id", "position", name="uq_packet_part_once"),
    )


class Poll(Base):
    __tablename__ = "engagement_polls"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(Integer, index=True)
    question: Mapped[str] = mapped_column(String(200))
    multiple: Mapped[bool] = mapped_column(Boolean, default=False)
    anonymous: Mapped[bool] = mapped_column(Boolean, default=False)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    answers: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PollOption(Base):
    __tablename__ = "engagement_poll_options"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("engagement_polls.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(80))
    votes: Mapped[int] = mapped_column(Integer, default=0)


class PollAnswer(Base):
    """Who answered (once). For an anonymous poll the choices are not kept with the person: only counts."""

    __tablename__ = "engagement_poll_answers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("engagement_polls.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    option_ids: Mapped[list[int] | None] = mapped_column(JSON, nullable=True)  # None when anonymous
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("poll_id", "user_id", name="uq_poll_answer_once"),)


class Activity(Base):
    """A scheduled activity on the community calendar; a reminder goes out `remind_minutes` before it."""

    __tablename__ = "engagement_activities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(12))  # drop | live_qa | draw | checkin_week | other
    title: Mapped[str] = mapped_column(String(60))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    remind_at: Mapped[datetime] = mapped_column(UTCDateTime())
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_by: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_activities_remind", "reminded_at", "remind_at"),)


class Invitation(Base):
    """A new fan who joined a community through a member's invite. The invitee is rewarded-for once, ever."""

    __tablename__ = "engagement_invitations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(Integer, index=True)
    shop_id: Mapped[int] = mapped_column(Integer)
    inviter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    invitee_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    phone_digest: Mapped[str] = mapped_column(String(64))  # sha256 of the invitee's number at joining
    # joined | pending (first order paid, waiting for the return window) | paid | reversed | refused
    status: Mapped[str] = mapped_column(String(10), default="joined")
    refusal: Mapped[str | None] = mapped_column(String(30), nullable=True)
    order_id: Mapped[int | None] = mapped_column(Integer, nullable=True, unique=True)
    points: Mapped[int] = mapped_column(Integer, default=0)
    paid_day: Mapped[str | None] = mapped_column(String(10), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_invitations_cap", "inviter_id", "paid_day"),)


class RetiredPhone(Base):
    """A phone number that once had an account (deleted since): a new account on it is no "new" fan."""

    __tablename__ = "engagement_retired_phones"

    phone_digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    retired_at: Mapped[datetime] = mapped_column(UTCDateTime())


class InviteDay(Base):
    """Invite rewards paid to one inviter on one China day: the daily cap is one guarded UPDATE."""

    __tablename__ = "engagement_invite_days"

    inviter_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    paid: Mapped[int] = mapped_column(Integer, default=0)
