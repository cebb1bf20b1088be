"""2,000 buyers at once for 100 flash-sale units, over HTTP, against a real `quanzi serve --workers 1`.

The server runs on a throwaway database of its own: a temp SQLite file, or — when QUANZI_TEST_POSTGRES_URL
is set — a fresh PostgreSQL database on that server, and then with REDIS_URL = QUANZI_TEST_REDIS_URL
(when set) so the Lua gate is in front of the guarded database decrement. The buyers (users, bearer
tokens, addresses) are inserted set-based, so seeding 2,000 of them takes a second or two.

Exactly 100 grabs win (201), 1,900 get 409 flashsale.sold_out, nothing 5xx; the item's remaining is 0,
there are exactly 100 reservations from 100 distinct buyers and the SKU's stock went down by exactly 100.
Then every winner pays (order pay + sandbox pay) and all 100 are sold.

The helpers here (underscore names) are shared with test_flashsale_crash.py.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time as walltime
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import time, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, insert, select, text
from sqlalchemy.engine import make_url

from quanzi.accounts.models import AuthSession, User, UserRole
from quanzi.cart.models import Address
from quanzi.kit.clock import clock
from quanzi.kit.db import Base, Database, sync_url
from quanzi.kit.security import new_token, token_hash
from quanzi.orders.service import CHINA
from tests.conftest import PG_URL, REDIS_URL, SANDBOX_KEYS, TEST_CLOCK_START

pytestmark = pytest.mark.concurrency

ROOT = Path(__file__).resolve().parents[2]
QUANZI = Path(sys.executable).parent / "quanzi"
STARTUP_TIMEOUT = 30.0

BUYERS = 2000
QUOTA = 100
POOL = 100


# --- a throwaway database of the server's own -------------------------------------------------------

@contextmanager
def _server_database() -> Iterator[str]:
    """A fresh database with the schema: a temp SQLite file, or a new PostgreSQL database (dropped after)."""
    if PG_URL:
        base = make_url(sync_url(PG_URL))
        name = f"quanzi_fs_{uuid.uuid4().hex[:10]}"
        admin = create_engine(base.set(database="postgres").render_as_string(hide_password=False),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name).render_as_string(hide_password=False)
        try:
            eng = create_engine(url)
            Base.metadata.create_all(eng)
            eng.dispose()
            yield url
        finally:
            with admin.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
        return
    tmp = Path(tempfile.mkdtemp(prefix="quanzi-flash-"))
    url = f"sqlite:///{tmp / 'flash.db'}"
    try:
        eng = create_engine(url)
        Base.metadata.create_all(eng)
        eng.dispose()
        yield url
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _query(url: str, sql: str, **params: object) -> list:
    eng = create_engine(sync_url(url))
    try:
        with eng.connect() as c:
            return list(c.execute(text(sql), params))
    finally:
        eng.dispose()


# --- seeding: a live flash activity and N buyers with tokens and addresses, set-based ----------------

@dataclass
class World:
    activity_id: int
    item_id: int
    sku_id: int
    stock_before: int
    buyers: list[tuple[int, dict[str, str], int]]  # (user_id, bearer header, address_id)


async def _seed(url: str, buyers: int, quota: int) -> World:
    from quanzi.accounts import service as accounts
    from quanzi.catalog import service as catalog
    from quanzi.flashsale.models import FlashActivity, FlashItem, FlashSlot

    db = Database(url)
    now = clock.now()
    today = now.astimezone(CHINA).date()
    try:
        async with db.write() as s:
            sup_user, _ = await accounts.get_or_create_user(s, "+8613700009999", "秒杀供应商")
            sup = await catalog.ensure_supplier(s, sup_user.id, "秒杀测试店")
            product = await catalog.create_product(s, sup.id, title="秒杀苹果", publish=True, skus=[
                {"code": "FLASH-1", "label": "1箱", "price_fen": 9900, "cost_fen": 5000, "stock": quota * 3}])
            sku_id = (await catalog.skus_of(s, [product.id]))[product.id][0].id
            slot = FlashSlot(name="全天场", starts=time(0, 0), ends=time(23, 59, 59))
            s.add(slot)
            await s.flush()
            # Open from a minute ago for two hours, whatever the hour: the slot's own window would close at
            # midnight (China time) in the middle of a run that starts just before it.
            starts, ends = now - timedelta(minutes=1), now + timedelta(hours=2)
            act = FlashActivity(slot_id=slot.id, day=today, title="秒杀", product_id=product.id,
                                starts_at=starts, ends_at=ends, per_order_limit=1, per_user_limit=1,
                                pay_minutes=30, commission_enabled=False, status="scheduled")
            s.add(act)
            await s.flush()
            item = FlashItem(activity_id=act.id, sku_id=sku_id, flash_price_fen=990, quota=quota, remaining=quota)
            s.add(item)
            await s.flush()
            act_id, item_id = act.id, item.id
        tag = uuid.uuid4().int % 10**6
        phones = [f"+86135{tag:06d}{i:04d}" for i in range(buyers)]
        async with db.write() as s:
            await s.execute(insert(User), [{"phone": p, "nickname": f"抢购{i}", "is_active": True, "created_at": now}
                                           for i, p in enumerate(phones)])
            ids = dict((await s.execute(select(User.phone, User.id).where(User.phone.in_(phones)))).all())
            user_ids = [ids[p] for p in phones]
            await s.execute(insert(UserRole), [{"user_id": u, "role": "fan", "created_at": now} for u in user_ids])
            tokens = [new_token() for _ in user_ids]
            await s.execute(insert(AuthSession), [
                {"token_hash": token_hash(t), "user_id": u, "kind": "bearer", "created_at": now,
                 "expires_at": now + timedelta(days=1)} for u, t in zip(user_ids, tokens, strict=True)])
            await s.execute(insert(Address), [
                {"user_id": u, "name": "抢购者", "phone": "+8613900000000", "region": "上海市 徐汇区",
                 "detail": "漕溪北路 1 号", "is_default": True, "created_at": now} for u in user_ids])
            addr = dict((await s.execute(select(Address.user_id, Address.id)
                                         .where(Address.user_id.in_(user_ids)))).all())
        return World(act_id, item_id, sku_id, quota * 3,
                     [(u, {"authorization": f"Bearer {t}"}, addr[u]) for u, t in zip(user_ids, tokens, strict=True)])
    finally:
        await db.dispose()


# --- the real server ---------------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env(db_url: str, prefix: str) -> dict[str, str]:
    """A server of its own: database, and Redis key prefixes (rate limits, flash gate) no other run shares."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env.update({
        "DATABASE_URL": db_url, "QUANZI_EMBEDDED_WORKER": "0", "QUANZI_LOG_LEVEL": "WARNING",
        "QUANZI_SECRET_KEY": "flash-test", "QUANZI_SANDBOX_KEY_DIR": str(SANDBOX_KEYS),
        "QUANZI_MEDIA_DIR": str(SANDBOX_KEYS / "media"), "QUANZI_DEMO_HINTS": "0",
        "QUANZI_FLASH_LIMIT_PER_USER": "100000/second", "QUANZI_FLASH_LIMIT_PER_IP": "1000000/second",
        "QUANZI_RATELIMIT_PREFIX": f"{prefix}-rl", "QUANZI_FLASH_GATE_PREFIX": f"{prefix}-flash",
    })
    if REDIS_URL:
        env["REDIS_URL"] = REDIS_URL
    if TEST_CLOCK_START:  # the suite runs at another hour (tests/conftest.py): so does the server
        env["QUANZI_CLOCK_START"] = clock.now().isoformat()
    return env


class Server:
    """`quanzi serve --workers 1` in its own process group (Granian forks a worker: kill the group)."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115
        self.proc = subprocess.Popen([str(QUANZI), "serve", "--host", "127.0.0.1", "--port", str(self.port),
                                      "--workers", "1"], env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                     cwd=ROOT, start_new_session=True)
        deadline = walltime.monotonic() + STARTUP_TIMEOUT
        while walltime.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(self.base + "/api/ping", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            walltime.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not start:\n{log_path.read_text(errors='replace')[-3000:]}")

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown handlers, no graceful drain."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(10)
        self._log.close()

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # a forked worker that outlived its parent
        except (ProcessLookupError, PermissionError):
            pass
        self._log.close()


def _redis_remaining(env: dict[str, str], w: World) -> int | None:
    """What the server's gate holds for this item (read with the server's own key prefix)."""
    from redis import Redis
    from redis.asyncio import Redis as AsyncRedis

    from quanzi.flashsale.gate import FlashGate

    assert REDIS_URL
    key = FlashGate(AsyncRedis.from_url(REDIS_URL), env["QUANZI_FLASH_GATE_PREFIX"]).quota_key(w.item_id)
    r = Redis.from_url(REDIS_URL)
    try:
        v = r.get(key)
        return None if v is None else int(v)
    finally:
        r.close()


def _outcome(r: httpx.Response) -> str:
    if r.status_code == 201:
        return "won"
    if r.status_code == 409 and "flashsale.sold_out" in r.text:
        return "sold_out"
    return f"{r.status_code}:{r.text[:200]}"


async def _grab_all(base: str, w: World, buyers: list[tuple[int, dict[str, str], int]],
                    pool: int = POOL) -> tuple[Counter, dict[int, int]]:
    """Every buyer sends one grab, all at once through a bounded pool: (outcomes, {user_id: order_id}).

    A semaphore of the pool's size admits the requests: 2,000 coroutines queued inside httpx's own pool
    make the client itself the bottleneck (about 6x slower than the server, measured)."""
    limits = httpx.Limits(max_connections=pool, max_keepalive_connections=pool)
    gate = asyncio.Semaphore(pool)
    won: dict[int, int] = {}
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as c:
        async def one(uid: int, headers: dict[str, str], addr: int) -> str:
            async with gate:
                r = await c.post(f"/api/flashsale/{w.activity_id}/grab", headers=headers,
                                 json={"sku_id": w.sku_id, "quantity": 1, "address_id": addr})
            if r.status_code == 201:
                won[uid] = r.json()["order_id"]
            return _outcome(r)

        outcomes = await asyncio.gather(*(one(*b) for b in buyers))
    return Counter(outcomes), won


async def _pay_all(base: str, w: World, won: dict[int, int]) -> Counter:
    headers = {uid: h for uid, h, _ in w.buyers}
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60) as c:
        async def pay(uid: int, order_id: int) -> str:
            r = await c.post(f"/api/orders/{order_id}/pay", headers=headers[uid], json={"provider": "sandbox"})
            if r.status_code != 200:
                return f"pay {r.status_code}: {r.text[:200]}"
            r = await c.post(f"/api/payments/sandbox/{r.json()['out_trade_no']}/pay", headers=headers[uid])
            return r.json().get("outcome", "?") if r.status_code == 200 else f"sandbox {r.status_code}: {r.text[:200]}"

        return Counter(await asyncio.gather(*(pay(u, o) for u, o in won.items())))


async def _drain_outbox(url: str) -> None:
    """The server runs without its embedded worker: deliver order.paid & co here (marks grabs paid)."""
    from quanzi.kit import outbox

    db = Database(url)
    try:
        while await outbox.drain(db):
            pass
    finally:
        await db.dispose()


# --- the test -----------------------------------------------------------------------------------------

async def test_two_thousand_buyers_one_hundred_units_all_sold_when_buyers_pay(tmp_path: Path) -> None:
    with _server_database() as url:
        t0 = walltime.perf_counter()
        w = await _seed(url, BUYERS, QUOTA)
        seeded = walltime.perf_counter() - t0
        env = _server_env(url, f"t-crowd-{uuid.uuid4().hex[:8]}")
        server = Server(env, tmp_path / "server.log")
        try:
            t1 = walltime.perf_counter()
            outcomes, won = await _grab_all(server.base, w, w.buyers)
            grabbed = walltime.perf_counter() - t1
            assert outcomes == Counter({"won": QUOTA, "sold_out": BUYERS - QUOTA}), (
                outcomes, server.log_path.read_text(errors="replace")[-3000:])
            assert len(won) == QUOTA

            [(remaining,)] = _query(url, "SELECT remaining FROM flash_items WHERE id = :i", i=w.item_id)
            assert remaining == 0
            rows = _query(url, "SELECT user_id, order_id, status, quantity FROM flash_reservations "
                               "WHERE activity_id = :a", a=w.activity_id)
            assert len(rows) == QUOTA
            assert len({r.user_id for r in rows}) == QUOTA
            assert {r.user_id: r.order_id for r in rows} == won
            assert {r.status for r in rows} == {"reserved"} and sum(r.quantity for r in rows) == QUOTA
            [(stock,)] = _query(url, "SELECT stock FROM skus WHERE id = :k", k=w.sku_id)
            assert stock == w.stock_before - QUOTA
            if REDIS_URL:
                assert _redis_remaining(env, w) == 0

            paid = await _pay_all(server.base, w, won)
            assert sum(paid.values()) == QUOTA and set(paid) <= {"paid", "ok", "processed"}, paid
        finally:
            server.stop()
        await _drain_outbox(url)

        statuses = Counter(r.status for r in _query(
            url, "SELECT o.status FROM orders o JOIN flash_reservations r ON r.order_id = o.id "
                 "WHERE r.activity_id = :a", a=w.activity_id))
        assert statuses == Counter({"paid": QUOTA}), statuses
        res = Counter(r.status for r in _query(url, "SELECT status FROM flash_reservations WHERE activity_id = :a",
                                               a=w.activity_id))
        assert res == Counter({"paid": QUOTA}), res  # all 100 sold when buyers pay
        [(remaining,)] = _query(url, "SELECT remaining FROM flash_items WHERE id = :i", i=w.item_id)
        [(stock,)] = _query(url, "SELECT stock FROM skus WHERE id = :k", k=w.sku_id)
        assert remaining == 0 and stock == w.stock_before - QUOTA
        print(f"\ncrowd: seed {seeded:.1f}s, {BUYERS} grabs in {grabbed:.1f}s "
              f"({'postgresql' if PG_URL else 'sqlite'}{' + redis' if REDIS_URL else ''})")
