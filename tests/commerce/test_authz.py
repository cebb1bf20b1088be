"""Object-level authorization: someone else's order, payment or after-sale is 404 (never 403, which would
confirm it exists); suppliers see and act on their own orders only; shopkeepers see their own shop's orders
only; fans and shopkeepers are refused supplier endpoints (403)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from quanzi.aftersales.models import AfterSale
from quanzi.orders.models import Order
from quanzi.payments import registry
from tests.commerce._support import ask, err, pay, place_one, rows, start_payment
from tests.factories import Fan, SupplierWithProduct, World, add_fan, add_shop, add_supplier, make_world


@dataclass
class Scene:
    w: World
    b: SupplierWithProduct
    shop_b: int
    keeper_b: dict[str, str]
    mallory: Fan
    a_paid: dict[str, Any]  # fan's order from supplier A via shop A, paid, with an open after-sale
    b_paid: dict[str, Any]  # fan's order from supplier B via shop B, paid
    a_pending: dict[str, Any]  # fan's order from supplier A via shop A, unpaid, with a payment attempt
    a_pending_otn: str
    mallory_order: dict[str, Any]  # mallory's own order from supplier A via shop B
    aftersale_id: int


@pytest.fixture
async def scene(client, db) -> Scene:  # noqa: ANN001
    w = await make_world(db)
    b = await add_supplier(db, "13700000011", code_prefix="MGO", prices=(1990, 3990))
    shop_b, keeper_b = await add_shop(db, "13700000012", [w.product_id, b.product_id])
    mallory = await add_fan(db, "13900000066", nickname="别人")

    a_paid = await place_one(client, w.fan_headers, w.address_id, w.sku_ids[0], 2, shop_id=w.shop_id)
    await pay(client, w.fan_headers, a_paid["id"])
    r = await ask(client, w.fan_headers, a_paid["id"], a_paid["lines"][0]["id"], 1)
    assert r.status_code == 201, r.text
    b_paid = await place_one(client, w.fan_headers, w.address_id, b.sku_ids[0], 1, shop_id=shop_b)
    await pay(client, w.fan_headers, b_paid["id"])
    a_pending = await place_one(client, w.fan_headers, w.address_id, w.sku_ids[1], 1, shop_id=w.shop_id)
    otn = (await start_payment(client, w.fan_headers, a_pending["id"]))["out_trade_no"]
    mallory_order = await place_one(client, mallory.headers, mallory.address_id, w.sku_ids[1], 1, shop_id=shop_b)
    return Scene(w, b, shop_b, keeper_b, mallory, a_paid, b_paid, a_pending, otn, mallory_order, r.json()["id"])


def _404(r: httpx.Response) -> None:
    assert r.status_code == 404, (r.request.method, str(r.request.url), r.status_code, r.text[:300])


def _403(r: httpx.Response) -> None:
    assert r.status_code == 403, (r.request.method, str(r.request.url), r.status_code, r.text[:300])


async def _statuses(db) -> dict[int, str]:  # noqa: ANN001
    return {o.id: o.status for o in await rows(db, Order)}


async def test_another_fans_orders_payments_and_aftersales_are_404(client, db, scene: Scene) -> None:  # noqa: ANN001
    sc, h = scene, scene.mallory.headers
    before = await _statuses(db)
    for order in (sc.a_paid, sc.a_pending, sc.b_paid):
        oid = order["id"]
        _404(await client.get(f"/api/orders/{oid}", headers=h))
        _404(await client.post(f"/api/orders/{oid}/cancel", headers=h))
        _404(await client.post(f"/api/orders/{oid}/receive", headers=h))
        _404(await client.post(f"/api/orders/{oid}/pay", json={"provider": "sandbox"}, headers=h))
        line_id = order["lines"][0]["id"]
        r = await ask(client, h, oid, line_id, 1)
        _404(r)
        assert err(r) == "order.not_found"
        # The HTML pages answer the same way.
        _404(await client.get(f"/orders/{oid}", headers=h))
        _404(await client.get(f"/orders/{oid}/pay", headers=h))
        _404(await client.get(f"/orders/{oid}/aftersale", params={"line_id": line_id}, headers=h))
        _404(await client.post(f"/orders/{oid}/cancel", headers=h))
    # Mallory's own order with someone else's line id is 404 too.
    r = await ask(client, h, sc.mallory_order["id"], sc.a_paid["lines"][0]["id"], 1)
    _404(r)

    # Paying someone else's payment attempt through the sandbox: 404, and no money moves.
    _404(await client.post(f"/api/payments/sandbox/{sc.a_pending_otn}/pay", headers=h))
    _404(await client.get(f"/pay/sandbox/{sc.a_pending_otn}", headers=h))
    _404(await client.post(f"/pay/sandbox/{sc.a_pending_otn}", headers=h))
    known = await registry.get("sandbox").query_payment(sc.a_pending_otn)
    assert known is not None and not known.paid

    # Someone else's after-sale.
    a = sc.aftersale_id
    _404(await client.get(f"/api/aftersales/{a}", headers=h))
    _404(await client.post(f"/api/aftersales/{a}/cancel", headers=h))
    _404(await client.post(f"/api/aftersales/{a}/ship-back", json={"carrier": "顺丰", "tracking_no": "SF999888"},
                           headers=h))
    _404(await client.get(f"/aftersales/{a}", headers=h))
    _404(await client.post(f"/aftersales/{a}/cancel", headers=h))

    # Someone else's address cannot be used to check out.
    r = await client.post("/api/orders", json={"address_id": sc.w.address_id, "items": [
        {"sku_id": sc.w.sku_ids[0], "quantity": 1}]}, headers=h)
    _404(r)

    # Lists show only one's own.
    r = await client.get("/api/orders", headers=h)
    assert [o["id"] for o in r.json()["items"]] == [sc.mallory_order["id"]]
    assert (await client.get("/api/aftersales", headers=h)).json() == []

    assert await _statuses(db) == before
    (aftersale,) = await rows(db, AfterSale)
    assert aftersale.status == "requested"


async def test_a_supplier_sees_and_acts_on_its_own_orders_only(client, db, scene: Scene) -> None:  # noqa: ANN001
    sc = scene
    w, b = sc.w, sc.b
    before = await _statuses(db)

    r = await client.get("/api/supplier/orders", params={"status": "paid"}, headers=b.headers)
    assert [o["id"] for o in r.json()["items"]] == [sc.b_paid["id"]]
    r = await client.get("/api/supplier/orders", params={"status": ""}, headers=b.headers)
    assert {o["supplier_id"] for o in r.json()["items"]} == {b.supplier_id}
    r = await client.get("/api/supplier/orders", params={"status": "paid"}, headers=w.supplier_headers)
    assert [o["id"] for o in r.json()["items"]] == [sc.a_paid["id"]]

    ship = {"carrier": "顺丰", "tracking_no": "SF1234567890"}
    _404(await client.post(f"/api/supplier/orders/{sc.a_paid['id']}/ship", json=ship, headers=b.headers))
    _404(await client.post(f"/api/supplier/orders/{sc.b_paid['id']}/ship", json=ship, headers=w.supplier_headers))
    r = await client.post("/api/supplier/orders/ship", json={"items": [{"order_id": sc.a_paid["id"], **ship}]},
                          headers=b.headers)
    assert r.status_code == 200 and r.json() == {"shipped": [], "failed": [
        {"order_id": sc.a_paid["id"], "code": "order.not_found"}]}
    _404(await client.post(f"/console/fulfilment/{sc.a_paid['id']}/ship",
                           data={"carrier": "顺丰速运", "tracking_no": "SF1234567890"}, headers=b.headers))

    # After-sales of supplier A's order: invisible and undecidable for B.
    assert (await client.get("/api/supplier/aftersales", headers=b.headers)).json() == []
    a = sc.aftersale_id
    _404(await client.post(f"/api/supplier/aftersales/{a}/approve", headers=b.headers))
    _404(await client.post(f"/api/supplier/aftersales/{a}/reject", json={"reason": "不行"}, headers=b.headers))
    _404(await client.post(f"/api/supplier/aftersales/{a}/receive-return", headers=b.headers))
    _404(await client.post(f"/console/aftersales/{a}/approve", headers=b.headers))
    _404(await client.post(f"/console/aftersales/{a}/reject", data={"reason": "不行"}, headers=b.headers))
    (aftersale,) = await rows(db, AfterSale)
    assert aftersale.status == "requested"
    assert await _statuses(db) == before

    # Supplier A can: the refusals above were about ownership, not about the request.
    r = await client.get("/api/supplier/aftersales", headers=w.supplier_headers)
    assert [x["id"] for x in r.json()] == [a]
    r = await client.post(f"/api/supplier/orders/{sc.b_paid['id']}/ship", json=ship, headers=b.headers)
    assert r.status_code == 200, r.text


async def test_a_shopkeeper_sees_only_their_own_shops_orders(client, db, scene: Scene) -> None:  # noqa: ANN001
    sc = scene
    r = await client.get("/api/shops/mine/orders", headers=sc.w.shopkeeper_headers)
    assert r.status_code == 200, r.text
    assert sorted(o["id"] for o in r.json()["items"]) == sorted([sc.a_paid["id"], sc.a_pending["id"]])
    assert {o["shop_id"] for o in r.json()["items"]} == {sc.w.shop_id}
    r = await client.get("/api/shops/mine/orders", headers=sc.keeper_b)
    assert sorted(o["id"] for o in r.json()["items"]) == sorted([sc.b_paid["id"], sc.mallory_order["id"]])
    # A shopkeeper is not the buyer: the buyer's order endpoints are 404 for them.
    _404(await client.get(f"/api/orders/{sc.a_paid['id']}", headers=sc.w.shopkeeper_headers))
    _404(await client.post(f"/api/orders/{sc.a_paid['id']}/receive", headers=sc.w.shopkeeper_headers))
    # A fan without a shop is refused the shopkeeper endpoint.
    _403(await client.get("/api/shops/mine/orders", headers=sc.mallory.headers))


@pytest.mark.parametrize("who", ["fan", "shopkeeper"])
async def test_fans_and_shopkeepers_are_refused_supplier_endpoints(client, db, scene: Scene, who: str) -> None:  # noqa: ANN001
    sc = scene
    h = sc.w.fan_headers if who == "fan" else sc.w.shopkeeper_headers
    oid, a = sc.a_paid["id"], sc.aftersale_id
    ship = {"carrier": "顺丰", "tracking_no": "SF1234567890"}
    _403(await client.get("/api/supplier/orders", headers=h))
    _403(await client.post(f"/api/supplier/orders/{oid}/ship", json=ship, headers=h))
    _403(await client.post("/api/supplier/orders/ship", json={"items": [{"order_id": oid, **ship}]}, headers=h))
    _403(await client.get("/api/supplier/aftersales", headers=h))
    _403(await client.post(f"/api/supplier/aftersales/{a}/approve", headers=h))
    _403(await client.post(f"/api/supplier/aftersales/{a}/reject", json={"reason": "不行"}, headers=h))
    _403(await client.post(f"/api/supplier/aftersales/{a}/receive-return", headers=h))
    r = await client.post(f"/api/supplier/orders/{oid}/ship", json=ship, headers=h)
    assert err(r) == "auth.forbidden"
    (aftersale,) = await rows(db, AfterSale)
    assert aftersale.status == "requested"
    assert (await _statuses(db))[oid] == "paid"


async def test_anonymous_callers_are_401(client, db, scene: Scene) -> None:  # noqa: ANN001
    sc = scene
    for method, url in (("GET", f"/api/orders/{sc.a_paid['id']}"), ("POST", f"/api/orders/{sc.a_paid['id']}/pay"),
                        ("GET", "/api/supplier/orders"), ("GET", f"/api/aftersales/{sc.aftersale_id}"),
                        ("POST", f"/api/payments/sandbox/{sc.a_pending_otn}/pay")):
        r = await client.request(method, url, json={} if method == "POST" else None)
        assert r.status_code == 401, (url, r.status_code, r.text[:200])
