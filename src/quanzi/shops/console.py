"""Shopkeeper console pages: open a shop (free), edit it, arrange the shelf, pick products from the supply.

Prices are never edited here: they are the platform's, the same in every shop (shops.service).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError

from quanzi.accounts.deps import CurrentUser, Shopkeeper
from quanzi.accounts.service import Principal
from quanzi.catalog import service as catalog
from quanzi.kit import i18n
from quanzi.kit.errors import DomainError, Forbidden
from quanzi.kit.console import describe, page, redirect, refused
from quanzi.kit.deps import DB
from quanzi.kit.i18n import _
from quanzi.kit.schemas import PathId
from quanzi.media.deps import MediaStorage, real_files, receive
from quanzi.media.errors import Empty
from quanzi.shops import pictures, service
from quanzi.shops.errors import ShopAlreadyOpen
from quanzi.shops.models import Shop
from quanzi.shops.schemas import RecommendationIn, ShopIn

router = APIRouter(include_in_schema=False)

SHOP = "/console/shop"
CATALOG = "/console/shop/catalog"
PAGE_SIZE = 20


def _errors(exc: ValidationError) -> dict[str, str]:
    return {str(e["loc"][0]): describe(e) for e in exc.errors()}  # type: ignore[arg-type]


async def _shop_of(db: Any, me: Principal) -> Shop | None:
    async with db.read() as s:
        return await service.find_my_shop(s, me.user_id)


def _open_first(request: Request) -> Response:
    return redirect(request, SHOP, _("Open your shop first: it is free."), "info")


async def _shelf_page(request: Request, db: Any, shop: Shop, form: dict[str, str] | None = None,
                      errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    async with db.read() as s:
        entries = await service.shelf(s, shop.id, published_only=False)
        skus = await catalog.skus_of(s, [e.product.id for e in entries])
    price_varies = {
        pid: len({k.price_fen for k in ks if k.is_active}) > 1 for pid, ks in skus.items()
    }
    return page(request, "console/shop.html", {
        "active": "shop", "shop": shop, "entries": entries, "price_varies": price_varies,
        "form": form or {"name": shop.name, "intro": shop.intro}, "errors": errors or {},
    }, status_code=status_code)


@router.get("/console/shop")
async def my_shop(request: Request, db: DB, me: CurrentUser) -> Response:
    shop = await _shop_of(db, me)
    if shop is None:
        return page(request, "console/shop_open.html", {"active": "shop", "form": {"name": "", "intro": ""},
                                                         "errors": {}})
    if not me.has("shopkeeper"):  # the shop exists but the role was taken away
        raise Forbidden(roles=["shopkeeper"])
    return await _shelf_page(request, db, shop)


@router.post("/console/shop/open")
async def open_shop(request: Request, db: DB, me: CurrentUser,
                    name: Annotated[str, Form(max_length=400)] = "",
                    intro: Annotated[str, Form(max_length=5000)] = "") -> Response:
    """Free for everyone logged in: no fee, no purchase, no invitation needed."""
    form = {"name": name.strip(), "intro": intro.strip()}
    try:
        ShopIn.model_validate(form)
    except ValidationError as exc:
        return page(request, "console/shop_open.html",
                    {"active": "shop", "form": form, "errors": _errors(exc)}, status_code=422)
    try:
        async with db.write() as s:
            await service.open_shop(s, me.user_id, form["name"], form["intro"])
    except ShopAlreadyOpen as exc:
        return redirect(request, SHOP, exc.text(i18n.short()), "info")
    return redirect(request, SHOP,
                    _("Your shop is open. Add products from the supply catalog to fill your shelf."))


@router.post("/console/shop")
async def edit_shop(request: Request, db: DB, me: Shopkeeper, name: Annotated[str, Form(max_length=400)] = "",
                    intro: Annotated[str, Form(max_length=5000)] = "") -> Response:
    form = {"name": name.strip(), "intro": intro.strip()}
    shop = await _shop_of(db, me)
    if shop is None:
        return _open_first(request)
    try:
        ShopIn.model_validate(form)
    except ValidationError as exc:
        return await _shelf_page(request, db, shop, form, _errors(exc), 422)
    async with db.write() as s:
        mine = await service.my_shop(s, me.user_id)
        await service.update_shop(s, mine, name=form["name"], intro=form["intro"])
    return redirect(request, SHOP, _("Shop details saved."))


@router.post("/console/shop/pictures")
async def upload_pictures(request: Request, db: DB, me: Shopkeeper, storage: MediaStorage,
                          avatar: Annotated[UploadFile | None, File()] = None,
                          banner: Annotated[UploadFile | None, File()] = None) -> Response:
    chosen = [(kind, f) for kind, f in (("avatar", avatar), ("banner", banner)) if real_files([f] if f else [])]
    if await _shop_of(db, me) is None:
        return _open_first(request)
    try:
        if not chosen:
            raise Empty()
        stored = [(kind, (await receive(request, me.user_id, [f], max_files=1))[0]) for kind, f in chosen]
        async with db.write() as s:
            shop = await service.my_shop(s, me.user_id)
            for kind, photo in stored:
                await pictures.set_picture(s, shop, me.user_id, kind, photo=photo, storage=storage)
    except DomainError as exc:
        return refused(request, f"{SHOP}#pictures", exc)
    return redirect(request, f"{SHOP}#pictures", _("Shop pictures saved."))


@router.post("/console/shop/shelf/{product_id}/recommendation")
async def set_recommendation(request: Request, product_id: PathId, db: DB, me: Shopkeeper,
                             recommendation: Annotated[str, Form(max_length=2000)] = "") -> Response:
    anchor = f"{SHOP}#item-{product_id}"
    try:
        body = RecommendationIn.model_validate({"recommendation": recommendation.strip()})
    except ValidationError as exc:
        return refused(request, anchor, _("Recommendation not saved: %(why)s") % {
            "why": describe(exc.errors()[0])})  # type: ignore[arg-type]
    try:
        async with db.write() as s:
            shop = await service.find_my_shop(s, me.user_id)
            if shop is None:
                return _open_first(request)
            await service.set_recommendation(s, shop, product_id, body.recommendation)
    except DomainError as exc:
        return refused(request, SHOP, exc)
    return redirect(request, anchor, _("Recommendation saved."))


@router.post("/console/shop/shelf/{product_id}/move")
async def move(request: Request, product_id: PathId, db: DB, me: Shopkeeper,
               direction: Annotated[str, Form(pattern=r"^(up|down)$")]) -> Response:
    try:
        async with db.write() as s:
            shop = await service.find_my_shop(s, me.user_id)
            if shop is None:
                return _open_first(request)
            order = [e.product.id for e in await service.shelf(s, shop.id, published_only=False)]
            if product_id not in order:
                from quanzi.shops.errors import NotOnShelf

                raise NotOnShelf()
            i = order.index(product_id)
            j = i - 1 if direction == "up" else i + 1
            if 0 <= j < len(order):
                order[i], order[j] = order[j], order[i]
                await service.reorder_shelf(s, shop, order)
    except DomainError as exc:
        return refused(request, SHOP, exc)
    return redirect(request, f"{SHOP}#item-{product_id}")


@router.post("/console/shop/shelf/{product_id}/remove")
async def remove(request: Request, product_id: PathId, db: DB, me: Shopkeeper) -> Response:
    async with db.write() as s:
        shop = await service.find_my_shop(s, me.user_id)
        if shop is None:
            return _open_first(request)
        item = await service.shelf_item(s, shop.id, product_id)  # 404 unless it is on my shelf
        title = (await catalog.products_by_id(s, [item.product_id]))[item.product_id].title
        await service.remove_from_shelf(s, shop, product_id)
    return redirect(request, SHOP, _("“%(title)s” removed from your shelf.") % {"title": title})


def _catalog_url(q: str, category: int | None, page_no: int) -> str:
    params: dict[str, Any] = {}
    if q:
        params["q"] = q
    if category:
        params["category"] = category
    if page_no > 1:
        params["page"] = page_no
    return CATALOG + (f"?{urlencode(params)}" if params else "")


@router.get("/console/shop/catalog")
async def browse(request: Request, db: DB, me: Shopkeeper, q: Annotated[str, Query(max_length=40)] = "",
                 category: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
                 page_no: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1) -> Response:
    q = q.strip()
    async with db.read() as s:
        shop = await service.find_my_shop(s, me.user_id)
        if shop is None:
            return _open_first(request)
        items, total = await catalog.search_products(s, q=q, category_id=category,
                                                     offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        prices = await catalog.min_prices(s, [p.id for p in items])
        on_shelf = {e.product.id for e in await service.shelf(s, shop.id, published_only=False)}
        cats = await catalog.categories(s)
    en = i18n.get_locale() == "en"
    pages = max(1, -(-total // PAGE_SIZE))
    return page(request, "console/shop_catalog.html", {
        "active": "catalog", "shop": shop, "products": items, "prices": prices, "on_shelf": on_shelf, "q": q,
        "category": category, "total": total, "page_no": page_no, "pages": pages,
        "categories": [(c.id, c.name_en if en else c.name_zh, _catalog_url(q, c.id, 1)) for c in cats],
        "all_url": _catalog_url(q, None, 1),
        "prev_url": _catalog_url(q, category, page_no - 1) if page_no > 1 else None,
        "next_url": _catalog_url(q, category, page_no + 1) if page_no < pages else None,
        "here": _catalog_url(q, category, page_no),
    })


@router.post("/console/shop/shelf")
async def add_to_shelf(request: Request, db: DB, me: Shopkeeper,
                       product_id: Annotated[int, Form(ge=1, le=2**31 - 1)],
                       back: Annotated[str, Form(max_length=300)] = CATALOG) -> Response:
    back = back if back.startswith(CATALOG) else CATALOG
    try:
        async with db.write() as s:
            shop = await service.find_my_shop(s, me.user_id)
            if shop is None:
                return _open_first(request)
            await service.add_to_shelf(s, shop, product_id)
            title = (await catalog.products_by_id(s, [product_id]))[product_id].title
    except DomainError as exc:
        return refused(request, back, exc)
    return redirect(request, f"{back}#product-{product_id}",
                    _("“%(title)s” is on your shelf. Add your own recommendation on the My shop page.")
                    % {"title": title})
