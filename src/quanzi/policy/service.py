"""Read and change policy sections. Each section is a pydantic model: validation lives with the rule."""

from __future__ import annotations

from typing import Annotated, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.backoffice.audit import record
from quanzi.kit.clock import clock
from quanzi.kit.errors import DomainError, InvalidInput
from quanzi.policy.models import PolicySection

S = TypeVar("S", bound="Section")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    key: ClassVar[str]


class CommercePolicy(Section):
    """Shipping fee, unpaid-order timeout, automatic receipt, after-sale window."""

    key: ClassVar[str] = "commerce"
    shipping_flat_fen: Annotated[int, Field(ge=0, le=100_000)] = 800
    free_shipping_threshold_fen: Annotated[int, Field(ge=0, le=100_000_000)] = 9900
    unpaid_timeout_minutes: Annotated[int, Field(ge=1, le=1440)] = 15
    auto_receive_days: Annotated[int, Field(ge=1, le=60)] = 10
    # 7-day no-reason return (消费者权益保护法 Art. 25): never shorter than 7.
    return_window_days: Annotated[int, Field(ge=7, le=90)] = 7
    payment_query_after_minutes: Annotated[int, Field(ge=1, le=120)] = 3

    def shipping_fee(self, goods_fen: int) -> int:
        if self.free_shipping_threshold_fen and goods_fen >= self.free_shipping_threshold_fen:
            return 0
        return self.shipping_flat_fen


async def stored(s: AsyncSession, key: str) -> PolicySection | None:
    """The stored row, read once per transaction (absent rows are remembered too)."""
    cache = s.info.setdefault("policy_rows", {})
    if key not in cache:
        cache[key] = await s.get(PolicySection, key)
    return cache[key]


async def get(s: AsyncSession, section: type[S]) -> S:
    row = await stored(s, section.key)
    if row is None:
        return section()
    return section.model_validate({**section().model_dump(), **row.value})


async def put(s: AsyncSession, section: type[S], values: dict, actor_id: int | None) -> S:
    current = await get(s, section)
    try:
        new = section.model_validate({**current.model_dump(), **values})
    except DomainError:
        raise
    except ValidationError as exc:
        raise InvalidInput(fields=[{"loc": [str(x) for x in e["loc"]], "msg": e["msg"]} for e in exc.errors()]) from exc
    row = await stored(s, section.key)
    if row is None:
        s.add(PolicySection(key=section.key, value=new.model_dump(), updated_at=clock.now(), updated_by=actor_id))
    else:
        row.value = new.model_dump()
        row.updated_at = clock.now()
        row.updated_by = actor_id
    s.info.get("policy_rows", {}).pop(section.key, None)
    changes = {k: [getattr(current, k), v] for k, v in new.model_dump().items() if getattr(current, k) != v}
    record(s, actor_id, "policy.update", "policy_sections", section.key, changes)
    return new
