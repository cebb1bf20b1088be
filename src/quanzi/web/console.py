"""The operator's campaign overview: flash sales, bargains and group buys side by side, each with a link to its
own console page. It composes the three services' `console_summary`; no campaign domain depends on another
for it, and no table is read here.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from quanzi.accounts.deps import Operator
from quanzi.bargain import service as bargain
from quanzi.flashsale import service as flashsale
from quanzi.groupbuy import service as groupbuy
from quanzi.kit.clock import clock
from quanzi.kit.console import CHINA, page
from quanzi.kit.deps import DB

router = APIRouter(include_in_schema=False)

FLASH_HISTORY_DAYS = 7
ROWS = 30  # per campaign kind; each console page lists more


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
