"""After-sale rules: the 7-day window from the day after receipt in China time, non-returnable goods,
refund-only before shipment (with the shipping fee and restock when everything goes back), exact partial
amounts, one open request per line (also under concurrency), reject → ask again, provider outages retried
with backoff and never refunded twice, and what the outbox guarantees for after-sale events."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import update

from quanzi.aftersales import service as aftersales
from quanzi.aftersales.models import AfterSale, AfterSaleEvent
from quanzi.catalog.models import StockMovement
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.outbox import OutboxMessage
from quanzi.orders.models import Order, OrderLine
from quanzi.orders.service import CHINA
from quanzi.payments import registry
from quanzi.payments import service as payments
from quanzi.payments.models import Payment, Refund
from tests.commerce._support import ask, count, err, get_order, pay, place, receive, rows, ship, stock
from tests.factories import make_world


@pytest.fixture
def sandbox(app):  # noqa: ANN001, ANN201
    return registry.get("sandbox")


async def _paid_order(client, w, items: list[tuple[int, int]]) -> tuple[dict[str, Any], str]:  # noqa: ANN001
    r = await place(client, w.fan_headers, w.address_id, [{"sku_id": k, "quantity": q} for k, q in items])
    assert r.status_code == 201, r.text
    (order,) = r.json()["orders"]
    otn = await pay(client, w.fan_headers, order["id"])
    return await get_order(client, w.fan_headers, order["id"]), otn


async def _decide(client, w, aftersale_id: int, action: str = "approve", **body: Any):  # noqa: ANN001, ANN202
    kwargs = {"json": body} if body else {}
    return await client.post(f"/api/supplier/aftersales/{aftersale_id}/{action}", headers=w.supplier_headers,
                             **kwargs)


# --- the 7-day window ----------------------------------------------------------------------------

async def test_window_counts_seven_days_from_the_day_after_receipt_in_china_time(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    day = clock.now().astimezone(CHINA).date() + timedelta(days=2)
    received_at = datetime.combine(day, time(23, 30), tzinfo=CHINA)  # 15:30 UTC: still day D in China
    clock.freeze(received_at - timedelta(days=1))
    order, _ = await _paid_order(client, w, [(w.sku_ids[0], 1), (w.sku_ids[1], 1)])
    assert (await ship(client, w.supplier_headers, order["id"])).status_code == 200
    clock.freeze(received_at)
    r = await receive(client, w.fan_headers, order["id"])
    assert r.status_code == 200, r.text
    deadline = datetime.combine(day + timedelta(days=8), time(0, 0), tzinfo=CHINA)
    assert datetime.fromisoformat(r.json()["return_deadline"]) == deadline
    first, second = r.json()["lines"]

    clock.freeze(datetime.combine(day + timedelta(days=7), time(23, 59, 59), tzinfo=CHINA))
    r = await ask(client, w.fan_headers, order["id"], first["id"], 1, kind="return_refund")
    assert r.status_code == 201, r.text

    clock.freeze(deadline)  # 00:00 on D+8 in China
    r = await ask(client, w.fan_headers, order["id"], second["id"], 1, kind="return_refund")
    assert r.status_code == 409, r.text
    assert err(r) == "aftersale.window_closed"
    assert (day + timedelta(days=8)).strftime("%Y-%m-%d") in r.json()["error"]["message"]  # names the deadline
    assert await count(db, AfterSale) == 1


async def test_window_is_not_shortened_by_a_receipt_just_after_midnight(client, db) -> None:  # noqa: ANN001
    """Received at 00:10 China time on D (still D-1 in UTC): the window ends at 00:00 on D+8 China time."""
    w = await make_world(db)
    day = clock.now().astimezone(CHINA).date() + timedelta(days=2)
    received_at = datetime.combine(day, time(0, 10), tzinfo=CHINA)
    clock.freeze(received_at - timedelta(days=1))
    order, _ = await _paid_order(client, w, [(w.sku_ids[0], 1)])
    await ship(client, w.supplier_headers, order["id"])
    clock.freeze(received_at)
    r = await receive(client, w.fan_headers, order["id"])
    assert datetime.fromisoformat(r.json()["return_deadline"]) == datetime.combine(
        day + timedelta(days=8), time(0, 0), tzinfo=CHINA)


# --- what may be asked, and when -------------------------------------------------------------------

async def test_non_returnable_line_is_refused_with_its_reason(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, non_returnable=True)
    order, _ = await _paid_order(client, w, [(w.sku_ids[0], 2)])
    line = order["lines"][0]
    assert line["non_returnable"] is True and line["non_returnable_reason"] == "生鲜"
    await ship(client, w.supplier_headers, order["id"])
    for kind in ("return_refund", "refund_only"):
        r = await ask(client, w.fan_headers, order["id"], line["id"], 1, kind=kind)
        assert r.status_code == 409 and err(r) == "aftersale.non_returnable", r.text
        assert "生鲜" in r.json()["error"]["message"]
    await receive(client, w.fan_headers, order["id"])
    r = await ask(client, w.fan_headers, order["id"], line["id"], 1, kind="return_refund")
    assert r.status_code == 409 and err(r) == "aftersale.non_returnable"
    assert await count(db, AfterSale) == 0


async def test_before_shipment_only_refund_only_even_for_non_returnable(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, non_returnable=True)
    order, _ = await _paid_order(client, w, [(w.sku_ids[0], 2)])
    line = order["lines"][0]
    r = await ask(client, w.fan_headers, order["id"], line["id"], 1, kind="return_refund")
    assert r.status_code == 409 and err(r) == "aftersale.kind_not_allowed", r.text
    r = await ask(client, w.fan_headers, order["id"], line["id"], 1, kind="refund_only")
    assert r.status_code == 201, r.text


async def test_no_aftersale_for_unpaid_or_cancelled_orders_and_bad_quantities(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    r = await place(client, w.fan_headers, w.address_id, [{"sku_id": w.sku_ids[0], "quantity": 2}])
    order = r.json()["orders"][0]
    line = order["lines"][0]
    r = await ask(client, w.fan_headers, order["id"], line["id"], 1)
    assert r.status_code == 409 and err(r) == "aftersale.order_not_eligible"
    await pay(client, w.fan_headers, order["id"])
    for qty in (3, 0, -1):
        r = await ask(client, w.fan_headers, order["id"], line["id"], qty)
        assert r.status_code == 422, r.text
    r = await ask(client, w.fan_headers, order["id"], line["id"], 3)
    assert err(r) == "aftersale.bad_quantity"
    assert await count(db, AfterSale) == 0


# --- refunds before shipment -----------------------------------------------------------------------

async def _refund(client, db, w, order_id: int, line_id: int, qty: int) -> dict[str, Any]:  # noqa: ANN001
    r = await ask(client, w.fan_headers, order_id, line_id, qty)
    assert r.status_code == 201, r.text
    a = r.json()
    r = await _decide(client, w, a["id"])
    assert r.status_code == 200 and r.json()["status"] == "refunding", r.text
    await outbox.drain(db)
    r = await client.get(f"/api/aftersales/{a['id']}", headers=w.fan_headers)
    assert r.json()["status"] == "refunded", r.text
    return r.json()


async def test_refunding_every_line_before_shipment_refunds_shipping_restocks_and_closes(client, db, sandbox) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    order, otn = await _paid_order(client, w, [(w.sku_ids[0], 1), (w.sku_ids[1], 1)])
    assert order["shipping_fen"] == 800 and order["total_fen"] == 2990 + 4990 + 800
    first, second = order["lines"]

    a1 = await _refund(client, db, w, order["id"], first["id"], 1)
    assert (a1["amount_fen"], a1["shipping_fen"]) == (2990, 0)
    assert (await get_order(client, w.fan_headers, order["id"]))["status"] == "paid"  # one line still to ship
    a2 = await _refund(client, db, w, order["id"], second["id"], 1)
    assert (a2["amount_fen"], a2["shipping_fen"]) == (4990, 800)

    o = await get_order(client, w.fan_headers, order["id"])
    assert o["status"] == "closed" and o["refunded_fen"] == o["total_fen"]
    assert sandbox.refunded_fen(otn) == o["total_fen"]
    assert await stock(db, w.sku_ids[0]) == 10 and await stock(db, w.sku_ids[1]) == 10
    assert await count(db, StockMovement, StockMovement.reason == "refund_unshipped") == 2
    r = await ship(client, w.supplier_headers, order["id"])
    assert r.status_code == 409 and err(r) == "state.illegal_transition"


async def test_two_lines_refunded_at_once_before_shipment_still_return_the_shipping_fee(client, db, sandbox) -> None:  # noqa: ANN001
    """The buyer asks for both lines before either refund has arrived: the last one approved carries the fee."""
    w = await make_world(db, stock=10)
    order, otn = await _paid_order(client, w, [(w.sku_ids[0], 1), (w.sku_ids[1], 1)])
    ids = []
    for line in order["lines"]:
        r = await ask(client, w.fan_headers, order["id"], line["id"], 1)
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    for a_id in ids:
        r = await _decide(client, w, a_id)
        assert r.status_code == 200, r.text
    await outbox.drain(db)
    done = await rows(db, AfterSale, order_by=AfterSale.id)
    assert [a.status for a in done] == ["refunded", "refunded"]
    assert sum(a.shipping_fen for a in done) == 800
    o = await get_order(client, w.fan_headers, order["id"])
    assert o["status"] == "closed" and o["refunded_fen"] == o["total_fen"] == 2990 + 4990 + 800
    assert sandbox.refunded_fen(otn) == o["total_fen"]
    assert await stock(db, w.sku_ids[0]) == 10 and await stock(db, w.sku_ids[1]) == 10


async def test_partial_quantities_sum_exactly_to_what_was_paid(client, db, sandbox) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    order, otn = await _paid_order(client, w, [(w.sku_ids[0], 3)])
    line = order["lines"][0]
    assert line["paid_fen"] == 8970 and order["shipping_fen"] == 800
    a1 = await _refund(client, db, w, order["id"], line["id"], 1)
    a2 = await _refund(client, db, w, order["id"], line["id"], 2)
    assert a1["amount_fen"] + a2["amount_fen"] == line["paid_fen"]
    assert (a1["shipping_fen"], a2["shipping_fen"]) == (0, 800)
    (db_line,) = await rows(db, OrderLine)
    assert (db_line.refunded_qty, db_line.refunded_fen) == (3, 8970)
    o = await get_order(client, w.fan_headers, order["id"])
    assert o["status"] == "closed" and o["refunded_fen"] == o["total_fen"]
    assert sandbox.refunded_fen(otn) == o["total_fen"]
    assert await stock(db, w.sku_ids[0]) == 10
    r = await ask(client, w.fan_headers, order["id"], line["id"], 1)
    assert r.status_code == 409 and err(r) == "aftersale.order_not_eligible"


@settings(max_examples=300, deadline=None)
@given(paid=st.integers(min_value=1, max_value=10**9), quantity=st.integers(min_value=1, max_value=50),
       data=st.data())
def test_share_of_parts_always_sum_to_the_paid_amount(paid: int, quantity: int, data: st.DataObject) -> None:
    """Any split of a line's quantity into refunds gives parts that sum to paid_fen, each within 1 fen
    of the proportional amount... except the last, which takes the remainder."""
    line = OrderLine(paid_fen=paid, quantity=quantity, refunded_qty=0, refunded_fen=0)
    parts = []
    while line.refunded_qty < line.quantity:
        left = line.quantity - line.refunded_qty
        qty = data.draw(st.integers(min_value=1, max_value=left))
        amount = aftersales.share_of(line, qty)
        assert 0 <= amount <= paid - line.refunded_fen
        parts.append(amount)
        line.refunded_qty += qty
        line.refunded_fen += amount
    assert sum(parts) == paid


def test_share_of_with_an_amount_that_does_not_divide() -> None:
    line = OrderLine(paid_fen=1000, quantity=3, refunded_qty=0, refunded_fen=0)
    assert aftersales.share_of(line, 1) == 333
    line.refunded_qty, line.refunded_fen = 1, 333
    assert aftersales.share_of(line, 2) == 667
    line = OrderLine(paid_fen=1000, quantity=3, refunded_qty=0, refunded_fen=0)
    assert aftersales.share_of(line, 2) == 666
    line.refunded_qty, line.refunded_fen = 2, 666
    assert aftersales.share_of(line, 1) == 334


# --- one open request per line ---------------------------------------------------------------------

async def test_one_open_request_per_line_and_reject_allows_a_new_one(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    order, _ = await _paid_order(client, w, [(w.sku_ids[0], 3)])
    line = order["lines"][0]
    r = await ask(client, w.fan_headers, order["id"], line["id"], 1)
    assert r.status_code == 201, r.text
    first = r.json()["id"]
    r = await ask(client, w.fan_headers, order["id"], line["id"], 2)
    assert r.status_code == 409 and err(r) == "aftersale.already_open", r.text
    (o,) = await rows(db, Order)
    assert o.open_aftersales == 1

    r = await _decide(client, w, first, "reject", reason="库存已打包")
    assert r.status_code == 200 and r.json()["status"] == "rejected", r.text
    (o,) = await rows(db, Order)
    assert o.open_aftersales == 0
    r = await _decide(client, w, first, "approve")  # a decided request cannot be decided again
    assert r.status_code == 409 and err(r) == "state.illegal_transition"
    r = await ask(client, w.fan_headers, order["id"], line["id"], 3)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "requested"


async def test_two_concurrent_requests_for_one_line_exactly_one_succeeds(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    order, _ = await _paid_order(client, w, [(w.sku_ids[0], 3)])
    line = order["lines"][0]
    answers = await asyncio.gather(*[ask(client, w.fan_headers, order["id"], line["id"], q) for q in (1, 2, 3)])
    codes = sorted(r.status_code for r in answers)
    assert codes == [201, 409, 409], [r.text for r in answers]
    assert all(err(r) == "aftersale.already_open" for r in answers if r.status_code == 409)
    assert await count(db, AfterSale) == 1
    (o,) = await rows(db, Order)
    assert o.open_aftersales == 1


async def test_buyer_cancel_closes_the_request_and_the_order_can_ship_again(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    order, _ = await _paid_order(client, w, [(w.sku_ids[0], 1)])
    r = await ask(client, w.fan_headers, order["id"], order["lines"][0]["id"], 1)
    a_id = r.json()["id"]
    r = await ship(client, w.supplier_headers, order["id"])
    assert r.status_code == 409 and err(r) == "order.aftersale_open"
    r = await client.post(f"/api/aftersales/{a_id}/cancel", headers=w.fan_headers)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    assert (await ship(client, w.supplier_headers, order["id"])).status_code == 200


# --- provider outage ------------------------------------------------------------------------------

async def test_refund_failure_is_retried_with_backoff_and_never_refunds_twice(client, db, sandbox) -> None:  # noqa: ANN001
    w = await make_world(db, stock=10)
    clock.freeze()
    order, otn = await _paid_order(client, w, [(w.sku_ids[0], 2)])
    await ship(client, w.supplier_headers, order["id"])
    await receive(client, w.fan_headers, order["id"])
    r = await ask(client, w.fan_headers, order["id"], order["lines"][0]["id"], 1, kind="return_refund")
    a_id = r.json()["id"]
    assert (await _decide(client, w, a_id)).json()["status"] == "awaiting_return"
    r = await client.post(f"/api/aftersales/{a_id}/ship-back", json={"carrier": "顺丰", "tracking_no": "SF999888"},
                          headers=w.fan_headers)
    assert r.json()["status"] == "returned", r.text

    sandbox.fail_next_refunds = 1
    r = await _decide(client, w, a_id, "receive-return")
    assert r.json()["status"] == "refunding", r.text
    assert await stock(db, w.sku_ids[0]) == 9  # restocked when the goods came back

    await outbox.drain(db)  # the provider is down (other subscribers' events are delivered meanwhile)
    (refund,) = await rows(db, Refund)
    assert refund.status == "pending" and sandbox.refunded_fen(otn) == 0
    (msg,) = await rows(db, OutboxMessage, OutboxMessage.topic == "payments.refund_requested")
    assert (msg.status, msg.attempts) == ("pending", 1) and "provider" in (msg.last_error or "")
    assert msg.next_attempt_at == clock.now() + timedelta(seconds=5)

    assert await outbox.drain(db) == 0  # not due before the backoff has passed
    clock.advance(timedelta(seconds=4))
    assert await outbox.drain(db) == 0
    assert sandbox.refunded_fen(otn) == 0
    clock.advance(timedelta(seconds=2))
    assert await outbox.drain(db) >= 1
    assert sandbox.refunded_fen(otn) == 2990
    r = await client.get(f"/api/aftersales/{a_id}", headers=w.fan_headers)
    assert r.json()["status"] == "refunded"
    (msg,) = await rows(db, OutboxMessage, OutboxMessage.topic == "payments.refund_requested")
    assert (msg.status, msg.attempts) == ("done", 2)

    # A worker that crashed after the provider call and before recording it delivers again: no second refund.
    (refund,) = await rows(db, Refund)
    assert refund.status == "succeeded"
    async with db.write() as s:
        await s.execute(update(Refund).where(Refund.id == refund.id).values(status="pending"))
    assert await payments.execute_refund(db, refund.id) is True
    assert sandbox.refunded_fen(otn) == 2990
    assert await payments.execute_refund(db, refund.id) is False  # already recorded
    clock.advance(timedelta(hours=2))
    await outbox.drain(db)
    assert sandbox.refunded_fen(otn) == 2990
    (p,) = await rows(db, Payment)
    assert p.refunded_fen == 2990
    o = await get_order(client, w.fan_headers, order["id"])
    assert o["refunded_fen"] == 2990 and o["lines"][0]["refunded_qty"] == 1


# --- events ---------------------------------------------------------------------------------------

@pytest.fixture
def aftersale_listener() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Subscribe to every after-sale topic for one test (as a later feature would), then unsubscribe."""
    seen: list[tuple[str, dict[str, Any]]] = []
    topics = ["aftersale.requested", "aftersale.approved", "aftersale.returned", "aftersale.return_received",
              "aftersale.refunded", "aftersale.rejected", "aftersale.cancelled"]
    names = []
    for topic in topics:
        async def handler(s, payload, __topic=topic) -> None:  # noqa: ANN001
            seen.append((__topic, payload))

        handler.__qualname__ = f"listener_{topic.replace('.', '_')}"
        outbox.on(topic)(handler)
        names.append((topic, f"{handler.__module__}.{handler.__qualname__}"))
    yield seen
    for topic, name in names:
        regs = outbox._handlers.get(topic, {})
        regs.pop(name, None)
        if not regs:
            outbox._handlers.pop(topic, None)


async def test_every_step_is_on_the_timeline_and_one_outbox_row_per_subscriber(client, db) -> None:  # noqa: ANN001
    """What is guaranteed: each step writes an after-sale timeline row, and its outbox event is written
    once per registered handler of the topic, in the step's transaction (kit/outbox.py): a topic nobody
    subscribes to leaves no outbox row."""
    w = await make_world(db)
    order, _ = await _paid_order(client, w, [(w.sku_ids[0], 1)])
    await ship(client, w.supplier_headers, order["id"])
    await receive(client, w.fan_headers, order["id"])
    a_id = (await ask(client, w.fan_headers, order["id"], order["lines"][0]["id"], 1, kind="return_refund")).json()["id"]
    await _decide(client, w, a_id)
    await client.post(f"/api/aftersales/{a_id}/ship-back", json={"carrier": "顺丰", "tracking_no": "SF999888"},
                      headers=w.fan_headers)
    await _decide(client, w, a_id, "receive-return")
    await outbox.drain(db)
    kinds = [e.kind for e in await rows(db, AfterSaleEvent, order_by=AfterSaleEvent.id)]
    steps = ["requested", "approved", "returned", "return_received", "refunded"]
    assert kinds == steps
    for step in steps:
        topic = f"aftersale.{step}"
        handlers = sorted(h.name for h in outbox.handlers_for(topic))
        written = await rows(db, OutboxMessage, OutboxMessage.topic == topic)
        assert sorted(m.handler for m in written) == handlers, topic
        assert all(m.status == "done" and m.payload["aftersale_id"] == a_id for m in written)
    for topic in ("payments.refund_requested", "payments.refund_succeeded"):
        assert await count(db, OutboxMessage, OutboxMessage.topic == topic) == len(outbox.handlers_for(topic)) >= 1


async def test_every_step_emits_its_event_once_to_a_subscriber(client, db, aftersale_listener) -> None:  # noqa: ANN001
    w = await make_world(db)
    order, _ = await _paid_order(client, w, [(w.sku_ids[0], 2)])
    await ship(client, w.supplier_headers, order["id"])
    await receive(client, w.fan_headers, order["id"])
    line_id = order["lines"][0]["id"]
    a_id = (await ask(client, w.fan_headers, order["id"], line_id, 1, kind="return_refund")).json()["id"]
    # A refused step writes no event (rolled back with its transaction).
    r = await client.post(f"/api/aftersales/{a_id}/ship-back", json={"carrier": "顺丰", "tracking_no": "SF999888"},
                          headers=w.fan_headers)
    assert r.status_code == 409
    await _decide(client, w, a_id)
    await client.post(f"/api/aftersales/{a_id}/ship-back", json={"carrier": "顺丰", "tracking_no": "SF999888"},
                      headers=w.fan_headers)
    await _decide(client, w, a_id, "receive-return")
    await outbox.drain(db)
    b_id = (await ask(client, w.fan_headers, order["id"], line_id, 1, kind="return_refund")).json()["id"]
    await _decide(client, w, b_id, "reject", reason="已使用")
    c_id = (await ask(client, w.fan_headers, order["id"], line_id, 1, kind="return_refund")).json()["id"]
    await client.post(f"/api/aftersales/{c_id}/cancel", headers=w.fan_headers)
    await outbox.drain(db)

    got = [(topic, p["aftersale_id"]) for topic, p in aftersale_listener]
    assert got == [
        ("aftersale.requested", a_id), ("aftersale.approved", a_id), ("aftersale.returned", a_id),
        ("aftersale.return_received", a_id), ("aftersale.refunded", a_id),
        ("aftersale.requested", b_id), ("aftersale.rejected", b_id),
        ("aftersale.requested", c_id), ("aftersale.cancelled", c_id),
    ]
    assert all(p["order_id"] == order["id"] and p["line_id"] == line_id for _, p in aftersale_listener)
    mine = await rows(db, OutboxMessage, OutboxMessage.handler.like("%listener_aftersale_%"))
    assert len(mine) == 9 and all(m.status == "done" for m in mine)
