"""Supply catalog: suppliers, categories, products (SPU), SKUs with stock, price history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.db import Base, UTCDateTime


class Supplier(Base):
    __tablename__ = "suppliers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id"), unique=True)
    name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    def __str__(self) -> str:
        return self.name


class Category(Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(40))
    name_en: Mapped[str] = mapped_column(String(40))
    sort: Mapped[int] = mapped_column(Integer, default=0)

    def __str__(self) -> str:
        return self.name_zh


class Product(Base):
    """A product (SPU). Published products are visible to every shop and buyer at one price per SKU."""

    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    supplier_id: Mapped[int] = mapped_column(ForeignKey("suppliers.id"), index=True)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"), nullable=True, index=True)
    title: Mapped[str] = mapped_column(String(80))
    subtitle: Mapped[str] = mapped_column(String(160), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    image_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    # Fresh or custom goods: no 7-day no-reason return, declared to the buyer before purchase.
    non_returnable: Mapped[bool] = mapped_column(Boolean, default=False)
    non_returnable_reason: Mapped[str] = mapped_column(String(60), default="")
    status: Mapped[str] = mapped_column(String(12), default="draft")  # draft | published | unpublished
    # Space-separated rjieba words of title/subtitle/category, and their CJK characters and character pairs
    # (catalog/search.py): what full-text search indexes.
    search_text: Mapped[str] = mapped_column(Text, default="")
    search_grams: Mapped[str] = mapped_column(Text, default="")
    sales_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_products_status_category", "status", "category_id"),)

    def __str__(self) -> str:
        return self.title


class Sku(Base):
    """A sellable variant. `stock` only changes through catalog.service's guarded updates."""

    __tablename__ = "skus"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    attrs: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    label: Mapped[str] = mapped_column(String(80))
    price_fen: Mapped[int] = mapped_column(Integer)
    cost_fen: Mapped[int] = mapped_column(Integer)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    weight_g: Mapped[int] = mapped_column(Integer, default=0)
    image_url: Mapped[str | None] = mapped_column(String(300), nullable=True)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)

    __table_args__ = (
        CheckConstraint("stock >= 0", name="stock_not_negative"),
        CheckConstraint("price_fen > 0", name="price_positive"),
        CheckConstraint("cost_fen >= 0", name="cost_not_negative"),
    )

    def __str__(self) -> str:
        return f"{self.code} {self.label}"


class PriceChange(Base):
    """Every price a SKU has had, from when. The crossed-out reference price is derived from it."""

    __tablename__ = "sku_price_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"))
    price_fen: Mapped[int] = mapped_column(Integer)
    effective_at: Mapped[datetime] = mapped_column(UTCDateTime())
    changed_by: Mapped[int | None] = mapped_column(Integer, nullable=True)

    __table_args__ = (Index("ix_price_history_sku_at", "sku_id", "effective_at"),)


class StockMovement(Base):
    """Append-only record of every stock change and why (reservation, release, restock, adjustment)."""

    __tablename__ = "stock_movements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku_id: Mapped[int] = mapped_column(ForeignKey("skus.id", ondelete="CASCADE"), index=True)
    delta: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(String(30))
    ref: Mapped[str] = mapped_column(String(60), default="")
    at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("sku_id", "reason", "ref", name="uq_stock_movement_once"),)


class SynonymGroup(Base):
    """Search terms the operator made interchangeable (橙子 ⇔ 橙 ⇔ 脐橙); applied when a query is read, so
    an edit takes effect on the next search without re-indexing anything."""

    __tablename__ = "search_synonym_groups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    note: Mapped[str] = mapped_column(String(100), default="")
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[int | None] = mapped_column(Integer, nullable=True)


class SynonymTerm(Base):
    """One term of a synonym group. A term belongs to one group only (the primary key), so "synonym of"
    is an equivalence and a query word expands with one indexed lookup."""

    __tablename__ = "search_synonyms"

    term: Mapped[str] = mapped_column(String(40), primary_key=True)  # normalized (catalog.search.normalize)
    group_id: Mapped[int] = mapped_column(ForeignKey("search_synonym_groups.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
