"""Order sweeps: cancel unpaid orders, confirm receipt automatically, complete after the return window."""

from __future__ import annotations

from datetime import datetime

from quanzi.kit.db import Database
from quanzi.kit.errors import IllegalTransition
from quanzi.kit.sweeps import sweep
from quanzi.orders import service
from quanzi.policy import service as policy
from quanzi.policy.service import CommercePolicy


@sweep("orders.cancel_unpaid", every_seconds=15)
async def cancel_unpaid(db: Database, now: datetime) -> int:
    """Unpaid after the deadline (15 minutes by default): cancel and release stock, each order in its own
    short transaction. A payment arriving later is refunded by the payments domain."""
    async with db.read() as s:
        ids = await service.due_unpaid(s, now)
    done = 0
    for order_id in ids:
        async with db.write() as s:
            done += await service.cancel(s, order_id, reason="payment_timeout", actor_id=None)
    return done


@sweep("orders.auto_receive", every_seconds=300)
async def auto_receive(db: Database, now: datetime) -> int:
    async with db.read() as s:
        days = (await policy.get(s, CommercePolicy)).auto_receive_days
        ids = await service.due_auto_receive(s, now, days)
    done = 0
    for order_id in ids:
        try:
            async with db.write() as s:
                await service.confirm_receipt(s, await service.get_order(s, order_id), actor_id=None, automatic=True)
                done += 1
        except IllegalTransition:
            continue
    return done


@sweep("orders.complete", every_seconds=300)
async def complete(db: Database, now: datetime) -> int:
    """Received orders whose return window has closed with no open after-sale become completed."""
    async with db.read() as s:
        ids = await service.due_completion(s, now)
    done = 0
    for order_id in ids:
        try:
            async with db.write() as s:
                await service.transition(s, order_id, "completed", kind="completed")
                from quanzi.kit import outbox

                await outbox.emit(s, "order.completed", {"order_id": order_id})
                done += 1
        except IllegalTransition:
            continue
    return done
