"""Supplier after-sales: approve, reject with a (required) reason, confirm a return arrived."""

from __future__ import annotations

from quanzi.aftersales.models import AfterSale
from quanzi.kit import outbox
from tests.console.helpers import browser, place, ids_of
from tests.factories import make_world


async def _status(db, aftersale_id: int) -> str:  # noqa: ANN001
    async with db.read() as s:
        a = await s.get(AfterSale, aftersale_id)
        assert a is not None
        return a.status


async def _request(client, w, order: dict, line_index: int, kind: str, reason: str) -> int:  # noqa: ANN001
    r = await client.get(f"/api/orders/{order['id']}", headers=w.fan_headers)
    line = r.json()["lines"][line_index]
    body = {"order_id": order["id"], "line_id": line["id"], "kind": kind, "quantity": 1, "reason": reason}
    r = await client.post("/api/aftersales", json=body, headers=w.fan_headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_supplier_approves_and_rejects_requests(app, db, client) -> None:  # noqa: ANN001
    w = await make_world(db)
    order = await place(client, w, [(w.sku_ids[0], 2), (w.sku_ids[1], 1)])
    first = await _request(client, w, order, 0, "refund_only", "拍错了规格")
    second = await _request(client, w, order, 1, "refund_only", "不想要了")
    sup = await browser(app, db, "13700000001")

    r = await sup.get("/console/aftersales")
    assert set(ids_of(r.text, "aftersale", "data-aftersale-id")) == {str(first), str(second)}
    assert "拍错了规格" in r.text and order["order_no"] in r.text and "¥29.90" in r.text

    for reason in ("", "   "):
        r = await sup.submit(f"/console/aftersales/{second}/reject", {"reason": reason})
        assert "未驳回" in r.text and "理由" in r.text
    assert await _status(db, second) == "requested"

    r = await sup.submit(f"/console/aftersales/{second}/reject", {"reason": "商品已打包,请收货后申请退货"})
    assert f"售后 #{second} 已驳回" in r.text
    assert await _status(db, second) == "rejected"
    assert ids_of(r.text, "closed-aftersale", "data-aftersale-id") == [str(second)]
    assert "商品已打包,请收货后申请退货" in r.text

    r = await sup.submit(f"/console/aftersales/{first}/approve")
    assert f"售后 #{first} 已同意" in r.text
    assert await _status(db, first) == "refunding"
    r = await sup.submit(f"/console/aftersales/{first}/approve")  # deciding twice is refused
    assert "不允许变为" in r.text
    await outbox.drain(db)
    assert await _status(db, first) == "refunded"
    r = await sup.get("/console/aftersales")
    assert 'data-testid="no-open-aftersales"' in r.text

    other = await browser(app, db, "13700000005", "supplier")
    from quanzi.catalog import service as catalog

    async with db.write() as s:
        await catalog.ensure_supplier(s, other.user_id, "别家")
    assert (await other.post(f"/console/aftersales/{first}/approve")).status_code == 404
    await sup.close()
    await other.close()


async def test_supplier_confirms_a_return_arrived(app, db, client) -> None:  # noqa: ANN001
    w = await make_world(db)
    order = await place(client, w, [(w.sku_ids[0], 1)])
    sup = await browser(app, db, "13700000001")
    await sup.submit(f"/console/fulfilment/{order['id']}/ship",
                     {"carrier": "顺丰速运", "tracking_no": "SF1234567"})
    assert (await client.post(f"/api/orders/{order['id']}/receive", headers=w.fan_headers)).status_code == 200
    a = await _request(client, w, order, 0, "return_refund", "尺寸不合适")

    r = await sup.submit(f"/console/aftersales/{a}/approve")
    assert "可以寄回" in r.text and await _status(db, a) == "awaiting_return"
    assert 'data-testid="receive"' not in r.text
    back = {"carrier": "顺丰", "tracking_no": "SF7654321"}
    r = await client.post(f"/api/aftersales/{a}/ship-back", json=back, headers=w.fan_headers)
    assert r.status_code == 200, r.text
    r = await sup.get("/console/aftersales")
    assert 'data-testid="receive"' in r.text and "SF7654321" in r.text
    r = await sup.submit(f"/console/aftersales/{a}/receive")
    assert f"已确认收到售后 #{a} 的退货" in r.text and await _status(db, a) == "refunding"
    await sup.close()
