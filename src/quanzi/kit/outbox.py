"""Transactional outbox: events written in the business transaction, delivered after commit.

`emit(session, topic, payload)` writes one row per registered handler of that topic, in the caller's
transaction, so a rollback discards the event. A worker claims due rows with a lease (SKIP LOCKED on
PostgreSQL; BEGIN IMMEDIATE serialises claims on SQLite), runs the handler, and marks the row done.
Delivery is at-least-once: handlers must be idempotent. Failures retry with exponential backoff and go
to the dead letter (status "dead") after `max_attempts`.

Two handler kinds:
- `@on(topic)`: `async def h(session, payload)` runs inside the transaction that marks the row done,
  so its writes and the "done" mark commit together.
- `@on(topic, own_transactions=True)`: `async def h(db, payload)` opens its own transactions; use it
  for handlers that call a payment provider or any other outside service (no outside call while a
  transaction holds locks — DESIGN rule 3).
"""

from __future__ import annotations

import asyncio
import traceback
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from prometheus_client import Counter
from sqlalchemy import JSON, Index, Integer, String, Text, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.clock import clock
from quanzi.kit.db import Base, Database, UTCDateTime, after_commit, guarded_update, skip_locked

log = structlog.get_logger("quanzi.outbox")

DELIVERED = Counter("quanzi_outbox_delivered_total", "Outbox messages delivered", ["topic"])
FAILED = Counter("quanzi_outbox_failed_total", "Outbox delivery attempts that failed", ["topic"])
DEAD = Counter("quanzi_outbox_dead_total", "Outbox messages moved to the dead letter", ["topic"])


class OutboxMessage(Base):
    __tablename__ = "outbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    topic: Mapped[str] = mapped_column(String(100))
    handler: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | done | dead
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    processed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)


SessionHandler = Callable[[AsyncSession, dict[str, Any]], Awaitable[None]]
DbHandler = Callable[[Database, dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Registered:
    name: str
    fn: Callable[..., Awaitable[None]]
    own_transactions: bool


_handlers: dict[str, dict[str, Registered]] = {}
_wakeup: asyncio.Event | None = None


def on(topic: str, *, own_transactions: bool = False) -> Callable[[Any], Any]:
    def decorate(fn: Any) -> Any:
        name = f"{fn.__module__}.{fn.__qualname__}"
        _handlers.setdefault(topic, {})[name] = Registered(name, fn, own_transactions)
        return fn

    return decorate


def handlers_for(topic: str) -> list[Registered]:
    return list(_handlers.get(topic, {}).values())


def _find(name: str) -> Registered | None:
    for regs in _handlers.values():
        if name in regs:
            return regs[name]
    return None


def wake() -> None:
    if _wakeup is not None:
        _wakeup.set()


async def emit(session: AsyncSession, topic: str, payload: dict[str, Any], *, delay: timedelta | None = None) -> int:
    """Record `topic` for every handler registered for it. Returns the number of rows written."""
    now = clock.now()
    due = now + delay if delay else now
    regs = handlers_for(topic)
    for reg in regs:
        session.add(
            OutboxMessage(
                topic=topic, handler=reg.name, payload=payload, status="pending", attempts=0,
                next_attempt_at=due, created_at=now,
            )
        )
    if regs:
        after_commit(session, wake)
    return len(regs)


def backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 3600))


class LostLease(Exception):
    """Another worker took the message after our lease ran out; our work is rolled back."""


async def claim(db: Database, worker_id: str, limit: int = 50, lease: timedelta = timedelta(minutes=5)) -> list[int]:
    now = clock.now()
    async with db.write() as s:
        stmt = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at <= now,
                or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until < now),
            )
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
        ids = list((await s.execute(skip_locked(s, stmt))).scalars())
        if ids:
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_(ids))
                .values(locked_until=now + lease, locked_by=worker_id, attempts=OutboxMessage.attempts + 1)
            )
    return ids


async def _mark_done(s: AsyncSession, msg_id: int, worker_id: str) -> None:
    n = await guarded_update(
        s,
        update(OutboxMessage)
        .where(OutboxMessage.id == msg_id, OutboxMessage.locked_by == worker_id, OutboxMessage.status == "pending")
        .values(status="done", processed_at=clock.now(), locked_until=None),
    )
    if n != 1:
        raise LostLease(msg_id)


async def deliver_one(db: Database, msg_id: int, worker_id: str, max_attempts: int) -> bool:
    async with db.read() as s:
        msg = await s.get(OutboxMessage, msg_id)
        if msg is None or msg.locked_by != worker_id or msg.status != "pending":
            return False
        topic, handler_name, payload, attempts = msg.topic, msg.handler, dict(msg.payload), msg.attempts
    reg = _find(handler_name)
    try:
        if reg is None:
            raise LookupError(f"no handler registered as {handler_name}")
        if reg.own_transactions:
            await reg.fn(db, payload)
            async with db.write() as s:
                await _mark_done(s, msg_id, worker_id)
        else:
            async with db.write() as s:
                await reg.fn(s, payload)
                await _mark_done(s, msg_id, worker_id)
        DELIVERED.labels(topic).inc()
        return True
    except LostLease:
        log.warning("outbox.lost_lease", id=msg_id)
        return False
    except Exception as exc:  # noqa: BLE001 - a failing handler must not stop the worker
        FAILED.labels(topic).inc()
        dead = attempts >= max_attempts
        if dead:
            DEAD.labels(topic).inc()
        log.error("outbox.handler_failed", id=msg_id, topic=topic, handler=handler_name, attempts=attempts,
                  dead=dead, error=repr(exc))
        async with db.write() as s:
            await s.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == msg_id, OutboxMessage.locked_by == worker_id)
                .values(
                    status="dead" if dead else "pending",
                    next_attempt_at=clock.now() + backoff(attempts),
                    locked_until=None,
                    last_error="".join(traceback.format_exception_only(exc))[-2000:],
                )
            )
        return False


async def deliver_batch(db: Database, worker_id: str | None = None, *, limit: int = 50, max_attempts: int = 8) -> int:
    """Claim and deliver up to `limit` due messages. Returns how many were delivered."""
    worker_id = worker_id or uuid.uuid4().hex
    ids = await claim(db, worker_id, limit)
    done = 0
    for msg_id in ids:
        done += await deliver_one(db, msg_id, worker_id, max_attempts)
    return done


async def drain(db: Database, *, max_rounds: int = 20) -> int:
    """Deliver until nothing is due (tests, demo seed, CLI). A failing message backs off and does not stop
    the others from being delivered. Returns how many were delivered."""
    total = 0
    worker_id = uuid.uuid4().hex
    for _ in range(max_rounds):
        ids = await claim(db, worker_id, 50)
        if not ids:
            break
        for msg_id in ids:
            total += await deliver_one(db, msg_id, worker_id, 8)
    return total


def set_wakeup(event: asyncio.Event | None) -> None:
    global _wakeup
    _wakeup = event
