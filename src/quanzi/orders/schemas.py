from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import Field

from quanzi.kit.schemas import Fen, Id, In, Out, Quantity


class ItemIn(In):
    sku_id: Id
    quantity: Quantity
    shop_id: Id | None = None


class PlaceOrderIn(In):
    address_id: Id
    items: Annotated[list[ItemIn], Field(max_length=50)] = []
    cart_item_ids: Annotated[list[Id], Field(max_length=50)] = []
    note: Annotated[str, Field(max_length=200)] = ""
    # What the buyer was shown; only checked, never charged. A mismatch refuses the order.
    expected_total_fen: Fen | None = None


class ShipIn(In):
    carrier: Annotated[str, Field(min_length=1, max_length=40)]
    tracking_no: Annotated[str, Field(min_length=4, max_length=60, pattern=r"^[A-Za-z0-9-]+$")]


class BulkShipItem(ShipIn):
    order_id: Id


class BulkShipIn(In):
    items: Annotated[list[BulkShipItem], Field(min_length=1, max_length=200)]


class PayIn(In):
    provider: Annotated[str, Field(min_length=1, max_length=20)] = "sandbox"


class LineOut(Out):
    id: int
    sku_id: int
    product_id: int
    title: str
    sku_label: str
    image_url: str | None
    unit_price_fen: int
    quantity: int
    paid_fen: int
    non_returnable: bool
    non_returnable_reason: str
    refunded_qty: int
    refunded_fen: int


class EventOut(Out):
    kind: str
    from_status: str | None
    to_status: str | None
    data: dict[str, Any]
    at: datetime


class OrderOut(Out):
    id: int
    order_no: str
    checkout_id: int
    status: str
    shop_id: int | None
    supplier_id: int
    goods_fen: int
    shipping_fen: int
    total_fen: int
    refunded_fen: int
    address: dict[str, Any]
    carrier: str | None
    tracking_no: str | None
    created_at: datetime
    pay_deadline: datetime
    paid_at: datetime | None
    shipped_at: datetime | None
    received_at: datetime | None
    return_deadline: datetime | None
    lines: list[LineOut] = []
    events: list[EventOut] = []


class CheckoutOut(Out):
    """One placement: its orders (one per supplier and shop) and the one amount to pay for all of them."""

    checkout_id: int
    status: str
    shipping_mode: str  # per_checkout | per_package
    goods_fen: int
    shipping_fen: int
    total_fen: int
    orders: list[OrderOut]


class OrderList(Out):
    items: list[OrderOut]


class BulkShipOut(Out):
    shipped: list[int]
    failed: list[dict[str, Any]]


class IntentOut(Out):
    provider: str
    out_trade_no: str
    amount_fen: int
    client_params: dict[str, Any]
