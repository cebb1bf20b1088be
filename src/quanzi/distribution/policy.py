"""The distribution program's settings, validated knob by knob (DOMAIN_RULES §1 and §8)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, model_validator

from quanzi.distribution.errors import FreezeTooShort, RateCapExceeded, TooManyLevels
from quanzi.policy.service import Section

MAX_LEVELS = 2  # WeChat rules and 禁止传销条例： never more than two levels
MAX_FREEZE_DAYS = 180


class DistributionPolicy(Section):
    key: ClassVar[str] = "distribution"

    enabled: bool = True
    who_may: Literal["everyone", "approval"] = "everyone"
    binding_mode: Literal["first_touch", "time_bound", "override"] = "time_bound"
    binding_scope: Literal["all", "new_users"] = "all"
    validity_days: Annotated[int, Field(ge=1, le=3650)] = 30
    protection_days: Annotated[int, Field(ge=0, le=365)] = 7
    levels: int = 2
    level1_bp: Annotated[int, Field(ge=0, le=10_000)] = 1000  # 10.00 %
    level2_bp: Annotated[int, Field(ge=0, le=10_000)] = 300   # 3.00 %
    platform_cap_bp: Annotated[int, Field(ge=0, le=10_000)] = 3000
    self_purchase_rebate: bool = False
    include_shipping_in_base: bool = False
    freeze_days: int = 7
    # Filled in by policy.put from CommercePolicy so the freeze can be checked against it.
    return_window_days: Annotated[int, Field(ge=7, le=90)] = 7
    share_token_days: Annotated[int, Field(ge=1, le=365)] = 30
    withdraw_min_fen: Annotated[int, Field(ge=100, le=10_000_000)] = 1000
    withdraw_fee_bp: Annotated[int, Field(ge=0, le=2000)] = 0
    withdraw_methods: list[Literal["wallet", "bank", "wechat", "alipay"]] = ["wallet", "bank", "wechat", "alipay"]

    @model_validator(mode="after")
    def _lawful(self) -> DistributionPolicy:
        if self.levels < 1 or self.levels > MAX_LEVELS:
            raise TooManyLevels(levels=self.levels)
        l2 = self.level2_bp if self.levels == 2 else 0
        if self.level1_bp + l2 > self.platform_cap_bp:
            raise RateCapExceeded(total=self.level1_bp + l2, cap=self.platform_cap_bp)
        if not (self.return_window_days <= self.freeze_days <= MAX_FREEZE_DAYS):
            raise FreezeTooShort(min=self.return_window_days)
        return self
