"""The last free places of a community, taken exactly once: N+20 fans join at once for N places, for real —
one OS thread, event loop, engine and transaction each, released together at a barrier. On file SQLite and,
when QUANZI_TEST_POSTGRES_URL is set, on PostgreSQL (the `db_url` fixture switches).

Exactly N join, 20 get a clean CommunityFull, member_count ends at capacity, and exactly N+1 active member
rows exist (the owner and the N winners) with one welcome post each."""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text

from quanzi.accounts import service as accounts
from quanzi.community import service
from quanzi.community.errors import CommunityFull
from quanzi.community.models import Community, Member, Post
from quanzi.kit.db import Database
from tests.community._support import make_community

pytestmark = pytest.mark.concurrency

PLACES = 10
EXTRA = 20


async def _fans(db: Database, n: int) -> list[int]:
    out = []
    async with db.write() as s:
        for i in range(n):
            user, _ = await accounts.get_or_create_user(s, f"+8613{750000000 + i:09d}", f"抢位者{i}")
            out.append(user.id)
    return out


def _join(url: str, community_id: int, user_id: int, start: threading.Barrier) -> str:
    async def go() -> str:
        db = Database(url)
        try:
            async with db.read() as s:  # connect before the start line so the joins really collide
                await s.execute(text("SELECT 1"))
            start.wait(timeout=60)
            try:
                async with db.write() as s:
                    await service.join(s, community_id, user_id, accepted_rules_version=1)
            except CommunityFull:
                return "full"
            return "ok"
        finally:
            await db.dispose()

    return asyncio.run(go())


async def test_n_plus_twenty_fans_for_n_places(db: Database, db_url: str) -> None:
    circle = await make_community(db, capacity=PLACES + 1)  # the owner holds one place
    fans = await _fans(db, PLACES + EXTRA)
    await db.dispose()

    start = threading.Barrier(len(fans))
    with ThreadPoolExecutor(max_workers=len(fans)) as pool:
        futures = [pool.submit(_join, db_url, circle.community_id, uid, start) for uid in fans]
        results = [f.result(timeout=120) for f in futures]

    assert results.count("ok") == PLACES, results
    assert results.count("full") == EXTRA, results
    async with db.read() as s:
        c = await s.get(Community, circle.community_id)
        assert c is not None and c.member_count == c.capacity == PLACES + 1
        active = (await s.execute(select(func.count()).select_from(Member).where(
            Member.community_id == c.id, Member.status == "active"))).scalar_one()
        assert active == PLACES + 1
        rows = (await s.execute(select(func.count()).select_from(Member).where(Member.community_id == c.id)))
        assert rows.scalar_one() == PLACES + 1  # the refused left nothing behind
        welcomes = (await s.execute(select(func.count()).select_from(Post).where(
            Post.community_id == c.id, Post.kind == "system"))).scalar_one()
        assert welcomes == PLACES
