"""Distribution reacts to order and after-sale events, and unlocks commission on a sweep."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.distribution import service
from quanzi.kit import outbox
from quanzi.kit.db import Database
from quanzi.kit.sweeps import sweep
from quanzi.orders import service as orders


@outbox.on("order.paid")
@outbox.on("order.released")
async def accrue_commission(s: AsyncSession, payload: dict[str, Any]) -> None:
    """At payment — or, for an order a campaign holds (a forming group), when it is released, so that a
    group that fails never creates commission."""
    order = await orders.get_order(s, int(payload["order_id"]))
    if order.hold_reason or order.status not in ("paid", "shipped", "received", "completed"):
        return
    lines = (await orders.lines_of(s, [order.id]))[order.id]
    await service.accrue(s, order_id=order.id, buyer_id=order.buyer_id, level1_id=order.referrer_id,
                         level2_id=order.referrer2_id, eligible=order.commission_eligible,
                         lines=[service.LineForCommission(x.id, x.sku_id, x.quantity, x.paid_fen) for x in lines])


@outbox.on("order.received")
async def schedule_unlock(s: AsyncSession, payload: dict[str, Any]) -> None:
    order = await orders.get_order(s, int(payload["order_id"]))
    if order.received_at is not None:
        await service.schedule_unlock(s, order.id, order.received_at)


@outbox.on("aftersale.requested")
async def hold_commission(s: AsyncSession, payload: dict[str, Any]) -> None:
    await service.hold(s, int(payload["line_id"]), +1)


async def _release(s: AsyncSession, payload: dict[str, Any]) -> None:
    await service.hold(s, int(payload["line_id"]), -1)


for _topic in ("aftersale.rejected", "aftersale.cancelled"):
    outbox.on(_topic)(_release)


@outbox.on("aftersale.refunded")
async def reverse_commission(s: AsyncSession, payload: dict[str, Any]) -> None:
    line = await orders.get_line(s, int(payload["line_id"]))
    await service.hold(s, line.id, -1)
    await service.reverse_for_line(s, line.id, line.paid_fen, line.refunded_fen, f"aftersale:{payload['aftersale_id']}")


@sweep("distribution.unlock_commission", every_seconds=60)
async def unlock_commission(db: Database, now: datetime) -> int:
    return await service.unlock_due(db, now)
