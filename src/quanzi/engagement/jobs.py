"""Engagement reacts to community and order events (invite-new rewards) and runs its sweeps: expired red
packets return their rest, activity reminders go out, pending invite rewards are paid when due."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.engagement import service
from quanzi.engagement.models import Invitation
from quanzi.kit import outbox
from quanzi.kit.db import Database
from quanzi.kit.sweeps import sweep


@outbox.on("community.joined")
async def invitation_joined(s: AsyncSession, payload: dict[str, Any]) -> None:
    inviter = payload.get("invited_by")
    if inviter:
        await service.record_invitation(s, int(payload["community_id"]), int(inviter), int(payload["user_id"]))


@outbox.on("order.paid")
async def invitee_paid(s: AsyncSession, payload: dict[str, Any]) -> None:
    await service.on_order_paid(s, int(payload["order_id"]))


@outbox.on("order.completed")
async def invitee_order_completed(s: AsyncSession, payload: dict[str, Any]) -> None:
    inv = (await s.execute(select(Invitation.id).where(Invitation.order_id == int(payload["order_id"])))
           ).scalar_one_or_none()
    if inv is not None:
        await service.settle_invitation(s, inv)


@outbox.on("aftersale.refunded")
async def invitee_refunded(s: AsyncSession, payload: dict[str, Any]) -> None:
    await service.on_refund(s, int(payload["order_id"]))


async def _each(db: Database, find: Any, settle: Any) -> int:
    """Find due ids in one read, then settle each in its own short transaction; count the settled ones."""
    async with db.read() as s:
        ids = await find(s)
    done = 0
    for one in ids:
        async with db.write() as s:
            done += int(bool(await settle(s, one)))
    return done


@sweep("engagement.expire_red_packets", every_seconds=60)
async def expire_red_packets(db: Database, now: datetime) -> int:
    """An expired packet's rest goes back to its sender (once: a guarded open → expired)."""
    return await _each(db, lambda s: service.due_packets(s, now), service.expire_packet)


@sweep("engagement.activity_reminders", every_seconds=60)
async def activity_reminders(db: Database, now: datetime) -> int:
    return await _each(db, lambda s: service.due_reminders(s, now), service.send_reminder)


@sweep("engagement.invite_rewards", every_seconds=600)
async def invite_rewards(db: Database, now: datetime) -> int:
    """Pending rewards whose order completed while the daily cap was full, or whose event came first."""
    return await _each(db, service.due_invitations,
                       lambda s, inv: _paid(service.settle_invitation(s, inv)))


async def _paid(status: Any) -> bool:
    return await status == "paid"
