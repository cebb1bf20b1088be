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


class AddressIn(In):
    name: Annotated[str, Field(min_length=1, max_length=30)]
    phone: Annotated[str, Field(min_length=3, max_length=32)]
    region: Annotated[str, Field(min_length=2, max_length=60)]
    detail: Annotated[str, Field(min_length=2, max_length=120)]
    is_default: bool = False


class AddressOut(Out):
    id: int
    name: str
    phone: str
    region: str
    detail: str
    is_default: bool
