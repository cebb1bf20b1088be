"""50 buyers at once for 10 units, for real: 50 OS threads, each with its own event loop, its own Database
(engine and connection pool) and its own transaction, released together at a barrier. On file SQLite and,
when QUANZI_TEST_POSTGRES_URL is set, on PostgreSQL (the `db_url` fixture switches).

Exactly 10 checkouts win, 40 get a clean OutOfStock, stock ends at 0 (never negative) and exactly 10
reservations are recorded."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from quanzi.accounts import service as accounts
from quanzi.cart import service as cart
from quanzi.catalog.errors import OutOfStock
from quanzi.catalog.models import Sku, StockMovement
from quanzi.kit.db import Database
from quanzi.orders import service as orders
from quanzi.orders.models import Order, OrderLine
from tests.factories import make_world

pytestmark = pytest.mark.concurrency

BUYERS = 50
UNITS = 10


async def _buyers(db: Database, n: int) -> list[tuple[int, int]]:
    """n fans with an address each, created up front in one transaction: [(user_id, address_id)]."""
    out = []
    async with db.write() as s:
        for i in range(n):
            phone = f"+8613{600000000 + i:09d}"
            user, _ = await accounts.get_or_create_user(s, phone, f"抢购者{i}")
            addr = await cart.add_address(s, user.id, name=f"买家{i}", phone=phone, region="上海市 徐汇区",
                                          detail=f"漕溪北路 {i + 1} 号")
            out.append((user.id, addr.id))
    return out


def _buy(url: str, buyer_id: int, address_id: int, sku_id: int | list[int], start: threading.Barrier) -> str:
    """One buyer in its own thread, event loop, engine and transaction."""

    async def go() -> str:
        db = Database(url)
        try:
            async with db.read() as s:  # connect before the start line so the checkouts really collide
                await s.execute(text("SELECT 1"))
            start.wait(timeout=60)
            try:
                async with db.write() as s:
                    address = await cart.owned_address(s, buyer_id, address_id)
                    skus = sku_id if isinstance(sku_id, list) else [sku_id]
                    await orders.place_orders(s, buyer_id, [orders.Wanted(x, 1, None) for x in skus], address)
            except OutOfStock:
                return "out_of_stock"
            return "ok"
        finally:
            await db.dispose()

    return asyncio.run(go())


async def test_fifty_buyers_for_ten_units(db: Database, db_url: str) -> None:
    w = await make_world(db, stock=UNITS)
    sku_id = w.sku_ids[0]
    buyers = await _buyers(db, BUYERS)
    await db.dispose()  # the test's own pool holds nothing while the buyers run

    start = threading.Barrier(BUYERS)
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=BUYERS) as pool:
        futures = [pool.submit(_buy, db_url, uid, aid, sku_id, start) for uid, aid in buyers]
        results = [f.result(timeout=120) for f in futures]  # any other exception fails the test here
    elapsed = time.monotonic() - began

    assert results.count("ok") == UNITS, results
    assert results.count("out_of_stock") == BUYERS - UNITS, results
    async with db.read() as s:
        stock = (await s.execute(select(Sku.stock).where(Sku.id == sku_id))).scalar_one()
        reserves = (await s.execute(select(func.count(), func.sum(StockMovement.delta)).where(
            StockMovement.sku_id == sku_id, StockMovement.reason == "reserve"))).one()
        placed = (await s.execute(select(Order.buyer_id, func.sum(OrderLine.quantity))
                                  .join(OrderLine, OrderLine.order_id == Order.id)
                                  .where(OrderLine.sku_id == sku_id).group_by(Order.buyer_id))).all()
        other_sku = (await s.execute(select(Sku.stock).where(Sku.id == w.sku_ids[1]))).scalar_one()
    assert stock == 0
    assert (reserves[0], reserves[1]) == (UNITS, -UNITS)
    assert len(placed) == UNITS and all(qty == 1 for _, qty in placed)  # ten different winners, one unit each
    assert {b for b, _ in placed} <= {uid for uid, _ in buyers}
    assert other_sku == UNITS  # untouched
    assert elapsed < 60, elapsed


async def test_two_sku_checkouts_listed_in_opposite_orders_neither_deadlock_nor_oversell(db: Database,
                                                                                      db_url: str) -> None:
    """Half the buyers want (A, B), half (B, A): the one guarded UPDATE takes both rows in the index's order,
    so no two checkouts wait on each other (PostgreSQL would abort one with a deadlock error, a 500)."""
    w = await make_world(db, stock=UNITS)
    a, b = w.sku_ids[0], w.sku_ids[1]
    buyers = await _buyers(db, 2 * UNITS + 10)
    await db.dispose()
    start = threading.Barrier(len(buyers))
    with ThreadPoolExecutor(max_workers=len(buyers)) as pool:
        futures = [pool.submit(_buy, db_url, uid, aid, [a, b] if i % 2 else [b, a], start)
                   for i, (uid, aid) in enumerate(buyers)]
        results = [f.result(timeout=120) for f in futures]
    assert results.count("ok") == UNITS and results.count("out_of_stock") == len(buyers) - UNITS, results
    async with db.read() as s:
        left = dict((await s.execute(select(Sku.id, Sku.stock).where(Sku.id.in_([a, b])))).all())
        moved = (await s.execute(select(func.sum(StockMovement.delta)).where(StockMovement.reason == "reserve"))).scalar()
    assert left == {a: 0, b: 0} and moved == -2 * UNITS
