"""Password login, bearer and cookie sessions (with CSRF), expiry, disabled users, roles and ownership."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import httpx
import pytest
from tests.conftest import make_user
from sqlalchemy import select, update

from quanzi.accounts import service
from quanzi.accounts.deps import COOKIE, Operator, owned
from quanzi.accounts.errors import BadCredentials, UnknownRole, WeakPassword
from quanzi.accounts.models import AuthSession, Role, User
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.errors import NotFound

PHONE = "13800000101"
PASSWORD = "correct horse battery"


def assert_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code, r.text


async def user_with_password(db: Database, phone: str = PHONE, *roles: str, password: str = PASSWORD) -> int:
    user_id, _ = await make_user(db, phone, *roles)
    async with db.write() as s:
        await service.set_password(s, user_id, password)
    return user_id


async def password_login(client: httpx.AsyncClient, phone: str = PHONE, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login/password", json={"phone": phone, "password": password})


def bearer(r: httpx.Response) -> dict[str, str]:
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}


# --- passwords ------------------------------------------------------------------------------------

async def test_password_login_after_set_password(client: httpx.AsyncClient, db: Database) -> None:
    user_id = await user_with_password(db)
    async with db.read() as s:
        stored = (await s.execute(select(User.password_hash).where(User.id == user_id))).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored

    r = await password_login(client, "+86 138 0000 0101")
    assert r.status_code == 200, r.text
    assert r.json()["user"] == {"id": user_id, "phone": "+8613800000101", "nickname": "用户0101", "roles": ["fan"]}
    me = await client.get("/api/auth/me", headers=bearer(r))
    assert me.status_code == 200 and me.json()["id"] == user_id


async def test_wrong_password_and_unknown_phone_look_the_same(client: httpx.AsyncClient, db: Database) -> None:
    await user_with_password(db)
    await make_user(db, "13800000102")  # an account without any password
    wrong = await password_login(client, PHONE, "not the password")
    unknown = await password_login(client, "13800000199", "not the password")
    no_password = await password_login(client, "13800000102", "not the password")
    assert_error(wrong, 400, "accounts.bad_credentials")
    assert wrong.json() == unknown.json() == no_password.json()
    assert unknown.status_code == no_password.status_code == 400
    en = await client.post("/api/auth/login/password", json={"phone": PHONE, "password": "nope"},
                           headers={"accept-language": "en"})
    assert en.json()["error"]["message"] == BadCredentials.message["en"]


async def test_weak_password_is_refused(client: httpx.AsyncClient, db: Database) -> None:
    user_id = await user_with_password(db)
    with pytest.raises(WeakPassword) as exc:
        async with db.write() as s:
            await service.set_password(s, user_id, "short")
    assert exc.value.status == 422 and exc.value.code == "accounts.weak_password"

    headers = bearer(await password_login(client))
    r = await client.put("/api/auth/me/password", json={"password": "1234567"}, headers=headers)
    assert_error(r, 422, "request.invalid")
    assert (await password_login(client)).status_code == 200  # unchanged

    r = await client.put("/api/auth/me/password", json={"password": "a much better one"}, headers=headers)
    assert r.status_code == 204, r.text
    assert_error(await password_login(client), 400, "accounts.bad_credentials")
    assert (await password_login(client, PHONE, "a much better one")).status_code == 200


# --- bearer sessions --------------------------------------------------------------------------------

async def test_anonymous_me_is_401(client: httpx.AsyncClient) -> None:
    assert_error(await client.get("/api/auth/me"), 401, "auth.required")
    assert_error(await client.get("/api/auth/me", headers={"authorization": "Bearer made-up"}), 401,
                 "auth.required")


async def test_logout_revokes_the_bearer_token(client: httpx.AsyncClient, db: Database) -> None:
    await user_with_password(db)
    headers = bearer(await password_login(client))
    other = bearer(await password_login(client))  # a second device stays logged in
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    r = await client.post("/api/auth/logout", headers=headers)
    assert r.status_code == 204, r.text
    assert_error(await client.get("/api/auth/me", headers=headers), 401, "auth.required")
    assert_error(await client.post("/api/auth/logout", headers=headers), 401, "auth.required")
    assert (await client.get("/api/auth/me", headers=other)).status_code == 200


async def test_session_expires_after_session_days(client: httpx.AsyncClient, db: Database, app: Any) -> None:
    assert app.state.settings.session_days == 30
    await user_with_password(db)
    headers = bearer(await password_login(client))
    clock.advance(timedelta(days=29, hours=23))
    assert (await client.get("/api/auth/me", headers=headers)).status_code == 200
    clock.advance(timedelta(hours=1, seconds=1))
    assert_error(await client.get("/api/auth/me", headers=headers), 401, "auth.required")


async def test_disabled_user_cannot_log_in(client: httpx.AsyncClient, app: Any, db: Database) -> None:
    user_id = await user_with_password(db)
    headers = bearer(await password_login(client))
    async with db.read() as s:
        before = len((await s.execute(select(AuthSession))).scalars().all())
    async with db.write() as s:
        await s.execute(update(User).where(User.id == user_id).values(is_active=False))
    assert_error(await password_login(client), 403, "accounts.disabled")
    assert_error(await password_login(client, PHONE, "wrong password"), 400, "accounts.bad_credentials")
    assert_error(await client.get("/api/auth/me", headers=headers), 401, "auth.required")  # existing session
    r = await client.post("/api/auth/code", json={"phone": PHONE})
    assert r.status_code == 202
    code = app.state.sms.last_code("+8613800000101")
    assert_error(await client.post("/api/auth/login/code", json={"phone": PHONE, "code": code}), 403,
                 "accounts.disabled")
    async with db.read() as s:
        after = len((await s.execute(select(AuthSession))).scalars().all())
    assert after == before  # no new session was started


# --- cookie sessions and CSRF ----------------------------------------------------------------------

def csrf_from(html: str) -> str:
    m = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert m, "no csrf-token meta tag"
    return m.group(1)


async def cookie_login(client: httpx.AsyncClient, phone: str = PHONE) -> httpx.Response:
    return await client.post("/login/password", data={"phone": phone, "password": PASSWORD, "next": "/"})


async def test_cookie_login_sets_a_safe_cookie(client: httpx.AsyncClient, db: Database) -> None:
    await user_with_password(db)
    r = await cookie_login(client)
    assert r.status_code == 303 and r.headers["location"] == "/"
    set_cookie = r.headers["set-cookie"]
    assert set_cookie.startswith(f"{COOKIE}=")
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in set_cookie.split(";")[1:]}
    assert "httponly" in attrs
    assert attrs["samesite"].lower() == "samesite=lax"
    assert attrs["path"] == "Path=/"
    token = client.cookies[COOKIE]
    assert token not in r.text
    page = await client.get("/")
    assert page.status_code == 200 and 'data-testid="greeting"' in page.text


async def test_cookie_login_with_wrong_password_shows_the_form(client: httpx.AsyncClient, db: Database) -> None:
    await user_with_password(db)
    r = await client.post("/login/password", data={"phone": PHONE, "password": "wrong password"})
    assert r.status_code == 400
    assert BadCredentials.message["zh"] in r.text and COOKIE not in r.headers.get("set-cookie", "")


async def test_cookie_logout_needs_the_csrf_token(client: httpx.AsyncClient, db: Database) -> None:
    await user_with_password(db)
    assert (await cookie_login(client)).status_code == 303
    cookie = client.cookies[COOKIE]
    token = csrf_from((await client.get("/")).text)

    assert_error(await client.post("/logout"), 403, "auth.csrf_failed")
    assert_error(await client.post("/logout", data={"csrf_token": "forged"}), 403, "auth.csrf_failed")
    async with db.read() as s:
        assert (await s.execute(select(AuthSession.revoked_at).where(AuthSession.kind == "cookie"))).scalar_one() is None

    r = await client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 303 and r.headers["location"] == "/"
    async with db.read() as s:
        assert (await s.execute(select(AuthSession.revoked_at).where(AuthSession.kind == "cookie"))).scalar_one() is not None
    # The old cookie no longer opens a session.
    assert COOKIE not in client.cookies  # the response deleted it
    page = await client.get("/", headers={"cookie": f"{COOKIE}={cookie}"})
    assert 'data-testid="cta-login"' in page.text and 'name="csrf-token"' not in page.text
    assert_error(await client.get("/api/auth/me", headers={"cookie": f"{COOKIE}={cookie}"}), 401, "auth.required")


async def test_csrf_token_belongs_to_its_session(app: Any, db: Database) -> None:
    await user_with_password(db)
    await user_with_password(db, "13800000102")
    transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 1))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as a, \
            httpx.AsyncClient(transport=transport, base_url="http://test") as b:
        await cookie_login(a)
        await cookie_login(b, "13800000102")
        token_a = csrf_from((await a.get("/")).text)
        assert_error(await b.post("/logout", data={"csrf_token": token_a}), 403, "auth.csrf_failed")
        # The header works for cookie-authenticated JSON calls.
        r = await a.put("/api/auth/me/password", json={"password": "another good one"})
        assert_error(r, 403, "auth.csrf_failed")
        r = await a.put("/api/auth/me/password", json={"password": "another good one"},
                        headers={"x-csrf-token": token_a})
        assert r.status_code == 204, r.text


async def test_bearer_requests_need_no_csrf_token(client: httpx.AsyncClient, db: Database) -> None:
    await user_with_password(db)
    headers = bearer(await password_login(client))
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 204


# --- roles ------------------------------------------------------------------------------------------

async def test_add_and_remove_roles(db: Database) -> None:
    user_id, _ = await make_user(db, PHONE)
    async with db.write() as s:
        assert await service.add_role(s, user_id, Role.SHOPKEEPER) is True
        assert await service.add_role(s, user_id, "shopkeeper") is False  # already held
    async with db.read() as s:
        assert await service.roles_of(s, user_id) == {"fan", "shopkeeper"}
    async with db.write() as s:
        await service.remove_role(s, user_id, "fan")
    async with db.read() as s:
        assert await service.roles_of(s, user_id) == {"shopkeeper"}


async def test_unknown_role_is_refused(db: Database) -> None:
    user_id, _ = await make_user(db, PHONE)
    with pytest.raises(UnknownRole) as exc:
        async with db.write() as s:
            await service.add_role(s, user_id, "superuser")
    assert exc.value.status == 422 and exc.value.code == "accounts.role_unknown"
    assert exc.value.text("en") == "Unknown role: superuser"
    async with db.read() as s:
        assert await service.roles_of(s, user_id) == {"fan"}


async def test_require_role_dependency(app: Any, client: httpx.AsyncClient, db: Database) -> None:
    @app.get("/api/test/operators-only")
    async def operators_only(me: Operator) -> dict[str, int]:
        return {"id": me.user_id}

    fan_id, fan = await make_user(db, PHONE)
    op_id, op = await make_user(db, "13800000001", "operator")
    assert_error(await client.get("/api/test/operators-only"), 401, "auth.required")
    r = await client.get("/api/test/operators-only", headers=fan)
    assert_error(r, 403, "auth.forbidden")
    assert r.json()["error"]["detail"] == {"roles": ["operator"]}
    r = await client.get("/api/test/operators-only", headers=op)
    assert r.status_code == 200 and r.json() == {"id": op_id}

    async with db.write() as s:  # roles are read per request
        await service.add_role(s, fan_id, "operator")
    assert (await client.get("/api/test/operators-only", headers=fan)).status_code == 200
    async with db.write() as s:
        await service.remove_role(s, fan_id, "operator")
    assert_error(await client.get("/api/test/operators-only", headers=fan), 403, "auth.forbidden")


# --- ownership ------------------------------------------------------------------------------------

async def test_owned_returns_404_for_other_peoples_objects(db: Database) -> None:
    alice_id, alice_auth = await make_user(db, "13800000101")
    bob_id, bob_auth = await make_user(db, "13800000102")
    op_id, op_auth = await make_user(db, "13800000001", "operator")
    async with db.read() as s:
        alice = await service.principal_for(s, alice_auth["authorization"][7:], "bearer")
        bob = await service.principal_for(s, bob_auth["authorization"][7:], "bearer")
        op = await service.principal_for(s, op_auth["authorization"][7:], "bearer")
        assert alice and bob and op
        alice_session = await owned(s, AuthSession, alice.session_id, alice, owner_attr="user_id")
        assert alice_session.user_id == alice_id
        with pytest.raises(NotFound):
            await owned(s, AuthSession, alice.session_id, bob, owner_attr="user_id")
        with pytest.raises(NotFound):
            await owned(s, AuthSession, 10_000, alice, owner_attr="user_id")
        with pytest.raises(NotFound):  # operators too, unless the route allows it
            await owned(s, AuthSession, alice.session_id, op, owner_attr="user_id")
        got = await owned(s, AuthSession, alice.session_id, op, owner_attr="user_id", operator_may=True)
        assert got.id == alice.session_id
        with pytest.raises(NotFound):  # operator_may is for operators only
            await owned(s, AuthSession, alice.session_id, bob, owner_attr="user_id", operator_may=True)
    assert bob_id != alice_id != op_id


async def test_profiles_show_nickname_avatar_and_a_masked_phone_only(db) -> None:  # noqa: ANN001
    """What other domains may know of a person (group members, helpers, fans, buyers): never the number."""
    a, _ = await make_user(db, "13812345678", nickname="小美")
    b, _ = await make_user(db, "13987654321", nickname="阿强")
    async with db.read() as s:
        who = await service.profiles(s, [a, b, a, 999_999])
        assert await service.profiles(s, []) == {}
    assert set(who) == {a, b}  # an unknown id is simply absent
    assert (who[a].nickname, who[a].masked_phone) == ("小美", "138****5678")
    assert who[b].masked_phone == "139****4321" and "13987654321" not in repr(who[b])
