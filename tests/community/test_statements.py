"""The feed and the member list read a bounded number of SQL statements, whatever the page holds."""

from __future__ import annotations

from quanzi.community import feed
from quanzi.kit.db import Database
from tests.commerce.test_query_count import count_statements, split
from tests.community._support import make_community, member

FEED_BUDGET = 9  # community, membership, visited today?, pinned, page, profiles, shelf and its prices (cards), likes
MEMBERS_BUDGET = 3  # community, the caller's membership, the page


def _ours(seen: list[str]) -> list[str]:
    """Without the session lookup (the authentication's, budgeted in tests/commerce/test_query_count.py)."""
    return [s for s in seen if "auth_sessions" not in s]


async def test_feed_and_members_statement_budgets(client, db: Database) -> None:  # noqa: ANN001
    circle = await make_community(db)
    cid = circle.community_id
    fans = [await member(db, cid, f"果友{i}") for i in range(6)]
    async with db.write() as s:
        for i, (uid, _h) in enumerate(fans):
            p = await feed.create_post(s, cid, uid, feed.Draft(body=f"第{i}条", product_id=circle.world.product_id))
            await feed.like(s, p.id, fans[0][0])
    headers = fans[0][1]
    await client.get(f"/api/circles/{cid}/feed", headers=headers)  # the session is cached from here on
    await client.get(f"/api/circles/{cid}/members", headers=circle.world.shopkeeper_headers)
    with count_statements(db) as seen:
        r = await client.get(f"/api/circles/{cid}/feed", headers=headers)
    assert r.status_code == 200 and len(r.json()["items"]) == 12
    data, _trips = split(_ours(seen))
    assert data <= FEED_BUDGET, seen
    with count_statements(db) as seen:
        r = await client.get(f"/api/circles/{cid}/members?q=果友", headers=circle.world.shopkeeper_headers)
    assert r.status_code == 200 and len(r.json()["items"]) == 6
    data, _trips = split(_ours(seen))
    assert data <= MEMBERS_BUDGET, seen
