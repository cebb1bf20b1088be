"""A share link cut short (pasted from a chat) or expired still shows the product, without crediting anyone,
and says so; one that cannot be read is a friendly page with ways on."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select

from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit import sharetokens as tokens
from quanzi.referrals.models import Binding, ShareVisit
from tests.conftest import make_user
from tests.factories import World
from tests.storefront.conftest import HTML


def test_salvage_reads_the_target_only_when_it_is_whole() -> None:
    token = tokens.issue("k", 7, "p", 1234, clock.now())
    body, sig = token.rsplit(".", 1)
    assert tokens.salvage(body + "." + sig[:5]) == ("p", 1234)  # signature cut
    assert tokens.salvage(body) == ("p", 1234)  # signature gone: the issue time shows the target is whole
    assert tokens.salvage(".".join(token.split(".")[:4])) is None  # cut right after the target: 1234 or 12345?
    assert tokens.salvage("v1.7.p.12") is None and tokens.salvage("v1.7.x.12.a.b") is None
    assert tokens.salvage("v1.7.p.abc.a.b") is None and tokens.salvage("garbage") is None


async def test_a_truncated_link_opens_the_product_and_credits_nobody(client: httpx.AsyncClient, db: Database,
                                                                     world: World) -> None:
    keeper_id, _h = await make_user(db, "13700000002")
    token = tokens.issue("test-secret", keeper_id, "p", world.product_id, clock.now())
    cut = token[:-8]
    for who in ({}, world.fan_headers):
        r = await client.get(f"/r/{cut}", headers={**HTML, **who}, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == f"/p/{world.product_id}?link=partial"
        assert not r.cookies.get("qz_share")
    page = await client.get(f"/p/{world.product_id}?link=partial", headers=HTML)
    assert page.status_code == 200 and 'data-testid="partial-link"' in page.text and "不会记录分享关系" in page.text
    assert "云南高原苹果" in page.text
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(Binding))).scalar_one() == 0
        assert (await s.execute(select(func.count()).select_from(ShareVisit))).scalar_one() == 0

    clock.advance(timedelta(days=400))  # expired: the same, plainly
    r = await client.get(f"/r/{token}", headers=HTML, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/p/{world.product_id}?link=partial"


async def test_a_link_that_cannot_be_read_is_a_page_with_ways_on(client: httpx.AsyncClient, world: World) -> None:
    token = tokens.issue("test-secret", 1, "p", world.product_id, clock.now())
    for bad in (".".join(token.split(".")[:4]), "abc", "v1.1.p.999999.x.y"):  # cut in the target; junk; no such product
        r = await client.get(f"/r/{bad}", headers=HTML, follow_redirects=False)
        assert r.status_code == 400, bad
        assert 'data-testid="bad-share-link"' in r.text and 'href="/search"' in r.text and 'href="/"' in r.text
        assert 'class="error-code"' in r.text and "share.bad_token" in r.text
