"""Cart, checkout and payment pages with a cookie session and CSRF, as a browser uses them."""

from __future__ import annotations

import asyncio
import re

import httpx
from sqlalchemy import func, select

from quanzi.catalog import service as catalog
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.orders.models import Order
from tests.factories import World
from tests.storefront.conftest import HTML, Browser


def hidden(html: str, name: str) -> str:
    m = re.search(rf'<input type="hidden" name="{name}" value="([^"]*)"', html)
    assert m, f"no hidden {name}"
    return m.group(1)


async def orders_of(db: Database, buyer_id: int) -> list[Order]:
    async with db.read() as s:
        return list((await s.execute(select(Order).where(Order.buyer_id == buyer_id).order_by(Order.id))).scalars())


async def test_anonymous_pages_redirect_to_login(client: httpx.AsyncClient, world: World) -> None:
    for url in ("/orders", "/cart", "/checkout?item=1", "/aftersales", "/orders/1"):
        r = await client.get(url, headers=HTML)
        assert r.status_code == 303, url
        assert r.headers["location"].startswith("/login?next="), url
    r = await client.get("/orders", headers=HTML)
    assert r.headers["location"] == "/login?next=/orders"


async def test_forms_need_the_csrf_token(fan: Browser, world: World) -> None:
    r = await fan.post("/cart/add", {"sku_id": world.sku_ids[0], "qty": 1}, csrf=False)
    assert r.status_code == 403 and "页面已过期" in r.text


async def test_add_to_cart_then_cart_page_total(fan: Browser, db: Database, world: World) -> None:
    r = await fan.get("/cart")
    assert 'data-testid="empty-cart"' in r.text

    # From the shop's product page: the shop goes along.
    page = await fan.get(f"/s/{world.shop_id}/p/{world.product_id}")
    assert 'data-testid="add-to-cart"' in page.text and 'formaction="/buy"' in page.text
    r = await fan.post("/cart/add", {"sku_id": world.sku_ids[0], "qty": 2, "shop_id": world.shop_id})
    assert r.status_code == 303 and r.headers["location"] == f"/s/{world.shop_id}/p/{world.product_id}?added=1"
    assert "已加入购物车" in (await fan.get(r.headers["location"])).text
    # Outside any shop.
    r = await fan.post("/cart/add", {"sku_id": world.sku_ids[1], "qty": 1})
    assert r.headers["location"] == f"/p/{world.product_id}?added=1"

    html = (await fan.get("/cart")).text
    assert 'data-testid="cart-group-platform"' in html and f'data-testid="cart-group-{world.shop_id}"' in html
    assert "小美的好物铺" in html
    m = re.search(r'data-testid="cart-total">([^<]+)<', html)
    assert m and m.group(1) == "¥109.70"  # 2 × 29.90 + 49.90
    ids = [int(x) for x in re.findall(r'data-testid="cart-line-(\d+)"', html)]
    assert len(ids) == 2

    r = await fan.post(f"/cart/items/{ids[0]}/quantity", {"quantity": 3})
    assert r.status_code == 303 and r.headers["location"] == "/cart"
    html = (await fan.get("/cart")).text
    assert re.search(rf'data-testid="qty-{ids[0]}">3<', html) and "¥139.60" in html
    await fan.post(f"/cart/items/{ids[1]}/remove")
    html = (await fan.get("/cart")).text
    assert f'cart-line-{ids[1]}' not in html and "¥89.70" in html

    # A product that is not on the shop's shelf cannot be added "through" that shop.
    async with db.write() as s:
        other = await catalog.create_product(s, world.supplier_id, title="别家的货", publish=True, skus=[
            {"code": "OTHER-1", "label": "一份", "price_fen": 100, "cost_fen": 50, "stock": 5}])
        other_sku = (await catalog.skus_of(s, [other.id]))[other.id][0].id
    r = await fan.post("/cart/add", {"sku_id": other_sku, "qty": 1, "shop_id": world.shop_id})
    assert r.status_code == 404


async def test_buy_now_checkout_places_one_order_on_double_submit(fan: Browser, db: Database, world: World) -> None:
    r = await fan.post("/buy", {"sku_id": world.sku_ids[0], "qty": 2, "shop_id": world.shop_id})
    assert r.status_code == 303
    url = r.headers["location"]
    assert url == f"/checkout?sku_id={world.sku_ids[0]}&qty=2&shop_id={world.shop_id}"
    page = await fan.get(url)
    assert page.status_code == 200, page.text
    html = page.text
    assert re.search(r'data-testid="goods-total">¥59.80<', html)
    assert re.search(r'data-testid="shipping-total">¥8.00<', html)  # below the 99-yuan threshold
    assert re.search(r'data-testid="pay-total">¥67.80<', html)
    assert hidden(html, "expected_total_fen") == "6780"
    assert f'data-testid="address-{world.address_id}"' in html and "世纪大道 100 号" in html
    key = hidden(html, "idempotency_key")
    form = {"address_id": world.address_id, "expected_total_fen": 6780, "idempotency_key": key,
            "sku_id": world.sku_ids[0], "qty": 2, "shop_id": world.shop_id, "note": "麻烦轻拿轻放"}

    # A double click: two submits of the same form at once, then a third one later.
    r1, r2 = await asyncio.gather(fan.post("/checkout", form), fan.post("/checkout", form))
    r3 = await fan.post("/checkout", form)
    orders = await orders_of(db, world.fan_id)
    assert len(orders) == 1
    order = orders[0]
    for r in (r1, r2, r3):
        assert r.status_code == 303, r.text
        assert r.headers["location"] == f"/orders/{order.id}/pay"
    assert order.shop_id == world.shop_id and order.total_fen == 6780 and order.note == "麻烦轻拿轻放"
    async with db.read() as s:
        stock = (await catalog.snapshots_with_stock(s, [world.sku_ids[0]]))[world.sku_ids[0]].stock
    assert stock == 98  # reserved once

    # A new form (new key) is a new order.
    page = await fan.get(url)
    await fan.post("/checkout", {**form, "idempotency_key": hidden(page.text, "idempotency_key")})
    assert len(await orders_of(db, world.fan_id)) == 2


async def test_cart_checkout_and_friendly_domain_errors(fan: Browser, db: Database, world: World) -> None:
    await fan.post("/cart/add", {"sku_id": world.sku_ids[0], "qty": 1, "shop_id": world.shop_id})
    await fan.post("/cart/add", {"sku_id": world.sku_ids[1], "qty": 2, "shop_id": world.shop_id})
    cart = (await fan.get("/cart")).text
    ids = re.findall(r'name="item" value="(\d+)"', cart)
    assert len(ids) == 2 and 'form="checkout-form"' in cart
    page = await fan.get("/checkout?" + "&".join(f"item={i}" for i in ids))
    html = page.text
    assert "¥129.70" in html and re.search(r'data-testid="shipping-total">包邮<', html)
    form = [("address_id", world.address_id), ("expected_total_fen", hidden(html, "expected_total_fen")),
            ("idempotency_key", hidden(html, "idempotency_key"))] + [("item", i) for i in ids]

    # The price changes while the buyer looks at the page: refused, explained, nothing ordered.
    async with db.write() as s:
        await catalog.set_price(s, world.sku_ids[1], 5990, None)
    r = await fan.post("/checkout", form)
    assert r.status_code == 409
    assert "价格有变化" in r.text and 'data-testid="checkout-error"' in r.text
    assert re.search(r'data-testid="pay-total">¥149.70<', r.text)  # the new total, ready to confirm
    assert await orders_of(db, world.fan_id) == []

    # Out of stock between page and submit.
    async with db.write() as s:
        await catalog.adjust_stock(s, world.sku_ids[0], -100, "test")
    page = await fan.get("/checkout?" + "&".join(f"item={i}" for i in ids))
    assert "仅剩 0 件" in page.text and re.search(r'data-testid="place-order" *disabled|disabled data-testid="place-order"',
                                                 page.text)
    r = await fan.post("/checkout", [("address_id", world.address_id), ("expected_total_fen", "14970"),
                                     ("idempotency_key", hidden(page.text, "idempotency_key"))]
                       + [("item", i) for i in ids])
    assert r.status_code == 409 and "库存不足" in r.text
    assert await orders_of(db, world.fan_id) == []

    async with db.write() as s:
        await catalog.adjust_stock(s, world.sku_ids[0], 10, "test-restock")
    page = await fan.get("/checkout?" + "&".join(f"item={i}" for i in ids))
    r = await fan.post("/checkout", [("address_id", world.address_id),
                                     ("expected_total_fen", hidden(page.text, "expected_total_fen")),
                                     ("idempotency_key", hidden(page.text, "idempotency_key"))]
                       + [("item", i) for i in ids])
    assert r.status_code == 303
    assert 'data-testid="empty-cart"' in (await fan.get("/cart")).text  # ordered lines leave the cart
    assert (await fan.get("/checkout?" + "&".join(f"item={i}" for i in ids))).headers["location"] == "/cart"


async def test_sandbox_payment_pages_mark_the_order_paid(fan: Browser, db: Database, world: World) -> None:
    page = await fan.get(f"/checkout?sku_id={world.sku_ids[1]}&qty=2&shop_id={world.shop_id}")
    r = await fan.post("/checkout", {"address_id": world.address_id, "sku_id": world.sku_ids[1], "qty": 2,
                                     "shop_id": world.shop_id,
                                     "expected_total_fen": hidden(page.text, "expected_total_fen"),
                                     "idempotency_key": hidden(page.text, "idempotency_key")})
    pay_url = r.headers["location"]
    order = (await orders_of(db, world.fan_id))[0]
    html = (await fan.get(pay_url)).text
    assert 'data-testid="method-sandbox"' in html and "沙箱支付" in html
    assert re.search(r'data-testid="pay-amount">¥99.80<', html)
    assert f'data-countdown="{order.pay_deadline.isoformat()}"' in html
    # The countdown runs on the server's clock (a phone's may be minutes off): the page carries its now.
    clock.freeze()
    html = (await fan.get(pay_url)).text
    assert f'data-countdown="{order.pay_deadline.isoformat()}" data-now="{clock.now().isoformat()}"' in html
    clock.set(clock.now())  # time flows again from here

    r = await fan.post(pay_url, {"provider": "sandbox"})
    assert r.status_code == 303
    cashier = r.headers["location"]
    assert cashier == f"/pay/sandbox/{order.order_no}P1"
    html = (await fan.get(cashier)).text
    assert 'data-testid="sandbox-pay"' in html and "¥99.80" in html

    r = await fan.post(cashier)
    assert r.status_code == 303 and r.headers["location"] == f"/orders/{order.id}?notice=paid"
    html = (await fan.get(r.headers["location"])).text
    assert "支付成功" in html and re.search(r'data-testid="order-status">待发货<', html)
    async with db.read() as s:
        assert (await s.get(Order, order.id)).status == "paid"  # type: ignore[union-attr]
    # Paying again changes nothing and the pages know the order is paid.
    r = await fan.post(cashier)
    assert r.headers["location"] == f"/orders/{order.id}?notice=paid"
    assert (await fan.get(pay_url)).headers["location"] == f"/orders/{order.id}"
    assert (await fan.get(cashier)).status_code == 303
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(Order))).scalar_one() == 1


async def test_someone_elses_payment_and_order_are_404(client: httpx.AsyncClient, fan: Browser, db: Database,
                                                       world: World) -> None:
    from tests.storefront.conftest import cookie_login

    r = await client.post("/api/orders", json={"address_id": world.address_id, "items": [
        {"sku_id": world.sku_ids[0], "quantity": 1}]}, headers=world.fan_headers)
    order = r.json()["orders"][0]
    r = await client.post(f"/api/orders/{order['id']}/pay", json={"provider": "sandbox"}, headers=world.fan_headers)
    out_trade_no = r.json()["out_trade_no"]

    from tests.conftest import make_user

    other_id, _ = await make_user(db, "13900000002", nickname="路人")
    client.cookies.clear()
    other = await cookie_login(client, db, other_id, "13900000002")
    for url in (f"/orders/{order['id']}", f"/orders/{order['id']}/pay", f"/pay/sandbox/{out_trade_no}",
                f"/orders/{order['id']}/aftersale?line_id={order['lines'][0]['id']}"):
        r = await other.get(url)
        assert r.status_code == 404, url
        assert r.headers["content-type"].startswith("text/html") and 'data-status="404"' in r.text
    r = await other.post(f"/pay/sandbox/{out_trade_no}")
    assert r.status_code == 404
    r = await other.post(f"/orders/{order['id']}/cancel")
    assert r.status_code == 404
    async with db.read() as s:
        assert (await s.get(Order, order["id"])).status == "pending_payment"  # type: ignore[union-attr]
