"""Small builders for commerce tests: a supplier with a product, a shop, a fan with an address."""

from __future__ import annotations

from dataclasses import dataclass

from quanzi.accounts.models import Role
from quanzi.cart import service as cart
from quanzi.catalog import service as catalog
from quanzi.kit.db import Database
from quanzi.shops import service as shops
from tests.conftest import make_user


@dataclass
class World:
    supplier_user: int
    supplier_headers: dict[str, str]
    supplier_id: int
    product_id: int
    sku_ids: list[int]
    shop_id: int
    shopkeeper_headers: dict[str, str]
    fan_id: int
    fan_headers: dict[str, str]
    address_id: int


async def make_world(db: Database, *, stock: int = 100, prices: tuple[int, ...] = (2990, 4990),
                     non_returnable: bool = False, fan_phone: str = "13900000001") -> World:
    sup_uid, sup_h = await make_user(db, "13700000001", Role.SUPPLIER, nickname="供应商")
    keeper_uid, keeper_h = await make_user(db, "13700000002", nickname="店主")
    fan_uid, fan_h = await make_user(db, fan_phone, nickname="粉丝")
    async with db.write() as s:
        sup = await catalog.ensure_supplier(s, sup_uid, "鲜果供应链")
        cat = await catalog.ensure_category(s, "水果", "Fruit")
        product = await catalog.create_product(
            s, sup.id, title="云南高原苹果", subtitle="脆甜多汁", category_id=cat.id, publish=True,
            non_returnable=non_returnable, non_returnable_reason="生鲜" if non_returnable else "",
            skus=[{"code": f"APL-{i}", "label": f"{i + 1}斤装", "price_fen": p, "cost_fen": p // 2, "stock": stock}
                  for i, p in enumerate(prices)],
        )
        skus = (await catalog.skus_of(s, [product.id]))[product.id]
        shop = await shops.open_shop(s, keeper_uid, "小美的好物铺")
        await shops.add_to_shelf(s, shop, product.id, "我家孩子最爱吃")
        addr = await cart.add_address(s, fan_uid, name="张三", phone="13900000001", region="上海市 浦东新区",
                                      detail="世纪大道 100 号")
        ids = (sup.id, product.id, [k.id for k in skus], shop.id, addr.id)
    # The shopkeeper gained a role when opening the shop: log in again so the token carries it.
    _, keeper_h = await make_user(db, "13700000002")
    return World(sup_uid, sup_h, ids[0], ids[1], ids[2], ids[3], keeper_h, fan_uid, fan_h, ids[4])


# --- more actors for rules that need two of something (added for tests/commerce, tests/concurrency) ----

@dataclass
class Fan:
    user_id: int
    headers: dict[str, str]
    address_id: int


@dataclass
class SupplierWithProduct:
    user_id: int
    headers: dict[str, str]
    supplier_id: int
    product_id: int
    sku_ids: list[int]


async def add_fan(db: Database, phone: str, nickname: str = "另一位粉丝") -> Fan:
    """A fan with a default address (the address phone is the fan's own)."""
    uid, headers = await make_user(db, phone, nickname=nickname)
    async with db.write() as s:
        addr = await cart.add_address(s, uid, name="李四", phone=phone, region="北京市 朝阳区", detail="建国路 1 号")
        address_id = addr.id
    return Fan(uid, headers, address_id)


async def add_supplier(db: Database, phone: str, *, code_prefix: str, prices: tuple[int, ...] = (1990,),
                       stock: int = 100, non_returnable: bool = False, title: str = "海南金煌芒果",
                       ) -> SupplierWithProduct:
    """Another supplier with one published product (SKU codes `code_prefix-0`, `-1`, …)."""
    uid, headers = await make_user(db, phone, Role.SUPPLIER, nickname=f"供应商{code_prefix}")
    async with db.write() as s:
        sup = await catalog.ensure_supplier(s, uid, f"供应链{code_prefix}")
        cat = await catalog.ensure_category(s, "水果", "Fruit")
        product = await catalog.create_product(
            s, sup.id, title=title, category_id=cat.id, publish=True, non_returnable=non_returnable,
            non_returnable_reason="生鲜" if non_returnable else "",
            skus=[{"code": f"{code_prefix}-{i}", "label": f"规格{i + 1}", "price_fen": p, "cost_fen": p // 2,
                   "stock": stock} for i, p in enumerate(prices)],
        )
        skus = (await catalog.skus_of(s, [product.id]))[product.id]
        ids = (sup.id, product.id, [k.id for k in skus])
    return SupplierWithProduct(uid, headers, ids[0], ids[1], ids[2])


async def add_shop(db: Database, phone: str, product_ids: list[int], name: str = "阿强的小店") -> tuple[int, dict[str, str]]:
    """Another shopkeeper's open shop with `product_ids` on its shelf. Returns (shop_id, bearer headers)."""
    uid, _ = await make_user(db, phone, nickname="店主二")
    async with db.write() as s:
        shop = await shops.open_shop(s, uid, name)
        for pid in product_ids:
            await shops.add_to_shelf(s, shop, pid)
        shop_id = shop.id
    _, headers = await make_user(db, phone)  # token issued after the shopkeeper role was granted
    return shop_id, headers
