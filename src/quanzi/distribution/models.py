"""Distribution (分销): who may distribute, distributor levels, per-SKU fixed commission, commissions."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime


class DistributorLevel(Base):
    """Each level has its own rates (basis points). Upgrades only on own attributed sales or own commission
    (禁止传销条例 Art. 7: never on head-count, never bought)."""

    __tablename__ = "distributor_levels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(30))
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    l1_bp: Mapped[int] = mapped_column(Integer)
    l2_bp: Mapped[int] = mapped_column(Integer)
    min_sales_fen: Mapped[int] = mapped_column(Integer, default=0)
    min_commission_fen: Mapped[int] = mapped_column(Integer, default=0)


class Distributor(Base):
    __tablename__ = "distributors"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(12))  # pending | active | frozen | revoked | rejected
    level_rank: Mapped[int] = mapped_column(Integer, default=0)
    # Running totals of unlocked commission: the only inputs to a level upgrade (kept by the unlock sweep).
    unlocked_sales_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    unlocked_commission_fen: Mapped[int] = mapped_column(BigInteger, default=0)
    note: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SkuCommissionRule(Base):
    """Optional fixed commission per unit of a SKU (instead of a percentage)."""

    __tablename__ = "sku_commission_rules"

    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), primary_key=True)
    l1_fixed_fen: Mapped[int] = mapped_column(Integer, default=0)
    l2_fixed_fen: Mapped[int] = mapped_column(Integer, default=0)


class Commission(Base):
    """Commission for one order line and one level. pending → available; reversed in part or whole."""

    __tablename__ = "commissions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    beneficiary_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    buyer_id: Mapped[int] = mapped_column(Integer)
    level: Mapped[int] = mapped_column(Integer)  # 1 or 2, never more
    base_fen: Mapped[int] = mapped_column(Integer)
    rule: Mapped[str] = mapped_column(String(30))  # e.g. "rate:1000bp" or "fixed:150x2"
    amount_fen: Mapped[int] = mapped_column(Integer)
    reversed_fen: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(12))  # pending | available | reversed
    # After-sale requests open on this line: a commission never unlocks while one is open.
    open_aftersales: Mapped[int] = mapped_column(Integer, default=0)
    unlock_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    available_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (
        UniqueConstraint("line_id", "level"),
        Index("ix_commissions_due", "status", "unlock_at"),
    )
