"""Activity calendar: the default cadence follows the category's repurchase cycle; reminders reach members
through notifications (an outbox event engagement emits, a handler notifications registers)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from quanzi.community.models import Community
from quanzi.engagement import service
from quanzi.engagement.errors import BadActivity
from quanzi.kit import outbox, sweeps
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.notifications.models import Notification
from tests.engagement._support import make_community, member, set_policy


async def _tie_to_fruit(db: Database, cid: int) -> int:
    from quanzi.catalog import service as catalog

    async with db.write() as s:
        cat = await catalog.ensure_category(s, "水果", "Fruit")
        await s.execute(update(Community).where(Community.id == cid).values(category_id=cat.id))
        return cat.id


async def test_cadence_follows_the_category_repurchase_cycle(db: Database) -> None:
    c = await make_community(db)
    cat = await _tie_to_fruit(db, c.community_id)
    await set_policy(db, repurchase_days={str(cat): 7, "999": 30}, default_cadence_days=14)
    start = clock.now() + timedelta(days=1)
    async with db.write() as s:
        acts = await service.schedule(s, c.community_id, c.owner_id, kind="drop", title="周五上新", starts_at=start,
                                      repeat=3)
    assert [a.starts_at - start for a in acts] == [timedelta(0), timedelta(days=7), timedelta(days=14)]
    c2 = await make_community(db, c.world)
    async with db.read() as s:
        assert await service.cadence_days(s, c2.community_id) == 14  # not tied to a category: the default


async def test_bad_activities_are_refused(db: Database) -> None:
    c = await make_community(db)
    with pytest.raises(BadActivity):
        async with db.write() as s:
            await service.schedule(s, c.community_id, c.owner_id, kind="drop", title="过去", starts_at=clock.now())
    with pytest.raises(BadActivity):
        async with db.write() as s:
            await service.schedule(s, c.community_id, c.owner_id, kind="party", title="x",
                                   starts_at=clock.now() + timedelta(days=1))


async def test_reminder_reaches_every_member_once(db: Database) -> None:
    c = await make_community(db)
    fans = [(await member(db, c.community_id))[0] for _ in range(3)]
    async with db.write() as s:
        await service.schedule(s, c.community_id, c.owner_id, kind="live_qa", title="直播答疑",
                               starts_at=clock.now() + timedelta(hours=2), remind_minutes=60)
    await sweeps.run_due(db, force=True)
    await outbox.drain(db)
    async with db.read() as s:
        assert (await s.execute(select(Notification))).first() is None  # not yet: an hour before
    clock.advance(timedelta(minutes=61))
    await sweeps.run_due(db, force=True)
    await outbox.drain(db)
    await sweeps.run_due(db, force=True)
    await outbox.drain(db)
    async with db.read() as s:
        rows = list((await s.execute(select(Notification.user_id, Notification.body))).all())
    assert sorted(u for u, _ in rows) == sorted([*fans, c.owner_id])
    assert all("直播答疑" in body for _, body in rows)
