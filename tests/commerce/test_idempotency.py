"""Idempotency-Key on checkout: same key + same body → the same answer and one order; same key + another
body → 409; concurrent duplicates → one order; keys are scoped per user."""

from __future__ import annotations

import asyncio

from quanzi.catalog.models import StockMovement
from quanzi.kit.idempotency import IdempotencyKey
from quanzi.orders.models import Order
from tests.commerce._support import count, err, place, rows, stock
from tests.factories import add_fan, make_world


def _items(w) -> list[dict]:  # noqa: ANN001
    return [{"sku_id": w.sku_ids[0], "quantity": 2, "shop_id": w.shop_id}, {"sku_id": w.sku_ids[1], "quantity": 1}]


async def test_same_key_same_body_replays_the_same_answer(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    h = {**w.fan_headers, "Idempotency-Key": "checkout-1"}
    first = await place(client, h, w.address_id, _items(w), note="放门口")
    assert first.status_code == 201, first.text
    for _ in range(3):
        again = await place(client, h, w.address_id, _items(w), note="放门口")
        assert again.status_code == 201, again.text
        assert again.json() == first.json()
    assert await count(db, Order) == 2  # one checkout: two orders (one per shop), placed once
    assert await stock(db, w.sku_ids[0]) == 8 and await stock(db, w.sku_ids[1]) == 9
    assert await count(db, StockMovement, StockMovement.reason == "reserve") == 2

    # Without a key, the same body places a new checkout (the key is what makes a retry safe).
    r = await place(client, w.fan_headers, w.address_id, _items(w), note="放门口")
    assert r.status_code == 201 and r.json()["checkout_id"] != first.json()["checkout_id"]
    assert await count(db, Order) == 4


async def test_same_key_with_another_body_is_409(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    h = {**w.fan_headers, "Idempotency-Key": "checkout-2"}
    assert (await place(client, h, w.address_id, _items(w))).status_code == 201
    for changed in (
        [{"sku_id": w.sku_ids[0], "quantity": 3, "shop_id": w.shop_id}, {"sku_id": w.sku_ids[1], "quantity": 1}],
        [{"sku_id": w.sku_ids[0], "quantity": 2}, {"sku_id": w.sku_ids[1], "quantity": 1}],
    ):
        r = await place(client, h, w.address_id, changed)
        assert r.status_code == 409, r.text
        assert err(r) == "idempotency.key_reused"
    r = await place(client, h, w.address_id, _items(w), note="另一个备注")
    assert r.status_code == 409 and err(r) == "idempotency.key_reused"
    assert await count(db, Order) == 2
    assert await stock(db, w.sku_ids[0]) == 8


async def test_ten_concurrent_requests_with_one_key_place_one_checkout(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    h = {**w.fan_headers, "Idempotency-Key": "tap-tap-tap"}
    answers = await asyncio.gather(*[place(client, h, w.address_id, _items(w)) for _ in range(10)])
    assert [r.status_code for r in answers] == [201] * 10, [r.text for r in answers if r.status_code != 201]
    assert len({r.text for r in answers}) == 1  # everyone got the very same answer
    assert await count(db, Order) == 2
    assert len({o.checkout_id for o in await rows(db, Order)}) == 1
    assert await stock(db, w.sku_ids[0]) == 8 and await stock(db, w.sku_ids[1]) == 9
    assert await count(db, IdempotencyKey) == 1


async def test_the_key_is_per_user(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    other = await add_fan(db, "13900000002")
    r1 = await place(client, {**w.fan_headers, "Idempotency-Key": "same-string"}, w.address_id, _items(w))
    # The other fan uses the same key string, even with another body: it is their own key.
    r2 = await place(client, {**other.headers, "Idempotency-Key": "same-string"}, other.address_id,
                     [{"sku_id": w.sku_ids[0], "quantity": 1}])
    assert r1.status_code == 201 and r2.status_code == 201, (r1.text, r2.text)
    assert r1.json()["checkout_id"] != r2.json()["checkout_id"]
    buyers = {o.buyer_id for o in await rows(db, Order)}
    assert buyers == {w.fan_id, other.user_id}
    # And replaying the other fan's key never reveals the first fan's checkout.
    r3 = await place(client, {**other.headers, "Idempotency-Key": "same-string"}, other.address_id,
                     [{"sku_id": w.sku_ids[0], "quantity": 1}])
    assert r3.json() == r2.json()
    assert await count(db, Order) == 3


async def test_a_refused_request_does_not_burn_the_key(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, stock=1)
    h = {**w.fan_headers, "Idempotency-Key": "retry-me"}
    r = await place(client, h, w.address_id, [{"sku_id": w.sku_ids[0], "quantity": 2}])
    assert r.status_code == 409 and err(r) == "catalog.out_of_stock"
    assert await count(db, IdempotencyKey) == 0
    r = await place(client, h, w.address_id, [{"sku_id": w.sku_ids[0], "quantity": 1}])
    assert r.status_code == 201, r.text


async def test_malformed_key_is_422(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    r = await place(client, {**w.fan_headers, "Idempotency-Key": "x" * 121}, w.address_id, _items(w))
    assert r.status_code == 422 and err(r) == "request.invalid"
    assert await count(db, Order) == 0
