"""The operator's engagement settings: one switch per feature and the platform limits every community's own
settings must stay within (DOMAIN_RULES §6 and §8)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator

from quanzi.policy.service import Section

# 规范促销行为暂行规定 (2020) Art. 13: a prize of a lucky draw is worth at most 50,000 yuan.
LAW_MAX_PRIZE_FEN = 5_000_000


class EngagementPolicy(Section):
    key: ClassVar[str] = "engagement"

    checkin_enabled: bool = True
    draws_enabled: bool = True
    red_packets_enabled: bool = True
    invite_rewards_enabled: bool = True
    polls_enabled: bool = True
    calendar_enabled: bool = True
    max_prize_value_fen: Annotated[int, Field(ge=0, le=LAW_MAX_PRIZE_FEN)] = LAW_MAX_PRIZE_FEN
    max_checkin_points: Annotated[int, Field(ge=0, le=10_000)] = 100  # per day of the table
    max_draw_cost_points: Annotated[int, Field(ge=0, le=1_000_000)] = 10_000
    max_packet_points: Annotated[int, Field(ge=1, le=10_000_000)] = 100_000
    max_packet_parts: Annotated[int, Field(ge=1, le=500)] = 200
    packet_hours: Annotated[int, Field(ge=1, le=72)] = 24
    max_invite_points: Annotated[int, Field(ge=0, le=100_000)] = 1_000
    max_invite_daily_cap: Annotated[int, Field(ge=0, le=100)] = 20
    # Repurchase cycle per catalog category id ("12": 7 for fruit, "15": 30 for skincare …): the default cadence
    # of a community's calendar when the community is tied to that category.
    repurchase_days: dict[str, Annotated[int, Field(ge=1, le=365)]] = {}
    default_cadence_days: Annotated[int, Field(ge=1, le=365)] = 14

    @field_validator("repurchase_days")
    @classmethod
    def _category_ids(cls, v: dict[str, int]) -> dict[str, int]:
        for k in v:
            if not k.isdigit():
                raise ValueError("category ids are whole numbers")
        return v
