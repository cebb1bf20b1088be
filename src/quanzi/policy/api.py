"""Operator policy API: read and change validated policy sections (every change audited)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from quanzi.accounts.deps import Operator
from quanzi.kit.deps import DB
from quanzi.kit.schemas import In
from quanzi.policy import service
from quanzi.policy.service import CommercePolicy, ShippingMode

router = APIRouter(prefix="/api/policy", tags=["policy"])


class CommercePatch(In):
    """Fields to change; the rest keep their values. Ranges repeat CommercePolicy's (it validates again)."""

    shipping_flat_fen: Annotated[int, Field(strict=True, ge=0, le=100_000)] | None = None
    free_shipping_threshold_fen: Annotated[int, Field(strict=True, ge=0, le=100_000_000)] | None = None
    unpaid_timeout_minutes: Annotated[int, Field(strict=True, ge=1, le=1440)] | None = None
    auto_receive_days: Annotated[int, Field(strict=True, ge=1, le=60)] | None = None
    return_window_days: Annotated[int, Field(strict=True, ge=7, le=90)] | None = None
    payment_query_after_minutes: Annotated[int, Field(strict=True, ge=1, le=120)] | None = None
    shipping_mode: ShippingMode | None = None


@router.get("/commerce")
async def get_commerce(db: DB, me: Operator) -> CommercePolicy:
    async with db.read() as s:
        return await service.get(s, CommercePolicy)


@router.put("/commerce")
async def put_commerce(body: CommercePatch, db: DB, me: Operator) -> CommercePolicy:
    async with db.write() as s:
        return await service.put(s, CommercePolicy, body.model_dump(exclude_none=True), me.user_id)
