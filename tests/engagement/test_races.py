"""Races for real: OS threads, each with its own event loop, Database and transaction, released together at a
barrier. On file SQLite and, when QUANZI_TEST_POSTGRES_URL is set, on PostgreSQL.

- 20 members enter a draw whose only prize (a 100% band) has 5 in stock: exactly 5 win, stock ends at 0,
  never below.
- 20 members grab a red packet of 5 parts: exactly 5 get a part, the parts sum to the whole.
- one member enters 10 times at once with a limit of 3: exactly 3 entries."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select, text

from quanzi.engagement import service
from quanzi.engagement.errors import DrawLimitReached, PacketEmpty
from quanzi.engagement.models import DrawEntry, DrawPrize, RedPacketGrab
from quanzi.kit.db import Database
from quanzi.ledger import service as ledger
from tests.engagement._support import grant, make_community, member, open_draw, prize

pytestmark = pytest.mark.concurrency

RACERS = 20


def _race(url: str, n: int, act: Callable[[Any, int], Coroutine[Any, Any, str]], args: list[int]) -> list[str]:
    start = threading.Barrier(n)

    def one(arg: int) -> str:
        async def go() -> str:
            db = Database(url)
            try:
                async with db.read() as s:
                    await s.execute(text("SELECT 1"))
                start.wait(timeout=60)
                async with db.write() as s:
                    return await act(s, arg)
            except (DrawLimitReached, PacketEmpty) as exc:
                return str(exc.code)
            finally:
                await db.dispose()

        return asyncio.run(go())

    with ThreadPoolExecutor(max_workers=n) as pool:
        return [f.result(timeout=120) for f in [pool.submit(one, a) for a in args]]


async def test_prize_stock_is_never_oversold(db: Database, db_url: str) -> None:
    c = await make_community(db)
    did = await open_draw(db, c, [prize("限量公仔", 10_000, 5)], cost=0, limit=1)
    fans = [(await member(db, c.community_id))[0] for _ in range(RACERS)]
    await db.dispose()

    async def enter(s: Any, uid: int) -> str:
        return (await service.enter_draw(s, did, uid)).prize_kind

    results = _race(db_url, RACERS, enter, fans)
    assert results.count("goods") == 5 and results.count("nothing") == RACERS - 5, results
    async with db.read() as s:
        assert (await s.execute(select(DrawPrize.remaining))).scalar_one() == 0
        assert (await s.execute(select(func.count()).select_from(DrawEntry))).scalar_one() == RACERS


async def test_one_member_racing_past_the_limit_gets_exactly_the_limit(db: Database, db_url: str) -> None:
    c = await make_community(db)
    did = await open_draw(db, c, [prize("积分", 5000, 1000, kind="points", points=1)], cost=10, limit=3)
    uid, _ = await member(db, c.community_id)
    await grant(db, c.world.shop_id, uid, 1000)
    await db.dispose()

    async def enter(s: Any, _: int) -> str:
        return (await service.enter_draw(s, did, uid)).prize_kind

    results = _race(db_url, 10, enter, list(range(10)))
    assert results.count("engagement.draw_limit_reached") == 7, results
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(DrawEntry))).scalar_one() == 3
        assert await ledger.check(s) == []


async def test_red_packet_parts_go_to_exactly_as_many_members(db: Database, db_url: str) -> None:
    c = await make_community(db)
    sender, _ = await member(db, c.community_id)
    await grant(db, c.world.shop_id, sender, 77)
    async with db.write() as s:
        p = await service.send_packet(s, c.community_id, sender, total_points=77, parts=5, split="lucky")
        pid = p.id
    fans = [(await member(db, c.community_id))[0] for _ in range(RACERS)]
    await db.dispose()

    async def grab(s: Any, uid: int) -> str:
        return str((await service.grab(s, pid, uid)).points)

    results = _race(db_url, RACERS, grab, fans)
    won = [int(r) for r in results if r.isdigit()]
    assert len(won) == 5 and sum(won) == 77, results
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(RedPacketGrab))).scalar_one() == 5
        assert await ledger.check(s) == []
