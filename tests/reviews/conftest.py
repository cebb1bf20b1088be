from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from quanzi.config import Settings
from quanzi.kit.db import Database
from tests.conftest import make_settings
from tests.factories import World, make_world


@pytest.fixture
def media_dir(tmp_path: Path) -> Path:
    return tmp_path / "media"


@pytest.fixture
def settings(db_url: str, media_dir: Path) -> Settings:
    return make_settings(db_url, media_dir=media_dir)


@pytest.fixture
async def world(db: Database) -> World:
    return await make_world(db)


async def place(client: httpx.AsyncClient, w: World, *, qty: int = 2, sku: int = 0, headers: dict | None = None,
                address_id: int | None = None) -> dict:
    """Place and pay one order through the shop (the JSON API and the sandbox provider)."""
    h = headers or w.fan_headers
    r = await client.post("/api/orders", json={"address_id": address_id or w.address_id, "items": [
        {"sku_id": w.sku_ids[sku], "quantity": qty, "shop_id": w.shop_id}]}, headers=h)
    assert r.status_code == 201, r.text
    order = r.json()["orders"][0]
    r = await client.post(f"/api/orders/{order['id']}/pay", json={"provider": "sandbox"}, headers=h)
    r = await client.post(f"/api/payments/sandbox/{r.json()['out_trade_no']}/pay", headers=h)
    assert r.json() == {"outcome": "paid"}
    return order


async def ship(client: httpx.AsyncClient, w: World, order_id: int) -> None:
    r = await client.post(f"/api/supplier/orders/{order_id}/ship",
                          json={"carrier": "顺丰速运", "tracking_no": "SF1234567890"}, headers=w.supplier_headers)
    assert r.status_code == 200, r.text


async def receive(client: httpx.AsyncClient, order_id: int, headers: dict) -> None:
    r = await client.post(f"/api/orders/{order_id}/receive", headers=headers)
    assert r.status_code == 200, r.text


async def received_line(client: httpx.AsyncClient, w: World, **kw: object) -> tuple[dict, int]:
    order = await place(client, w, **kw)  # type: ignore[arg-type]
    await ship(client, w, order["id"])
    await receive(client, order["id"], kw.get("headers") or w.fan_headers)  # type: ignore[arg-type]
    return order, order["lines"][0]["id"]
