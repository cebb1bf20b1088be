"""Outbox: written in the business transaction, delivered after commit, retried, dead-lettered, never twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import Integer, String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Base, Database
from quanzi.kit.outbox import OutboxMessage


class OutboxProbe(Base):
    """Test-only table: one row per handler invocation."""

    __tablename__ = "test_outbox_probe"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(50))
    n: Mapped[int] = mapped_column(Integer)


FAILS: dict[int, int] = {}


@outbox.on("test.probe")
async def _record(session: AsyncSession, payload: dict) -> None:
    session.add(OutboxProbe(topic="test.probe", n=payload["n"]))


@outbox.on("test.flaky")
async def _flaky(session: AsyncSession, payload: dict) -> None:
    left = FAILS.get(payload["n"], 0)
    if left > 0:
        FAILS[payload["n"]] = left - 1
        raise RuntimeError("provider down")
    session.add(OutboxProbe(topic="test.flaky", n=payload["n"]))


async def _ensure_probe_table(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.run_sync(lambda c: OutboxProbe.__table__.create(c, checkfirst=True))


async def _count(db: Database, topic: str) -> int:
    async with db.read() as s:
        return (await s.execute(select(func.count()).where(OutboxProbe.topic == topic))).scalar_one()


async def test_rollback_discards_event(db: Database) -> None:
    await _ensure_probe_table(db)

    class Boom(Exception):
        pass

    try:
        async with db.write() as s:
            await outbox.emit(s, "test.probe", {"n": 1})
            raise Boom
    except Boom:
        pass
    async with db.read() as s:
        assert (await s.execute(select(func.count()).select_from(OutboxMessage))).scalar_one() == 0


async def test_delivered_once_after_commit(db: Database) -> None:
    await _ensure_probe_table(db)
    async with db.write() as s:
        assert await outbox.emit(s, "test.probe", {"n": 7}) == 1
    assert await outbox.drain(db) == 1
    assert await outbox.drain(db) == 0
    assert await _count(db, "test.probe") == 1


async def test_retry_with_backoff_then_dead_letter(db: Database) -> None:
    await _ensure_probe_table(db)
    clock.freeze()
    FAILS[1] = 2  # fails twice, then succeeds
    FAILS[2] = 99  # never succeeds
    async with db.write() as s:
        await outbox.emit(s, "test.flaky", {"n": 1})
        await outbox.emit(s, "test.flaky", {"n": 2})
    assert await outbox.deliver_batch(db, max_attempts=3) == 0
    # Not due again until the backoff has passed.
    assert await outbox.deliver_batch(db, max_attempts=3) == 0
    clock.advance(timedelta(seconds=6))
    assert await outbox.deliver_batch(db, max_attempts=3) == 0
    clock.advance(timedelta(seconds=11))
    assert await outbox.deliver_batch(db, max_attempts=3) == 1  # n=1 finally succeeds
    async with db.read() as s:
        rows = {m.payload["n"]: m for m in (await s.execute(select(OutboxMessage))).scalars()}
    assert rows[1].status == "done" and rows[1].attempts == 3
    assert rows[2].status == "dead" and rows[2].attempts == 3 and "provider down" in (rows[2].last_error or "")
    clock.advance(timedelta(hours=2))
    assert await outbox.deliver_batch(db, max_attempts=3) == 0  # dead letters stay dead
    assert await _count(db, "test.flaky") == 1


async def test_two_workers_never_process_the_same_item(db_url: str) -> None:
    """Two workers with their own connection pools share 300 messages: each is handled exactly once."""
    db_a, db_b = Database(db_url), Database(db_url)
    try:
        await _ensure_probe_table(db_a)
        async with db_a.write() as s:
            for n in range(300):
                await outbox.emit(s, "test.probe", {"n": n})

        async def work(db: Database, name: str) -> int:
            total = 0
            while True:
                got = await outbox.deliver_batch(db, name, limit=7)
                total += got
                if got == 0:
                    async with db.read() as s:
                        left = (await s.execute(
                            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
                        )).scalar_one()
                    if left == 0:
                        return total
                    await asyncio.sleep(0.01)

        a, b = await asyncio.gather(work(db_a, "worker-a"), work(db_b, "worker-b"))
        assert a + b == 300
        assert a > 0 and b > 0, (a, b)  # both really worked
        async with db_a.read() as s:
            ns = list((await s.execute(select(OutboxProbe.n).where(OutboxProbe.topic == "test.probe"))).scalars())
        assert sorted(ns) == list(range(300))  # no item twice, none lost
    finally:
        await db_a.dispose()
        await db_b.dispose()
