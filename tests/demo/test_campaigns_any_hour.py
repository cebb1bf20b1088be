"""`quanzi demo` works at any hour: its flash sale is today's while the demo slot (08:00–23:00 China time)
has not ended, tomorrow's once it has (CI once ran the seed at 23:16 China time and it was refused as a
sale in a slot already over). A second seed on the same evening or the next morning adds nothing."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from quanzi.demo import campaigns
from quanzi.flashsale.models import FlashActivity
from quanzi.kit.clock import as_utc, clock
from quanzi.kit.db import Database
from quanzi.orders.service import CHINA
from tests.factories import make_world

DAY = date(2026, 6, 15)


@pytest.fixture
async def product_id(db: Database) -> int:
    return (await make_world(db)).product_id


async def seed_at(db: Database, product_id: int, day: date, at: time) -> list[FlashActivity]:
    clock.freeze(datetime.combine(day, at, tzinfo=CHINA))
    async with db.write() as s:
        await campaigns.seed_campaigns(s, [product_id])
    async with db.read() as s:
        return list((await s.execute(select(FlashActivity).order_by(FlashActivity.id))).scalars())


@pytest.mark.parametrize(("at", "sale_day", "live"), [
    (time(0, 30), DAY, False),  # after midnight: today's sale, counting down to 08:00
    (time(7, 59), DAY, False),
    (time(8, 0), DAY, True),
    (time(22, 59, 59), DAY, True),
    (time(23, 0), DAY + timedelta(days=1), False),  # today's slot is over: tomorrow's sale
    (time(23, 59, 59), DAY + timedelta(days=1), False),
])
async def test_the_demo_flash_sale_at_any_hour(db: Database, product_id: int, at: time, sale_day: date,
                                               live: bool) -> None:
    [act] = await seed_at(db, product_id, DAY, at)
    assert act.day == sale_day
    slot_name, opens, closes = campaigns.SLOT
    assert as_utc(act.starts_at) == datetime.combine(sale_day, opens, tzinfo=CHINA)
    assert as_utc(act.ends_at) == datetime.combine(sale_day, closes, tzinfo=CHINA)
    now = clock.now()
    assert (as_utc(act.starts_at) <= now < as_utc(act.ends_at)) is live
    assert now < as_utc(act.ends_at)  # never a sale that is already over


async def test_seeding_again_that_evening_or_next_morning_adds_nothing(db: Database, product_id: int) -> None:
    [first] = await seed_at(db, product_id, DAY, time(23, 30))
    assert first.day == DAY + timedelta(days=1)
    assert [a.id for a in await seed_at(db, product_id, DAY, time(23, 45))] == [first.id]
    assert [a.id for a in await seed_at(db, product_id, DAY + timedelta(days=1), time(9, 0))] == [first.id]
    # The day after that, the demo has a new sale again.
    later = await seed_at(db, product_id, DAY + timedelta(days=2), time(9, 0))
    assert [a.day for a in later] == [DAY + timedelta(days=1), DAY + timedelta(days=2)]
