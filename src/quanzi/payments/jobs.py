"""Payment background work: refunds through the provider (outbox), and querying silent payments (sweep)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from quanzi.kit import outbox
from quanzi.kit.db import Database
from quanzi.kit.sweeps import sweep
from quanzi.payments import service
from quanzi.policy import service as policy
from quanzi.policy.service import CommercePolicy


@outbox.on("payments.refund_requested", own_transactions=True)
async def refund_via_provider(db: Database, payload: dict[str, Any]) -> None:
    await service.execute_refund(db, int(payload["refund_id"]))


@sweep("payments.query_silent", every_seconds=60)
async def query_silent_payments(db: Database, now: datetime) -> int:
    async with db.read() as s:
        minutes = (await policy.get(s, CommercePolicy)).payment_query_after_minutes
    return await service.query_due(db, now, minutes)
