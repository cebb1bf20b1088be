"""Small builders for commerce tests: a supplier with a product, a shop, a fan with an address."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

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


# --- distribution: service-level actors and steps (tests/distribution, tests/concurrency) -------------------

_phones = itertools.count(1)
SHARE_SECRET = "test-secret"  # tests.conftest.make_settings(secret_key=…)


def next_phone() -> str:
    """A fresh valid mainland mobile number (E.164) for this test process."""
    return f"+86135{next(_phones):08d}"


async def new_user(db: Database, nickname: str | None = None) -> int:
    from quanzi.accounts import service as accounts

    async with db.write() as s:
        user, _ = await accounts.get_or_create_user(s, next_phone(), nickname)
        return user.id


async def new_buyer(db: Database) -> Fan:
    """A fan with an address, created directly through the services (no session)."""
    from quanzi.accounts import service as accounts

    phone = next_phone()
    async with db.write() as s:
        user, _ = await accounts.get_or_create_user(s, phone, "买家")
        addr = await cart.add_address(s, user.id, name="买家", phone=phone, region="上海市 静安区", detail="南京西路 1 号")
        return Fan(user.id, {}, addr.id)


async def new_shopkeeper(db: Database, upline: int | None = None) -> tuple[int, int]:
    """A user who opened a shop (which makes them an active distributor, for free); optionally bound to
    `upline` through a signed share token. Returns (user_id, shop_id)."""
    uid = await new_user(db, "店主")
    async with db.write() as s:
        shop = await shops.open_shop(s, uid, f"店铺{uid}")
        shop_id = shop.id
    if upline is not None:
        assert await bind_via_token(db, uid, upline) == "bound"
    return uid, shop_id


def share_token(sharer_id: int, kind: str = "s", target_id: int = 1) -> str:
    from quanzi.kit.clock import clock
    from quanzi.kit import sharetokens as tokens

    return tokens.issue(SHARE_SECRET, sharer_id, kind, target_id, clock.now())


async def bind_via_token(db: Database, fan_id: int, sharer_id: int, *, is_new_user: bool = True) -> str:
    """Bind exactly as a share link does: a signed token, verified, then referrals.bind. Returns the outcome."""
    from quanzi.kit.clock import clock
    from quanzi.referrals import service as referrals
    from quanzi.kit import sharetokens as tokens

    tok = tokens.verify(SHARE_SECRET, share_token(sharer_id), clock.now(), 30)
    async with db.write() as s:
        return await referrals.bind(s, fan_id, tok, is_new_user=is_new_user)


async def new_product(db: Database, prices: tuple[int, ...] = (1000,), *, stock: int = 10_000,
                      ) -> SupplierWithProduct:
    n = next(_phones)
    return await add_supplier(db, f"+86136{n:08d}", code_prefix=f"D{n}", prices=prices, stock=stock)


async def pay_order(db: Database, buyer_id: int, order_id: int) -> None:
    """Pay through the sandbox provider and its signed notification (the provider registry is configured by
    the `app` fixture)."""
    from quanzi.orders import service as orders
    from quanzi.payments import service as payments
    from quanzi.payments.api import sandbox_pay

    async with db.write() as s:
        order = await orders.order_for_buyer(s, order_id, buyer_id)
        out_trade_no = (await payments.open_payment(s, order, "sandbox")).out_trade_no
    assert await sandbox_pay(db, buyer_id, out_trade_no) == "paid"


async def buy(db: Database, buyer: Fan, items: list[tuple[int, int]], shop_id: int | None = None, *,
              pay: bool = True, drain: bool = True, commission_eligible: bool = True) -> int:
    """Place one order for [(sku_id, quantity)] through `shop_id` (its products put on that shop's shelf first),
    pay it and deliver the outbox. Returns its id."""
    from sqlalchemy import select

    from quanzi.catalog.models import Sku
    from quanzi.kit import outbox
    from quanzi.orders import service as orders

    async with db.write() as s:
        if shop_id is not None:  # a shop is credited only for products on its shelf: put them there
            shop = await shops.shops_by_id(s, [shop_id])
            for pid in set((await s.execute(select(Sku.product_id).where(Sku.id.in_([k for k, _ in items])))).scalars()):
                await shops.add_to_shelf(s, shop[shop_id], pid)
        address = await cart.owned_address(s, buyer.user_id, buyer.address_id)
        (order,) = await orders.place_orders(s, buyer.user_id, [orders.Wanted(k, q, shop_id) for k, q in items],
                                             address, commission_eligible=commission_eligible)
        order_id = order.id
    if pay:
        await pay_order(db, buyer.user_id, order_id)
    if drain:
        await outbox.drain(db)
    return order_id


async def ship_and_receive(db: Database, order_id: int, *, receive: bool = True) -> None:
    from quanzi.kit import outbox
    from quanzi.orders import service as orders

    async with db.write() as s:
        order = await orders.get_order(s, order_id)
        await orders.ship(s, order, carrier="顺丰", tracking_no=f"SF{order_id:010d}", actor_id=order.supplier_id)
    if receive:
        async with db.write() as s:
            order = await orders.get_order(s, order_id)
            await orders.confirm_receipt(s, order, actor_id=order.buyer_id)
    await outbox.drain(db)


async def lines_of(db: Database, order_id: int) -> list[Any]:
    from quanzi.orders import service as orders

    async with db.read() as s:
        return (await orders.lines_of(s, [order_id]))[order_id]


async def ask_refund(db: Database, buyer_id: int, order_id: int, line_id: int, quantity: int, *,
                     decision: str | None = "approve", operator_id: int | None = None) -> int:
    """A refund-only after-sale through the after-sales service, decided (approve / reject) or left open
    (decision=None); the outbox is drained, so an approved refund reaches the provider and the ledger."""
    from quanzi.aftersales import service as aftersales
    from quanzi.kit import outbox

    async with db.write() as s:
        a = await aftersales.request(s, buyer_id, order_id, line_id, "refund_only", quantity, "不想要了")
        aftersale_id = a.id
    await outbox.drain(db)
    if decision is not None:
        await decide_aftersale(db, aftersale_id, decision, operator_id=operator_id)
    return aftersale_id


async def decide_aftersale(db: Database, aftersale_id: int, decision: str, *, operator_id: int | None = None) -> None:
    from quanzi.aftersales import service as aftersales
    from quanzi.kit import outbox

    async with db.write() as s:
        a = await aftersales.for_decider(s, aftersale_id, None)
        if decision == "approve":
            await aftersales.approve(s, a, operator_id or 1)
        else:
            await aftersales.reject(s, a, operator_id or 1, "不符合退款条件")
    await outbox.drain(db)


async def unlock(db: Database) -> int:
    """Run the commission unlock sweep at the clock's now."""
    from quanzi.kit import sweeps

    return await sweeps.run_one(db, "distribution.unlock_commission")


async def set_distribution(db: Database, **values: Any) -> None:
    from quanzi.distribution import service as distribution

    async with db.write() as s:
        await distribution.put_policy(s, values, None)


async def balances(db: Database, user_id: int) -> dict[str, int]:
    from quanzi.ledger import service as ledger

    async with db.read() as s:
        return await ledger.balances(s, user_id)


async def ledger_problems(db: Database) -> list[str]:
    from quanzi.ledger import service as ledger

    async with db.read() as s:
        return await ledger.check(s)


async def late_refund(db: Database, order_id: int, line_id: int, quantity: int) -> int:
    """A refund that reaches distribution after the line's commission unlocked. The after-sales service refuses
    requests once the return window has closed (and the freeze never ends before it), so in production only a
    refund outside that path (operator-forced, a card chargeback) arrives this late; distribution must take it
    back in full all the same. Booked on the line, then reversed exactly as the `aftersale.refunded` handler
    does. Returns the commission taken back."""
    from quanzi.aftersales import service as aftersales
    from quanzi.distribution import service as distribution
    from quanzi.orders import service as orders

    async with db.write() as s:
        line = await orders.get_line(s, line_id)
        await orders.record_refund(s, order_id, line_id, quantity, aftersales.share_of(line, quantity))
        await s.refresh(line)
        return await distribution.reverse_for_line(s, line.id, line.paid_fen, line.refunded_fen,
                                                   f"late:{line.id}:{line.refunded_qty}")
