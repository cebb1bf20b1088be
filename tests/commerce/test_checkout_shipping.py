"""Shipping per checkout or per package (an operator policy setting, validated and audited), shown plainly on
the checkout page before payment; the checkout and pay pages pay the whole checkout once; order numbers
stay unique when a number is taken anyway (a forced collision)."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from quanzi.audit.models import AuditLog
from quanzi.kit import outbox
from quanzi.orders.models import Checkout, Order
from quanzi.payments.models import CheckoutPayment, Payment
from quanzi.policy import service as policy
from quanzi.policy.service import CommercePolicy
from quanzi.shops import service as shops
from tests.commerce._support import count, err, rows
from tests.conftest import make_user
from tests.console.helpers import browser
from tests.factories import World, add_supplier, make_world


async def _world(db) -> tuple[World, list[int]]:  # noqa: ANN001
    w = await make_world(db)  # apples 29.90 / 49.90
    mango = await add_supplier(db, "13600000021", code_prefix="MG", prices=(1990,))
    pear = await add_supplier(db, "13600000022", code_prefix="PR", prices=(3500,), title="库尔勒香梨")
    async with db.write() as s:
        shop = (await shops.shops_by_id(s, [w.shop_id]))[w.shop_id]
        await shops.add_to_shelf(s, shop, mango.product_id)
        await shops.add_to_shelf(s, shop, pear.product_id)
    return w, [w.sku_ids[0], mango.sku_ids[0], pear.sku_ids[0]]


async def _set(client, headers, **values) -> None:  # noqa: ANN001
    r = await client.put("/api/policy/commerce", json=values, headers=headers)
    assert r.status_code == 200, r.text


async def test_per_package_versus_per_checkout_shipping(client, db) -> None:  # noqa: ANN001
    w, skus = await _world(db)
    _, op = await make_user(db, "13700000099", "operator")
    items = [{"sku_id": skus[0], "quantity": 1, "shop_id": w.shop_id},   # 29.90
             {"sku_id": skus[1], "quantity": 2, "shop_id": w.shop_id},   # 39.80
             {"sku_id": skus[2], "quantity": 1, "shop_id": w.shop_id}]   # 35.00 → 104.70 together

    async def place() -> dict:  # noqa: ANN202
        r = await client.post("/api/orders", json={"address_id": w.address_id, "items": items}, headers=w.fan_headers)
        assert r.status_code == 201, r.text
        return r.json()

    # Per package (the default): no package reaches 99 yuan alone, so three fees.
    c = await place()
    assert c["shipping_mode"] == "per_package"
    assert [o["shipping_fen"] for o in c["orders"]] == [800, 800, 800]
    assert c["total_fen"] == 10470 + 2400

    # Per checkout: the threshold counts the whole checkout (104.70 ≥ 99): free.
    await _set(client, op, shipping_mode="per_checkout")
    c = await place()
    assert c["shipping_mode"] == "per_checkout"
    assert [o["shipping_fen"] for o in c["orders"]] == [0, 0, 0] and c["total_fen"] == 10470

    # Per checkout under the threshold: ONE fee, spread exactly over the packages by their goods.
    await _set(client, op, free_shipping_threshold_fen=20000, shipping_flat_fen=1000)
    c = await place()
    shares = [o["shipping_fen"] for o in c["orders"]]
    assert sum(shares) == 1000 == c["shipping_fen"]
    assert shares == [286, 380, 334]  # 1000 × 2990/10470, 3980/10470, 3500/10470, largest remainder
    assert c["total_fen"] == 10470 + 1000 == sum(o["total_fen"] for o in c["orders"])
    # The combined payment charges exactly that.
    r = await client.post(f"/api/checkouts/{c['checkout_id']}/pay", json={"provider": "sandbox"},
                          headers=w.fan_headers)
    assert r.json()["amount_fen"] == 11470

    # The setting is validated and every change audited.
    r = await client.put("/api/policy/commerce", json={"shipping_mode": "per_order"}, headers=op)
    assert r.status_code == 422
    async with db.read() as s:
        assert (await policy.get(s, CommercePolicy)).shipping_mode == "per_checkout"
        audits = list((await s.execute(select(AuditLog).where(AuditLog.action == "policy.update")
                                       .order_by(AuditLog.id))).scalars())
    assert audits[0].changes["shipping_mode"] == ["per_package", "per_checkout"]


async def test_policy_console_sets_the_shipping_mode(app, db) -> None:  # noqa: ANN001
    op = await browser(app, db, "13700000098", "operator")
    page = await op.get("/console/policy")
    assert 'data-testid="pol-shipping_mode-per_package"' in page.text
    assert re.search(r'value="per_package" checked', page.text)
    form = {"shipping_flat_fen": "8", "free_shipping_threshold_fen": "99", "unpaid_timeout_minutes": "15",
            "auto_receive_days": "10", "return_window_days": "7"}
    r = await op.post("/console/policy", {**form, "shipping_mode": "per_parcel"})
    assert r.status_code == 422 and 'data-testid="error-shipping_mode"' in r.text
    r = await op.submit("/console/policy", {**form, "shipping_mode": "per_checkout"})
    assert re.search(r'value="per_checkout" checked', r.text)
    async with db.read() as s:
        assert (await policy.get(s, CommercePolicy)).shipping_mode == "per_checkout"
    await op.close()


async def test_checkout_page_shows_shipping_before_payment_then_one_payment_for_all(app, db) -> None:  # noqa: ANN001
    w, skus = await _world(db)
    fan = await browser(app, db, "13900000001")
    for sku, qty in ((skus[0], 1), (skus[1], 1), (skus[2], 1)):  # 29.90 + 19.90 + 35.00 = 84.80
        await fan.get("/cart")
        r = await fan.post("/cart/add", {"sku_id": sku, "qty": qty, "shop_id": w.shop_id})
        assert r.status_code in (200, 303), r.text
    cart_page = (await fan.get("/cart")).text
    ids = re.findall(r'name="item" value="(\d+)"', cart_page)
    assert len(ids) == 3
    url = "/checkout?" + "&".join(f"item={i}" for i in ids)

    # Per package: three fees, and each package says what it still misses for free shipping.
    html = (await fan.get(url)).text
    assert re.search(r'data-testid="shipping-total">¥24.00<', html)
    assert 'data-testid="shipping-label-per_package"' in html
    assert len(re.findall(r'data-testid="package-missing"', html)) == 3
    assert re.search(r'data-testid="pay-total">¥108.80<', html)

    # Per checkout: one fee, and the one amount still missing to free shipping (99.00 − 84.80 = 14.20).
    async with db.write() as s:
        await policy.put(s, CommercePolicy, {"shipping_mode": "per_checkout"}, None)
    html = (await fan.get(url)).text
    assert re.search(r'data-testid="shipping-total">¥8.00<', html)
    assert re.search(r'data-testid="free-shipping-missing">[^<]*¥14.20', html)
    assert re.search(r'data-testid="pay-total">¥92.80<', html)
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    r = await fan.post("/checkout", {"address_id": w.address_id, "expected_total_fen": 9280, "idempotency_key": key,
                                     "item": ids})
    assert r.status_code == 303, r.text
    (checkout,) = await rows(db, Checkout)
    assert r.headers["location"] == f"/checkouts/{checkout.id}/pay"

    # The pay page: one amount, every order listed, one button.
    html = (await fan.get(r.headers["location"])).text
    assert re.search(r'data-testid="pay-amount">¥92.80<', html)
    assert len(re.findall(r'data-testid="pay-order-\d+"', html)) == 3
    assert html.count('data-testid="pay"') == 1
    # An order's own pay link leads to the same one payment.
    order = (await rows(db, Order, order_by=Order.id))[0]
    r = await fan.get(f"/orders/{order.id}/pay")
    assert r.status_code == 303 and r.headers["location"] == f"/checkouts/{checkout.id}/pay"

    r = await fan.post(f"/checkouts/{checkout.id}/pay", {"provider": "sandbox"})
    assert r.status_code == 303
    cashier = r.headers["location"]
    (cp,) = await rows(db, CheckoutPayment)
    assert cashier == f"/pay/sandbox/{cp.out_trade_no}"
    html = (await fan.get(cashier)).text
    assert re.search(r'data-testid="sandbox-amount">¥92.80<', html)
    assert len(re.findall(r'data-testid="sandbox-order"', html)) == 3
    r = await fan.post(cashier)  # one press
    assert r.status_code == 303 and r.headers["location"] == f"/checkouts/{checkout.id}?notice=paid"
    html = (await fan.get(r.headers["location"])).text
    assert 'data-testid="notice"' in html
    assert len(re.findall(r'data-testid="checkout-order-\d+"', html)) == 3
    assert await count(db, Order, Order.status == "paid") == 3
    assert await count(db, Payment) == 3 and await count(db, CheckoutPayment) == 1
    # Back on the cashier: already paid, straight to the orders.
    r = await fan.get(cashier)
    assert r.headers["location"] == f"/checkouts/{checkout.id}?notice=paid"
    await outbox.drain(db)
    await fan.close()


async def test_order_numbers_survive_a_forced_collision(client, db, monkeypatch) -> None:  # noqa: ANN001
    """Numbers are unique by construction (checkout id + place in it). Should a number be taken anyway (a row
    imported from elsewhere), placement still succeeds with a suffixed number: never an IntegrityError."""
    import quanzi.orders.service as order_service

    w, skus = await _world(db)
    monkeypatch.setattr(order_service.secrets, "randbelow", lambda n: 0)  # numbers become predictable
    r = await client.post("/api/orders", json={"address_id": w.address_id, "items": [
        {"sku_id": skus[0], "quantity": 1}]}, headers=w.fan_headers)
    first = r.json()
    (order,) = first["orders"]
    assert order["order_no"] == order_service.order_no_for(first["checkout_id"], 1, order_service.clock.now())
    # The next checkout will be id + 1: give its first number to the existing order (an "imported" row).
    taken = order_service.order_no_for(first["checkout_id"] + 1, 1, order_service.clock.now())
    async with db.write() as s:
        await s.execute(update(Order).where(Order.id == order["id"]).values(order_no=taken))

    r = await client.post("/api/orders", json={"address_id": w.address_id, "items": [
        {"sku_id": skus[0], "quantity": 1}, {"sku_id": skus[1], "quantity": 1}]}, headers=w.fan_headers)
    assert r.status_code == 201, r.text
    numbers = [o["order_no"] for o in r.json()["orders"]]
    assert numbers[0] == taken + "-000"  # the taken number, suffixed
    assert numbers[1] == order_service.order_no_for(first["checkout_id"] + 1, 2, order_service.clock.now())
    assert len({o.order_no for o in await rows(db, Order)}) == 3
    # Paying goes on as usual with the suffixed number.
    r = await client.post(f"/api/checkouts/{r.json()['checkout_id']}/pay", json={"provider": "sandbox"},
                          headers=w.fan_headers)
    assert r.status_code == 200, r.text


async def test_too_many_packages_is_a_clear_refusal(client, db, monkeypatch) -> None:  # noqa: ANN001
    import quanzi.orders.service as order_service

    w, skus = await _world(db)
    monkeypatch.setattr(order_service, "MAX_PACKAGES", 2)
    r = await client.post("/api/orders", json={"address_id": w.address_id, "items": [
        {"sku_id": k, "quantity": 1} for k in skus]}, headers=w.fan_headers)
    assert r.status_code == 422 and err(r) == "order.too_many_packages"
    assert await count(db, Order) == 0 and await count(db, Checkout) == 0
