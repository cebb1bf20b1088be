"""The operator dashboard: GMV net of refunds, paid orders, new people and top products per China-time day,
over a preset or custom range, with an empty state; the shopkeeper's fan count and console tabs."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime

from sqlalchemy import update

from quanzi.accounts.models import User
from quanzi.kit.clock import clock
from quanzi.orders import service as orders
from quanzi.orders.models import Order
from quanzi.web import dashboard as board
from tests.console.helpers import browser, place
from tests.factories import add_fan, add_supplier, bind_via_token, make_world

OPERATOR = "13600000009"


def _option(html: str, testid: str) -> dict:
    m = re.search(r"data-echarts='([^']+)' data-testid=\"" + testid + '"', html)
    assert m, testid
    return json.loads(m.group(1).replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&"))


def _kpi(html: str, testid: str) -> str:
    m = re.search(r'data-testid="' + testid + r'">([^<]*)<', html)
    assert m, testid
    return m.group(1)


async def _fixture(app, db, client):  # noqa: ANN001, ANN202
    """Wednesday 2025-06-18 10:00 in Shanghai. Orders (price + 8.00 shipping):
    today 37.90; 00:30 today in Shanghai (16:30 UTC the day before) 57.90; 23:30 yesterday in Shanghai 37.90;
    two days ago 67.80 of which 29.90 refunded; 20 days ago 37.90 (only in the 30-day range); one unpaid."""
    clock.set(datetime(2025, 6, 18, 2, 0, tzinfo=UTC))
    w = await make_world(db)
    mango = await add_supplier(db, "13700000005", code_prefix="MG", prices=(1990,))
    today = await place(client, w, [(w.sku_ids[0], 1)])
    after_midnight = await place(client, w, [(w.sku_ids[1], 1)])
    before_midnight = await place(client, w, [(w.sku_ids[0], 1)])
    refunded = await place(client, w, [(w.sku_ids[0], 2)])
    old = await place(client, w, [(w.sku_ids[0], 1)])
    await place(client, w, [(w.sku_ids[1], 5)], paid=False)
    mango_order = await place(client, w, [(mango.sku_ids[0], 3)], shop=False)  # 59.70 + 8.00, today
    async with db.write() as s:
        for order, at in [(after_midnight, datetime(2025, 6, 17, 16, 30, tzinfo=UTC)),
                          (before_midnight, datetime(2025, 6, 17, 15, 30, tzinfo=UTC)),
                          (refunded, datetime(2025, 6, 16, 3, 0, tzinfo=UTC)),
                          (old, datetime(2025, 5, 29, 3, 0, tzinfo=UTC))]:
            await s.execute(update(Order).where(Order.id == order["id"]).values(paid_at=at))
        line = (await orders.lines_of(s, [refunded["id"]]))[refunded["id"]][0]
        await orders.record_refund(s, refunded["id"], line.id, 1, 2990)
    # People: the world's three were created "now" (today); one more joined yesterday in Shanghai only.
    late = await add_fan(db, "13900000077")
    async with db.write() as s:
        await s.execute(update(User).where(User.id == late.user_id)
                        .values(created_at=datetime(2025, 6, 17, 15, 59, tzinfo=UTC)))
    return w, mango, {"today": today, "mango": mango_order}


async def test_numbers_per_china_day_net_of_refunds(app, db, client) -> None:  # noqa: ANN001
    w, mango, _orders = await _fixture(app, db, client)
    today = date(2025, 6, 18)
    async with db.read() as s:
        week = await board.numbers(s, board.parse_range(today, "7", None, None)[0])
        month = await board.numbers(s, board.parse_range(today, "30", None, None)[0])
    assert week.days[0] == "2025-06-12" and week.days[-1] == "2025-06-18" and len(week.days) == 7
    daily = dict(zip(week.days, zip(week.orders, week.gmv, week.refunded, week.people, strict=True), strict=True))
    # 18th: 37.90 + 57.90 (paid 00:30 Shanghai, still the 17th in UTC) + 67.70 (mango, no shop).
    assert daily["2025-06-18"] == (3, 3790 + 5790 + 6770, 0, 3 + 1)  # the world's 3 people + the mango supplier
    assert daily["2025-06-17"] == (1, 3790, 0, 1)  # 23:30 Shanghai; the fan who joined at 23:59
    assert daily["2025-06-16"] == (1, 6780 - 2990, 2990, 0)
    assert sum(week.orders) == 5 and week.total_gmv == 3790 + 5790 + 6770 + 3790 + 3790
    assert week.total_refunded == 2990 and week.average_fen == week.total_gmv // 5
    assert month.total_orders == 6 and month.total_gmv == week.total_gmv + 3790
    # Top products by net GMV: the apple (six units sold, one refunded) before the mango.
    assert [t["product_id"] for t in week.top] == [w.product_id, mango.product_id]
    apple = week.top[0]
    assert apple["quantity"] == 1 + 1 + 1 + 2 - 1 and apple["orders"] == 4
    assert apple["net_fen"] == 2990 + 4990 + 2990 + 2990 * 2 - 2990
    assert week.top[1] == {"product_id": mango.product_id, "title": "海南金煌芒果", "quantity": 3,
                           "net_fen": 5970, "orders": 1}
    # Day by day for the best sellers: the apple's 18th holds 29.90 + 49.90 (00:30 in Shanghai).
    apple_days = dict(zip(week.days, week.top_daily[w.product_id], strict=True))
    assert apple_days["2025-06-18"] == 2990 + 4990 and apple_days["2025-06-17"] == 2990
    assert apple_days["2025-06-16"] == 2990 * 2 - 2990 and sum(apple_days.values()) == apple["net_fen"]
    assert week.top_daily[mango.product_id][-1] == 5970


async def test_dashboard_page_range_picker_and_charts(app, db, client) -> None:  # noqa: ANN001
    await _fixture(app, db, client)
    op = await browser(app, db, OPERATOR, "operator")
    r = await op.get("/console?range=7")
    assert r.status_code == 200
    assert 'data-testid="operator-dashboard"' in r.text
    assert _kpi(r.text, "board-range") == "2025-06-12 – 2025-06-18"
    assert _kpi(r.text, "board-gmv") == "¥239.30" and _kpi(r.text, "board-orders") == "5"
    assert _kpi(r.text, "board-people") == "6"
    assert re.search(r'class="chip on" href="/console\?range=7#platform"', r.text)
    gmv = _option(r.text, "board-gmv-chart")
    assert gmv["xAxis"]["data"][-1] == "06-18" and gmv["series"][0]["data"][-1] == 163.5
    counts = _option(r.text, "board-counts-chart")
    assert counts["series"][0]["data"] == [0, 0, 0, 0, 1, 1, 3] and counts["series"][1]["data"][-2:] == [1, 5]
    assert _option(r.text, "board-top-chart")["yAxis"]["data"][-1] == "云南高原苹果"
    trend = _option(r.text, "board-top-trend-chart")
    assert [x["name"] for x in trend["series"]] == ["云南高原苹果", "海南金煌芒果"]
    assert trend["series"][1]["data"][-1] == 59.7
    assert '<script src="/static/vendor/echarts/echarts.min.js" defer></script>' in r.text

    # A custom range: 29 May only holds the old order; 20 days of nothing after it are still days.
    r = await op.get("/console?from=2025-05-29&to=2025-05-29")
    assert _kpi(r.text, "board-gmv") == "¥37.90" and _kpi(r.text, "board-orders") == "1"
    assert 'class="chip on"' not in r.text
    # Empty: no order and no new person.
    r = await op.get("/console?from=2025-01-01&to=2025-01-31")
    assert r.status_code == 200 and 'data-testid="board-empty"' in r.text
    assert 'data-testid="board-gmv-chart"' not in r.text and _kpi(r.text, "board-gmv") == "¥0.00"
    # Refused ranges say why and show the default 30 days.
    for first, last in (("2025-06-10", "2025-06-01"), ("2024-01-01", "2025-06-01"), ("2025-13-01", "2025-06-01"),
                        ("2025-07-01", "2025-07-02")):
        r = await op.get(f"/console?from={first}&to={last}")
        assert r.status_code == 422 and 'data-testid="range-error"' in r.text, (first, last)
        assert _kpi(r.text, "board-orders") == "6"
    await op.close()


async def test_only_operators_see_the_platform_numbers(app, db, client) -> None:  # noqa: ANN001
    await _fixture(app, db, client)
    for phone in ("13700000001", "13700000002", "13900000001"):  # supplier, shopkeeper, fan
        b = await browser(app, db, phone)
        r = await b.get("/console?range=90")
        assert r.status_code == 200 and 'data-testid="operator-dashboard"' not in r.text
        await b.close()


async def test_shopkeeper_sees_fans_and_distribution_tabs(app, db, client) -> None:  # noqa: ANN001
    w = await make_world(db)
    keeper = await browser(app, db, "13700000002")
    r = await keeper.get("/console")
    assert _kpi(r.text, "kpi-fans") == "0"
    for i in range(2):
        fan = await add_fan(db, f"1390000010{i}")
        assert await bind_via_token(db, fan.user_id, keeper.user_id) == "bound"
    r = await keeper.get("/console")
    assert _kpi(r.text, "kpi-fans") == "2"
    assert 'href="/console/earnings#fans"' in r.text
    for tab, href in (("tab-shop-earnings", "/console/earnings"), ("tab-shop-posters", "/console/posters")):
        assert re.search(r'href="' + href + r'" class="[^"]*" data-testid="' + tab + '"', r.text), tab
    for url, active in (("/console/earnings", "tab-shop-earnings"), ("/console/posters", "tab-shop-posters")):
        page = await keeper.get(url)
        assert page.status_code == 200
        assert re.search(r'class="on" data-testid="' + active + '"', page.text), url
    await keeper.close()
    assert w.shop_id
