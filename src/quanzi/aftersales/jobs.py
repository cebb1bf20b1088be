"""After-sales react to refunds confirmed by the payment provider."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.aftersales import service
from quanzi.kit import outbox


@outbox.on("payments.refund_succeeded")
async def close_refunded_aftersale(s: AsyncSession, payload: dict[str, Any]) -> None:
    source = str(payload.get("source", ""))
    if source.startswith("aftersale:"):
        await service.refund_arrived(s, int(source.split(":", 1)[1]), int(payload["refund_id"]))
