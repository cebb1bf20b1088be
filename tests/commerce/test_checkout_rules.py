"""Checkout and order-lifecycle rules: server-side prices, strict input, stock all-or-nothing, shipping fee,
snapshots, one order per (supplier, shop), the unpaid sweep under contention, the state machine, and the
automatic receipt / completion sweeps."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update

from quanzi.catalog import service as catalog
from quanzi.catalog.models import Product, Sku, StockMovement
from quanzi.kit import sweeps
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.idempotency import IdempotencyKey
from quanzi.orders.models import Order, OrderEvent, OrderLine
from quanzi.policy import service as policy
from quanzi.policy.service import CommercePolicy
from tests.commerce._support import (
    ask,
    count,
    err,
    get_order,
    pay,
    place,
    place_one,
    receive,
    rows,
    ship,
    stock,
)
from tests.factories import add_shop, add_supplier, make_world


async def _nothing_written(db: Database, sku_ids: list[int], stock_each: int) -> None:
    assert await count(db, Order) == 0
    assert await count(db, OrderLine) == 0
    assert await count(db, OrderEvent) == 0
    assert await count(db, StockMovement, StockMovement.reason != "initial") == 0
    assert await count(db, IdempotencyKey) == 0
    for sku_id in sku_ids:
        assert await stock(db, sku_id) == stock_each


async def _set_policy(db: Database, **values: Any) -> None:
    async with db.write() as s:
        await policy.put(s, CommercePolicy, values, None)


# --- prices come from the server -----------------------------------------------------------------

async def test_wrong_expected_total_is_refused_and_nothing_is_written(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    items = [{"sku_id": w.sku_ids[0], "quantity": 2}, {"sku_id": w.sku_ids[1], "quantity": 1}]
    right = 2990 * 2 + 4990  # above the free-shipping threshold: no shipping fee
    for wrong in (right - 1, right + 1, 0):
        r = await place(client, {**w.fan_headers, "Idempotency-Key": f"k-{wrong}"}, w.address_id, items,
                        expected_total_fen=wrong)
        assert r.status_code == 409, r.text
        assert err(r) == "order.price_changed"
        assert r.json()["error"]["detail"] == {"total_fen": right, "expected_fen": wrong}
    await _nothing_written(db, w.sku_ids, 10)

    # The refused attempt did not burn its idempotency key: the corrected retry goes through.
    r = await place(client, {**w.fan_headers, "Idempotency-Key": f"k-{right - 1}"}, w.address_id, items,
                    expected_total_fen=right)
    assert r.status_code == 201, r.text
    assert r.json()["total_fen"] == right


@pytest.mark.parametrize("extra", [
    {"total_fen": 1},
    {"price_fen": 1},
    {"discount_fen": 5000},
    {"shipping_fen": 0},
])
async def test_client_sent_amounts_at_top_level_are_rejected(client, db, extra) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    r = await place(client, w.fan_headers, w.address_id, [{"sku_id": w.sku_ids[0], "quantity": 1}], **extra)
    assert r.status_code == 422, r.text
    assert err(r) == "request.invalid"
    await _nothing_written(db, w.sku_ids, 10)


@pytest.mark.parametrize("field", ["price_fen", "unit_price_fen", "total_fen", "paid_fen"])
async def test_client_sent_amounts_on_items_are_rejected(client, db, field) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    r = await place(client, w.fan_headers, w.address_id, [{"sku_id": w.sku_ids[0], "quantity": 1, field: 1}])
    assert r.status_code == 422, r.text
    assert err(r) == "request.invalid"
    await _nothing_written(db, w.sku_ids, 10)


@pytest.mark.parametrize("quantity", [-1, 0, True, False, 1.5, 0.5, "2", 10**12, None, [1]])
async def test_quantity_must_be_a_strict_positive_int(client, db, quantity) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    r = await place(client, w.fan_headers, w.address_id, [
        {"sku_id": w.sku_ids[1], "quantity": 1},  # a valid line next to the bad one: still nothing written
        {"sku_id": w.sku_ids[0], "quantity": quantity},
    ])
    assert r.status_code == 422, r.text
    assert err(r) == "request.invalid"
    assert any(f["loc"][-1] == "quantity" for f in r.json()["error"]["detail"]["fields"])
    await _nothing_written(db, w.sku_ids, 10)


# --- stock ---------------------------------------------------------------------------------------

async def test_out_of_stock_reserves_nothing_at_all(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, stock=5)
    # sku 1 has plenty and comes first; sku 0 has 5 and 6 are wanted: the whole checkout is refused.
    r = await place(client, w.fan_headers, w.address_id, [
        {"sku_id": w.sku_ids[1], "quantity": 3}, {"sku_id": w.sku_ids[0], "quantity": 6}])
    assert r.status_code == 409, r.text
    assert err(r) == "catalog.out_of_stock"
    await _nothing_written(db, w.sku_ids, 5)

    # Exactly what is left is fine, and then the next unit is refused.
    r = await place(client, w.fan_headers, w.address_id, [
        {"sku_id": w.sku_ids[1], "quantity": 3}, {"sku_id": w.sku_ids[0], "quantity": 5}])
    assert r.status_code == 201, r.text
    assert await stock(db, w.sku_ids[0]) == 0 and await stock(db, w.sku_ids[1]) == 2
    r = await place(client, w.fan_headers, w.address_id, [{"sku_id": w.sku_ids[0], "quantity": 1}])
    assert r.status_code == 409 and err(r) == "catalog.out_of_stock"
    assert await count(db, Order) == 1
    assert await stock(db, w.sku_ids[0]) == 0


async def test_unpublished_inactive_or_unknown_sku_is_refused(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    async with db.write() as s:
        await s.execute(update(Sku).where(Sku.id == w.sku_ids[1]).values(is_active=False))
    r = await place(client, w.fan_headers, w.address_id, [{"sku_id": w.sku_ids[1], "quantity": 1}])
    assert r.status_code == 409 and err(r) == "catalog.sku_unavailable", r.text

    r = await place(client, w.fan_headers, w.address_id, [{"sku_id": 999_999, "quantity": 1}])
    assert r.status_code == 409 and err(r) == "catalog.sku_unavailable", r.text

    async with db.write() as s:
        product = await s.get(Product, w.product_id)
        await catalog.set_status(s, product, "draft")
    r = await place(client, w.fan_headers, w.address_id, [{"sku_id": w.sku_ids[0], "quantity": 1}])
    assert r.status_code == 409 and err(r) == "catalog.sku_unavailable", r.text
    await _nothing_written(db, w.sku_ids, 10)


# --- shipping fee --------------------------------------------------------------------------------

async def test_shipping_fee_below_at_and_above_the_threshold(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(2500, 4990))
    await _set_policy(db, shipping_flat_fen=600, free_shipping_threshold_fen=5000)

    async def quote(items: list[dict[str, Any]]) -> tuple[int, int, int]:
        r = await place(client, w.fan_headers, w.address_id, items)
        assert r.status_code == 201, r.text
        (o,) = r.json()["orders"]
        assert o["total_fen"] == o["goods_fen"] + o["shipping_fen"] == r.json()["total_fen"]
        return o["goods_fen"], o["shipping_fen"], o["total_fen"]

    assert await quote([{"sku_id": w.sku_ids[1], "quantity": 1}]) == (4990, 600, 5590)  # 1 fen below
    assert await quote([{"sku_id": w.sku_ids[0], "quantity": 2}]) == (5000, 0, 5000)  # exactly at
    assert await quote([{"sku_id": w.sku_ids[0], "quantity": 1}, {"sku_id": w.sku_ids[1], "quantity": 1}]) == (
        7490, 0, 7490)  # above

    # The expected total the buyer saw includes the fee; a threshold of 0 means "never free".
    await _set_policy(db, free_shipping_threshold_fen=0, shipping_flat_fen=1200)
    r = await place(client, w.fan_headers, w.address_id, [{"sku_id": w.sku_ids[0], "quantity": 2}],
                    expected_total_fen=5000)
    assert r.status_code == 409 and err(r) == "order.price_changed"
    r = await place(client, w.fan_headers, w.address_id, [{"sku_id": w.sku_ids[0], "quantity": 2}],
                    expected_total_fen=6200)
    assert r.status_code == 201, r.text


# --- snapshots -----------------------------------------------------------------------------------

async def test_order_lines_snapshot_price_cost_and_title(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    order = await place_one(client, w.fan_headers, w.address_id, w.sku_ids[0], quantity=3)
    (line,) = order["lines"]
    assert (line["unit_price_fen"], line["paid_fen"], line["title"]) == (2990, 8970, "云南高原苹果")
    async with db.write() as s:
        await catalog.set_price(s, w.sku_ids[0], 3990, actor_id=w.supplier_user)
        await s.execute(update(Sku).where(Sku.id == w.sku_ids[0]).values(cost_fen=2500, label="改了"))
        product = await s.get(Product, w.product_id)
        await catalog.update_product(s, product, title="改名的苹果")

    again = await get_order(client, w.fan_headers, order["id"])
    assert again["total_fen"] == order["total_fen"] and again["goods_fen"] == 8970
    (line2,) = again["lines"]
    assert (line2["unit_price_fen"], line2["paid_fen"], line2["title"], line2["sku_label"]) == (
        2990, 8970, "云南高原苹果", line["sku_label"])
    (db_line,) = await rows(db, OrderLine, OrderLine.order_id == order["id"])
    assert db_line.unit_cost_fen == 2990 // 2  # the cost at placement, not the new 2500

    # A new order uses the new price.
    new = await place_one(client, w.fan_headers, w.address_id, w.sku_ids[0], quantity=3)
    assert new["lines"][0]["unit_price_fen"] == 3990 and new["goods_fen"] == 11970


# --- one order per (supplier, shop) ---------------------------------------------------------------

async def test_checkout_splits_one_order_per_supplier_and_shop(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    b = await add_supplier(db, "13700000011", code_prefix="MGO", prices=(1990, 3990))
    shop_b, _ = await add_shop(db, "13700000012", [w.product_id, b.product_id])
    async with db.write() as s:  # a shop is credited only for products on its shelf
        from quanzi.shops import service as shops_service

        await shops_service.add_to_shelf(s, await shops_service.public_shop(s, w.shop_id), b.product_id)
    r = await place(client, w.fan_headers, w.address_id, [
        {"sku_id": w.sku_ids[0], "quantity": 1, "shop_id": w.shop_id},
        {"sku_id": w.sku_ids[1], "quantity": 2, "shop_id": shop_b},
        {"sku_id": b.sku_ids[0], "quantity": 1, "shop_id": w.shop_id},
        {"sku_id": b.sku_ids[1], "quantity": 3},
    ])
    assert r.status_code == 201, r.text
    out = r.json()
    orders = {(o["supplier_id"], o["shop_id"]): o for o in out["orders"]}
    assert set(orders) == {(w.supplier_id, w.shop_id), (w.supplier_id, shop_b), (b.supplier_id, w.shop_id),
                           (b.supplier_id, None)}
    expect = {  # goods, shipping (flat 800 below 9900)
        (w.supplier_id, w.shop_id): (2990, 800), (w.supplier_id, shop_b): (9980, 0),
        (b.supplier_id, w.shop_id): (1990, 800), (b.supplier_id, None): (11970, 0),
    }
    for key, (goods, shipping) in expect.items():
        o = orders[key]
        assert (o["goods_fen"], o["shipping_fen"], o["total_fen"]) == (goods, shipping, goods + shipping)
        assert len(o["lines"]) == 1
        assert o["status"] == "pending_payment"
    assert out["total_fen"] == sum(g + s for g, s in expect.values())
    placed = await rows(db, Order)
    assert len(placed) == 4 and len({o.checkout_id for o in placed}) == 1
    assert len({o.order_no for o in placed}) == 4

    # One SKU listed twice (even for two shops) must be merged by the client.
    r = await place(client, w.fan_headers, w.address_id, [
        {"sku_id": w.sku_ids[0], "quantity": 1, "shop_id": w.shop_id},
        {"sku_id": w.sku_ids[0], "quantity": 1, "shop_id": shop_b}])
    assert r.status_code == 422 and err(r) == "order.duplicate_sku"


# --- the unpaid-order sweep under contention --------------------------------------------------------

async def _cancel_state(db: Database, order_id: int) -> tuple[str, int, int]:
    (o,) = await rows(db, Order, Order.id == order_id)
    cancelled = await count(db, OrderEvent, OrderEvent.order_id == order_id, OrderEvent.to_status == "cancelled")
    lines = await rows(db, OrderLine, OrderLine.order_id == order_id)
    releases = await count(db, StockMovement, StockMovement.reason == "release",
                           StockMovement.ref.in_([f"line:{x.id}" for x in lines]))
    return o.status, cancelled, releases


async def test_two_concurrent_sweeps_cancel_each_order_once(client, db, db_url) -> None:  # noqa: ANN001
    w = await make_world(db, stock=20)
    clock.freeze()  # the 1-second margins below must not depend on how fast a loaded machine places orders
    ids = []
    for _ in range(5):
        r = await place(client, w.fan_headers, w.address_id, [
            {"sku_id": w.sku_ids[0], "quantity": 2}, {"sku_id": w.sku_ids[1], "quantity": 1}])
        assert r.status_code == 201, r.text
        ids.append(r.json()["orders"][0]["id"])
    assert await stock(db, w.sku_ids[0]) == 10 and await stock(db, w.sku_ids[1]) == 15

    clock.advance(timedelta(minutes=14, seconds=59))
    assert await sweeps.run_one(db, "orders.cancel_unpaid") == 0  # not yet due
    clock.advance(timedelta(seconds=2))
    other = Database(db_url)  # a second worker with its own connection pool
    try:
        a, b = await asyncio.gather(sweeps.run_one(db, "orders.cancel_unpaid"),
                                    sweeps.run_one(other, "orders.cancel_unpaid"))
    finally:
        await other.dispose()
    assert a + b == 5, (a, b)
    for oid in ids:
        assert await _cancel_state(db, oid) == ("cancelled", 1, 2)
    assert await stock(db, w.sku_ids[0]) == 20 and await stock(db, w.sku_ids[1]) == 20
    assert await sweeps.run_one(db, "orders.cancel_unpaid") == 0
    assert await stock(db, w.sku_ids[0]) == 20


async def test_sweeps_and_buyer_cancel_race_releases_stock_once(client, db, db_url) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    oid = (await place_one(client, w.fan_headers, w.address_id, w.sku_ids[0], quantity=3))["id"]
    later = (await place_one(client, w.fan_headers, w.address_id, w.sku_ids[1], quantity=1))["id"]
    async with db.write() as s:  # the second order was placed later: not due yet
        await s.execute(update(Order).where(Order.id == later).values(pay_deadline=clock.now() + timedelta(hours=1)))
    clock.advance(timedelta(minutes=16))
    other = Database(db_url)
    try:
        a, b, r = await asyncio.gather(
            sweeps.run_one(db, "orders.cancel_unpaid"),
            sweeps.run_one(other, "orders.cancel_unpaid"),
            client.post(f"/api/orders/{oid}/cancel", headers=w.fan_headers),
        )
    finally:
        await other.dispose()
    buyer_won = r.status_code == 200
    if not buyer_won:
        assert r.status_code == 409 and err(r) == "state.illegal_transition", r.text
    assert a + b + int(buyer_won) == 1, (a, b, r.status_code)
    assert await _cancel_state(db, oid) == ("cancelled", 1, 1)
    assert await stock(db, w.sku_ids[0]) == 10
    assert (await get_order(client, w.fan_headers, later))["status"] == "pending_payment"
    assert await stock(db, w.sku_ids[1]) == 9

    # Cancelling again is an illegal transition and changes nothing.
    r = await client.post(f"/api/orders/{oid}/cancel", headers=w.fan_headers)
    assert r.status_code == 409 and err(r) == "state.illegal_transition"
    assert await stock(db, w.sku_ids[0]) == 10


async def test_a_paid_order_is_never_swept(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    oid = (await place_one(client, w.fan_headers, w.address_id, w.sku_ids[0], quantity=2))["id"]
    await pay(client, w.fan_headers, oid)
    clock.advance(timedelta(minutes=30))
    assert await sweeps.run_one(db, "orders.cancel_unpaid") == 0
    assert (await get_order(client, w.fan_headers, oid))["status"] == "paid"
    assert await stock(db, w.sku_ids[0]) == 8


# --- the state machine ---------------------------------------------------------------------------

async def test_illegal_transitions_are_409_and_change_nothing(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    oid = (await place_one(client, w.fan_headers, w.address_id, w.sku_ids[0]))["id"]

    async def refused(r) -> None:  # noqa: ANN001
        assert r.status_code == 409, r.text
        assert err(r) == "state.illegal_transition"

    await refused(await ship(client, w.supplier_headers, oid))  # ship an unpaid order
    await refused(await receive(client, w.fan_headers, oid))  # receive an unpaid order
    assert (await get_order(client, w.fan_headers, oid))["status"] == "pending_payment"

    await pay(client, w.fan_headers, oid)
    await refused(await receive(client, w.fan_headers, oid))  # receive an unshipped order
    await refused(await client.post(f"/api/orders/{oid}/cancel", headers=w.fan_headers))  # cancel a paid order
    o = await get_order(client, w.fan_headers, oid)
    assert o["status"] == "paid" and o["received_at"] is None
    assert await stock(db, w.sku_ids[0]) == 99  # the paid order's stock was not released

    assert (await ship(client, w.supplier_headers, oid)).status_code == 200
    await refused(await ship(client, w.supplier_headers, oid))  # ship twice
    await refused(await client.post(f"/api/orders/{oid}/cancel", headers=w.fan_headers))
    assert (await receive(client, w.fan_headers, oid)).status_code == 200
    await refused(await receive(client, w.fan_headers, oid))  # receive twice
    events = [(e["from_status"], e["to_status"]) for e in (await get_order(client, w.fan_headers, oid))["events"]
              if e["to_status"] is not None]
    assert events == [(None, "pending_payment"), ("pending_payment", "paid"), ("paid", "shipped"),
                      ("shipped", "received")]


# --- automatic receipt and completion -----------------------------------------------------------

async def test_auto_receive_after_n_days_and_completion_only_without_open_aftersale(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    await _set_policy(db, auto_receive_days=3)
    clock.freeze()
    ids = []
    for _ in range(2):
        oid = (await place_one(client, w.fan_headers, w.address_id, w.sku_ids[1], quantity=2))["id"]
        await pay(client, w.fan_headers, oid)
        assert (await ship(client, w.supplier_headers, oid)).status_code == 200
        ids.append(oid)
    quiet, disputed = ids

    clock.advance(timedelta(days=3) - timedelta(seconds=1))
    assert await sweeps.run_one(db, "orders.auto_receive") == 0
    clock.advance(timedelta(seconds=1))
    assert await sweeps.run_one(db, "orders.auto_receive") == 2
    assert await sweeps.run_one(db, "orders.auto_receive") == 0
    for oid in ids:
        o = await get_order(client, w.fan_headers, oid)
        assert o["status"] == "received" and o["return_deadline"] is not None
        assert [e["kind"] for e in o["events"]][-1] == "auto_received"

    line = (await get_order(client, w.fan_headers, disputed))["lines"][0]
    r = await ask(client, w.fan_headers, disputed, line["id"], 1, kind="return_refund")
    assert r.status_code == 201, r.text
    aftersale_id = r.json()["id"]

    clock.advance(timedelta(days=9))  # past the 7-day window counted from the day after receipt
    assert await sweeps.run_one(db, "orders.complete") == 1
    assert (await get_order(client, w.fan_headers, quiet))["status"] == "completed"
    assert (await get_order(client, w.fan_headers, disputed))["status"] == "received"  # after-sale still open

    r = await client.post(f"/api/supplier/aftersales/{aftersale_id}/reject", json={"reason": "已超出范围"},
                          headers=w.supplier_headers)
    assert r.status_code == 200, r.text
    assert await sweeps.run_one(db, "orders.complete") == 1
    assert (await get_order(client, w.fan_headers, disputed))["status"] == "completed"
    assert await sweeps.run_one(db, "orders.complete") == 0


async def test_naming_a_shop_that_does_not_carry_the_product_is_refused(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    b = await add_supplier(db, "13700000011", code_prefix="MGO", prices=(1990, 3990))
    r = await place(client, w.fan_headers, w.address_id, [{"sku_id": b.sku_ids[0], "quantity": 1,
                                                           "shop_id": w.shop_id}])
    assert r.status_code == 404 and r.json()["error"]["code"] == "shop.product_not_on_shelf"
