"""The flash quota is set aside from stock when the sale is created: regular buyers cannot take it, the sale
sells its whole quota, a cancelled grab gives its unit back to the sale, and when the sale ends the unsold
rest returns to stock exactly once (the settle sweep and `quanzi flashsale reconcile` are idempotent)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from quanzi.cart import service as cart
from quanzi.catalog.errors import OutOfStock
from quanzi.catalog.models import Sku, StockMovement
from quanzi.flashsale import service
from quanzi.flashsale.errors import SoldOut
from quanzi.flashsale.models import FlashActivity, FlashItem
from quanzi.kit import outbox, sweeps
from quanzi.kit.clock import clock
from quanzi.orders import service as orders
from quanzi.orders.service import CHINA
from tests.conftest import make_user
from tests.factories import make_world

STOCK, QUOTA = 10, 6


async def _sale(db, stock: int = STOCK, quota: int = QUOTA):  # noqa: ANN001, ANN202
    w = await make_world(db, stock=stock)
    now = clock.now().astimezone(CHINA)
    clock.freeze(datetime.combine(now.date(), time(10, 0, 30), tzinfo=CHINA))
    async with db.write() as s:
        slot = await service.create_slot(s, "10点场", time(10, 0), time(12, 0))
        act = await service.create_activity(s, slot_id=slot.id, day=now.date(), title="苹果秒杀",
                                            product_id=w.product_id, items=[(w.sku_ids[0], 990, quota)],
                                            per_user_limit=1)
    return w, act.id


async def _people(db, n: int, start: int = 0) -> list[tuple[int, int]]:  # noqa: ANN001
    out = []
    for i in range(start, start + n):
        uid, _ = await make_user(db, f"1390002{i:04d}")
        async with db.write() as s:
            addr = await cart.add_address(s, uid, name="买家", phone="13900000001", region="上海", detail="某路 1 号")
        out.append((uid, addr.id))
    return out


async def _stock(db, sku_id: int) -> int:  # noqa: ANN001
    async with db.read() as s:
        return (await s.execute(select(Sku.stock).where(Sku.id == sku_id))).scalar_one()


async def _regular_order(db, uid: int, addr_id: int, sku_id: int) -> None:  # noqa: ANN001
    async with db.write() as s:
        address = await cart.owned_address(s, uid, addr_id)
        await orders.place_orders(s, uid, [orders.Wanted(sku_id, 1, None)], address)


async def test_the_quota_leaves_stock_and_regular_buyers_cannot_take_it(db) -> None:  # noqa: ANN001
    w, act = await _sale(db)
    sku = w.sku_ids[0]
    assert await _stock(db, sku) == STOCK - QUOTA
    people = await _people(db, STOCK + 2)
    for uid, addr in people[:STOCK - QUOTA]:
        await _regular_order(db, uid, addr, sku)
    with pytest.raises(OutOfStock):  # what is left is the sale's
        await _regular_order(db, *people[STOCK - QUOTA], sku)
    for uid, addr in people[STOCK - QUOTA:STOCK - QUOTA + QUOTA]:  # the sale still sells its whole quota
        await service.grab(db, None, uid, act, sku, 1, addr)
    with pytest.raises(SoldOut):
        await service.grab(db, None, *people[-1][:1], act, sku, 1, people[-1][1])
    assert await _stock(db, sku) == 0


async def test_a_sale_needs_its_quota_in_stock(db) -> None:  # noqa: ANN001
    with pytest.raises(OutOfStock):
        await _sale(db, stock=5, quota=6)
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(FlashActivity))).scalar_one() == 0


async def test_an_unpaid_grab_gives_its_unit_back_to_the_sale_not_to_regular_buyers(db) -> None:  # noqa: ANN001
    w, act = await _sale(db)
    sku = w.sku_ids[0]
    [(uid, addr)] = await _people(db, 1)
    await service.grab(db, None, uid, act, sku, 1, addr)
    clock.advance(timedelta(minutes=6))  # the 5-minute pay window passes
    assert await sweeps.run_one(db, "orders.cancel_unpaid") == 1
    await outbox.drain(db)
    async with db.read() as s:
        assert (await s.execute(select(FlashItem.remaining))).scalar_one() == QUOTA
    assert await _stock(db, sku) == STOCK - QUOTA


async def test_the_unsold_rest_returns_exactly_once_when_the_sale_ends(db) -> None:  # noqa: ANN001
    w, act = await _sale(db)
    sku = w.sku_ids[0]
    people = await _people(db, 2)
    for uid, addr in people:
        await service.grab(db, None, uid, act, sku, 1, addr)
    assert await service.settle_ended(db) == {}  # still on: nothing returns
    clock.advance(timedelta(hours=2))  # the 10:00–12:00 slot is over
    first = await service.settle_ended(db)
    assert list(first.values()) == [QUOTA - 2]
    assert await service.settle_ended(db) == {}  # idempotent
    assert await sweeps.run_one(db, "flashsale.settle") == 0
    # 2 units sold (their orders still unpaid), the rest back on the shelf
    assert await _stock(db, sku) == STOCK - 2
    async with db.read() as s:
        assert (await s.execute(select(FlashItem.remaining))).scalar_one() == 0
        returned = (await s.execute(select(func.sum(StockMovement.delta)).where(
            StockMovement.sku_id == sku, StockMovement.reason == "flash_return"))).scalar_one()
        assert returned == QUOTA - 2
        assert (await s.execute(select(FlashActivity.settled_at))).scalar_one() is not None
    # an unpaid grab cancelled after the end stays in ordinary stock
    clock.advance(timedelta(minutes=6))
    assert await sweeps.run_one(db, "orders.cancel_unpaid") == 2
    await outbox.drain(db)
    assert await _stock(db, sku) == STOCK
    async with db.read() as s:
        assert (await s.execute(select(FlashItem.remaining))).scalar_one() == 0
