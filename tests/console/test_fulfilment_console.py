"""Supplier fulfilment: ship one order from its card, or several at once, each in its own transaction."""

from __future__ import annotations

from quanzi.orders.models import Order
from tests.console.helpers import browser, place, ids_of
from tests.factories import make_world

SF = "顺丰速运"


async def _order(db, order_id: int) -> Order:  # noqa: ANN001
    async with db.read() as s:
        order = await s.get(Order, order_id)
        assert order is not None
        return order


async def test_supplier_ships_an_order_from_the_fulfilment_page(app, db, client) -> None:  # noqa: ANN001
    w = await make_world(db)
    order = await place(client, w, [(w.sku_ids[0], 1)])
    unpaid = await place(client, w, [(w.sku_ids[1], 1)], paid=False)
    sup = await browser(app, db, "13700000001")

    r = await sup.get("/console/fulfilment")
    assert r.status_code == 200
    assert ids_of(r.text, "to-ship-order", "data-order-id") == [str(order["id"])]  # paid only
    assert unpaid["order_no"] not in r.text
    assert "世纪大道 100 号" in r.text  # the supplier needs the address to ship

    ship = f"/console/fulfilment/{order['id']}/ship"
    r = await sup.submit(ship, {"carrier": SF, "tracking_no": "x"})
    assert "未发货" in r.text
    r = await sup.submit(ship, {"carrier": "随便快递", "tracking_no": "SF123456"})
    assert "请从列表中选择快递公司" in r.text
    assert (await _order(db, order["id"])).status == "paid"

    r = await sup.submit(ship, {"carrier": SF, "tracking_no": "SF1234567890"})
    assert f"订单 {order['order_no']} 已发货" in r.text
    shipped = await _order(db, order["id"])
    assert (shipped.status, shipped.carrier, shipped.tracking_no) == ("shipped", SF, "SF1234567890")
    assert ids_of(r.text, "to-ship-order", "data-order-id") == []
    assert ids_of(r.text, "shipped-order", "data-order-id") == [str(order["id"])]

    r = await sup.submit(ship, {"carrier": SF, "tracking_no": "SF999999"})
    assert "不允许变为" in r.text  # shipping twice is refused by the state machine
    assert (await _order(db, order["id"])).tracking_no == "SF1234567890"

    other = await browser(app, db, "13700000005", "supplier")
    from quanzi.catalog import service as catalog

    async with db.write() as s:
        await catalog.ensure_supplier(s, other.user_id, "别家")
    second = await place(client, w, [(w.sku_ids[0], 1)])
    r = await other.get("/console/fulfilment")
    assert second["order_no"] not in r.text
    r = await other.post(f"/console/fulfilment/{second['id']}/ship", {"carrier": SF, "tracking_no": "SF5555"})
    assert r.status_code == 404
    assert (await _order(db, second["id"])).status == "paid"
    await sup.close()
    await other.close()


async def test_bulk_ship_two_orders_each_on_its_own(app, db, client) -> None:  # noqa: ANN001
    w = await make_world(db)
    a = await place(client, w, [(w.sku_ids[0], 1)])
    b = await place(client, w, [(w.sku_ids[1], 1)])
    c = await place(client, w, [(w.sku_ids[0], 2)])
    sup = await browser(app, db, "13700000001")
    r = await sup.get("/console/fulfilment")
    assert 'data-testid="bulk-ship-form"' in r.text

    rows = [a["id"], b["id"], c["id"]]
    r = await sup.submit("/console/fulfilment/ship", {
        "carrier": "中通快递", "pick": [a["id"], b["id"]], "row": rows, "tracking": ["ZT100001", "ZT100002", ""]})
    assert "2 个订单已发货" in r.text
    assert [(o.status, o.carrier, o.tracking_no) for o in [await _order(db, x) for x in rows]] == [
        ("shipped", "中通快递", "ZT100001"), ("shipped", "中通快递", "ZT100002"), ("paid", None, None)]

    d = await place(client, w, [(w.sku_ids[1], 2)])
    r = await sup.submit("/console/fulfilment/ship", {
        "carrier": "中通快递", "pick": [c["id"], d["id"]], "row": [c["id"], d["id"]],
        "tracking": ["", "ZT100004"]})
    assert "1 个订单已发货" in r.text and c["order_no"] in r.text and "请填写快递单号" in r.text
    assert (await _order(db, c["id"])).status == "paid" and (await _order(db, d["id"])).status == "shipped"

    r = await sup.submit("/console/fulfilment/ship",
                         {"carrier": "中通快递", "row": [c["id"]], "tracking": ["ZT1"]})
    assert "请先勾选要发货的订单" in r.text
    await sup.close()


async def test_orders_held_by_a_campaign_are_not_shipped(app, db, client) -> None:  # noqa: ANN001
    from sqlalchemy import update

    w = await make_world(db)
    ready = await place(client, w, [(w.sku_ids[0], 1)])
    held = await place(client, w, [(w.sku_ids[1], 1)])
    async with db.write() as s:
        await s.execute(update(Order).where(Order.id == held["id"]).values(hold_reason="group_forming"))
    sup = await browser(app, db, "13700000001")
    r = await sup.get("/console/fulfilment")
    assert ids_of(r.text, "to-ship-order", "data-order-id") == [str(ready["id"])]
    assert ids_of(r.text, "held-order", "data-order-id") == [str(held["id"])] and "拼团成团" in r.text
    r = await sup.get("/console")
    assert 'data-testid="kpi-to-ship">1<' in r.text
    r = await sup.submit(f"/console/fulfilment/{held['id']}/ship", {"carrier": SF, "tracking_no": "SF12345"})
    assert "暂不能发货" in r.text and (await _order(db, held["id"])).status == "paid"
    await sup.close()
