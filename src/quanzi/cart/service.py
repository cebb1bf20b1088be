"""Cart and address rules. Prices are never stored in the cart: they are read from the catalog."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.service import normalize_phone
from quanzi.cart.errors import AddressLimit, AddressNotFound, QuantityTooLarge, TooManyItems
from quanzi.cart.models import Address, CartItem
from quanzi.catalog import service as catalog
from quanzi.catalog.errors import SkuUnavailable
from quanzi.catalog.service import SkuSnapshot
from quanzi.kit.clock import clock
from quanzi.kit.db import insert_ignore

MAX_LINES = 50
MAX_QTY = 999


@dataclass(frozen=True)
class CartLine:
    item: CartItem
    sku: SkuSnapshot

    @property
    def total_fen(self) -> int:
        return self.sku.price_fen * self.item.quantity


async def add_item(s: AsyncSession, user_id: int, sku_id: int, quantity: int, shop_id: int | None) -> CartItem:
    snap = (await catalog.snapshots(s, [sku_id])).get(sku_id)
    if snap is None or not snap.available:
        raise SkuUnavailable(sku_id=sku_id)
    if shop_id is not None:  # remembered for the order's shop credit: only a shop that carries the product
        from quanzi.shops import service as shops

        await shops.seller_of(s, shop_id, {snap.product_id})
    same_line = (CartItem.user_id == user_id, CartItem.sku_id == sku_id,
                 CartItem.shop_id.is_(None) if shop_id is None else CartItem.shop_id == shop_id)
    # NULL shop ids are never equal in a UNIQUE index, so look the line up first (the cart is the fan's own:
    # its writes are serialised by the write transaction on SQLite; a duplicate line is harmless elsewhere).
    item = (await s.execute(select(CartItem).where(*same_line).order_by(CartItem.id))).scalars().first()
    if item is None:
        count = (await s.execute(select(func.count()).where(CartItem.user_id == user_id))).scalar_one()
        if count >= MAX_LINES:
            raise TooManyItems()
        await insert_ignore(s, CartItem, {"user_id": user_id, "sku_id": sku_id, "shop_id": shop_id, "quantity": 0,
                                          "added_at": clock.now()}, ["user_id", "sku_id", "shop_id"])
        item = (await s.execute(select(CartItem).where(*same_line).order_by(CartItem.id))).scalars().first()
        assert item is not None
    if item.quantity + quantity > MAX_QTY:
        raise QuantityTooLarge(max=MAX_QTY)
    item.quantity += quantity
    return item


async def set_quantity(s: AsyncSession, user_id: int, item_id: int, quantity: int) -> None:
    if quantity > MAX_QTY:
        raise QuantityTooLarge(max=MAX_QTY)
    n = (await s.execute(update(CartItem).where(CartItem.id == item_id, CartItem.user_id == user_id)
                         .values(quantity=quantity))).rowcount  # type: ignore[attr-defined]
    if n != 1:
        from quanzi.kit.errors import NotFound

        raise NotFound()


async def remove_items(s: AsyncSession, user_id: int, item_ids: list[int]) -> None:
    await s.execute(delete(CartItem).where(CartItem.user_id == user_id, CartItem.id.in_(item_ids)))


async def remove_item(s: AsyncSession, user_id: int, item_id: int) -> None:
    """Remove one of the caller's cart items; 404 for an item that is not theirs (or already gone)."""
    n = (await s.execute(delete(CartItem).where(CartItem.user_id == user_id, CartItem.id == item_id))
         ).rowcount  # type: ignore[attr-defined]
    if n != 1:
        from quanzi.kit.errors import NotFound

        raise NotFound()


async def lines(s: AsyncSession, user_id: int, item_ids: list[int] | None = None) -> list[CartLine]:
    stmt = select(CartItem).where(CartItem.user_id == user_id).order_by(CartItem.id)
    if item_ids is not None:
        stmt = stmt.where(CartItem.id.in_(item_ids))
    items = list((await s.execute(stmt)).scalars())
    snaps = await catalog.snapshots(s, [i.sku_id for i in items])
    return [CartLine(i, snaps[i.sku_id]) for i in items if i.sku_id in snaps]


async def count(s: AsyncSession, user_id: int) -> int:
    return (await s.execute(select(func.coalesce(func.sum(CartItem.quantity), 0))
                            .where(CartItem.user_id == user_id))).scalar_one()


# --- addresses ----------------------------------------------------------------------------------

async def add_address(s: AsyncSession, user_id: int, *, name: str, phone: str, region: str, detail: str,
                      is_default: bool = False) -> Address:
    e164 = normalize_phone(phone)
    existing = (await s.execute(select(func.count()).where(Address.user_id == user_id))).scalar_one()
    if existing >= 20:
        raise AddressLimit()
    make_default = is_default or existing == 0
    if make_default:
        await s.execute(update(Address).where(Address.user_id == user_id).values(is_default=False))
    addr = Address(user_id=user_id, name=name, phone=e164, region=region, detail=detail, is_default=make_default,
                   created_at=clock.now())
    s.add(addr)
    await s.flush()
    return addr


async def addresses(s: AsyncSession, user_id: int) -> list[Address]:
    return list((await s.execute(select(Address).where(Address.user_id == user_id)
                                 .order_by(Address.is_default.desc(), Address.id))).scalars())


async def owned_address(s: AsyncSession, user_id: int, address_id: int) -> Address:
    addr = await s.get(Address, address_id)
    if addr is None or addr.user_id != user_id:
        raise AddressNotFound()
    return addr


async def delete_address(s: AsyncSession, user_id: int, address_id: int) -> None:
    addr = await owned_address(s, user_id, address_id)
    await s.delete(addr)
