"""Every object route of the OpenAPI document, walked as a second person against the first person's objects.

The first person (A) holds one of every kind of object: a supplier's product and SKU, a shop with a shelf, a
cart item, an address, a paid order with an open after-sale, an unpaid order with a payment attempt, a
withdrawal, a bargain and a group. The second person (B) holds the same roles (supplier and shopkeeper, so
role gates do not hide a missing ownership check) and objects of their own. For every route with a path
parameter, B must get 404 (or 403 on operator routes), and none of A's objects may change. Then A (or the
operator, on operator routes) calls the same route: it must not be a 404/403/validation error, which proves
the ids and bodies the walk sends are real — a walk that 404s on bad ids would prove nothing.

A route is covered by default: a new object route is walked as soon as it exists, and fails the test if
its path parameter name is unknown here, if it needs a body that is not listed, or if B is not refused.
Routes that are public by design are listed in PUBLIC with the reason.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from quanzi.accounts import service as accounts
from quanzi.accounts.models import Role
from quanzi.aftersales.models import AfterSale
from quanzi.bargain import service as bargain
from quanzi.bargain.models import Bargain
from quanzi.cart import service as cart
from quanzi.cart.models import Address, CartItem
from quanzi.community.models import Member
from quanzi.catalog import service as catalog
from quanzi.catalog.models import Product, Sku
from quanzi.flashsale import service as flash
from quanzi.groupbuy import service as groupbuy
from quanzi.groupbuy.models import Group
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.notifications.models import Notification
from quanzi.orders.models import Order, OrderLine
from quanzi.reviews import service as reviews
from quanzi.orders.service import CHINA
from quanzi.shops import service as shops
from quanzi.shops.models import ShelfItem
from quanzi.withdrawals import service as withdrawals
from quanzi.withdrawals.models import Withdrawal
from tests.commerce._support import pay, place_one, start_payment
from tests.conftest import make_user
from tests.media import images
from tests.factories import buy, new_buyer, new_product, ship_and_receive, unlock

# Routes anyone may call on anyone's object, and why. B calling them is not a hole.
PUBLIC: dict[tuple[str, str], str] = {
    ("GET", "/api/catalog/products/{product_id}"): "a published product page is public",
    ("GET", "/api/shops/{shop_id}"): "an open shop's page is public",
    ("GET", "/api/products/{product_id}/reviews"): "a published product's reviews are public",
    ("GET", "/api/regions/{code}"): "China's administrative divisions (the address picker's data) are public",
    ("GET", "/posters/{kind}/{target_id}.png"):
        "any active distributor draws their own share poster for any public product or shop",
    ("POST", "/api/flashsale/{activity_id}/grab"): "a flash sale is open to every fan",
    ("POST", "/api/bargain/activities/{activity_id}/launch"): "every fan may launch their own bargain",
    ("GET", "/api/bargains/{bargain_id}"): "a bargain is shared so friends can see and help it",
    ("POST", "/api/bargains/{bargain_id}/help"): "helping a friend's bargain is the point",
    ("GET", "/api/groupbuy/activities/{activity_id}"): "a running group-buy activity is public",
    ("POST", "/api/groupbuy/activities/{activity_id}/open"): "every fan may open their own group",
    ("GET", "/api/groupbuy/groups/{group_id}"): "a group is shared so others can see it and join",
    ("POST", "/api/groupbuy/groups/{group_id}/join"): "joining someone's group is the point",
    ("POST", "/api/groupbuy/groups/{group_id}/share"): "anyone may share a group with their own token",
    ("GET", "/api/circles/{community_id}"): "a community's join page (name, intro, rules) is what an invite shows",
    ("POST", "/api/circles/{community_id}/join"):
        "anyone may ask to join (the walk's community asks for approval, so B stays outside)",
    ("GET", "/api/circles/{community_id}/feed"): "outsiders see only the posts marked public",
    ("POST", "/api/circles/{community_id}/leave"): "one leaves (or withdraws a request to join) only oneself",
    ("GET", "/api/draws/{draw_id}"): "a published draw's rules, prizes and winners are public (no fake winners)",
}

# Routes gated by a role that B does not hold: B gets 403; the walk's owner pass calls them as the operator.
OPERATOR_ONLY: set[tuple[str, str]] = {
    ("POST", "/api/distribution/distributors/{user_id}/decision"),
    ("PUT", "/api/distribution/levels/{rank}"),
    ("POST", "/api/withdrawals/{withdrawal_id}/approve"),
    ("POST", "/api/withdrawals/{withdrawal_id}/reject"),
    ("POST", "/api/withdrawals/{withdrawal_id}/confirm-paid"),
    ("POST", "/api/withdrawals/{withdrawal_id}/offline-failed"),
    ("GET", "/api/flashsale/activities/{activity_id}/stats"),
    ("GET", "/api/groupbuy/activities/{activity_id}/stats"),
    ("POST", "/api/circles/{community_id}/close"),
}

METHOD_ORDER = {"get": 0, "patch": 1, "put": 2, "post": 3, "delete": 4}


@dataclass
class Side:
    user_id: int
    headers: dict[str, str]
    supplier_id: int
    product_id: int
    sku_id: int
    shop_id: int
    address_id: int
    cart_item_id: int
    free_media: int = 0  # an uploaded product picture not attached to anything yet


@dataclass
class Scene:
    a: Side
    b: Side
    operator: dict[str, str]
    paid_order: int
    pending_order: int
    out_trade_no: str
    aftersale_id: int
    withdrawal_id: int
    flash_activity: int
    bargain_activity: int
    bargain_id: int
    group_activity: int
    group_id: int
    paid_checkout: int
    pending_checkout: int
    notification_id: int
    media_id: int
    review_id: int
    community_id: int = 0
    post_id: int = 0
    report_id: int = 0
    members: dict[str, int] | None = None  # member id per moderation route (each acts on its own member)
    draw_id: int = 0
    packet_id: int = 0
    poll_id: int = 0
    poll_option: int = 0
    event_id: int = 0


async def _side(db: Database, phone: str, name: str, code: str) -> Side:
    uid, _ = await make_user(db, phone, Role.SUPPLIER, nickname=name)
    async with db.write() as s:
        sup = await catalog.ensure_supplier(s, uid, f"{name}的供应链")
        cat = await catalog.ensure_category(s, "水果", "Fruit")
        product = await catalog.create_product(
            s, sup.id, title=f"{name}的赣南脐橙", category_id=cat.id, publish=True,
            skus=[{"code": f"{code}-{i}", "label": f"{i + 3}斤装", "price_fen": p, "cost_fen": p // 2, "stock": 500}
                  for i, p in enumerate((5000, 8000))])
        sku_id = (await catalog.skus_of(s, [product.id]))[product.id][0].id
        shop = await shops.open_shop(s, uid, f"{name}的小店")
        await shops.add_to_shelf(s, shop, product.id, "自家果园")
        addr = await cart.add_address(s, uid, name=name, phone=phone, region="江西省 赣州市", detail="脐橙路 1 号")
        item = await cart.add_item(s, uid, sku_id, 1, shop.id)
        ids = (sup.id, product.id, sku_id, shop.id, addr.id, item.id)
    _, headers = await make_user(db, phone)  # a token carrying the shopkeeper role gained by opening the shop
    return Side(uid, headers, *ids)


async def _earn(db: Database, shop_id: int, commission_fen: int) -> None:
    """Commission made available the honest way (as tests/distribution/test_withdrawals.py does): a sale through
    the shop at 10 %, received, and the unlock sweep on day 8. The clock stays frozen on that day."""
    sku = (await new_product(db, prices=(commission_fen * 10,))).sku_ids[0]
    day = clock.now().astimezone(CHINA).date() + timedelta(days=1)
    clock.freeze(datetime.combine(day, time(9, secrets.randbelow(60)), tzinfo=CHINA))
    order_id = await buy(db, await new_buyer(db), [(sku, 1)], shop_id)
    await ship_and_receive(db, order_id)
    clock.freeze(datetime.combine(day + timedelta(days=8), time(0), tzinfo=CHINA))
    await unlock(db)
    clock.freeze(datetime.combine(day + timedelta(days=8), time(10, 0, 30), tzinfo=CHINA))


async def _scene(client: httpx.AsyncClient, db: Database) -> Scene:
    a = await _side(db, "13700000101", "阿甲", "JA")
    b = await _side(db, "13700000202", "阿乙", "YI")
    _, operator = await make_user(db, "13800000009", Role.OPERATOR)
    await _earn(db, a.shop_id, 10_000)
    async with db.write() as s:
        w = await withdrawals.request(s, a.user_id, 5_000, "bank", {"name": "阿甲", "account": "6222000011112222"})
        withdrawal_id = w.id

    paid = await place_one(client, a.headers, a.address_id, a.sku_id, 2, shop_id=a.shop_id)
    await pay(client, a.headers, paid["id"])
    r = await client.post("/api/aftersales", json={"order_id": paid["id"], "line_id": paid["lines"][0]["id"],
                                                   "kind": "refund_only", "quantity": 1, "reason": "不想要了"},
                          headers=a.headers)
    assert r.status_code == 201, r.text
    aftersale_id = r.json()["id"]
    pending = await place_one(client, a.headers, a.address_id, a.sku_id, 1, shop_id=a.shop_id)
    otn = (await start_payment(client, a.headers, pending["id"]))["out_trade_no"]

    now = clock.now()
    async with db.write() as s:
        slot = await flash.create_slot(s, "10点场", time(10, 0), time(12, 0))
        fa = await flash.create_activity(s, slot_id=slot.id, day=now.astimezone(CHINA).date(), title="脐橙秒杀",
                                         product_id=a.product_id, items=[(a.sku_id, 990, 20)])
        ba = await bargain.create_activity(
            s, title="砍价脐橙", product_id=a.product_id, sku_id=a.sku_id, start_price_fen=5000, floor_price_fen=100,
            helpers_needed=3, cut_mode="random", cut_min_fen=100, cut_max_fen=3000, first_cut_fen=500,
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3))
        ga = await groupbuy.create_activity(
            s, title="脐橙 3 人团", product_id=a.product_id, skus=[(a.sku_id, 3990)], group_size=3,
            time_limit_minutes=60, starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=7))
        acts = (fa.id, ba.id, ga.id)
    r = await client.post(f"/api/bargain/activities/{acts[1]}/launch", headers=a.headers)
    assert r.status_code == 201, r.text
    bargain_id = r.json()["id"]
    r = await client.post(f"/api/groupbuy/activities/{acts[2]}/open",
                          json={"sku_id": a.sku_id, "quantity": 1, "address_id": a.address_id}, headers=a.headers)
    assert r.status_code == 201, r.text
    group_id = r.json()["group_id"]
    await pay(client, a.headers, r.json()["order_id"])
    await outbox.drain(db)
    async with db.read() as s:
        notification_id = (await s.execute(select(Notification.id).where(Notification.user_id == a.user_id)
                                           .limit(1))).scalar_one()  # "order paid", written by the outbox
    # Pictures: one on A's product, one free upload each (the body of "add pictures" names the caller's own).
    attached = await _upload(client, a.headers)
    r = await client.post(f"/api/catalog/manage/products/{a.product_id}/images", json={"media_ids": [attached]},
                          headers=a.headers)
    assert r.status_code == 200, r.text
    a.free_media, b.free_media = await _upload(client, a.headers), await _upload(client, b.headers)
    # A review of A's product by a buyer who received it: A (supplier and shopkeeper) may reply, B may not.
    buyer = await new_buyer(db)
    bought = await buy(db, buyer, [(a.sku_id, 1)], a.shop_id)
    await ship_and_receive(db, bought)
    async with db.write() as s:
        line_id = (await s.execute(select(OrderLine.id).where(OrderLine.order_id == bought))).scalar_one()
        review_id = (await reviews.write(s, buyer.user_id, line_id, stars=5, body="很甜", anonymous=False)).id
    sc = Scene(a, b, operator, paid["id"], pending["id"], otn, aftersale_id, withdrawal_id, acts[0], acts[1],
               bargain_id, acts[2], group_id, paid["checkout_id"], pending["checkout_id"],
               notification_id, attached, review_id)
    await _circle(db, sc)
    return sc


async def _circle(db: Database, sc: Scene) -> None:
    """A's community (by approval, so B's join only asks), a post, a report, and one member per moderation route."""
    from quanzi.community import feed as circle_feed
    from quanzi.community import service as circles

    async with db.write() as s:
        c = await circles.create_community(s, sc.a.user_id, circles.Settings(name="阿甲的圈子", rules="友善",
                                                                              join_mode="approval"))
        members: dict[str, int] = {}
        for i, route in enumerate(("approve", "reject", "remove", "ban", "unban", "mute", "role")):
            user, _ = await accounts.get_or_create_user(s, f"+86137000003{i:02d}", f"圈友{i}")
            if route in ("approve", "reject"):
                m = await circles.join(s, c.id, user.id, accepted_rules_version=1)
            else:
                m = await circles.join(s, c.id, user.id, accepted_rules_version=1,
                                       invite=_invite(sc.a.user_id, c.id))
            members[route] = m.id
        await circles.remove(s, c.id, sc.a.user_id, members["unban"], "测试", ban=True)
        post = await circle_feed.create_post(s, c.id, sc.a.user_id, circle_feed.Draft(body="阿甲的第一条"))
        reporter = await circles.membership(s, c.id, (await s.get(Member, members["mute"])).user_id)
        rep = await circle_feed.report(s, post.id, reporter.user_id, "测试举报")
        sc.community_id, sc.post_id, sc.report_id, sc.members = c.id, post.id, rep.id, members
    await _engagement(db, sc)


async def _engagement(db: Database, sc: Scene) -> None:
    """In A's community: a published draw, a red packet from the shop, a poll and a calendar activity."""
    from datetime import timedelta as td

    from quanzi.engagement import service as engage

    async with db.write() as s:
        cid, owner = sc.community_id, sc.a.user_id
        d = await engage.create_draw(s, cid, owner, title="阿甲的抽奖", rules_text="每人一次", cost_points=0,
                                     per_person_limit=5, ends_at=clock.now() + td(days=3),
                                     prizes=[engage.PrizeIn(name="苹果", kind="goods", chance_bp=100, stock=5)])
        await engage.open_draw(s, d.id, owner)
        p = await engage.send_packet(s, cid, owner, total_points=10, parts=2, split="fixed", from_shop=True)
        poll = await engage.create_poll(s, cid, owner, question="下周上什么？", options=["荔枝", "杨梅"],
                                        multiple=False, anonymous=False, closes_at=clock.now() + td(days=1))
        (act,) = await engage.schedule(s, cid, owner, kind="drop", title="上新", starts_at=clock.now() + td(days=1))
        sc.draw_id, sc.packet_id, sc.poll_id, sc.event_id = d.id, p.id, poll.id, act.id
        sc.poll_option = (await engage.options_of(s, poll.id))[0].id


def _invite(sharer_id: int, community_id: int) -> Any:
    from quanzi.kit import sharetokens

    raw = sharetokens.issue("test-secret", sharer_id, "q", community_id, clock.now())
    return sharetokens.verify("test-secret", raw, clock.now(), 7)


async def _upload(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    r = await client.post("/api/media", data={"purpose": "product"},
                          files={"file": ("p.jpg", images.jpeg(), "image/jpeg")}, headers=headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _param(sc: Scene, path: str, name: str) -> int | str:
    """The first person's object for a path parameter. Unknown names fail: a new object route must be mapped."""
    known = {"product_id", "sku_id", "shop_id", "item_id", "address_id", "aftersale_id", "withdrawal_id",
             "bargain_id", "group_id", "out_trade_no", "user_id", "rank", "kind", "target_id", "order_id",
             "activity_id", "checkout_id", "notification_id", "code",
             "media_id", "review_id", "community_id", "post_id", "report_id", "member_id",
             "draw_id", "packet_id", "poll_id", "event_id"}
    assert name in known, f"path parameter {{{name}}} of {path} is not mapped to an object in this walk"
    a = sc.a
    by_name: dict[str, int | str] = {
        "product_id": a.product_id, "sku_id": a.sku_id, "shop_id": a.shop_id, "item_id": a.cart_item_id,
        "address_id": a.address_id, "aftersale_id": sc.aftersale_id, "withdrawal_id": sc.withdrawal_id,
        "bargain_id": sc.bargain_id, "group_id": sc.group_id, "out_trade_no": sc.out_trade_no,
        "user_id": a.user_id, "rank": 1, "kind": "p", "target_id": a.product_id,
        "notification_id": sc.notification_id, "media_id": sc.media_id, "review_id": sc.review_id,
        "code": "36",  # 江西省
        "community_id": sc.community_id, "post_id": sc.post_id, "report_id": sc.report_id,
        "draw_id": sc.draw_id, "packet_id": sc.packet_id, "poll_id": sc.poll_id, "event_id": sc.event_id,
    }
    if name == "order_id":
        # Paying, cancelling and paying again are for the unpaid order; the rest for the paid one.
        return sc.pending_order if path.endswith(("/pay", "/cancel")) else sc.paid_order
    if name == "member_id":
        assert sc.members is not None
        return sc.members[path.rsplit("/", 1)[-1]]
    if name == "checkout_id":
        return sc.pending_checkout if path.endswith("/pay") else sc.paid_checkout
    if name == "activity_id":
        for prefix, value in (("/api/flashsale/", sc.flash_activity), ("/api/bargain/", sc.bargain_activity),
                              ("/api/groupbuy/", sc.group_activity)):
            if path.startswith(prefix):
                return value
    assert name in by_name, f"path parameter {{{name}}} of {path} is not mapped to an object in this walk"
    return by_name[name]


def _body(sc: Scene, method: str, path: str, who: Side) -> dict[str, Any] | None:
    """A valid body for the route, using the caller's own objects (so only the path object is someone else's)."""
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/api/distribution/distributors/{user_id}/decision"): {"status": "active", "note": "ok"},
        ("PUT", "/api/distribution/levels/{rank}"): {"name": "铜牌", "l1_bp": 500, "l2_bp": 100},
        ("PATCH", "/api/catalog/manage/products/{product_id}"): {"subtitle": "改过的副标题"},
        ("POST", "/api/catalog/manage/products/{product_id}/status"): {"status": "unpublished"},
        ("POST", "/api/catalog/manage/skus/{sku_id}/price"): {"price_fen": 4900},
        ("POST", "/api/catalog/manage/skus/{sku_id}/stock"): {"delta": 1},
        ("PUT", "/api/shops/mine/shelf/{product_id}"): {"recommendation": "换个推荐语"},
        ("PUT", "/api/cart/items/{item_id}"): {"quantity": 3},
        ("PUT", "/api/addresses/{address_id}"): {"name": "改名", "phone": "13700000999", "province_code": "36",
                                                  "city_code": "3607", "district_code": "360702",
                                                  "detail": "脐橙路 2 号"},
        ("POST", "/api/orders/{order_id}/pay"): {"provider": "sandbox"},
        ("POST", "/api/checkouts/{checkout_id}/pay"): {"provider": "sandbox"},
        ("POST", "/api/catalog/manage/products/{product_id}/images"): {"media_ids": [who.free_media]},
        ("POST", "/api/reviews/{review_id}/reply"): {"body": "谢谢支持"},
        ("POST", "/api/supplier/orders/{order_id}/ship"): {"carrier": "顺丰", "tracking_no": "SF1234567890"},
        ("POST", "/api/aftersales/{aftersale_id}/ship-back"): {"carrier": "顺丰", "tracking_no": "SF9876543210"},
        ("POST", "/api/supplier/aftersales/{aftersale_id}/reject"): {"reason": "不符合条件"},
        ("POST", "/api/withdrawals/{withdrawal_id}/reject"): {"reason": "信息不全"},
        ("POST", "/api/withdrawals/{withdrawal_id}/confirm-paid"): {"bank_reference": "ICBC20261205001"},
        ("POST", "/api/withdrawals/{withdrawal_id}/offline-failed"): {"reason": "银行退票"},
        ("POST", "/api/flashsale/{activity_id}/grab"): {"sku_id": sc.a.sku_id, "address_id": who.address_id},
        ("POST", "/api/bargains/{bargain_id}/buy"): {"address_id": who.address_id},
        ("POST", "/api/groupbuy/activities/{activity_id}/open"):
            {"sku_id": sc.a.sku_id, "address_id": who.address_id},
        ("POST", "/api/groupbuy/groups/{group_id}/join"): {"sku_id": sc.a.sku_id, "address_id": who.address_id},
        ("PUT", "/api/circles/{community_id}"): {"name": "改名的圈子", "rules": "友善", "join_mode": "approval"},
        ("POST", "/api/circles/{community_id}/join"): {"accepted_rules_version": 1},
        ("POST", "/api/circles/{community_id}/close"): {"reason": "测试关闭"},
        ("POST", "/api/circles/{community_id}/posts"): {"body": "新帖子"},
        ("POST", "/api/circles/{community_id}/members/{member_id}/remove"): {"reason": "测试"},
        ("POST", "/api/circles/{community_id}/members/{member_id}/ban"): {"reason": "测试"},
        ("POST", "/api/circles/{community_id}/members/{member_id}/mute"): {"minutes": 10},
        ("POST", "/api/circles/{community_id}/members/{member_id}/role"): {"role": "staff"},
        ("POST", "/api/circles/{community_id}/reports/{report_id}"): {"action": "dismiss"},
        ("POST", "/api/circles/posts/{post_id}/comments"): {"body": "评论"},
        ("POST", "/api/circles/posts/{post_id}/report"): {"reason": "再举报"},
        ("PUT", "/api/circles/{community_id}/engagement"): {"checkin_cycle": "month"},
        ("POST", "/api/circles/{community_id}/draws"): {
            "title": "新抽奖", "rules": "每人一次", "cost_points": 0, "per_person_limit": 1,
            "ends_at": (clock.now() + timedelta(days=2)).isoformat(),
            "prizes": [{"name": "梨", "kind": "goods", "chance_bp": 100, "stock": 1}]},
        ("POST", "/api/circles/{community_id}/red-packets"): {"total_points": 4, "parts": 2, "split": "lucky",
                                                             "from_shop": True},
        ("POST", "/api/circles/{community_id}/polls"): {
            "question": "再问一次？", "options": ["是", "否"], "closes_at": (clock.now() + timedelta(days=1)).isoformat()},
        ("POST", "/api/circles/{community_id}/calendar"): {
            "kind": "live_qa", "title": "直播答疑", "starts_at": (clock.now() + timedelta(days=2)).isoformat()},
        ("POST", "/api/polls/{poll_id}/answer"): {"option_ids": [sc.poll_option]},
    }
    return bodies.get((method, path))


def _object_routes(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    routes = [(m.upper(), path, op) for path, ops in doc["paths"].items() for m, op in ops.items()
              if "{" in path and m in METHOD_ORDER]
    return sorted(routes, key=lambda r: (METHOD_ORDER[r[0].lower()], r[1]))


async def _call(client: httpx.AsyncClient, sc: Scene, method: str, path: str, op: dict[str, Any], who: Side,
                headers: dict[str, str]) -> httpx.Response:
    url = re.sub(r"\{(\w+)\}", lambda m: str(_param(sc, path, m.group(1))), path)
    body = _body(sc, method, path, who)
    if op.get("requestBody", {}).get("required") and body is None:
        raise AssertionError(f"{method} {path} needs a request body: add a valid one to _body()")
    return await client.request(method, url, json=body, headers=headers)


async def _a_objects(db: Database, sc: Scene) -> dict[str, Any]:
    """Everything of A's that B might change through a hole."""
    async with db.read() as s:
        product = await s.get(Product, sc.a.product_id)
        sku = await s.get(Sku, sc.a.sku_id)
        item = await s.get(CartItem, sc.a.cart_item_id)
        addr = await s.get(Address, sc.a.address_id)
        orders = {o.id: o.status for o in (await s.execute(
            select(Order).where(Order.buyer_id == sc.a.user_id))).scalars()}
        aftersale = await s.get(AfterSale, sc.aftersale_id)
        w = await s.get(Withdrawal, sc.withdrawal_id)
        b = await s.get(Bargain, sc.bargain_id)
        g = await s.get(Group, sc.group_id)
        shelf = sorted((x.product_id, x.recommendation) for x in (await s.execute(
            select(ShelfItem).where(ShelfItem.shop_id == sc.a.shop_id))).scalars())
        return {
            "product": (product.title, product.subtitle, product.status) if product else None,
            "sku": sku.price_fen if sku else None,  # not stock: B's grab/open/join reserve some
            "cart_item": item.quantity if item else None, "address": addr is not None, "orders": orders,
            "aftersale": aftersale.status if aftersale else None, "withdrawal": w.status if w else None,
            "bargain": (b.status, b.helpers_count) if b else None, "group": (g.status, g.filled) if g else None,
            "shelf": shelf,
        }


async def test_every_object_route_refuses_a_second_person(app, client, db) -> None:  # noqa: ANN001
    sc = await _scene(client, db)
    routes = _object_routes(app.openapi())
    assert len(routes) >= 40, "the walk found fewer object routes than the app has: is the document complete?"
    listed = set(PUBLIC) | OPERATOR_ONLY
    unknown = listed - {(m, p) for m, p, _ in routes}
    assert not unknown, f"routes listed here that the app no longer has: {sorted(unknown)}"

    before = await _a_objects(db, sc)
    holes: list[str] = []
    for method, path, op in routes:
        if (method, path) in PUBLIC:
            r = await _call(client, sc, method, path, op, sc.b, sc.b.headers)
            assert r.status_code < 500, (method, path, r.status_code, r.text[:300])
            continue
        r = await _call(client, sc, method, path, op, sc.b, sc.b.headers)
        expected = 403 if (method, path) in OPERATOR_ONLY else 404
        if r.status_code != expected:
            holes.append(f"{method} {path}: {r.status_code} {r.text[:160]}")
        elif "阿甲" in r.text or str(sc.a.user_id) == r.text.strip():
            holes.append(f"{method} {path}: the refusal shows the first person's data: {r.text[:160]}")
    assert not holes, "a second person reached the first person's objects:\n" + "\n".join(holes)
    after = await _a_objects(db, sc)
    # B's public calls (grab, launch, open, join, help) create B's own objects and may take a seat in A's
    # group or cut A's bargain: those are the routes' purpose. Everything else of A's is untouched.
    for key in ("bargain", "group"):
        before.pop(key), after.pop(key)
    assert after == before

    # The owner (or the operator, on operator routes) is not refused: the ids and bodies above are real.
    refused: list[str] = []
    for method, path, op in routes:
        if (method, path) in PUBLIC:
            continue
        headers = sc.operator if (method, path) in OPERATOR_ONLY else sc.a.headers
        r = await _call(client, sc, method, path, op, sc.a, headers)
        body = r.json() if r.content and r.headers.get("content-type", "").startswith("application/json") else {}
        code = body.get("error", {}).get("code") if isinstance(body, dict) and isinstance(body.get("error"), dict) \
            else None
        if r.status_code in (401, 403, 404) or code == "request.invalid":
            refused.append(f"{method} {path}: {r.status_code} {r.text[:160]}")
    assert not refused, "the owner was refused, so the walk's ids or bodies are wrong:\n" + "\n".join(refused)


async def test_an_unmapped_path_parameter_fails_the_walk() -> None:
    sc = Scene(*(None,) * 18)  # type: ignore[arg-type]
    try:
        _param(sc, "/api/coupons/{coupon_id}", "coupon_id")
    except AssertionError as exc:
        assert "coupon_id" in str(exc)
    else:
        raise AssertionError("an unknown path parameter must fail the walk")
