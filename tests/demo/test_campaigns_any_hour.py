"""`quanzi demo` works at any hour and its flash sale is live right away: three daily slots cover the day
(China time) and the sale goes into the one open at that moment. CI once ran the seed at 23:16 China time,
after the single 08:00–23:00 slot had closed, and it was refused as a sale in a slot already over. Seeding
again while the sale runs adds nothing; once it has ended, the next seed adds the sale of the slot open then."""

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


@pytest.mark.parametrize(("at", "slot_name"), [
    (time(0, 0), "凌晨场"), (time(7, 59, 59), "凌晨场"), (time(8, 0), "白天场"), (time(12, 0), "白天场"),
    (time(22, 59, 59), "白天场"), (time(23, 0), "夜猫子场"), (time(23, 16), "夜猫子场"), (time(23, 59, 58), "夜猫子场"),
])
async def test_the_demo_flash_sale_is_live_at_any_hour(db: Database, product_id: int, at: time,
                                                       slot_name: str) -> None:
    [act] = await seed_at(db, product_id, DAY, at)
    opens, closes = {name: (a, b) for name, a, b in campaigns.SLOTS}[slot_name]
    assert act.day == DAY
    assert as_utc(act.starts_at) == datetime.combine(DAY, opens, tzinfo=CHINA)
    assert as_utc(act.ends_at) == datetime.combine(DAY, closes, tzinfo=CHINA)
    assert as_utc(act.starts_at) <= clock.now() < as_utc(act.ends_at)  # live


async def test_in_the_last_second_of_the_day_it_is_tomorrows_first_slot(db: Database, product_id: int) -> None:
    [act] = await seed_at(db, product_id, DAY, time(23, 59, 59, 500_000))
    assert act.day == DAY + timedelta(days=1)
    assert as_utc(act.starts_at) == datetime.combine(DAY + timedelta(days=1), time(0, 0), tzinfo=CHINA)


async def test_seeding_again_adds_nothing_until_the_sale_has_ended(db: Database, product_id: int) -> None:
    [first] = await seed_at(db, product_id, DAY, time(23, 30))
    assert [a.id for a in await seed_at(db, product_id, DAY, time(23, 45))] == [first.id]
    # After it ended (23:59:59): the next seed adds the sale of the slot open then.
    later = await seed_at(db, product_id, DAY + timedelta(days=1), time(9, 0))
    assert [a.day for a in later] == [DAY, DAY + timedelta(days=1)]
    assert later[1].starts_at != first.starts_at and later[1].id != first.id
