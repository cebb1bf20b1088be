"""Demo campaigns: three daily flash-sale slots that together cover the day (China time), a flash sale on one
demo product in the slot open when the demo is seeded, a live bargain activity and a live 3-person group
buy — with one group opened by a demo fan, paid through the sandbox provider like the order history, so the
group-buy page is not empty. Each step only adds what is missing, so running `quanzi demo` again changes
nothing (once its flash sale has ended, it adds one in the slot open then, and a new open group once the last
one has closed)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from typing import Any

from quanzi.bargain import service as bargain
from quanzi.bargain.models import BargainActivity
from quanzi.cart import service as cart
from quanzi.catalog import service as catalog
from quanzi.flashsale import service as flash
from quanzi.flashsale.models import FlashActivity, FlashSlot
from quanzi.groupbuy import service as groupbuy
from quanzi.groupbuy.models import Group, GroupActivity
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.orders import service as orders
from quanzi.orders.service import CHINA
from quanzi.payments import service as payments

# Three slots, no overlap, so a freshly seeded demo has a live flash sale at any hour. A slot cannot cross
# midnight: only the last second of the day (23:59:59–24:00) is outside every slot.
SLOTS = (("凌晨场", time(0, 0), time(8, 0)), ("白天场", time(8, 0), time(23, 0)),
         ("夜猫子场", time(23, 0), time(23, 59, 59)))
FLASH_QUOTA = 20
BARGAIN_HELPERS = 3
BARGAIN_DAYS = 30
BARGAIN_FIRST_CUT_PCT = 40  # of start − floor
GROUP_SIZE = 3
GROUP_HOURS = 24  # each group's time limit, from its leader's payment
GROUP_DAYS = 30
GROUP_PRODUCT = 2  # index into the demo products: 海南贵妃芒 (the flash sale has 0, the bargain 1)


def group_price(price_fen: int) -> int:
    """About three quarters of the platform price, rounded down to ten fen (¥25.90 → ¥19.40)."""
    return max(1, price_fen * 3 // 4 // 10 * 10)


def open_or_next(slots: list[FlashSlot], now: datetime) -> tuple[date, FlashSlot]:
    """The slot open at `now` (China time), else the next one to open: later today, or tomorrow's first."""
    today = now.astimezone(CHINA).date()
    for day in (today, today + timedelta(days=1)):
        for slot in sorted(slots, key=lambda x: x.starts):
            if flash.window(day, slot)[1] > now:
                return day, slot
    raise ValueError("no flash-sale slot")  # unreachable: every slot opens again tomorrow


async def seed_campaigns(s: AsyncSession, product_ids: list[int]) -> dict[str, int]:
    if not product_ids:
        return {"flash_activities": 0, "bargain_activities": 0, "groupbuy_activities": 0}
    now = clock.now()
    slots = await flash.slots(s) or [await flash.create_slot(s, *x) for x in SLOTS]
    upcoming = (await s.execute(select(func.count()).where(FlashActivity.ends_at > now))).scalar_one()
    if not upcoming:
        day, slot = open_or_next(slots, now)
        product, skus = await catalog.published_product(s, product_ids[0])
        sku = next((k for k in skus if k.stock >= FLASH_QUOTA), None)
        if sku is not None:
            await flash.create_activity(s, slot_id=slot.id, day=day, title=f"限时秒杀·{product.title}"[:60],
                                        product_id=product.id, items=[(sku.id, max(1, sku.price_fen * 6 // 10),
                                                                       FLASH_QUOTA)])
    running = (await s.execute(select(func.count()).where(BargainActivity.status == "active",
                                                          BargainActivity.ends_at > now))).scalar_one()
    if not running:
        product, skus = await catalog.published_product(s, product_ids[1 % len(product_ids)])
        sku = skus[0]
        start = sku.price_fen
        floor = max(1, start // 3)
        total = start - floor
        first_cut = total * BARGAIN_FIRST_CUT_PCT // 100  # the launcher's own first cut: a good start
        rest = total - first_cut
        if start >= 3 and rest >= BARGAIN_HELPERS:
            cut_min = max(1, rest // (BARGAIN_HELPERS * 2))
            cut_max = max(cut_min, -(-rest // BARGAIN_HELPERS) * 2)
            bargain.check_config(total, BARGAIN_HELPERS, "random", cut_min, cut_max, first_cut)
            await bargain.create_activity(
                s, title=f"好友砍价·{product.title}"[:60], product_id=product.id, sku_id=sku.id,
                start_price_fen=start, floor_price_fen=floor, helpers_needed=BARGAIN_HELPERS, cut_mode="random",
                cut_min_fen=cut_min, cut_max_fen=cut_max, first_cut_fen=first_cut,
                starts_at=now - timedelta(minutes=1), ends_at=now + timedelta(days=BARGAIN_DAYS))
    if not await groupbuy.running_activities(s, now):
        product, skus = await catalog.published_product(s, product_ids[GROUP_PRODUCT % len(product_ids)])
        await groupbuy.create_activity(
            s, title=f"{GROUP_SIZE}人团·{product.title}"[:60], product_id=product.id,
            skus=[(k.id, group_price(k.price_fen)) for k in skus], group_size=GROUP_SIZE,
            time_limit_minutes=GROUP_HOURS * 60, starts_at=now - timedelta(minutes=1),
            ends_at=now + timedelta(days=GROUP_DAYS))
    flash_n = (await s.execute(select(func.count()).select_from(FlashActivity))).scalar_one()
    bargain_n = (await s.execute(select(func.count()).select_from(BargainActivity))).scalar_one()
    group_n = (await s.execute(select(func.count()).select_from(GroupActivity))).scalar_one()
    return {"flash_activities": int(flash_n), "bargain_activities": int(bargain_n),
            "groupbuy_activities": int(group_n)}


async def seed_open_group(db: Database, provider: Any, leader_id: int) -> int | None:
    """One group of the running demo group buy, opened by `leader_id` and paid through the sandbox provider
    (its statement applied like a verified notification, as the order history does); the outbox then seats
    the leader, exactly as the worker would. Only when the activity has no open group: returns its id, or
    None when nothing was added."""
    now = clock.now()
    async with db.write() as s:
        acts = await groupbuy.running_activities(s, now)
        if not acts:
            return None
        act = acts[0]
        open_groups = (await s.execute(select(func.count()).where(
            Group.activity_id == act.id, Group.status.in_(groupbuy.OPEN_GROUP_STATES)))).scalar_one()
        addresses = await cart.addresses(s, leader_id)
        if open_groups or not addresses or await groupbuy.open_group_of(s, act.id, leader_id) is not None:
            return None
        [first, *_] = (await groupbuy.skus_of(s, [act.id]))[act.id]
        placed = await groupbuy.open_group(s, leader_id, act.id, first.sku_id, 1, addresses[0].id)
        order = await orders.get_order(s, placed.order_id)
        payment = await payments.open_payment(s, order, "sandbox")
        result = provider.mark_paid(payment.out_trade_no, payment.amount_fen, now=now)
        if await payments.apply_result(s, result, "notify") != "paid":
            raise RuntimeError(f"the demo group's payment (order {order.id}) was not applied")
    await outbox.drain(db, max_rounds=100)  # order.paid → the leader's seat; the group starts forming
    return placed.group_id
