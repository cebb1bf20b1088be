"""The storefront pages: an activity (open a group), a group as its share link shows it (join, invite), the
platform-completed notice; placement through the pages ends on the order's pay page."""

from __future__ import annotations

import re
from datetime import timedelta

from quanzi.groupbuy import service
from quanzi.kit import outbox, sweeps
from quanzi.kit.clock import clock
from tests.commerce._support import pay
from tests.factories import add_fan
from tests.groupbuy._support import assert_no_fake_members, fans, group_row, join_paid, open_paid, setup


def _key(html: str) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def test_open_and_join_through_the_pages(app, client, db) -> None:  # noqa: ANN001
    w, act = await setup(db, size=2, complete_ratio_bp=5000)
    sku = w.sku_ids[0]
    r = await client.get("/groupbuy")
    assert r.status_code == 200 and f"/groupbuy/activities/{act}" in r.text
    r = await client.get(f"/groupbuy/activities/{act}")  # anonymous: a login link, the rules
    assert r.status_code == 200 and 'data-testid="gb-open-login"' in r.text and 'data-testid="gb-platform-rule"' in r.text

    page = await client.get(f"/groupbuy/activities/{act}", headers=w.fan_headers)
    form = {"sku_id": str(sku), "qty": "1", "address_id": str(w.address_id), "idempotency_key": _key(page.text)}
    r = await client.post(f"/groupbuy/activities/{act}/open", data=form, headers=w.fan_headers)
    assert r.status_code == 303 and r.headers["location"].endswith("/pay"), r.text
    order_id = int(r.headers["location"].split("/")[2])
    again = await client.post(f"/groupbuy/activities/{act}/open", data=form, headers=w.fan_headers)
    assert again.headers["location"] == r.headers["location"]  # same key: same order, nothing new
    await pay(client, w.fan_headers, order_id)
    await outbox.drain(db)
    r = await client.post(f"/groupbuy/activities/{act}/open", headers=w.fan_headers,
                          data={**form, "idempotency_key": "another"})
    # One open group per person: said on the activity's own page (its address, not the POST's).
    assert r.status_code == 303 and r.headers["location"] == f"/groupbuy/activities/{act}"
    refused = await client.get(r.headers["location"], headers=w.fan_headers, cookies=r.cookies)
    assert 'data-testid="gb-error"' in refused.text

    gid = (await client.get(f"/api/groupbuy/activities/{act}")).json()["groups"][0]["id"]
    page = await client.get(f"/groupbuy/activities/{act}", headers=w.fan_headers)
    assert f'href="/groupbuy/groups/{gid}" data-testid="gb-mine"' in page.text  # no second "open" form
    assert 'data-testid="gb-open-form"' not in page.text
    mine = await client.get(f"/groupbuy/groups/{gid}", headers=w.fan_headers)
    assert 'data-testid="gb-share-url"' in mine.text and 'data-testid="gb-join-form"' not in mine.text
    assert f"/r/v1.{w.fan_id}.g.{gid}." in mine.text  # a signed share link to this group

    f2 = await add_fan(db, "13900029999", nickname="新团友")
    theirs = await client.get(f"/groupbuy/groups/{gid}", headers=f2.headers)
    assert 'data-testid="gb-join-form"' in theirs.text and "粉丝" in theirs.text
    r = await client.post(f"/groupbuy/groups/{gid}/join", headers=f2.headers, data={
        "sku_id": str(sku), "qty": "1", "address_id": str(f2.address_id), "idempotency_key": _key(theirs.text)})
    assert r.status_code == 303, r.text
    await pay(client, f2.headers, int(r.headers["location"].split("/")[2]))
    await outbox.drain(db)
    done = await client.get(f"/groupbuy/groups/{gid}")
    assert done.status_code == 200 and "新团友" in done.text and 'data-testid="gb-join-form"' not in done.text
    assert (await group_row(db, gid)).status == "succeeded"


async def test_platform_completed_group_says_so(app, client, db) -> None:  # noqa: ANN001
    w, act = await setup(db, size=3, complete_ratio_bp=6000)
    (f2,) = await fans(db, 1)
    leader = await open_paid(client, db, w, act, w.sku_ids[0])
    await join_paid(client, db, f2, leader["group_id"], w.sku_ids[0])
    clock.advance(timedelta(minutes=61))
    assert await sweeps.run_one(db, "groupbuy.expire") == 1
    await outbox.drain(db)
    r = await client.get(f"/groupbuy/groups/{leader['group_id']}")
    assert 'data-testid="gb-by-platform"' in r.text
    assert r.text.count('class="gb-empty"') == 0  # empty seats are not drawn as people
    await assert_no_fake_members(db)
    r = await client.get("/groupbuy/groups/424242")
    assert r.status_code == 404


async def test_a_member_lands_on_the_group_and_reads_where_they_stand(app, client, db) -> None:  # noqa: ANN001
    """Found by the browser journey: after paying, a group order landed on the order page, which said "the
    supplier is packing your goods" while the group was still forming, and a refunded member read no word about
    their own money. Now: the payment lands on the group; the group tells each member where they stand; the
    order says it ships only once the group is complete and links back; its timeline has words, not codes."""
    from tests.storefront.conftest import HTML, cookie_login

    w, act = await setup(db, size=2)
    sku = w.sku_ids[0]
    fan = await cookie_login(client, db, w.fan_id, "13900000001")
    page = await fan.get(f"/groupbuy/activities/{act}")
    r = await fan.post(f"/groupbuy/activities/{act}/open", {"sku_id": sku, "qty": 1, "address_id": w.address_id,
                                                             "idempotency_key": _key(page.text)})
    order_id = int(r.headers["location"].split("/")[2])
    pay_page = await fan.get(f"/orders/{order_id}/pay")
    r = await fan.post(f"/orders/{order_id}/pay", {"provider": "sandbox"})
    out_trade_no = r.headers["location"].rsplit("/", 1)[1]
    await fan.get(r.headers["location"])
    r = await fan.post(f"/pay/sandbox/{out_trade_no}")
    assert r.status_code == 303 and r.headers["location"] == f"/groupbuy/orders/{order_id}?notice=paid", pay_page.text
    r = await fan.get(r.headers["location"])
    assert r.status_code == 303 and re.fullmatch(r"/groupbuy/groups/\d+\?notice=paid", r.headers["location"])
    gid = int(re.search(r"/groups/(\d+)", r.headers["location"]).group(1))
    seating = await fan.get(r.headers["location"])  # paid, the outbox has not seated the leader yet
    assert 'data-testid="gb-notice"' in seating.text and 'data-state="seating"' in seating.text
    assert '<meta http-equiv="refresh"' in seating.text and 'data-testid="gb-open-own"' not in seating.text
    await outbox.drain(db)
    forming = await fan.get(f"/groupbuy/groups/{gid}")
    assert 'data-state="joined"' in forming.text and '<meta http-equiv="refresh"' not in forming.text
    assert 'data-testid="gb-countdown"' in forming.text and "data-now=" in forming.text
    assert 'data-testid="gb-share-button"' in forming.text

    order = await fan.get(f"/orders/{order_id}")
    assert 'data-testid="order-status">已付款，拼团中<' in order.text and 'data-testid="held-note"' in order.text
    assert f'href="/groupbuy/orders/{order_id}" data-testid="campaign-link"' in order.text
    assert "供应商正在" not in order.text  # not "the supplier is packing your goods" while the group forms
    listing = await fan.get("/orders")
    assert "已付款，拼团中" in listing.text

    other = await add_fan(db, "13900029998", nickname="路人")
    r = await client.get(f"/groupbuy/orders/{order_id}", headers={**HTML, **other.headers})
    assert r.status_code == 404  # someone else's order: no hint it exists

    clock.advance(timedelta(minutes=61))  # nobody joined: the group fails, the leader is refunded
    assert await sweeps.run_one(db, "groupbuy.expire") == 1
    await outbox.drain(db)
    failed = await fan.get(f"/groupbuy/groups/{gid}")
    assert 'data-testid="gb-failed"' in failed.text and 'data-state="refunded"' in failed.text
    words = re.search(r'data-testid="gb-my-words">([^<]+)<', failed.text)
    assert words and words.group(1) == "这个团没能按时成团。已退款：¥27.90 已原路退回。", words  # goods + shipping
    order = await fan.get(f"/orders/{order_id}")
    assert "未按时成团，已申请原路退款" in order.text and "拼团退款已到账" in order.text
    assert "group refund" not in order.text and 'data-testid="held-note"' not in order.text


async def test_the_list_reads_the_same_number_of_times_for_one_or_four_activities(client, db) -> None:  # noqa: ANN001
    """No query per activity: a crowd refreshing the campaign list costs the database a fixed amount."""
    from tests.commerce.test_query_count import count_statements
    from tests.groupbuy._support import GROUP_PRICE, setup

    w, _act = await setup(db)
    with count_statements(db) as one:
        assert (await client.get("/groupbuy")).status_code == 200
    now = clock.now()
    async with db.write() as s:
        for i in range(3):
            await service.create_activity(
                s, title=f"又一团 {i}", product_id=w.product_id, skus=[(w.sku_ids[1], GROUP_PRICE)], group_size=2,
                time_limit_minutes=60, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=1))
    with count_statements(db) as four:
        r = await client.get("/groupbuy")
    assert r.status_code == 200 and r.text.count("又一团") == 3
    assert len(four) == len(one), (one, four)
