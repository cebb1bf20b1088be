"""Flash sale grabs: never more than the quota, per-person limits, no grab before the slot opens,
unpaid grabs released exactly once (database and Redis), reconcile makes Redis agree with the database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from quanzi.cart import service as cart
from quanzi.flashsale import gate as gate_mod
from quanzi.flashsale import service
from quanzi.flashsale.errors import NotStarted, SoldOut, UserLimit
from quanzi.flashsale.gate import FlashGate
from quanzi.flashsale.models import FlashItem, FlashReservation
from quanzi.kit import outbox, sweeps
from quanzi.kit.clock import clock
from quanzi.orders.service import CHINA
from tests.conftest import REDIS_URL, make_user
from tests.factories import make_world


async def _setup(db, quota: int = 3, per_user: int = 1):  # noqa: ANN001, ANN202
    w = await make_world(db, stock=50)
    now = clock.now().astimezone(CHINA)
    clock.freeze(datetime.combine(now.date(), time(10, 0, 30), tzinfo=CHINA))
    async with db.write() as s:
        slot = await service.create_slot(s, "10点场", time(10, 0), time(12, 0))
        act = await service.create_activity(s, slot_id=slot.id, day=now.date(), title="苹果秒杀",
                                            product_id=w.product_id, items=[(w.sku_ids[0], 990, quota)],
                                            per_user_limit=per_user)
    return w, act.id


async def _buyers(db, n: int) -> list[tuple[int, int]]:  # noqa: ANN001
    out = []
    for i in range(n):
        uid, _ = await make_user(db, f"1390001{i:04d}")
        async with db.write() as s:
            addr = await cart.add_address(s, uid, name="抢购", phone="13900000001", region="上海", detail="某路 1 号")
        out.append((uid, addr.id))
    return out


@pytest.fixture
async def flash_gate():  # noqa: ANN201
    if not REDIS_URL:
        yield None
        return
    from redis.asyncio import Redis

    g = FlashGate(Redis.from_url(REDIS_URL), prefix=f"t-flash-{uuid.uuid4().hex[:8]}")
    gate_mod._gate = g
    yield g
    gate_mod._gate = None
    await g.redis.aclose()


async def test_never_more_than_the_quota(db, flash_gate) -> None:  # noqa: ANN001
    w, act = await _setup(db, quota=3)
    buyers = await _buyers(db, 12)
    results = await asyncio.gather(*(service.grab(db, flash_gate, uid, act, w.sku_ids[0], 1, addr)
                                     for uid, addr in buyers), return_exceptions=True)
    won = [r for r in results if isinstance(r, FlashReservation)]
    assert len(won) == 3
    assert all(isinstance(r, SoldOut) for r in results if not isinstance(r, FlashReservation))
    async with db.read() as s:
        assert (await s.execute(select(FlashItem.remaining))).scalar_one() == 0
    if flash_gate is not None:
        assert await flash_gate.remaining(won[0].item_id) == 0


async def test_early_grab_refused_and_per_person_limit(db, flash_gate) -> None:  # noqa: ANN001
    w, act = await _setup(db, quota=5, per_user=1)
    [(uid, addr)] = await _buyers(db, 1)
    clock.advance(timedelta(hours=-1))
    with pytest.raises(NotStarted):
        await service.grab(db, flash_gate, uid, act, w.sku_ids[0], 1, addr)
    clock.advance(timedelta(hours=1))
    await service.grab(db, flash_gate, uid, act, w.sku_ids[0], 1, addr)
    with pytest.raises(UserLimit):
        await service.grab(db, flash_gate, uid, act, w.sku_ids[0], 1, addr)


async def test_unpaid_grab_is_released_once_and_reconcile_agrees(db, flash_gate) -> None:  # noqa: ANN001
    w, act = await _setup(db, quota=2)
    buyers = await _buyers(db, 2)
    for uid, addr in buyers:
        await service.grab(db, flash_gate, uid, act, w.sku_ids[0], 1, addr)
    clock.advance(timedelta(minutes=6))  # pay window is 5 minutes
    assert await sweeps.run_one(db, "orders.cancel_unpaid") == 2
    await outbox.drain(db)
    await outbox.drain(db)
    async with db.read() as s:
        assert (await s.execute(select(FlashItem.remaining))).scalar_one() == 2
        released = (await s.execute(select(func.count()).where(FlashReservation.status == "released"))).scalar_one()
    assert released == 2
    if flash_gate is not None:
        item_id = (await _item_id(db))
        assert await flash_gate.remaining(item_id) == 2
        await flash_gate.redis.set(flash_gate.quota_key(item_id), 0)  # simulate a crash that lost a release
        await service.reconcile(db, flash_gate, [act])
        assert await flash_gate.remaining(item_id) == 2
    # the released units can be grabbed again by the same people
    uid, addr = buyers[0]
    await service.grab(db, flash_gate, uid, act, w.sku_ids[0], 1, addr)


async def _item_id(db) -> int:  # noqa: ANN001
    async with db.read() as s:
        return (await s.execute(select(FlashItem.id))).scalar_one()


async def test_terms_an_operator_may_not_set_are_refused_and_nothing_is_written(db) -> None:  # noqa: ANN001
    from quanzi.catalog.models import Sku
    from quanzi.flashsale.errors import BadTerms
    from quanzi.flashsale.models import FlashActivity

    w = await make_world(db, stock=50)
    today = clock.now().astimezone(CHINA).date()
    clock.freeze(datetime.combine(today, time(13, 0), tzinfo=CHINA))
    async with db.write() as s:
        slot = await service.create_slot(s, "10点场", time(10, 0), time(12, 0))
        regular = (await s.get(Sku, w.sku_ids[0])).price_fen  # type: ignore[union-attr]
    cases = [
        ({"day": today + timedelta(days=1), "items": [(w.sku_ids[0], regular, 3)]}, "flash_price"),
        ({"day": today, "items": [(w.sku_ids[0], 990, 3)]}, "day"),  # today's 10:00–12:00 is over at 13:00
        ({"day": today + timedelta(days=1), "items": [(w.sku_ids[0], 990, 3)], "per_order_limit": 3,
          "per_user_limit": 2}, "per_order_limit"),
    ]
    for kwargs, field in cases:
        with pytest.raises(BadTerms) as e:
            async with db.write() as s:
                await service.create_activity(s, slot_id=slot.id, title="秒杀", product_id=w.product_id,
                                              **kwargs)  # type: ignore[arg-type]
        assert e.value.detail["field"] == field and e.value.code == "flashsale.bad_terms"
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(FlashActivity))).scalar_one() == 0
    async with db.write() as s:  # tomorrow, below the platform price, limits in order: fine
        await service.create_activity(s, slot_id=slot.id, day=today + timedelta(days=1), title="秒杀",
                                      product_id=w.product_id, items=[(w.sku_ids[0], regular - 1, 3)])


async def test_terms_memo_reads_once_per_database_and_expires(db, db_url, monkeypatch) -> None:  # noqa: ANN001
    """With the Redis gate, a crowd's grabs read the (immutable) terms once per process and database."""
    from quanzi.kit.db import Database

    w, act = await _setup(db)
    reads: list[str] = []
    real = service.grab_terms

    async def counting(s, activity_id, sku_id):  # noqa: ANN001, ANN202
        reads.append(str(s.bind.url))
        return await real(s, activity_id, sku_id)

    monkeypatch.setattr(service, "grab_terms", counting)
    first = await service.cached_terms(db, act, w.sku_ids[0])
    assert await service.cached_terms(db, act, w.sku_ids[0]) is first and len(reads) == 1
    other = Database(db_url)  # another database object never sees this one's memo
    try:
        await service.cached_terms(other, act, w.sku_ids[0])
        assert len(reads) == 2
    finally:
        await other.dispose()
    monkeypatch.setattr(service, "monotonic", lambda: 10**9)  # TERMS_SECONDS later (and then some)
    await service.cached_terms(db, act, w.sku_ids[0])
    assert len(reads) == 3
