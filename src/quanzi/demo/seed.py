"""Demo people: an operator, suppliers, shopkeepers and ~200 fans (phones 138000000xx / 13800000101…),
then the demo catalog, shops and six weeks of order history (see catalog.py, shops.py, history.py), and
the live campaigns (campaigns.py: a flash sale, a bargain, a group buy with one open group).

Every step only adds what is missing, so `quanzi demo` can run on every `make run`.
"""

from __future__ import annotations

import asyncio
import os
import random
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi import domains
from quanzi.accounts import service as accounts
from quanzi.accounts.models import Role, User
from quanzi.catalog import service as catalog
from quanzi.config import get_settings
from quanzi.demo import catalog as demo_catalog
from quanzi.demo import campaigns, history, shops
from quanzi.kit.clock import clock
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
STAFF_DAYS_AGO = 60
FANS_FROM_DAYS_AGO = 58  # fans join from then until yesterday, faster and faster


def fan_phone(i: int) -> str:
    return f"+86138{100 + i:08d}"


GROUP_LEADER_FAN = FAN_COUNT  # the demo fan (the newest) who leads the demo's open group


def fan_phones() -> list[str]:
    return [fan_phone(i + 1) for i in range(FAN_COUNT)]


def fan_joined_at(i: int, now: datetime) -> datetime:
    """When fan `i` (1-based) joined: the community grows faster and faster."""
    frac = ((i - 0.5) / FAN_COUNT) ** 0.7
    return now - timedelta(days=FANS_FROM_DAYS_AGO) + timedelta(days=FANS_FROM_DAYS_AGO - 1) * frac


async def _person(s: AsyncSession, phone: str, nickname: str, roles: list[str], password: bool) -> User:
    user, _ = await accounts.get_or_create_user(s, phone, nickname)
    for role in roles:
        await accounts.add_role(s, user.id, role)
    if password and user.password_hash is None:
        await accounts.set_password(s, user.id, DEMO_PASSWORD)
    return user


async def seed_people(s: AsyncSession, now: datetime | None = None) -> dict[str, int]:
    """Create the missing demo people, dated as if they joined over the last two months. Moves the app
    clock to do so: the caller resets it (as `seed` does)."""
    now = now or clock.now()
    clock.set(now - timedelta(days=STAFF_DAYS_AGO))
    await _person(s, OPERATOR[0], OPERATOR[1], [Role.OPERATOR], True)
    for i, (phone, name) in enumerate(SUPPLIERS):
        await _person(s, phone, name, [Role.SUPPLIER], i == 0)
    for i, (phone, name) in enumerate(SHOPKEEPERS):
        await _person(s, phone, name, [Role.SHOPKEEPER], i == 0)
    existing = set((await s.execute(select(User.phone).where(User.phone.in_(fan_phones())))).scalars())
    rng = random.Random(7)
    names = [rng.choice(SURNAMES) + rng.choice(GIVEN) for _ in range(FAN_COUNT)]
    for i in range(FAN_COUNT):
        phone = fan_phone(i + 1)
        if phone not in existing:
            clock.set(fan_joined_at(i + 1, now))
            await _person(s, phone, names[i], [], i == 0)
    return {"operators": 1, "suppliers": len(SUPPLIERS), "shopkeepers": len(SHOPKEEPERS), "fans": FAN_COUNT}


async def _users(s: AsyncSession, phones: list[str]) -> dict[str, User]:
    return {u.phone: u for u in (await s.execute(select(User).where(User.phone.in_(phones)))).scalars()}


def _sandbox(settings: Any) -> Any:
    """The configured sandbox payment provider, or None when this process does not enable it."""
    from quanzi.app import configure_payments
    from quanzi.payments import registry

    configure_payments(settings)
    if "sandbox" not in registry.names():
        return None
    provider = registry.get("sandbox")
    return provider if hasattr(provider, "mark_paid") else None


async def summarize(s: AsyncSession) -> dict[str, int]:
    from quanzi.aftersales.models import AfterSale
    from quanzi.cart.models import Address
    from quanzi.catalog.models import Category, Product, Sku
    from quanzi.orders.models import Order
    from quanzi.orders.service import TRANSITIONS
    from quanzi.payments.models import Payment, Refund
    from quanzi.shops.models import ShelfItem, Shop

    async def count(stmt: Any) -> int:
        return int((await s.execute(stmt)).scalar_one())

    out = {
        "categories": await count(select(func.count()).select_from(Category)),
        "products": await count(select(func.count()).where(Product.status == "published")),
        "skus": await count(select(func.count()).select_from(Sku)),
        "shops": await count(select(func.count()).where(Shop.status == "open")),
        "shelf_items": await count(select(func.count()).select_from(ShelfItem)),
        "addresses": await count(select(func.count()).select_from(Address)),
        "orders": await count(select(func.count()).select_from(Order)),
    }
    by_status = dict((await s.execute(select(Order.status, func.count()).group_by(Order.status))).all())
    for status in TRANSITIONS:
        out[f"orders_{status}"] = int(by_status.get(status, 0))
    out["payments_succeeded"] = await count(select(func.count()).where(Payment.status == "succeeded"))
    out["aftersales"] = await count(select(func.count()).select_from(AfterSale))
    out["refunds_succeeded"] = await count(select(func.count()).where(Refund.status == "succeeded"))
    return out


async def seed(database_url: str | None = None, *, scale: float | None = None, settings: Any = None,
               ) -> dict[str, int]:
    """Seed (or complete) the demo data. `scale` multiplies the amount of order history (tests use less;
    default: the QUANZI_DEMO_SCALE environment variable, else 1.0 ≈ 420 orders).

    Media files go to settings.media_dir; payments use the sandbox provider of `settings`. The app clock
    is moved while history is written and always reset at the end."""
    settings = settings or get_settings()
    if scale is None:
        scale = float(os.environ.get("QUANZI_DEMO_SCALE") or 1.0)
    domains.load_all()
    db = Database(database_url or settings.database_url)
    media_dir = Path(settings.media_dir)
    now = clock.now()

    def draw() -> None:
        demo_catalog.draw_images(media_dir)
        shops.draw_avatars(media_dir)

    # Pictures are drawn in the background (Pillow releases the GIL) while the database work goes on;
    # their URLs are known up front.
    drawing = asyncio.get_running_loop().run_in_executor(None, draw)
    try:
        image_urls = demo_catalog.image_urls()
        avatar_urls = shops.avatar_urls()
        async with db.write() as s:
            summary: dict[str, int] = await seed_people(s, now)
        async with db.write() as s:
            users = await _users(s, [p for p, _ in SUPPLIERS] + [p for p, _ in SHOPKEEPERS] + fan_phones())
            clock.set(now - timedelta(days=demo_catalog.CATALOG_DAYS_AGO + 1))
            owner_ids = [users[phone].id for phone, _ in SUPPLIERS]
            suppliers = [await catalog.ensure_supplier(s, uid, name)
                         for uid, (_, name) in zip(owner_ids, SUPPLIERS, strict=True)]
            supplier_ids = [x.id for x in suppliers]
            product_ids = await demo_catalog.seed_products(s, supplier_ids, owner_ids, image_urls, now)
            keepers = [users[p].id for p, _ in SHOPKEEPERS]
            shop_ids = await shops.seed_shops(s, keepers, product_ids, avatar_urls, now)
            fans = [(users[p].id, users[p].nickname, p, users[p].created_at)
                    for p in fan_phones() if p in users]
            await history.seed_addresses(s, fans)
            seeded = await history.has_history(s, [f[0] for f in fans])
        if not seeded:
            provider = _sandbox(settings)
            if provider is not None:
                await history.seed_history(
                    db, now, scale=scale, provider=provider, fans=[(f[0], f[1], f[3]) for f in fans],
                    shop_ids=shop_ids, product_ids=product_ids,
                    owner_of_supplier={x.id: x.owner_id for x in suppliers},
                )
        async with db.write() as s:  # a no-op once the history has cut them
            clock.set(demo_catalog.price_cut_at(now))
            await demo_catalog.apply_price_cuts(s)
        clock.reset()
        async with db.write() as s:  # only adds what is missing (today's flash sale, a live bargain…)
            await campaigns.seed_campaigns(s, list(product_ids.values()))
        provider = _sandbox(settings)
        if provider is not None and (leader := users.get(fan_phone(GROUP_LEADER_FAN))) is not None:
            await campaigns.seed_open_group(db, provider, leader.id)  # none added while one is open
        async with db.read() as s:
            summary.update(await summarize(s))
        await drawing
        return summary
    finally:
        clock.reset()
        await db.dispose()
        if not drawing.done():  # an error above: still never leave a drawing thread behind
            await asyncio.wait([drawing])
