"""My orders, order detail (timeline, actions) and after-sale pages."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from quanzi.aftersales.models import AfterSale
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from tests.factories import World, make_world
from tests.storefront.conftest import Browser, cookie_login


async def place(client: httpx.AsyncClient, w: World, qty: int = 2, sku: int = 0, *, pay: bool = True) -> dict:
    r = await client.post("/api/orders", json={"address_id": w.address_id, "items": [
        {"sku_id": w.sku_ids[sku], "quantity": qty, "shop_id": w.shop_id}]}, headers=w.fan_headers)
    assert r.status_code == 201, r.text
    order = r.json()["orders"][0]
    if pay:
        r = await client.post(f"/api/orders/{order['id']}/pay", json={"provider": "sandbox"}, headers=w.fan_headers)
        r = await client.post(f"/api/payments/sandbox/{r.json()['out_trade_no']}/pay", headers=w.fan_headers)
        assert r.json() == {"outcome": "paid"}
    return order


async def ship(client: httpx.AsyncClient, w: World, order_id: int) -> None:
    r = await client.post(f"/api/supplier/orders/{order_id}/ship", json={"carrier": "顺丰速运", "tracking_no": "SF1234567890"},
                          headers=w.supplier_headers)
    assert r.status_code == 200, r.text


async def test_order_list_tabs_and_empty_state(client: httpx.AsyncClient, fan: Browser, world: World) -> None:
    html = (await fan.get("/orders")).text
    assert 'data-testid="no-orders"' in html and 'data-testid="order-tabs"' in html
    unpaid = await place(client, world, pay=False)
    paid = await place(client, world, sku=1, qty=1)
    html = (await fan.get("/orders")).text
    assert html.index(f'data-testid="order-{paid["id"]}"') < html.index(f'data-testid="order-{unpaid["id"]}"')
    assert f'data-testid="pay-{unpaid["id"]}"' in html and f'data-testid="cancel-{unpaid["id"]}"' in html
    assert "data-countdown=" in html and "小美的好物铺" in html
    html = (await fan.get("/orders?tab=unpaid")).text
    assert f'order-{unpaid["id"]}"' in html and f'order-{paid["id"]}"' not in html
    html = (await fan.get("/orders?tab=to_ship")).text
    assert f'order-{paid["id"]}"' in html and f'order-{unpaid["id"]}"' not in html
    assert re.search(r'data-testid="tab-to_ship"[^>]*>待发货<sup>1</sup>', html)
    # "To review" is the reviews domain's list of received, unreviewed lines (tests/reviews).
    r = await fan.get("/orders?tab=to_review")
    assert r.status_code == 303 and r.headers["location"] == "/reviews/pending"
    html = (await fan.get("/reviews/pending")).text
    assert 'data-testid="nothing-to-review"' in html and 'href="/reviews/pending" class="on" data-testid="tab-to_review"' in html
    assert 'href="/aftersales" class="" data-testid="tab-aftersale"' in html
    assert (await fan.get("/orders?tab=bogus")).status_code == 422

    # Cancel the unpaid order from its card.
    r = await fan.post(f"/orders/{unpaid['id']}/cancel")
    assert r.status_code == 303 and r.headers["location"] == f"/orders/{unpaid['id']}?notice=cancelled"
    html = (await fan.get(r.headers["location"])).text
    assert re.search(r'data-testid="order-status">已取消<', html) and "你取消了订单" in html


async def test_order_detail_timeline_and_confirm_receipt(client: httpx.AsyncClient, fan: Browser, world: World) -> None:
    order = await place(client, world)
    html = (await fan.get(f"/orders/{order['id']}")).text
    assert re.search(r'data-testid="order-status">待发货<', html)
    kinds = re.findall(r'data-testid="event-([a-z_]+)"', html)
    assert kinds == ["paid", "placed"]  # newest first
    assert "提交订单" in html and "支付成功" in html and "张三" in html and "世纪大道 100 号" in html
    assert 'data-testid="confirm-receipt"' not in html
    line_id = order["lines"][0]["id"]
    assert f'data-testid="request-aftersale-{line_id}"' in html  # before shipment: refund

    await ship(client, world, order["id"])
    html = (await fan.get(f"/orders/{order['id']}")).text
    assert 'data-testid="tracking"' in html and "SF1234567890" in html and "商家已发货" in html
    assert 'data-testid="confirm-receipt"' in html
    r = await fan.post(f"/orders/{order['id']}/receive")
    assert r.status_code == 303
    html = (await fan.get(r.headers["location"])).text
    assert re.search(r'data-testid="order-status">已收货<', html) and "7天无理由退货截止" in html
    assert re.findall(r'data-testid="event-([a-z_]+)"', html) == ["received", "shipped", "paid", "placed"]
    en = (await fan.get(f"/orders/{order['id']}?lang=en")).text
    assert "You confirmed receipt" in en and "Shipped by the supplier" in en and "Order placed" in en
    # Confirming twice is refused with a page, not a crash.
    assert (await fan.post(f"/orders/{order['id']}/receive")).status_code == 409


async def test_aftersale_form_creates_a_request(client: httpx.AsyncClient, fan: Browser, db: Database,
                                                world: World) -> None:
    order = await place(client, world, qty=2)
    await ship(client, world, order["id"])
    await fan.post(f"/orders/{order['id']}/receive")
    line_id = order["lines"][0]["id"]

    page = await fan.get(f"/orders/{order['id']}/aftersale?line_id={line_id}")
    html = page.text
    assert 'data-testid="aftersale-form"' in html and 'data-testid="kind-return_refund"' in html
    assert 'max="2"' in html and "全部 2 件可退 ¥59.80" in html
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    form = {"line_id": line_id, "kind": "return_refund", "quantity": 1, "reason": "quality", "details": "有压伤",
            "idempotency_key": key}
    r = await fan.post(f"/orders/{order['id']}/aftersale", {**form, "quantity": 3})
    assert r.status_code == 422 and "最多为 2" in r.text  # the service's own rule, shown on the form
    r = await fan.post(f"/orders/{order['id']}/aftersale", {**form, "reason": "nonsense"})
    assert r.status_code == 422
    r = await fan.post(f"/orders/{order['id']}/aftersale", form)
    assert r.status_code == 303
    aftersale_url = r.headers["location"]
    assert (await fan.post(f"/orders/{order['id']}/aftersale", form)).headers["location"] == aftersale_url  # replay
    async with db.read() as s:
        from sqlalchemy import select

        requests = list((await s.execute(select(AfterSale))).scalars())
    assert len(requests) == 1
    a = requests[0]
    assert (a.kind, a.quantity, a.amount_fen, a.reason) == ("return_refund", 1, 2990, "质量问题：有压伤")
    assert aftersale_url == f"/aftersales/{a.id}"

    html = (await fan.get(aftersale_url)).text
    assert re.search(r'data-testid="aftersale-status">等待商家处理<', html) and "¥29.90" in html
    assert 'data-testid="aftersale-cancel"' in html and 'data-testid="ship-back-form"' not in html
    html = (await fan.get(f"/orders/{order['id']}")).text
    assert f'data-testid="aftersale-open-{line_id}"' in html and "申请售后" in html  # the timeline too
    html = (await fan.get("/aftersales")).text
    assert f'data-testid="aftersale-{a.id}"' in html and "退货退款" in html
    # The form of a line with an open request goes to that request.
    r = await fan.get(f"/orders/{order['id']}/aftersale?line_id={line_id}")
    assert r.status_code == 303 and r.headers["location"] == aftersale_url

    # The supplier agrees: the buyer sends the goods back from the page.
    r = await client.post(f"/api/supplier/aftersales/{a.id}/approve", headers=world.supplier_headers)
    assert r.json()["status"] == "awaiting_return"
    html = (await fan.get(aftersale_url)).text
    assert 'data-testid="ship-back-form"' in html
    r = await fan.post(f"/aftersales/{a.id}/ship-back", {"carrier": "顺丰速运", "tracking_no": "no spaces!"})
    assert r.status_code == 422 and 'data-testid="ship-back-error"' in r.text
    r = await fan.post(f"/aftersales/{a.id}/ship-back", {"carrier": "顺丰速运", "tracking_no": "SF-998877"})
    assert r.status_code == 303
    html = (await fan.get(aftersale_url)).text
    assert re.search(r'data-testid="aftersale-status">已寄回，等待商家收货<', html) and "SF-998877" in html
    assert 'data-testid="aftersale-cancel"' not in html
    await client.post(f"/api/supplier/aftersales/{a.id}/receive-return", headers=world.supplier_headers)
    await outbox.drain(db)
    html = (await fan.get(aftersale_url)).text
    assert re.search(r'data-testid="aftersale-status">已退款<', html)
    html = (await fan.get(f"/orders/{order['id']}")).text
    assert f'data-testid="refunded-{line_id}"' in html and "退款已原路退回" in html
    assert f'data-testid="request-aftersale-{line_id}"' in html  # one unit is still returnable


async def test_refund_before_shipment_and_cancel_request(client: httpx.AsyncClient, fan: Browser,
                                                          world: World) -> None:
    order = await place(client, world, qty=1)
    line_id = order["lines"][0]["id"]
    html = (await fan.get(f"/orders/{order['id']}/aftersale?line_id={line_id}")).text
    assert 'data-testid="kind-refund_only"' in html and 'data-testid="kind-return_refund"' not in html
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    r = await fan.post(f"/orders/{order['id']}/aftersale", {"line_id": line_id, "kind": "return_refund",
                                                            "quantity": 1, "reason": "changed_mind",
                                                            "idempotency_key": key})
    assert r.status_code == 409 and "只能申请仅退款" in r.text
    r = await fan.post(f"/orders/{order['id']}/aftersale", {"line_id": line_id, "kind": "refund_only", "quantity": 1,
                                                            "reason": "changed_mind", "idempotency_key": key})
    assert r.status_code == 303
    url = r.headers["location"]
    html = (await fan.get(url)).text
    assert "¥37.90" in html  # 29.90 + the 8.00 shipping: everything in the order is refunded
    r = await fan.post(url.replace("/aftersales/", "/aftersales/", 1) + "/cancel")
    assert r.status_code == 303
    html = (await fan.get(url)).text
    assert re.search(r'data-testid="aftersale-status">已取消<', html) and 'data-testid="aftersale-cancel"' not in html


async def test_after_sale_button_gives_way_to_the_reason(client: httpx.AsyncClient, db: Database) -> None:
    w = await make_world(db, non_returnable=True)
    fan = await cookie_login(client, db, w.fan_id, "13900000001")
    order = await place(client, w, qty=1)
    line_id = order["lines"][0]["id"]
    html = (await fan.get(f"/orders/{order['id']}")).text
    assert f'data-testid="request-aftersale-{line_id}"' in html  # unshipped: a refund is always possible
    await ship(client, w, order["id"])
    html = (await fan.get(f"/orders/{order['id']}")).text
    m = re.search(rf'data-testid="aftersale-blocked-{line_id}">([^<]+)<', html)
    assert m and "不支持 7 天无理由退货" in m.group(1) and "生鲜" in m.group(1)
    html = (await fan.get(f"/orders/{order['id']}/aftersale?line_id={line_id}")).text
    assert 'data-testid="aftersale-blocked"' in html and 'data-testid="aftersale-form"' not in html


async def test_return_window_closed_is_explained(client: httpx.AsyncClient, fan: Browser, world: World) -> None:
    order = await place(client, world, qty=1)
    await ship(client, world, order["id"])
    await fan.post(f"/orders/{order['id']}/receive")
    clock.advance(timedelta(days=9))
    line_id = order["lines"][0]["id"]
    html = (await fan.get(f"/orders/{order['id']}")).text
    m = re.search(rf'data-testid="aftersale-blocked-{line_id}">([^<]+)<', html)
    assert m and "已超过 7 天无理由退货期限" in m.group(1)
    assert f'data-testid="request-aftersale-{line_id}"' not in html
