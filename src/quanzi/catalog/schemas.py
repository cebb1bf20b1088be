from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from quanzi.kit.schemas import Fen, In, Out

Text40 = Annotated[str, Field(min_length=1, max_length=40)]


class SkuIn(In):
    code: Annotated[str, Field(min_length=1, max_length=40, pattern=r"^[A-Za-z0-9._-]+$")]
    label: Annotated[str, Field(min_length=1, max_length=80)]
    price_fen: Annotated[int, Field(strict=True, ge=1, le=10**9)]
    cost_fen: Fen
    stock: Annotated[int, Field(strict=True, ge=0, le=10**7)] = 0
    attrs: dict[str, Annotated[str, Field(max_length=40)]] = Field(default_factory=dict, max_length=10)
    weight_g: Annotated[int, Field(strict=True, ge=0, le=10**6)] = 0


class ProductIn(In):
    title: Annotated[str, Field(min_length=1, max_length=80)]
    subtitle: Annotated[str, Field(max_length=160)] = ""
    description: Annotated[str, Field(max_length=5000)] = ""
    category_id: Annotated[int, Field(strict=True, ge=1)] | None = None
    non_returnable: bool = False
    non_returnable_reason: Annotated[str, Field(max_length=60)] = ""
    skus: Annotated[list[SkuIn], Field(min_length=1, max_length=50)]
    publish: bool = False


class ProductPatch(In):
    title: Annotated[str, Field(min_length=1, max_length=80)] | None = None
    subtitle: Annotated[str, Field(max_length=160)] | None = None
    description: Annotated[str, Field(max_length=5000)] | None = None
    category_id: Annotated[int, Field(strict=True, ge=1)] | None = None
    non_returnable: bool | None = None
    non_returnable_reason: Annotated[str, Field(max_length=60)] | None = None


class ImagesIn(In):
    media_ids: Annotated[list[Annotated[int, Field(strict=True, ge=1, le=2**31 - 1)]],
                         Field(min_length=1, max_length=9,
                               description="Uploads with purpose=product (POST /api/media), appended in order")]


class ProductImageOut(Out):
    id: int
    url: str
    medium_url: str
    thumb_url: str


class StatusIn(In):
    status: Annotated[str, Field(pattern=r"^(published|unpublished)$")]


class PriceIn(In):
    price_fen: Annotated[int, Field(strict=True, ge=1, le=10**9)]


class StockIn(In):
    delta: Annotated[int, Field(strict=True, ge=-10**7, le=10**7)]
    note: Annotated[str, Field(max_length=60)] = ""


class SkuOut(Out):
    id: int
    code: str
    label: str
    attrs: dict[str, Any]
    price_fen: int
    reference_price_fen: int | None = None
    stock: int
    image_url: str | None


class ProductOut(Out):
    id: int
    title: str
    subtitle: str
    description: str
    image_url: str | None
    category_id: int | None
    non_returnable: bool
    non_returnable_reason: str
    status: str
    sales_count: int
    min_price_fen: int | None = None
    skus: list[SkuOut] = []
    images: list[str] = Field(default=[], description="All pictures (750 px), main first; on the product's own page")


class ProductPage(Out):
    items: list[ProductOut]
    total: int
    page: int
    size: int


class CategoryOut(Out):
    id: int
    name_zh: str
    name_en: str
