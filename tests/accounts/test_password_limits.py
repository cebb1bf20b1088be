"""Wrong passwords are limited per account, across every IP address (issue 8 item 12): sixty guesses from
six addresses stop after five; the lock doubles; the holder is told (outbox event); and a one-time code
still logs the owner in and clears the count — an attacker can never lock a person out of code login."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from quanzi.accounts import service
from quanzi.accounts.models import PasswordThrottle
from quanzi.app import create_app
from quanzi.config import Settings
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.outbox import OutboxMessage
from tests.conftest import make_settings

PHONE = "13800000777"
E164 = "+8613800000777"
PASSWORD = "correct horse battery"


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url, otp_limit_per_phone="100/minute")


def client_for(app: Any, ip: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, client=(ip, 1234)), base_url="http://test")


@pytest.fixture
async def victim(db) -> int:  # noqa: ANN001
    async with db.write() as s:
        user, _ = await service.get_or_create_user(s, E164, "小王")
        await service.set_password(s, user.id, PASSWORD)
        return user.id


async def password_login(app: Any, password: str, ip: str = "10.0.0.1", phone: str = PHONE,
                         lang: str = "zh-CN") -> httpx.Response:
    async with client_for(app, ip) as c:
        return await c.post("/api/auth/login/password", json={"phone": phone, "password": password},
                            headers={"accept-language": lang})


async def code_login(app: Any, ip: str = "10.0.0.9") -> httpx.Response:
    async with client_for(app, ip) as c:
        r = await c.post("/api/auth/code", json={"phone": PHONE})
        assert r.status_code == 202, r.text
        return await c.post("/api/auth/login/code", json={"phone": PHONE, "code": app.state.sms.last_code(E164)})


async def attacks(db) -> list[dict[str, Any]]:  # noqa: ANN001
    async with db.read() as s:
        return [m.payload for m in (await s.execute(
            select(OutboxMessage).where(OutboxMessage.topic == "accounts.password_attacked")
            .order_by(OutboxMessage.id))).scalars()]


async def test_sixty_wrong_passwords_from_six_addresses_stop_after_five(app, db, victim: int) -> None:  # noqa: ANN001
    answers: list[httpx.Response] = []
    for i in range(60):
        answers.append(await password_login(app, f"guess-{i:04d}", ip=f"203.0.113.{i % 6 + 1}"))
    codes = [r.status_code for r in answers]
    assert codes[:4] == [400] * 4
    assert all(r.json()["error"]["code"] == "accounts.bad_credentials" for r in answers[:4])
    # The fifth starts the lock; every later guess, from any address, is refused without trying the password.
    assert codes[4:] == [429] * 56
    locked = answers[4]
    assert locked.json()["error"]["code"] == "accounts.password_locked"
    assert locked.headers["retry-after"] == "60"
    assert "短信验证码登录" in locked.json()["error"]["message"]
    assert 0 < int(answers[-1].headers["retry-after"]) <= 60
    # Even the right password waits for the lock.
    r = await password_login(app, PASSWORD, ip="198.51.100.7", lang="en")
    assert r.status_code == 429
    assert r.json()["error"]["message"].startswith("Too many wrong passwords")
    assert "one-time code" in r.json()["error"]["message"]
    async with db.read() as s:
        assert (await s.get(PasswordThrottle, E164)).failures == 5  # refused tries are not counted again

    # The account holder is told once, with a stable payload, and the security log handler takes it.
    [event] = await attacks(db)
    until = datetime.fromisoformat(event.pop("locked_until"))
    assert clock.now() < until <= clock.now() + timedelta(seconds=60)
    assert event == {"user_id": victim, "failures": 5, "lock_seconds": 60, "last_ip": "203.0.113.5"}
    assert await outbox.drain(db) >= 1
    async with db.read() as s:
        statuses = set((await s.execute(select(OutboxMessage.status).where(
            OutboxMessage.topic == "accounts.password_attacked"))).scalars())
    assert statuses == {"done"}


async def test_the_lock_doubles_and_a_right_password_after_it_clears_the_count(app, db, victim: int) -> None:  # noqa: ANN001
    clock.freeze(clock.now())
    for i in range(4):
        assert (await password_login(app, f"guess-{i}", ip=f"10.1.0.{i}")).status_code == 400
    locks = []
    for _ in range(4):
        r = await password_login(app, "wrong again", ip="10.1.1.1")
        assert r.status_code == 429
        locks.append(int(r.headers["retry-after"]))
        clock.advance(timedelta(seconds=locks[-1] - 1))
        assert (await password_login(app, PASSWORD, ip="10.1.1.2")).status_code == 429  # one second early
        clock.advance(timedelta(seconds=1))
    assert locks == [60, 120, 240, 480]
    assert [e["failures"] for e in await attacks(db)] == [5, 6, 7, 8]
    r = await password_login(app, PASSWORD, ip="10.1.1.3")
    assert r.status_code == 200, r.text
    # Cleared: the next wrong password is the first of a new run, not a 16-minute lock.
    assert (await password_login(app, "oops", ip="10.1.1.3")).status_code == 400
    async with db.read() as s:
        assert (await s.get(PasswordThrottle, E164)).failures == 1


async def test_code_login_is_never_locked_and_clears_the_count(app, db, victim: int) -> None:  # noqa: ANN001
    for i in range(12):
        await password_login(app, f"guess-{i}", ip=f"10.2.0.{i}")
    assert (await password_login(app, PASSWORD)).status_code == 429
    r = await code_login(app)
    assert r.status_code == 200, r.text
    assert r.json()["user"]["id"] == victim
    async with db.read() as s:
        assert await s.get(PasswordThrottle, E164) is None
    # The owner's password works again at once.
    assert (await password_login(app, PASSWORD)).status_code == 200


async def test_old_failures_are_forgotten(app, db, victim: int) -> None:  # noqa: ANN001
    clock.freeze(clock.now())
    for i in range(4):
        assert (await password_login(app, f"guess-{i}")).status_code == 400
    clock.advance(timedelta(days=1, seconds=1))
    for i in range(4):
        assert (await password_login(app, f"guess-{i}")).status_code == 400
    assert (await password_login(app, "fifth")).status_code == 429


async def test_a_number_without_an_account_locks_the_same_way_and_tells_nobody(app, db) -> None:  # noqa: ANN001
    answers = [(await password_login(app, f"g{i}", ip=f"10.3.0.{i}", phone="13900000123")).status_code
               for i in range(6)]
    assert answers == [400, 400, 400, 400, 429, 429]
    assert await attacks(db) == []


async def test_the_login_page_shows_the_lock_plainly(app, db, victim: int) -> None:  # noqa: ANN001
    for i in range(5):
        await password_login(app, f"guess-{i}", ip=f"10.4.0.{i}")
    async with client_for(app, "10.4.1.1") as c:
        r = await c.post("/login/password", data={"phone": PHONE, "password": PASSWORD},
                         headers={"accept": "text/html", "accept-language": "zh-CN"})
    assert r.status_code == 429
    assert "短信验证码登录" in r.text


async def test_the_lock_is_shared_by_every_app_process(db_url: str, db, victim: int) -> None:  # noqa: ANN001
    """Two app instances (two worker processes) on one database see one count: the lock lives in the
    database, not in a process's memory."""
    one = create_app(make_settings(db_url), db, start_worker=False)
    two = create_app(make_settings(db_url), db, start_worker=False)
    for i in range(4):
        assert (await password_login(one if i % 2 else two, f"g{i}", ip=f"10.5.0.{i}")).status_code == 400
    assert (await password_login(one, "g5")).status_code == 429
    assert (await password_login(two, PASSWORD)).status_code == 429
