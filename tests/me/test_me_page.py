"""The 我的 (me) page: order counts by state linking to the filtered order list, after-sales, the fan's group
buys, bargains, flash grabs and waitlists, the wallet (distributors only), addresses, and the privacy switch
that decides whether shopkeepers see the fan's masked number."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta

import httpx

from quanzi.accounts import service as accounts
from quanzi.bargain import service as bargain
from quanzi.distribution import service as distribution
from quanzi.flashsale import service as flashsale
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.orders.service import CHINA
from tests.commerce._support import pay, place_one
from tests.groupbuy._support import open_paid, setup
from tests.storefront.conftest import HTML, cookie_login


def count(html: str, key: str) -> int | None:
    m = re.search(rf'data-testid="me-count-{key}">(\d+)<', html)
    return int(m.group(1)) if m else None


async def test_orders_by_state_link_to_the_filtered_list(client: httpx.AsyncClient, db: Database) -> None:
    w, act = await setup(db)
    await open_paid(client, db, w, act, w.sku_ids[0])  # a paid group order (held while the group forms)
    for _ in range(2):
        await place_one(client, w.fan_headers, w.address_id, w.sku_ids[1])  # two unpaid
    paid = await place_one(client, w.fan_headers, w.address_id, w.sku_ids[1])
    await pay(client, w.fan_headers, paid["id"])
    await outbox.drain(db)
    fan = await cookie_login(client, db, w.fan_id, "13900000001")
    page = await fan.get("/me")
    assert page.status_code == 200 and 'data-testid="tab-me"' in page.text
    assert count(page.text, "unpaid") == 2 and count(page.text, "to_ship") == 2
    assert count(page.text, "shipped") is None and count(page.text, "to_review") is None  # no zero badges
    assert 'href="/reviews/pending" data-testid="me-tab-to_review"' in page.text
    assert (await fan.get("/reviews/pending")).status_code == 200  # "to review" is the reviews list
    for key in ("unpaid", "to_ship", "shipped"):
        assert f'href="/orders?tab={key}" data-testid="me-tab-{key}"' in page.text
        assert (await fan.get(f"/orders?tab={key}")).status_code == 200  # each link is a real list
    assert 'href="/aftersales" data-testid="me-tab-aftersale"' in page.text
    assert 'href="/me/notifications"' in page.text and 'href="/messages"' in page.text
    unpaid = await fan.get("/orders?tab=unpaid")
    assert unpaid.text.count('data-testid="status"') == 2
    # My group buy is listed with its state and links to the group.
    assert re.search(r'href="/groupbuy/groups/\d+" data-testid="me-group-\d+"', page.text)
    assert 'data-testid="me-wallet"' not in page.text  # not a distributor: no wallet
    assert "上海市 浦东新区 世纪大道 100 号" in page.text  # the default address


async def test_bargains_flash_grabs_waitlist_and_wallet(client: httpx.AsyncClient, db: Database) -> None:
    w, _act = await setup(db)
    now = clock.now()
    async with db.write() as s:
        b_act = await bargain.create_activity(
            s, title="砍一刀苹果", product_id=w.product_id, sku_id=w.sku_ids[0], start_price_fen=2990,
            floor_price_fen=990, helpers_needed=2, cut_mode="fixed", cut_min_fen=500, cut_max_fen=500,
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3))
        launched = await bargain.launch(s, w.fan_id, b_act.id)
        today = now.astimezone(CHINA).date()
        slot = await flashsale.create_slot(s, "全天场", time(0, 0), time(23, 59))
        f_act = await flashsale.create_activity(s, slot_id=slot.id, day=today, title="苹果秒杀",
                                                product_id=w.product_id, items=[(w.sku_ids[1], 990, 5)])
        await flashsale.join_waitlist(s, w.fan_id, w.product_id)
        await distribution.put_policy(s, {"who_may": "approval"}, None)
        await distribution.join(s, w.fan_id)
    clock.freeze(datetime.combine(today, time(12, 0), tzinfo=CHINA))
    grab = await flashsale.grab(db, None, w.fan_id, f_act.id, w.sku_ids[1], 1, w.address_id)
    fan = await cookie_login(client, db, w.fan_id, "13900000001")
    page = await fan.get("/me")
    assert f'href="/bargains/{launched.id}" data-testid="me-bargain-{launched.id}"' in page.text
    assert "砍一刀苹果" in page.text
    assert re.search(rf'href="/orders/{grab.order_id}" data-testid="me-grab-\d+"', page.text)
    assert "已抢到，请尽快付款" in page.text  # the grab's state in words
    assert f'data-testid="me-waiting-{w.product_id}"' in page.text
    assert 'data-testid="me-wallet"' not in page.text  # an applicant waiting for approval has no wallet yet
    async with db.write() as s:
        await distribution.decide(s, w.fan_id, "active", actor_id=w.supplier_user)
    page = await fan.get("/me")
    assert 'data-testid="me-wallet"' in page.text and 'href="/console/earnings"' in page.text
    assert re.search(r'data-testid="me-available">¥0\.00<', page.text)


async def test_privacy_switch_hides_the_masked_number_from_shopkeepers(client: httpx.AsyncClient,
                                                                      db: Database) -> None:
    w, _act = await setup(db)
    async with db.read() as s:
        assert (await accounts.profiles(s, [w.fan_id]))[w.fan_id].masked_phone == "139****0001"
    fan = await cookie_login(client, db, w.fan_id, "13900000001")
    page = await fan.get("/me")
    assert re.search(r'name="show_phone_to_shops" value="1"\s+checked', page.text)
    r = await fan.post("/me/privacy", {})  # the box unticked: nothing sent for it
    assert r.status_code == 303 and r.headers["location"].startswith("/me?notice=privacy")
    async with db.read() as s:
        assert (await accounts.profiles(s, [w.fan_id]))[w.fan_id].masked_phone == ""
    page = await fan.get("/me?notice=privacy")
    assert 'data-testid="me-notice"' in page.text
    assert not re.search(r'name="show_phone_to_shops" value="1"\s+checked', page.text)
    # The API says the same and can turn it back on; strict booleans only.
    r = await client.get("/api/me/privacy", headers=w.fan_headers)
    assert r.json() == {"show_phone_to_shops": False}
    assert (await client.put("/api/me/privacy", headers=w.fan_headers,
                             json={"show_phone_to_shops": "yes"})).status_code == 422
    r = await client.put("/api/me/privacy", headers=w.fan_headers, json={"show_phone_to_shops": True})
    assert r.status_code == 200
    async with db.read() as s:
        assert (await accounts.profiles(s, [w.fan_id]))[w.fan_id].masked_phone == "139****0001"


async def test_me_needs_a_login(client: httpx.AsyncClient) -> None:
    r = await client.get("/me", headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/login?next=/me"
    assert (await client.get("/me/addresses", headers=HTML)).status_code == 303
    assert (await client.get("/api/me/privacy")).status_code == 401
