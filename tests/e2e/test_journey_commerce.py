"""Journey "Core commerce": a fan buys two options of one product in a shop, pays in the sandbox; the
supplier ships; the fan confirms receipt and returns one item; the supplier approves and confirms the
return; the refund goes back through the sandbox provider (the embedded worker delivers the outbox).

Three people, three browser contexts on the shared e2e server: the fan (13800000101), the supplier
(13800000011) and, for reading ids only, the server's SQLite file. Every step is checked on the page
(status words in the Chinese catalog, amounts, numbers) and screenshotted to test-results/e2e/.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

import pytest
from playwright.sync_api import Page, expect

from quanzi.kit.i18n import translations
from quanzi.kit.money import yuan

FAN = "13800000101"
SUPPLIER = "+8613800000011"
SHOPKEEPER = "+8613800000021"
zh = translations("zh_CN").ugettext  # the page's words come from the Chinese catalog
REFUND_TIMEOUT = 15.0


@dataclass(frozen=True)
class Pick:
    shop_id: int
    shop_name: str
    product_id: int
    title: str
    skus: list[tuple[int, str, int]]  # (sku id, label, price in fen): the two cheapest in stock


def pick_product(server, supplier: str = SUPPLIER, shopkeeper: str = SHOPKEEPER) -> Pick:  # noqa: ANN001
    """A returnable product of `supplier` on `shopkeeper`'s shelf with two SKUs in stock, from the server's
    own database (the demo seeds several; the first on the shelf is taken)."""
    rows = server.query("""
        SELECT sh.id AS shop_id, sh.name AS shop_name, p.id AS product_id, p.title
        FROM shelf_items si
        JOIN shops sh ON sh.id = si.shop_id JOIN users keeper ON keeper.id = sh.owner_id
        JOIN products p ON p.id = si.product_id
        JOIN suppliers su ON su.id = p.supplier_id JOIN users owner ON owner.id = su.owner_id
        WHERE keeper.phone = ? AND owner.phone = ? AND sh.status = 'open' AND p.status = 'published'
          AND NOT p.non_returnable
          AND (SELECT count(*) FROM skus k WHERE k.product_id = p.id AND k.is_active AND k.stock >= 5) >= 2
        ORDER BY si.position, p.id LIMIT 1
    """, (shopkeeper, supplier))
    if not rows:
        pytest.fail(f"the demo has no returnable two-SKU product of {supplier} on {shopkeeper}'s shelf")
    r = rows[0]
    skus = server.query("""SELECT id, label, price_fen FROM skus
                           WHERE product_id = ? AND is_active AND stock >= 5
                           ORDER BY price_fen, id LIMIT 2""", (r["product_id"],))
    return Pick(r["shop_id"], r["shop_name"], r["product_id"], r["title"],
                [(k["id"], k["label"], k["price_fen"]) for k in skus])


def fen_of(text: str) -> int:
    """'¥1,234.50' -> 123450; '-¥7.17' -> -717."""
    digits = re.sub(r"[^0-9.\-]", "", text)
    sign = -1 if digits.startswith("-") else 1
    whole, _, frac = digits.lstrip("-").partition(".")
    return sign * (int(whole or 0) * 100 + int((frac + "00")[:2]))


def snap(screenshot, page: Page, name: str):  # noqa: ANN001, ANN201
    """A full-page screenshot taken from the top (scrolled, the sticky top bar lands mid-picture)."""
    page.evaluate("window.scrollTo(0, 0)")
    return screenshot(page, name)


def snap_card(screenshot, page: Page, card, name: str):  # noqa: ANN001, ANN201
    """`snap`, plus a picture of one card alone (…-<name>-card.png), without the fixed tab bar, which in a
    full-page picture can cover the lower part of a card."""
    path = snap(screenshot, page, name)
    card.screenshot(path=str(path.with_name(path.stem + "-card.png")), style=".tabbar { display: none; }")
    return path


def choose_sku(page: Page, sku_id: int) -> None:
    page.get_by_test_id(f"sku-{sku_id}").click()
    expect(page.get_by_test_id(f"sku-{sku_id}").locator("input[type=radio]")).to_be_checked()


def confirm_in_sandbox(page: Page, screenshot, prefix: str) -> tuple[int, str]:  # noqa: ANN001
    """On /orders/{id}/pay: the sandbox method, the cashier, confirm. Returns the order id and the amount
    shown; where the buyer lands afterwards is the caller's to check (a campaign may have its own page)."""
    page.wait_for_url(re.compile(r"/orders/\d+/pay$"))
    order_id = int(re.search(r"/orders/(\d+)/pay", page.url).group(1))
    amount = page.get_by_test_id("pay-amount").inner_text()
    expect(page.get_by_test_id("method-sandbox").locator("input")).to_be_checked()
    screenshot(page, f"{prefix}-pay")
    page.get_by_test_id("pay").click()
    page.wait_for_url(re.compile(r"/pay/sandbox/"))
    expect(page.get_by_test_id("sandbox-cashier")).to_be_visible()
    expect(page.get_by_test_id("sandbox-amount")).to_have_text(amount)
    screenshot(page, f"{prefix}-cashier")
    page.get_by_test_id("sandbox-pay").click()
    return order_id, amount


def pay_in_sandbox(page: Page, screenshot, prefix: str) -> int:  # noqa: ANN001
    """On /orders/{id}/pay: the sandbox method, the cashier, confirm; lands on the paid order. Returns the
    order id (now paid)."""
    order_id, amount = confirm_in_sandbox(page, screenshot, prefix)
    page.wait_for_url(re.compile(rf"/orders/{order_id}\?notice=paid$"))
    expect(page.get_by_test_id("notice")).to_have_text(zh("Payment received. Thank you!"))
    expect(page.get_by_test_id("order-status")).to_have_text(zh("Awaiting shipment"))
    expect(page.get_by_test_id("order-total")).to_have_text(amount)
    expect(page.get_by_test_id("event-paid")).to_be_visible()
    return order_id


def ship_in_console(page: Page, order_id: int, order_no: str, carrier: str, tracking: str) -> None:
    """The supplier's fulfilment page: ship one order with a carrier and a tracking number."""
    page.goto("/console/fulfilment")
    card = page.locator(f"[data-testid=to-ship-order][data-order-id='{order_id}']")
    expect(card.get_by_test_id("order-no")).to_have_text(order_no)
    card.get_by_test_id("ship-carrier").select_option(carrier)
    card.get_by_test_id("ship-tracking").fill(tracking)
    card.get_by_test_id("ship-submit").click()
    page.wait_for_url(re.compile(r"/console/fulfilment$"))
    done = zh("Order %(no)s shipped with %(carrier)s, tracking number %(tracking)s.")
    expect(page.get_by_test_id("flash")).to_have_text(done % {"no": order_no, "carrier": carrier,
                                                              "tracking": tracking})
    expect(page.locator(f"[data-testid=to-ship-order][data-order-id='{order_id}']")).to_have_count(0)
    row = page.locator(f"[data-testid=shipped-order][data-order-id='{order_id}']")
    expect(row).to_contain_text(tracking)
    expect(row).to_contain_text(carrier)


def test_fan_buys_two_options_pays_returns_one_and_is_refunded(
        page: Page, e2e_server, new_context, login, screenshot) -> None:  # noqa: ANN001
    pick = pick_product(e2e_server)
    (sku_a, label_a, price_a), (sku_b, label_b, price_b) = pick.skus

    # --- the fan: shop → product → two options into the cart ------------------------------------
    login(page, FAN)
    page.goto(f"/s/{pick.shop_id}")
    expect(page.get_by_test_id("shop-name")).to_have_text(pick.shop_name)
    item = page.get_by_test_id(f"shelf-item-{pick.product_id}")
    expect(item.get_by_test_id("shelf-title")).to_have_text(pick.title)
    snap(screenshot, page, "01-shop")
    item.click()
    page.wait_for_url(re.compile(rf"/s/{pick.shop_id}/p/{pick.product_id}$"))
    expect(page.get_by_test_id("product-title")).to_have_text(pick.title)
    expect(page.get_by_test_id("returnable")).to_have_text(zh("7-day no-reason return"))
    expect(page.get_by_test_id("shop-link")).to_contain_text(pick.shop_name)

    choose_sku(page, sku_a)
    expect(page.get_by_test_id(f"sku-{sku_a}")).to_contain_text(label_a)
    snap(screenshot, page, "02-product-sku-a")
    page.get_by_test_id("add-to-cart").click()
    expect(page.get_by_test_id("added")).to_contain_text(zh("Added to your cart."))
    choose_sku(page, sku_b)
    page.get_by_test_id("add-to-cart").click()
    expect(page.get_by_test_id("added")).to_be_visible()
    snap(screenshot, page, "03-product-added")

    page.get_by_test_id("added-go-cart").click()
    page.wait_for_url(re.compile(r"/cart$"))
    group = page.get_by_test_id(f"cart-group-{pick.shop_id}")
    expect(group).to_contain_text(pick.shop_name)
    # The demo fan's cart starts empty (each run has its own copy of the demo database).
    expect(page.locator("[data-testid^=cart-line-]")).to_have_count(2)
    expect(group.locator("[data-testid^=cart-line-]")).to_have_count(2)
    expect(group).to_contain_text(label_a)
    expect(group).to_contain_text(label_b)
    expect(page.locator("[data-testid^=pick-]:checked")).to_have_count(2)
    expect(page.get_by_test_id("cart-total")).to_have_text(yuan(price_a + price_b))
    snap(screenshot, page, "04-cart")

    # --- checkout: an address (inline if the fan has none), place the order, pay ------------------
    page.get_by_test_id("checkout").click()
    page.wait_for_url(re.compile(r"/checkout\?"))
    expect(page.get_by_test_id(f"checkout-line-{sku_a}")).to_contain_text(label_a)
    expect(page.get_by_test_id(f"checkout-line-{sku_b}")).to_contain_text(label_b)
    expect(page.get_by_test_id("checkout-group")).to_have_count(1)  # one supplier, one shop: one order
    expect(page.get_by_test_id("goods-total")).to_have_text(yuan(price_a + price_b))
    if page.locator("[data-testid^=address-] input[name=address_id]").count() == 0:
        page.get_by_test_id("addr-name").fill("王小红")
        page.get_by_test_id("addr-phone").fill(FAN)
        page.get_by_test_id("addr-province").select_option(label="上海市")
        expect(page.get_by_test_id("addr-city")).to_be_enabled()
        page.get_by_test_id("addr-city").select_option(label="上海市")
        expect(page.get_by_test_id("addr-district")).to_be_enabled()
        page.get_by_test_id("addr-district").select_option(label="浦东新区")
        page.get_by_test_id("addr-detail").fill("世纪大道 100 号 8 楼")
        page.get_by_test_id("save-address").click()
        page.wait_for_url(re.compile(r"/checkout\?.*address_id="))
    expect(page.locator("[data-testid^=address-] input[name=address_id]:checked")).to_have_count(1)
    expect(page.get_by_test_id("place-order")).to_be_enabled()
    pay_total = page.get_by_test_id("pay-total").inner_text()
    snap(screenshot, page, "05-checkout")
    page.get_by_test_id("place-order").click()
    order_id = pay_in_sandbox(page, lambda p, n: snap(screenshot, p, n), "06")
    order_no = page.get_by_test_id("order-no").inner_text()
    expect(page.get_by_test_id("order-total")).to_have_text(pay_total)
    order_lines = {}
    for line in page.locator("[data-testid^=line-]").all():
        order_lines[line.locator(".psub").inner_text()] = int(line.get_attribute("data-testid")[5:])
    assert set(order_lines) == {label_a, label_b}, order_lines
    snap(screenshot, page, "07-order-paid")

    # --- the supplier ships it --------------------------------------------------------------------
    supplier = new_context().new_page()
    login(supplier, SUPPLIER[3:])
    tracking = f"SF{order_id:010d}"
    ship_in_console(supplier, order_id, order_no, "顺丰速运", tracking)
    snap(screenshot, supplier, "08-supplier-shipped")

    # --- the fan confirms receipt and asks to return one item of option A -----------------------
    page.goto(f"/orders/{order_id}")
    expect(page.get_by_test_id("order-status")).to_have_text(zh("Shipped"))
    expect(page.get_by_test_id("tracking")).to_contain_text(tracking)
    expect(page.get_by_test_id("event-shipped")).to_contain_text(tracking)
    snap(screenshot, page, "09-order-shipped")
    page.get_by_test_id("confirm-receipt").click()
    page.wait_for_url(re.compile(rf"/orders/{order_id}\?notice=received$"))
    expect(page.get_by_test_id("notice")).to_have_text(zh("Receipt confirmed. Enjoy!"))
    expect(page.get_by_test_id("order-status")).to_have_text(zh("Received"))
    return_until = zh("7-day no-reason return until %(t)s.").split("%(t)s")[0]
    expect(page.get_by_test_id("status-banner")).to_contain_text(return_until)
    snap(screenshot, page, "10-order-received")

    line_a = order_lines[label_a]
    page.get_by_test_id(f"request-aftersale-{line_a}").click()
    page.wait_for_url(re.compile(rf"/orders/{order_id}/aftersale\?line_id={line_a}$"))
    page.get_by_test_id("kind-return_refund").click()
    expect(page.get_by_test_id("kind-return_refund").locator("input")).to_be_checked()
    page.get_by_test_id("aftersale-qty").fill("1")
    page.get_by_test_id("aftersale-reason").select_option("quality")
    page.get_by_test_id("aftersale-details").fill("包装破损，有一包漏气")
    snap(screenshot, page, "11-aftersale-form")
    page.get_by_test_id("aftersale-submit").click()
    page.wait_for_url(re.compile(r"/aftersales/\d+$"))
    aftersale_id = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_test_id("aftersale-status")).to_have_text(zh("Waiting for the supplier"))
    expect(page.get_by_test_id("aftersale-kind")).to_have_text(zh("Return and refund"))
    refund = page.get_by_test_id("aftersale-amount").inner_text()
    assert 0 < fen_of(refund) <= price_a, refund
    snap(screenshot, page, "12-aftersale-requested")

    # --- the supplier approves the return -------------------------------------------------------
    supplier.goto("/console/aftersales")
    card = supplier.locator(f"[data-testid=aftersale][data-aftersale-id='{aftersale_id}']")
    expect(card).to_contain_text(order_no)
    expect(card.get_by_test_id("aftersale-reason")).to_contain_text("包装破损")
    card.get_by_test_id("approve").click()
    expect(supplier.get_by_test_id("flash")).to_have_text(
        zh("Request #%(id)s approved: the buyer can now send the goods back.") % {"id": aftersale_id})
    snap(screenshot, supplier, "13-supplier-approved")

    # --- the fan sends it back ------------------------------------------------------------------
    page.reload()
    expect(page.get_by_test_id("aftersale-status")).to_have_text(zh("Please send the goods back"))
    page.get_by_test_id("return-carrier").fill("中通快递")
    return_tracking = f"ZT{aftersale_id:010d}"
    page.get_by_test_id("return-tracking").fill(return_tracking)
    page.get_by_test_id("ship-back").click()
    page.wait_for_url(re.compile(rf"/aftersales/{aftersale_id}$"))
    expect(page.get_by_test_id("aftersale-status")).to_have_text(zh("Sent back, waiting for the supplier"))
    expect(page.get_by_test_id("ship-back-form")).to_have_count(0)
    snap(screenshot, page, "14-sent-back")

    # --- the supplier confirms the goods came back: the refund starts ---------------------------
    supplier.reload()
    card = supplier.locator(f"[data-testid=aftersale][data-aftersale-id='{aftersale_id}']")
    expect(card).to_contain_text(return_tracking)
    card.get_by_test_id("receive").click()
    received = zh("Return of request #%(id)s received: stock is back and the refund is on its way.")
    expect(supplier.get_by_test_id("flash")).to_have_text(received % {"id": aftersale_id})
    snap(screenshot, supplier, "15-supplier-received-return")

    # --- the refund arrives (sandbox provider, via the outbox) ----------------------------------
    deadline = time.monotonic() + REFUND_TIMEOUT
    while True:
        page.goto(f"/aftersales/{aftersale_id}")
        status = page.get_by_test_id("aftersale-status").inner_text()
        if status == zh("Refunded") or time.monotonic() > deadline:
            break
        page.wait_for_timeout(500)
    assert status == zh("Refunded"), f"after-sale still “{status}” after {REFUND_TIMEOUT}s"
    expect(page.get_by_test_id("aftersale-banner")).to_contain_text(refund)
    snap(screenshot, page, "16-aftersale-refunded")

    page.goto(f"/orders/{order_id}")
    expect(page.get_by_test_id(f"refunded-{line_a}")).to_have_text(
        zh("%(n)s refunded (%(amount)s)") % {"n": 1, "amount": refund})
    expect(page.get_by_test_id("order-refunded")).to_have_text(refund)
    expect(page.get_by_test_id("event-refunded")).to_contain_text(refund)
    # One of three items came back: the order stays received (the rest is kept).
    expect(page.get_by_test_id("order-status")).to_have_text(zh("Received"))
    snap(screenshot, page, "17-order-refunded")

    supplier.goto("/console/aftersales")
    closed = supplier.locator(f"[data-testid=closed-aftersale][data-aftersale-id='{aftersale_id}']")
    expect(closed).to_contain_text(zh("Refunded"))
    snap(screenshot, supplier, "18-supplier-closed")
