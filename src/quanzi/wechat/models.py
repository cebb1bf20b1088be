"""WeChat identities: which person an openid (per app) and a unionid (across apps of one developer) belong to."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime


class WechatIdentity(Base):
    """One openid of one WeChat app (official account or mini program), bound to one phone account.

    An openid is only meaningful together with its app id: the same person has a different openid in the
    official account and in the mini program, and only the unionid (when the apps share an open-platform
    account) says they are one person."""

    __tablename__ = "wechat_identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    app_id: Mapped[str] = mapped_column(String(32))
    openid: Mapped[str] = mapped_column(String(64))
    unionid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_login_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (
        UniqueConstraint("app_id", "openid"),
        # One openid per person and app: payouts and JSAPI payments must know which one to use.
        UniqueConstraint("app_id", "user_id"),
        Index("ix_wechat_identities_unionid", "unionid"),
    )
