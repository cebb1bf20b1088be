"""Daily check-in on the database: China days, streaks across midnight and month ends, points on the ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest

from quanzi.engagement import service
from quanzi.engagement.errors import AlreadyCheckedIn, SwitchedOff
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.ledger import service as ledger
from tests.engagement._support import balance, china, make_community, member, set_policy


async def _check_in(db: Database, cid: int, uid: int) -> service.CheckInResult:
    async with db.write() as s:
        return await service.check_in(s, cid, uid)


async def test_streak_across_midnight_china_time_and_a_month_end(db: Database) -> None:
    c = await make_community(db)
    uid, _ = await member(db, c.community_id)
    async with db.write() as s:
        await service.save_settings(s, c.community_id, c.owner_id, {"checkin_cycle": "month",
                                                                    "checkin_rewards": [1, 2, 3, 4]})
    clock.freeze(china(2026, 5, 30, 23, 58))
    assert (await _check_in(db, c.community_id, uid)).streak == 1
    clock.advance(timedelta(minutes=1))  # 23:59 Beijing: still the 30th
    with pytest.raises(AlreadyCheckedIn):
        await _check_in(db, c.community_id, uid)
    clock.advance(timedelta(minutes=2))  # 00:01 Beijing on the 31st (16:01 UTC on the 30th)
    r = await _check_in(db, c.community_id, uid)
    assert (r.day.isoformat(), r.streak, r.points) == ("2026-05-31", 2, 2)
    clock.freeze(china(2026, 6, 1, 8))  # a new month: the monthly cycle starts again
    r = await _check_in(db, c.community_id, uid)
    assert (r.streak, r.points) == (1, 1)
    clock.freeze(china(2026, 6, 2, 8))
    assert (await _check_in(db, c.community_id, uid)).streak == 2
    clock.freeze(china(2026, 6, 4, 8))  # missed the 3rd
    assert (await _check_in(db, c.community_id, uid)).streak == 1
    assert await balance(db, c.world.shop_id, uid) == 1 + 2 + 1 + 2 + 1
    async with db.read() as s:
        assert await ledger.check(s) == []
        hist = await service.points_history(s, uid, c.world.shop_id)
    assert [h.points for h in hist] == [1, 2, 1, 2, 1] and hist[0].kind == "checkin"


async def test_weekly_cycle_restarts_on_monday_and_table_repeats_last_day(db: Database) -> None:
    c = await make_community(db)
    uid, _ = await member(db, c.community_id)
    streaks = []
    for day in range(7, 16):  # Sun 7 June 2026 … Mon 15 June
        clock.freeze(china(2026, 6, day, 9))
        streaks.append((await _check_in(db, c.community_id, uid)).streak)
    assert streaks == [1, 1, 2, 3, 4, 5, 6, 7, 1]


async def test_only_members_check_in_and_switches_are_obeyed(db: Database) -> None:
    from quanzi.community.errors import NotMember

    c = await make_community(db)
    uid, _ = await member(db, c.community_id)
    from tests.community._support import new_fan

    outsider, _ = await new_fan(db)
    with pytest.raises(NotMember):
        await _check_in(db, c.community_id, outsider)
    await set_policy(db, checkin_enabled=False)
    with pytest.raises(SwitchedOff):
        await _check_in(db, c.community_id, uid)
    await set_policy(db, checkin_enabled=True)
    async with db.write() as s:
        await service.save_settings(s, c.community_id, c.owner_id, {"checkin_enabled": False})
    with pytest.raises(SwitchedOff):
        await _check_in(db, c.community_id, uid)
    assert await balance(db, c.world.shop_id, uid) == 0


async def test_a_closed_community_runs_no_rituals(db: Database) -> None:
    from quanzi.accounts.models import Role
    from quanzi.community import service as community
    from quanzi.community.errors import CommunityClosed
    from tests.conftest import make_user

    c = await make_community(db)
    uid, _ = await member(db, c.community_id)
    op, _ = await make_user(db, "13800000097", Role.OPERATOR)
    async with db.write() as s:
        await community.close_community(s, c.community_id, op, "违规")
    with pytest.raises(CommunityClosed):
        await _check_in(db, c.community_id, uid)
