"""Bargain: cuts sum exactly to start − floor (hypothesis), one help per identity (C8), expiry, buy."""

from __future__ import annotations

import asyncio
import random
from datetime import timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from quanzi.bargain import service
from quanzi.bargain.errors import AlreadyHelped, BadConfig, FloorNotReached, NotActive, SelfHelp
from quanzi.bargain.models import Bargain, BargainActivity, BargainHelp
from quanzi.kit import sweeps
from quanzi.kit.clock import clock
from quanzi.orders.models import Order
from tests.conftest import make_user
from tests.factories import make_world


@st.composite
def configs(draw):  # noqa: ANN001, ANN201
    helpers = draw(st.integers(1, 30))
    mode = draw(st.sampled_from(["random", "fixed"]))
    cut_min = draw(st.integers(1, 500))
    cut_max = draw(st.integers(cut_min, cut_min + 2000))
    first = draw(st.integers(0, 3000))
    if mode == "random":
        rest = draw(st.integers(helpers * cut_min, helpers * cut_max))
    else:
        rest = draw(st.integers((helpers - 1) * cut_min + 1, (helpers - 1) * cut_min + 5000))
    return helpers, mode, cut_min, cut_max, first, first + rest, draw(st.integers(0, 2**32))


@given(configs())
@settings(max_examples=300, deadline=None)
def test_cuts_always_sum_exactly_and_stay_in_bounds(cfg) -> None:  # noqa: ANN001
    helpers, mode, cut_min, cut_max, first, total, seed = cfg
    cuts = service.plan_cuts(total, helpers, mode, cut_min, cut_max, first, random.Random(seed))
    assert len(cuts) == helpers + 1
    assert sum(cuts) == total
    assert cuts[0] == first
    assert all(c >= 1 for c in cuts[1:])
    if mode == "random":
        assert all(cut_min <= c <= cut_max for c in cuts[1:])
    else:
        assert all(c == cut_min for c in cuts[1:-1])


def test_impossible_settings_refused() -> None:
    with pytest.raises(BadConfig):
        service.check_config(1000, 3, "random", 10, 20, 0)  # 3 cuts of at most 20 cannot make 1000
    with pytest.raises(BadConfig):
        service.check_config(100, 5, "fixed", 30, 30, 0)


async def test_an_activity_already_over_is_refused(db) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(5000, 8000))
    async with db.write() as s:
        with pytest.raises(BadConfig, match="already passed"):
            await service.create_activity(
                s, title="砍价苹果", product_id=w.product_id, sku_id=w.sku_ids[0], start_price_fen=5000,
                floor_price_fen=100, helpers_needed=3, cut_mode="random", cut_min_fen=100, cut_max_fen=3000,
                starts_at=clock.now() - timedelta(days=2), ends_at=clock.now() - timedelta(seconds=1))
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(BargainActivity))).scalar_one() == 0


async def _activity(db, helpers: int = 3):  # noqa: ANN001, ANN202
    w = await make_world(db, prices=(5000, 8000))
    async with db.write() as s:
        a = await service.create_activity(
            s, title="砍价苹果", product_id=w.product_id, sku_id=w.sku_ids[0], start_price_fen=5000,
            floor_price_fen=100, helpers_needed=helpers, cut_mode="random", cut_min_fen=100, cut_max_fen=3000,
            first_cut_fen=500, starts_at=clock.now() - timedelta(hours=1), ends_at=clock.now() + timedelta(days=3))
    return w, a.id


async def test_helpers_cut_to_the_floor_once_each_then_buy(db) -> None:  # noqa: ANN001
    w, act = await _activity(db, helpers=3)
    async with db.write() as s:
        b = await service.launch(s, w.fan_id, act)
    friends = [(await make_user(db, f"1391111{i:04d}"))[0] for i in range(6)]
    async with db.write() as s:
        with pytest.raises(SelfHelp):
            await service.help_cut(s, w.fan_id, b.id)
    async with db.write() as s:
        await service.help_cut(s, friends[0], b.id)
    with pytest.raises(AlreadyHelped):
        async with db.write() as s:
            await service.help_cut(s, friends[0], b.id)
    async with db.write() as s:
        with pytest.raises(FloorNotReached):
            await service.buy(s, w.fan_id, b.id, w.address_id)

    async def one(uid: int) -> object:
        try:
            async with db.write() as s:
                return await service.help_cut(s, uid, b.id)
        except Exception as exc:  # noqa: BLE001
            return exc

    results = await asyncio.gather(*(one(u) for u in friends[1:]))
    assert sum(isinstance(r, BargainHelp) for r in results) == 2
    assert all(isinstance(r, (BargainHelp, NotActive)) for r in results)
    async with db.read() as s:
        bargain = await s.get(Bargain, b.id)
        helps = list((await s.execute(select(BargainHelp).where(BargainHelp.bargain_id == b.id))).scalars())
    assert bargain.status == "succeeded" and bargain.current_price_fen == 100
    assert 500 + sum(h.cut_fen for h in helps) == 5000 - 100
    assert len({h.helper_id for h in helps}) == len(helps) == 3  # C8: one help per identity
    async with db.write() as s:
        order = await service.buy(s, w.fan_id, b.id, w.address_id)
    async with db.read() as s:
        o = await s.get(Order, order.id)
    assert o.kind == "bargain" and o.goods_fen == 100


async def test_launch_expires_by_sweep(db) -> None:  # noqa: ANN001
    w, act = await _activity(db)
    async with db.write() as s:
        b = await service.launch(s, w.fan_id, act)
    clock.advance(timedelta(hours=25))
    assert await sweeps.run_one(db, "bargain.expire") == 1
    friend, _ = await make_user(db, "13911119999")
    async with db.write() as s:
        with pytest.raises(NotActive):
            await service.help_cut(s, friend, b.id)
