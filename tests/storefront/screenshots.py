"""Screenshots of every storefront page on a phone-sized Chromium, to check the look by eye (not a test).

Start a server with demo data first, then run this against it:

    DATABASE_URL=sqlite:////tmp/sf.db .venv/bin/quanzi migrate && DATABASE_URL=sqlite:////tmp/sf.db .venv/bin/quanzi demo
    DATABASE_URL=sqlite:////tmp/sf.db .venv/bin/quanzi serve --port 8123 &
    .venv/bin/python tests/storefront/screenshots.py [--base http://127.0.0.1:8123] [--lang en]

PNGs go to test-results/storefront/. Uses the system Chromium (/usr/bin/chromium); never downloads one.
It walks the money path as the demo fan: shop → product → cart → checkout → pay → sandbox → order.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "test-results" / "storefront"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
FAN = ("13800000101", "quanzi-demo")


def shoot(page: Page, name: str, lang: str, *, full: bool = True) -> None:
    """Full page by default (fixed bars then sit mid-page); full=False is what the phone shows first."""
    path = OUT / f"{name}{'-en' if lang == 'en' else ''}.png"
    page.screenshot(path=str(path), full_page=full)
    print(f"{path.relative_to(ROOT)}  ←  {page.url}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", default="http://127.0.0.1:8123")
    ap.add_argument("--lang", default="zh_CN", choices=["zh_CN", "en"])
    ap.add_argument("--shop", type=int, default=1)
    a = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        ctx = browser.new_context(base_url=a.base, viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True, locale="zh-CN", timezone_id="Asia/Shanghai")
        ctx.add_cookies([{"name": "lang", "value": a.lang, "url": a.base}])
        page = ctx.new_page()
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

        page.goto(f"/s/{a.shop}")
        shoot(page, "01-shop", a.lang)
        first = page.locator('[data-testid^="shelf-item-"]').first
        first.click()
        page.wait_for_load_state()
        shoot(page, "02-product-in-shop", a.lang)
        page.evaluate("window.scrollTo(0, 420)")
        shoot(page, "02b-product-first-screen", a.lang, full=False)
        # A product with a crossed-out reference price or a non-returnable notice, if the demo has one.
        for pid in range(1, 43):
            page.goto(f"/p/{pid}")
            if page.locator('[data-testid="ref-price"]').count():
                shoot(page, "03-product-reference-price", a.lang)
                break
        page.goto("/search?q=苹果")
        shoot(page, "04-search", a.lang)
        page.goto("/search")
        shoot(page, "04b-search-all", a.lang)

        page.goto("/login")
        page.locator("details.password-login summary").click()
        page.fill('[data-testid="pw-phone"]', FAN[0])
        page.fill('[data-testid="password"]', FAN[1])
        page.click('[data-testid="login-password"]')
        page.wait_for_load_state()

        page.goto("/cart")
        while page.locator("form.remove button").count():  # start from an empty cart
            page.locator("form.remove button").first.click()
            page.wait_for_load_state()
        shoot(page, "05-cart-empty", a.lang)

        page.goto(f"/s/{a.shop}")
        page.locator('[data-testid^="shelf-item-"]').first.click()
        page.click('[data-testid="add-to-cart"]')
        page.wait_for_load_state()
        shoot(page, "06-product-added", a.lang)
        page.goto(f"/s/{a.shop}")
        page.locator('[data-testid^="shelf-item-"]').nth(1).click()
        page.click('[data-testid="add-to-cart"]')
        page.goto("/p/20")
        page.click('[data-testid="add-to-cart"]')
        page.goto("/cart")
        shoot(page, "07-cart", a.lang)

        page.click('[data-testid="checkout"]')
        page.wait_for_load_state()
        shoot(page, "08-checkout", a.lang)
        page.click('[data-testid="place-order"]')
        page.wait_for_load_state()
        shoot(page, "09-pay-choose", a.lang)
        page.click('[data-testid="pay"]')
        page.wait_for_load_state()
        page.wait_for_timeout(1100)  # let the countdown tick once
        shoot(page, "10-sandbox-cashier", a.lang)
        page.click('[data-testid="sandbox-pay"]')
        page.wait_for_load_state()
        shoot(page, "11-after-pay", a.lang)
        while page.locator('[data-testid="sandbox-pay"]').count() or "/pay" in page.url:
            if page.locator('[data-testid="pay"]').count():
                page.click('[data-testid="pay"]')
            page.click('[data-testid="sandbox-pay"]')
            page.wait_for_load_state()
        shoot(page, "12-order-paid", a.lang)

        page.goto("/orders")
        shoot(page, "13-orders", a.lang)
        page.goto("/orders?tab=to_review")
        link = page.locator('[data-testid^="order-link-"]').first
        if link.count():
            link.click()
            page.wait_for_load_state()
            shoot(page, "14-order-received", a.lang)
            button = page.locator('[data-testid^="request-aftersale-"]').first
            if button.count():
                button.click()
                page.wait_for_load_state()
                shoot(page, "15-aftersale-form", a.lang)
                page.select_option('[data-testid="aftersale-reason"]', "quality")
                page.fill('[data-testid="aftersale-details"]', "有两个压坏了")
                page.click('[data-testid="aftersale-submit"]')
                page.wait_for_load_state()
                shoot(page, "16-aftersale-detail", a.lang)
        page.goto("/orders?tab=shipped")
        link = page.locator('[data-testid^="order-link-"]').first
        if link.count():
            link.click()
            page.wait_for_load_state()
            shoot(page, "17-order-shipped", a.lang)
            button = page.locator('[data-testid^="request-aftersale-"]').first
            if button.count():
                button.click()
                page.wait_for_load_state()
                shoot(page, "17b-aftersale-form-shipped", a.lang)
        page.goto("/aftersales")
        shoot(page, "18-aftersales", a.lang)
        for href in page.locator('[data-testid^="aftersale-link-"]').evaluate_all("els => els.map(e => e.href)"):
            page.goto(href)
            if page.locator('[data-testid="ship-back-form"]').count():
                shoot(page, "19-aftersale-ship-back", a.lang)
                break
        page.goto("/orders/999999")
        shoot(page, "20-not-found", a.lang)
        if errors:
            print("console errors:", *errors, sep="\n  ")
        browser.close()


if __name__ == "__main__":
    main()
