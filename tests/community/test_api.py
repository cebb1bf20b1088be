"""The community JSON API end to end: join with rules and invites, the feed, 晒单, likes, reports, moderation,
and every refusal with its stable code (nothing half-written)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from quanzi.audit.models import AuditLog
from quanzi.community import service
from quanzi.community.models import Community, Member, Post
from quanzi.kit import sharetokens as tokens
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.referrals import service as referrals
from tests.community._support import make_community, member, new_fan
from tests.factories import Fan, buy, ship_and_receive
from tests.media import images


async def _count(db: Database, model, *where) -> int:  # noqa: ANN001
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_join_feed_post_like_comment(client, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db)
    cid = circle.community_id
    _fan, h = await new_fan(db, "小红")
    r = await client.get(f"/api/circles/{cid}", headers=h)
    assert r.status_code == 200 and r.json()["rules_version"] == 1 and r.json()["my_status"] is None
    r = await client.post(f"/api/circles/{cid}/join", json={"accepted_rules_version": 2}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "community.rules_not_accepted"
    r = await client.post(f"/api/circles/{cid}/join", json={"accepted_rules_version": 1}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    r = await client.get(f"/api/circles/{cid}/feed", headers=h)
    items = r.json()["items"]
    assert [(p["kind"], p["author"], p["body"]) for p in items] == [("system", "小红", "欢迎加入！")]
    r = await client.post(f"/api/circles/{cid}/posts", json={"body": "<script>alert(1)</script> 今天的苹果真甜"},
                          headers=h)
    assert r.status_code == 201, r.text
    post_id = r.json()["id"]
    for _ in range(2):  # once per member
        r = await client.post(f"/api/circles/posts/{post_id}/like", headers=h)
        assert r.json() == {"liked": True, "likes": 1}
    r = await client.post(f"/api/circles/posts/{post_id}/comments", json={"body": "同感"}, headers=h)
    assert r.status_code == 201
    r = await client.get(f"/api/circles/{cid}/feed", headers=h)
    first = r.json()["items"][0]
    assert first["id"] == post_id and first["likes"] == 1 and first["liked"] and first["comments"] == 1
    r = await client.get("/api/me/circles", headers=h)
    assert [c["id"] for c in r.json()] == [cid]


async def test_left_fan_reads_only_public_posts(client, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db)
    cid = circle.community_id
    fan, h = await member(db, cid)
    async with db.write() as s:
        from quanzi.community import feed

        secret = await feed.create_post(s, cid, fan, feed.Draft(body="只给群友看"))
        await feed.create_post(s, cid, circle.owner_id, feed.Draft(body="公开公告", kind="announcement",
                                                                    members_only=False))
        secret_id = secret.id
    r = await client.post(f"/api/circles/{cid}/leave", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "left"
    r = await client.get(f"/api/circles/{cid}/feed", headers=h)
    assert [p["body"] for p in r.json()["items"]] == ["公开公告"]
    r = await client.get(f"/api/circles/posts/{secret_id}", headers=h)
    assert r.status_code == 404
    r = await client.post(f"/api/circles/{cid}/posts", json={"body": "还能发吗"}, headers=h)
    assert r.status_code == 404 and r.json()["error"]["code"] == "community.not_member"
    async with db.read() as s:
        assert (await service.get_community(s, cid)).member_count == 1


async def test_invite_link_joins_binds_and_forgeries_are_refused(client, db: Database, settings) -> None:  # noqa: ANN001
    circle = await make_community(db, join_mode="invite")
    cid = circle.community_id
    fan, h = await new_fan(db)
    r = await client.post(f"/api/circles/{cid}/join", json={"accepted_rules_version": 1}, headers=h)
    assert r.status_code == 403 and r.json()["error"]["code"] == "community.invite_required"
    keeper_h = circle.world.shopkeeper_headers
    r = await client.post(f"/api/circles/{cid}/invites", headers=keeper_h)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    r = await client.post(f"/api/circles/{cid}/join", json={"accepted_rules_version": 1, "invite": forged}, headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "community.invite_invalid"
    other = tokens.issue(settings.secret_key, circle.owner_id, "q", cid + 1, clock.now())
    r = await client.post(f"/api/circles/{cid}/join", json={"accepted_rules_version": 1, "invite": other}, headers=h)
    assert r.status_code == 400 and r.json()["error"]["code"] == "community.invite_invalid"
    old = tokens.issue(settings.secret_key, circle.owner_id, "q", cid, clock.now() - timedelta(days=8))
    r = await client.post(f"/api/circles/{cid}/join", json={"accepted_rules_version": 1, "invite": old}, headers=h)
    assert r.status_code == 410 and r.json()["error"]["code"] == "community.invite_expired"
    assert await _count(db, Member, Member.user_id == fan) == 0
    # The link opens through /r/{token} and lands on the join page with the token.
    r = await client.get(f"/r/{token}", headers=h)
    assert r.status_code == 303 and r.headers["location"] == f"/circles/{cid}/join?invite={token}"
    r = await client.post(f"/api/circles/{cid}/join", json={"accepted_rules_version": 1, "invite": token}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "active", r.text
    async with db.read() as s:
        assert await referrals.active_sharer(s, fan) == circle.owner_id
        m = await service.membership(s, cid, fan)
        assert m is not None and m.invited_by == circle.owner_id


async def test_approval_full_banned_and_audit(client, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db, join_mode="approval", capacity=2)
    cid = circle.community_id
    keeper_h = circle.world.shopkeeper_headers
    (a, ha), (b, hb) = await new_fan(db), await new_fan(db)
    for h in (ha, hb):
        r = await client.post(f"/api/circles/{cid}/join", json={"accepted_rules_version": 1}, headers=h)
        assert r.json()["status"] == "pending"
    r = await client.get(f"/api/circles/{cid}/members?status=pending", headers=keeper_h)
    pending = {m["user_id"]: m["id"] for m in r.json()["items"]}
    r = await client.post(f"/api/circles/{cid}/members/{pending[a]}/approve", headers=keeper_h)
    assert r.status_code == 200 and r.json()["status"] == "active"
    r = await client.post(f"/api/circles/{cid}/members/{pending[b]}/approve", headers=keeper_h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "community.full"
    r = await client.post(f"/api/circles/{cid}/members/{pending[a]}/ban", json={"reason": "发广告"}, headers=keeper_h)
    assert r.status_code == 200 and r.json()["status"] == "banned"
    r = await client.post(f"/api/circles/{cid}/join", json={"accepted_rules_version": 1}, headers=ha)
    assert r.status_code == 403 and r.json()["error"]["code"] == "community.banned"
    r = await client.post(f"/api/circles/{cid}/members/{pending[b]}/approve", headers=keeper_h)
    assert r.status_code == 200  # the banned member's place was given back
    async with db.read() as s:
        c = await s.get(Community, cid)
        assert c is not None and c.member_count == 2
        actions = (await s.execute(select(AuditLog.action).where(AuditLog.entity == "community_members")
                                   .order_by(AuditLog.id))).scalars().all()
        assert actions == ["circle.approve", "circle.ban", "circle.approve"]
    # A member cannot moderate.
    r = await client.post(f"/api/circles/{cid}/members/{pending[a]}/unban", headers=hb)
    assert r.status_code == 403 and r.json()["error"]["code"] == "community.no_permission"


async def test_show_order_only_from_a_received_order_of_the_shop(client, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db)
    w = circle.world
    cid = circle.community_id
    async with db.write() as s:
        c = await service.get_community(s, cid)
        await service.join(s, cid, w.fan_id, accepted_rules_version=c.rules_version)
    order_id = await buy(db, Fan(w.fan_id, w.fan_headers, w.address_id), [(w.sku_ids[0], 1)], w.shop_id)
    body = {"kind": "show_order", "order_id": order_id, "body": "收到啦"}
    r = await client.post(f"/api/circles/{cid}/posts", json=body, headers=w.fan_headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "community.order_not_received"
    await ship_and_receive(db, order_id)
    r = await client.post(f"/api/circles/{cid}/posts", json=body, headers=w.fan_headers)
    assert r.status_code == 201, r.text
    assert r.json()["verified_purchase"] and r.json()["product"]["id"] == w.product_id
    # Someone else's order is not revealed.
    _other, oh = await member(db, cid)
    r = await client.post(f"/api/circles/{cid}/posts", json=body, headers=oh)
    assert r.status_code == 404
    # A product card links into the shop; a product not on its shelf is refused.
    r = await client.post(f"/api/circles/{cid}/posts", json={"product_id": w.product_id}, headers=oh)
    assert r.status_code == 201 and r.json()["product"]["url"] == f"/s/{w.shop_id}/p/{w.product_id}"


async def test_blocked_words_rate_limit_and_pictures(client, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db)
    cid = circle.community_id
    fan, h = await member(db, cid)
    async with db.write() as s:
        from quanzi.community.policy import CommunityPolicy
        from quanzi.policy import service as policy

        await policy.put(s, CommunityPolicy, {"blocked_keywords": ["加微信"], "post_rate": "3/minute"}, None)
    r = await client.post(f"/api/circles/{cid}/posts", json={"body": "便宜货 加微信 聊"}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "community.blocked_word"
    media = []
    for _ in range(2):
        r = await client.post("/api/media", data={"purpose": "community_post"},
                              files={"file": ("a.jpg", images.jpeg(), "image/jpeg")}, headers=h)
        assert r.status_code == 201, r.text
        media.append(r.json()["id"])
    r = await client.post(f"/api/circles/{cid}/posts", json={"body": "", "media_ids": media}, headers=h)
    assert r.status_code == 201 and len(r.json()["photos"]) == 2
    r = await client.post("/api/media", data={"purpose": "community_post"},
                          files={"file": ("a.txt", b"not an image at all", "image/jpeg")}, headers=h)
    assert r.status_code == 422 and r.json()["error"]["code"] == "media.not_an_image"
    big = images.jpeg() + b"\0" * (20 * 1024 * 1024)
    r = await client.post("/api/media", data={"purpose": "community_post"},
                          files={"file": ("big.jpg", big, "image/jpeg")}, headers=h)
    assert r.status_code == 413 and r.json()["error"]["code"] == "media.too_large"
    codes = []
    for i in range(3):
        r = await client.post(f"/api/circles/{cid}/posts", json={"body": f"第{i}条"}, headers=h)
        codes.append(r.status_code)
    assert codes == [201, 201, 429]
    assert await _count(db, Post, Post.author_id == fan) == 3


async def test_report_queue_and_removal(client, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db)
    cid = circle.community_id
    keeper_h = circle.world.shopkeeper_headers
    _author, ha = await member(db, cid)
    _, hr = await member(db, cid)
    r = await client.post(f"/api/circles/{cid}/posts", json={"body": "卖假货"}, headers=ha)
    post_id = r.json()["id"]
    r = await client.post(f"/api/circles/posts/{post_id}/report", json={"reason": "虚假广告"}, headers=hr)
    assert r.status_code == 201
    r = await client.post(f"/api/circles/posts/{post_id}/report", json={"reason": "再举报"}, headers=hr)
    assert r.status_code == 409 and r.json()["error"]["code"] == "community.already_reported"
    r = await client.get(f"/api/circles/{cid}/reports", headers=hr)
    assert r.status_code == 403
    r = await client.get(f"/api/circles/{cid}/reports", headers=keeper_h)
    (rep,) = r.json()
    r = await client.post(f"/api/circles/{cid}/reports/{rep['id']}", json={"action": "remove"}, headers=keeper_h)
    assert r.status_code == 200 and r.json()["status"] == "removed"
    r = await client.get(f"/api/circles/posts/{post_id}", headers=ha)
    assert r.status_code == 404


async def test_operator_closes_a_community(client, db: Database) -> None:  # noqa: ANN001
    from tests.conftest import make_user

    circle = await make_community(db)
    cid = circle.community_id
    _, op = await make_user(db, "13800000009", "operator")
    r = await client.post(f"/api/circles/{cid}/close", json={"reason": "违规"}, headers=circle.world.fan_headers)
    assert r.status_code == 403
    r = await client.post(f"/api/circles/{cid}/close", json={"reason": "售卖违禁品"}, headers=op)
    assert r.status_code == 200 and r.json()["status"] == "closed"
    r = await client.get("/api/operator/circles?status=closed", headers=op)
    assert [c["id"] for c in r.json()] == [cid]
    _fan, h = await new_fan(db)
    r = await client.post(f"/api/circles/{cid}/join", json={"accepted_rules_version": 1}, headers=h)
    assert r.status_code == 409 and r.json()["error"]["code"] == "community.closed"


async def test_operator_edits_the_community_policy(client, db: Database) -> None:  # noqa: ANN001
    from tests.conftest import make_user

    _, op = await make_user(db, "13800000009", "operator")
    r = await client.put("/api/circles/policy", json={"blocked_keywords": ["代购", " 加微信 "], "post_rate": "2/minute"},
                         headers=op)
    assert r.status_code == 200 and r.json()["blocked_keywords"] == ["代购", "加微信"], r.text
    r = await client.put("/api/circles/policy", json={"default_capacity": 30_000}, headers=op)
    assert r.status_code == 422 and r.json()["error"]["code"] == "policy.refused"
    r = await client.put("/api/circles/policy", json={"post_rate": "lots"}, headers=op)
    assert r.status_code == 422
    fan, h = await new_fan(db)
    r = await client.get("/api/circles/policy", headers=h)
    assert r.status_code == 403


async def test_visits_and_posts_by_china_day(client, db: Database) -> None:  # noqa: ANN001
    from datetime import datetime

    from quanzi.community import feed
    from quanzi.kit.clock import CHINA

    circle = await make_community(db)
    cid = circle.community_id
    clock.freeze(datetime(2026, 6, 15, 23, 50, tzinfo=CHINA))
    _, ha = await member(db, cid)
    _, hb = await member(db, cid)
    for h in (ha, ha, hb):
        assert (await client.get(f"/api/circles/{cid}/feed", headers=h)).status_code == 200
    await client.post(f"/api/circles/{cid}/posts", json={"body": "睡前一帖"}, headers=ha)
    clock.freeze(datetime(2026, 6, 16, 0, 10, tzinfo=CHINA))  # past midnight in China (16:10 UTC)
    assert (await client.get(f"/api/circles/{cid}/feed", headers=ha)).status_code == 200
    await client.post(f"/api/circles/{cid}/posts", json={"body": "新的一天"}, headers=hb)
    async with db.read() as s:
        assert await feed.visits_by_day(s, cid, "2026-06-01") == {"2026-06-15": 2, "2026-06-16": 1}
        since = datetime(2026, 6, 1, tzinfo=CHINA)
        assert await feed.posts_by_day(s, cid, since) == {"2026-06-15": 1, "2026-06-16": 1}  # welcomes not counted
