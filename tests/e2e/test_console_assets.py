"""In Chromium on a phone: the API docs render from our own origin under the CSP, the operator dashboard draws
its charts and its range picker works, the shopkeeper reaches earnings and posters from the console tabs,
and a supplier imports tracking numbers from a CSV file with per-row results."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

OPERATOR = "13800000001"
SUPPLIER = "13800000011"
SHOPKEEPER = "13800000021"


def test_swagger_ui_and_redoc_render_the_operations(page: Page) -> None:
    blocked: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    outside: list[str] = []
    page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("http://127.0.0.1", "data:",
                                                                                  "blob:")) else None)
    failed: list[str] = []
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto("/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Quanzi API")
    expect(page.locator(".opblock").first).to_be_visible()
    # Swagger UI renders a long document's tags as they scroll into view: scroll down until it has drawn all.
    for _ in range(60):
        if page.locator(".opblock-summary-path", has_text="/api/orders").count():
            break
        page.mouse.wheel(0, 4000)
        page.wait_for_timeout(100)
    assert page.locator(".opblock").count() > 10  # drawn (Swagger UI keeps only the visible tags in the page)
    assert page.evaluate("() => window.ui.specSelectors.taggedOperations().size") > 20  # tags it loaded
    assert page.locator(".opblock-summary-path", has_text="/api/orders").count() >= 1
    assert not [m for m in blocked if "script" in m.lower()], blocked
    page.goto("/redoc")
    expect(page.locator("h1", has_text="Quanzi API")).to_be_visible(timeout=20_000)
    expect(page.locator("[data-section-id^='operation/']").first).to_be_attached()
    assert page.locator("[data-section-id^='operation/']").count() > 20
    # Nothing the docs need comes from elsewhere: ReDoc's own "powered by" badge points at its CDN and the
    # CSP (img-src 'self') stops it.
    assert all("cdn.redoc.ly" in url and url in failed for url in outside), (outside, failed)


def test_operator_dashboard_charts_and_range_picker(page: Page, login, screenshot) -> None:  # noqa: ANN001
    login(page, OPERATOR)
    page.goto("/console")
    board = page.get_by_test_id("operator-dashboard")
    expect(board).to_be_visible()
    expect(page.get_by_test_id("range-30")).to_have_class(re.compile(r"\bon\b"))
    for chart in ("board-gmv-chart", "board-counts-chart", "board-top-chart"):
        expect(page.locator(f"[data-testid={chart}] svg")).to_be_visible()  # ECharts drew it
    screenshot(page, "dashboard-30-days")
    month_orders = int(page.get_by_test_id("board-orders").inner_text())
    assert month_orders > 0
    page.get_by_test_id("range-7").click()
    expect(page).to_have_url(re.compile(r"range=7"))
    expect(page.get_by_test_id("range-7")).to_have_class(re.compile(r"\bon\b"))
    assert int(page.get_by_test_id("board-orders").inner_text()) <= month_orders
    # A custom range with nothing in it: the empty state, no chart.
    page.get_by_test_id("range-from").fill("2020-01-01")
    page.get_by_test_id("range-to").fill("2020-01-31")
    page.get_by_test_id("range-apply").click()
    expect(page.get_by_test_id("board-empty")).to_be_visible()
    expect(page.get_by_test_id("board-range")).to_have_text("2020-01-01 – 2020-01-31")
    assert page.locator("[data-testid=board-gmv-chart]").count() == 0
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


def test_shopkeeper_reaches_earnings_and_posters_from_the_tabs(page: Page, login) -> None:  # noqa: ANN001
    login(page, SHOPKEEPER)
    page.goto("/console")
    expect(page.get_by_test_id("kpi-fans")).to_have_text(re.compile(r"^\d+$"))
    page.get_by_test_id("tab-shop-earnings").click()
    expect(page).to_have_url(re.compile(r"/console/earnings$"))
    expect(page.get_by_test_id("tab-shop-earnings")).to_have_class(re.compile(r"\bon\b"))
    page.get_by_test_id("tab-shop-posters").click()
    expect(page).to_have_url(re.compile(r"/console/posters$"))
    expect(page.get_by_test_id("tab-shop-posters")).to_have_class(re.compile(r"\bon\b"))


def test_supplier_imports_tracking_numbers_with_per_row_results(page: Page, login, tmp_path) -> None:  # noqa: ANN001
    login(page, SUPPLIER)
    page.goto("/console/fulfilment")
    orders = page.get_by_test_id("to-ship-order")
    assert orders.count() > 0, "the demo gives its first supplier paid orders to ship"
    order_no = orders.first.get_by_test_id("order-no").inner_text().strip()
    with page.expect_download() as download:
        page.get_by_test_id("export-submit").click()
    exported = download.value.path().read_bytes()
    assert exported.startswith(b"\xef\xbb\xbf") and order_no.encode() in exported
    csv_file = tmp_path / "tracking.csv"
    csv_file.write_text(f"订单号,快递公司,快递单号\n{order_no},顺丰,SF7788990011\nQZ404,顺丰,SF1\n",
                        encoding="utf-8-sig")
    page.get_by_test_id("import-file").set_input_files(str(csv_file))
    page.get_by_test_id("import-submit").click()
    expect(page.get_by_test_id("import-report")).to_be_visible()
    expect(page.locator("[data-testid=import-row][data-line='2']")).to_have_attribute("data-outcome", "shipped")
    expect(page.locator("[data-testid=import-row][data-line='3']")).to_have_attribute("data-outcome", "refused")
    expect(page.locator("[data-testid=import-row][data-line='3']")).to_contain_text("没有这个订单号")
    expect(page.get_by_test_id("shipped")).to_contain_text("SF7788990011")
