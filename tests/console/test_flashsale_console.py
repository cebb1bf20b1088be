"""Operator flash-sale console: daily slots (an overlap refused by the service, nothing written), a flash sale
created through the form (yuan → fen, per-SKU quota) whose numbers follow the grabs, bad input re-rendered with
what was typed, the Redis reconcile button, and fans refused."""

from __future__ import annotations

import re
from datetime import datetime, time

from sqlalchemy import func, select

from quanzi.flashsale import gate, service
from quanzi.flashsale.models import FlashActivity, FlashItem, FlashSlot
from quanzi.kit.clock import clock
from quanzi.kit.console import CHINA
from tests.console.helpers import browser
from tests.factories import make_world

OPERATOR = "13800009999"


async def _count(db, model) -> int:  # noqa: ANN001
    async with db.read() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


def _cell(html: str, row: str, testid: str) -> str:
    part = html[html.index(f'data-testid="{row}"'):]
    m = re.search(r'data-testid="' + testid + r'">([^<]*)<', part)
    assert m, (row, testid)
    return m.group(1).strip()


async def test_slots_are_added_and_an_overlap_is_refused(app, db) -> None:  # noqa: ANN001
    op = await browser(app, db, OPERATOR, "operator")
    r = await op.get("/console/flashsale")
    assert r.status_code == 200 and 'data-testid="fs-no-slots"' in r.text
    assert 'data-testid="tab-campaigns"' in r.text and 'data-testid="tab-campaigns-flashsale"' in r.text

    r = await op.submit("/console/flashsale/slots", {"name": "10点场", "starts": "10:00", "ends": "12:00"})
    assert 'data-testid="flash"' in r.text and "10点场" in r.text and "10:00–12:00" in r.text

    # Overlapping 10:00–12:00: the service says no, in plain words, with its code; the typed values stay.
    r = await op.post("/console/flashsale/slots", {"name": "午间场", "starts": "11:30", "ends": "13:00"})
    assert r.status_code == 409
    assert 'data-testid="form-refused" data-code="flashsale.slot_overlap"' in r.text
    assert "时段与「10点场」重叠" in r.text
    assert 'value="午间场"' in r.text and 'value="11:30"' in r.text
    r = await op.post("/console/flashsale/slots", {"name": "反了", "starts": "15:00", "ends": "14:00"})
    assert r.status_code == 422 and 'data-code="flashsale.bad_slot"' in r.text
    r = await op.post("/console/flashsale/slots?lang=en", {"name": "", "starts": "25:00", "ends": "14:00"})
    assert r.status_code == 422
    assert 'data-testid="error-name"' in r.text and 'data-testid="error-starts"' in r.text
    assert "Enter a time like 10:00" in r.text
    r = await op.post("/console/flashsale/slots", {"name": "夜场", "starts": "20:00", "ends": "21:00"}, csrf=False)
    assert r.status_code == 403 and "auth.csrf_failed" in r.text  # a cookie session needs the page's token
    assert await _count(db, FlashSlot) == 1
    await op.close()


async def test_operator_creates_a_flash_sale_and_watches_its_numbers(app, db) -> None:  # noqa: ANN001
    w = await make_world(db, stock=50)
    today = clock.now().astimezone(CHINA).date()
    clock.freeze(datetime.combine(today, time(9, 0), tzinfo=CHINA))
    async with db.write() as s:
        slot = await service.create_slot(s, "10点场", time(10, 0), time(12, 0))
        slot_id = slot.id
    op = await browser(app, db, OPERATOR, "operator")
    r = await op.get("/console/flashsale/new")
    assert r.status_code == 200 and f'data-testid="pick-{w.product_id}"' in r.text
    r = await op.get(f"/console/flashsale/new?product={w.product_id}")
    assert r.status_code == 200 and 'data-testid="fs-form"' in r.text
    assert all(f'data-testid="fs-sku-{k}"' in r.text for k in w.sku_ids)

    form = {"product": w.product_id, "title": "苹果秒杀", "day": today.isoformat(), "slot_id": slot_id,
            "sku": [str(k) for k in w.sku_ids], "price": ["9.90", ""], "quota": ["5", ""],
            "per_order_limit": "1", "per_user_limit": "2", "pay_minutes": "5", "commission_enabled": "1"}
    r = await op.submit("/console/flashsale/new", form)
    assert 'data-testid="flash"' in r.text and "苹果秒杀" in r.text
    async with db.read() as s:
        act = (await s.execute(select(FlashActivity))).scalar_one()
        items = (await s.execute(select(FlashItem))).scalars().all()
    assert (act.slot_id, act.day, act.per_user_limit, act.pay_minutes, act.commission_enabled) == \
        (slot_id, today, 2, 5, True)
    assert [(i.sku_id, i.flash_price_fen, i.quota, i.remaining) for i in items] == [(w.sku_ids[0], 990, 5, 5)]
    row = f"fs-row-{act.id}"
    assert (_cell(r.text, row, "fs-quota"), _cell(r.text, row, "fs-remaining")) == ("5", "5")
    assert 'data-state="soon"' in r.text[r.text.index(row):]

    # A fan grabs one once the slot opens: the console and the overview both count it as reserved.
    clock.freeze(datetime.combine(today, time(10, 1), tzinfo=CHINA))
    await service.grab(db, gate.current(), w.fan_id, act.id, w.sku_ids[0], 1, w.address_id)
    r = await op.get("/console/flashsale")
    assert [_cell(r.text, row, f"fs-{k}") for k in ("quota", "remaining", "reserved", "paid", "released")] == \
        ["5", "4", "1", "0", "0"]
    r = await op.get("/console/campaigns")
    row = f"flash-row-{act.id}"
    assert [_cell(r.text, row, f"flash-{k}") for k in ("quota", "remaining", "reserved", "paid", "released")] == \
        ["5", "4", "1", "0", "0"]
    assert 'href="/console/flashsale"' in r.text
    await op.close()


async def test_bad_flash_sale_input_is_shown_and_nothing_is_written(app, db) -> None:  # noqa: ANN001
    w = await make_world(db, stock=50)
    today = clock.now().astimezone(CHINA).date()
    async with db.write() as s:
        slot_id = (await service.create_slot(s, "全天场", time(8, 0), time(23, 0))).id
    op = await browser(app, db, OPERATOR, "operator")
    await op.get(f"/console/flashsale/new?product={w.product_id}")
    good = {"product": w.product_id, "title": "苹果秒杀", "day": today.isoformat(), "slot_id": slot_id,
            "sku": [str(k) for k in w.sku_ids], "price": ["9.90", ""], "quota": ["5", ""],
            "per_order_limit": "1", "per_user_limit": "1", "pay_minutes": "5"}
    sku = w.sku_ids[0]

    r = await op.post("/console/flashsale/new", {**good, "quota": ["-3", ""], "price": ["9.999", ""]})
    assert r.status_code == 422 and 'data-testid="form-errors"' in r.text
    assert f'data-testid="error-sku-{sku}-quota"' in r.text and "1 到 1000000" in r.text
    assert f'data-testid="error-sku-{sku}-price"' in r.text
    assert 'value="-3"' in r.text and 'value="9.999"' in r.text and 'value="苹果秒杀"' in r.text

    r = await op.post("/console/flashsale/new", {**good, "slot_id": "", "price": ["", ""], "quota": ["", ""],
                                                 "pay_minutes": "90"})
    assert r.status_code == 422
    for key in ("slot_id", "skus", "pay_minutes"):
        assert f'data-testid="error-{key}"' in r.text, key

    # More than the stock: the service refuses it (catalog's code), on the SKU's row.
    r = await op.post("/console/flashsale/new", {**good, "quota": ["51", ""]})
    assert r.status_code == 409
    assert 'data-testid="form-refused" data-code="catalog.out_of_stock"' in r.text
    assert f'data-testid="error-sku-{sku}-quota"' in r.text and 'value="51"' in r.text

    r = await op.post("/console/flashsale/new", {**good, "slot_id": "999"})
    assert r.status_code == 404 and 'data-code="flashsale.not_found"' in r.text
    assert (await _count(db, FlashActivity), await _count(db, FlashItem)) == (0, 0)
    await op.close()


async def test_reconcile_button_says_what_happened(app, db) -> None:  # noqa: ANN001
    op = await browser(app, db, OPERATOR, "operator")
    await op.get("/console/flashsale")
    r = await op.submit("/console/flashsale/reconcile")
    if gate.current() is None:
        assert "未配置 Redis" in r.text
    else:
        assert "Redis 已与数据库一致" in r.text
    await op.close()


async def test_fans_and_suppliers_may_not_configure_flash_sales(app, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    async with db.write() as s:
        slot_id = (await service.create_slot(s, "全天场", time(8, 0), time(23, 0))).id
    fan = await browser(app, db, "13900000001")
    supplier = await browser(app, db, "13700000001")
    for b in (fan, supplier):
        for url in ("/console/flashsale", "/console/flashsale/new", "/console/campaigns"):
            assert (await b.get(url)).status_code == 403, url
        r = await b.post("/console/flashsale/new", {"product": w.product_id, "slot_id": slot_id, "title": "x",
                                                    "day": "2030-01-01", "sku": str(w.sku_ids[0]), "price": "1",
                                                    "quota": "1"})
        assert r.status_code == 403
        assert (await b.post("/console/flashsale/slots", {"name": "x", "starts": "01:00",
                                                          "ends": "02:00"})).status_code == 403
        assert (await b.post("/console/flashsale/reconcile")).status_code == 403
        await b.close()
    assert (await _count(db, FlashActivity), await _count(db, FlashSlot)) == (0, 1)
