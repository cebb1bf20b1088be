"""Group-buy reactions: a payment takes a seat (or is refunded), an unpaid order frees its member, a refund
that arrived closes the order, an after-sale that refunded a forming member in full frees the seat; the sweep
settles groups whose time is up."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.groupbuy import service
from quanzi.kit import outbox
from quanzi.kit.db import Database
from quanzi.kit.sweeps import sweep

log = structlog.get_logger("quanzi.groupbuy")

TEXT = {
    "succeeded": "【圈子】拼团成功！商品将尽快发货。",
    "group_failed": "【圈子】很遗憾，拼团未成团，货款将原路退回。",
    "group_full": "【圈子】手慢了，团已满员，货款将原路退回。",
    "group_closed": "【圈子】该团已结束，货款将原路退回。",
}


@outbox.on("order.paid")
async def take_seat(s: AsyncSession, payload: dict[str, Any]) -> None:
    await service.on_paid(s, int(payload["order_id"]))


@outbox.on("order.cancelled")
async def free_member(s: AsyncSession, payload: dict[str, Any]) -> None:
    await service.on_cancelled(s, int(payload["order_id"]))


@outbox.on("payments.refund_succeeded")
async def refund_arrived(s: AsyncSession, payload: dict[str, Any]) -> None:
    source = str(payload.get("source", ""))
    if source.startswith("groupbuy:"):
        await service.refund_arrived(s, int(source.split(":", 1)[1]), int(payload["refund_id"]))


@outbox.on("aftersale.refunded")
async def member_left(s: AsyncSession, payload: dict[str, Any]) -> None:
    await service.on_aftersale_refund(s, int(payload["order_id"]))


@outbox.on("groupbuy.notify")
async def tell_member(s: AsyncSession, payload: dict[str, Any]) -> None:
    # The log line for operators; the notifications domain turns the same event into the member's message.
    log.info("groupbuy.notice", user_id=payload["user_id"], group_id=payload["group_id"], what=payload["what"],
             text=TEXT.get(str(payload["what"]), ""))


@sweep("groupbuy.expire", every_seconds=15)
async def expire_groups(db: Database, now: datetime) -> int:
    """Forming groups past their deadline: completed by the platform (if configured and honest) or failed,
    each group in its own short transaction."""
    async with db.read() as s:
        ids = await service.due_groups(s, now)
    done = 0
    for group_id in ids:
        async with db.write() as s:
            done += await service.expire(s, group_id, now) is not None
    return done
