"""Operator bargain console: an activity created through the form with every term (yuan → fen, China time →
UTC), settings that cannot add up refused by the service next to the field with nothing written, the feature
switch (audited), the launch numbers on the console and the overview, and fans refused."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import func, select

from quanzi.audit.models import AuditLog
from quanzi.bargain import service
from quanzi.bargain.models import BargainActivity
from quanzi.kit.clock import clock
from quanzi.kit.console import CHINA
from tests.conftest import make_user
from tests.console.helpers import browser
from tests.factories import make_world

OPERATOR = "13800009999"


async def _activities(db) -> list[BargainActivity]:  # noqa: ANN001
    async with db.read() as s:
        return list((await s.execute(select(BargainActivity))).scalars())


def _cell(html: str, row: str, testid: str) -> str:
    part = html[html.index(f'data-testid="{row}"'):]
    m = re.search(r'data-testid="' + testid + r'">([^<]*)<', part)
    assert m, (row, testid)
    return m.group(1).strip()


def _form(w, **over: str) -> dict[str, object]:  # noqa: ANN001
    start = clock.now().astimezone(CHINA).replace(second=0, microsecond=0)
    values: dict[str, object] = {
        "product": w.product_id, "title": "砍价苹果", "sku_id": w.sku_ids[0], "start_price": "29.90",
        "floor_price": "9.90", "helpers_needed": "2", "cut_mode": "random", "cut_min": "5", "cut_max": "15",
        "first_cut": "1.00", "helps_per_user": "2", "launches_per_user": "1", "launch_hours": "12",
        "pay_hours": "6", "allow_buy_above_floor": "1",
        "starts_at": (start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M"),
    }
    values.update(over)
    return values


async def test_operator_creates_a_bargain_and_watches_its_launches(app, client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    op = await browser(app, db, OPERATOR, "operator")
    r = await op.get(f"/console/bargain/new?product={w.product_id}")
    assert r.status_code == 200 and 'data-testid="bg-form"' in r.text
    assert 'value="29.90"' in r.text  # the start price defaults to the SKU's price

    r = await op.submit("/console/bargain/new", _form(w))
    assert 'data-testid="flash"' in r.text and "砍价苹果" in r.text
    [a] = await _activities(db)
    assert (a.sku_id, a.start_price_fen, a.floor_price_fen, a.helpers_needed, a.cut_mode, a.cut_min_fen,
            a.cut_max_fen, a.first_cut_fen, a.helps_per_user, a.launch_hours, a.pay_hours,
            a.allow_buy_above_floor, a.commission_enabled) == \
        (w.sku_ids[0], 2990, 990, 2, "random", 500, 1500, 100, 2, 12, 6, True, False)
    typed = datetime.strptime(_form(w)["ends_at"], "%Y-%m-%dT%H:%M").replace(tzinfo=CHINA)  # type: ignore[arg-type]
    assert a.ends_at == typed  # China time typed, stored as the same instant
    row = f"bg-row-{a.id}"
    assert _cell(r.text, row, "bg-launched") == "0" and 'data-state="live"' in r.text[r.text.index(row):]

    # Two launches: one reaches the floor and is bought, the other expires.
    async with db.write() as s:
        b1 = await service.launch(s, w.fan_id, a.id)
    other, _h = await make_user(db, "13900000077", nickname="另一位")
    async with db.write() as s:
        await service.launch(s, other, a.id)
    for phone in ("13900000055", "13900000056"):
        helper, _h = await make_user(db, phone)
        async with db.write() as s:
            await service.help_cut(s, helper, b1.id)
    async with db.write() as s:
        await service.buy(s, w.fan_id, b1.id, w.address_id)
    clock.advance(timedelta(hours=13))
    await service.expire_due(db, clock.now())

    r = await op.get("/console/bargain")
    assert [_cell(r.text, row, f"bg-{k}") for k in ("launched", "active", "succeeded", "expired", "purchased")] \
        == ["2", "0", "1", "1", "1"]
    r = await op.get("/console/campaigns")
    row = f"bargain-row-{a.id}"
    assert [_cell(r.text, row, f"bargain-{k}") for k in ("launched", "succeeded", "expired", "purchased")] == \
        ["2", "1", "1", "1"]
    await op.close()


async def test_impossible_bargain_settings_are_refused_and_nothing_is_written(app, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    op = await browser(app, db, OPERATOR, "operator")
    await op.get(f"/console/bargain/new?product={w.product_id}")

    r = await op.post("/console/bargain/new", _form(w, floor_price="39.90"))  # the floor above the start price
    assert r.status_code == 422
    assert 'data-testid="form-refused" data-code="bargain.bad_config"' in r.text
    assert 'data-testid="error-floor_price"' in r.text and "底价必须大于 0 且低于原价" in r.text
    assert 'value="39.90"' in r.text and 'value="砍价苹果"' in r.text

    r = await op.post("/console/bargain/new", _form(w, cut_max="6"))  # 2 cuts of at most 6 cannot make 19
    assert r.status_code == 422 and 'data-testid="error-cut_max"' in r.text and "19.00" in r.text
    r = await op.post("/console/bargain/new?lang=en", _form(w, cut_max="6"))
    assert "These bargain settings cannot work" in r.text

    r = await op.post("/console/bargain/new", _form(w, helpers_needed="0", start_price="abc", cut_mode="magic",
                                                   ends_at="tomorrow"))
    assert r.status_code == 422 and 'data-testid="form-errors"' in r.text
    for key in ("helpers_needed", "start_price", "cut_mode", "ends_at"):
        assert f'data-testid="error-{key}"' in r.text, key
    assert await _activities(db) == []
    await op.close()


async def test_switch_turns_bargains_off_and_on_and_fans_are_refused(app, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    op = await browser(app, db, OPERATOR, "operator")
    r = await op.get("/console/bargain")
    assert 'data-testid="bg-switch" data-enabled="on"' in r.text
    r = await op.submit("/console/bargain/switch", {"enabled": "off"})
    assert 'data-testid="bg-switch" data-enabled="off"' in r.text and 'data-testid="flash"' in r.text
    async with db.read() as s:
        assert not await service.is_enabled(s)
        audit = (await s.execute(select(AuditLog).where(AuditLog.action == "policy.update"))).scalar_one()
    assert audit.actor_id == op.user_id and audit.changes == {"enabled": [True, False]}
    r = await op.submit("/console/bargain/switch", {"enabled": "on"})
    assert 'data-enabled="on"' in r.text
    assert (await op.post("/console/bargain/switch", {"enabled": "maybe"})).status_code == 422

    fan = await browser(app, db, "13900000001")
    for url in ("/console/bargain", "/console/bargain/new"):
        assert (await fan.get(url)).status_code == 403, url
    assert (await fan.post("/console/bargain/switch", {"enabled": "off"})).status_code == 403
    assert (await fan.post("/console/bargain/new", _form(w))).status_code == 403
    async with db.read() as s:
        assert await service.is_enabled(s)
        assert (await s.execute(select(func.count()).select_from(BargainActivity))).scalar_one() == 0
    await fan.close()
    await op.close()
