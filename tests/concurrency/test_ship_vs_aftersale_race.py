"""Shipping an order and asking for a refund of it at the same moment, on two connections.

Before shipment a refund-only request restocks the goods when the refund arrives; after shipment it must
not (the goods are on the truck). So a request decided against "paid" must never end up open on a
"shipped" order, and an order must never ship while a request is open on it — whichever transaction
takes the order row first. On SQLite the writers serialise (BEGIN IMMEDIATE); on PostgreSQL (READ
COMMITTED) the second one blocks on the order row and then continues with what it read before."""

from __future__ import annotations

import asyncio

import pytest

from quanzi.aftersales import service as aftersales
from quanzi.aftersales.models import AfterSale
from quanzi.kit.db import Database
from quanzi.kit.errors import DomainError
from quanzi.orders import service as orders
from quanzi.orders.models import Order
from tests.commerce._support import pay, place_one, rows
from tests.factories import make_world

pytestmark = pytest.mark.concurrency


async def _paid_order(client, db):  # noqa: ANN001, ANN202
    w = await make_world(db, stock=10)
    order = await place_one(client, w.fan_headers, w.address_id, w.sku_ids[0], quantity=2)
    await pay(client, w.fan_headers, order["id"])
    return w, order


async def _ask(db: Database, w, order) -> str:  # noqa: ANN001
    try:
        async with db.write() as s:
            await aftersales.request(s, w.fan_id, order["id"], order["lines"][0]["id"], "refund_only", 1, "不要了")
    except DomainError as exc:
        return str(exc.code)
    return "created"


async def _ship(db: Database, w, order) -> str:  # noqa: ANN001
    try:
        async with db.write() as s:
            o = await orders.order_for_supplier(s, order["id"], None)
            await orders.ship(s, o, carrier="顺丰", tracking_no="SF1234567890", actor_id=w.supplier_user)
    except DomainError as exc:
        return str(exc.code)
    return "shipped"


async def _consistent(db: Database) -> tuple[Order, list[AfterSale]]:
    (o,) = await rows(db, Order)
    requests = await rows(db, AfterSale)
    open_ = [a for a in requests if a.status == "requested"]
    assert o.open_aftersales == len(open_)
    # A request that restocks on refund exists only while the order has not shipped.
    assert not (o.status == "shipped" and any(a.restock for a in open_)), (o.status, [a.restock for a in open_])
    return o, requests


async def test_refund_request_while_the_order_is_being_shipped(client, db, db_url) -> None:  # noqa: ANN001
    w, order = await _paid_order(client, db)
    other = Database(db_url)
    try:
        async with db.write() as s:  # the supplier ships; the transaction is not committed yet
            o = await orders.order_for_supplier(s, order["id"], None)
            await orders.ship(s, o, carrier="顺丰", tracking_no="SF1234567890", actor_id=w.supplier_user)
            asking = asyncio.create_task(_ask(other, w, order))  # the buyer asks meanwhile
            await asyncio.sleep(0.5)
        outcome = await asking
    finally:
        await other.dispose()
    o, requests = await _consistent(db)
    assert o.status == "shipped"
    if outcome == "created":  # decided against the shipped order: no restock, no shipping fee back
        (a,) = requests
        assert (a.restock, a.shipping_fen) == (False, 0)
    else:
        assert outcome == "aftersale.order_not_eligible" and requests == []


async def test_ship_while_a_refund_request_is_being_made(client, db, db_url) -> None:  # noqa: ANN001
    w, order = await _paid_order(client, db)
    other = Database(db_url)
    try:
        async with other.write() as s:  # the buyer asks; not committed yet
            await aftersales.request(s, w.fan_id, order["id"], order["lines"][0]["id"], "refund_only", 1, "不要了")
            shipping = asyncio.create_task(_ship(db, w, order))  # the supplier ships meanwhile
            await asyncio.sleep(0.5)
        outcome = await shipping
    finally:
        await other.dispose()
    o, requests = await _consistent(db)
    assert outcome == "order.aftersale_open"
    assert o.status == "paid" and [a.status for a in requests] == ["requested"]
