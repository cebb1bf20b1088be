"""One-time code login: phone normalisation, first-login registration, single use, expiry, burning after
five wrong tries, rate limits and concurrent double use. Real database, real app, no mocks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx
import pytest
from tests.conftest import make_settings
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts import service
from quanzi.accounts.errors import InvalidPhone
from quanzi.accounts.models import AuthSession, LoginCode, User, UserRole
from quanzi.app import create_app
from quanzi.config import Settings
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.outbox import OutboxMessage

PHONE = "13800000101"
E164 = "+8613800000101"


@pytest.fixture
def settings(db_url: str) -> Settings:
    """Most tests here ask for several codes for one phone: loosen the per-phone limit (tested on its own)."""
    return make_settings(db_url, otp_limit_per_phone="100/minute")


@asynccontextmanager
async def app_with(db_url: str, **overrides: Any) -> AsyncIterator[Any]:
    database = Database(db_url)
    try:
        yield create_app(make_settings(db_url, **overrides), database, start_worker=False)
    finally:
        await database.dispose()


def client_for(app: Any, ip: str = "10.0.0.1") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 1234)), base_url="http://test")


async def request_code(client: httpx.AsyncClient, app: Any, phone: str = PHONE) -> str:
    r = await client.post("/api/auth/code", json={"phone": phone})
    assert r.status_code == 202, r.text
    assert r.json() == {"sent": True, "expires_in": 600}
    code = app.state.sms.last_code(service.normalize_phone(phone))
    assert code is not None and len(code) == 6 and code.isdigit()
    return code


async def login(client: httpx.AsyncClient, code: str, phone: str = PHONE) -> httpx.Response:
    return await client.post("/api/auth/login/code", json={"phone": phone, "code": code})


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def assert_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text


async def count(db: Database, stmt: Any) -> int:
    async with db.read() as s:
        return (await s.execute(stmt)).scalar_one()


@pytest.fixture
def registrations() -> Iterator[str]:
    """The outbox writes one row per registered handler; subscribe a probe to accounts.user_registered."""

    async def registration_probe(session: AsyncSession, payload: dict) -> None:  # noqa: ARG001
        return None

    outbox.on("accounts.user_registered")(registration_probe)
    name = f"{registration_probe.__module__}.{registration_probe.__qualname__}"
    yield name
    outbox._handlers.get("accounts.user_registered", {}).pop(name, None)


# --- phone numbers ------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", ["13800000101", "+86 138 0000 0101", "+86-138-0000-0101", "008613800000101",
                                 " 138 0000 0101 "])
def test_phone_is_normalised_to_e164(raw: str) -> None:
    assert service.normalize_phone(raw) == E164


@pytest.mark.parametrize("raw", ["12345", "1380000010", "138000001011", "23800000101", "abc", "+86 138",
                                 "", "   ", "1" * 40])
def test_invalid_phone_is_refused(raw: str) -> None:
    with pytest.raises(InvalidPhone):
        service.normalize_phone(raw)


@pytest.mark.parametrize("raw", ["12345", "1380000010", "not-a-phone", "+86 138 0000"])
async def test_api_refuses_invalid_phone(client: httpx.AsyncClient, app: Any, raw: str) -> None:
    r = await client.post("/api/auth/code", json={"phone": raw})
    assert_error(r, 422, "accounts.invalid_phone")
    assert app.state.sms.sent == []
    r = await login(client, "123456", raw)
    assert_error(r, 422, "accounts.invalid_phone")


async def test_both_spellings_are_the_same_phone(client: httpx.AsyncClient, app: Any) -> None:
    code = await request_code(client, app, "13800000101")
    r = await login(client, code, "+86 138 0000 0101")
    assert r.status_code == 200, r.text
    assert r.json()["user"]["phone"] == E164


# --- first login ----------------------------------------------------------------------------------

async def test_first_login_creates_fan_and_emits_registered_once(
    client: httpx.AsyncClient, app: Any, db: Database, registrations: str,
) -> None:
    code = await request_code(client, app)
    r = await login(client, code)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and len(body["token"]) >= 32
    assert body["user"]["phone"] == E164
    assert body["user"]["roles"] == ["fan"]
    user_id = body["user"]["id"]

    me = await client.get("/api/auth/me", headers={"authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json()["id"] == user_id

    # A second login finds the same account: no second user, role or event.
    r2 = await login(client, await request_code(client, app))
    assert r2.status_code == 200 and r2.json()["user"]["id"] == user_id

    assert await count(db, select(func.count()).select_from(User)) == 1
    async with db.read() as s:
        roles = list((await s.execute(select(UserRole.role).where(UserRole.user_id == user_id))).scalars())
        events = list((await s.execute(
            select(OutboxMessage).where(OutboxMessage.topic == "accounts.user_registered",
                                        OutboxMessage.handler == registrations)
        )).scalars())
    assert roles == ["fan"]
    assert len(events) == 1
    assert events[0].payload == {"user_id": user_id} and events[0].status == "pending"


async def test_failed_login_does_not_register(client: httpx.AsyncClient, app: Any, db: Database,
                                              registrations: str) -> None:
    code = await request_code(client, app)
    assert_error(await login(client, wrong(code)), 400, "accounts.bad_code")
    assert await count(db, select(func.count()).select_from(User)) == 0
    assert await count(db, select(func.count()).select_from(OutboxMessage)) == 0


# --- single use, expiry, wrong tries ------------------------------------------------------------

async def test_code_is_single_use(client: httpx.AsyncClient, app: Any, db: Database) -> None:
    code = await request_code(client, app)
    assert (await login(client, code)).status_code == 200
    assert_error(await login(client, code), 400, "accounts.bad_code")
    assert await count(db, select(func.count()).select_from(AuthSession)) == 1


async def test_code_still_works_just_before_ten_minutes(client: httpx.AsyncClient, app: Any) -> None:
    code = await request_code(client, app)
    clock.advance(timedelta(minutes=9, seconds=50))
    assert (await login(client, code)).status_code == 200


async def test_code_expires_after_ten_minutes(client: httpx.AsyncClient, app: Any, db: Database) -> None:
    code = await request_code(client, app)
    clock.advance(timedelta(minutes=10, seconds=1))
    assert_error(await login(client, code), 400, "accounts.bad_code")
    assert await count(db, select(func.count()).select_from(User)) == 0


async def test_wrong_attempt_is_counted_and_committed(client: httpx.AsyncClient, app: Any, db: Database) -> None:
    code = await request_code(client, app)
    assert_error(await login(client, wrong(code)), 400, "accounts.bad_code")
    async with db.read() as s:  # a fresh transaction: the count was committed although the login was refused
        row = (await s.execute(select(LoginCode).where(LoginCode.phone == E164))).scalar_one()
    assert row.failed_attempts == 1 and row.used_at is None


async def test_four_wrong_attempts_leave_the_code_usable(client: httpx.AsyncClient, app: Any) -> None:
    code = await request_code(client, app)
    for _ in range(4):
        assert_error(await login(client, wrong(code)), 400, "accounts.bad_code")
    assert (await login(client, code)).status_code == 200


async def test_five_wrong_attempts_burn_the_code(client: httpx.AsyncClient, app: Any, db: Database) -> None:
    code = await request_code(client, app)
    for _ in range(5):
        assert_error(await login(client, wrong(code)), 400, "accounts.bad_code")
    assert_error(await login(client, code), 400, "accounts.bad_code")  # the right code, too late
    async with db.read() as s:
        row = (await s.execute(select(LoginCode).where(LoginCode.phone == E164))).scalar_one()
    assert row.failed_attempts == 5 and row.used_at is not None
    assert await count(db, select(func.count()).select_from(User)) == 0
    # A fresh code works again.
    assert (await login(client, await request_code(client, app))).status_code == 200


async def test_new_code_invalidates_the_old_one(client: httpx.AsyncClient, app: Any, db: Database) -> None:
    old = await request_code(client, app)
    new = await request_code(client, app)
    while new == old:  # one chance in a million
        new = await request_code(client, app)
    assert_error(await login(client, old), 400, "accounts.bad_code")
    assert (await login(client, new)).status_code == 200
    # Once the new code is used up, the old one must not come back to life.
    assert_error(await login(client, old), 400, "accounts.bad_code")
    async with db.read() as s:
        rows = (await s.execute(select(LoginCode).order_by(LoginCode.id))).scalars().all()
    assert len(rows) >= 2 and all(r.used_at is not None for r in rows)


async def test_code_is_bound_to_its_phone(client: httpx.AsyncClient, app: Any) -> None:
    code = await request_code(client, app, "13800000101")
    assert_error(await login(client, code, "13800000102"), 400, "accounts.bad_code")
    assert (await login(client, code, "13800000101")).status_code == 200


# --- rate limits ----------------------------------------------------------------------------------

async def test_code_requests_are_limited_per_phone(db_url: str) -> None:
    async with app_with(db_url) as app, client_for(app) as client:  # default limits: 1/minute per phone
        await request_code(client, app, "13800000101")
        r = await client.post("/api/auth/code", json={"phone": "+86 138 0000 0101"})  # same phone, other spelling
        assert_error(r, 429, "rate_limited")
        assert [p for p, _ in app.state.sms.sent] == [E164]
        await request_code(client, app, "13800000102")  # another phone from the same IP is fine


async def test_code_requests_are_limited_per_ip(db_url: str) -> None:
    async with app_with(db_url, otp_limit_per_ip="3/hour") as app:
        async with client_for(app, "10.0.0.1") as a, client_for(app, "10.0.0.2") as b:
            for n in range(3):
                await request_code(a, app, f"1380000020{n}")
            r = await a.post("/api/auth/code", json={"phone": "13800000209"})
            assert_error(r, 429, "rate_limited")
            assert app.state.sms.last_code("+8613800000209") is None
            await request_code(b, app, "13800000209")  # another IP is not affected


async def test_logins_are_limited_per_ip(db_url: str) -> None:
    async with app_with(db_url, login_limit_per_ip="2/hour") as app, client_for(app) as client:
        code = await request_code(client, app)
        assert_error(await login(client, wrong(code)), 400, "accounts.bad_code")
        assert_error(await login(client, wrong(code)), 400, "accounts.bad_code")
        assert_error(await login(client, code), 429, "rate_limited")


# --- concurrency ----------------------------------------------------------------------------------

async def test_concurrent_double_use_only_one_wins(client: httpx.AsyncClient, app: Any, db: Database,
                                                   registrations: str) -> None:
    code = await request_code(client, app)
    results = await asyncio.gather(*(login(client, code) for _ in range(4)))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 400, 400, 400], [r.text for r in results]
    assert all(r.json()["error"]["code"] == "accounts.bad_code" for r in results if r.status_code == 400)
    assert await count(db, select(func.count()).select_from(User)) == 1
    assert await count(db, select(func.count()).select_from(AuthSession)) == 1
    assert await count(db, select(func.count()).select_from(OutboxMessage)
                       .where(OutboxMessage.handler == registrations)) == 1


async def test_concurrent_logins_on_separate_engines(db_url: str, registrations: str) -> None:
    """Two app processes' worth of connection pools racing for the same code."""
    async with app_with(db_url) as app_a, app_with(db_url) as app_b:
        async with client_for(app_a) as a, client_for(app_b) as b:
            code = await request_code(a, app_a)
            ra, rb = await asyncio.gather(login(a, code), login(b, code))
            assert sorted([ra.status_code, rb.status_code]) == [200, 400], (ra.text, rb.text)
            db = app_a.state.db
            assert await count(db, select(func.count()).select_from(User)) == 1
            assert await count(db, select(func.count()).select_from(OutboxMessage)
                               .where(OutboxMessage.handler == registrations)) == 1


async def test_racing_first_registrations_emit_one_event(db_url: str, registrations: str) -> None:
    """Two transactions create the same phone's account at once: one creates it (and emits), the other
    finds it. B starts while A's insert is still uncommitted, so on PostgreSQL B's INSERT … ON CONFLICT
    DO NOTHING waits for A and then inserts nothing; on SQLite B's BEGIN IMMEDIATE waits for A."""
    db_a, db_b = Database(db_url), Database(db_url)
    try:
        async def b_flow() -> tuple[int, bool]:
            async with db_b.write() as sb:
                user, created = await service.get_or_create_user(sb, E164)
                return user.id, created

        async with db_a.write() as sa:
            user_a, created_a = await service.get_or_create_user(sa, E164)
            task = asyncio.create_task(b_flow())
            await asyncio.sleep(0.3)  # let B reach its INSERT and block on A's uncommitted row
            assert not task.done()
        user_b, created_b = await task
        assert created_a is True and created_b is False
        assert user_b == user_a.id
        assert await count(db_a, select(func.count()).select_from(User)) == 1
        assert await count(db_a, select(func.count()).select_from(OutboxMessage)
                           .where(OutboxMessage.handler == registrations)) == 1
    finally:
        await db_a.dispose()
        await db_b.dispose()
