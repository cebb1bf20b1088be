"""Catalog rules: products and SKUs, one platform price per SKU, price history, stock.

Stock changes only here, through one conditional UPDATE each (never read-check-write), and every
change is recorded once per (sku, reason, ref) in stock_movements, so a release or restock that runs
twice changes stock once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.catalog import search
from quanzi.catalog.errors import (
    DuplicateSkuCode,
    InvalidPrice,
    NoSkus,
    NotASupplier,
    OutOfStock,
    ProductNotFound,
)
from quanzi.catalog.models import Category, PriceChange, Product, Sku, StockMovement, Supplier
from quanzi.kit import cache
from quanzi.kit.clock import clock
from quanzi.kit.db import guarded_update, insert_ignore

REFERENCE_WINDOW = timedelta(days=7)  # 规范促销行为暂行规定 (2020): lowest price of the previous 7 days


@dataclass(frozen=True)
class SkuSnapshot:
    """What an order line copies from the catalog at placement time. No stock: snapshots are cached
    (SNAPSHOTS) and stock moves with every order; availability of units is decided by `take_stock`'s
    guarded decrement alone."""

    sku_id: int
    product_id: int
    supplier_id: int
    title: str
    label: str
    price_fen: int
    cost_fen: int
    image_url: str | None
    non_returnable: bool
    non_returnable_reason: str
    available: bool


@dataclass(frozen=True)
class SkuWithStock(SkuSnapshot):
    """A snapshot and the stock read with it, for pages that show what is left (never cached)."""

    stock: int


# Snapshots are read by every checkout and cart and change when a supplier or operator edits a product or a
# SKU: cached in the process (kit/cache.py). Stock and the sales counter move with every order and are not
# part of a snapshot, so those columns do not invalidate it.
cache.watch("catalog", "products", ignore={"sales_count"})
cache.watch("catalog", "skus", ignore={"stock"})
SNAPSHOTS = cache.Cached("catalog.snapshots", on=("catalog",))


# --- suppliers and categories -------------------------------------------------------------------

async def supplier_of(s: AsyncSession, user_id: int) -> Supplier | None:
    return (await s.execute(select(Supplier).where(Supplier.owner_id == user_id))).scalar_one_or_none()


async def require_supplier(s: AsyncSession, user_id: int) -> Supplier:
    sup = await supplier_of(s, user_id)
    if sup is None:
        raise NotASupplier()
    return sup


async def ensure_supplier(s: AsyncSession, user_id: int, name: str) -> Supplier:
    await insert_ignore(s, Supplier, {"owner_id": user_id, "name": name, "created_at": clock.now()}, ["owner_id"])
    return await require_supplier(s, user_id)


async def ensure_category(s: AsyncSession, name_zh: str, name_en: str, sort: int = 0) -> Category:
    cat = (await s.execute(select(Category).where(Category.name_zh == name_zh))).scalar_one_or_none()
    if cat is None:
        cat = Category(name_zh=name_zh, name_en=name_en, sort=sort)
        s.add(cat)
        await s.flush()
    return cat


async def categories(s: AsyncSession) -> list[Category]:
    return list((await s.execute(select(Category).order_by(Category.sort, Category.id))).scalars())


# --- products -----------------------------------------------------------------------------------

def _check_price(price_fen: int, cost_fen: int) -> None:
    if price_fen <= 0 or cost_fen < 0:
        raise InvalidPrice()


async def create_product(
    s: AsyncSession, supplier_id: int, *, title: str, subtitle: str = "", description: str = "",
    category_id: int | None = None, image_url: str | None = None, non_returnable: bool = False,
    non_returnable_reason: str = "", skus: Sequence[dict[str, Any]], actor_id: int | None = None,
    publish: bool = False,
) -> Product:
    if not skus:
        raise NoSkus()
    await _check_category(s, category_id)
    now = clock.now()
    cat_name = cat_name_en = ""
    if category_id is not None:
        cat = await s.get(Category, category_id)
        cat_name, cat_name_en = (cat.name_zh, cat.name_en) if cat else ("", "")
    product = Product(
        supplier_id=supplier_id, category_id=category_id, title=title, subtitle=subtitle, description=description,
        image_url=image_url, non_returnable=non_returnable,
        non_returnable_reason=non_returnable_reason if non_returnable else "",
        status="published" if publish else "draft", search_text=search.search_text(title, subtitle, cat_name),
        search_grams=search.search_grams(title, subtitle, cat_name, cat_name_en),
        sales_count=0, created_at=now, updated_at=now,
    )
    s.add(product)
    await s.flush()
    for spec in skus:
        await add_sku(s, product.id, actor_id=actor_id, **spec)
    return product


async def add_sku(
    s: AsyncSession, product_id: int, *, code: str, label: str, price_fen: int, cost_fen: int, stock: int = 0,
    attrs: dict[str, Any] | None = None, weight_g: int = 0, image_url: str | None = None,
    actor_id: int | None = None,
) -> Sku:
    _check_price(price_fen, cost_fen)
    if (await s.execute(select(Sku.id).where(Sku.code == code))).first() is not None:
        raise DuplicateSkuCode(code=code)
    now = clock.now()
    sku = Sku(product_id=product_id, code=code, label=label, attrs=attrs or {}, price_fen=price_fen,
              cost_fen=cost_fen, stock=max(stock, 0), weight_g=weight_g, image_url=image_url, is_active=True)
    s.add(sku)
    await s.flush()
    s.add(PriceChange(sku_id=sku.id, price_fen=price_fen, effective_at=now, changed_by=actor_id))
    if stock > 0:
        s.add(StockMovement(sku_id=sku.id, delta=stock, reason="initial", ref=f"sku:{sku.id}", at=now))
    return sku


async def owned_product(s: AsyncSession, product_id: int, supplier_id: int | None) -> Product:
    """The product if `supplier_id` owns it (None = operator: any product); otherwise 404."""
    product = await s.get(Product, product_id)
    if product is None or (supplier_id is not None and product.supplier_id != supplier_id):
        raise ProductNotFound()
    return product


async def _check_category(s: AsyncSession, category_id: int | None) -> None:
    if category_id is not None and await s.get(Category, category_id) is None:
        from quanzi.kit.errors import InvalidInput

        raise InvalidInput({"zh": "分类不存在", "en": "No such category"}, field="category_id")


async def update_product(s: AsyncSession, product: Product, **fields: Any) -> Product:
    await _check_category(s, fields.get("category_id"))
    allowed = {"title", "subtitle", "description", "category_id", "image_url", "non_returnable",
               "non_returnable_reason"}
    for key, value in fields.items():
        if key in allowed and value is not None:
            setattr(product, key, value)
    if not product.non_returnable:
        product.non_returnable_reason = ""
    cat = await s.get(Category, product.category_id) if product.category_id else None
    product.search_text = search.search_text(product.title, product.subtitle, cat.name_zh if cat else "")
    product.search_grams = search.search_grams(product.title, product.subtitle, cat.name_zh if cat else "",
                                               cat.name_en if cat else "")
    product.updated_at = clock.now()
    return product


async def set_status(s: AsyncSession, product: Product, status: str) -> None:
    if status == "published" and not (await s.execute(
        select(Sku.id).where(Sku.product_id == product.id, Sku.is_active.is_(True)).limit(1)
    )).first():
        raise NoSkus()
    product.status = status
    product.updated_at = clock.now()


async def set_price(s: AsyncSession, sku_id: int, price_fen: int, actor_id: int | None) -> None:
    sku = await s.get(Sku, sku_id)
    if sku is None:
        raise ProductNotFound()
    _check_price(price_fen, sku.cost_fen)
    if sku.price_fen == price_fen:
        return
    sku.price_fen = price_fen
    s.add(PriceChange(sku_id=sku_id, price_fen=price_fen, effective_at=clock.now(), changed_by=actor_id))


async def reference_prices(s: AsyncSession, sku_ids: Iterable[int], now: datetime | None = None) -> dict[int, int]:
    """The crossed-out reference price per SKU: the lowest price in force during the 7 days before the
    current price took effect (规范促销行为暂行规定 2020). Only SKUs whose reference is above today's price
    are returned; the others show no crossed-out price at all."""
    ids = list(set(sku_ids))
    if not ids:
        return {}
    now = now or clock.now()
    history: dict[int, list[tuple[datetime, int]]] = {}
    for sku_id, price, at in (await s.execute(
        select(PriceChange.sku_id, PriceChange.price_fen, PriceChange.effective_at)
        .where(PriceChange.sku_id.in_(ids), PriceChange.effective_at <= now)
        .order_by(PriceChange.sku_id, PriceChange.effective_at, PriceChange.id)
    )).all():
        history.setdefault(sku_id, []).append((at, price))
    out: dict[int, int] = {}
    for sku_id, changes in history.items():
        since, current = changes[-1]
        start = since - REFERENCE_WINDOW
        before = [p for at, p in changes[:-1] if at > start]
        in_force_at_start = [p for at, p in changes[:-1] if at <= start][-1:]
        candidates = before + in_force_at_start
        if candidates and min(candidates) > current:
            out[sku_id] = min(candidates)
    return out


# --- stock --------------------------------------------------------------------------------------

async def take_stock(s: AsyncSession, sku_id: int, qty: int, ref: str, title: str = "") -> None:
    """Reserve `qty` units: one guarded UPDATE; raises OutOfStock if fewer are left."""
    taken = await guarded_update(
        s, update(Sku).where(Sku.id == sku_id, Sku.stock >= qty).values(stock=Sku.stock - qty)
    )
    if taken != 1:
        raise OutOfStock(title=title or str(sku_id), sku_id=sku_id)
    s.add(StockMovement(sku_id=sku_id, delta=-qty, reason="reserve", ref=ref, at=clock.now()))


async def take_stocks(s: AsyncSession, wanted: dict[int, int], titles: dict[int, str] | None = None) -> None:
    """Reserve several SKUs at once: ONE guarded UPDATE over all of them (`stock >= wanted` per row, a CASE
    on the id), which either takes every line or, if any SKU has fewer units left, raises OutOfStock and the
    transaction's rollback puts back what the statement took. The rows are locked in one statement, in the
    index's id order, so two checkouts sharing SKUs cannot deadlock on PostgreSQL. The movement rows come
    with `record_reservations` once the caller knows what each reservation is for."""
    if not wanted:
        return
    qty = case(wanted, value=Sku.id)
    stmt = (update(Sku).where(Sku.id.in_(sorted(wanted)), Sku.stock >= qty).values(stock=Sku.stock - qty)
            .returning(Sku.id).execution_options(synchronize_session=False))
    taken = set((await s.execute(stmt)).scalars())
    missing = sorted(set(wanted) - taken)
    if missing:
        title = (titles or {}).get(missing[0]) or str(missing[0])
        raise OutOfStock(title=title, sku_id=missing[0])


async def record_reservations(s: AsyncSession, moves: Sequence[tuple[int, int, str]]) -> None:
    """The movement rows of `take_stocks`, one multi-row INSERT: (sku id, quantity taken, ref)."""
    if moves:
        now = clock.now()
        await s.execute(insert(StockMovement.__table__), [
            {"sku_id": sku_id, "delta": -qty, "reason": "reserve", "ref": ref, "at": now} for sku_id, qty, ref in moves])


async def set_aside_stock(s: AsyncSession, sku_id: int, qty: int, reason: str, ref: str, title: str = "") -> None:
    """Take `qty` units out of what regular buyers can order, for a campaign that sells them itself (a flash
    sale's quota): one guarded UPDATE and a movement row; raises OutOfStock if fewer are left. The
    campaign gives units back with `return_stock` (idempotent per reason and ref)."""
    taken = await guarded_update(
        s, update(Sku).where(Sku.id == sku_id, Sku.stock >= qty).values(stock=Sku.stock - qty)
    )
    if taken != 1:
        raise OutOfStock(title=title or str(sku_id), sku_id=sku_id)
    s.add(StockMovement(sku_id=sku_id, delta=-qty, reason=reason, ref=ref, at=clock.now()))


async def return_stock(s: AsyncSession, sku_id: int, qty: int, reason: str, ref: str) -> bool:
    """Put `qty` units back, at most once per (sku, reason, ref). Returns False if already done."""
    if qty <= 0:
        return False
    first = await insert_ignore(
        s, StockMovement, {"sku_id": sku_id, "delta": qty, "reason": reason, "ref": ref, "at": clock.now()},
        ["sku_id", "reason", "ref"],
    )
    if first:
        await s.execute(update(Sku).where(Sku.id == sku_id).values(stock=Sku.stock + qty))
    return first


async def adjust_stock(s: AsyncSession, sku_id: int, delta: int, ref: str) -> int:
    """Supplier stock correction (+ restock or − write-off), never below zero. Returns the new stock."""
    cond = [Sku.id == sku_id] + ([Sku.stock >= -delta] if delta < 0 else [])
    if await guarded_update(s, update(Sku).where(*cond).values(stock=Sku.stock + delta)) != 1:
        sku = await s.get(Sku, sku_id)
        raise OutOfStock(title=sku.label if sku else str(sku_id), sku_id=sku_id)
    s.add(StockMovement(sku_id=sku_id, delta=delta, reason="adjust", ref=ref, at=clock.now()))
    if delta > 0:
        from quanzi.kit import outbox

        product_id = (await s.execute(select(Sku.product_id).where(Sku.id == sku_id))).scalar_one()
        await outbox.emit(s, "catalog.restocked", {"sku_id": sku_id, "product_id": product_id})
    return (await s.execute(select(Sku.stock).where(Sku.id == sku_id))).scalar_one()


async def add_sales(s: AsyncSession, product_qty: dict[int, int]) -> None:
    for product_id, qty in product_qty.items():
        await s.execute(update(Product).where(Product.id == product_id).values(sales_count=Product.sales_count + qty))


# --- reading ------------------------------------------------------------------------------------

def _snapshot(sku: Sku, p: Product) -> dict[str, Any]:
    return dict(sku_id=sku.id, product_id=p.id, supplier_id=p.supplier_id, title=p.title, label=sku.label,
                price_fen=sku.price_fen, cost_fen=sku.cost_fen, image_url=sku.image_url or p.image_url,
                non_returnable=p.non_returnable, non_returnable_reason=p.non_returnable_reason,
                available=p.status == "published" and sku.is_active)


async def _skus_and_products(s: AsyncSession, ids: list[int]) -> list[Any]:
    return list((await s.execute(
        select(Sku, Product).join(Product, Product.id == Sku.product_id).where(Sku.id.in_(ids))
    )).all())


async def snapshots(s: AsyncSession, sku_ids: Iterable[int]) -> dict[int, SkuSnapshot]:
    """What checkout needs to price and snapshot each SKU: from the cache, the rest in one query."""
    async def load(ids: list[int]) -> dict[int, SkuSnapshot]:
        return {sku.id: SkuSnapshot(**_snapshot(sku, p)) for sku, p in await _skus_and_products(s, ids)}

    return await SNAPSHOTS.get_many(s, sku_ids, load)


async def snapshots_with_stock(s: AsyncSession, sku_ids: Iterable[int]) -> dict[int, SkuWithStock]:
    """Snapshots and their current stock, for showing what is left (one query, never cached)."""
    ids = list(set(sku_ids))
    if not ids:
        return {}
    return {sku.id: SkuWithStock(**_snapshot(sku, p), stock=sku.stock) for sku, p in await _skus_and_products(s, ids)}


async def published_product(s: AsyncSession, product_id: int) -> tuple[Product, list[Sku]]:
    product = await s.get(Product, product_id)
    if product is None or product.status != "published":
        raise ProductNotFound()
    skus = list((await s.execute(
        select(Sku).where(Sku.product_id == product_id, Sku.is_active.is_(True)).order_by(Sku.id)
    )).scalars())
    return product, skus


async def skus_of(s: AsyncSession, product_ids: Iterable[int]) -> dict[int, list[Sku]]:
    ids = list(set(product_ids))
    out: dict[int, list[Sku]] = {i: [] for i in ids}
    if ids:
        for sku in (await s.execute(select(Sku).where(Sku.product_id.in_(ids)).order_by(Sku.id))).scalars():
            out[sku.product_id].append(sku)
    return out


async def min_prices(s: AsyncSession, product_ids: Iterable[int]) -> dict[int, int]:
    ids = list(set(product_ids))
    if not ids:
        return {}
    rows = await s.execute(
        select(Sku.product_id, func.min(Sku.price_fen))
        .where(Sku.product_id.in_(ids), Sku.is_active.is_(True)).group_by(Sku.product_id)
    )
    return {pid: price for pid, price in rows.all()}


async def products_by_id(s: AsyncSession, product_ids: Iterable[int]) -> dict[int, Product]:
    ids = list(set(product_ids))
    if not ids:
        return {}
    return {p.id: p for p in (await s.execute(select(Product).where(Product.id.in_(ids)))).scalars()}


async def search_products(
    s: AsyncSession, *, q: str = "", category_id: int | None = None, supplier_id: int | None = None,
    published_only: bool = True, offset: int = 0, limit: int = 20,
) -> tuple[list[Product], int]:
    """Products matching `q` (see catalog/search.py): exact word hits first, then synonym word hits, then
    matches by characters; best sellers first within each. No `q`: every product, best sellers first.
    A query with nothing searchable in it (only punctuation) finds nothing."""
    dialect = s.bind.dialect.name if s.bind is not None else "sqlite"
    conds: list[Any] = []
    order: list[Any] = []
    if published_only:
        conds.append(Product.status == "published")
    if category_id is not None:
        conds.append(Product.category_id == category_id)
    if supplier_id is not None:
        conds.append(Product.supplier_id == supplier_id)
    if q.strip():
        p = await search.plan(s, q)
        if p.empty:
            return [], 0
        match, rank = search.clauses(dialect, p)
        conds.append(match)
        order.append(rank.desc())
    base = select(Product).where(*conds)
    total = (await s.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    if not total:
        return [], 0
    items = list((await s.execute(
        base.order_by(*order, Product.sales_count.desc(), Product.id).offset(offset).limit(limit)
    )).scalars())
    return items, total
