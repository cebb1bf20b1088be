"""Cart and address rules. Prices are never stored in the cart: they are read from the catalog."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.service import normalize_phone
from quanzi.cart import divisions
from quanzi.cart.errors import AddressLimit, AddressNotFound, InvalidRegion, QuantityTooLarge, TooManyItems
from quanzi.cart.models import Address, CartItem
from quanzi.catalog import service as catalog
from quanzi.catalog.errors import SkuUnavailable
from quanzi.catalog.service import SkuWithStock
from quanzi.kit.clock import clock
from quanzi.kit.db import insert_ignore

MAX_LINES = 50
MAX_QTY = 999


@dataclass(frozen=True)
class CartLine:
    item: CartItem
    sku: SkuWithStock

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
    snaps = await catalog.snapshots_with_stock(s, [i.sku_id for i in items])
    return [CartLine(i, snaps[i.sku_id]) for i in items if i.sku_id in snaps]


async def count(s: AsyncSession, user_id: int) -> int:
    return (await s.execute(select(func.coalesce(func.sum(CartItem.quantity), 0))
                            .where(CartItem.user_id == user_id))).scalar_one()


# --- addresses ----------------------------------------------------------------------------------

MAX_ADDRESSES = 20


def resolve_place(province_code: str | None, city_code: str | None, district_code: str | None,
                  region: str | None = None) -> divisions.Place | None:
    """The picked place, checked against the division data: the district must be in the city, the city in the
    province. Codes win; without any, a region written as names is resolved when it can be (seeded and old
    addresses), else None. Fans' forms and the API always send codes (schemas require them)."""
    if district_code or province_code or city_code:
        if not district_code:
            raise InvalidRegion()
        found = (divisions.place(province_code, city_code, district_code) if province_code or city_code
                 else divisions.place_of_district(district_code))
        if found is None:
            raise InvalidRegion()
        return found
    return divisions.find(region) if region else None


async def add_address(s: AsyncSession, user_id: int, *, name: str, phone: str, detail: str,
                      region: str | None = None, province_code: str | None = None, city_code: str | None = None,
                      district_code: str | None = None, is_default: bool = False) -> Address:
    e164 = normalize_phone(phone)
    place = resolve_place(province_code, city_code, district_code, region)
    if place is None and not region:
        raise InvalidRegion()
    existing = (await s.execute(select(func.count()).where(Address.user_id == user_id))).scalar_one()
    if existing >= MAX_ADDRESSES:
        raise AddressLimit()
    make_default = is_default or existing == 0
    if make_default:
        await s.execute(update(Address).where(Address.user_id == user_id).values(is_default=False))
    addr = Address(user_id=user_id, name=name.strip(), phone=e164, detail=detail.strip(), is_default=make_default,
                   created_at=clock.now(), **_place_columns(place, region))
    s.add(addr)
    await s.flush()
    return addr


def _place_columns(place: divisions.Place | None, region: str | None) -> dict[str, str | None]:
    if place is None:
        return {"region": (region or "").strip(), "province_code": None, "city_code": None, "district_code": None}
    return {"region": place.text, "province_code": place.province.code, "city_code": place.city.code,
            "district_code": place.district.code}


async def update_address(s: AsyncSession, user_id: int, address_id: int, *, name: str, phone: str, detail: str,
                         province_code: str | None, city_code: str | None, district_code: str | None,
                         is_default: bool = False) -> Address:
    """Edit one's own address (the picker's codes are required: an edit always leaves a checked place).
    Orders keep the copy of the address they were placed with."""
    addr = await owned_address(s, user_id, address_id)
    e164 = normalize_phone(phone)
    place = resolve_place(province_code, city_code, district_code)
    if place is None:
        raise InvalidRegion()
    if is_default and not addr.is_default:
        await s.execute(update(Address).where(Address.user_id == user_id).values(is_default=False))
    for key, value in {"name": name.strip(), "phone": e164, "detail": detail.strip(),
                       **_place_columns(place, None)}.items():
        setattr(addr, key, value)
    addr.is_default = addr.is_default or is_default
    await s.flush()
    return addr


async def set_default_address(s: AsyncSession, user_id: int, address_id: int) -> None:
    await owned_address(s, user_id, address_id)
    await s.execute(update(Address).where(Address.user_id == user_id, Address.id != address_id)
                    .values(is_default=False))
    await s.execute(update(Address).where(Address.id == address_id).values(is_default=True))


async def addresses(s: AsyncSession, user_id: int) -> list[Address]:
    return list((await s.execute(select(Address).where(Address.user_id == user_id)
                                 .order_by(Address.is_default.desc(), Address.id))).scalars())


async def owned_address(s: AsyncSession, user_id: int, address_id: int) -> Address:
    addr = await s.get(Address, address_id)
    if addr is None or addr.user_id != user_id:
        raise AddressNotFound()
    return addr


async def delete_address(s: AsyncSession, user_id: int, address_id: int) -> None:
    """Delete one's own address; if it was the default, the oldest remaining one becomes the default."""
    addr = await owned_address(s, user_id, address_id)
    was_default = addr.is_default
    await s.delete(addr)
    await s.flush()
    if was_default:
        next_id = (await s.execute(select(Address.id).where(Address.user_id == user_id)
                                   .order_by(Address.id).limit(1))).scalar_one_or_none()
        if next_id is not None:
            await s.execute(update(Address).where(Address.id == next_id).values(is_default=True))
