"""The two steps of every "new campaign activity" console page: without a product, pick a published one
(search, list); with one, the campaign's own form for that product's SKUs. Used by the flash-sale,
bargain and group-buy consoles, which pass their template, their blank form and any extra context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.catalog import service as catalog
from quanzi.catalog.errors import ProductNotFound
from quanzi.kit import i18n
from quanzi.kit.console import page
from quanzi.kit.db import Database

Blank = Callable[[Any, list[Any]], dict[str, Any]]
Extra = Callable[[AsyncSession], Awaitable[dict[str, Any]]]


async def product_step(request: Request, db: Database, template: str, *, action: str, product_id: int | None,
                       q: str = "", blank: Blank, form: dict[str, Any] | None = None,
                       errors: dict[str, str] | None = None, status_code: int = 200,
                       extra: Extra | None = None) -> Response:
    """Render `template` at step 1 (context: products, total, q, pick_action) or step 2 (product, skus and
    `form`, or `blank(product, skus)` for a first visit). An unknown or unpublished product falls back to
    step 1 with the refusal shown. `extra(session)` adds context both steps need (e.g. the slots)."""
    ctx: dict[str, Any] = {"active": "campaigns", "q": q, "errors": errors or {}, "pick_action": action}
    async with db.read() as s:
        if extra is not None:
            ctx.update(await extra(s))
        if product_id is not None:
            try:
                product, skus = await catalog.published_product(s, product_id)
            except ProductNotFound as exc:
                ctx["errors"] = {"form": exc.text(i18n.short()), "code": str(exc.code)}
                status_code = max(status_code, exc.status)
            else:
                ctx.update(product=product, skus=skus, form=form or blank(product, skus))
                return page(request, template, ctx, status_code=status_code)
        ctx["products"], ctx["total"] = await catalog.search_products(s, q=q, published_only=True, limit=50)
    return page(request, template, ctx, status_code=status_code)
