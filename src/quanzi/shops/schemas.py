from __future__ import annotations

from typing import Annotated

from pydantic import Field

from quanzi.kit.schemas import Id, In, Out


class ShopIn(In):
    name: Annotated[str, Field(min_length=1, max_length=40)]
    intro: Annotated[str, Field(max_length=500)] = ""


class ShopPatch(In):
    name: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    intro: Annotated[str, Field(max_length=500)] | None = None


class PicturesIn(In):
    avatar_media_id: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1,
                                          description="An upload with purpose=shop_avatar")] | None = None
    banner_media_id: Annotated[int, Field(strict=True, ge=1, le=2**31 - 1,
                                          description="An upload with purpose=shop_banner")] | None = None


class ShelfAddIn(In):
    product_id: Id
    recommendation: Annotated[str, Field(max_length=200)] = ""


class RecommendationIn(In):
    recommendation: Annotated[str, Field(max_length=200)]


class ShelfOrderIn(In):
    product_ids: Annotated[list[Id], Field(max_length=500)]


class ShelfItemOut(Out):
    product_id: int
    title: str
    image_url: str | None
    min_price_fen: int
    recommendation: str
    position: int


class ShopOut(Out):
    id: int
    name: str
    intro: str
    avatar_url: str | None
    banner_url: str | None = None
    shelf: list[ShelfItemOut] = []
