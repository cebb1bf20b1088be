"""Demo campaigns: a flash-sale slot covering most of the day (08:00–23:00 China time), a live flash sale
today on one demo product, and a live bargain activity. Each step only adds what is missing, so running
`quanzi demo` again changes nothing (on a later day it adds that day's flash sale)."""

from __future__ import annotations

from datetime import time, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.bargain import service as bargain
from quanzi.bargain.models import BargainActivity
from quanzi.catalog import service as catalog
from quanzi.flashsale import service as flash
from quanzi.flashsale.models import FlashActivity
from quanzi.kit.clock import clock
from quanzi.orders.service import CHINA

SLOT = ("全天场", time(8, 0), time(23, 0))
FLASH_QUOTA = 20
BARGAIN_HELPERS = 3
BARGAIN_DAYS = 30


async def seed_campaigns(s: AsyncSession, product_ids: list[int]) -> dict[str, int]:
    if not product_ids:
        return {"flash_activities": 0, "bargain_activities": 0}
    now = clock.now()
    today = now.astimezone(CHINA).date()
    slots = await flash.slots(s)
    slot = slots[0] if slots else await flash.create_slot(s, *SLOT)
    if not (await s.execute(select(func.count()).where(FlashActivity.day == today))).scalar_one():
        product, skus = await catalog.published_product(s, product_ids[0])
        sku = next((k for k in skus if k.stock >= FLASH_QUOTA), None)
        if sku is not None:
            await flash.create_activity(s, slot_id=slot.id, day=today, title=f"限时秒杀·{product.title}"[:60],
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
        if start >= 3 and total >= BARGAIN_HELPERS:
            cut_min = max(1, total // (BARGAIN_HELPERS * 2))
            cut_max = max(cut_min, -(-total // BARGAIN_HELPERS) * 2)
            bargain.check_config(total, BARGAIN_HELPERS, "random", cut_min, cut_max, 0)
            await bargain.create_activity(
                s, title=f"好友砍价·{product.title}"[:60], product_id=product.id, sku_id=sku.id,
                start_price_fen=start, floor_price_fen=floor, helpers_needed=BARGAIN_HELPERS, cut_mode="random",
                cut_min_fen=cut_min, cut_max_fen=cut_max, starts_at=now - timedelta(minutes=1),
                ends_at=now + timedelta(days=BARGAIN_DAYS))
    flash_n = (await s.execute(select(func.count()).select_from(FlashActivity))).scalar_one()
    bargain_n = (await s.execute(select(func.count()).select_from(BargainActivity))).scalar_one()
    return {"flash_activities": int(flash_n), "bargain_activities": int(bargain_n)}
