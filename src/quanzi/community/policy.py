"""The operator's community settings, validated (a policy section, edited like the others)."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, field_validator, model_validator

from quanzi.policy.service import Section

HARD_CAP = 100_000  # what the member list and its indexes are built and measured for


class CommunityPolicy(Section):
    key: ClassVar[str] = "community"

    enabled: bool = True
    # The largest community a shopkeeper may configure, and what a new one gets. WeChat stops at 500.
    platform_capacity_cap: Annotated[int, Field(ge=2, le=HARD_CAP)] = 20_000
    default_capacity: Annotated[int, Field(ge=2, le=HARD_CAP)] = 500
    max_communities_per_shop: Annotated[int, Field(ge=1, le=1000)] = 50
    # Posting rate per member (the `limits` notation, e.g. "5/minute;60/hour").
    post_rate: Annotated[str, Field(min_length=5, max_length=60, pattern=r"^[0-9]+/(second|minute|hour|day)"
                                    r"(;[0-9]+/(second|minute|hour|day))*$")] = "5/minute;60/hour"
    # Words a post or comment may not contain (case-insensitive substring match).
    blocked_keywords: Annotated[list[Annotated[str, Field(min_length=1, max_length=40)]], Field(max_length=500)] = []
    invite_days: Annotated[int, Field(ge=1, le=90)] = 7

    @field_validator("blocked_keywords")
    @classmethod
    def _clean(cls, words: list[str]) -> list[str]:
        seen: dict[str, None] = {}
        for w in words:
            w = w.strip()
            if w:
                seen.setdefault(w, None)
        return list(seen)

    @model_validator(mode="after")
    def _default_within_cap(self) -> CommunityPolicy:
        if self.default_capacity > self.platform_capacity_cap:
            raise ValueError("default_capacity must not exceed platform_capacity_cap")
        return self

    def blocked_in(self, text: str) -> str | None:
        low = text.casefold()
        for w in self.blocked_keywords:
            if w.casefold() in low:
                return w
        return None
