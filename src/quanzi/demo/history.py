"""Six weeks of order history, driven through the real services in time order.

A small discrete-event simulation: every step of every order (place, pay, ship, receive, complete,
cancel, after-sale request / approval / return / refund, the price cuts) is an event with a time in the
last HISTORY_DAYS days. Events run in time order with the app clock set to their time, in batches of
one write transaction each; a step that would fall after "now" is never scheduled, so recent orders are
left paid, shipped or received exactly as they would be in a live shop. Payments go through the
sandbox provider (it remembers them, so refunds made later from the console work too) and
`payments.service.apply_result`. After every batch the outbox is drained and the due sweeps run at the
simulated time, as the background worker would have done: refunds, commissions and their unlocking,
automatic receipt and completion all happen through their own domains.

If a run fails half-way, the orders written so far stay and later runs skip the step: start again from
an empty database (`make clean`).

Everything is derived from a seeded random generator; the only thing read back is what the services
return. The step runs only when no demo fan has an order yet.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.aftersales import service as aftersales
from quanzi.aftersales.models import AfterSale
from quanzi.cart import service as cart
from quanzi.cart.models import Address
from quanzi.catalog import service as catalog
from quanzi.catalog.models import Product, Sku
from quanzi.demo.catalog import FRESH, PRODUCTS, apply_price_cuts, price_cut_at
from quanzi.demo.shops import SHOPS
from quanzi.kit import outbox, sweeps
from quanzi.kit.clock import as_utc, clock
from quanzi.kit.db import Database
from quanzi.orders import service as orders
from quanzi.orders.models import Order
from quanzi.orders.service import CHINA, Wanted
from quanzi.payments import service as payments
from quanzi.policy import service as policy
from quanzi.policy.service import CommercePolicy

HISTORY_DAYS = 42
CHECKOUTS = 360  # at scale 1.0: ≈ 420 orders (a checkout splits into one order per supplier)
BATCH = 100  # events per write transaction
PROVIDER = "sandbox"

P_TIMEOUT = 0.05  # never paid: cancelled by the unpaid-order sweep
P_BUYER_CANCEL = 0.03  # cancelled by the buyer before paying
P_REFUND_UNSHIPPED = 0.025  # refund-only request before shipment
P_RETURN = 0.06  # return-and-refund after receipt (returnable lines only)
P_AUTO_RECEIVE = 0.12  # the buyer never confirms: receipt is confirmed automatically

# Orders by hour of the day (China time): lunch break and evening peaks.
HOURLY = [2, 1, .5, .3, .2, .3, .8, 2, 3, 3.5, 4, 4.5, 6, 5, 3.5, 3.5, 3.5, 4, 4.5, 6, 8, 9, 7, 4]
PROMO_DAYS_AGO = 11  # a shop-anniversary day with twice the orders

REGIONS = [
    ("浙江省 杭州市 西湖区", ["文三路", "古墩路", "天目山路", "学院路"]),
    ("上海市 上海市 浦东新区", ["张杨路", "世纪大道", "锦绣路", "东方路"]),
    ("北京市 北京市 朝阳区", ["望京街", "建国路", "朝阳北路", "酒仙桥路"]),
    ("广东省 广州市 天河区", ["天河路", "体育西路", "林和西路", "中山大道西"]),
    ("广东省 深圳市 南山区", ["科技南十二路", "南海大道", "桃园路", "后海大道"]),
    ("江苏省 南京市 鼓楼区", ["中山北路", "湖南路", "北京西路"]),
    ("江苏省 苏州市 工业园区", ["星湖街", "现代大道", "金鸡湖大道"]),
    ("四川省 成都市 武侯区", ["人民南路四段", "科华北路", "武侯祠大街"]),
    ("湖北省 武汉市 洪山区", ["珞喻路", "雄楚大道", "光谷大道"]),
    ("湖南省 长沙市 岳麓区", ["麓山南路", "桐梓坡路", "枫林三路"]),
    ("福建省 厦门市 思明区", ["湖滨南路", "莲前西路", "厦禾路"]),
    ("山东省 青岛市 市南区", ["香港中路", "东海西路", "南京路"]),
    ("陕西省 西安市 雁塔区", ["小寨东路", "科技路", "长安南路"]),
    ("重庆市 重庆市 渝北区", ["金开大道", "新牌坊一路", "红锦大道"]),
    ("河南省 郑州市 金水区", ["花园路", "经三路", "农业路"]),
    ("天津市 天津市 南开区", ["鞍山西道", "卫津路", "复康路"]),
]
COMMUNITIES = ["阳光花园", "金色家园", "翠苑三区", "锦绣华庭", "万科城市花园", "碧水蓝湾", "绿城桂花园",
               "保利香槟国际", "融创玖樟台", "龙湖春江郦城", "中海国际社区", "世纪新城"]
OFFICES = ["科技大厦", "国际金融中心", "创业园A座", "万达广场写字楼", "软件园二期"]
REFUND_REASONS = ["拍错了规格", "不想要了", "地址填错了，重新下单", "买重复了"]
RETURN_REASONS = ["不喜欢/不想要了", "与描述不符", "包装破损", "买多了", "尺码不合适"]
CARRIERS = [("顺丰速运", "SF", 13), ("中通快递", "75", 13), ("圆通速递", "YT", 13), ("韵达快递", "43", 13),
            ("极兔速递", "JT", 13), ("京东物流", "JDVC", 11)]


@dataclass(frozen=True)
class Fan:
    user_id: int
    name: str
    joined_at: datetime
    address_id: int
    weight: float  # how much this fan buys
    home_shop: int  # index into SHOPS


@dataclass(frozen=True)
class ShopInfo:
    id: int
    weight: float
    products: list[tuple[int, float]]  # (product id, popularity)


@dataclass(frozen=True)
class Checkout:
    buyer_id: int
    address_id: int
    shop_id: int
    wanted: tuple[tuple[int, int], ...]  # (sku id, quantity)
    fate: str  # pay | timeout | buyer_cancel


@dataclass(order=True)
class _Event:
    when: datetime
    seq: int
    name: str = field(compare=False)
    args: tuple[Any, ...] = field(compare=False)


# --- addresses ----------------------------------------------------------------------------------

async def seed_addresses(s: AsyncSession, fans: Sequence[tuple[int, str, str, datetime]]) -> int:
    """Give every demo fan (id, nickname, phone, joined) without an address one (a few get a second,
    office address). Returns how many fans got one."""
    have = set((await s.execute(select(Address.user_id).where(Address.user_id.in_([f[0] for f in fans]))
                                .distinct())).scalars())
    rng = random.Random(11)
    added = 0
    for user_id, nickname, phone, joined in fans:
        region, streets = REGIONS[user_id % len(REGIONS)]
        home = (f"{rng.choice(streets)}{rng.randint(1, 999)}号 {rng.choice(COMMUNITIES)}"
                f"{rng.randint(1, 30)}幢{rng.randint(1, 4)}单元{rng.randint(1, 28)}{rng.randint(1, 4):02d}室")
        office = rng.random() < 0.2
        office_detail = (f"{rng.choice(streets)}{rng.randint(1, 500)}号 "
                         f"{rng.choice(OFFICES)}{rng.randint(3, 30)}楼")
        if user_id in have:
            continue
        clock.set(joined + timedelta(minutes=rng.randint(2, 90)))
        await cart.add_address(s, user_id, name=nickname[:30], phone=phone, region=region, detail=home,
                               is_default=True)
        if office:
            await cart.add_address(s, user_id, name=nickname[:30], phone=phone, region=region,
                                   detail=office_detail)
        added += 1
    return added


# --- the plan -----------------------------------------------------------------------------------

def _china(day: Any, hour: int, minute: int, second: int) -> datetime:
    return datetime.combine(day, time(hour, minute, second), CHINA).astimezone(UTC)


def plan_checkouts(rng: random.Random, now: datetime, n: int, shops: Sequence[ShopInfo], fans: Sequence[Fan],
                   skus: dict[int, list[tuple[int, int]]]) -> list[tuple[datetime, Checkout]]:
    """`n` checkouts over the last HISTORY_DAYS days: growing week by week, busier at weekends and on a
    promotion day, mostly at lunchtime and in the evening. The first and last days always have one."""
    today = now.astimezone(CHINA).date()
    days = [today - timedelta(days=k) for k in range(HISTORY_DAYS - 1, -1, -1)]
    weights = []
    for i, day in enumerate(days):
        w = 0.55 + 0.9 * i / (len(days) - 1)
        if day.weekday() >= 5:
            w *= 1.3
        if (today - day).days == PROMO_DAYS_AGO:
            w *= 2.0
        weights.append(w)
    picked_days = [days[0], days[-1]] + rng.choices(days, weights, k=max(n - 2, 0))
    latest = now - timedelta(minutes=45)  # leave time to pay: no order is left unpaid at the end
    out: list[tuple[datetime, Checkout]] = []
    for day in picked_days:
        for _ in range(50):
            at = _china(day, rng.choices(range(24), HOURLY)[0], rng.randrange(60), rng.randrange(60))
            if at <= latest:
                break
        else:
            at = latest - timedelta(minutes=rng.randrange(60))
        eligible = [f for f in fans if f.joined_at <= at - timedelta(hours=1)] or list(fans)
        fan = rng.choices(eligible, [f.weight for f in eligible])[0]
        shop_index = fan.home_shop if rng.random() < 0.8 else rng.randrange(len(shops))
        shop = shops[shop_index]
        k = rng.choices([1, 2, 3], [68, 24, 8])[0]
        chosen: list[int] = []
        pool = list(shop.products)
        while pool and len(chosen) < k:
            pid = rng.choices([p for p, _ in pool], [w for _, w in pool])[0]
            chosen.append(pid)
            pool = [(p, w) for p, w in pool if p != pid]
        wanted = []
        for pid in chosen:
            options = skus[pid]  # (sku id, price)
            sku_id, price = rng.choices(options, [3, 2, 1.2, 1][:len(options)])[0]
            qty = 1 if price >= 15000 else rng.choices([1, 2, 3], [72, 20, 8])[0]
            wanted.append((sku_id, qty))
        r = rng.random()
        fate = "timeout" if r < P_TIMEOUT else "buyer_cancel" if r < P_TIMEOUT + P_BUYER_CANCEL else "pay"
        out.append((at, Checkout(fan.user_id, fan.address_id, shop.id, tuple(wanted), fate)))
    out.sort(key=lambda x: x[0])
    return out


# --- the simulation -----------------------------------------------------------------------------

class Steady:
    """Yes about `p` of the times asked, evenly spread (error diffusion) rather than by a coin: a small demo
    (or a test at a quarter of the scale) still gets its few refunds whatever the hour it is seeded at."""

    def __init__(self, p: float, rng: random.Random) -> None:
        self.p = p
        self.acc = rng.random()

    def __call__(self) -> bool:
        self.acc += self.p
        if self.acc >= 1:
            self.acc -= 1
            return True
        return False


class History:
    def __init__(self, db: Database, now: datetime, rng: random.Random, owner_of_supplier: dict[int, int],
                 provider: Any, pol: CommercePolicy, sku_info: dict[int, tuple[int, bool]]) -> None:
        self.db = db
        self.now = now
        self.horizon = now - timedelta(minutes=2)
        self.rng = rng
        self.owner_of = owner_of_supplier
        self.provider = provider
        self.pol = pol
        self.queue: list[_Event] = []
        self.sku_info = dict(sku_info)  # sku id → (supplier id, fresh?)
        self.fresh_orders: set[int] = set()  # shipped cold-chain (顺丰 / 京东)
        self.seq = itertools.count()
        self.t = now
        self.refund_unshipped = Steady(P_REFUND_UNSHIPPED, rng)
        self.returns = Steady(P_RETURN, rng)

    def at(self, when: datetime, name: str, *args: Any) -> None:
        """Schedule a step; steps that would happen after now are left for real life."""
        if when < self.horizon:
            heapq.heappush(self.queue, _Event(when, next(self.seq), name, args))

    async def run(self) -> None:
        while self.queue:
            async with self.db.write() as s:
                for _ in range(BATCH):
                    if not self.queue:
                        break
                    ev = heapq.heappop(self.queue)
                    self.t = ev.when
                    clock.set(ev.when)
                    if await getattr(self, "on_" + ev.name)(s, *ev.args):
                        break  # a refund was requested: let the worker deliver it before the next step
            await self.worker()

    async def worker(self) -> None:
        """What the background worker would have done by now: deliver the outbox (refunds, commissions…)
        and run the due sweeps, at the current simulated time."""
        await outbox.drain(self.db, max_rounds=100)
        await sweeps.run_due(self.db)
        await outbox.drain(self.db, max_rounds=100)

    # -- helpers

    def later(self, low: timedelta, high: timedelta, *, daytime: tuple[int, int] | None = None) -> datetime:
        """A time between `low` and `high` after the current step, moved into working hours if asked."""
        when = self.t + low + (high - low) * self.rng.random()
        if daytime is not None:
            local = when.astimezone(CHINA)
            start, end = daytime
            if not start <= local.hour < end:
                day = local.date() if local.hour < start else local.date() + timedelta(days=1)
                hour = start + self.rng.randrange(max(end - start - 1, 1))
                when = _china(day, hour, self.rng.randrange(60), self.rng.randrange(60))
        return when

    def tracking(self, fresh: bool) -> tuple[str, str]:
        if fresh:
            carrier = CARRIERS[0] if self.rng.random() < 0.8 else CARRIERS[5]
        else:
            carrier = self.rng.choices(CARRIERS, [25, 25, 15, 15, 10, 10])[0]
        name, prefix, digits = carrier
        return name, prefix + "".join(self.rng.choice("0123456789") for _ in range(digits))

    @staticmethod
    async def order(s: AsyncSession, order_id: int) -> Order:
        order = await s.get(Order, order_id, populate_existing=True)
        assert order is not None
        return order

    # -- steps (each returns True when refunds must be delivered before the next step)

    async def on_cut_prices(self, s: AsyncSession) -> bool:
        await apply_price_cuts(s)
        return False

    async def on_place(self, s: AsyncSession, c: Checkout) -> bool:
        ids = [sku_id for sku_id, _ in c.wanted]
        stock = dict((await s.execute(select(Sku.id, Sku.stock).where(Sku.id.in_(ids)))).all())
        for sku_id, qty in c.wanted:
            if stock[sku_id] < qty + 10:  # the supplier restocks before it runs out
                amount = 50 * self.rng.randint(2, 6)
                await catalog.adjust_stock(s, sku_id, amount, ref=f"demo-restock:{self.t:%y%m%d%H%M%S}")
        address = await s.get(Address, c.address_id)
        assert address is not None
        wanted = [Wanted(sku_id, qty, c.shop_id) for sku_id, qty in c.wanted]
        placed = await orders.place_orders(s, c.buyer_id, wanted, address)
        order_ids = [o.id for o in placed]
        for o in placed:
            if any(self.sku_info[k] == (o.supplier_id, True) for k, _ in c.wanted):
                self.fresh_orders.add(o.id)
        if c.fate == "timeout":
            when = self.t + timedelta(minutes=self.pol.unpaid_timeout_minutes,
                                      seconds=self.rng.randint(5, 60))
            self.at(when, "cancel", order_ids, "payment_timeout", None)
        elif c.fate == "buyer_cancel":
            when = self.later(timedelta(minutes=1), timedelta(minutes=12))
            self.at(when, "cancel", order_ids, "buyer", c.buyer_id)
        else:
            when = self.later(timedelta(seconds=20), timedelta(minutes=6))
            for order_id in order_ids:
                self.at(when, "pay", order_id)
        return False

    async def on_cancel(self, s: AsyncSession, order_ids: list[int], reason: str, actor_id: int | None,
                        ) -> bool:
        for order_id in order_ids:
            await orders.cancel(s, order_id, reason=reason, actor_id=actor_id)
        return False

    async def on_pay(self, s: AsyncSession, order_id: int) -> bool:
        order = await self.order(s, order_id)
        payment = await payments.open_payment(s, order, PROVIDER)
        # The buyer pays on the sandbox page; its statement is applied like a verified notification.
        result = self.provider.mark_paid(payment.out_trade_no, payment.amount_fen, now=self.t)
        outcome = await payments.apply_result(s, result, "notify")
        if outcome != "paid":
            raise RuntimeError(f"demo payment of order {order_id} was not applied: {outcome}")
        if self.refund_unshipped():
            line = self.rng.choice((await orders.lines_of(s, [order_id]))[order_id])
            self.at(self.later(timedelta(minutes=20), timedelta(hours=4)), "request", order_id, line.id,
                    "refund_only", line.quantity, self.rng.choice(REFUND_REASONS))
        else:
            self.at(self.later(timedelta(hours=2), timedelta(hours=30), daytime=(9, 19)), "ship", order_id)
        return False

    async def on_ship(self, s: AsyncSession, order_id: int) -> bool:
        order = await self.order(s, order_id)
        if order.status != "paid":  # fully refunded before shipment
            return False
        carrier, tracking_no = self.tracking(order_id in self.fresh_orders)
        await orders.ship(s, order, carrier=carrier, tracking_no=tracking_no,
                          actor_id=self.owner_of[order.supplier_id])
        if self.rng.random() < P_AUTO_RECEIVE:
            when = self.t + timedelta(days=self.pol.auto_receive_days, minutes=self.rng.randint(1, 10))
            self.at(when, "receive", order_id, True)
        else:
            when = self.later(timedelta(hours=36), timedelta(days=5), daytime=(8, 23))
            self.at(when, "receive", order_id, False)
        return False

    async def on_receive(self, s: AsyncSession, order_id: int, automatic: bool) -> bool:
        order = await self.order(s, order_id)
        if order.status != "shipped":
            return False
        await orders.confirm_receipt(s, order, actor_id=None if automatic else order.buyer_id,
                                     automatic=automatic)
        if self.returns():
            lines = [x for x in (await orders.lines_of(s, [order_id]))[order_id]
                     if not x.non_returnable and x.refunded_qty < x.quantity]
            if lines:
                line = self.rng.choice(lines)
                left = line.quantity - line.refunded_qty
                qty = left if self.rng.random() < 0.7 else 1
                when = self.later(timedelta(hours=6), timedelta(days=4), daytime=(8, 23))
                reason = self.rng.choice(RETURN_REASONS)
                self.at(when, "request", order_id, line.id, "return_refund", qty, reason)
                return False
        self.complete_after(order_id, orders.return_deadline(self.t, self.pol.return_window_days))
        return False

    def complete_after(self, order_id: int, deadline: datetime | None) -> None:
        """Schedule what the completion sweep does once the return window has closed."""
        assert deadline is not None
        when = max(as_utc(deadline), self.t) + timedelta(minutes=self.rng.randint(1, 5))
        self.at(when, "complete", order_id)

    async def on_complete(self, s: AsyncSession, order_id: int) -> bool:
        """What the `orders.complete` sweep does for one order."""
        order = await self.order(s, order_id)
        if order.status != "received" or order.open_aftersales or order.return_deadline is None \
                or as_utc(order.return_deadline) > clock.now():
            return False
        await orders.transition(s, order_id, "completed", kind="completed")
        await outbox.emit(s, "order.completed", {"order_id": order_id})
        return False

    async def on_request(self, s: AsyncSession, order_id: int, line_id: int, kind: str, qty: int,
                         reason: str) -> bool:
        order = await self.order(s, order_id)
        a = await aftersales.request(s, order.buyer_id, order_id, line_id, kind, qty, reason)
        when = self.later(timedelta(hours=1), timedelta(hours=10), daytime=(9, 21))
        self.at(when, "approve", a.id, order_id)
        return False

    async def on_approve(self, s: AsyncSession, aftersale_id: int, order_id: int) -> bool:
        a = await s.get(AfterSale, aftersale_id, populate_existing=True)
        assert a is not None
        await aftersales.approve(s, a, self.owner_of[a.supplier_id])
        if a.kind == "refund_only":
            # Ship what is left (if anything) once the refund is through.
            self.at(self.later(timedelta(hours=3), timedelta(hours=30), daytime=(9, 19)), "ship", order_id)
            return True
        self.at(self.later(timedelta(hours=6), timedelta(days=1, hours=12), daytime=(9, 20)), "ship_back",
                aftersale_id, order_id)
        return False

    async def on_ship_back(self, s: AsyncSession, aftersale_id: int, order_id: int) -> bool:
        a = await s.get(AfterSale, aftersale_id, populate_existing=True)
        assert a is not None
        carrier, tracking_no = self.tracking(False)
        await aftersales.ship_back(s, a, a.buyer_id, carrier, tracking_no)
        self.at(self.later(timedelta(days=2), timedelta(days=3, hours=12), daytime=(9, 18)), "receive_return",
                aftersale_id, order_id)
        return False

    async def on_receive_return(self, s: AsyncSession, aftersale_id: int, order_id: int) -> bool:
        a = await s.get(AfterSale, aftersale_id, populate_existing=True)
        assert a is not None
        await aftersales.receive_return(s, a, self.owner_of[a.supplier_id])
        self.complete_after(order_id, (await self.order(s, order_id)).return_deadline)
        return True


# --- entry points -------------------------------------------------------------------------------

async def has_history(s: AsyncSession, fan_ids: Sequence[int]) -> bool:
    first = (await s.execute(select(Order.id).where(Order.buyer_id.in_(list(fan_ids))).limit(1))).first()
    return first is not None


async def seed_history(db: Database, now: datetime, *, scale: float, provider: Any,
                       fans: Sequence[tuple[int, str, datetime]], shop_ids: Sequence[int],
                       product_ids: dict[str, int], owner_of_supplier: dict[int, int]) -> int:
    """Simulate the order history (fans: id, nickname, joined). Returns the number of checkouts."""
    rng = random.Random(42)
    async with db.read() as s:
        pol = await policy.get(s, CommercePolicy)
        default_address = dict((await s.execute(
            select(Address.user_id, func.min(Address.id)).where(Address.user_id.in_([f[0] for f in fans]),
                                                               Address.is_default.is_(True))
            .group_by(Address.user_id)
        )).all())
        sku_rows = (await s.execute(
            select(Sku.product_id, Sku.id, Sku.price_fen, Product.supplier_id, Product.non_returnable_reason)
            .join(Product, Product.id == Sku.product_id)
            .where(Product.id.in_(list(product_ids.values())), Product.status == "published",
                   Sku.is_active.is_(True)).order_by(Sku.id)
        )).all()
    skus: dict[int, list[tuple[int, int]]] = {}
    sku_info: dict[int, tuple[int, bool]] = {}
    for pid, sku_id, price, supplier_id, reason in sku_rows:
        skus.setdefault(pid, []).append((sku_id, price))
        sku_info[sku_id] = (supplier_id, reason == FRESH)
    popularity = {p.code: p.popularity for p in PRODUCTS}
    shops = [ShopInfo(sid, spec.weight, [(product_ids[c], popularity[c]) for c, _ in spec.shelf
                                         if c in product_ids and product_ids[c] in skus])
             for sid, spec in zip(shop_ids, SHOPS, strict=True)]
    shop_weights = [x.weight for x in shops]
    fan_list = [Fan(uid, name, as_utc(joined), default_address[uid], min(rng.paretovariate(1.6), 8.0),
                    rng.choices(range(len(shops)), shop_weights)[0])
                for uid, name, joined in fans if uid in default_address]
    if fan_list:  # the fan with the demo password is a regular: their "my orders" page shows every state
        fan_list[0] = replace(fan_list[0], weight=6.0, home_shop=0)
    if not fan_list or not any(x.products for x in shops):
        return 0
    n = max(12, round(CHECKOUTS * scale))
    history = History(db, now, rng, owner_of_supplier, provider, pol, sku_info)
    for at, checkout in plan_checkouts(rng, now, n, shops, fan_list, skus):
        history.at(at, "place", checkout)
    history.at(price_cut_at(now), "cut_prices")
    await history.run()
    return n
