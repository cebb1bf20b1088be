"""Groups whose time ran out (sweep `groupbuy.expire`, clock moved): failed → every paying member refunded in
full through the provider, orders closed, stock restored, no commission; honest completion only at or above the
configured fill ratio, marked as such, with no invented members (compliance C7)."""

from __future__ import annotations

from datetime import timedelta

from quanzi.accounts.models import Role
from quanzi.distribution.models import Commission
from quanzi.groupbuy.models import GroupMember
from quanzi.kit import outbox, sweeps
from quanzi.kit.clock import clock
from quanzi.payments import registry
from quanzi.payments.models import Payment
from quanzi.payments.providers import SandboxProvider
from tests.commerce._support import count, pay, rows, ship, stock
from tests.conftest import make_user
from tests.factories import bind_via_token, ledger_problems
from tests.groupbuy._support import (
    assert_no_fake_members,
    fans,
    group_row,
    join,
    join_paid,
    members,
    open_paid,
    order_row,
    setup,
)


async def _refunded_at_provider(db, order_id: int) -> int:  # noqa: ANN001
    sandbox = registry.get("sandbox")
    assert isinstance(sandbox, SandboxProvider)
    return sum(sandbox.refunded_fen(p.out_trade_no) for p in await rows(db, Payment, Payment.order_id == order_id))


async def _keeper(db, w) -> int:  # noqa: ANN001
    from sqlalchemy import select

    from quanzi.shops.models import Shop

    async with db.read() as s:
        return (await s.execute(select(Shop.owner_id).where(Shop.id == w.shop_id))).scalar_one()


async def test_expired_group_fails_everyone_refunded_stock_back_no_commission(app, client, db) -> None:  # noqa: ANN001
    w, act = await setup(db, size=3, commission_enabled=True, leader_commission_bp=1000)
    sku = w.sku_ids[0]
    f2, f3 = await fans(db, 2)
    keeper = await _keeper(db, w)
    for fan_id in (w.fan_id, f2.user_id):  # both bound to a distributor: commission would be due on success
        assert await bind_via_token(db, fan_id, keeper) == "bound"
    before = await stock(db, sku)
    leader = await open_paid(client, db, w, act, sku, qty=2)
    second = await join_paid(client, db, f2, leader["group_id"], sku)
    unpaid = (await join(client, f3, leader["group_id"], sku)).json()
    gid = leader["group_id"]
    assert await stock(db, sku) == before - 4

    clock.advance(timedelta(minutes=59))
    assert await sweeps.run_one(db, "groupbuy.expire") == 0  # not yet
    clock.advance(timedelta(minutes=2))
    assert await sweeps.run_one(db, "groupbuy.expire") == 1
    await outbox.drain(db)

    g = await group_row(db, gid)
    assert (g.status, g.filled, g.completed_by_platform) == ("failed", 2, False)
    for placed in (leader, second):
        o = await order_row(db, placed["order_id"])
        assert (o.status, o.refunded_fen) == ("closed", o.total_fen)
        assert await _refunded_at_provider(db, placed["order_id"]) == o.total_fen
        r = await ship(client, w.supplier_headers, placed["order_id"])
        assert r.status_code == 409
    assert (await order_row(db, unpaid["order_id"])).status == "cancelled"
    by_order = {m.order_id: m for m in await members(db, gid)}
    assert by_order[leader["order_id"]].status == by_order[second["order_id"]].status == "refunded"
    assert by_order[leader["order_id"]].refund_reason == "group_failed"
    assert by_order[unpaid["order_id"]].status == "cancelled"
    assert await stock(db, sku) == before
    assert await count(db, Commission) == 0
    assert await ledger_problems(db) == []
    await assert_no_fake_members(db)
    assert await sweeps.run_one(db, "groupbuy.expire") == 0
    assert await outbox.drain(db) == 0  # nothing more: never refunded twice
    _, op = await make_user(db, "13700000009", Role.OPERATOR)
    st = (await client.get(f"/api/groupbuy/activities/{act}/stats", headers=op)).json()
    paid_total = sum([(await order_row(db, p["order_id"])).total_fen for p in (leader, second)])
    assert (st["groups_failed"], st["refunds"], st["refunds_pending"], st["refunded_fen"]) == (1, 2, 0, paid_total)
    assert await _refunded_at_provider(db, leader["order_id"]) == (await order_row(db, leader["order_id"])).total_fen

    # The people are free again: the leader may open a new group in the same activity.
    r = await client.post(f"/api/groupbuy/activities/{act}/open", headers=w.fan_headers,
                          json={"sku_id": sku, "quantity": 1, "address_id": w.address_id})
    assert r.status_code == 201, r.text


async def test_payment_arriving_after_the_group_failed_is_refunded(app, client, db) -> None:  # noqa: ANN001
    """Paid just before the deadline, but the sweep settled the group before the payment's event was
    handled: the seat is gone, so is the money — back to the payer."""
    w, act = await setup(db, size=3)
    sku = w.sku_ids[0]
    (f2,) = await fans(db, 1)
    leader = await open_paid(client, db, w, act, sku)
    clock.advance(timedelta(minutes=50))
    late = (await join(client, f2, leader["group_id"], sku)).json()
    clock.advance(timedelta(minutes=9))
    await pay(client, f2.headers, late["order_id"])  # paid in time; its order.paid event is not handled yet
    clock.advance(timedelta(minutes=2))
    assert await sweeps.run_one(db, "groupbuy.expire") == 1
    await outbox.drain(db)
    o = await order_row(db, late["order_id"])
    assert (o.status, o.refunded_fen) == ("closed", o.total_fen)
    assert await _refunded_at_provider(db, late["order_id"]) == o.total_fen
    m = next(x for x in await members(db, leader["group_id"]) if x.order_id == late["order_id"])
    assert (m.status, m.refund_reason, m.seated_at) == ("refunded", "group_closed", None)
    assert (await group_row(db, leader["group_id"])).filled == 1
    await assert_no_fake_members(db)


async def test_honest_completion_at_or_above_the_ratio(app, client, db) -> None:  # noqa: ANN001
    w, act = await setup(db, size=4, complete_ratio_bp=5000, leader_commission_bp=1000)
    sku = w.sku_ids[0]
    (f2,) = await fans(db, 1)
    leader = await open_paid(client, db, w, act, sku)
    second = await join_paid(client, db, f2, leader["group_id"], sku)
    gid = leader["group_id"]
    clock.advance(timedelta(minutes=61))
    assert await sweeps.run_one(db, "groupbuy.expire") == 1
    await outbox.drain(db)

    g = await group_row(db, gid)
    assert (g.status, g.completed_by_platform, g.filled, g.seats) == ("succeeded", True, 2, 4)
    assert await count(db, GroupMember, GroupMember.group_id == gid) == 2  # nobody invented
    shown = (await client.get(f"/api/groupbuy/groups/{gid}")).json()
    assert shown["completed_by_platform"] is True and shown["status"] == "succeeded"
    assert [m["nickname"] for m in shown["members"]] == ["粉丝", "团友1"] and shown["filled"] == 2
    for placed in (leader, second):
        assert (await order_row(db, placed["order_id"])).hold_reason is None
        assert (await ship(client, w.supplier_headers, placed["order_id"])).status_code == 200
    # The leader's reward: 10% of what the real members paid for goods, booked as level 0.
    rewards = await rows(db, Commission, Commission.level == 0)
    assert sorted(c.amount_fen for c in rewards) == [199, 199] and {c.beneficiary_id for c in rewards} == {w.fan_id}
    assert await ledger_problems(db) == []
    await assert_no_fake_members(db)


async def test_below_the_ratio_or_a_lone_leader_fails(app, client, db) -> None:  # noqa: ANN001
    w, act = await setup(db, size=4, complete_ratio_bp=7500)
    sku = w.sku_ids[0]
    f2, f3 = await fans(db, 2)
    below = await open_paid(client, db, w, act, sku)
    await join_paid(client, db, f2, below["group_id"], sku)  # 2 of 4 = 50% < 75%
    async with db.write() as s:  # a 2-person activity completing at 50%: one leader alone is 50% too
        from quanzi.groupbuy import service

        pair = await service.create_activity(
            s, title="两人团", product_id=w.product_id, skus=[(sku, 1990)], group_size=2, time_limit_minutes=60,
            starts_at=clock.now() - timedelta(hours=1), ends_at=clock.now() + timedelta(days=1), complete_ratio_bp=5000)
        pair_id = pair.id
    alone = await open_paid(client, db, f3, pair_id, sku)
    clock.advance(timedelta(minutes=61))
    assert await sweeps.run_one(db, "groupbuy.expire") == 2
    await outbox.drain(db)
    for placed in (below, alone):
        g = await group_row(db, placed["group_id"])
        assert (g.status, g.completed_by_platform) == ("failed", False)
    assert await count(db, GroupMember, GroupMember.status == "refunded") == 3
    await assert_no_fake_members(db)
