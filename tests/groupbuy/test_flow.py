"""A group from opening to success over the real API and sandbox payments: held orders cannot ship until the
group is full, then every member's order is released; the share link lands on the group; join is idempotent."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from quanzi.accounts.models import Role
from quanzi.distribution.models import Commission
from quanzi.groupbuy.models import GroupMember
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.orders.models import Order
from tests.commerce._support import count, err, pay, ship, stock
from tests.conftest import make_user
from tests.factories import SHARE_SECRET, bind_via_token, ledger_problems
from tests.groupbuy._support import (
    GROUP_PRICE,
    SHIPPING,
    assert_no_fake_members,
    fans,
    group_row,
    join,
    join_paid,
    members,
    open_group,
    order_row,
    setup,
)


async def test_open_pay_join_until_full_then_every_order_ships(client, db) -> None:  # noqa: ANN001
    w, act = await setup(db, size=3, commission_enabled=True)
    sku = w.sku_ids[0]
    f2, f3, f4 = await fans(db, 3)
    # f2 came through the shopkeeper's share link: a distribution commission is due once the group succeeds.
    keeper = (await db_user_of_shop(db, w.shop_id))
    assert await bind_via_token(db, f2.user_id, keeper) == "bound"
    before = await stock(db, sku)

    r = await open_group(client, w, act, sku)
    assert r.status_code == 201, r.text
    leader = r.json()
    assert leader["total_fen"] == GROUP_PRICE + SHIPPING
    gid = leader["group_id"]
    g = (await client.get(f"/api/groupbuy/groups/{gid}")).json()
    assert (g["status"], g["filled"], g["members"], g["expires_at"]) == ("pending", 0, [], None)
    r = await join(client, f2, gid, sku)  # nobody joins before the leader has paid
    assert r.status_code == 409 and err(r) == "groupbuy.not_joinable", r.text

    await pay(client, w.fan_headers, leader["order_id"])
    await outbox.drain(db)
    g = (await client.get(f"/api/groupbuy/groups/{gid}")).json()
    assert (g["status"], g["filled"], g["seats_left"]) == ("forming", 1, 2)
    paid_at = (await order_row(db, leader["order_id"])).paid_at
    assert (await group_row(db, gid)).expires_at == paid_at + timedelta(minutes=60)
    r = await ship(client, w.supplier_headers, leader["order_id"])
    assert r.status_code == 409 and err(r) == "order.on_hold", r.text

    second = await join_paid(client, db, f2, gid, sku)
    r = await ship(client, w.supplier_headers, second["order_id"])
    assert r.status_code == 409 and err(r) == "order.on_hold"
    assert await count(db, Commission) == 0  # held orders earn nothing yet

    r = await join(client, f4, gid, sku)  # f4 places an order but will be too slow to pay
    assert r.status_code == 201, r.text
    slow = r.json()
    third = await join_paid(client, db, f3, gid, sku)
    g = (await client.get(f"/api/groupbuy/groups/{gid}")).json()
    assert (g["status"], g["filled"], g["seats_left"], g["completed_by_platform"]) == ("succeeded", 3, 0, False)
    assert [m["nickname"] for m in g["members"]] == ["粉丝", "团友1", "团友2"]
    assert g["members"][0]["is_leader"] and not any(m["is_leader"] for m in g["members"][1:])

    for placed in (leader, second, third):
        o = await order_row(db, placed["order_id"])
        assert (o.status, o.hold_reason) == ("paid", None)
        r = await ship(client, w.supplier_headers, placed["order_id"])
        assert r.status_code == 200, r.text
    # The seat f4 never paid for is gone: the order is cancelled and its unit is back on the shelf.
    assert (await order_row(db, slow["order_id"])).status == "cancelled"
    assert await stock(db, sku) == before - 3
    statuses = sorted(m.status for m in await members(db, gid))
    assert statuses == ["cancelled", "succeeded", "succeeded", "succeeded"]
    # Commission only once the group succeeded, on f2's order (bound to the shopkeeper).
    assert await count(db, Commission, Commission.order_id == second["order_id"], Commission.level == 1) == 1
    assert await count(db, Commission) == 1
    assert await ledger_problems(db) == []
    await assert_no_fake_members(db)

    _, op = await make_user(db, "13700000009", Role.OPERATOR)
    st = (await client.get(f"/api/groupbuy/activities/{act}/stats", headers=op)).json()
    assert (st["groups_succeeded"], st["groups_open"], st["members_paid_seated"], st["refunds"]) == (1, 0, 3, 0)
    r = await client.get(f"/api/groupbuy/activities/{act}/stats", headers=w.fan_headers)
    assert r.status_code == 403


async def db_user_of_shop(db, shop_id: int) -> int:  # noqa: ANN001
    from quanzi.shops.models import Shop

    async with db.read() as s:
        return (await s.execute(select(Shop.owner_id).where(Shop.id == shop_id))).scalar_one()


async def test_operator_creates_activity_and_fans_see_it(client, db) -> None:  # noqa: ANN001
    from tests.factories import make_world

    w = await make_world(db)
    _, op = await make_user(db, "13700000009", Role.OPERATOR)
    now = clock.now()
    body = {"title": "两人团", "product_id": w.product_id, "skus": [{"sku_id": w.sku_ids[0], "group_price_fen": 1990}],
            "group_size": 2, "time_limit_minutes": 120, "starts_at": (now - timedelta(minutes=1)).isoformat(),
            "ends_at": (now + timedelta(days=1)).isoformat(), "leader_discount_fen": 300, "complete_ratio_bp": 5000}
    r = await client.post("/api/groupbuy/activities", json=body, headers=w.fan_headers)
    assert r.status_code == 403
    r = await client.post("/api/groupbuy/activities", json=body, headers=op)
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["skus"] == [{"sku_id": w.sku_ids[0], "group_price_fen": 1990, "leader_price_fen": 1690,
                          "reference_price_fen": None}]  # no 7-day price history yet
    listed = (await client.get("/api/groupbuy/activities")).json()
    assert [x["id"] for x in listed] == [a["id"]]
    # Strict input: unknown fields, strings for numbers, naive times, a SKU of another product are refused.
    for bad in ({**body, "extra": 1}, {**body, "group_size": "2"}, {**body, "group_size": 1},
                {**body, "starts_at": "2026-01-01T00:00:00"}, {**body, "starts_at": 1700000000},
                {**body, "complete_ratio_bp": 10000}):
        r = await client.post("/api/groupbuy/activities", json=bad, headers=op)
        assert r.status_code == 422, (bad, r.text)
    r = await client.post("/api/groupbuy/activities", headers=op, json={
        **body, "skus": [{"sku_id": w.sku_ids[0], "group_price_fen": 200}]})  # 2.00 − 3.00 leader discount
    assert r.status_code == 422 and err(r) == "groupbuy.bad_terms"
    r = await client.post("/api/groupbuy/activities", headers=op, json={**body, "ends_at": body["starts_at"]})
    assert r.status_code == 422 and err(r) == "groupbuy.bad_terms"
    r = await client.post("/api/groupbuy/activities", headers=op, json={  # already over: nobody could join
        **body, "starts_at": (now - timedelta(days=2)).isoformat(), "ends_at": (now - timedelta(days=1)).isoformat()})
    assert r.status_code == 422 and err(r) == "groupbuy.bad_terms" and "已经过去" in r.text
    r = await client.post("/api/groupbuy/activities", headers=op, json={
        **body, "starts_at": "0272-08-11T00:31:38+01:00", "ends_at": "9999-12-31T23:59:59-01:00"})
    assert r.status_code == 422 and err(r) == "groupbuy.bad_terms", r.text

    r = await open_group(client, w, a["id"], w.sku_ids[0])
    assert r.status_code == 201 and r.json()["total_fen"] == 1690 + SHIPPING, r.text
    await pay(client, w.fan_headers, r.json()["order_id"])
    await outbox.drain(db)
    detail = (await client.get(f"/api/groupbuy/activities/{a['id']}")).json()
    assert [g["id"] for g in detail["groups"]] == [r.json()["group_id"]]  # joinable, shown on the activity


async def test_join_is_idempotent_and_share_link_lands_on_the_group(client, db, app) -> None:  # noqa: ANN001
    w, act = await setup(db, size=3)
    sku = w.sku_ids[0]
    (f2,) = await fans(db, 1)
    leader = (await open_group(client, w, act, sku)).json()
    await pay(client, w.fan_headers, leader["order_id"])
    await outbox.drain(db)
    gid = leader["group_id"]

    a = await join(client, f2, gid, sku, key="join-1")
    b = await join(client, f2, gid, sku, key="join-1")
    assert a.status_code == b.status_code == 201 and a.json() == b.json()
    c = await join(client, f2, gid, sku, qty=2, key="join-1")
    assert c.status_code == 409 and err(c) == "idempotency.key_reused"
    assert await count(db, Order, Order.buyer_id == f2.user_id) == 1
    d = await join(client, f2, gid, sku, key="join-2")  # a new attempt by someone already in the group
    assert d.status_code == 409 and err(d) == "groupbuy.already_member", d.text

    r = await client.post(f"/api/groupbuy/groups/{gid}/share", headers=w.fan_headers)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert SHARE_SECRET == app.state.settings.secret_key
    r = await client.get(f"/r/{token}", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/groupbuy/groups/{gid}"
    r = await client.post("/api/groupbuy/groups/999999/share", headers=w.fan_headers)
    assert r.status_code == 404 and err(r) == "groupbuy.group_not_found"
    assert (await client.get("/api/groupbuy/groups/999999")).status_code == 404


async def test_member_rows_are_only_real_people(client, db) -> None:  # noqa: ANN001
    """C7 in its plainest form: the number of member rows with a seat is the number of people who paid."""
    w, act = await setup(db, size=2)
    (f2,) = await fans(db, 1)
    leader = (await open_group(client, w, act, w.sku_ids[0])).json()
    await pay(client, w.fan_headers, leader["order_id"])
    await outbox.drain(db)
    await join_paid(client, db, f2, leader["group_id"], w.sku_ids[0])
    async with db.read() as s:
        rows = list((await s.execute(select(GroupMember))).scalars())
        paid = list((await s.execute(select(Order).where(Order.paid_at.is_not(None)))).scalars())
    assert sorted(m.user_id for m in rows) == sorted(o.buyer_id for o in paid) == sorted([w.fan_id, f2.user_id])
    await assert_no_fake_members(db)
