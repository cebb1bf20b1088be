"""The console overview: a shop's paid orders and GMV (today, this week, a 14-day chart); supplier counts."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from sqlalchemy import update

from quanzi.kit.clock import clock
from quanzi.orders.console import CHINA, shop_stats
from quanzi.orders.models import Order
from tests.console.helpers import browser, place
from tests.factories import make_world


async def test_shopkeeper_dashboard_counts_paid_orders_by_china_day(app, db, client) -> None:  # noqa: ANN001
    # Wednesday 2025-06-18 10:00 in Shanghai.
    clock.set(datetime(2025, 6, 18, 2, 0, tzinfo=UTC))
    w = await make_world(db)
    today = await place(client, w, [(w.sku_ids[0], 1)])          # 29.90 + 8.00 shipping, paid now
    monday = await place(client, w, [(w.sku_ids[1], 1)])         # 49.90 + 8.00
    late_sunday = await place(client, w, [(w.sku_ids[0], 2)])    # 59.80 + 8.00
    old = await place(client, w, [(w.sku_ids[0], 1)])            # out of the 14 days
    await place(client, w, [(w.sku_ids[1], 1)], paid=False)      # never counted
    await place(client, w, [(w.sku_ids[1], 3)], shop=False)      # not through the shop
    async with db.write() as s:
        for order, at in [(monday, datetime(2025, 6, 16, 1, 0, tzinfo=UTC)),
                          # 23:30 Sunday in Shanghai is 15:30 UTC: last week, although UTC says the same date
                          (late_sunday, datetime(2025, 6, 15, 15, 30, tzinfo=UTC)),
                          (old, datetime(2025, 6, 1, 4, 0, tzinfo=UTC))]:
            await s.execute(update(Order).where(Order.id == order["id"]).values(paid_at=at))

    async with db.read() as s:
        stats = await shop_stats(s, w.shop_id, clock.now().astimezone(CHINA).date())
    assert (stats["today_orders"], stats["today_gmv"]) == (1, 3790)
    assert (stats["week_orders"], stats["week_gmv"]) == (2, 3790 + 5790)
    assert stats["days"][0] == "2025-06-05" and stats["days"][-1] == "2025-06-18"
    daily = dict(zip(stats["days"], stats["amounts"], strict=True))
    assert daily["2025-06-18"] == 3790 and daily["2025-06-16"] == 5790 and daily["2025-06-15"] == 6780
    assert sum(stats["amounts"]) == 3790 + 5790 + 6780

    keeper = await browser(app, db, "13700000002")
    r = await keeper.get("/console")
    assert '<script src="/static/vendor/echarts/echarts.min.js" defer></script>' in r.text
    assert re.search(r'data-testid="kpi-today-orders">1<', r.text)
    assert re.search(r'data-testid="kpi-week-gmv">¥95.80<', r.text)
    option = json.loads(re.search(r"data-echarts='([^']+)'", r.text).group(1).replace("&#34;", '"'))
    assert option["series"][0]["data"][-1] == 37.9 and len(option["xAxis"]["data"]) == 14
    await keeper.close()


async def test_supplier_dashboard_counts_work_waiting(app, db, client) -> None:  # noqa: ANN001
    w = await make_world(db)
    await place(client, w, [(w.sku_ids[0], 1)])
    await place(client, w, [(w.sku_ids[1], 1)])
    sup = await browser(app, db, "13700000001")
    r = await sup.get("/console")
    assert re.search(r'data-testid="kpi-to-ship">2<', r.text)
    assert re.search(r'data-testid="kpi-open-aftersales">0<', r.text)
    assert "echarts.min.js" not in r.text  # charts only where there is one
    r = await sup.get("/console/products")
    assert "echarts.min.js" not in r.text
    await sup.close()
