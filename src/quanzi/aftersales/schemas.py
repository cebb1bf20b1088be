from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from quanzi.kit.schemas import Id, In, Out, Quantity


class AfterSaleIn(In):
    order_id: Id
    line_id: Id
    kind: Annotated[str, Field(pattern=r"^(refund_only|return_refund)$")]
    quantity: Quantity
    reason: Annotated[str, Field(min_length=1, max_length=200)]
    media_ids: Annotated[list[Id], Field(max_length=6, description="Photos: uploads with purpose=aftersale")] = []


class RejectIn(In):
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class ShipBackIn(In):
    carrier: Annotated[str, Field(min_length=1, max_length=40)]
    tracking_no: Annotated[str, Field(min_length=4, max_length=60, pattern=r"^[A-Za-z0-9-]+$")]


class AfterSaleOut(Out):
    id: int
    order_id: int
    line_id: int
    kind: str
    quantity: int
    amount_fen: int
    shipping_fen: int
    reason: str
    status: str
    reject_reason: str | None
    return_carrier: str | None
    return_tracking_no: str | None
    created_at: datetime
    decided_at: datetime | None
    closed_at: datetime | None
    photos: list[str] = []
