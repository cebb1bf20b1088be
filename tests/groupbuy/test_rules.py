"""The activity's knobs: one open group per person per activity (held by the database, also under
concurrency), per-order and per-person limits, the activity window, SKUs of the activity only, the leader's
discount and reward; an unpaid leader takes the group with them."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from quanzi.distribution.models import Commission
from quanzi.groupbuy import service
from quanzi.groupbuy.errors import AlreadyMember, OneOpenGroup
from quanzi.groupbuy.models import Group, GroupMember
from quanzi.kit import outbox, sweeps
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from tests.commerce._support import count, err, rows, stock
from tests.factories import ledger_problems
from tests.groupbuy._support import (
    GROUP_PRICE,
    SHIPPING,
    assert_no_fake_members,
    fans,
    group_row,
    join,
    join_paid,
    open_group,
    open_paid,
    setup,
)


async def test_one_open_group_per_person_per_activity(app, client, db) -> None:  # noqa: ANN001
    w, act = await setup(db, size=2)
    sku = w.sku_ids[0]
    f2, f3 = await fans(db, 2)
    mine = await open_paid(client, db, f2, act, sku)
    r = await open_group(client, f2, act, sku)
    assert r.status_code == 409 and err(r) == "groupbuy.one_open_group", r.text
    other = await open_paid(client, db, f3, act, sku)
    r = await join(client, f2, other["group_id"], sku)  # not in someone else's group either, while mine is open
    assert r.status_code == 409 and err(r) == "groupbuy.one_open_group"
    r = await join(client, f2, mine["group_id"], sku)
    assert r.status_code == 409 and err(r) == "groupbuy.already_member"

    # An unpaid opening is open too; once the unpaid-order sweep cancels it, the group goes and the person is free.
    r = await open_group(client, w, act, sku)
    assert r.status_code == 201
    unpaid = r.json()
    assert (await open_group(client, w, act, sku)).status_code == 409
    clock.advance(timedelta(minutes=16))
    assert await sweeps.run_one(db, "orders.cancel_unpaid") == 1
    await outbox.drain(db)
    assert (await group_row(db, unpaid["group_id"])).status == "cancelled"
    assert (await open_group(client, w, act, sku)).status_code == 201


async def test_one_open_group_holds_under_concurrency(app, db, db_url) -> None:  # noqa: ANN001
    """The same person opens twice at the same moment through two engines: the partial unique index lets
    exactly one through and the other gets a clean 409."""
    w, act = await setup(db, size=2)
    dbs = [Database(db_url) for _ in range(4)]
    try:
        async def attempt(d: Database) -> object:
            try:
                async with d.write() as s:
                    return await service.open_group(s, w.fan_id, act, w.sku_ids[0], 1, w.address_id)
            except (OneOpenGroup, AlreadyMember) as exc:
                return exc

        results = await asyncio.gather(*(attempt(d) for d in dbs))
    finally:
        for d in dbs:
            await d.dispose()
    assert sum(isinstance(r, service.Placed) for r in results) == 1, results
    assert all(isinstance(r, (service.Placed, OneOpenGroup)) for r in results), results
    assert await count(db, GroupMember) == 1 and await count(db, Group) == 1


async def test_limits_window_and_skus(app, client, db) -> None:  # noqa: ANN001
    w, act = await setup(db, size=2, per_order_limit=2, per_user_limit=3)
    sku, other_sku = w.sku_ids
    f2, f3 = await fans(db, 2)
    r = await open_group(client, f2, act, sku, qty=3)
    assert r.status_code == 422 and err(r) == "groupbuy.order_limit"
    r = await open_group(client, f2, act, other_sku)
    assert r.status_code == 422 and err(r) == "groupbuy.sku_not_in_activity"
    for bad in ({"sku_id": sku, "quantity": 0, "address_id": f2.address_id},
                {"sku_id": sku, "quantity": "1", "address_id": f2.address_id},
                {"sku_id": sku, "address_id": f2.address_id, "price_fen": 1}):
        r = await client.post(f"/api/groupbuy/activities/{act}/open", json=bad, headers=f2.headers)
        assert r.status_code == 422, r.text
    r = await client.post(f"/api/groupbuy/activities/{act}/open", headers=f2.headers,
                          json={"sku_id": sku, "quantity": 1, "address_id": w.address_id})  # someone else's address
    assert r.status_code == 404

    await app.state.limiter.reset()  # the refusals above counted towards f2's rate limit (tested below)
    first = await open_paid(client, db, f2, act, sku, qty=2)
    await join_paid(client, db, f3, first["group_id"], sku)  # the group succeeds: f2 holds 2 of 3 units
    r = await open_group(client, f2, act, sku, qty=2)
    assert r.status_code == 409 and err(r) == "groupbuy.user_limit", r.text
    r = await open_group(client, f2, act, sku, qty=1)
    assert r.status_code == 201, r.text

    async with db.write() as s:
        a = await service.get_activity(s, act)
        a.starts_at = clock.now() + timedelta(hours=1)
    r = await open_group(client, f3, act, sku)
    assert r.status_code == 409 and err(r) == "groupbuy.not_started"
    async with db.write() as s:
        a = await service.get_activity(s, act)
        a.starts_at, a.ends_at = clock.now() - timedelta(days=2), clock.now() - timedelta(days=1)
    r = await open_group(client, f3, act, sku)
    assert r.status_code == 409 and err(r) == "groupbuy.ended"
    assert (await client.get("/api/groupbuy/activities")).json() == []


async def test_leader_discount_and_leader_reward(app, client, db) -> None:  # noqa: ANN001
    w, act = await setup(db, size=2, leader_discount_fen=200, leader_commission_bp=1000)
    sku = w.sku_ids[0]
    (f2,) = await fans(db, 1)
    before = await stock(db, sku)
    leader = await open_paid(client, db, w, act, sku)
    assert leader["total_fen"] == GROUP_PRICE - 200 + SHIPPING
    assert await count(db, Commission) == 0  # nothing while forming
    joiner = await join_paid(client, db, f2, leader["group_id"], sku)
    assert joiner["total_fen"] == GROUP_PRICE + SHIPPING
    rewards = await rows(db, Commission, order_by=Commission.order_id)
    assert [(c.order_id, c.level, c.beneficiary_id, c.amount_fen, c.status) for c in rewards] == [
        (leader["order_id"], 0, w.fan_id, (GROUP_PRICE - 200) // 10, "pending"),
        (joiner["order_id"], 0, w.fan_id, GROUP_PRICE // 10, "pending"),
    ]
    await outbox.drain(db)
    assert await count(db, Commission) == 2  # delivered again, booked once
    assert await ledger_problems(db) == []
    assert await stock(db, sku) == before - 2
    await assert_no_fake_members(db)


async def test_opening_and_joining_are_rate_limited(app, client, db) -> None:  # noqa: ANN001
    w, act = await setup(db, size=2)
    codes = [(await open_group(client, w, act, w.sku_ids[1])).status_code for _ in range(6)]
    assert codes[:5] == [422] * 5 and codes[5] == 429, codes  # 5 attempts a second per person


async def test_a_member_refunded_by_an_after_sale_frees_the_seat(app, client, db) -> None:  # noqa: ANN001
    """Someone in a forming group asks for their money back before shipping (refund only, approved): they leave
    and their seat opens again, so the group never counts a person who is no longer paying. They may come back."""
    from tests.factories import ask_refund, lines_of
    from tests.groupbuy._support import members, order_row

    w, act = await setup(db, size=3)
    sku = w.sku_ids[0]
    f2, f3, f4 = await fans(db, 3)
    before = await stock(db, sku)
    leader = await open_paid(client, db, w, act, sku)
    gid = leader["group_id"]
    second = await join_paid(client, db, f2, gid, sku)
    [line] = await lines_of(db, second["order_id"])
    await ask_refund(db, f2.user_id, second["order_id"], line.id, 1)
    await outbox.drain(db)
    assert (await order_row(db, second["order_id"])).status == "closed"
    assert (await group_row(db, gid)).filled == 1
    gone = next(m for m in await members(db, gid) if m.user_id == f2.user_id)
    assert (gone.status, gone.seated_at, gone.refund_reason) == ("left", None, "aftersale")
    await assert_no_fake_members(db)

    await join_paid(client, db, f3, gid, sku)
    back = await join_paid(client, db, f2, gid, sku)  # the same person again, with a new order
    g = await group_row(db, gid)
    assert (g.status, g.filled) == ("succeeded", 3)
    assert (await order_row(db, back["order_id"])).hold_reason is None
    r = await join(client, f4, gid, sku)
    assert r.status_code == 409 and err(r) == "groupbuy.full"
    assert await stock(db, sku) == before - 3
    await assert_no_fake_members(db)
