"""Outbox handlers: other domains' events become messages (one transaction each: the message, its queued
sends and the outbox "done" mark commit together), and one handler per outside channel sends a delivery
(outside any transaction; a failure retries with the outbox's backoff)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.kit import outbox
from quanzi.kit.db import Database
from quanzi.notifications import events, service


@outbox.on("order.paid")
async def order_paid(s: AsyncSession, payload: dict[str, Any]) -> None:
    await events.order_paid(s, int(payload["order_id"]))


@outbox.on("order.shipped")
async def order_shipped(s: AsyncSession, payload: dict[str, Any]) -> None:
    await events.order_shipped(s, int(payload["order_id"]))


@outbox.on("groupbuy.notify")
async def groupbuy_notice(s: AsyncSession, payload: dict[str, Any]) -> None:
    await events.groupbuy_notice(s, int(payload["user_id"]), int(payload["group_id"]), str(payload["what"]))


@outbox.on("bargain.floor_reached")
async def bargain_floor(s: AsyncSession, payload: dict[str, Any]) -> None:
    await events.bargain_floor(s, int(payload["bargain_id"]))


@outbox.on("flashsale.waitlist_notify")
async def flash_next_batch(s: AsyncSession, payload: dict[str, Any]) -> None:
    await events.flash_next_batch(s, int(payload["user_id"]), int(payload["product_id"]),
                                  str(payload.get("since", "")))


@outbox.on("aftersale.approved")
async def aftersale_approved(s: AsyncSession, payload: dict[str, Any]) -> None:
    await events.aftersale_decided(s, "approved", int(payload["aftersale_id"]))


@outbox.on("aftersale.rejected")
async def aftersale_rejected(s: AsyncSession, payload: dict[str, Any]) -> None:
    await events.aftersale_decided(s, "rejected", int(payload["aftersale_id"]))


@outbox.on("aftersale.refunded")
async def aftersale_refunded(s: AsyncSession, payload: dict[str, Any]) -> None:
    await events.aftersale_decided(s, "refunded", int(payload["aftersale_id"]))


@outbox.on("commission.available")
async def commission_available(s: AsyncSession, payload: dict[str, Any]) -> None:
    await events.commission_available(s, int(payload["user_id"]), int(payload["amount_fen"]), str(payload["batch"]))


@outbox.on("withdrawal.paid")
async def withdrawal_paid(s: AsyncSession, payload: dict[str, Any]) -> None:
    await events.withdrawal_decided(s, "paid", int(payload["withdrawal_id"]))


@outbox.on("withdrawal.rejected")
async def withdrawal_rejected(s: AsyncSession, payload: dict[str, Any]) -> None:
    await events.withdrawal_decided(s, "rejected", int(payload["withdrawal_id"]))


@outbox.on("engagement.activity_reminder")
async def community_activity(s: AsyncSession, payload: dict[str, Any]) -> None:
    await events.community_activity(s, int(payload["activity_id"]))


@outbox.on("notifications.sms", own_transactions=True)
async def send_sms(db: Database, payload: dict[str, Any]) -> None:
    await service.send(db, int(payload["delivery_id"]))


@outbox.on("notifications.wechat", own_transactions=True)
async def send_wechat(db: Database, payload: dict[str, Any]) -> None:
    await service.send(db, int(payload["delivery_id"]))
