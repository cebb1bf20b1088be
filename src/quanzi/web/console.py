"""The console's top pages: the role-aware overview at /console (a shop's sales and fans, supply counts, and for
operators the platform dashboard with a range picker) and the operator's campaign overview. They compose
other domains' services and read models; no domain depends on this module.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from quanzi.accounts.deps import CurrentUser, Operator
from quanzi.aftersales import service as aftersales
from quanzi.bargain import service as bargain
from quanzi.catalog.console import supplier_scope
from quanzi.flashsale import service as flashsale
from quanzi.groupbuy import service as groupbuy
from quanzi.kit.clock import clock
from quanzi.kit.console import CHINA, page
from quanzi.kit.deps import DB
from quanzi.orders import service as orders
from quanzi.orders.console import chart_option, shop_stats
from quanzi.referrals import service as referrals
from quanzi.shops import service as shops
from quanzi.web import dashboard as board

router = APIRouter(include_in_schema=False)

FLASH_HISTORY_DAYS = 7
ROWS = 30  # per campaign kind; each console page lists more


@router.get("/console")
async def overview(request: Request, db: DB, me: CurrentUser, preset: Annotated[str | None, Query(
        alias="range", max_length=3)] = None, first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
        last: Annotated[str | None, Query(alias="to", max_length=10)] = None) -> Response:
    today = clock.now().astimezone(CHINA).date()
    ctx: dict[str, Any] = {"active": "dashboard", "today": today.isoformat()}
    async with db.read() as s:
        shop = await shops.find_my_shop(s, me.user_id)
        ctx["shop"] = shop
        if shop is not None and me.has("shopkeeper"):
            stats = await shop_stats(s, shop.id, today)
            ctx["stats"] = stats
            ctx["chart"] = chart_option(stats["days"], stats["amounts"])
            ctx["shelf_count"] = len(await shops.shelf(s, shop.id, published_only=False))
            ctx["fans"] = await referrals.fan_counts(s, me.user_id)
        if me.has("supplier") or me.has("operator"):
            scope = await supplier_scope(s, me)
            ctx["scope"] = scope
            if not scope.missing_profile:
                ctx["supply"] = {"to_ship": await orders.count_to_ship(s, scope.supplier_id),
                                 **await aftersales.supplier_counts(s, scope.supplier_id)}
        if me.has("operator"):
            rng, errors = board.parse_range(today, preset, first, last)
            n = await board.numbers(s, rng)
            ctx["board"] = {"range": rng, "n": n, "errors": errors, "presets": board.PRESETS,
                            "first": first or rng.first.isoformat(), "last": last or rng.last.isoformat(),
                            "gmv_chart": board.gmv_chart(n), "counts_chart": board.counts_chart(n),
                            "top_chart": board.top_chart(n), "top_trend_chart": board.top_trend_chart(n)}
    return page(request, "console/dashboard.html", ctx, status_code=422 if ctx.get("board", {}).get("errors") else 200)


@router.get("/console/campaigns")
async def campaigns(request: Request, db: DB, me: Operator) -> Response:
    """Read-only: flash-sale activities (coming, running and the last week) with their unit counts, bargain
    activities with how their launches went, group-buy activities with their groups and refunds."""
    now = clock.now()
    since = (now - timedelta(days=FLASH_HISTORY_DAYS)).astimezone(CHINA).date()
    async with db.read() as s:
        flash = await flashsale.console_summary(s, since=since, limit=ROWS)
        bargains = await bargain.console_summary(s, limit=ROWS)
        groups = await groupbuy.console_summary(s, limit=ROWS)
    # Not "flash": that name is the one-time message a redirect leaves (kit.console.page).
    return page(request, "web/console_campaigns.html", {
        "active": "campaigns",
        "flash_sales": [{"r": r, "state": r.state(now), **r.numbers} for r in flash],
        "bargains": [{"r": r, "state": r.state(now)} for r in bargains],
        "groups": [{"r": r, "state": r.state(now), **r.numbers} for r in groups],
    })
