"""Pay approved withdrawals through the provider (outside any transaction; retried by the outbox)."""

from __future__ import annotations

from typing import Any

from quanzi.kit import outbox
from quanzi.kit.db import Database
from quanzi.withdrawals import service


@outbox.on("withdrawal.approved", own_transactions=True)
async def pay_out(db: Database, payload: dict[str, Any]) -> None:
    await service.pay_out(db, int(payload["withdrawal_id"]))
