"""Catalog JSON API: public browsing and search; supplier product management."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from quanzi.accounts.deps import Supplier
from quanzi.catalog import gallery, service
from quanzi.catalog.models import Product, Sku
from quanzi.media.models import Media
from quanzi.catalog.schemas import (
    CategoryOut,
    ImagesIn,
    ProductImageOut,
    PriceIn,
    ProductIn,
    ProductOut,
    ProductPage,
    ProductPatch,
    SkuOut,
    StatusIn,
    StockIn,
)
from quanzi.kit.deps import DB
from quanzi.kit.pagination import PageParams, page_params
from quanzi.kit.schemas import PathId

router = APIRouter(prefix="/api/catalog", tags=["catalog"])


def product_out(p: Product, skus: list[Sku], refs: dict[int, int] | None = None) -> ProductOut:
    refs = refs or {}
    return ProductOut(
        id=p.id, title=p.title, subtitle=p.subtitle, description=p.description, image_url=p.image_url,
        category_id=p.category_id, non_returnable=p.non_returnable, non_returnable_reason=p.non_returnable_reason,
        status=p.status, sales_count=p.sales_count,
        min_price_fen=min((k.price_fen for k in skus if k.is_active), default=None),
        skus=[SkuOut(id=k.id, code=k.code, label=k.label, attrs=k.attrs, price_fen=k.price_fen,
                     reference_price_fen=refs.get(k.id) if refs.get(k.id, 0) > k.price_fen else None,
                     stock=k.stock, image_url=k.image_url) for k in skus],
    )


@router.get("/categories")
async def list_categories(db: DB) -> list[CategoryOut]:
    async with db.read() as s:
        return [CategoryOut.model_validate(c) for c in await service.categories(s)]


@router.get("/products")
async def search_products(
    db: DB, paging: Annotated[PageParams, Depends(page_params)],
    q: Annotated[str, Query(max_length=40)] = "", category_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> ProductPage:
    async with db.read() as s:
        items, total = await service.search_products(s, q=q, category_id=category_id, offset=paging.offset,
                                                     limit=paging.size)
        skus = await service.skus_of(s, [p.id for p in items])
    return ProductPage(items=[product_out(p, skus[p.id]) for p in items], total=total, page=paging.page,
                       size=paging.size)


@router.get("/products/{product_id}")
async def get_product(product_id: PathId, db: DB) -> ProductOut:
    async with db.read() as s:
        product, skus = await service.published_product(s, product_id)
        refs = await service.reference_prices(s, [k.id for k in skus])
        pictures = await gallery.images(s, product.id)
    return product_out(product, skus, refs).model_copy(update={"images": [m.url("750") for m in pictures]})


# --- supplier management ------------------------------------------------------------------------

async def _supplier_id(s, me) -> int | None:  # noqa: ANN001
    """Operators manage every product; suppliers only their own."""
    if me.has("operator"):
        return None
    return (await service.require_supplier(s, me.user_id)).id


@router.get("/manage/products")
async def my_products(db: DB, me: Supplier, paging: Annotated[PageParams, Depends(page_params)]) -> ProductPage:
    async with db.read() as s:
        sid = await _supplier_id(s, me)
        items, total = await service.search_products(s, supplier_id=sid, published_only=False,
                                                     offset=paging.offset, limit=paging.size)
        skus = await service.skus_of(s, [p.id for p in items])
    return ProductPage(items=[product_out(p, skus[p.id]) for p in items], total=total, page=paging.page,
                       size=paging.size)


@router.post("/manage/products", status_code=201)
async def create_product(body: ProductIn, db: DB, me: Supplier) -> ProductOut:
    async with db.write() as s:
        sup = await service.require_supplier(s, me.user_id)
        p = await service.create_product(
            s, sup.id, title=body.title, subtitle=body.subtitle, description=body.description,
            category_id=body.category_id, non_returnable=body.non_returnable,
            non_returnable_reason=body.non_returnable_reason, skus=[k.model_dump() for k in body.skus],
            actor_id=me.user_id, publish=body.publish,
        )
        skus = (await service.skus_of(s, [p.id]))[p.id]
        return product_out(p, skus)


@router.patch("/manage/products/{product_id}")
async def patch_product(product_id: PathId, body: ProductPatch, db: DB, me: Supplier) -> ProductOut:
    async with db.write() as s:
        p = await service.owned_product(s, product_id, await _supplier_id(s, me))
        await service.update_product(s, p, **body.model_dump(exclude_unset=True))
        return product_out(p, (await service.skus_of(s, [p.id]))[p.id])


@router.post("/manage/products/{product_id}/status")
async def set_status(product_id: PathId, body: StatusIn, db: DB, me: Supplier) -> ProductOut:
    async with db.write() as s:
        p = await service.owned_product(s, product_id, await _supplier_id(s, me))
        await service.set_status(s, p, body.status)
        return product_out(p, (await service.skus_of(s, [p.id]))[p.id])


async def _owned_sku(s, sku_id: int, me) -> Sku:  # noqa: ANN001
    from quanzi.catalog.errors import ProductNotFound

    sku = await s.get(Sku, sku_id)
    if sku is None:
        raise ProductNotFound()
    await service.owned_product(s, sku.product_id, await _supplier_id(s, me))
    return sku


@router.post("/manage/skus/{sku_id}/price", status_code=204)
async def set_price(sku_id: PathId, body: PriceIn, db: DB, me: Supplier) -> None:
    async with db.write() as s:
        await _owned_sku(s, sku_id, me)
        await service.set_price(s, sku_id, body.price_fen, me.user_id)


@router.post("/manage/skus/{sku_id}/stock")
async def adjust_stock(sku_id: PathId, body: StockIn, db: DB, me: Supplier) -> dict[str, int]:
    from quanzi.kit.clock import clock

    async with db.write() as s:
        await _owned_sku(s, sku_id, me)
        stock = await service.adjust_stock(s, sku_id, body.delta, ref=f"adjust:{me.user_id}:{clock.now().isoformat()}")
    return {"stock": stock}


@router.get("/manage/products/{product_id}/images")
async def product_images(product_id: PathId, db: DB, me: Supplier) -> list[ProductImageOut]:
    async with db.read() as s:
        p = await service.owned_product(s, product_id, await _supplier_id(s, me))
        return [_image_out(m) for m in await gallery.images(s, p.id)]


@router.post("/manage/products/{product_id}/images")
async def add_product_images(product_id: PathId, body: ImagesIn, db: DB, me: Supplier) -> list[ProductImageOut]:
    """Append uploads (purpose=product, your own) to the product's pictures; the first is the main image."""
    async with db.write() as s:
        p = await service.owned_product(s, product_id, await _supplier_id(s, me))
        await gallery.add(s, p, me.user_id, media_ids=body.media_ids)
        return [_image_out(m) for m in await gallery.images(s, p.id)]


@router.delete("/manage/products/{product_id}/images/{media_id}", status_code=204)
async def remove_product_image(product_id: PathId, media_id: PathId, db: DB, me: Supplier) -> None:
    async with db.write() as s:
        p = await service.owned_product(s, product_id, await _supplier_id(s, me))
        await gallery.remove(s, p, media_id)


def _image_out(m: Media) -> ProductImageOut:
    return ProductImageOut(id=m.id, url=m.url("full"), medium_url=m.url("750"), thumb_url=m.url("240"))
