"""The data caches (kit/cache.py): what invalidates them and what does not, the rule that a value read
under an old version is never cached as current, and two processes agreeing within the documented bound
(two Database objects with caches of their own, sharing the database and — in the Redis tests — only Redis,
exactly as two server processes would)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from quanzi.audit.service import AuditedSession
from quanzi.catalog import service as catalog
from quanzi.catalog.models import Product, Sku
from quanzi.distribution import service as distribution
from quanzi.kit import cache
from quanzi.kit.db import Database
from quanzi.policy import service as policy
from quanzi.policy.service import CommercePolicy
from quanzi.referrals import service as referrals
from quanzi.referrals.models import Binding
from quanzi.shops import service as shops
from quanzi.shops.errors import NotOnShelf
from tests.commerce.test_query_count import count_statements
from tests.conftest import REDIS_URL
from tests.factories import bind_via_token, make_world, new_shopkeeper

OUTSIDE = cache.RECHECK_SECONDS + 0.1  # a little more than the bound: another process must have seen it


def data(seen: list[str]) -> list[str]:
    return [s for s in seen if s.split()[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK", "PRAGMA"}]


@pytest.fixture
async def cached_db(db_url: str) -> AsyncIterator[Database]:
    """A database with the single-process data cache (versions in this process's memory)."""
    d = Database(db_url)
    cache.attach(d, redis_url=None, prefix="unused", workers=1)
    yield d
    await d.dispose()


async def snapshot(db: Database, sku_id: int) -> catalog.SkuSnapshot:
    async with db.read() as s:
        return (await catalog.snapshots(s, [sku_id]))[sku_id]


async def warm(db: Database, sku_id: int) -> None:
    """The first read stores the snapshot; the second must come from the cache."""
    await snapshot(db, sku_id)
    with count_statements(db) as seen:
        await snapshot(db, sku_id)
    assert data(seen) == []


async def test_stock_moves_keep_snapshots_cached_and_a_price_change_drops_them(cached_db: Database) -> None:
    w = await make_world(cached_db)
    sku = w.sku_ids[0]
    await warm(cached_db, sku)
    async with cached_db.write() as s:  # an order's guarded decrement, a flash set-aside, a restock
        await catalog.take_stock(s, sku, 3, ref="t:1")
        await catalog.set_aside_stock(s, sku, 2, reason="flash_set_aside", ref="t:2")
        await catalog.adjust_stock(s, sku, 10, ref="t:3")
        await catalog.add_sales(s, {w.product_id: 3})
    with count_statements(cached_db) as seen:
        assert (await snapshot(cached_db, sku)).price_fen == 2990
    assert data(seen) == []  # still cached
    async with cached_db.write() as s:
        await catalog.set_price(s, sku, 2590, actor_id=None)
    assert (await snapshot(cached_db, sku)).price_fen == 2590


@pytest.mark.parametrize("change", ["status", "title", "sku inactive", "bulk price"])
async def test_every_catalog_edit_drops_the_snapshots(cached_db: Database, change: str) -> None:
    w = await make_world(cached_db)
    sku = w.sku_ids[0]
    await warm(cached_db, sku)
    async with cached_db.write() as s:
        if change == "status":
            await catalog.set_status(s, await catalog.owned_product(s, w.product_id, None), "unpublished")
        elif change == "title":
            await catalog.update_product(s, await catalog.owned_product(s, w.product_id, None), title="新苹果")
        elif change == "sku inactive":
            (await s.get(Sku, sku)).is_active = False  # type: ignore[union-attr]
        else:
            await s.execute(update(Sku).where(Sku.id == sku).values(price_fen=1990))
    snap = await snapshot(cached_db, sku)
    expected = {"status": ("available", False), "title": ("title", "新苹果"), "sku inactive": ("available", False),
                "bulk price": ("price_fen", 1990)}[change]
    assert getattr(snap, expected[0]) == expected[1]


async def test_a_change_not_committed_is_read_by_its_own_transaction_and_never_cached(cached_db: Database) -> None:
    w = await make_world(cached_db)
    sku = w.sku_ids[0]
    await warm(cached_db, sku)
    with pytest.raises(RuntimeError):
        async with cached_db.write() as s:
            await catalog.set_price(s, sku, 100, actor_id=None)  # pending, not even flushed yet
            assert (await catalog.snapshots(s, [sku]))[sku].price_fen == 100
            raise RuntimeError("rolled back")
    assert (await snapshot(cached_db, sku)).price_fen == 2990


async def test_a_value_read_by_a_transaction_older_than_a_change_is_not_cached_as_current(
        cached_db: Database) -> None:
    """A read transaction that began before a price change commits may still read the old price (its
    snapshot); it must store it under the versions it began with, so the next transaction reads again."""
    w = await make_world(cached_db)
    sku = w.sku_ids[0]
    async with cached_db.read() as old:
        await old.execute(select(Product.id).limit(1))  # the transaction (and on SQLite its snapshot) begins
        async with cached_db.write() as s:
            await catalog.set_price(s, sku, 2590, actor_id=None)
        seen_by_old = (await catalog.snapshots(old, [sku]))[sku].price_fen
        assert seen_by_old in (2990, 2590)  # 2990 under SQLite's snapshot, 2590 under READ COMMITTED
    assert (await snapshot(cached_db, sku)).price_fen == 2590


async def test_policy_shop_and_attribution_facts_are_cached_and_dropped_by_their_changes(
        cached_db: Database) -> None:
    db = cached_db
    w = await make_world(db)
    keeper = await _owner(db, w.shop_id)
    sharer, _shop = await new_shopkeeper(db)
    assert await bind_via_token(db, w.fan_id, sharer) == "bound"

    async def facts() -> tuple[int, int | None]:
        async with db.read() as s:
            fee = (await policy.get(s, CommercePolicy)).shipping_flat_fen
            seller = await shops.seller_of(s, w.shop_id, {w.product_id})
            credit = await referrals.attribution(s, w.fan_id, seller)
        return fee, credit.level1_id

    await facts()
    with count_statements(db) as seen:
        assert await facts() == (800, sharer)
    assert data(seen) == []

    async with db.write() as s:
        await policy.put(s, CommercePolicy, {"shipping_flat_fen": 600}, actor_id=None)
    assert await facts() == (600, sharer)

    async with db.write() as s:  # the sharer is frozen: nobody earns (the binding still names them)
        await distribution.decide(s, sharer, "frozen", actor_id=w.supplier_user)
    assert await facts() == (600, None)

    async with db.write() as s:
        await distribution.decide(s, sharer, "active", actor_id=w.supplier_user)
    assert await facts() == (600, sharer)
    async with db.write() as s:
        await s.delete(await s.get(Binding, w.fan_id))
    assert await facts() == (600, keeper)

    async with db.write() as s:
        await shops.remove_from_shelf(s, (await shops.shops_by_id(s, [w.shop_id]))[w.shop_id], w.product_id)
    with pytest.raises(NotOnShelf):
        await facts()


async def test_the_public_shelf_follows_the_shelf_and_the_catalog(cached_db: Database) -> None:
    db = cached_db
    w = await make_world(db)

    async def shelf() -> list[tuple[int, int, str]]:
        async with db.read() as s:
            return [(e.product.id, e.min_price_fen, e.product.title) for e in await shops.shelf(s, w.shop_id)]

    assert await shelf() == [(w.product_id, 2990, "云南高原苹果")]
    with count_statements(db) as seen:
        await shelf()
    assert data(seen) == []
    async with db.write() as s:
        await catalog.set_price(s, w.sku_ids[0], 2790, actor_id=None)
    assert await shelf() == [(w.product_id, 2790, "云南高原苹果")]
    async with db.write() as s:
        await catalog.set_status(s, await catalog.owned_product(s, w.product_id, None), "unpublished")
    assert await shelf() == []


async def test_the_back_office_session_invalidates_too(cached_db: Database) -> None:
    """sqladmin writes through its own sessions (AuditedSession, no cache of theirs): the commit hook is the
    Session class's, so their edits bump the versions like the services' own."""
    w = await make_world(cached_db)
    sku = w.sku_ids[0]
    await warm(cached_db, sku)
    office: Any = async_sessionmaker(cached_db.engine.execution_options(quanzi_write=True), expire_on_commit=False,
                                     sync_session_class=AuditedSession)
    async with office() as s:
        (await s.get(Sku, sku)).price_fen = 3190
        await s.commit()
    assert (await snapshot(cached_db, sku)).price_fen == 3190


async def test_several_processes_without_redis_read_the_database(db_url: str) -> None:
    d = Database(db_url)
    try:
        c = cache.attach(d, redis_url=None, prefix="unused", workers=2)
        assert not c.enabled
        w = await make_world(d)
        for _ in range(2):
            with count_statements(d) as seen:
                await snapshot(d, w.sku_ids[0])
            assert len(data(seen)) == 1
    finally:
        await d.dispose()


# --- two processes sharing the database and Redis ----------------------------------------------------------

@pytest.fixture
async def two(db_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Process 1 bumps the versions in Redis on commit (as `configure_caches` sets up a server). Process 2's
    cache reads them from Redis through a store this process never bumps: only Redis carries the change."""
    if not REDIS_URL:
        pytest.skip("needs QUANZI_TEST_REDIS_URL")
    prefix = f"t-cache-{uuid.uuid4().hex[:8]}"
    one, other = Database(db_url), Database(db_url)
    cache.attach(one, redis_url=REDIS_URL, prefix=prefix, workers=2)
    other.cache = cache.Cache(cache.db_key_of(other.engine.url), cache.RedisVersions(REDIS_URL, prefix))
    yield one, other
    await one.dispose()
    await other.dispose()


async def eventually_within_the_bound(read: Any, expected: Any) -> None:
    """`read()` returns `expected` once the bound has passed (and not necessarily before)."""
    await asyncio.sleep(OUTSIDE)
    assert await read() == expected


async def cached_in(db: Database, read: Any) -> Any:
    """Read twice (the first transaction may not know the versions yet), then once more from the cache."""
    await read()
    await read()
    with count_statements(db) as seen:
        value = await read()
    assert data(seen) == [], seen
    return value


async def test_a_price_change_is_seen_by_a_second_process_within_the_bound(two: tuple[Database, Database]) -> None:
    one, other = two
    w = await make_world(one)
    sku = w.sku_ids[0]

    async def price() -> int:
        return (await snapshot(other, sku)).price_fen

    assert await cached_in(other, price) == 2990
    async with one.write() as s:
        await catalog.take_stock(s, sku, 1, ref="t:1")  # a stock move: nothing to invalidate
    await asyncio.sleep(OUTSIDE)
    assert await cached_in(other, price) == 2990
    async with one.write() as s:
        await catalog.set_price(s, sku, 2590, actor_id=None)
    await eventually_within_the_bound(price, 2590)


async def test_a_change_the_commit_hook_cannot_see_stays_cached(two: tuple[Database, Database]) -> None:
    """The control: hand-written SQL bumps nothing, so the second process keeps the old price past the bound
    (until TTL_SECONDS). This is what the test above would see if invalidation were removed."""
    one, other = two
    w = await make_world(one)
    sku = w.sku_ids[0]

    async def price() -> int:
        return (await snapshot(other, sku)).price_fen

    assert await cached_in(other, price) == 2990
    async with one.write() as s:
        await s.execute(text("UPDATE skus SET price_fen = 2590 WHERE id = :id"), {"id": sku})
    await asyncio.sleep(OUTSIDE)
    assert await price() == 2990


async def test_policy_unpublished_product_and_binding_changes_reach_a_second_process(
        two: tuple[Database, Database]) -> None:
    one, other = two
    w = await make_world(one)
    sharer, _ = await new_shopkeeper(one)
    keeper = await _owner(one, w.shop_id)

    async def fee() -> int:
        async with other.read() as s:
            return (await policy.get(s, CommercePolicy)).shipping_flat_fen

    async def available() -> tuple[bool, int]:
        async with other.read() as s:
            return (await catalog.snapshots(s, [w.sku_ids[0]]))[w.sku_ids[0]].available, len(
                await shops.shelf(s, w.shop_id))

    async def credited() -> int | None:
        async with other.read() as s:
            return (await referrals.attribution(s, w.fan_id, keeper)).level1_id

    assert await cached_in(other, fee) == 800
    assert await cached_in(other, available) == (True, 1)
    assert await cached_in(other, credited) == keeper

    async with one.write() as s:
        await policy.put(s, CommercePolicy, {"shipping_flat_fen": 500}, actor_id=None)
    await eventually_within_the_bound(fee, 500)

    async with one.write() as s:
        await catalog.set_status(s, await catalog.owned_product(s, w.product_id, None), "unpublished")
    await eventually_within_the_bound(available, (False, 0))

    assert await bind_via_token(one, w.fan_id, sharer) == "bound"
    await eventually_within_the_bound(credited, sharer)


async def _owner(db: Database, shop_id: int) -> int:
    async with db.read() as s:
        return (await shops.owners_of(s, [shop_id]))[shop_id]


async def test_with_redis_unreachable_every_lookup_reads_the_database(db_url: str) -> None:
    d = Database(db_url)
    try:
        d.cache = cache.Cache(cache.db_key_of(d.engine.url), cache.RedisVersions("redis://127.0.0.1:1/0", "t-down"))
        w = await make_world(d)
        for _ in range(3):
            with count_statements(d) as seen:
                assert (await snapshot(d, w.sku_ids[0])).price_fen == 2990
            assert len(data(seen)) == 1
    finally:
        await d.dispose()
