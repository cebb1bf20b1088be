"""Steps shared by the engagement tests: a community (tests/community/_support), members, points."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from quanzi.engagement import service
from quanzi.engagement.policy import EngagementPolicy
from quanzi.kit.db import Database
from quanzi.policy import service as policy
from tests.community._support import Circle, make_community, member

__all__ = ["Circle", "balance", "grant", "later", "make_community", "member", "open_draw", "prize", "set_policy"]

_refs = itertools.count(1)


async def grant(db: Database, shop_id: int, user_id: int, points: int) -> None:
    """Points issued by the shop, as a check-in would (a test shortcut with its own ledger kind)."""
    async with db.write() as s:
        await service.move_points(s, "pts.test_grant", str(next(_refs)),
                                  [service.fan_points(user_id, shop_id, points), service.issued(shop_id, -points)],
                                  "test")


async def balance(db: Database, shop_id: int, user_id: int) -> int:
    async with db.read() as s:
        return await service.points_balance(s, user_id, shop_id)


def prize(name: str, chance_bp: int, stock: int, kind: str = "goods", **kw: Any) -> service.PrizeIn:
    return service.PrizeIn(name=name, kind=kind, chance_bp=chance_bp, stock=stock, **kw)


def later(days: float = 7) -> datetime:
    from quanzi.kit.clock import clock

    return clock.now() + timedelta(days=days)


async def open_draw(db: Database, c: Circle, prizes: list[service.PrizeIn], *, cost: int = 10, limit: int = 3) -> int:
    async with db.write() as s:
        d = await service.create_draw(s, c.community_id, c.owner_id, title="周末抽奖", rules_text="每人最多 3 次",
                                      cost_points=cost, per_person_limit=limit, ends_at=later(), prizes=prizes)
        await service.open_draw(s, d.id, c.owner_id)
        return d.id


async def set_policy(db: Database, **values: Any) -> None:
    async with db.write() as s:
        await policy.put(s, EngagementPolicy, values, None)


def china(y: int, m: int, d: int, hh: int = 12, mm: int = 0) -> datetime:
    """A moment given in China time (UTC+8), as UTC."""
    return datetime(y, m, d, hh, mm, tzinfo=UTC) - timedelta(hours=8)
