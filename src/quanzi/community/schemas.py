"""Request and response shapes of the community JSON API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from quanzi.kit.schemas import Id, In, Out

JoinMode = Literal["open", "invite", "approval"]


class CommunityIn(In):
    name: Annotated[str, Field(min_length=1, max_length=40)]
    intro: Annotated[str, Field(max_length=500)] = ""
    capacity: Annotated[int | None, Field(strict=True, ge=2, le=100_000)] = None
    rules: Annotated[str, Field(max_length=4000)] = ""
    welcome: Annotated[str, Field(max_length=500)] = ""
    join_mode: JoinMode = "open"
    category_id: Id | None = None


class CommunityOut(Out):
    id: int
    shop_id: int
    name: str
    cover_url: str | None
    intro: str
    capacity: int
    member_count: int
    rules: str
    rules_version: int
    welcome: str
    join_mode: str
    category_id: int | None
    status: str
    close_reason: str | None
    my_role: str | None = Field(None, description="The caller's role when an active member")
    my_status: str | None = Field(None, description="pending | active | left | removed | banned, or null")


class JoinIn(In):
    accepted_rules_version: Annotated[int, Field(strict=True, ge=1, description="The rules version read")]
    invite: Annotated[str | None, Field(max_length=200, description="The invite token of a link, if any")] = None


class MemberOut(Out):
    id: int
    user_id: int
    name: str
    role: str
    status: str
    joined_at: datetime | None
    muted_until: datetime | None
    reason: str | None = None


class MemberPage(Out):
    items: list[MemberOut]
    next_before: int | None = Field(description="Pass as before= for the next page; null on the last")


class InviteOut(Out):
    token: str
    url: str
    expires_days: int


class PostIn(In):
    body: Annotated[str, Field(max_length=2000)] = ""
    kind: Literal["post", "announcement", "show_order"] = "post"
    product_id: Id | None = None
    order_id: Id | None = None
    members_only: bool = True
    media_ids: Annotated[list[Id], Field(max_length=9, description="Uploads with purpose=community_post")] = []


class ProductCardOut(Out):
    id: int
    title: str
    image_url: str | None
    price_fen: int
    url: str


class PhotoOut(Out):
    url: str
    thumb_url: str


class PostOut(Out):
    id: int
    community_id: int
    kind: str
    author: str
    author_id: int | None
    body: str
    product: ProductCardOut | None
    verified_purchase: bool
    members_only: bool
    photos: list[PhotoOut]
    likes: int
    liked: bool
    comments: int
    pinned: bool
    created_at: datetime


class FeedOut(Out):
    pinned: list[PostOut]
    items: list[PostOut]
    next_before: int | None


class CommentIn(In):
    body: Annotated[str, Field(min_length=1, max_length=500)]


class CommentOut(Out):
    id: int
    author: str
    body: str
    created_at: datetime


class LikeIn(In):
    liked: bool = True


class LikeOut(Out):
    liked: bool
    likes: int


class ReasonIn(In):
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class MuteIn(In):
    minutes: Annotated[int, Field(strict=True, ge=0, le=43_200)]
    reason: Annotated[str, Field(max_length=200)] = ""


class RoleIn(In):
    role: Literal["staff", "expert", "teacher", "member"]


class PinIn(In):
    pinned: bool = True


class ReportOut(Out):
    id: int
    post_id: int
    reason: str
    status: str
    created_at: datetime


class ReportActionIn(In):
    action: Literal["remove", "dismiss"]


class PolicyPatch(In):
    """Fields to change; the rest keep their values (CommunityPolicy validates the whole again)."""

    enabled: bool | None = None
    platform_capacity_cap: Annotated[int, Field(strict=True, ge=2, le=100_000)] | None = None
    default_capacity: Annotated[int, Field(strict=True, ge=2, le=100_000)] | None = None
    max_communities_per_shop: Annotated[int, Field(strict=True, ge=1, le=1000)] | None = None
    post_rate: Annotated[str, Field(min_length=5, max_length=60)] | None = None
    blocked_keywords: Annotated[list[Annotated[str, Field(min_length=1, max_length=40)]], Field(max_length=500)] | None \
        = None
    invite_days: Annotated[int, Field(strict=True, ge=1, le=90)] | None = None
