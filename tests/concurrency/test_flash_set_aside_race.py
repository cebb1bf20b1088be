"""Regular buyers race a flash sale for the same SKU, for real: one OS thread per person, each with its own
event loop, Database and transaction, released together at a barrier (file SQLite, and PostgreSQL when
QUANZI_TEST_POSTGRES_URL is set). The sale's quota was set aside when it was created, so whatever the
interleaving: the sale sells exactly its quota, regular buyers exactly the rest, stock ends at 0, never
below; then the sale ends and the settle sweep has nothing left to return."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select, text

from quanzi.cart import service as cart
from quanzi.catalog.errors import OutOfStock
from quanzi.catalog.models import Sku
from quanzi.flashsale import service as flash
from quanzi.flashsale.errors import SoldOut
from quanzi.flashsale.models import FlashItem, FlashReservation
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.orders import service as orders
from quanzi.orders.service import CHINA
from tests.concurrency.test_stock_race import _buyers
from tests.factories import make_world

pytestmark = pytest.mark.concurrency

STOCK, QUOTA = 20, 10
REGULAR, GRABBERS = 16, 16  # 16 regular buyers for 10 free units, 16 grabbers for a quota of 10


def _person(url: str, kind: str, uid: int, addr: int, sku: int, act: int, start: threading.Barrier) -> str:
    async def go() -> str:
        db = Database(url)
        try:
            async with db.read() as s:  # connect before the start line so the requests really collide
                await s.execute(text("SELECT 1"))
            start.wait(timeout=60)
            if kind == "grab":
                try:
                    await flash.grab(db, None, uid, act, sku, 1, addr)
                except SoldOut:
                    return "grab_refused"
                return "grab_won"
            try:
                async with db.write() as s:
                    address = await cart.owned_address(s, uid, addr)
                    await orders.place_orders(s, uid, [orders.Wanted(sku, 1, None)], address)
            except OutOfStock:
                return "order_refused"
            return "order_placed"
        finally:
            await db.dispose()

    return asyncio.run(go())


async def test_regular_orders_racing_the_sale_never_take_its_quota(db: Database, db_url: str) -> None:
    w = await make_world(db, stock=STOCK)
    sku = w.sku_ids[0]
    now = clock.now().astimezone(CHINA)
    moment = datetime.combine(now.date(), time(10, 0, 30), tzinfo=CHINA)
    clock.freeze(moment)
    async with db.write() as s:
        slot = await flash.create_slot(s, "10点场", time(10, 0), time(12, 0))
        act = (await flash.create_activity(s, slot_id=slot.id, day=now.date(), title="抢", product_id=w.product_id,
                                           items=[(sku, 990, QUOTA)], per_user_limit=1)).id
    people = await _buyers(db, REGULAR + GRABBERS)
    await db.dispose()
    plan = [("order", *p) for p in people[:REGULAR]] + [("grab", *p) for p in people[REGULAR:]]
    start = threading.Barrier(len(plan))
    with ThreadPoolExecutor(max_workers=len(plan)) as pool:
        futures = [pool.submit(_person, db_url, kind, uid, addr, sku, act, start) for kind, uid, addr in plan]
        results = [f.result(timeout=120) for f in futures]

    assert results.count("grab_won") == QUOTA, results
    assert results.count("order_placed") == STOCK - QUOTA, results
    assert results.count("grab_refused") == GRABBERS - QUOTA
    assert results.count("order_refused") == REGULAR - (STOCK - QUOTA)
    async with db.read() as s:
        assert (await s.execute(select(Sku.stock).where(Sku.id == sku))).scalar_one() == 0
        assert (await s.execute(select(FlashItem.remaining))).scalar_one() == 0
        assert (await s.execute(select(func.count()).select_from(FlashReservation))).scalar_one() == QUOTA
    clock.freeze(moment + timedelta(hours=2))
    assert await flash.settle_ended(db) == {}  # sold out: nothing to return
    async with db.read() as s:
        assert (await s.execute(select(Sku.stock).where(Sku.id == sku))).scalar_one() == 0
