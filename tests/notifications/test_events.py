"""Every notification event, caused by the real flows of its domain, reaches the message centre exactly once —
although each notifications handler fails on its first attempt (after writing) and every handled event is
then delivered a second time."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from quanzi.accounts.models import Role
from quanzi.bargain import service as bargain
from quanzi.flashsale import service as flashsale
from quanzi.kit import sweeps
from quanzi.kit.clock import clock
from quanzi.notifications.models import Notification
from quanzi.orders import service as orders
from quanzi.shops import service as shops
from quanzi.withdrawals import service as withdrawals
from tests.conftest import make_user
from tests.distribution.test_withdrawals import PAYEE, earn
from tests.factories import Fan, ask_refund, buy, lines_of
from tests.groupbuy._support import fans, join_paid, open_paid, setup
from tests.notifications._support import Flaky, deliveries, messages, redeliver_event_handlers, settle


def tally(items: list[Notification]) -> Counter[tuple[int, str]]:
    return Counter((n.user_id, n.kind) for n in items)


async def test_every_event_reaches_the_message_centre_once_despite_failures_and_duplicates(
        app, client, db, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    flaky = Flaky()
    flaky.install(monkeypatch)
    want: Counter[tuple[int, str]] = Counter()

    # Commission available: a sale through a shop, received, unlocked by the sweep on day 8.
    keeper, _ = await make_user(db, "13700000088", nickname="小美")
    async with db.write() as s:
        shop_id = (await shops.open_shop(s, keeper, "小美的店")).id
    await earn(db, shop_id, 10_000)
    want[(keeper, "commission_available")] += 1
    await settle(db)
    first_buyer = next(n.user_id for n in await messages(db) if n.kind == "order_paid")
    want[(first_buyer, "order_paid")] += 1
    want[(first_buyer, "order_shipped")] += 1

    # Withdrawal paid (sandbox wallet payout after approval) and rejected (with a reason).
    _, _operator = await make_user(db, "13800000001", Role.OPERATOR)
    async with db.write() as s:
        w1 = await withdrawals.request(s, keeper, 3000, "alipay", PAYEE)
        await withdrawals.approve(s, w1, actor_id=1)
        w2 = await withdrawals.request(s, keeper, 2000, "bank", PAYEE)
        await withdrawals.reject(s, w2, 1, "收款账户姓名不一致")
    want[(keeper, "withdrawal_paid")] += 1
    want[(keeper, "withdrawal_rejected")] += 1
    await settle(db)

    # Group buy: a group of two succeeds; a lone leader's group fails at its deadline and is refunded.
    w, act = await setup(db, size=2)
    f2, f3 = await fans(db, 2)
    leader = await open_paid(client, db, w, act, w.sku_ids[0])
    await join_paid(client, db, f2, leader["group_id"], w.sku_ids[0])
    await open_paid(client, db, f3, act, w.sku_ids[0])
    for uid in (w.fan_id, f2.user_id, f3.user_id):
        want[(uid, "order_paid")] += 1
    want[(w.fan_id, "groupbuy_succeeded")] += 1
    want[(f2.user_id, "groupbuy_succeeded")] += 1
    clock.advance(timedelta(minutes=61))
    await settle(db)
    assert await sweeps.run_one(db, "groupbuy.expire") == 1
    want[(f3.user_id, "groupbuy_failed")] += 1

    # Orders: paid, shipped (tracking link); after-sales approved → refunded, and rejected.
    fan = Fan(w.fan_id, w.fan_headers, w.address_id)
    shipped = await buy(db, fan, [(w.sku_ids[1], 1)])
    async with db.write() as s:
        await orders.ship(s, await orders.get_order(s, shipped), carrier="顺丰", tracking_no="SF0000000001",
                          actor_id=1)
    refunded = await buy(db, fan, [(w.sku_ids[1], 1)])
    await ask_refund(db, fan.user_id, refunded, (await lines_of(db, refunded))[0].id, 1, decision="approve")
    rejected = await buy(db, fan, [(w.sku_ids[1], 1)])
    await ask_refund(db, fan.user_id, rejected, (await lines_of(db, rejected))[0].id, 1, decision="reject")
    want[(fan.user_id, "order_paid")] += 3
    want[(fan.user_id, "order_shipped")] += 1
    for kind in ("aftersale_approved", "aftersale_refunded", "aftersale_rejected"):
        want[(fan.user_id, kind)] += 1

    # Bargain: two friends cut it to the floor.
    async with db.write() as s:
        a = await bargain.create_activity(
            s, title="砍价苹果", product_id=w.product_id, sku_id=w.sku_ids[1], start_price_fen=4990,
            floor_price_fen=100, helpers_needed=2, cut_mode="random", cut_min_fen=100, cut_max_fen=3000,
            first_cut_fen=500, starts_at=clock.now() - timedelta(hours=1), ends_at=clock.now() + timedelta(days=3))
        b = await bargain.launch(s, fan.user_id, a.id)
    for phone in ("13911110001", "13911110002"):
        helper, _ = await make_user(db, phone)
        async with db.write() as s:
            await bargain.help_cut(s, helper, b.id)
    want[(fan.user_id, "bargain_floor")] += 1

    # Flash sale: a fan waiting for the next batch is told once it is open.
    async with db.write() as s:
        await flashsale.join_waitlist(s, f2.user_id, w.product_id)
        assert await flashsale.notify_waitlist(s, w.product_id) == 1
    want[(f2.user_id, "flash_next_batch")] += 1

    await settle(db)
    got = tally(await messages(db))
    assert got == want
    kinds = {kind for _uid, kind in want}
    assert kinds == {"order_paid", "order_shipped", "groupbuy_succeeded", "groupbuy_failed", "bargain_floor",
                     "flash_next_batch", "aftersale_approved", "aftersale_rejected", "aftersale_refunded",
                     "commission_available", "withdrawal_paid", "withdrawal_rejected"}
    # Each handler really failed once after writing (and was rolled back), for every message it made.
    assert len(flaky.failed) >= sum(want.values())

    sent_before = [(d.notification_id, d.channel, d.status) for d in await deliveries(db)]
    assert await redeliver_event_handlers(db) >= sum(want.values())
    await settle(db)
    assert tally(await messages(db)) == want
    assert [(d.notification_id, d.channel, d.status) for d in await deliveries(db)] == sent_before

    # What the messages say: the shipped order carries its tracking link, the failed group its refund.
    by_kind = {n.kind: n for n in await messages(db, fan.user_id)}
    ship_msg = by_kind["order_shipped"]
    assert "SF0000000001" in ship_msg.body and ship_msg.data["tracking_url"].endswith("SF0000000001")
    assert ship_msg.link == f"/orders/{shipped}"
    (failed,) = [n for n in await messages(db, f3.user_id) if n.kind == "groupbuy_failed"]
    assert "退" in failed.body and "¥" in failed.body
    (rej,) = [n for n in await messages(db, keeper) if n.kind == "withdrawal_rejected"]
    assert "收款账户姓名不一致" in rej.body and "¥20.00" in rej.body
