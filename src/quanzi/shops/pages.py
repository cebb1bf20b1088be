"""The public shop page: a shopkeeper's shelf in their order, with their recommendation lines."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import OptionalUser
from quanzi.catalog.pages import product_page_response
from quanzi.kit.deps import DB
from quanzi.kit.schemas import PathId
from quanzi.kit.web import render
from quanzi.shops import service

router = APIRouter(include_in_schema=False)

# Sections a higher domain adds to the shop page under its header (community: the shop's circles): given the
# read session and the shop id, a template to include and its context, or None to show nothing.
ShopSection = Callable[[AsyncSession, int], Awaitable[tuple[str, dict[str, Any]] | None]]
SHOP_SECTIONS: list[ShopSection] = []


def shop_section(fn: ShopSection) -> ShopSection:
    if fn not in SHOP_SECTIONS:
        SHOP_SECTIONS.append(fn)
    return fn


@router.get("/s/{shop_id}")
async def shop_page(request: Request, shop_id: PathId, db: DB, me: OptionalUser) -> Response:
    async with db.read() as s:
        shop = await service.public_shop(s, shop_id)
        shelf = await service.shelf(s, shop.id)
        sections = [x for x in [await section(s, shop.id) for section in SHOP_SECTIONS] if x is not None]
    return render(request, "shops/shop.html", {"shop": shop, "shelf": shelf, "tab": "home", "sections": sections})


@router.get("/s/{shop_id}/p/{product_id}")
async def shop_product_page(request: Request, shop_id: PathId, product_id: PathId, db: DB, me: OptionalUser,
                            added: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    """A product as a shop shows it: the shopkeeper's recommendation line; 404 unless on this shop's shelf."""
    async def in_shop(s: AsyncSession) -> tuple[Any, Any]:
        return await service.public_shop(s, shop_id), await service.shelf_item(s, shop_id, product_id)

    return await product_page_response(request, db, product_id, added, in_shop)
