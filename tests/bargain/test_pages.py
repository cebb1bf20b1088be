"""Bargain pages: launch from the list, the bargain page's progress and helpers, a second help by the same
person refused in plain words, own-bargain help refused, buy once the floor is reached → pay page; and the
operator's watch page counts."""

from __future__ import annotations

import re
from datetime import timedelta

from quanzi.bargain import service
from quanzi.kit.clock import clock
from tests.conftest import make_user
from tests.factories import make_world
from tests.storefront.conftest import HTML, cookie_login


async def _activity(db, helpers: int = 2):  # noqa: ANN001, ANN202
    w = await make_world(db)
    now = clock.now()
    async with db.write() as s:
        a = await service.create_activity(s, title="砍价苹果", product_id=w.product_id, sku_id=w.sku_ids[0],
                                          start_price_fen=2990, floor_price_fen=990, helpers_needed=helpers,
                                          cut_mode="random", cut_min_fen=500, cut_max_fen=1500,
                                          starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3))
    return w, a.id


async def test_launch_help_twice_and_buy(client, db) -> None:  # noqa: ANN001
    w, act = await _activity(db)
    fan = await cookie_login(client, db, w.fan_id, "13900000001")
    r = await fan.get("/bargain")
    assert r.status_code == 200 and f'data-testid="bg-launch-{act}"' in r.text
    r = await fan.post(f"/bargain/activities/{act}/launch")
    assert r.status_code == 303, r.text
    m = re.fullmatch(r"/bargains/(\d+)", r.headers["location"])
    assert m
    bid = int(m.group(1))
    page = await fan.get(f"/bargains/{bid}")
    assert 'data-testid="bg-progress"' in page.text and "¥29.90" in page.text and "¥9.90" in page.text
    assert 'data-testid="bg-share"' in page.text and "data-countdown=" in page.text
    r = await fan.post(f"/bargains/{bid}/help")  # one's own bargain: said on the bargain's own page
    assert r.status_code == 303 and r.headers["location"] == f"/bargains/{bid}"
    assert "不能给自己砍价" in (await fan.get(r.headers["location"])).text

    _h, helper = await make_user(db, "13900000055", nickname="热心小王")
    hh = {**HTML, **helper}
    r = await client.post(f"/bargains/{bid}/help", headers=hh)  # then back to the bargain's own address
    assert r.status_code == 303 and r.headers["location"] == f"/bargains/{bid}?notice=helped", r.text
    r = await client.get(r.headers["location"], headers=hh)
    cut = re.search(r'data-testid="bg-notice">你帮 TA 砍掉了 (¥[\d.,]+)，谢谢！', r.text)
    assert cut and "热心小王" in r.text, r.text
    assert f'data-testid="bg-helped">你已经帮 TA 砍过了，砍掉了 {cut.group(1)}。<' in r.text
    r = await client.get(f"/bargains/{bid}", headers=hh)  # a reload says nothing new, helps nothing again
    assert 'data-testid="bg-notice"' not in r.text
    assert 'data-testid="bg-helped"' in r.text and 'data-testid="bg-help"' not in r.text
    r = await client.post(f"/bargains/{bid}/help", headers=hh)  # again: refused, plainly
    assert r.status_code == 303 and r.headers["location"] == f"/bargains/{bid}"
    assert "你已经帮 TA 砍过了" in (await client.get(r.headers["location"], headers=hh)).text

    page = await fan.get(f"/bargains/{bid}")
    assert 'data-testid="bg-buy-form"' not in page.text  # not at the floor yet
    _h2, helper2 = await make_user(db, "13900000056", nickname="路人甲")
    r = await client.post(f"/bargains/{bid}/help", headers={**HTML, **helper2})
    assert r.status_code == 303
    page = await fan.get(f"/bargains/{bid}")
    assert 'data-testid="bg-buy-form"' in page.text and 'data-status="succeeded"' in page.text
    r = await fan.post(f"/bargains/{bid}/buy", {"address_id": w.address_id})
    assert r.status_code == 303 and re.fullmatch(r"/orders/\d+/pay", r.headers["location"]), r.text

    _op, op = await make_user(db, "13800009999", "operator", nickname="运营")
    r = await client.get("/console/campaigns", headers={**HTML, **op})
    assert r.status_code == 200
    row = r.text[r.text.index(f'data-testid="bargain-row-{act}"'):]
    assert 'data-testid="bargain-launched">1<' in row and 'data-testid="bargain-purchased">1<' in row


async def test_help_after_the_floor_is_refused_in_plain_words(client, db) -> None:  # noqa: ANN001
    """A friend who presses "help" on a page opened before the last cut is told why, in words — not a status
    code inside a sentence ("这个砍价已经结束了（succeeded）")."""
    w = await make_world(db)
    now = clock.now()
    async with db.write() as s:  # one friend's cut reaches the floor
        act = (await service.create_activity(
            s, title="一刀到底", product_id=w.product_id, sku_id=w.sku_ids[0], start_price_fen=2990,
            floor_price_fen=990, helpers_needed=1, cut_mode="fixed", cut_min_fen=100, cut_max_fen=100,
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3))).id
        bid = (await service.launch(s, w.fan_id, act)).id
    _a, first = await make_user(db, "13900000061", nickname="小甲")
    _b, late = await make_user(db, "13900000062", nickname="小乙")
    stale = await client.get(f"/bargains/{bid}", headers={**HTML, **late})
    assert 'data-testid="bg-help"' in stale.text  # still open when this page was opened
    r = await client.post(f"/bargains/{bid}/help", headers={**HTML, **first})
    assert r.status_code == 303
    r = await client.post(f"/bargains/{bid}/help", headers={**HTML, **late})
    assert r.status_code == 303 and r.headers["location"] == f"/bargains/{bid}"
    r = await client.get(r.headers["location"], headers={**HTML, **late})
    error = re.search(r'data-testid="bg-error">([^<]*)<', r.text)
    assert error and error.group(1) == "已经砍到底价了，不用再砍啦", r.text
    r = await client.post(f"/bargains/{bid}/help?lang=en", headers={**HTML, **late})
    assert "This bargain already reached its floor price" in (await client.get(r.headers["location"],
                                                                               headers={**HTML, **late})).text
    r = await client.post(f"/api/bargains/{bid}/help", headers=late)  # the API keeps the machine-readable status
    assert r.status_code == 409
    error = r.json()["error"]
    assert error["detail"]["status"] == "succeeded" and error["message"] == "已经砍到底价了，不用再砍啦", error
