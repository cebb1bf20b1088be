"""Communities (社群) owned by a shop: the community, its members, posts, comments, likes, reports, visits.

`Community.member_count` counts ACTIVE members (the owner included) and changes only by guarded updates
(`member_count < capacity` to take a place): the last free place is taken exactly once.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime

JOIN_MODES = ("open", "invite", "approval")
ROLES = ("owner", "staff", "expert", "teacher", "member")
MEMBER_STATES = ("pending", "active", "left", "removed", "banned")
POST_KINDS = ("post", "announcement", "show_order", "system")


class Community(Base):
    __tablename__ = "communities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    name: Mapped[str] = mapped_column(String(40))
    cover_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    intro: Mapped[str] = mapped_column(String(500), default="")
    capacity: Mapped[int] = mapped_column(Integer, default=500)
    rules: Mapped[str] = mapped_column(Text, default="")
    rules_version: Mapped[int] = mapped_column(Integer, default=1)
    welcome: Mapped[str] = mapped_column(String(500), default="")
    join_mode: Mapped[str] = mapped_column(String(10), default="open")  # open | invite | approval
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), nullable=True)
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | closed
    close_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    member_count: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint("member_count >= 0", name="member_count_not_negative"),
        CheckConstraint("member_count <= capacity", name="member_count_within_capacity"),
        CheckConstraint("join_mode IN ('open', 'invite', 'approval')", name="join_mode_known"),
        CheckConstraint("status IN ('open', 'closed')", name="status_known"),
    )

    def __str__(self) -> str:
        return self.name


class Member(Base):
    """One row per (community, person), whatever happened: a banned row stays banned so they cannot rejoin.

    `name` and `phone_tail` are a snapshot taken when the person joins, so the console can search 20,000
    members without reading another domain's tables."""

    __tablename__ = "community_members"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[str] = mapped_column(String(10), default="member")
    status: Mapped[str] = mapped_column(String(10), default="active")
    name: Mapped[str] = mapped_column(String(40), default="")
    phone_tail: Mapped[str] = mapped_column(String(4), default="")
    accepted_rules_version: Mapped[int | None] = mapped_column(Integer, nullable=True)
    muted_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    invited_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    joined_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("community_id", "user_id"),
        CheckConstraint("role IN ('owner', 'staff', 'expert', 'teacher', 'member')", name="role_known"),
        CheckConstraint("status IN ('pending', 'active', 'left', 'removed', 'banned')", name="status_known"),
        # The console lists members by status and role, newest first, in keyset pages.
        Index("ix_community_members_list", "community_id", "status", "id"),
        Index("ix_community_members_role", "community_id", "role", "id"),
    )


class Post(Base):
    __tablename__ = "community_posts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), nullable=True)  # None: a system post
    kind: Mapped[str] = mapped_column(String(12), default="post")  # post | announcement | show_order | system
    # A system post's subject: the newcomer a welcome post greets.
    subject_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    body: Mapped[str] = mapped_column(String(2000), default="")
    product_id: Mapped[int | None] = mapped_column(ForeignKey("products.id"), nullable=True)  # a product card
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), nullable=True)  # a 晒单's order
    verified_purchase: Mapped[bool] = mapped_column(Boolean, default=False)
    members_only: Mapped[bool] = mapped_column(Boolean, default=True)
    image_count: Mapped[int] = mapped_column(Integer, default=0)
    like_count: Mapped[int] = mapped_column(Integer, default=0)
    comment_count: Mapped[int] = mapped_column(Integer, default=0)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="visible")  # visible | removed
    removed_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    removed_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        CheckConstraint("like_count >= 0", name="like_count_not_negative"),
        CheckConstraint("comment_count >= 0", name="comment_count_not_negative"),
        CheckConstraint("image_count BETWEEN 0 AND 9", name="image_count_range"),
        Index("ix_community_posts_feed", "community_id", "status", "id"),
        Index("ix_community_posts_pinned", "community_id", "pinned", "id"),
        Index("ix_community_posts_author", "author_id", "id"),
        Index("ix_community_posts_day", "community_id", "created_at"),
    )


class Comment(Base):
    __tablename__ = "community_comments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("community_posts.id"), index=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    body: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(10), default="visible")  # visible | removed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Like(Base):
    """Once per member and post, by the primary key (no fake likes: one real person, one like)."""

    __tablename__ = "community_likes"

    post_id: Mapped[int] = mapped_column(ForeignKey("community_posts.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Report(Base):
    """A member's report of a post to the staff; one per reporter and post."""

    __tablename__ = "community_reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"))
    post_id: Mapped[int] = mapped_column(ForeignKey("community_posts.id"))
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(10), default="open")  # open | removed | dismissed
    handled_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("post_id", "reporter_id"),
        Index("ix_community_reports_queue", "community_id", "status", "id"),
    )


class Visit(Base):
    """A member opened the community on that China day (one row per member per day, insert-ignore)."""

    __tablename__ = "community_visits"

    community_id: Mapped[int] = mapped_column(ForeignKey("communities.id"), primary_key=True)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)  # YYYY-MM-DD, China time
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
