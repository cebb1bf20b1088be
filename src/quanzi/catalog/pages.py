"""Storefront product pages: a product (alone or inside a shop) and search. Rules live in catalog.service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import OptionalUser
from quanzi.catalog import gallery, search, service
from quanzi.catalog.models import Sku
from quanzi.kit import i18n
from quanzi.kit.clock import CHINA
from quanzi.kit.db import Database
from quanzi.kit.deps import DB
from quanzi.kit.money import yuan
from quanzi.kit.schemas import PathId
from quanzi.kit.web import render, templates
from quanzi.policy import service as policy
from quanzi.policy.service import CommercePolicy

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 20

# Sections a higher domain adds below the product (reviews): given the read session and the product id,
# a template to include and its context. Registered at import by that domain; catalog knows none of them.
ProductSection = Callable[[AsyncSession, int], Awaitable[tuple[str, dict[str, Any]]]]
PRODUCT_SECTIONS: list[ProductSection] = []


def product_section(fn: ProductSection) -> ProductSection:
    PRODUCT_SECTIONS.append(fn)
    return fn


def _local_time(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return value.astimezone(CHINA).strftime(fmt) if value is not None else ""


# Storefront templates show times in China time (orders, timelines, deadlines).
templates.env.filters.setdefault("sf_time", _local_time)


def money(fen: int) -> str:
    """Fen as the page's currency text (the `yuan` template global, for Python-side strings)."""
    return yuan(int(fen), "en" if i18n.get_locale() == "en" else "zh_CN")


def shipping_rule(pol: CommercePolicy) -> str:
    _ = i18n.gettext
    if pol.shipping_flat_fen == 0:
        return _("Free shipping")
    if pol.free_shipping_threshold_fen:
        return _("Shipping %(fee)s, free on orders from %(min)s") % {
            "fee": money(pol.shipping_flat_fen), "min": money(pol.free_shipping_threshold_fen)}
    return _("Shipping %(fee)s") % {"fee": money(pol.shipping_flat_fen)}


async def crossed_out_prices(s: AsyncSession, skus: list[Sku]) -> dict[int, int]:
    """The crossed-out reference price per SKU, only where it is above today's price (see
    catalog.service.reference_prices: the lowest price of the 7 days before the current price)."""
    return await service.reference_prices(s, [k.id for k in skus])


# Reads (shop, shelf item) for a product shown inside a shop; shops/pages.py passes one (catalog knows no shop).
ShopContext = Callable[[AsyncSession], Awaitable[tuple[Any, Any]]]


async def product_page_response(request: Request, db: Database, product_id: int, added: int,
                                in_shop: ShopContext | None = None) -> Response:
    async with db.read() as s:
        shop, item = await in_shop(s) if in_shop is not None else (None, None)
        product, skus = await service.published_product(s, product_id)
        refs = await crossed_out_prices(s, skus)
        pol = await policy.get(s, CommercePolicy)
        pictures = await gallery.images(s, product.id)
        sections = [await section(s, product.id) for section in PRODUCT_SECTIONS]
    in_stock = [k for k in skus if k.stock > 0]
    cheapest = min(skus, key=lambda k: k.price_fen) if skus else None
    chosen = min(in_stock, key=lambda k: k.price_fen) if in_stock else None
    return render(request, "catalog/product.html", {
        "product": product, "skus": skus, "refs": refs, "shop": shop, "item": item, "cheapest": cheapest,
        "chosen": chosen, "sold_out": not in_stock, "one_price": len({k.price_fen for k in skus}) <= 1,
        "action_bar": True, "shipping_rule": shipping_rule(pol),
        "added": bool(added), "sections": sections, "pictures": pictures,
    })


@router.get("/p/{product_id}")
async def product_page(request: Request, product_id: PathId, db: DB, me: OptionalUser,
                       added: Annotated[int, Query(ge=0, le=1)] = 0) -> Response:
    return await product_page_response(request, db, product_id, added)


@router.get("/search")
async def search_page(request: Request, db: DB, me: OptionalUser,
                      q: Annotated[str, Query(max_length=200)] = "",
                      page: Annotated[int, Query(ge=1, le=1000)] = 1,
                      category: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None) -> Response:
    """Search (a long paste is accepted and cut in the search module, not refused); nothing found shows
    close words that do find something, the categories and the best sellers."""
    q = q.strip()
    suggestions = None
    async with db.read() as s:
        items, total = await service.search_products(s, q=q, category_id=category, offset=(page - 1) * PAGE_SIZE,
                                                     limit=PAGE_SIZE)
        if not total and (q or category):
            suggestions = await search.suggest(s, q)
        shown = items + (suggestions.popular if suggestions else [])
        prices = await service.min_prices(s, [p.id for p in shown])
        cats = {c.id: c for c in await service.categories(s)} if category else {}
    pages = max(1, -(-total // PAGE_SIZE))
    query = {k: v for k, v in (("q", q), ("category", category)) if v}
    return render(request, "catalog/search.html", {
        "q": q, "items": items, "prices": prices, "total": total, "page": page, "pages": pages,
        "tab": "search", "suggestions": suggestions, "category": cats.get(category) if category else None,
        "query": query,
    })
