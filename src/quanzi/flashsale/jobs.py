"""Flash-sale reactions: release unpaid grabs, mark paid ones, tell the waitlist about a restock."""

from __future__ import annotations

from typing import Any

import structlog
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.flashsale import gate, service
from quanzi.kit import outbox
from quanzi.kit.db import Database
from quanzi.kit.sweeps import sweep

log = structlog.get_logger("quanzi.flashsale")


@outbox.on("order.cancelled")
async def release_unpaid_grab(s: AsyncSession, payload: dict[str, Any]) -> None:
    await service.release_for_order(s, int(payload["order_id"]), gate.current())


@outbox.on("order.paid")
async def grab_paid(s: AsyncSession, payload: dict[str, Any]) -> None:
    await service.mark_paid(s, int(payload["order_id"]))


@outbox.on("catalog.restocked")
async def restocked(s: AsyncSession, payload: dict[str, Any]) -> None:
    await service.notify_waitlist(s, int(payload["product_id"]))


@outbox.on("flashsale.waitlist_notify")
async def tell_waiting_fan(s: AsyncSession, payload: dict[str, Any]) -> None:
    # The log line for operators; the notifications domain turns the same event into the fan's message.
    log.info("flashsale.next_batch_notice", user_id=payload["user_id"], product_id=payload["product_id"],
             text="【圈子】你关注的商品补货了，快来抢购！")


@sweep("flashsale.settle", every_seconds=15)
async def settle(db: Database, now: Any) -> int:
    """Ended sales give the unsold rest of their set-aside quota back to stock."""
    return len(await service.settle_ended(db, now))


async def reconcile_on_start(db: Database) -> None:
    """A server that starts (after a crash, a deploy, a Redis restart) first makes the Redis gate agree with
    the database. Grabs already in flight on other servers can only leave Redis more permissive than the
    truth for a moment; the guarded database decrement still refuses, so nothing is oversold."""
    g = gate.current()
    if g is None:
        return
    try:
        items = await service.reconcile(db, g)
    except (OSError, RedisError) as exc:  # Redis down: grabs will fail loudly, the server still serves pages
        log.error("flashsale.reconcile_on_start_failed", error=str(exc))
        return
    log.info("flashsale.reconciled_on_start", items=len(items))
