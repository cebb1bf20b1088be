"""Checkout with warm data caches (kit/cache.py): snapshots stay cached while stock moves, yet stock is never
decided from the cache — an out-of-stock SKU is refused and a crowd never oversells; a price change made
between two orders is charged at once."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from quanzi.catalog import service as catalog
from quanzi.catalog.models import Sku
from quanzi.kit.db import Database
from tests.commerce.test_query_count import count_statements
from tests.factories import add_fan, make_world


async def place(client, w, sku_id: int, qty: int, key: str, fan=None):  # noqa: ANN001, ANN201
    """One order of `qty` units through the world's shop, by the world's fan or `fan`."""
    body = {"address_id": fan.address_id if fan else w.address_id,
            "items": [{"sku_id": sku_id, "quantity": qty, "shop_id": w.shop_id}]}
    headers = fan.headers if fan else w.fan_headers
    return await client.post("/api/orders", json=body, headers={**headers, "Idempotency-Key": key})


async def stock_of(db: Database, sku_id: int) -> int:
    async with db.read() as s:
        return (await s.execute(select(Sku.stock).where(Sku.id == sku_id))).scalar_one()


async def test_a_warm_snapshot_never_sells_stock_that_is_gone(client, db: Database) -> None:  # noqa: ANN001
    w = await make_world(db, stock=3)
    sku = w.sku_ids[0]
    r = await place(client, w, sku, 2, "a")
    assert r.status_code == 201, r.text
    with count_statements(db) as seen:  # the snapshot is cached: the only read of skus is the guarded UPDATE
        r = await place(client, w, sku, 1, "b")
    assert r.status_code == 201, r.text
    assert not [x for x in seen if x.upper().startswith("SELECT") and "FROM SKUS" in x.upper()], seen
    r = await place(client, w, sku, 1, "c")
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "catalog.out_of_stock"
    assert await stock_of(db, sku) == 0


async def test_a_crowd_on_warm_caches_never_oversells(client, db: Database) -> None:  # noqa: ANN001
    w = await make_world(db, stock=5)
    sku = w.sku_ids[0]
    r = await place(client, w, sku, 1, "w")
    assert r.status_code == 201, r.text
    fans = [await add_fan(db, f"1390000{i:04d}") for i in range(2, 10)]
    results = await asyncio.gather(*[
        place(client, w, sku, 1, f"k{i}", f) for i, f in enumerate(fans)])
    codes = sorted(r.status_code for r in results)
    assert codes == [201] * 4 + [409] * 4, [r.text for r in results]
    assert await stock_of(db, sku) == 0


async def test_a_price_change_between_two_orders_is_charged_at_once(client, db: Database) -> None:  # noqa: ANN001
    w = await make_world(db)
    sku = w.sku_ids[0]
    r = await place(client, w, sku, 1, "1")
    assert r.status_code == 201, r.text
    async with db.write() as s:
        await catalog.set_price(s, sku, 2590, actor_id=None)
    r = await place(client, w, sku, 1, "2")
    assert r.status_code == 201, r.text
    assert r.json()["orders"][0]["goods_fen"] == 2590, r.json()
