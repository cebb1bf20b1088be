"""One checkout, one payment: a cart from three suppliers becomes three orders paid by ONE provider transaction
(the sandbox's WeChat-shaped combined payment, 合单支付), allocated to the orders exactly; refunds stay per order
and per line against that one transaction; forged, wrong-amount and replayed combined notifications change
nothing. Real app, real database, the real sandbox provider and its signed notifications."""

from __future__ import annotations

import copy
import json
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from quanzi.kit import outbox, sweeps
from quanzi.kit.clock import clock
from quanzi.orders.models import Checkout, Order, OrderEvent, OrderLine
from quanzi.payments import registry
from quanzi.payments import service as payments
from quanzi.payments.errors import RefundTooLarge
from quanzi.payments.models import CheckoutPayment, Payment, PaymentNotification, Refund
from quanzi.payments.providers import SandboxProvider
from quanzi.shops import service as shops
from tests.commerce._support import count, err, rows
from tests.factories import World, add_supplier, ask_refund, balances, ledger_problems, make_world


def sandbox() -> SandboxProvider:
    provider = registry.get("sandbox")
    assert isinstance(provider, SandboxProvider)
    return provider


async def three_suppliers(db) -> tuple[World, list[int]]:  # noqa: ANN001
    """The world's supplier (apples 29.90 / 49.90), a mango supplier (19.90) and a pear supplier (35.00 /
    12.00), all three on the world's shop shelf. Returns the world and [apple, mango, pear, small pear] SKUs."""
    w = await make_world(db)
    mango = await add_supplier(db, "13600000011", code_prefix="MG", prices=(1990,))
    pear = await add_supplier(db, "13600000012", code_prefix="PR", prices=(3500, 1200), title="库尔勒香梨")
    async with db.write() as s:
        shop = (await shops.shops_by_id(s, [w.shop_id]))[w.shop_id]
        await shops.add_to_shelf(s, shop, mango.product_id)
        await shops.add_to_shelf(s, shop, pear.product_id)
    return w, [w.sku_ids[0], mango.sku_ids[0], pear.sku_ids[0], pear.sku_ids[1]]


async def place_three(client, w: World, skus: list[int], **extra: Any) -> dict[str, Any]:  # noqa: ANN001
    items = [{"sku_id": skus[0], "quantity": 2, "shop_id": w.shop_id},   # 59.80 from the apple supplier
             {"sku_id": skus[1], "quantity": 1, "shop_id": w.shop_id},   # 19.90 from the mango supplier
             {"sku_id": skus[2], "quantity": 1, "shop_id": w.shop_id},   # 35.00 + 2 × 12.00 from the pear supplier
             {"sku_id": skus[3], "quantity": 2, "shop_id": w.shop_id}]
    r = await client.post("/api/orders", json={"address_id": w.address_id, "items": items, **extra},
                          headers=w.fan_headers)
    assert r.status_code == 201, r.text
    return r.json()


async def test_three_suppliers_one_payment_then_a_partial_refund_of_one_line(client, db) -> None:  # noqa: ANN001
    w, skus = await three_suppliers(db)
    placed = await place_three(client, w, skus)
    # Per package (the default): each of the three packages is under the 99-yuan threshold and pays 8 yuan.
    assert len(placed["orders"]) == 3 and placed["shipping_mode"] == "per_package"
    goods = [o["goods_fen"] for o in placed["orders"]]
    assert sorted(goods) == [1990, 5900, 5980]
    assert [o["shipping_fen"] for o in placed["orders"]] == [800, 800, 800]
    assert (placed["goods_fen"], placed["shipping_fen"], placed["total_fen"]) == (13870, 2400, 16270)
    assert {o["checkout_id"] for o in placed["orders"]} == {placed["checkout_id"]}
    cid = placed["checkout_id"]

    # One payment for the whole checkout: one provider transaction with one sub-order per order.
    r = await client.post(f"/api/checkouts/{cid}/pay", json={"provider": "sandbox"}, headers=w.fan_headers)
    assert r.status_code == 200, r.text
    intent = r.json()
    assert intent["amount_fen"] == 16270 and intent["client_params"]["combined"] is True
    out_trade_no = intent["out_trade_no"]
    # Asking again reuses the same attempt (no second transaction at the provider).
    again = await client.post(f"/api/checkouts/{cid}/pay", json={"provider": "sandbox"}, headers=w.fan_headers)
    assert again.json()["out_trade_no"] == out_trade_no
    resource = sandbox().combined_resource(out_trade_no)
    assert resource is not None and len(resource["sub_orders"]) == 3
    assert sum(x["amount"]["total_amount"] for x in resource["sub_orders"]) == 16270

    r = await client.post(f"/api/payments/sandbox/{out_trade_no}/pay", headers=w.fan_headers)
    assert r.json() == {"outcome": "paid"}, r.text

    order_ids = [o["id"] for o in placed["orders"]]
    orders = await rows(db, Order, Order.id.in_(order_ids), order_by=Order.id)
    assert [o.status for o in orders] == ["paid"] * 3
    (checkout,) = await rows(db, Checkout, Checkout.id == cid)
    assert checkout.status == "paid" and checkout.paid_at is not None
    (cp,) = await rows(db, CheckoutPayment, CheckoutPayment.checkout_id == cid)
    assert (cp.status, cp.amount_fen, cp.out_trade_no) == ("succeeded", 16270, out_trade_no)
    shares = await rows(db, Payment, Payment.checkout_payment_id == cp.id, order_by=Payment.order_id)
    # Allocated exactly: each order's share is its total, the shares sum to the one payment.
    assert [(p.order_id, p.amount_fen) for p in shares] == [(o.id, o.total_fen) for o in orders]
    assert sum(p.amount_fen for p in shares) == cp.amount_fen
    assert all(p.status == "succeeded" and p.settled_order for p in shares)
    assert len({p.transaction_id for p in shares}) == 3  # WeChat 合单: each sub-order its own transaction
    assert await count(db, PaymentNotification) == 1
    assert await count(db, Payment) == 3  # no per-order attempts besides the shares

    # Commission for the shop on every line, once (the outbox delivers order.paid for each order).
    await outbox.drain(db)
    lines = await rows(db, OrderLine, OrderLine.order_id.in_(order_ids), order_by=OrderLine.id)
    async with db.read() as s:
        shop = (await shops.shops_by_id(s, [w.shop_id]))[w.shop_id]
    commission = {x.id: x.paid_fen * 1000 // 10_000 for x in lines}  # the default 10 % level-1 rate
    before = await balances(db, shop.owner_id)
    assert before["pending"] == sum(commission.values())
    assert await ledger_problems(db) == []

    # A partial refund: one of the two small pears (12.00) of the pear order, refund-only before shipping.
    pear_order = next(o for o in orders if o.goods_fen == 5900)
    small = next(x for x in lines if x.order_id == pear_order.id and x.sku_id == skus[3])
    await ask_refund(db, w.fan_id, pear_order.id, small.id, 1)
    (refund,) = await rows(db, Refund)
    pear_share = next(p for p in shares if p.order_id == pear_order.id)
    assert (refund.payment_id, refund.order_id, refund.amount_fen, refund.status) == (
        pear_share.id, pear_order.id, 1200, "succeeded")
    # At the provider: refunded against the pear sub-order of the one combined transaction, nothing else.
    assert [sandbox().refunded_fen(p.out_trade_no) for p in shares] == [
        1200 if p.order_id == pear_order.id else 0 for p in shares]
    orders = await rows(db, Order, Order.id.in_(order_ids), order_by=Order.id)
    assert [(o.status, o.refunded_fen) for o in orders] == [
        ("paid", 1200 if o.id == pear_order.id else 0) for o in orders]
    lines = await rows(db, OrderLine, OrderLine.order_id.in_(order_ids), order_by=OrderLine.id)
    assert [(x.refunded_qty, x.refunded_fen) for x in lines] == [
        (1, 1200) if x.id == small.id else (0, 0) for x in lines]
    shares = await rows(db, Payment, Payment.checkout_payment_id == cp.id, order_by=Payment.order_id)
    assert [p.refunded_fen for p in shares] == [1200 if p.order_id == pear_order.id else 0 for p in shares]
    after = await balances(db, shop.owner_id)
    kept = commission[small.id] * (small.paid_fen - 1200) // small.paid_fen
    assert after["pending"] == before["pending"] - (commission[small.id] - kept)
    assert await ledger_problems(db) == []

    # A refund can never exceed what was allocated to the order, although the transaction holds more.
    async with db.write() as s:
        share = await s.get(Payment, pear_share.id)
        with pytest.raises(RefundTooLarge):
            await payments.request_refund(s, share, pear_share.amount_fen - 1200 + 1, reason="test", source="test")
    assert await count(db, Refund) == 1


async def test_forged_wrong_amount_and_replayed_combined_notifications_change_nothing(client, db) -> None:  # noqa: ANN001
    w, skus = await three_suppliers(db)
    placed = await place_three(client, w, skus)
    cid = placed["checkout_id"]
    r = await client.post(f"/api/checkouts/{cid}/pay", json={"provider": "sandbox"}, headers=w.fan_headers)
    out_trade_no, total = r.json()["out_trade_no"], r.json()["amount_fen"]
    resource = sandbox().mark_combined_paid(out_trade_no, total)  # the money arrives at the provider

    async def deliver(headers: dict[str, str], body: bytes):  # noqa: ANN202
        return await client.post("/api/payments/notify/sandbox", content=body, headers=headers)

    async def nothing_changed() -> None:
        assert await count(db, PaymentNotification) == 0
        assert await count(db, Order, Order.checkout_id == cid, Order.status == "pending_payment") == 3
        assert await count(db, OrderEvent, OrderEvent.kind == "paid") == 0

    # A bad signature: the body was changed after signing.
    headers, body = sandbox().notification_of(resource)
    envelope = json.loads(body)
    envelope["summary"] = "forged"
    r = await deliver(headers, json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode())
    assert r.status_code == 400 and r.json()["error"] == "payment.bad_signature"
    # Signed by another key altogether.
    forged = dict(headers, **{"Wechatpay-Signature": sandbox().sign("1", "x", b"other")})
    r = await deliver(forged, body)
    assert r.status_code == 400 and r.json()["error"] == "payment.bad_signature"
    await nothing_changed()

    # Authentic signature, wrong amount: one sub-order one fen more (so the total is wrong too).
    more = copy.deepcopy(resource)
    more["sub_orders"][0]["amount"]["total_amount"] += 1
    r = await deliver(*sandbox().notification_of(more))
    assert r.status_code == 400 and r.json()["error"] == "payment.mismatch"
    # Same total, shifted between sub-orders: each order's share must match too.
    shifted = copy.deepcopy(resource)
    shifted["sub_orders"][0]["amount"]["total_amount"] += 100
    shifted["sub_orders"][1]["amount"]["total_amount"] -= 100
    r = await deliver(*sandbox().notification_of(shifted))
    assert r.status_code == 400 and r.json()["error"] == "payment.mismatch"
    # A sub-order dropped (the total then no longer matches either).
    fewer = copy.deepcopy(resource)
    fewer["sub_orders"].pop()
    r = await deliver(*sandbox().notification_of(fewer))
    assert r.status_code == 400 and r.json()["error"] == "payment.mismatch"
    # Stale: sent 10 minutes ago (a replay window of 5).
    r = await deliver(*sandbox().notification_of(resource, clock.now() - timedelta(minutes=10)))
    assert r.status_code == 400 and r.json()["error"] == "payment.stale_notification"
    await nothing_changed()

    # The genuine one: every order paid once.
    genuine = sandbox().notification_of(resource)
    r = await deliver(*genuine)
    assert r.status_code == 200 and r.json() == {"code": "SUCCESS", "message": "paid"}
    # Replayed as is, and re-sent freshly signed by the provider: acknowledged, nothing applied twice.
    r = await deliver(*genuine)
    assert r.status_code == 200 and r.json()["message"] == "duplicate"
    r = await deliver(*sandbox().notification_of(resource))
    assert r.json()["message"] == "duplicate"
    assert await count(db, PaymentNotification) == 1
    assert await count(db, Order, Order.checkout_id == cid, Order.status == "paid") == 3
    assert await count(db, OrderEvent, OrderEvent.kind == "paid") == 3
    async with db.read() as s:
        sales = (await s.execute(select(func.count()).select_from(Refund))).scalar_one()
    assert sales == 0


async def test_a_late_combined_payment_refunds_the_share_of_a_cancelled_order(client, db) -> None:  # noqa: ANN001
    w, skus = await three_suppliers(db)
    placed = await place_three(client, w, skus)
    cid = placed["checkout_id"]
    r = await client.post(f"/api/checkouts/{cid}/pay", json={"provider": "sandbox"}, headers=w.fan_headers)
    out_trade_no = r.json()["out_trade_no"]
    mango = next(o for o in placed["orders"] if o["goods_fen"] == 1990)
    r = await client.post(f"/api/orders/{mango['id']}/cancel", headers=w.fan_headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"

    # The buyer had the cashier open and pays the whole amount anyway: the mango share comes back.
    r = await client.post(f"/api/payments/sandbox/{out_trade_no}/pay", headers=w.fan_headers)
    assert r.json() == {"outcome": "paid_partly_refunded"}
    await outbox.drain(db)
    orders = {o.id: o for o in await rows(db, Order, Order.checkout_id == cid)}
    assert sorted(o.status for o in orders.values()) == ["cancelled", "paid", "paid"]
    (refund,) = await rows(db, Refund)
    assert (refund.order_id, refund.amount_fen, refund.status, refund.reason) == (
        mango["id"], mango["total_fen"], "succeeded", "order_not_payable")
    share = (await rows(db, Payment, Payment.order_id == mango["id"]))[0]
    assert sandbox().refunded_fen(share.out_trade_no) == mango["total_fen"] and not share.settled_order
    (checkout,) = await rows(db, Checkout, Checkout.id == cid)
    assert checkout.status == "paid"

    # Every order cancelled (the unpaid sweep), then the money arrives: all of it is refunded.
    placed = await place_three(client, w, skus)
    cid = placed["checkout_id"]
    r = await client.post(f"/api/checkouts/{cid}/pay", json={"provider": "sandbox"}, headers=w.fan_headers)
    out_trade_no, total = r.json()["out_trade_no"], r.json()["amount_fen"]
    clock.advance(timedelta(minutes=16))
    await sweeps.run_one(db, "orders.cancel_unpaid")
    (checkout,) = await rows(db, Checkout, Checkout.id == cid)
    assert checkout.status == "cancelled"
    headers, body = sandbox().notification_of(sandbox().mark_combined_paid(out_trade_no, total,
                                                                           now=clock.now() - timedelta(minutes=2)))
    r = await client.post("/api/payments/notify/sandbox", content=body, headers=headers)
    assert r.json()["message"] == "refund_not_payable"
    await outbox.drain(db)
    refunds = await rows(db, Refund, Refund.order_id.in_([o["id"] for o in placed["orders"]]))
    assert sorted(x.amount_fen for x in refunds) == sorted(o["total_fen"] for o in placed["orders"])
    assert sum(x.amount_fen for x in refunds) == total and {x.status for x in refunds} == {"succeeded"}


async def test_single_order_checkouts_and_the_old_per_order_path_still_pay(client, db) -> None:  # noqa: ANN001
    w, skus = await three_suppliers(db)
    r = await client.post("/api/orders", json={"address_id": w.address_id, "items": [
        {"sku_id": skus[1], "quantity": 1, "shop_id": w.shop_id}]}, headers=w.fan_headers)
    placed = r.json()
    (order,) = placed["orders"]
    # A checkout of one order pays that order's own payment (no combined transaction needed).
    r = await client.post(f"/api/checkouts/{placed['checkout_id']}/pay", json={"provider": "sandbox"},
                          headers=w.fan_headers)
    assert r.json()["out_trade_no"].startswith(order["order_no"]) and "combined" not in r.json()["client_params"]
    r = await client.post(f"/api/payments/sandbox/{r.json()['out_trade_no']}/pay", headers=w.fan_headers)
    assert r.json() == {"outcome": "paid"}
    assert await count(db, CheckoutPayment) == 0

    # Paying one order of a split checkout on its own still works; the checkout then pays only the rest.
    placed = await place_three(client, w, skus)
    first = placed["orders"][0]
    r = await client.post(f"/api/orders/{first['id']}/pay", json={"provider": "sandbox"}, headers=w.fan_headers)
    r = await client.post(f"/api/payments/sandbox/{r.json()['out_trade_no']}/pay", headers=w.fan_headers)
    assert r.json() == {"outcome": "paid"}
    r = await client.post(f"/api/checkouts/{placed['checkout_id']}/pay", json={"provider": "sandbox"},
                          headers=w.fan_headers)
    assert r.json()["amount_fen"] == placed["total_fen"] - first["total_fen"]
    r = await client.post(f"/api/payments/sandbox/{r.json()['out_trade_no']}/pay", headers=w.fan_headers)
    assert r.json() == {"outcome": "paid"}
    r = await client.get(f"/api/checkouts/{placed['checkout_id']}", headers=w.fan_headers)
    assert r.json()["status"] == "paid" and {o["status"] for o in r.json()["orders"]} == {"paid"}
    r = await client.post(f"/api/checkouts/{placed['checkout_id']}/pay", json={"provider": "sandbox"},
                          headers=w.fan_headers)
    assert r.status_code == 409 and err(r) == "payment.order_not_payable"


async def test_someone_elses_checkout_is_404(client, db) -> None:  # noqa: ANN001
    from tests.factories import add_fan

    w, skus = await three_suppliers(db)
    placed = await place_three(client, w, skus)
    other = await add_fan(db, "13900000077")
    for method, url in (("get", f"/api/checkouts/{placed['checkout_id']}"),
                        ("post", f"/api/checkouts/{placed['checkout_id']}/pay")):
        kwargs: dict[str, Any] = {"json": {"provider": "sandbox"}} if method == "post" else {}
        r = await getattr(client, method)(url, headers=other.headers, **kwargs)
        assert r.status_code == 404 and err(r) == "order.checkout_not_found"


async def test_a_silent_combined_payment_is_found_by_the_query_sweep(client, db) -> None:  # noqa: ANN001
    w, skus = await three_suppliers(db)
    placed = await place_three(client, w, skus)
    r = await client.post(f"/api/checkouts/{placed['checkout_id']}/pay", json={"provider": "sandbox"},
                          headers=w.fan_headers)
    out_trade_no, total = r.json()["out_trade_no"], r.json()["amount_fen"]
    sandbox().mark_combined_paid(out_trade_no, total)  # paid, but the notification never arrives
    assert await sweeps.run_one(db, "payments.query_silent") == 0  # too early to ask
    clock.advance(timedelta(minutes=4))
    assert await sweeps.run_one(db, "payments.query_silent") == 1
    assert await count(db, Order, Order.checkout_id == placed["checkout_id"], Order.status == "paid") == 3
    (n,) = await rows(db, PaymentNotification)
    assert (n.source, n.outcome, n.amount_fen) == ("query", "paid", total)
    clock.advance(timedelta(minutes=4))
    assert await sweeps.run_one(db, "payments.query_silent") == 0  # settled: never asked again
