"""Lucky draws on the database: frozen rules, the 50,000-yuan cap, quotas, points, stock, public winners."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import select

from quanzi.engagement import service
from quanzi.engagement.errors import (
    DrawLimitReached,
    DrawNotOpen,
    NotEnoughPoints,
    PrizeTooValuable,
    RulesFrozen,
)
from quanzi.engagement.models import DrawEntry, DrawPrize, DrawQuota
from quanzi.kit.db import Database
from quanzi.ledger import service as ledger
from tests.engagement._support import balance, grant, later, make_community, member, open_draw, prize


async def test_prize_worth_more_than_50000_yuan_is_refused(db: Database) -> None:
    c = await make_community(db)
    async with db.write() as s:
        with pytest.raises(PrizeTooValuable):
            await service.create_draw(s, c.community_id, c.owner_id, title="大奖", rules_text="规则", cost_points=0,
                                      per_person_limit=1, ends_at=later(),
                                      prizes=[prize("汽车", 10, 1, value_fen=5_000_001)])
    async with db.write() as s:  # exactly 50,000 yuan is allowed
        await service.create_draw(s, c.community_id, c.owner_id, title="大奖", rules_text="规则", cost_points=0,
                                  per_person_limit=1, ends_at=later(), prizes=[prize("摩托", 10, 1, value_fen=5_000_000)])


async def test_rules_frozen_once_open_and_members_cannot_run_draws(db: Database) -> None:
    from quanzi.community.errors import NoPermission

    c = await make_community(db)
    uid, _ = await member(db, c.community_id)
    did = await open_draw(db, c, [prize("苹果一箱", 1000, 5)])
    async with db.write() as s:
        with pytest.raises(RulesFrozen):
            await service.update_draw(s, did, c.owner_id, cost_points=1)
    async with db.write() as s:
        with pytest.raises(NoPermission):
            await service.create_draw(s, c.community_id, uid, title="x", rules_text="y", cost_points=0,
                                      per_person_limit=1, ends_at=later(), prizes=[prize("a", 1, 1)])
    async with db.read() as s:
        d = await service.get_draw(s, did)
    assert d.status == "open" and d.rules_digest and len(d.rules_digest) == 64


async def test_entry_limit_points_and_nothing_half_written(db: Database) -> None:
    c = await make_community(db)
    uid, _ = await member(db, c.community_id)
    did = await open_draw(db, c, [prize("积分 5", 10_000, 100, kind="points", points=5)], cost=10, limit=2)
    with pytest.raises(NotEnoughPoints):
        async with db.write() as s:  # the request's transaction: the refusal rolls all of it back
            await service.enter_draw(s, did, uid)
    async with db.read() as s:  # the refused entry left no quota, no entry, no stock change
        assert (await s.execute(select(DrawQuota))).first() is None
        assert (await s.execute(select(DrawEntry))).first() is None
        assert (await s.execute(select(DrawPrize.remaining))).scalar_one() == 100
    await grant(db, c.world.shop_id, uid, 30)
    for _ in range(2):
        async with db.write() as s:
            r = await service.enter_draw(s, did, uid)
        assert (r.prize_kind, r.points_won) == ("points", 5)
    async with db.write() as s:
        with pytest.raises(DrawLimitReached) as exc:
            await service.enter_draw(s, did, uid)
    assert exc.value.status == 409 and "2" in exc.value.text("en")
    assert await balance(db, c.world.shop_id, uid) == 30 - 10 + 5 - 10 + 5
    async with db.read() as s:
        assert await ledger.check(s) == []
        winners = await service.winners(s, did)
    assert len(winners) == 2 and winners[0].nickname.endswith("**")


async def test_stock_runs_out_then_the_band_wins_nothing(db: Database) -> None:
    c = await make_community(db)
    did = await open_draw(db, c, [prize("签名书", 10_000, 2)], cost=0, limit=3)
    uid, _ = await member(db, c.community_id)
    kinds = []
    for _ in range(3):
        async with db.write() as s:
            kinds.append((await service.enter_draw(s, did, uid, random.Random(7))).prize_kind)
    assert kinds == ["goods", "goods", "nothing"]
    async with db.read() as s:
        assert (await s.execute(select(DrawPrize.remaining))).scalar_one() == 0


async def test_closed_or_draft_draw_refuses_entries(db: Database) -> None:
    c = await make_community(db)
    uid, _ = await member(db, c.community_id)
    async with db.write() as s:
        d = await service.create_draw(s, c.community_id, c.owner_id, title="草稿", rules_text="r", cost_points=0,
                                      per_person_limit=1, ends_at=later(), prizes=[prize("a", 100, 1)])
    async with db.write() as s:
        with pytest.raises(DrawNotOpen):
            await service.enter_draw(s, d.id, uid)
    did = await open_draw(db, c, [prize("a", 100, 1)])
    async with db.write() as s:
        await service.close_draw(s, did, c.owner_id)
    async with db.write() as s:
        with pytest.raises(DrawNotOpen):
            await service.enter_draw(s, did, uid)


async def test_seeded_draws_through_the_service_follow_the_table(db: Database) -> None:
    """1,000 entries through enter_draw with a seeded RNG (many members): chi-square against the table."""
    from tests.engagement.test_rules import CHI2_CRIT_0_001, chi_square

    c = await make_community(db)
    did = await open_draw(db, c, [prize("大奖", 500, 10_000), prize("小奖", 2500, 10_000)], cost=0, limit=100)
    rng = random.Random(99)
    members = [(await member(db, c.community_id))[0] for _ in range(20)]
    counts = {"大奖": 0, "小奖": 0, "谢谢参与": 0}
    async with db.write() as s:
        for i in range(1000):
            counts[(await service.enter_draw(s, did, members[i % 20], rng)).prize_name] += 1
    observed = [counts["大奖"], counts["小奖"], counts["谢谢参与"]]
    assert chi_square(observed, [50.0, 250.0, 700.0]) < CHI2_CRIT_0_001[2]
