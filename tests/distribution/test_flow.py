"""The distribution money path at service level: share → bind → buy → pending → unlock → withdraw → paid."""

from __future__ import annotations

from datetime import timedelta

from quanzi.distribution import service as distribution
from quanzi.kit import outbox, sweeps
from quanzi.kit.clock import clock
from quanzi.ledger import service as ledger
from quanzi.referrals import service as referrals
from quanzi.kit import sharetokens as tokens
from quanzi.withdrawals import service as withdrawals
from tests.conftest import make_user
from tests.factories import make_world


async def test_share_bind_buy_unlock_withdraw(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(10000, 5000))
    async with db.read() as s:
        keeper = (await __import__("quanzi.shops.service", fromlist=["x"]).public_shop(s, w.shop_id)).owner_id
    new_fan, new_fan_h = await make_user(db, "13900000077")
    async with db.write() as s:
        tok = tokens.verify("test-secret", tokens.issue("test-secret", keeper, "p", w.product_id, clock.now()),
                            clock.now(), 30)
        assert await referrals.bind(s, new_fan, tok, is_new_user=True) == "bound"
        from quanzi.cart import service as cart

        addr = await cart.add_address(s, new_fan, name="李四", phone="13900000077", region="北京", detail="长安街 1 号")
    r = await client.post("/api/orders", json={"address_id": addr.id, "items": [
        {"sku_id": w.sku_ids[0], "quantity": 1}]}, headers=new_fan_h)
    order = r.json()["orders"][0]
    r = await client.post(f"/api/orders/{order['id']}/pay", json={}, headers=new_fan_h)
    r = await client.post(f"/api/payments/sandbox/{r.json()['out_trade_no']}/pay", headers=new_fan_h)
    assert r.json()["outcome"] == "paid"
    await outbox.drain(db)
    async with db.read() as s:
        assert (await ledger.balances(s, keeper))["pending"] == 1000  # 10 % of ¥100
    await client.post(f"/api/supplier/orders/{order['id']}/ship", json={"carrier": "SF", "tracking_no": "SF0001"},
                      headers=w.supplier_headers)
    await client.post(f"/api/orders/{order['id']}/receive", headers=new_fan_h)
    await outbox.drain(db)
    clock.advance(timedelta(days=7))
    await sweeps.run_one(db, "distribution.unlock_commission")
    async with db.read() as s:
        assert (await ledger.balances(s, keeper))["available"] == 0
    clock.advance(timedelta(days=2))
    assert await sweeps.run_one(db, "distribution.unlock_commission") == 1
    async with db.write() as s:
        assert (await ledger.balances(s, keeper))["available"] == 1000
        wd = await withdrawals.request(s, keeper, 1000, "wechat", {"name": "小美", "account": "wx-openid"})
    async with db.write() as s:
        await withdrawals.approve(s, await withdrawals.get(s, wd.id), actor_id=1)
    await outbox.drain(db)
    async with db.read() as s:
        b = await ledger.balances(s, keeper)
        assert (b["available"], b["withdrawing"], b["paid_out"]) == (0, 0, 1000)
        assert (await withdrawals.get(s, wd.id)).status == "paid"
        assert await ledger.check(s) == []
        assert await distribution.earned_since(s, keeper, None) == 1000
