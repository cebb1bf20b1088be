"""Flash-sale pages: the countdown before a slot opens, a grab through the page (cookie session + CSRF)
that ends on the order's pay page, the waitlist offered once sold out, and the operator's watch page."""

from __future__ import annotations

import re
from datetime import datetime, time

from sqlalchemy import select

from quanzi.flashsale import service
from quanzi.flashsale.models import FlashReservation, FlashWaitlist
from quanzi.kit.clock import clock
from quanzi.orders.models import Order
from quanzi.orders.service import CHINA
from tests.conftest import make_user
from tests.factories import make_world
from tests.storefront.conftest import HTML, cookie_login


async def _setup(db, quota: int = 3):  # noqa: ANN001, ANN202
    w = await make_world(db, stock=50)
    today = clock.now().astimezone(CHINA).date()
    clock.freeze(datetime.combine(today, time(9, 50), tzinfo=CHINA))
    async with db.write() as s:
        slot = await service.create_slot(s, "10点场", time(10, 0), time(12, 0))
        act = await service.create_activity(s, slot_id=slot.id, day=today, title="苹果秒杀", product_id=w.product_id,
                                            items=[(w.sku_ids[0], 990, quota)])
    return w, act.id, today


async def test_countdown_then_grab_through_the_page(client, db) -> None:  # noqa: ANN001
    w, act, today = await _setup(db)
    fan = await cookie_login(client, db, w.fan_id, "13900000001")
    r = await fan.get("/flashsale")
    assert r.status_code == 200
    assert f'data-testid="fs-offer-{act}" data-state="soon"' in r.text
    assert "data-countdown=" in r.text and 'data-testid="fs-soon"' in r.text and "10:00" in r.text
    assert f"fs-grab-form-{act}" not in r.text  # the button stays disabled until the slot opens

    # Posting early anyway: refused in plain words, nothing reserved.
    r = await fan.post(f"/flashsale/{act}/grab", {"sku_id": w.sku_ids[0], "address_id": w.address_id})
    # Back to the page the fan was on (its own address: a reload posts nothing), the reason said there once.
    assert r.status_code == 303 and r.headers["location"].startswith("/flashsale?slot=")
    r = await fan.get(r.headers["location"])
    assert 'data-testid="fs-error"' in r.text and "10:00" in r.text
    r = await fan.get("/flashsale")
    assert 'data-testid="fs-error"' not in r.text

    clock.freeze(datetime.combine(today, time(10, 0, 5), tzinfo=CHINA))
    r = await fan.get("/flashsale")
    assert f'data-testid="fs-grab-form-{act}"' in r.text and "¥9.90" in r.text and "¥29.90" in r.text
    r = await fan.post(f"/flashsale/{act}/grab", {"sku_id": w.sku_ids[0], "address_id": w.address_id})
    assert r.status_code == 303, r.text
    m = re.fullmatch(r"/orders/(\d+)/pay", r.headers["location"])
    assert m
    async with db.read() as s:
        order = await s.get(Order, int(m.group(1)))
        assert order is not None and order.buyer_id == w.fan_id and order.kind == "flashsale"
        res = (await s.execute(select(FlashReservation))).scalars().all()
        assert [x.order_id for x in res] == [order.id]
    # A second grab: over the per-person limit, said plainly.
    r = await fan.post(f"/flashsale/{act}/grab", {"sku_id": w.sku_ids[0], "address_id": w.address_id})
    assert r.status_code == 303
    assert 'data-testid="fs-error"' in (await fan.get(r.headers["location"])).text


async def test_sold_out_offers_the_waitlist(client, db) -> None:  # noqa: ANN001
    w, act, today = await _setup(db, quota=1)
    clock.freeze(datetime.combine(today, time(10, 1), tzinfo=CHINA))
    await service.grab(db, None, w.fan_id, act, w.sku_ids[0], 1, w.address_id)
    other, headers = await make_user(db, "13900000077", nickname="晚到的")
    r = await client.get("/flashsale", headers={**HTML, **headers})
    assert 'data-state="sold_out"' in r.text and 'data-testid="fs-waitlist"' in r.text
    r = await client.post(f"/flashsale/waitlist/{w.product_id}", headers={**HTML, **headers})
    assert r.status_code == 303 and r.headers["location"] == "/flashsale?notice=waitlist"  # a reload posts nothing
    r = await client.get(r.headers["location"], headers={**HTML, **headers})
    assert 'data-testid="fs-notice"' in r.text and "已登记，下一批到货时会通知你。" in r.text
    assert 'data-testid="fs-waiting"' in r.text and 'data-testid="fs-waitlist"' not in r.text  # no second button
    async with db.read() as s:
        rows = (await s.execute(select(FlashWaitlist))).scalars().all()
        assert [(x.user_id, x.product_id) for x in rows] == [(other, w.product_id)]
    anon = await client.get("/flashsale")
    assert 'data-testid="fs-waitlist-login"' in anon.text


async def test_asking_again_after_a_restock_notice_waits_for_the_batch_after(db) -> None:  # noqa: ANN001
    """Told about one batch, sold out again, "notify me" again: the fan is told about the next one too (the
    row used to stay marked as notified, so the second ask was silently ignored)."""
    w, _act, _today = await _setup(db, quota=1)
    async with db.write() as s:
        assert await service.join_waitlist(s, w.fan_id, w.product_id)
        assert not await service.join_waitlist(s, w.fan_id, w.product_id)  # already waiting: nothing new
    async with db.write() as s:
        assert await service.notify_waitlist(s, w.product_id) == 1
        assert await service.waiting_for(s, w.fan_id, [w.product_id]) == set()
    async with db.write() as s:
        assert await service.join_waitlist(s, w.fan_id, w.product_id)  # waits again
        assert await service.waiting_for(s, w.fan_id, [w.product_id]) == {w.product_id}
    async with db.write() as s:
        assert await service.notify_waitlist(s, w.product_id) == 1  # told again
        assert len((await s.execute(select(FlashWaitlist))).scalars().all()) == 1


async def test_operator_watch_page(client, db) -> None:  # noqa: ANN001
    w, act, today = await _setup(db, quota=5)
    clock.freeze(datetime.combine(today, time(10, 1), tzinfo=CHINA))
    await service.grab(db, None, w.fan_id, act, w.sku_ids[0], 1, w.address_id)
    _op, headers = await make_user(db, "13800009999", "operator", nickname="运营")
    r = await client.get("/console/campaigns", headers={**HTML, **headers})
    assert r.status_code == 200, r.text
    row = r.text[r.text.index(f'data-testid="flash-row-{act}"'):]
    assert 'data-testid="flash-quota">5<' in row and 'data-testid="flash-remaining">4<' in row
    assert 'data-testid="flash-reserved">1<' in row and 'data-testid="flash-paid">0<' in row
    r = await client.get("/console/campaigns", headers={**HTML, **w.fan_headers})
    assert r.status_code in (302, 303, 403, 404)
