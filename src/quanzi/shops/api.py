"""Micro-shop JSON API: open a shop, edit it and its shelf; the public shop with its shelf."""

from __future__ import annotations

from fastapi import APIRouter

from quanzi.accounts.deps import CurrentUser, Shopkeeper
from quanzi.kit.deps import DB
from quanzi.kit.schemas import PathId
from quanzi.shops import pictures, service
from quanzi.shops.models import Shop
from quanzi.shops.schemas import PicturesIn, RecommendationIn, ShelfAddIn, ShelfItemOut, ShelfOrderIn, ShopIn, ShopOut, ShopPatch

router = APIRouter(prefix="/api/shops", tags=["shops"])


def shop_out(shop: Shop, entries: list[service.ShelfEntry]) -> ShopOut:
    return ShopOut(id=shop.id, name=shop.name, intro=shop.intro, avatar_url=shop.avatar_url,
                   banner_url=shop.banner_url, shelf=[
        ShelfItemOut(product_id=e.product.id, title=e.product.title, image_url=e.product.image_url,
                     min_price_fen=e.min_price_fen, recommendation=e.item.recommendation, position=e.item.position)
        for e in entries
    ])


@router.post("", status_code=201)
async def open_shop(body: ShopIn, db: DB, me: CurrentUser) -> ShopOut:
    """Free for everyone: no fee and no purchase required."""
    async with db.write() as s:
        shop = await service.open_shop(s, me.user_id, body.name, body.intro)
        return shop_out(shop, [])


@router.get("/mine")
async def my_shop(db: DB, me: Shopkeeper) -> ShopOut:
    async with db.read() as s:
        shop = await service.my_shop(s, me.user_id)
        return shop_out(shop, await service.shelf(s, shop.id, published_only=False))


@router.patch("/mine")
async def edit_shop(body: ShopPatch, db: DB, me: Shopkeeper) -> ShopOut:
    async with db.write() as s:
        shop = await service.my_shop(s, me.user_id)
        await service.update_shop(s, shop, **body.model_dump(exclude_unset=True))
        return shop_out(shop, await service.shelf(s, shop.id, published_only=False))


@router.put("/mine/pictures")
async def set_pictures(body: PicturesIn, db: DB, me: Shopkeeper) -> ShopOut:
    """Make your uploads (POST /api/media, purpose shop_avatar / shop_banner) the shop's avatar and banner."""
    async with db.write() as s:
        shop = await service.my_shop(s, me.user_id)
        for kind, media_id in (("avatar", body.avatar_media_id), ("banner", body.banner_media_id)):
            if media_id is not None:
                await pictures.set_picture(s, shop, me.user_id, kind, media_id=media_id)
        return shop_out(shop, await service.shelf(s, shop.id, published_only=False))


@router.post("/mine/shelf", status_code=201)
async def add_to_shelf(body: ShelfAddIn, db: DB, me: Shopkeeper) -> ShopOut:
    async with db.write() as s:
        shop = await service.my_shop(s, me.user_id)
        await service.add_to_shelf(s, shop, body.product_id, body.recommendation)
        return shop_out(shop, await service.shelf(s, shop.id, published_only=False))


@router.put("/mine/shelf/{product_id}", status_code=204)
async def set_recommendation(product_id: PathId, body: RecommendationIn, db: DB, me: Shopkeeper) -> None:
    async with db.write() as s:
        await service.set_recommendation(s, await service.my_shop(s, me.user_id), product_id, body.recommendation)


@router.delete("/mine/shelf/{product_id}", status_code=204)
async def remove_from_shelf(product_id: PathId, db: DB, me: Shopkeeper) -> None:
    async with db.write() as s:
        await service.remove_from_shelf(s, await service.my_shop(s, me.user_id), product_id)


@router.put("/mine/shelf", status_code=204)
async def reorder(body: ShelfOrderIn, db: DB, me: Shopkeeper) -> None:
    async with db.write() as s:
        await service.reorder_shelf(s, await service.my_shop(s, me.user_id), body.product_ids)


@router.get("/{shop_id}")
async def public_shop(shop_id: PathId, db: DB) -> ShopOut:
    async with db.read() as s:
        shop = await service.public_shop(s, shop_id)
        return shop_out(shop, await service.shelf(s, shop.id))
