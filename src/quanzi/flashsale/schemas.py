from __future__ import annotations

from datetime import date, datetime, time
from typing import Annotated

from pydantic import Field, field_validator

from quanzi.kit.schemas import Id, In, Out, Quantity


class GrabIn(In):
    sku_id: Id
    quantity: Quantity = 1
    address_id: Id


class GrabOut(Out):
    reservation_id: int
    order_id: int
    pay_deadline: datetime


class WaitlistIn(In):
    product_id: Id


class SlotIn(In):
    """Times of day in China time; an offset, if sent, is ignored (slots repeat daily in local time)."""

    name: Annotated[str, Field(min_length=1, max_length=30)]
    starts: time
    ends: time

    @field_validator("starts", "ends")
    @classmethod
    def _local(cls, v: time) -> time:
        return v.replace(tzinfo=None)


class ItemIn(In):
    sku_id: Id
    flash_price_fen: Annotated[int, Field(strict=True, ge=1, le=10**9)]
    quota: Annotated[int, Field(strict=True, ge=1, le=10**6)]


class ActivityIn(In):
    slot_id: Id
    day: date
    title: Annotated[str, Field(min_length=1, max_length=60)]
    product_id: Id
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=20)]
    per_order_limit: Annotated[int, Field(strict=True, ge=1, le=100)] = 1
    per_user_limit: Annotated[int, Field(strict=True, ge=1, le=100)] = 1
    pay_minutes: Annotated[int, Field(strict=True, ge=1, le=60)] = 5
    commission_enabled: bool = False


class ItemOut(Out):
    id: int
    sku_id: int
    flash_price_fen: int
    quota: int
    remaining: int


class ActivityOut(Out):
    id: int
    slot_id: int
    title: str
    product_id: int
    starts_at: datetime
    ends_at: datetime
    per_order_limit: int
    per_user_limit: int
    items: list[ItemOut] = []


class SlotOut(Out):
    id: int
    name: str
    starts: str  # "HH:MM:SS", China time
    ends: str

    @classmethod
    def of(cls, slot: object) -> SlotOut:
        return cls(id=slot.id, name=slot.name, starts=slot.starts.strftime("%H:%M:%S"),  # type: ignore[attr-defined]
                   ends=slot.ends.strftime("%H:%M:%S"))  # type: ignore[attr-defined]
