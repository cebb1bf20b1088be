"""Shared fixtures: a real database per test (SQLite always; PostgreSQL when QUANZI_TEST_POSTGRES_URL is set).

SQLite: the schema is built once per worker into a template file; each test gets a fresh copy.
PostgreSQL: each test run (each xdist worker) creates its own database and drops it at the end;
tables are truncated between tests.
"""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import datetime
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from quanzi import domains
from quanzi.app import create_app
from quanzi.config import Settings
from quanzi.kit import sweeps
from quanzi.kit.clock import clock
from quanzi.kit.db import Base, Database, sync_url

domains.load_all()

PG_URL = os.environ.get("QUANZI_TEST_POSTGRES_URL")
REDIS_URL = os.environ.get("QUANZI_TEST_REDIS_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"


class DbServer:
    """Where the per-test databases of this worker live."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.kind = "postgresql" if PG_URL else "sqlite"
        if PG_URL:
            base = make_url(sync_url(PG_URL))
            self.name = f"quanzi_t_{uuid.uuid4().hex[:10]}"
            self.admin_url = base.set(database="postgres").render_as_string(hide_password=False)
            self.url = base.set(database=self.name).render_as_string(hide_password=False)
            try:
                eng = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
                with eng.connect() as c:
                    c.execute(text(f'CREATE DATABASE "{self.name}"'))
                eng.dispose()
            except Exception as exc:  # unreachable PostgreSQL must fail the run, never skip it
                raise RuntimeError(f"QUANZI_TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {exc}") from exc
            eng = create_engine(self.url)
            Base.metadata.create_all(eng)
            eng.dispose()
            self._truncate = create_engine(self.url, isolation_level="AUTOCOMMIT")
        else:
            self.template = tmp / "template.db"
            eng = create_engine(f"sqlite:///{self.template}")
            Base.metadata.create_all(eng)
            eng.dispose()

    def fresh(self) -> str:
        if self.kind == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            with self._truncate.connect() as c:
                c.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return self.url
        path = self.tmp / f"t_{uuid.uuid4().hex[:12]}.db"
        shutil.copyfile(self.template, path)
        return f"sqlite:///{path}"

    def close(self) -> None:
        if self.kind == "postgresql":
            self._truncate.dispose()
            eng = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
            with eng.connect() as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            eng.dispose()


@pytest.fixture(scope="session")
def db_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DbServer]:
    server = DbServer(tmp_path_factory.mktemp("db"))
    yield server
    server.close()


@pytest.fixture
def db_url(db_server: DbServer) -> str:
    return db_server.fresh()


# QUANZI_TEST_CLOCK_START=2026-06-15T23:59:30+08:00 runs every in-process test from that moment (time
# flows from there): a way to find rules that only hold at some hours, e.g. just before midnight China time.
TEST_CLOCK_START = os.environ.get("QUANZI_TEST_CLOCK_START")


def _start_clock() -> None:
    clock.reset()
    if TEST_CLOCK_START:
        clock.set(datetime.fromisoformat(TEST_CLOCK_START))


@pytest.fixture(autouse=True)
def _reset_clock() -> Iterator[None]:
    _start_clock()
    sweeps._reset_schedule_for_tests()
    yield
    clock.reset()


# One sandbox key pair per test process: generating RSA keys for every test would be slow.
SANDBOX_KEYS = Path(os.environ.get("QUANZI_TEST_SANDBOX_DIR", "")) if os.environ.get("QUANZI_TEST_SANDBOX_DIR") \
    else Path(__import__("tempfile").mkdtemp(prefix="quanzi-sandbox-"))


def make_settings(db_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "sandbox_key_dir": SANDBOX_KEYS, "media_dir": SANDBOX_KEYS / "media",
        "database_url": db_url, "secret_key": "test-secret", "log_json": True, "log_level": "WARNING",
        "embedded_worker": False, "demo_hints": False, "redis_url": REDIS_URL, "payout_sandbox": True,
        "ratelimit_prefix": f"t-{uuid.uuid4().hex[:8]}", "flash_gate_prefix": f"t-flash-{uuid.uuid4().hex[:8]}",
        # The caches' versions (kit/cache.py, accounts/authcache.py): tests running side by side must not bump
        # each other's (a shared auth prefix let another worker's logout turn a warm session cold: CI flake).
        "cache_prefix": f"t-cache-{uuid.uuid4().hex[:8]}", "auth_cache_prefix": f"t-auth-{uuid.uuid4().hex[:8]}",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
def settings(db_url: str) -> Settings:
    return make_settings(db_url)


@pytest.fixture
async def db(db_url: str) -> AsyncIterator[Database]:
    database = Database(db_url)
    yield database
    await database.dispose()


@pytest.fixture
def app(settings: Settings, db: Database):  # noqa: ANN201
    return create_app(settings, db, start_worker=False)


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # noqa: ANN001
    transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def api_login(client: httpx.AsyncClient, app, phone: str) -> dict[str, str]:  # noqa: ANN001
    """Log in through the real one-time-code flow; returns the Authorization header."""
    r = await client.post("/api/auth/code", json={"phone": phone})
    assert r.status_code == 202, r.text
    from quanzi.accounts.service import normalize_phone

    code = app.state.sms.last_code(normalize_phone(phone))
    r = await client.post("/api/auth/login/code", json={"phone": phone, "code": code})
    assert r.status_code == 200, r.text
    return {"authorization": f"Bearer {r.json()['token']}"}


@pytest.fixture
def login(client, app):  # noqa: ANN001, ANN201
    async def _login(phone: str) -> dict[str, str]:
        return await api_login(client, app, phone)

    return _login


async def make_user(db: Database, phone: str, *roles: str, nickname: str | None = None) -> tuple[int, dict[str, str]]:
    """Create a user with roles directly through the service; returns (user_id, bearer header)."""
    from quanzi.accounts import service

    async with db.write() as s:
        user, _ = await service.get_or_create_user(s, service.normalize_phone(phone), nickname)
        for role in roles:
            await service.add_role(s, user.id, role)
        token = await service.start_session(s, user, "bearer", 365)
    return user.id, {"authorization": f"Bearer {token}"}
