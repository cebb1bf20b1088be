from __future__ import annotations

from typing import Annotated

from pydantic import Field

from quanzi.kit.schemas import Id, In, Out, Quantity


class CartAddIn(In):
    sku_id: Id
    quantity: Quantity = 1
    shop_id: Id | None = None


class CartQtyIn(In):
    quantity: Quantity


class CartLineOut(Out):
    id: int
    sku_id: int
    product_id: int
    shop_id: int | None
    title: str
    label: str
    image_url: str | None
    price_fen: int
    quantity: int
    total_fen: int
    available: bool
    stock: int


class CartOut(Out):
    lines: list[CartLineOut]
    goods_fen: int


DivisionCode = Annotated[str, Field(pattern=r"^[0-9]{2,12}$")]


class AddressIn(In):
    """A delivery address: the place is picked as GB/T 2260 codes (GET /api/regions lists them) and checked
    on the server (the district must be in the city, the city in the province); `region` is written from them."""

    name: Annotated[str, Field(min_length=1, max_length=30)]
    phone: Annotated[str, Field(min_length=3, max_length=32)]
    province_code: DivisionCode
    city_code: DivisionCode
    district_code: DivisionCode
    detail: Annotated[str, Field(min_length=2, max_length=120)]
    is_default: bool = False


class RegionOut(Out):
    code: str
    name: str


class AddressOut(Out):
    id: int
    name: str
    phone: str
    region: str
    province_code: str | None
    city_code: str | None
    district_code: str | None
    detail: str
    is_default: bool
