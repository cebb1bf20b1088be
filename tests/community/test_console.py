"""The community console: create, settings, invite link and poster, members with search/filters/keyset pages,
moderation with reasons, reports, announcements; another shop's community is not found; the operator closes."""

from __future__ import annotations

import re

from sqlalchemy import select

from quanzi.audit.models import AuditLog
from quanzi.community import feed, service
from quanzi.kit.db import Database
from tests.community._support import make_community, member
from tests.conftest import make_user
from tests.storefront.conftest import HTML, cookie_login


async def _keeper(client, db: Database, circle) -> str:  # noqa: ANN001
    browser = await cookie_login(client, db, circle.owner_id, "13700000002")
    client.headers.update(HTML)
    return browser.csrf


async def test_create_and_edit_a_circle(client, db: Database) -> None:  # noqa: ANN001
    from tests.factories import make_world

    w = await make_world(db)
    async with db.read() as s:
        from quanzi.shops.models import Shop

        owner = (await s.get(Shop, w.shop_id)).owner_id
    browser = await cookie_login(client, db, owner, "13700000002")
    client.headers.update(HTML)
    r = await client.get("/console/circles")
    assert r.status_code == 200 and 'data-testid="no-circles"' in r.text
    r = await client.post("/console/circles", data={"csrf_token": browser.csrf, "name": "水果圈", "capacity": "20001",
                                                    "join_mode": "open"})
    assert r.status_code == 303 and r.headers["location"] == "/console/circles"  # refused: above the platform cap
    r = await client.get("/console/circles")
    assert "20000" in r.text
    r = await client.post("/console/circles", data={"csrf_token": browser.csrf, "name": "水果圈", "capacity": "800",
                                                    "rules": "不发广告", "welcome": "欢迎！", "join_mode": "approval"})
    assert r.status_code == 303
    cid = int(r.headers["location"].rsplit("/", 1)[1])
    r = await client.get(f"/console/circles/{cid}")
    assert r.status_code == 200 and 'data-testid="invite-url"' in r.text
    assert re.search(r"/r/v1\.\d+\.q\." + str(cid) + r"\.", r.text)
    r = await client.post(f"/console/circles/{cid}", data={"csrf_token": browser.csrf, "name": "水果圈", "capacity": "800",
                                                          "rules": "不发广告，友善交流", "join_mode": "approval"})
    assert r.status_code == 303
    async with db.read() as s:
        c = await service.get_community(s, cid)
        assert c.rules_version == 2 and c.capacity == 800
    r = await client.get(f"/console/circles/{cid}/poster.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png" and r.content[:4] == b"\x89PNG"


async def test_members_search_filter_pages_and_moderation(client, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db)
    cid = circle.community_id
    ids = [await member(db, cid, f"果友{i:02d}") for i in range(55)]
    csrf = await _keeper(client, db, circle)
    r = await client.get(f"/console/circles/{cid}/members")
    rows = re.findall(r'data-testid="member-(\d+)"', r.text)
    assert len(rows) == 50 and 'data-testid="next-page"' in r.text
    nxt = re.search(r'href="(\?[^"]*before=\d+)"', r.text).group(1).replace("&amp;", "&")
    r = await client.get(f"/console/circles/{cid}/members{nxt}")
    rows2 = re.findall(r'data-testid="member-(\d+)"', r.text)
    assert len(rows2) == 6 and not set(rows) & set(rows2)  # 55 fans + the owner, no overlap
    r = await client.get(f"/console/circles/{cid}/members?q=果友07")
    assert len(re.findall(r'data-testid="member-(\d+)"', r.text)) == 1
    r = await client.get(f"/console/circles/{cid}/members?role=owner")
    assert len(re.findall(r'data-testid="member-(\d+)"', r.text)) == 1
    async with db.read() as s:
        target = await service.membership(s, cid, ids[3][0])
    r = await client.post(f"/console/circles/{cid}/members/{target.id}/ban", data={"csrf_token": csrf, "reason": ""})
    assert r.status_code == 303  # a ban needs a reason: refused, nothing changed
    async with db.read() as s:
        assert (await service.membership(s, cid, ids[3][0])).status == "active"
    r = await client.post(f"/console/circles/{cid}/members/{target.id}/ban",
                          data={"csrf_token": csrf, "reason": "发广告"})
    assert r.status_code == 303
    r = await client.get(f"/console/circles/{cid}/members?status=banned")
    assert f'data-testid="member-{target.id}"' in r.text and "发广告" in r.text
    r = await client.post(f"/console/circles/{cid}/members/{target.id}/unban", data={"csrf_token": csrf})
    async with db.read() as s:
        assert (await service.membership(s, cid, ids[3][0])).status == "left"
        actions = (await s.execute(select(AuditLog.action).where(AuditLog.entity == "community_members")
                                   .order_by(AuditLog.id))).scalars().all()
    assert actions == ["circle.ban", "circle.unban"]


async def test_reports_and_announcements(client, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db)
    cid = circle.community_id
    a, _ = await member(db, cid)
    b, _ = await member(db, cid)
    async with db.write() as s:
        p = await feed.create_post(s, cid, a, feed.Draft(body="低价代购"))
        await feed.report(s, p.id, b, "广告")
    csrf = await _keeper(client, db, circle)
    r = await client.get(f"/console/circles/{cid}/reports")
    (rid,) = re.findall(r'data-testid="report-(\d+)"', r.text)
    r = await client.post(f"/console/circles/{cid}/reports/{rid}", data={"csrf_token": csrf, "action": "remove"})
    assert r.status_code == 303
    async with db.read() as s:
        assert (await s.get(feed.Post, p.id)).status == "removed"
    r = await client.post(f"/console/circles/{cid}/announcements",
                          data={"csrf_token": csrf, "body": "周五上新", "pin": "1"})
    assert r.status_code == 303
    async with db.read() as s:
        page = await feed.feed(s, cid, await feed.viewer(s, cid, a))
        assert [x.body for x in page.pinned] == ["周五上新"]


async def test_another_shop_never_sees_the_members(client, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db)
    cid = circle.community_id
    await member(db, cid, "隐私果友")
    other, _ = await make_user(db, "13700000555", nickname="别家店主")
    async with db.write() as s:
        from quanzi.shops import service as shops

        await shops.open_shop(s, other, "别家的店")
    browser = await cookie_login(client, db, other, "13700000555")
    client.headers.update(HTML)
    for url in (f"/console/circles/{cid}", f"/console/circles/{cid}/members", f"/console/circles/{cid}/reports",
                f"/console/circles/{cid}/poster.png", f"/circles/{cid}/members"):
        r = await client.get(url)
        assert r.status_code == 404 and "隐私果友" not in r.text, url
    r = await client.post(f"/console/circles/{cid}/members/1/ban", data={"csrf_token": browser.csrf, "reason": "x"})
    assert r.status_code == 404


async def test_operator_lists_and_closes(client, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db)
    cid = circle.community_id
    uid, _ = await make_user(db, "13800000009", "operator")
    browser = await cookie_login(client, db, uid, "13800000009")
    client.headers.update(HTML)
    r = await client.get("/console/circles/all")
    assert f'data-testid="all-circle-{cid}"' in r.text
    r = await client.post(f"/console/circles/{cid}/close", data={"csrf_token": browser.csrf, "reason": "售假"})
    assert r.status_code == 303
    async with db.read() as s:
        c = await service.get_community(s, cid)
        assert c.status == "closed" and c.close_reason == "售假"
        log = (await s.execute(select(AuditLog).where(AuditLog.action == "circle.close"))).scalar_one()
        assert log.actor_id == uid


async def test_operator_sets_the_blocked_words(client, db: Database) -> None:  # noqa: ANN001
    uid, _ = await make_user(db, "13800000009", "operator")
    browser = await cookie_login(client, db, uid, "13800000009")
    client.headers.update(HTML)
    form = {"csrf_token": browser.csrf, "enabled": "1", "platform_capacity_cap": "20000", "default_capacity": "500",
            "max_communities_per_shop": "50", "post_rate": "5/minute", "invite_days": "7",
            "blocked_keywords": "代购\n\n加微信\n"}
    r = await client.post("/console/circles/policy", data=form)
    assert r.status_code == 303
    async with db.read() as s:
        pol = await service.get_policy(s)
        assert pol.blocked_keywords == ["代购", "加微信"] and pol.post_rate == "5/minute"
    r = await client.post("/console/circles/policy", data={**form, "default_capacity": "30000"})
    assert r.status_code == 303
    async with db.read() as s:
        assert (await service.get_policy(s)).default_capacity == 500  # refused: above the cap
    r = await client.get("/console/circles/all")
    assert "加微信" in r.text and 'data-testid="flash"' in r.text


async def test_staff_manage_from_the_feed_members_do_not(client, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db)
    cid = circle.community_id
    staff, _ = await member(db, cid, "小助手", role="staff")
    async with db.read() as s:
        from quanzi.accounts.models import User

        phone = (await s.get(User, staff)).phone
    await cookie_login(client, db, staff, phone)
    client.headers.update(HTML)
    r = await client.get(f"/circles/{cid}")
    assert 'data-testid="manage-link"' in r.text
    r = await client.get(f"/console/circles/{cid}/members")
    assert r.status_code == 200 and 'data-testid="console-members"' in r.text
    assert 'data-testid="settings-form"' not in (await client.get(f"/console/circles/{cid}")).text  # owner only
