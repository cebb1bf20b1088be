"""The fans' community pages: my circles, joining with the rules, the feed and the composer, a post, members;
text escaped; a left fan sees only public posts."""

from __future__ import annotations

import httpx

from quanzi.community import feed, service
from quanzi.kit.db import Database
from tests.community._support import make_community, member
from tests.conftest import make_user
from tests.media import images
from tests.storefront.conftest import HTML, cookie_login


async def _cookie_login(client: httpx.AsyncClient, app, phone: str) -> str:  # noqa: ANN001
    """Log in with a cookie session as a browser would; returns the CSRF token of a page."""
    from quanzi.accounts import service as accounts

    async with app.state.db.write() as s:
        user, _ = await accounts.get_or_create_user(s, accounts.normalize_phone(phone))
        uid = user.id
    browser = await cookie_login(client, app.state.db, uid, phone)
    client.headers.update(HTML)
    return browser.csrf


async def test_join_page_feed_and_post(client, app, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db, rules="第一条：<b>友善</b>")
    cid = circle.community_id
    csrf = await _cookie_login(client, app, "13911112222")
    r = await client.get("/circles")
    assert r.status_code == 200 and 'data-testid="no-circles"' in r.text
    r = await client.get(f"/circles/{cid}")
    assert r.status_code == 200 and 'data-testid="join-cta"' in r.text
    r = await client.get(f"/circles/{cid}/join")
    assert "第一条：&lt;b&gt;友善&lt;/b&gt;" in r.text  # escaped
    r = await client.post(f"/circles/{cid}/join", data={"csrf_token": csrf, "rules_version": "1"})
    assert r.status_code == 422 and 'data-testid="join-error"' in r.text
    r = await client.post(f"/circles/{cid}/join", data={"csrf_token": csrf, "rules_version": "1", "accept": "1"})
    assert r.status_code == 303 and r.headers["location"] == f"/circles/{cid}?joined=1"
    r = await client.get(f"/circles/{cid}?joined=1")
    assert 'data-testid="joined"' in r.text and 'data-testid="welcome-post"' in r.text
    assert 'data-testid="composer"' in r.text
    r = await client.post(f"/circles/{cid}/posts", data={"csrf_token": csrf, "body": "<img src=x onerror=alert(1)>好吃"},
                          files={"photos": ("a.jpg", images.jpeg(), "image/jpeg")})
    assert r.status_code == 303, r.text[:500]
    r = await client.get(f"/circles/{cid}")
    assert "&lt;img src=x onerror=alert(1)&gt;好吃" in r.text and "<img src=x" not in r.text
    assert 'class="cm-photos n1"' in r.text
    r = await client.post(f"/circles/{cid}/posts", data={"csrf_token": csrf, "body": "图"},
                          files={"photos": ("a.jpg", b"GIF89a not really", "image/jpeg")})
    assert r.status_code == 422 and 'data-testid="post-error"' in r.text
    r = await client.get("/circles")
    assert f'data-testid="circle-{cid}"' in r.text
    r = await client.get(f"/circles/{cid}/members?q=圈")
    assert r.status_code == 200 and 'data-testid="members"' in r.text
    r = await client.get(f"/circles/{cid}/mine")
    assert r.status_code == 200 and "好吃" in r.text
    r = await client.get("/me")
    assert 'data-testid="me-circles"' in r.text
    r = await client.get(f"/circles/{cid}?lang=en")
    assert "Members" in r.text


async def test_left_fan_sees_only_public_posts_on_the_page(client, app, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db)
    cid = circle.community_id
    uid, _ = await make_user(db, "13911113333", nickname="离开的人")
    async with db.write() as s:
        c = await service.get_community(s, cid)
        await service.join(s, cid, uid, accepted_rules_version=c.rules_version)
        await feed.create_post(s, cid, uid, feed.Draft(body="群友专享"))
        await feed.create_post(s, cid, circle.owner_id, feed.Draft(body="公开公告", kind="announcement",
                                                                    members_only=False))
        await service.leave(s, cid, uid)
    await _cookie_login(client, app, "13911113333")
    r = await client.get(f"/circles/{cid}")
    assert "公开公告" in r.text and "群友专享" not in r.text


async def test_banned_fan_sees_why_on_the_join_page(client, app, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db)
    uid, _ = await member(db, circle.community_id)
    async with db.write() as s:
        m = await service.membership(s, circle.community_id, uid)
        await service.remove(s, circle.community_id, circle.owner_id, m.id, "广告", ban=True)
    async with db.read() as s:
        from quanzi.accounts.models import User

        phone = (await s.get(User, uid)).phone
    csrf = await _cookie_login(client, app, phone)
    r = await client.get(f"/circles/{circle.community_id}/join")
    assert 'data-testid="banned"' in r.text
    r = await client.post(f"/circles/{circle.community_id}/join",
                          data={"csrf_token": csrf, "rules_version": "1", "accept": "1"})
    assert r.status_code == 403


async def test_higher_domains_add_links_to_the_feed_and_console(client, app, db: Database) -> None:  # noqa: ANN001
    from quanzi.community import pages

    async def checkin(s, c, m):  # noqa: ANN001, ANN202
        return [pages.Link("签到", f"/circles/{c.id}/checkin", "checkin-link")]

    pages.feed_link(checkin)
    pages.console_tab(checkin)
    try:
        circle = await make_community(db)
        csrf = await _cookie_login(client, app, "13700000002")  # the shopkeeper (owner and member)
        assert csrf
        r = await client.get(f"/circles/{circle.community_id}")
        assert 'data-testid="checkin-link"' in r.text
        r = await client.get(f"/console/circles/{circle.community_id}/members")
        assert 'data-testid="checkin-link"' in r.text
        r = await client.get(f"/circles/{circle.community_id}/join")  # not on pages without a member
        assert 'data-testid="checkin-link"' not in r.text
    finally:
        pages._feed_links.remove(checkin)
        pages._console_tabs.remove(checkin)


async def test_the_shop_page_lists_its_open_circles(client, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db)
    hidden = await make_community(db, circle.world, name="邀请制小圈", join_mode="invite")
    r = await client.get(f"/s/{circle.world.shop_id}", headers=HTML)
    assert f'data-testid="shop-circle-{circle.community_id}"' in r.text
    assert f'data-testid="shop-circle-{hidden.community_id}"' not in r.text
