"""Uploaded images: who uploaded what for which purpose, the stored variants, and what uses them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime

PURPOSES = ("product", "shop_avatar", "shop_banner", "aftersale", "review", "community_post", "community_cover")


class Media(Base):
    """One accepted upload, re-encoded. `ref` names what it is attached to ("review:12"); an unattached
    upload (ref NULL) can be attached once, by its owner, for its purpose."""

    __tablename__ = "media"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(20))
    ref: Mapped[str | None] = mapped_column(String(40), nullable=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the bytes as uploaded
    format: Mapped[str] = mapped_column(String(8))  # what is stored: jpeg | png
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    original_bytes: Mapped[int] = mapped_column(Integer)
    stored_bytes: Mapped[int] = mapped_column(Integer)  # all variants together
    # variant name ("full", "750", "240") -> {"key", "url", "width", "height", "bytes"}
    variants: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attached_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        CheckConstraint("purpose IN ('product','shop_avatar','shop_banner','aftersale','review',"
                        "'community_post','community_cover')",
                        name="purpose_known"),
        Index("ix_media_ref", "ref", "position"),
    )

    def url(self, variant: str = "full") -> str:
        v = self.variants.get(variant) or self.variants["full"]
        return str(v["url"])
