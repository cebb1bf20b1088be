"""Micro-shop rules: opening is free (no fee, no purchase: 禁止传销条例 Art. 7), one shop per person,
the shelf is the shopkeeper's choice and order, the price is always the platform's."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts import service as accounts
from quanzi.accounts.models import Role
from quanzi.catalog import service as catalog
from quanzi.catalog.models import Product
from quanzi.kit import cache
from quanzi.kit.clock import clock
from quanzi.kit.db import insert_ignore
from quanzi.kit.hooks import Hook
from quanzi.shops.errors import BadShelfOrder, NoShop, NotOnShelf, ShopAlreadyOpen, ShopNotFound
from quanzi.shops.models import ShelfItem, Shop


@dataclass(frozen=True)
class ShelfEntry:
    item: ShelfItem | ShelfLine
    product: Product | ShelfProduct
    min_price_fen: int


@dataclass(frozen=True)
class ShelfLine:
    """A shelf item as the public shelf shows it (cached: plain values, not a row of some session)."""

    product_id: int
    position: int
    recommendation: str


@dataclass(frozen=True)
class ShelfProduct:
    """A shelved product as the public shelf shows it (cached)."""

    id: int
    title: str
    subtitle: str
    image_url: str | None
    non_returnable: bool
    status: str


@dataclass(frozen=True)
class ShopFacts:
    """What checkout asks of a shop: its owner, whether it is open, what is on its shelf (cached)."""

    owner_id: int
    status: str
    shelved: frozenset[int]


# Checkout asks who sells through a shop, and shop pages show its shelf, on every visit; a shelf changes
# when its shopkeeper edits it. Cached in the process (kit/cache.py); the public shelf also shows products
# and prices, so it depends on the catalog too.
cache.watch("shops", Shop.__tablename__)
cache.watch("shops", ShelfItem.__tablename__)
FACTS = cache.Cached("shops.facts", on=("shops",))
SHELVES = cache.Cached("shops.public_shelf", on=("shops", "catalog"))


# Run with (session, owner_id) when a shop opens.
shop_opened = Hook("shops.opened")


async def open_shop(s: AsyncSession, owner_id: int, name: str, intro: str = "", avatar_url: str | None = None) -> Shop:
    created = await insert_ignore(
        s, Shop, {"owner_id": owner_id, "name": name, "intro": intro, "avatar_url": avatar_url, "status": "open",
                  "created_at": clock.now()}, ["owner_id"],
    )
    if not created:
        raise ShopAlreadyOpen()
    await accounts.add_role(s, owner_id, Role.SHOPKEEPER)
    # Opening a shop is free and makes you a distributor (or an applicant, if the operator approves them):
    # distribution registers that on this hook, in this transaction.
    await shop_opened.run(s, owner_id)
    return await my_shop(s, owner_id)


async def my_shop(s: AsyncSession, owner_id: int) -> Shop:
    shop = (await s.execute(select(Shop).where(Shop.owner_id == owner_id))).scalar_one_or_none()
    if shop is None:
        raise NoShop()
    return shop


async def find_my_shop(s: AsyncSession, owner_id: int) -> Shop | None:
    return (await s.execute(select(Shop).where(Shop.owner_id == owner_id))).scalar_one_or_none()


async def public_shop(s: AsyncSession, shop_id: int) -> Shop:
    shop = await s.get(Shop, shop_id)
    if shop is None or shop.status != "open":
        raise ShopNotFound()
    return shop


async def update_shop(s: AsyncSession, shop: Shop, *, name: str | None = None, intro: str | None = None,
                      avatar_url: str | None = None) -> Shop:
    if name is not None:
        shop.name = name
    if intro is not None:
        shop.intro = intro
    if avatar_url is not None:
        shop.avatar_url = avatar_url
    return shop


async def add_to_shelf(s: AsyncSession, shop: Shop, product_id: int, recommendation: str = "") -> ShelfItem:
    await catalog.published_product(s, product_id)  # 404 unless published
    top = (await s.execute(select(func.max(ShelfItem.position)).where(ShelfItem.shop_id == shop.id))).scalar()
    await insert_ignore(
        s, ShelfItem, {"shop_id": shop.id, "product_id": product_id, "position": (top or 0) + 1,
                       "recommendation": recommendation, "created_at": clock.now()}, ["shop_id", "product_id"],
    )
    item = (await s.execute(
        select(ShelfItem).where(ShelfItem.shop_id == shop.id, ShelfItem.product_id == product_id)
    )).scalar_one()
    if recommendation:
        item.recommendation = recommendation
    return item


async def set_recommendation(s: AsyncSession, shop: Shop, product_id: int, recommendation: str) -> None:
    n = (await s.execute(
        update(ShelfItem).where(ShelfItem.shop_id == shop.id, ShelfItem.product_id == product_id)
        .values(recommendation=recommendation)
    )).rowcount  # type: ignore[attr-defined]
    if n != 1:
        raise NotOnShelf()


async def remove_from_shelf(s: AsyncSession, shop: Shop, product_id: int) -> None:
    """404 for a product not on this shop's shelf, like every object route (not a silent success)."""
    n = (await s.execute(
        delete(ShelfItem).where(ShelfItem.shop_id == shop.id, ShelfItem.product_id == product_id)
    )).rowcount  # type: ignore[attr-defined]
    if n != 1:
        raise NotOnShelf()


async def reorder_shelf(s: AsyncSession, shop: Shop, product_ids: list[int]) -> None:
    current = set((await s.execute(select(ShelfItem.product_id).where(ShelfItem.shop_id == shop.id))).scalars())
    if set(product_ids) != current or len(product_ids) != len(current):
        raise BadShelfOrder()
    for pos, pid in enumerate(product_ids, start=1):
        await s.execute(update(ShelfItem).where(ShelfItem.shop_id == shop.id, ShelfItem.product_id == pid)
                        .values(position=pos))


async def shelf(s: AsyncSession, shop_id: int, *, published_only: bool = True) -> list[ShelfEntry]:
    """The shelf in the shopkeeper's order. The public shelf (published products only) is cached and made
    of plain values; the whole shelf (the shopkeeper's own pages) is read with its rows."""
    if published_only:
        return await SHELVES.get(s, shop_id, lambda: _public_shelf(s, shop_id))
    return await _shelf_rows(s, shop_id, published_only=False)


async def _shelf_rows(s: AsyncSession, shop_id: int, *, published_only: bool) -> list[ShelfEntry]:
    stmt = (select(ShelfItem, Product).join(Product, Product.id == ShelfItem.product_id)
            .where(ShelfItem.shop_id == shop_id).order_by(ShelfItem.position, ShelfItem.id))
    if published_only:
        stmt = stmt.where(Product.status == "published")
    rows = (await s.execute(stmt)).all()
    prices = await catalog.min_prices(s, [p.id for _, p in rows])
    return [ShelfEntry(item, product, prices.get(product.id, 0)) for item, product in rows]


async def _public_shelf(s: AsyncSession, shop_id: int) -> list[ShelfEntry]:
    return [ShelfEntry(ShelfLine(e.item.product_id, e.item.position, e.item.recommendation),
                       ShelfProduct(e.product.id, e.product.title, e.product.subtitle, e.product.image_url,
                                    e.product.non_returnable, e.product.status), e.min_price_fen)
            for e in await _shelf_rows(s, shop_id, published_only=True)]


async def shelf_item(s: AsyncSession, shop_id: int, product_id: int) -> ShelfItem:
    item = (await s.execute(
        select(ShelfItem).where(ShelfItem.shop_id == shop_id, ShelfItem.product_id == product_id)
    )).scalar_one_or_none()
    if item is None:
        raise NotOnShelf()
    return item


async def shops_by_id(s: AsyncSession, ids: list[int]) -> dict[int, Shop]:
    if not ids:
        return {}
    return {x.id: x for x in (await s.execute(select(Shop).where(Shop.id.in_(set(ids))))).scalars()}


async def list_open_shops(s: AsyncSession, limit: int = 20) -> list[Shop]:
    return list((await s.execute(select(Shop).where(Shop.status == "open").order_by(Shop.id).limit(limit))).scalars())


async def owners_of(s: AsyncSession, shop_ids: list[int]) -> dict[int, int]:
    if not shop_ids:
        return {}
    rows = await s.execute(select(Shop.id, Shop.owner_id).where(Shop.id.in_(set(shop_ids))))
    return {sid: oid for sid, oid in rows.all()}


async def seller_of(s: AsyncSession, shop_id: int, product_ids: set[int]) -> int:
    """The owner of an open shop that carries every one of `product_ids` (cached; else one query). An order
    is credited to a shop only for products on that shop's shelf: naming a shop is not enough."""
    facts = await FACTS.get(s, shop_id, lambda: _facts(s, shop_id))
    if facts is None or facts.status != "open":
        raise ShopNotFound()
    if not set(product_ids) <= facts.shelved:
        raise NotOnShelf()
    return facts.owner_id


async def _facts(s: AsyncSession, shop_id: int) -> ShopFacts | None:
    rows = (await s.execute(
        select(Shop.owner_id, Shop.status, ShelfItem.product_id)
        .outerjoin(ShelfItem, ShelfItem.shop_id == Shop.id).where(Shop.id == shop_id))).all()
    if not rows:
        return None
    return ShopFacts(rows[0][0], rows[0][1], frozenset(r[2] for r in rows if r[2] is not None))
