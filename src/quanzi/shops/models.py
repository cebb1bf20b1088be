"""Micro-shops (S2B2C): a shopkeeper's shop and its shelf of products picked from the supply catalog."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime


class Shop(Base):
    __tablename__ = "shops"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(String(40))
    avatar_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    banner_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    intro: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | closed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __str__(self) -> str:
        return self.name


class ShelfItem(Base):
    """A product on a shop's shelf, in the shopkeeper's order, with their own recommendation line.
    The price is never here: it is the platform's, the same in every shop."""

    __tablename__ = "shelf_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    position: Mapped[int] = mapped_column(Integer, default=0)
    recommendation: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("shop_id", "product_id"),)
