"""The cart page: lines grouped by the shop they were added through, quantity steppers, checkout selection.

Adding from a shop's product page records that shop (the order later says which shop it came
through), so the product must be on that shop's shelf.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import CurrentUser
from quanzi.cart import service
from quanzi.catalog import service as catalog
from quanzi.catalog.errors import SkuUnavailable
from quanzi.kit.deps import DB
from quanzi.kit.schemas import PathId
from quanzi.kit.web import render
from quanzi.shops import service as shops

router = APIRouter(include_in_schema=False)

FormId = Annotated[int, Form(ge=1, le=2**31 - 1)]
FormQty = Annotated[int, Form(ge=1, le=service.MAX_QTY)]


async def check_shop_product(s: AsyncSession, sku_id: int, shop_id: int | None) -> int:
    """The SKU's product id, after checking it is on sale and (inside a shop) on that shop's shelf."""
    snap = (await catalog.snapshots(s, [sku_id])).get(sku_id)
    if snap is None or not snap.available:
        raise SkuUnavailable(sku_id=sku_id)
    if shop_id is not None:
        await shops.public_shop(s, shop_id)
        await shops.shelf_item(s, shop_id, snap.product_id)
    return snap.product_id


@router.post("/cart/add")
async def add_to_cart(me: CurrentUser, db: DB, sku_id: FormId, qty: FormQty,
                      shop_id: Annotated[int | None, Form(ge=1, le=2**31 - 1)] = None) -> Response:
    async with db.write() as s:
        product_id = await check_shop_product(s, sku_id, shop_id)
        await service.add_item(s, me.user_id, sku_id, qty, shop_id)
    where = f"/s/{shop_id}/p/{product_id}" if shop_id else f"/p/{product_id}"
    return RedirectResponse(f"{where}?added=1", status_code=303)


@router.get("/cart")
async def cart_page(request: Request, me: CurrentUser, db: DB) -> Response:
    async with db.read() as s:
        lines = await service.lines(s, me.user_id)
        shop_by_id = await shops.shops_by_id(s, [x.item.shop_id for x in lines if x.item.shop_id])
    groups: dict[int | None, list[service.CartLine]] = {}
    for line in lines:
        groups.setdefault(line.item.shop_id, []).append(line)
    ok = [x for x in lines if x.sku.available and x.sku.stock > 0]
    return render(request, "cart/cart.html", {
        "groups": [(shop_by_id.get(sid) if sid else None, ls) for sid, ls in groups.items()],
        "goods_fen": sum(x.total_fen for x in ok), "count": sum(x.item.quantity for x in ok),
        "has_lines": bool(lines), "checkoutable": bool(ok), "max_qty": service.MAX_QTY, "tab": "cart",
    })


@router.post("/cart/items/{item_id}/quantity")
async def set_quantity(item_id: PathId, me: CurrentUser, db: DB, quantity: FormQty) -> Response:
    async with db.write() as s:
        await service.set_quantity(s, me.user_id, item_id, quantity)
    return RedirectResponse("/cart", status_code=303)


@router.post("/cart/items/{item_id}/remove")
async def remove(item_id: PathId, me: CurrentUser, db: DB) -> Response:
    async with db.write() as s:
        await service.remove_item(s, me.user_id, item_id)
    return RedirectResponse("/cart", status_code=303)
