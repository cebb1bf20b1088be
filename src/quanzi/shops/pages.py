"""The public shop page: a shopkeeper's shelf in their order, with their recommendation lines."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from quanzi.accounts.deps import OptionalUser
from quanzi.kit.deps import DB
from quanzi.kit.schemas import PathId
from quanzi.kit.web import render
from quanzi.shops import service

router = APIRouter(include_in_schema=False)


@router.get("/s/{shop_id}")
async def shop_page(request: Request, shop_id: PathId, db: DB, me: OptionalUser) -> Response:
    async with db.read() as s:
        shop = await service.public_shop(s, shop_id)
        shelf = await service.shelf(s, shop.id)
    return render(request, "shops/shop.html", {"shop": shop, "shelf": shelf, "tab": "home"})
