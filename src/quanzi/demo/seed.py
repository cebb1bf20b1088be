"""Demo people: an operator, suppliers, shopkeepers and ~200 fans (phones 138000000xx / 13800000101…)."""

from __future__ import annotations

import random

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi import domains
from quanzi.accounts import service as accounts
from quanzi.accounts.models import Role, User
from quanzi.kit.db import Database

DEMO_PASSWORD = "quanzi-demo"
OPERATOR = ("+8613800000001", "圈子运营")
SUPPLIERS = [("+8613800000011", "鲜果源头供应链"), ("+8613800000012", "云南山货合作社"),
             ("+8613800000013", "好物日化工厂")]
SHOPKEEPERS = [("+8613800000021", "小美的好物铺"), ("+8613800000022", "阿杰团长"), ("+8613800000023", "宝妈严选"),
               ("+8613800000024", "健身达人Leo"), ("+8613800000025", "茶语小馆")]
FAN_COUNT = 200
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = ["小红", "晓明", "思思", "佳怡", "子涵", "浩然", "雨桐", "一诺", "欣怡", "梓萱", "俊杰", "诗涵", "宇轩", "可欣", "明轩"]


def fan_phone(i: int) -> str:
    return f"+86138{100 + i:08d}"


async def _person(s: AsyncSession, phone: str, nickname: str, roles: list[str], password: bool) -> User:
    user, created = await accounts.get_or_create_user(s, phone, nickname)
    for role in roles:
        await accounts.add_role(s, user.id, role)
    if password and user.password_hash is None:
        await accounts.set_password(s, user.id, DEMO_PASSWORD)
    return user


async def seed_people(s: AsyncSession) -> dict[str, int]:
    await _person(s, OPERATOR[0], OPERATOR[1], [Role.OPERATOR], True)
    for i, (phone, name) in enumerate(SUPPLIERS):
        await _person(s, phone, name, [Role.SUPPLIER], i == 0)
    for i, (phone, name) in enumerate(SHOPKEEPERS):
        await _person(s, phone, name, [Role.SHOPKEEPER], i == 0)
    existing = set((await s.execute(select(User.phone).where(User.phone.like("+86138001%")))).scalars())
    rng = random.Random(7)
    names = [rng.choice(SURNAMES) + rng.choice(GIVEN) for _ in range(FAN_COUNT)]
    for i in range(FAN_COUNT):
        phone = fan_phone(i + 1)
        if phone not in existing:
            await _person(s, phone, names[i], [], i == 0)
    return {"operators": 1, "suppliers": len(SUPPLIERS), "shopkeepers": len(SHOPKEEPERS), "fans": FAN_COUNT}


async def seed(database_url: str) -> dict[str, int]:
    domains.load_all()
    db = Database(database_url)
    try:
        async with db.write() as s:
            summary = await seed_people(s)
        return summary
    finally:
        await db.dispose()
