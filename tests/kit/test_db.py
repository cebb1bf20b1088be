"""Database kit (kit/db.py): UTC datetimes, guarded updates, insert-or-ignore, SQLite pragmas, lazy="raise".

Runs on SQLite, and on PostgreSQL too when QUANZI_TEST_POSTGRES_URL is set (the `db` fixture).
"""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import ForeignKey, Integer, String, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, configure_mappers, mapped_column, registry, relationship

from quanzi.accounts.models import UserRole
from quanzi.kit.db import Base, Database, UTCDateTime, guarded_update, insert_ignore


class DbProbe(Base):
    """Test-only table (test_* tables are ignored by the migration check)."""

    __tablename__ = "test_db_probe"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(40), unique=True)
    stock: Mapped[int] = mapped_column(Integer, default=0)
    at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


async def _add(db: Database, key: str, stock: int = 0, at: datetime | None = None) -> int:
    async with db.write() as s:
        row = DbProbe(key=key, stock=stock, at=at)
        s.add(row)
        await s.flush()
        return row.id


# --- UTCDateTime ------------------------------------------------------------------------------------

INSTANTS = [
    datetime(2026, 11, 25, 9, 30, 15, 123456, tzinfo=UTC),
    datetime(2026, 11, 25, 17, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Shanghai")),  # = 09:30:15Z
    datetime(2026, 3, 29, 0, 59, 59, 999999, tzinfo=ZoneInfo("Europe/London")),  # just before a DST jump
    datetime(2026, 11, 1, 1, 30, tzinfo=ZoneInfo("America/New_York")),  # an ambiguous wall-clock hour
    datetime(2026, 11, 1, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York")),  # ... its second pass
    datetime(1970, 1, 1, tzinfo=timezone(timedelta(hours=-12))),
    datetime(2099, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=14))),
]


@pytest.mark.parametrize("when", INSTANTS, ids=lambda d: d.isoformat())
async def test_utc_datetime_round_trips_as_aware_utc(db: Database, when: datetime) -> None:
    row_id = await _add(db, "t", at=when)
    async with db.read() as s:
        got = (await s.execute(select(DbProbe.at).where(DbProbe.id == row_id))).scalar_one()
    assert got is not None
    assert got.tzinfo is not None and got.utcoffset() == timedelta(0)
    # The same instant, microseconds kept. (Compared in UTC: PEP 495 makes a wall time in a DST gap or
    # fold unequal to every time in another zone.)
    assert got == when.astimezone(UTC)
    assert got.timestamp() == when.timestamp()


async def test_naive_datetimes_are_taken_as_utc(db: Database) -> None:
    row_id = await _add(db, "naive", at=datetime(2026, 1, 2, 3, 4, 5))
    async with db.read() as s:
        got = (await s.execute(select(DbProbe.at).where(DbProbe.id == row_id))).scalar_one()
    assert got == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


async def test_utc_datetime_comparisons_use_the_instant(db: Database) -> None:
    """Stored in UTC whatever the writer's zone, so ordering and range filters compare instants."""
    shanghai = ZoneInfo("Asia/Shanghai")
    await _add(db, "early", at=datetime(2026, 5, 1, 7, 0, tzinfo=shanghai))  # 2026-04-30 23:00Z
    await _add(db, "late", at=datetime(2026, 5, 1, 1, 0, tzinfo=UTC))
    async with db.read() as s:
        order = list((await s.execute(select(DbProbe.key).order_by(DbProbe.at))).scalars())
        after = list((await s.execute(
            select(DbProbe.key).where(DbProbe.at > datetime(2026, 5, 1, 8, 0, tzinfo=shanghai))  # 00:00Z
        )).scalars())
    assert order == ["early", "late"]
    assert after == ["late"]


async def test_utc_datetime_keeps_null(db: Database) -> None:
    row_id = await _add(db, "none")
    async with db.read() as s:
        assert (await s.execute(select(DbProbe.at).where(DbProbe.id == row_id))).scalar_one() is None


# --- guarded_update and insert_ignore --------------------------------------------------------------

async def test_guarded_update_returns_row_counts(db: Database) -> None:
    for key in ("a", "b", "c"):
        await _add(db, key, stock=1)
    async with db.write() as s:
        assert await guarded_update(s, update(DbProbe).where(DbProbe.stock > 0).values(stock=5)) == 3
        assert await guarded_update(s, update(DbProbe).where(DbProbe.key == "b").values(stock=0)) == 1
        assert await guarded_update(s, update(DbProbe).where(DbProbe.key == "missing").values(stock=1)) == 0
        # Matched but unchanged rows still count (the WHERE clause is the guard, not the new value).
        assert await guarded_update(s, update(DbProbe).where(DbProbe.key == "a").values(stock=5)) == 1


def _take_one(row_id: int):  # noqa: ANN202
    return (update(DbProbe).where(DbProbe.id == row_id, DbProbe.stock >= 1)
            .values(stock=DbProbe.stock - 1))


async def test_guarded_decrement_never_goes_below_zero(db: Database) -> None:
    row_id = await _add(db, "stock", stock=3)
    results = []
    for _ in range(5):
        async with db.write() as s:
            results.append(await guarded_update(s, _take_one(row_id)))
    assert results == [1, 1, 1, 0, 0]
    async with db.read() as s:
        assert (await s.get(DbProbe, row_id)).stock == 0  # type: ignore[union-attr]


async def test_concurrent_guarded_decrements_never_oversell(db: Database) -> None:
    row_id = await _add(db, "hot", stock=5)

    async def buyer() -> int:
        async with db.write() as s:
            return await guarded_update(s, _take_one(row_id))

    results = await asyncio.gather(*(buyer() for _ in range(12)))
    assert sorted(results) == [0] * 7 + [1] * 5
    async with db.read() as s:
        assert (await s.get(DbProbe, row_id)).stock == 0  # type: ignore[union-attr]


async def test_insert_ignore_inserts_once(db: Database) -> None:
    async with db.write() as s:
        assert await insert_ignore(s, DbProbe, {"key": "once", "stock": 1}, ["key"]) is True
        assert await insert_ignore(s, DbProbe, {"key": "once", "stock": 2}, ["key"]) is False
    async with db.write() as s:  # also across transactions
        assert await insert_ignore(s, DbProbe, {"key": "once", "stock": 3}, ["key"]) is False
        assert await insert_ignore(s, DbProbe, {"key": "other", "stock": 4}, ["key"]) is True
    async with db.read() as s:
        rows = (await s.execute(select(DbProbe.key, DbProbe.stock).order_by(DbProbe.key))).all()
    assert [tuple(r) for r in rows] == [("once", 1), ("other", 4)]  # the first write wins


# --- SQLite connection setup -----------------------------------------------------------------------

def _sqlite_only(db: Database) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite pragmas")


async def test_sqlite_connections_use_wal_and_foreign_keys(db: Database) -> None:
    _sqlite_only(db)
    for open_session in (db.read, db.write):
        async with open_session() as s:
            assert (await s.execute(text("PRAGMA journal_mode"))).scalar_one().lower() == "wal"
            assert (await s.execute(text("PRAGMA foreign_keys"))).scalar_one() == 1
            assert (await s.execute(text("PRAGMA busy_timeout"))).scalar_one() == 30000


async def test_sqlite_foreign_keys_are_enforced(db: Database) -> None:
    _sqlite_only(db)

    with pytest.raises(IntegrityError):
        async with db.write() as s:
            s.add(UserRole(user_id=987654, role="fan", created_at=datetime.now(UTC)))


async def test_sqlite_write_transactions_take_the_write_lock_at_begin(db: Database) -> None:
    """db.write() starts with BEGIN IMMEDIATE: another writer is refused before we have written anything."""
    _sqlite_only(db)
    path = make_url(db.url).database
    async with db.write() as s:
        await s.execute(select(DbProbe.id))  # a read only: under BEGIN DEFERRED no lock would be held yet
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
        finally:
            other.close()
    async with db.read() as s:  # readers never take the write lock
        await s.execute(select(DbProbe.id))
        other = sqlite3.connect(path, timeout=0, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        finally:
            other.close()


async def test_sqlite_writers_of_one_process_queue_instead_of_polling_the_file_lock(db_url: str) -> None:
    """With busy_timeout 0 every contended BEGIN IMMEDIATE would fail at once ("database is locked"): 30
    concurrent writers of one process all commit only because they wait their turn in the writer queue."""
    if not db_url.startswith("sqlite"):
        pytest.skip("the writer queue is SQLite's")
    from sqlalchemy import event

    own = Database(db_url)

    @event.listens_for(own.engine.sync_engine, "connect")
    def _no_busy_wait(dbapi_conn, _record) -> None:  # noqa: ANN001
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=0")
        cur.close()

    try:
        first = await _add(own, "queue", stock=0)

        async def bump() -> None:
            async with own.write() as s:
                await s.execute(update(DbProbe).where(DbProbe.id == first).values(stock=DbProbe.stock + 1))
                await asyncio.sleep(0.001)  # hold the write lock across a hand-off, as a real request does

        await asyncio.gather(*(bump() for _ in range(30)))
        async with own.read() as s:
            assert (await s.execute(select(DbProbe.stock).where(DbProbe.id == first))).scalar_one() == 30
    finally:
        await own.dispose()


async def test_postgresql_idle_connection_dropped_by_the_server_is_replaced_not_failed(db_url: str,
                                                                                    monkeypatch) -> None:  # noqa: ANN001
    """No pre-ping per request: a pooled connection is pinged only after sitting idle, and a dead one is
    replaced by the pool. Without the idle ping the same request fails (shown first)."""
    if db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's pool")
    from sqlalchemy.exc import DBAPIError

    from quanzi.kit import db as dbkit

    async def kill_our_backends(victim: Database) -> None:
        async with victim.read() as s:
            me = (await s.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        killer = Database(db_url, null_pool=True)
        try:
            async with killer.write() as s:
                await s.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": me})
        finally:
            await killer.dispose()

    for idle_ping in (1e9, 0.0):  # never ping, then ping anything idle
        monkeypatch.setattr(dbkit, "IDLE_PING_SECONDS", idle_ping)
        victim = Database(db_url)
        try:
            await kill_our_backends(victim)
            if idle_ping:
                with pytest.raises(DBAPIError):
                    async with victim.read() as s:
                        await s.execute(text("SELECT 1"))
            else:
                async with victim.read() as s:
                    assert (await s.execute(text("SELECT 1"))).scalar_one() == 1
        finally:
            await victim.dispose()


# --- ORM relationships ---------------------------------------------------------------------------

def eager_relationships(reg: registry) -> list[str]:
    """Relationships that would load on attribute access (the async session cannot do that silently)."""
    configure_mappers()
    return [
        f"{mapper.class_.__name__}.{rel.key} (lazy={rel.lazy!r})"
        for mapper in reg.mappers
        for rel in mapper.relationships
        if rel.lazy != "raise"
    ]


def test_every_relationship_is_lazy_raise() -> None:
    assert eager_relationships(Base.registry) == [], "use relationship(..., lazy='raise') and load explicitly"


def test_the_relationship_check_sees_relationships() -> None:
    class Other(DeclarativeBase):
        pass

    class Parent(Other):
        __tablename__ = "parent"
        id: Mapped[int] = mapped_column(primary_key=True)
        children: Mapped[list[Child]] = relationship(lazy="raise")
        children_lazy: Mapped[list[Child]] = relationship(viewonly=True)

    class Child(Other):
        __tablename__ = "child"
        id: Mapped[int] = mapped_column(primary_key=True)
        parent_id: Mapped[int] = mapped_column(ForeignKey("parent.id"))

    assert eager_relationships(Other.registry) == ["Parent.children_lazy (lazy='select')"]
