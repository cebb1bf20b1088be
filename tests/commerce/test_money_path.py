"""The money path over the JSON API: checkout → sandbox payment → ship → receive → return → refund."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from quanzi.catalog.models import Sku
from quanzi.kit import outbox, sweeps
from quanzi.kit.clock import clock
from quanzi.payments.models import Refund
from tests.factories import make_world


async def _stock(db, sku_id: int) -> int:  # noqa: ANN001
    async with db.read() as s:
        return (await s.execute(select(Sku.stock).where(Sku.id == sku_id))).scalar_one()


async def test_buy_pay_ship_receive_return_refund(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    body = {"address_id": w.address_id, "items": [
        {"sku_id": w.sku_ids[0], "quantity": 2, "shop_id": w.shop_id},
        {"sku_id": w.sku_ids[1], "quantity": 1, "shop_id": w.shop_id},
    ]}
    r = await client.post("/api/orders", json=body, headers={**w.fan_headers, "Idempotency-Key": "k1"})
    assert r.status_code == 201, r.text
    order = r.json()["orders"][0]
    assert order["goods_fen"] == 2990 * 2 + 4990
    assert order["shipping_fen"] == 0  # above the 99-yuan free-shipping threshold
    assert order["shop_id"] == w.shop_id and order["status"] == "pending_payment"
    assert await _stock(db, w.sku_ids[0]) == 98

    r = await client.post(f"/api/orders/{order['id']}/pay", json={"provider": "sandbox"}, headers=w.fan_headers)
    assert r.status_code == 200, r.text
    out_trade_no = r.json()["out_trade_no"]
    r = await client.post(f"/api/payments/sandbox/{out_trade_no}/pay", headers=w.fan_headers)
    assert r.json() == {"outcome": "paid"}
    r = await client.get(f"/api/orders/{order['id']}", headers=w.fan_headers)
    assert r.json()["status"] == "paid"

    r = await client.post(f"/api/supplier/orders/{order['id']}/ship",
                          json={"carrier": "顺丰", "tracking_no": "SF1234567890"}, headers=w.supplier_headers)
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/orders/{order['id']}/receive", headers=w.fan_headers)
    assert r.json()["status"] == "received"

    line = next(x for x in r.json()["lines"] if x["sku_id"] == w.sku_ids[0])
    r = await client.post("/api/aftersales", json={"order_id": order["id"], "line_id": line["id"],
                                                   "kind": "return_refund", "quantity": 1, "reason": "不想要了"},
                          headers=w.fan_headers)
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["amount_fen"] == 2990
    r = await client.post(f"/api/supplier/aftersales/{a['id']}/approve", headers=w.supplier_headers)
    assert r.json()["status"] == "awaiting_return"
    r = await client.post(f"/api/aftersales/{a['id']}/ship-back", json={"carrier": "顺丰", "tracking_no": "SF999888"},
                          headers=w.fan_headers)
    assert r.json()["status"] == "returned"
    r = await client.post(f"/api/supplier/aftersales/{a['id']}/receive-return", headers=w.supplier_headers)
    assert r.json()["status"] == "refunding"
    assert await _stock(db, w.sku_ids[0]) == 99  # restocked

    await outbox.drain(db)  # refund via the provider, then the after-sale closes
    r = await client.get(f"/api/aftersales/{a['id']}", headers=w.fan_headers)
    assert r.json()["status"] == "refunded"
    r = await client.get(f"/api/orders/{order['id']}", headers=w.fan_headers)
    assert r.json()["refunded_fen"] == 2990
    kinds = [e["kind"] for e in r.json()["events"]]
    assert kinds[:4] == ["placed", "paid", "shipped", "received"] and "refunded" in kinds
    async with db.read() as s:
        refunds = list((await s.execute(select(Refund))).scalars())
    assert [(x.amount_fen, x.status) for x in refunds] == [(2990, "succeeded")]

    # After the window closes with nothing open, the order completes.
    clock.advance(timedelta(days=9))
    await sweeps.run_one(db, "orders.complete")
    r = await client.get(f"/api/orders/{order['id']}", headers=w.fan_headers)
    assert r.json()["status"] == "completed"


async def test_unpaid_order_is_cancelled_and_stock_released_once(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, stock=5)
    r = await client.post("/api/orders", json={"address_id": w.address_id, "items": [
        {"sku_id": w.sku_ids[0], "quantity": 3}]}, headers=w.fan_headers)
    oid = r.json()["orders"][0]["id"]
    assert await _stock(db, w.sku_ids[0]) == 2
    clock.advance(timedelta(minutes=16))
    assert await sweeps.run_one(db, "orders.cancel_unpaid") == 1
    assert await sweeps.run_one(db, "orders.cancel_unpaid") == 0
    assert await _stock(db, w.sku_ids[0]) == 5
    r = await client.get(f"/api/orders/{oid}", headers=w.fan_headers)
    assert r.json()["status"] == "cancelled"
