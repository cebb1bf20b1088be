"""Small steps over the real JSON API shared by the commerce rule tests (no mocks: real app, real database)."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import func, select

from quanzi.catalog.models import Sku
from quanzi.kit.db import Database


def err(r: httpx.Response) -> str:
    """The stable error code of an API error answer."""
    body = r.json()
    return body["error"]["code"] if "error" in body and isinstance(body["error"], dict) else body.get("error", "")


async def stock(db: Database, sku_id: int) -> int:
    async with db.read() as s:
        return (await s.execute(select(Sku.stock).where(Sku.id == sku_id))).scalar_one()


async def count(db: Database, model: Any, *where: Any) -> int:
    async with db.read() as s:
        return (await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def rows(db: Database, model: Any, *where: Any, order_by: Any = None) -> list[Any]:
    async with db.read() as s:
        stmt = select(model).where(*where)
        if order_by is not None:
            stmt = stmt.order_by(order_by)
        return list((await s.execute(stmt)).scalars())


async def place(client: httpx.AsyncClient, headers: dict[str, str], address_id: int,
                items: list[dict[str, Any]], **extra: Any) -> httpx.Response:
    return await client.post("/api/orders", json={"address_id": address_id, "items": items, **extra}, headers=headers)


async def place_one(client: httpx.AsyncClient, headers: dict[str, str], address_id: int, sku_id: int,
                    quantity: int = 1, shop_id: int | None = None) -> dict[str, Any]:
    """Place a single-order checkout and return that order (asserting success)."""
    item: dict[str, Any] = {"sku_id": sku_id, "quantity": quantity}
    if shop_id is not None:
        item["shop_id"] = shop_id
    r = await place(client, headers, address_id, [item])
    assert r.status_code == 201, r.text
    (order,) = r.json()["orders"]
    return order


async def start_payment(client: httpx.AsyncClient, headers: dict[str, str], order_id: int,
                        provider: str = "sandbox") -> dict[str, Any]:
    r = await client.post(f"/api/orders/{order_id}/pay", json={"provider": provider}, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def pay(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> str:
    """Start a sandbox payment and press "pay" on the sandbox page. Returns the out_trade_no."""
    out_trade_no = (await start_payment(client, headers, order_id))["out_trade_no"]
    r = await client.post(f"/api/payments/sandbox/{out_trade_no}/pay", headers=headers)
    assert r.status_code == 200 and r.json() == {"outcome": "paid"}, r.text
    return out_trade_no


async def ship(client: httpx.AsyncClient, supplier_headers: dict[str, str], order_id: int) -> httpx.Response:
    return await client.post(f"/api/supplier/orders/{order_id}/ship",
                             json={"carrier": "顺丰", "tracking_no": "SF1234567890"}, headers=supplier_headers)


async def receive(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> httpx.Response:
    return await client.post(f"/api/orders/{order_id}/receive", headers=headers)


async def get_order(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> dict[str, Any]:
    r = await client.get(f"/api/orders/{order_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


async def ask(client: httpx.AsyncClient, headers: dict[str, str], order_id: int, line_id: int, quantity: int,
              kind: str = "refund_only", reason: str = "不想要了") -> httpx.Response:
    return await client.post("/api/aftersales", json={"order_id": order_id, "line_id": line_id, "kind": kind,
                                                      "quantity": quantity, "reason": reason}, headers=headers)
