"""Database kit: engine, sessions, Base, SQLite pragmas and the two write helpers every domain uses.

Rules (DESIGN.md "Rules that keep money and stock correct"):
- The request or job owns the transaction: `Database.write()` commits, services never do.
- On SQLite every write transaction starts with BEGIN IMMEDIATE so two writers never deadlock on a
  read-then-write upgrade; readers use plain BEGIN and see a WAL snapshot.
- Contended counters change through one conditional UPDATE (`guarded_update`) and the caller checks
  the row count. `SELECT … FOR UPDATE` is a no-op on SQLite and is never the only guard.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, MetaData, event, pool
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql import Executable, Select
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def async_url(url: str) -> str:
    """Map a plain URL to the async driver we use: aiosqlite or psycopg 3."""
    u = make_url(url)
    if u.drivername in ("sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"):
        return str(u.set(drivername="sqlite+aiosqlite"))
    if u.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg_async"):
        return u.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database URL: {u.drivername}")


def sync_url(url: str) -> str:
    """The same database through a sync driver (Alembic, CLI checks)."""
    u = make_url(async_url(url))
    if u.drivername.startswith("sqlite"):
        return str(u.set(drivername="sqlite"))
    return u.render_as_string(hide_password=False)  # psycopg 3 speaks both


def _install_sqlite_pragmas(sync_engine: Any) -> None:
    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("quanzi_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


RECYCLE_SECONDS = 1800
IDLE_PING_SECONDS = 10.0


def _install_idle_ping(sync_engine: Any) -> None:
    """Ping a pooled PostgreSQL connection only if it has been idle for a while; a dead one is replaced by
    the pool (DisconnectionError makes it try a fresh connection) instead of failing the request."""

    @event.listens_for(sync_engine, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["quanzi_idle_since"] = time.monotonic()

    @event.listens_for(sync_engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("quanzi_idle_since")
        if since is not None and time.monotonic() - since > IDLE_PING_SECONDS:
            try:
                sync_engine.dialect.do_ping(dbapi_conn)
            except Exception as exc:  # any failure: let the pool open a fresh connection
                raise sa_exc.DisconnectionError() from exc


AfterCommit = Callable[[], Awaitable[None] | None]


class Database:
    """One engine per process; `write()` and `read()` open a session that the caller owns."""

    def __init__(self, url: str, *, echo: bool = False, null_pool: bool = False) -> None:
        self.url = async_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            path = make_url(self.url).database
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            # No ping per checkout (a round trip on every request): connections are recycled after
            # RECYCLE_SECONDS and pinged only when they sat idle longer than IDLE_PING_SECONDS
            # (`_install_idle_ping`), where a server restart or a firewall could have dropped them.
            kwargs["pool_recycle"] = RECYCLE_SECONDS
        if null_pool:
            kwargs["poolclass"] = pool.NullPool
        self.engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _install_sqlite_pragmas(self.engine.sync_engine)
        else:
            _install_idle_ping(self.engine.sync_engine)
        # SQLite has one writer at a time: writers of this process queue here (FIFO) instead of polling the
        # file lock with busy_timeout, so a queued writer starts the moment the previous one commits.
        self._writers: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = weakref.WeakKeyDictionary()
        # Sessions know their Database, so the data cache (kit/cache.py, `attach`) finds `self.cache`.
        self.cache: Any = None
        info = {"quanzi_db": self}
        self._read = async_sessionmaker(self.engine, expire_on_commit=False, autoflush=True, info=info)
        self._write = async_sessionmaker(
            self.engine.execution_options(quanzi_write=True), expire_on_commit=False, autoflush=True, info=info
        )

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed when the block ends, rolled back on any exception."""
        async with self._writer_turn():
            session = self._write()
            try:
                async with session.begin():
                    yield session
                callbacks = session.info.pop("after_commit", [])
            finally:
                await session.close()
        for hook in callbacks:
            res = hook()
            if res is not None:
                await res

    @asynccontextmanager
    async def _writer_turn(self) -> AsyncIterator[None]:
        if not self.is_sqlite:
            yield
            return
        loop = asyncio.get_running_loop()
        lock = self._writers.get(loop)
        if lock is None:
            lock = self._writers[loop] = asyncio.Lock()
        async with lock:
            yield

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        session = self._read()
        try:
            async with session.begin():
                yield session
        finally:
            await session.close()

    async def dispose(self) -> None:
        await self.engine.dispose()


def after_commit(session: AsyncSession, hook: AfterCommit) -> None:
    """Run `hook` once the current transaction has committed (dropped on rollback)."""
    session.info.setdefault("after_commit", []).append(hook)


async def guarded_update(session: AsyncSession, stmt: Executable) -> int:
    """Execute a conditional UPDATE/DELETE and return how many rows it changed."""
    result = await session.execute(stmt)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def insert_ignore(
    session: AsyncSession, model: type[Base], values: dict[str, Any], conflict_cols: Sequence[str]
) -> bool:
    """INSERT … ON CONFLICT DO NOTHING. Returns True if the row was inserted."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    ins = postgresql.insert(model) if dialect == "postgresql" else sqlite.insert(model)
    stmt = (ins.values(**values).on_conflict_do_nothing(index_elements=list(conflict_cols))
            .execution_options(preserve_rowcount=True))  # SQLAlchemy reports -1 for INSERT rowcounts otherwise
    result = await session.execute(stmt)
    return result.rowcount == 1  # type: ignore[attr-defined]


def skip_locked(session: AsyncSession, stmt: Select[Any]) -> Select[Any]:
    """Let several workers share due rows on PostgreSQL. On SQLite, BEGIN IMMEDIATE already serialises."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        return stmt.with_for_update(skip_locked=True)
    return stmt
