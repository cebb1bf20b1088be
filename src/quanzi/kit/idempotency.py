"""Idempotency keys: the same key returns the same result; the same key with another body is a 409.

The key row is written in the same transaction as the business effect, so a failure discards both
and a retry starts clean. Concurrent duplicates serialise on the unique index (PostgreSQL waits for
the first transaction; SQLite's BEGIN IMMEDIATE already serialises writers).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Integer, String, UniqueConstraint, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from quanzi.kit.clock import clock
from quanzi.kit.db import Base, UTCDateTime
from quanzi.kit.errors import IdempotencyInFlight, IdempotencyKeyReused, InvalidInput


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(120))
    key: Mapped[str] = mapped_column(String(120))
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[Any] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())

    __table_args__ = (UniqueConstraint("scope", "key"),)


def body_hash(body: Any) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


def check_key(key: str | None) -> str | None:
    if key is None:
        return None
    if not (1 <= len(key) <= 120) or not key.isprintable():
        raise InvalidInput({"zh": "Idempotency-Key 格式不正确", "en": "Malformed Idempotency-Key"}, field="Idempotency-Key")
    return key


async def run_once(
    session: AsyncSession,
    scope: str,
    key: str | None,
    request: Any,
    fn: Callable[[], Awaitable[tuple[int, Any]]],
) -> tuple[int, Any]:
    """Run `fn` once per (scope, key); replay its (status, json) for repeats with the same body."""
    if key is None:
        return await fn()
    h = body_hash(request)
    ins = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    claimed = (await session.execute(
        ins(IdempotencyKey).values(scope=scope, key=key, request_hash=h, created_at=clock.now())
        .on_conflict_do_nothing(index_elements=["scope", "key"]).returning(IdempotencyKey.id)
    )).scalar_one_or_none()
    if claimed is None:  # a repeat: replay, refuse another body, or say the first is still running
        row = (await session.execute(
            select(IdempotencyKey).where(IdempotencyKey.scope == scope, IdempotencyKey.key == key)
        )).scalar_one()
        if row.request_hash != h:
            raise IdempotencyKeyReused(key=key)
        if row.status_code is None:
            raise IdempotencyInFlight(key=key)
        return row.status_code, row.response
    status, body = await fn()
    await session.execute(update(IdempotencyKey).where(IdempotencyKey.id == claimed)
                          .values(status_code=status, response=body))
    return status, body
