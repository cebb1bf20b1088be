from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from quanzi.kit.schemas import Id, In, Out

Stars = Annotated[int, Field(strict=True, ge=1, le=5)]
BODY_MAX = 500


class ReviewIn(In):
    line_id: Id
    stars: Stars
    body: Annotated[str, Field(max_length=BODY_MAX)] = ""
    anonymous: bool = False
    media_ids: Annotated[list[Id], Field(max_length=6, description="Uploads with purpose=review (POST /api/media)")] = []


class ReplyIn(In):
    body: Annotated[str, Field(min_length=1, max_length=BODY_MAX)]


class PhotoOut(Out):
    url: str
    thumb_url: str


class ReviewOut(Out):
    id: int
    product_id: int
    line_id: int
    sku_label: str
    author: str = Field(description="Nickname, masked when the review is anonymous")
    verified_purchase: bool = Field(description="Always true: only received lines can be reviewed")
    stars: int
    body: str
    anonymous: bool
    photos: list[PhotoOut]
    created_at: datetime
    reply: str | None
    reply_role: str | None
    replied_at: datetime | None


class ReviewPage(Out):
    count: int
    average_stars: str = Field(description='One decimal, e.g. "4.5"; "0.0" without reviews')
    page: int
    pages: int
    items: list[ReviewOut]


class PendingLineOut(Out):
    order_id: int
    line_id: int
    product_id: int
    title: str
    sku_label: str
    image_url: str | None
    received_at: datetime | None
