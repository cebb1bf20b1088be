"""Steps shared by the group-buy tests: an activity on make_world's apple, fans with addresses, open / join /
pay over the real JSON API and the sandbox provider, and the "no fake members" check (compliance C7)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy import func, select

from quanzi.groupbuy import service
from quanzi.groupbuy.models import Group, GroupMember
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.orders.models import Order
from tests.commerce._support import pay
from tests.factories import Fan, World, add_fan, make_world

GROUP_PRICE = 1990  # make_world's first SKU costs 2990
SHIPPING = 800  # flat fee below 99 yuan of goods
_phones = itertools.count(1)


async def setup(db: Database, *, size: int = 3, stock: int = 100, **terms: Any) -> tuple[World, int]:
    """make_world plus a running activity on its first SKU (group price 19.90, one hour per group)."""
    w = await make_world(db, stock=stock)
    now = clock.now()
    values: dict[str, Any] = {"time_limit_minutes": 60, "per_user_limit": 5, "per_order_limit": 3, **terms}
    async with db.write() as s:
        act = await service.create_activity(
            s, title="高原苹果 3 人团", product_id=w.product_id, skus=[(w.sku_ids[0], GROUP_PRICE)], group_size=size,
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=7), **values)
        return w, act.id


async def fans(db: Database, n: int) -> list[Fan]:
    return [await add_fan(db, f"1390002{next(_phones):04d}", nickname=f"团友{i + 1}") for i in range(n)]


async def open_group(client: httpx.AsyncClient, fan: Fan | World, activity_id: int, sku_id: int, qty: int = 1,
                     key: str | None = None) -> httpx.Response:
    headers, address = _who(fan)
    if key:
        headers = {**headers, "Idempotency-Key": key}
    return await client.post(f"/api/groupbuy/activities/{activity_id}/open",
                             json={"sku_id": sku_id, "quantity": qty, "address_id": address}, headers=headers)


async def join(client: httpx.AsyncClient, fan: Fan | World, group_id: int, sku_id: int, qty: int = 1,
               key: str | None = None) -> httpx.Response:
    headers, address = _who(fan)
    if key:
        headers = {**headers, "Idempotency-Key": key}
    return await client.post(f"/api/groupbuy/groups/{group_id}/join",
                             json={"sku_id": sku_id, "quantity": qty, "address_id": address}, headers=headers)


def _who(fan: Fan | World) -> tuple[dict[str, str], int]:
    if isinstance(fan, World):
        return fan.fan_headers, fan.address_id
    return fan.headers, fan.address_id


async def open_paid(client: httpx.AsyncClient, db: Database, fan: Fan | World, activity_id: int, sku_id: int,
                    qty: int = 1) -> dict[str, Any]:
    r = await open_group(client, fan, activity_id, sku_id, qty)
    assert r.status_code == 201, r.text
    placed = r.json()
    await pay(client, _who(fan)[0], placed["order_id"])
    await outbox.drain(db)
    return placed


async def join_paid(client: httpx.AsyncClient, db: Database, fan: Fan, group_id: int, sku_id: int,
                    qty: int = 1) -> dict[str, Any]:
    r = await join(client, fan, group_id, sku_id, qty)
    assert r.status_code == 201, r.text
    placed = r.json()
    await pay(client, fan.headers, placed["order_id"])
    await outbox.drain(db)
    return placed


async def group_row(db: Database, group_id: int) -> Group:
    async with db.read() as s:
        g = await s.get(Group, group_id)
        assert g is not None
        return g


async def members(db: Database, group_id: int) -> list[GroupMember]:
    async with db.read() as s:
        return list((await s.execute(select(GroupMember).where(GroupMember.group_id == group_id)
                                     .order_by(GroupMember.id))).scalars())


async def order_row(db: Database, order_id: int) -> Order:
    async with db.read() as s:
        o = await s.get(Order, order_id)
        assert o is not None
        return o


async def assert_no_fake_members(db: Database) -> None:
    """Compliance C7 (DOMAIN_RULES §2, 电子商务法 Art. 17): in every group, the people shown — members who took
    a seat — are exactly the real, distinct people whose payment arrived, and `filled` counts nobody else."""
    async with db.read() as s:
        for g in (await s.execute(select(Group))).scalars():
            seated = list((await s.execute(select(GroupMember).where(
                GroupMember.group_id == g.id, GroupMember.seated_at.is_not(None)))).scalars())
            assert len(seated) == g.filled <= g.seats, (g.id, len(seated), g.filled)
            assert len({m.user_id for m in seated}) == len(seated)
            paid = (await s.execute(select(func.count()).where(
                Order.id.in_([m.order_id for m in seated] or [0]), Order.paid_at.is_not(None),
                Order.buyer_id.in_([m.user_id for m in seated] or [0])))).scalar_one()
            assert paid == len(seated), (g.id, paid, len(seated))
            if g.status == "succeeded":
                assert all(m.status == "succeeded" for m in seated)
                if not g.completed_by_platform:
                    assert g.filled == g.seats
                else:
                    assert g.filled < g.seats  # the empty seats stay empty: nobody was invented
