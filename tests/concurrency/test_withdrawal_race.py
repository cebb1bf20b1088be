"""20 withdrawals of the whole available balance at once, for real: 20 OS threads, each with its own event loop,
its own Database (engine and pool) and its own transaction, released together at a barrier. On file SQLite and,
when QUANZI_TEST_POSTGRES_URL is set, on PostgreSQL (the `db_url` fixture switches).

yudao and CRMEB check the balance and then update it, so two concurrent requests overdraw. Ours is one guarded
debit: exactly one request wins, 19 get a clean NotEnoughAvailable, available ends at 0, and the ledger holds."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from quanzi.kit.db import Database
from quanzi.ledger import service as ledger
from quanzi.withdrawals import service as withdrawals
from quanzi.withdrawals.errors import NotEnoughAvailable
from quanzi.withdrawals.models import Withdrawal
from tests.factories import (
    balances,
    buy,
    ledger_problems,
    new_buyer,
    new_product,
    new_shopkeeper,
    set_distribution,
    ship_and_receive,
    unlock,
)

pytestmark = pytest.mark.concurrency

RACERS = 20
PAYEE = {"name": "店主", "account": "6222000011112222"}


def _withdraw(url: str, user_id: int, amount: int, start: threading.Barrier) -> str:
    """One request in its own thread, event loop, engine and transaction."""

    async def go() -> str:
        db = Database(url)
        try:
            async with db.read() as s:  # connect before the start line so the requests really collide
                await s.execute(text("SELECT 1"))
            start.wait(timeout=60)
            try:
                async with db.write() as s:
                    await withdrawals.request(s, user_id, amount, "bank", PAYEE)
            except NotEnoughAvailable:
                return "not_enough"
            return "ok"
        finally:
            await db.dispose()

    return asyncio.run(go())


async def test_twenty_withdrawals_of_the_whole_balance(app, db: Database, db_url: str) -> None:  # noqa: ANN001
    from datetime import timedelta

    from quanzi.kit.clock import clock

    await set_distribution(db, withdraw_fee_bp=100)  # a fee too: three accounts change in each request
    keeper, shop_id = await new_shopkeeper(db)
    sku = (await new_product(db, prices=(123_450,))).sku_ids[0]
    order_id = await buy(db, await new_buyer(db), [(sku, 1)], shop_id)
    await ship_and_receive(db, order_id)
    clock.advance(timedelta(days=9))
    await unlock(db)
    whole = (await balances(db, keeper))["available"]
    assert whole == 12_345
    await db.dispose()  # the test's own pool holds nothing while the racers run

    start = threading.Barrier(RACERS)
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=RACERS) as pool:
        futures = [pool.submit(_withdraw, db_url, keeper, whole, start) for _ in range(RACERS)]
        results = [f.result(timeout=120) for f in futures]  # any other exception fails the test here
    elapsed = time.monotonic() - began

    assert results.count("ok") == 1, results
    assert results.count("not_enough") == RACERS - 1, results
    b = await balances(db, keeper)
    fee = whole * 100 // 10_000
    assert (b["available"], b["withdrawing"]) == (0, whole - fee)
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(Withdrawal))).scalar_one() == 1
        assert await ledger.balance(s, 0, "fee_income", "platform") == fee
    assert await ledger_problems(db) == []
    assert elapsed < 60, elapsed
