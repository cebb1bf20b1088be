"""Pay approved withdrawals through their payout channel (outside any transaction; retried by the outbox),
and ask the provider about transfers that are still processing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from quanzi.kit import outbox
from quanzi.kit.db import Database
from quanzi.kit.errors import DomainError
from quanzi.kit.sweeps import sweep
from quanzi.withdrawals import service

log = structlog.get_logger("quanzi.withdrawals")


@outbox.on("withdrawal.approved", own_transactions=True)
async def pay_out(db: Database, payload: dict[str, Any]) -> None:
    await service.pay_out(db, int(payload["withdrawal_id"]))


@sweep("withdrawals.query_transfers", every_seconds=60)
async def query_transfers(db: Database, now: datetime) -> int:
    async with db.read() as s:
        due = await service.due_for_query(s, now)
    done = 0
    for withdrawal_id in due:
        try:
            await service.pay_out(db, withdrawal_id)
            done += 1
        except DomainError as exc:  # provider unreachable: asked again a little later
            log.warning("withdrawal.query_failed", withdrawal_id=withdrawal_id, error=repr(exc))
            await service.postpone(db, withdrawal_id)
    return done
