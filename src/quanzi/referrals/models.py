"""Referral binding: which sharer a fan belongs to, how (which signed token), and the history."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime


class Binding(Base):
    __tablename__ = "referral_bindings"

    fan_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    sharer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_digest: Mapped[str] = mapped_column(String(64))
    mode: Mapped[str] = mapped_column(String(12))
    bound_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    protected_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class BindingEvent(Base):
    """Append-only: every binding attempt and its outcome (bound, rebound, refused:<why>)."""

    __tablename__ = "referral_binding_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fan_id: Mapped[int] = mapped_column(Integer, index=True)
    sharer_id: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(30))
    token_digest: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class ShareVisit(Base):
    """A share link was opened (the top of the 获客 → 裂变 funnel)."""

    __tablename__ = "share_visits"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sharer_id: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(10))
    target_id: Mapped[int] = mapped_column(Integer)
    visitor_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    token_digest: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_share_visits_sharer_at", "sharer_id", "at"),)
