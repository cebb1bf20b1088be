from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import AwareDatetime, Field

from quanzi.kit.schemas import Id, In, Out, Quantity

PriceFen = Annotated[int, Field(strict=True, ge=1, le=10**9)]


class GroupSkuIn(In):
    sku_id: Id
    group_price_fen: PriceFen


class ActivityIn(In):
    title: Annotated[str, Field(min_length=1, max_length=60)]
    product_id: Id
    skus: Annotated[list[GroupSkuIn], Field(min_length=1, max_length=20)]
    group_size: Annotated[int, Field(strict=True, ge=2, le=100)]
    time_limit_minutes: Annotated[int, Field(strict=True, ge=5, le=7 * 24 * 60)] = 24 * 60
    starts_at: AwareDatetime
    ends_at: AwareDatetime
    per_order_limit: Annotated[int, Field(strict=True, ge=1, le=100)] = 1
    per_user_limit: Annotated[int, Field(strict=True, ge=1, le=100)] = 1
    pay_minutes: Annotated[int, Field(strict=True, ge=1, le=60)] = 15
    leader_discount_fen: Annotated[int, Field(strict=True, ge=0, le=10**9)] = 0
    leader_commission_bp: Annotated[int, Field(strict=True, ge=0, le=3000)] = 0
    commission_enabled: bool = False
    complete_ratio_bp: Annotated[int, Field(strict=True, ge=1, le=9999)] | None = None


class EnterIn(In):
    """Open a group or join one: one SKU per group order."""

    sku_id: Id
    quantity: Quantity = 1
    address_id: Id


class PlacedOut(Out):
    group_id: int
    member_id: int
    order_id: int
    order_no: str
    total_fen: int
    pay_deadline: datetime


class GroupSkuOut(Out):
    sku_id: int
    group_price_fen: int
    leader_price_fen: int
    reference_price_fen: int | None = None


class ActivityOut(Out):
    id: int
    title: str
    product_id: int
    group_size: int
    time_limit_minutes: int
    starts_at: datetime
    ends_at: datetime
    per_order_limit: int
    per_user_limit: int
    leader_discount_fen: int
    complete_ratio_bp: int | None
    status: str
    skus: list[GroupSkuOut] = []


class SeatOut(Out):
    nickname: str
    avatar_url: str | None
    is_leader: bool
    seated_at: datetime


class GroupOut(Out):
    id: int
    activity_id: int
    title: str
    product_id: int
    status: str
    seats: int
    filled: int
    seats_left: int
    expires_at: datetime | None
    completed_by_platform: bool = Field(description="Succeeded when its time ran out, with these real members only")
    closed_at: datetime | None
    members: list[SeatOut] = []


class ActivityDetailOut(ActivityOut):
    groups: list[GroupOut] = Field(default=[], description="Forming groups with a free seat, closest to full first")


class MyGroupOut(Out):
    group_id: int
    activity_id: int
    group_status: str
    member_status: str
    is_leader: bool
    order_id: int
    refund_reason: str | None
    expires_at: datetime | None


class ShareOut(Out):
    token: str
    url: str
