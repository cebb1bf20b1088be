"""Read and change policy sections. Each section is a pydantic model: validation lives with the rule."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.audit.service import record
from quanzi.kit import cache
from quanzi.kit.clock import clock
from quanzi.kit.errors import DomainError, InvalidInput
from quanzi.kit.money import split_largest_remainder
from quanzi.policy.models import PolicySection

S = TypeVar("S", bound="Section")


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)
    key: ClassVar[str]


ShippingMode = Literal["per_checkout", "per_package"]


class CommercePolicy(Section):
    """Shipping fee (and whether it and the free-shipping threshold apply per checkout or per package),
    unpaid-order timeout, automatic receipt, after-sale window."""

    key: ClassVar[str] = "commerce"
    shipping_flat_fen: Annotated[int, Field(ge=0, le=100_000)] = 800
    free_shipping_threshold_fen: Annotated[int, Field(ge=0, le=100_000_000)] = 9900
    unpaid_timeout_minutes: Annotated[int, Field(ge=1, le=1440)] = 15
    auto_receive_days: Annotated[int, Field(ge=1, le=60)] = 10
    # 7-day no-reason return (消费者权益保护法 Art. 25): never shorter than 7.
    return_window_days: Annotated[int, Field(ge=7, le=90)] = 7
    payment_query_after_minutes: Annotated[int, Field(ge=1, le=120)] = 3
    # per_package: each order (one per supplier/shop) pays the flat fee unless its own goods reach the
    # threshold. per_checkout: the fee is charged once and the threshold counts the whole checkout.
    shipping_mode: ShippingMode = "per_package"

    def shipping_fee(self, goods_fen: int) -> int:
        if self.free_shipping_threshold_fen and goods_fen >= self.free_shipping_threshold_fen:
            return 0
        return self.shipping_flat_fen

    def shipping_of(self, goods_per_package: Sequence[int]) -> list[int]:
        """The shipping fee of each package of one checkout, under the shipping mode. Per checkout, the one
        fee is spread over the packages in proportion to their goods (largest remainder: exact in fen), so
        every order still carries its own share and a refund never returns more than the order paid."""
        if self.shipping_mode == "per_package":
            return [self.shipping_fee(g) for g in goods_per_package]
        fee = self.shipping_fee(sum(goods_per_package))
        if fee == 0 or not goods_per_package:
            return [0] * len(goods_per_package)
        weights = list(goods_per_package) if any(goods_per_package) else [1] * len(goods_per_package)
        return split_largest_remainder(fee, weights)

    def missing_for_free_shipping(self, goods_per_package: Sequence[int]) -> list[int]:
        """How much more goods would make shipping free: one figure per checkout (a one-item list) or one
        per package; 0 where shipping is already free, empty when there is no threshold."""
        if not self.free_shipping_threshold_fen or not self.shipping_flat_fen:
            return []
        totals = [sum(goods_per_package)] if self.shipping_mode == "per_checkout" else list(goods_per_package)
        return [max(0, self.free_shipping_threshold_fen - g) for g in totals]


# Policy is read by every checkout and changed by an operator now and then: cached in the process (kit/cache.py)
# and invalidated by any committed change to policy_sections (put, the back office).
cache.watch("policy", PolicySection.__tablename__)
SECTIONS = cache.Cached("policy.sections", on=("policy",))


async def stored_value(s: AsyncSession, key: str) -> dict[str, Any] | None:
    """The stored document of a section (None when never set): from the cache, else read once per
    transaction. Shared between requests: never mutate it."""
    memo = s.info.setdefault("policy_values", {})
    if key not in memo:
        async def load() -> dict[str, Any] | None:
            row = await s.get(PolicySection, key)
            return dict(row.value) if row is not None else None

        memo[key] = await SECTIONS.get(s, key, load)
    return memo[key]  # type: ignore[no-any-return]


async def get(s: AsyncSession, section: type[S]) -> S:
    value = await stored_value(s, section.key)
    if value is None:
        return section()
    return section.model_validate({**section().model_dump(), **value})


class PolicyRefused(InvalidInput):
    """A settings change that breaks a section's own rule (a cross-field bound, a malformed rate, a key the
    section does not have): a business refusal with the section's field errors, not request validation."""

    code = "policy.refused"
    message = {"zh": "设置不符合规则", "en": "These settings break a rule"}


async def put_checked(s: AsyncSession, section: type[S], values: dict, actor_id: int | None) -> S:
    """`put` for an API whose body is a loose patch: a section-level refusal is `policy.refused`."""
    try:
        return await put(s, section, values, actor_id)
    except PolicyRefused:
        raise
    except InvalidInput as exc:
        raise PolicyRefused(**exc.detail) from exc


async def put(s: AsyncSession, section: type[S], values: dict, actor_id: int | None) -> S:
    current = await get(s, section)
    try:
        new = section.model_validate({**current.model_dump(), **values})
    except DomainError:
        raise
    except ValidationError as exc:
        raise InvalidInput(fields=[{"loc": [str(x) for x in e["loc"]], "msg": e["msg"]} for e in exc.errors()]) from exc
    row = await s.get(PolicySection, section.key)
    if row is None:
        s.add(PolicySection(key=section.key, value=new.model_dump(), updated_at=clock.now(), updated_by=actor_id))
    else:
        row.value = new.model_dump()
        row.updated_at = clock.now()
        row.updated_by = actor_id
    s.info.get("policy_values", {}).pop(section.key, None)
    changes = {k: [getattr(current, k), v] for k, v in new.model_dump().items() if getattr(current, k) != v}
    record(s, actor_id, "policy.update", "policy_sections", section.key, changes)
    return new
