"""Sessions and roles cached in the process (accounts/authcache.py): a logout, a role change or a disabled
account is seen at once — by this app, by a second app on the same database, and (with Redis) by an app
that shares nothing with the first but Redis, as a second server process would."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import update

from quanzi.accounts import service
from quanzi.accounts.authcache import AuthCache, RedisVersions, db_key_of
from quanzi.accounts.models import User
from quanzi.app import create_app
from quanzi.kit.db import Database
from tests.commerce.test_query_count import count_statements
from tests.conftest import REDIS_URL, make_settings, make_user

PHONE = "13800000201"


def data(seen: list[str]) -> list[str]:
    return [s for s in seen if s.split()[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK", "PRAGMA"}]


async def warm(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    """A token's first request learns whose it is; the second caches the principal (module docstring)."""
    for _ in range(2):
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 200


async def test_a_cached_session_costs_no_statement(client, db: Database) -> None:  # noqa: ANN001
    _, headers = await make_user(db, PHONE)
    await warm(client, headers)
    with count_statements(db) as seen:
        r = await client.get("/api/auth/me", headers=headers)
    assert r.status_code == 200
    assert data(seen) == []


async def test_the_first_request_of_a_token_is_never_cached(client, db: Database) -> None:  # noqa: ANN001
    _, headers = await make_user(db, PHONE)
    with count_statements(db) as seen:
        for _ in range(2):
            assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    assert len(data(seen)) == 2  # learned the owner, then read the principal after reading the version


async def test_logout_is_refused_at_once_here_and_by_a_second_app(client, app, db: Database, settings) -> None:  # noqa: ANN001
    _, headers = await make_user(db, PHONE)
    other_app = create_app(settings, db, start_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=other_app), base_url="http://test") as other:
        await warm(client, headers)
        await warm(other, headers)
        assert (await client.post("/api/auth/logout", headers=headers)).status_code in (200, 204)
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 401
        assert (await other.get("/api/auth/me", headers=headers)).status_code == 401


async def test_a_role_change_is_seen_at_once(client, db: Database) -> None:  # noqa: ANN001
    user_id, headers = await make_user(db, PHONE)
    await warm(client, headers)
    assert (await client.get("/api/shops/mine/orders", headers=headers)).status_code == 403
    async with db.write() as s:
        await service.add_role(s, user_id, "shopkeeper")
    r = await client.get("/api/auth/me", headers=headers)
    assert "shopkeeper" in r.json()["roles"]
    async with db.write() as s:
        await service.remove_role(s, user_id, "shopkeeper")
    r = await client.get("/api/auth/me", headers=headers)
    assert "shopkeeper" not in r.json()["roles"]
    assert (await client.get("/api/shops/mine/orders", headers=headers)).status_code == 403


async def test_a_bulk_change_to_the_auth_tables_refuses_everyone_cached(client, db: Database) -> None:  # noqa: ANN001
    user_id, headers = await make_user(db, PHONE)
    await warm(client, headers)
    async with db.write() as s:  # a statement whose rows are unknown to the cache: everyone's version moves
        await s.execute(update(User).where(User.id == user_id).values(is_active=False))
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 401


async def test_a_rolled_back_change_bumps_nothing(client, db: Database) -> None:  # noqa: ANN001
    user_id, headers = await make_user(db, PHONE)
    await warm(client, headers)
    with pytest.raises(RuntimeError):
        async with db.write() as s:
            await service.add_role(s, user_id, "shopkeeper")
            raise RuntimeError("changed my mind")
    with count_statements(db) as seen:
        assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    assert data(seen) == []


@pytest.mark.skipif(not REDIS_URL, reason="needs QUANZI_TEST_REDIS_URL")
async def test_with_redis_a_process_that_shares_only_redis_sees_logout_and_roles_at_once(db_url: str) -> None:
    """Two apps on one database + Redis. The second one's cache is built on a Redis connection of its own
    that this process never bumps directly: only Redis carries the change, as between two processes."""
    prefix = f"t-auth-{uuid.uuid4().hex[:8]}"
    settings = make_settings(db_url, auth_cache_prefix=prefix)
    db1, db2 = Database(db_url), Database(db_url)
    app1 = create_app(settings, db1, start_worker=False)
    app2 = create_app(settings, db2, start_worker=False)
    app2.state.auth_cache = AuthCache(db_key_of(db2.engine.url), RedisVersions(REDIS_URL, prefix))
    user_id, headers = await make_user(db1, PHONE)
    t1, t2 = httpx.ASGITransport(app=app1), httpx.ASGITransport(app=app2)
    try:
        async with httpx.AsyncClient(transport=t1, base_url="http://a") as one, \
                httpx.AsyncClient(transport=t2, base_url="http://b") as two:
            await warm(one, headers)
            await warm(two, headers)
            with count_statements(db2) as seen:
                assert (await two.get("/api/auth/me", headers=headers)).status_code == 200
            assert data(seen) == []  # app 2 answers from its cache
            async with db1.write() as s:
                await service.add_role(s, user_id, "shopkeeper")
            assert "shopkeeper" in (await two.get("/api/auth/me", headers=headers)).json()["roles"]
            assert (await one.post("/api/auth/logout", headers=headers)).status_code in (200, 204)
            assert (await two.get("/api/auth/me", headers=headers)).status_code == 401
    finally:
        await db1.dispose()
        await db2.dispose()
