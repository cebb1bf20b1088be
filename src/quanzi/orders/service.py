"""Order rules: server-side pricing, guarded stock reservation, an explicit state machine, the timeline.

Every status change is one conditional UPDATE (`WHERE status IN allowed`), so two racing actors
(a payment callback and the unpaid-order sweep, say) can never both win.
"""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import structlog
from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.cart import service as cart
from quanzi.cart.models import Address
from quanzi.catalog import service as catalog
from quanzi.catalog.errors import SkuUnavailable
from quanzi.kit import outbox
from quanzi.kit.clock import CHINA, clock
from quanzi.kit.db import guarded_update
from quanzi.kit.errors import IllegalTransition
from quanzi.orders.errors import (
    CheckoutNotFound,
    DuplicateSku,
    NoItems,
    OrderNotFound,
    PriceChanged,
    TooManyPackages,
)
from quanzi.orders.models import Checkout, Order, OrderEvent, OrderLine
from quanzi.policy import service as policy
from quanzi.policy.service import CommercePolicy
from quanzi.shops import service as shops

log = structlog.get_logger("quanzi.orders")

# Allowed transitions as data (DESIGN rule 8). "closed" = every line fully refunded.
TRANSITIONS: dict[str, set[str]] = {
    "pending_payment": {"paid", "cancelled"},
    "paid": {"shipped", "closed"},
    "shipped": {"received", "closed"},
    "received": {"completed", "closed"},
    "completed": set(),
    "cancelled": set(),
    "closed": set(),
}
TIMESTAMP_OF = {"paid": "paid_at", "shipped": "shipped_at", "received": "received_at",
                "completed": "completed_at", "closed": "closed_at"}


@dataclass(frozen=True)
class Wanted:
    sku_id: int
    quantity: int
    shop_id: int | None


MAX_PACKAGES = 50  # WeChat Pay's combined payment takes at most 50 sub-orders; order numbers have 2 digits


class Credit(Protocol):
    """Who earns from an order: level 1 and level 2 (never more)."""

    level1_id: int | None
    level2_id: int | None


@dataclass(frozen=True)
class _Nobody:
    level1_id: int | None = None
    level2_id: int | None = None


NOBODY = _Nobody()
# (session, buyer_id, owner of the shop the order came through or None) → Credit. referrals registers the
# rules (bindings, self-purchase, level 2) at load; orders only snapshots the answer onto the order.
AttributionSource = Callable[[AsyncSession, int, "int | None"], Awaitable[Credit]]
_attribution: AttributionSource | None = None


def set_attribution(source: AttributionSource | None) -> None:
    global _attribution
    _attribution = source


def order_no_for(checkout_id: int, index: int, now: datetime) -> str:
    """Unique by construction: the checkout's id (a primary key) and the package's place in it, at fixed
    positions. The date is for people; the random tail only keeps numbers that reach a payment provider
    from repeating when a database is reset while the provider still remembers (development, staging).
    25+ characters, so never equal to an older 20-character number."""
    return f"QZ{now.astimezone(CHINA):%y%m%d}{checkout_id:09d}{index:02d}{secrets.randbelow(10**8):08d}"


def fallback_order_no(base: str) -> str:
    """Only if a number is taken anyway (an imported row, a restored backup): the same number, suffixed."""
    return f"{base}-{secrets.randbelow(10**3):03d}"


def return_deadline(received_at: datetime, days: int) -> datetime:
    """7-day no-reason return counted from the day after receipt (网络购买商品七日无理由退货暂行办法 Art. 7):
    received on day D (China time), the window closes at the end of day D+days."""
    local = received_at.astimezone(CHINA).date()
    end = datetime.combine(local + timedelta(days=days + 1), datetime.min.time(), tzinfo=CHINA)
    return end.astimezone(received_at.tzinfo or CHINA)


def address_snapshot(addr: Address) -> dict[str, Any]:
    return {"name": addr.name, "phone": addr.phone, "region": addr.region, "detail": addr.detail}


@dataclass(frozen=True)
class Placement:
    """What one placement wrote: the checkout, its orders and each order's lines (no read-back needed)."""

    checkout: Checkout
    orders: list[Order]
    lines: dict[int, list[OrderLine]]


async def place_orders(s: AsyncSession, buyer_id: int, wanted: Sequence[Wanted], address: Address,
                       **kwargs: Any) -> list[Order]:
    """`place` for callers that only need the orders (the campaigns, the demo)."""
    return (await place(s, buyer_id, wanted, address, **kwargs)).orders


async def place(
    s: AsyncSession, buyer_id: int, wanted: Sequence[Wanted], address: Address, *, note: str = "",
    expected_total_fen: int | None = None, cart_item_ids: Sequence[int] = (), kind: str = "normal",
    commission_eligible: bool = True, prices: dict[int, int] | None = None, pay_minutes: int | None = None,
    hold_reason: str | None = None,
) -> Placement:
    """Price on the server, reserve stock with one guarded decrement, snapshot every line.

    One order per (supplier, shop). `expected_total_fen` is only a check of what the buyer saw: a
    mismatch refuses the order (409); the amount charged always comes from the catalog — or, for a
    campaign (group-buy, bargain, flash sale), from `prices` that the campaign domain computed itself.
    `hold_reason` keeps a paid order from shipping until the campaign releases it (e.g. a forming group).

    The writes are few and set-based (issue "Hot path"): one guarded UPDATE takes the stock of every line
    (before anything is inserted, so a sold-out SKU costs nothing more), then one INSERT each for the
    checkout, the orders, the lines, their "placed" events and the stock movements. Reads of the policy,
    the SKU snapshots, the shop's shelf and the attribution facts come from their domains' caches.
    """
    prices = prices or {}
    if not wanted:
        raise NoItems()
    if len({w.sku_id for w in wanted}) != len(wanted):
        raise DuplicateSku()
    now = clock.now()
    pol = await policy.get(s, CommercePolicy)
    snaps = await catalog.snapshots(s, [w.sku_id for w in wanted])
    groups: dict[tuple[int, int | None], list[Wanted]] = defaultdict(list)
    for w in wanted:
        snap = snaps.get(w.sku_id)
        if snap is None or not snap.available:
            raise SkuUnavailable(sku_id=w.sku_id)
        groups[(snap.supplier_id, w.shop_id)].append(w)

    if len(groups) > MAX_PACKAGES:
        raise TooManyPackages(limit=MAX_PACKAGES)

    def price(w: Wanted) -> int:
        return prices.get(w.sku_id, snaps[w.sku_id].price_fen)

    goods_of = [sum(price(w) * w.quantity for w in items) for items in groups.values()]
    shipping_of = pol.shipping_of(goods_of)
    plans = [(supplier_id, shop_id, items, goods, shipping) for ((supplier_id, shop_id), items), goods, shipping
             in zip(groups.items(), goods_of, shipping_of, strict=True)]
    grand_total = sum(goods_of) + sum(shipping_of)
    if expected_total_fen is not None and expected_total_fen != grand_total:
        raise PriceChanged(total_fen=grand_total, expected_fen=expected_total_fen)

    await catalog.take_stocks(s, {w.sku_id: w.quantity for w in wanted},
                              {w.sku_id: snaps[w.sku_id].title for w in wanted})
    checkout = (await s.scalars(insert(Checkout).returning(Checkout), [dict(
        buyer_id=buyer_id, status="pending_payment", shipping_mode=pol.shipping_mode, goods_fen=sum(goods_of),
        shipping_fen=sum(shipping_of), total_fen=grand_total, created_at=now, paid_at=None,
    )])).one()
    rows: list[dict[str, Any]] = []
    credit: dict[int | None, Credit] = {}
    for index, (supplier_id, shop_id, items, goods, shipping) in enumerate(plans, start=1):
        if shop_id not in credit:
            seller = None
            if shop_id is not None:
                on_this_shop = {snaps[w.sku_id].product_id for w in wanted if w.shop_id == shop_id}
                seller = await shops.seller_of(s, shop_id, on_this_shop)
            credit[shop_id] = await _attribution(s, buyer_id, seller) if _attribution else NOBODY
        who = credit[shop_id]
        rows.append(dict(
            order_no=order_no_for(checkout.id, index, now), checkout_id=checkout.id, buyer_id=buyer_id,
            supplier_id=supplier_id, shop_id=shop_id, status="pending_payment", kind=kind, goods_fen=goods,
            shipping_fen=shipping, referrer_id=who.level1_id, referrer2_id=who.level2_id,
            commission_eligible=commission_eligible, discount_fen=0, total_fen=goods + shipping, refunded_fen=0,
            address=address_snapshot(address), note=note, open_aftersales=0, created_at=now,
            pay_deadline=now + timedelta(minutes=pay_minutes or pol.unpaid_timeout_minutes), hold_reason=hold_reason,
        ))
    by_no = await _insert_orders(s, rows)
    orders = [by_no[row["order_no"]] for row in rows]
    line_rows = [dict(
        order_id=order.id, sku_id=w.sku_id, product_id=snaps[w.sku_id].product_id, title=snaps[w.sku_id].title,
        sku_label=snaps[w.sku_id].label, image_url=snaps[w.sku_id].image_url, unit_price_fen=price(w),
        unit_cost_fen=snaps[w.sku_id].cost_fen, quantity=w.quantity, paid_fen=price(w) * w.quantity,
        non_returnable=snaps[w.sku_id].non_returnable, non_returnable_reason=snaps[w.sku_id].non_returnable_reason,
        refunded_qty=0, refunded_fen=0,
    ) for order, (_sup, _shop, items, _g, _sh) in zip(orders, plans, strict=True) for w in items]
    lines = list(await s.scalars(insert(OrderLine).returning(OrderLine), line_rows))
    await s.execute(insert(OrderEvent.__table__), [dict(
        order_id=order.id, kind="placed", from_status=None, to_status="pending_payment", actor_id=buyer_id,
        data={"total_fen": order.total_fen}, at=now) for order in orders])
    await catalog.record_reservations(s, [(line.sku_id, line.quantity, f"line:{line.id}") for line in lines])
    if cart_item_ids:
        await cart.remove_items(s, buyer_id, list(cart_item_ids))
    for order in orders:
        await outbox.emit(s, "order.placed", {"order_id": order.id})
    by_order: dict[int, list[OrderLine]] = {order.id: [] for order in orders}
    for line in sorted(lines, key=lambda x: x.id):  # RETURNING's row order is not promised
        by_order[line.order_id].append(line)
    return Placement(checkout, orders, by_order)


async def _insert_orders(s: AsyncSession, rows: list[dict[str, Any]]) -> dict[str, Order]:
    """Insert the orders in one statement; a number already taken (never by construction, only by a row
    that came from elsewhere) is skipped by ON CONFLICT and retried with a suffixed number, so a
    collision is never an IntegrityError (a 500) at commit."""
    by_no: dict[str, Order] = {}
    pending = rows
    for _attempt in range(5):
        ins = pg_insert(Order) if s.bind.dialect.name == "postgresql" else sqlite_insert(Order)
        stmt = ins.values(pending).on_conflict_do_nothing(index_elements=["order_no"]).returning(Order)
        for order in (await s.scalars(stmt)).all():
            by_no[order.order_no] = order
        pending = [row for row in pending if row["order_no"] not in by_no]
        if not pending:
            return by_no
        for row in pending:
            base = row["order_no"].split("-")[0]
            row["order_no"] = fallback_order_no(base)
        log.warning("orders.order_no_taken", numbers=[row["order_no"] for row in pending])
    raise RuntimeError("could not find a free order number in 5 attempts")


# --- checkouts ----------------------------------------------------------------------------------

async def checkout_for_buyer(s: AsyncSession, checkout_id: int, buyer_id: int) -> Checkout:
    checkout = await s.get(Checkout, checkout_id)
    if checkout is None or checkout.buyer_id != buyer_id:
        raise CheckoutNotFound()
    return checkout


async def orders_of_checkout(s: AsyncSession, checkout_id: int) -> list[Order]:
    return list((await s.execute(select(Order).where(Order.checkout_id == checkout_id)
                                 .order_by(Order.id))).scalars())


async def _settle_checkout(s: AsyncSession, order_id: int) -> None:
    """Once none of a checkout's orders waits for payment, the checkout is paid (if any order was) or
    cancelled. One read of its orders' statuses and one guarded UPDATE."""
    checkout_id = select(Order.checkout_id).where(Order.id == order_id).scalar_subquery()
    statuses = list((await s.execute(select(Order.status).where(Order.checkout_id == checkout_id))).scalars())
    if not statuses or "pending_payment" in statuses:
        return
    paid = any(st != "cancelled" for st in statuses)
    values: dict[str, Any] = {"status": "paid" if paid else "cancelled"}
    if paid:
        values["paid_at"] = clock.now()
    await s.execute(update(Checkout).where(Checkout.id == checkout_id, Checkout.status == "pending_payment")
                    .values(**values))


# --- state machine ------------------------------------------------------------------------------

async def transition(s: AsyncSession, order_id: int, target: str, *, actor_id: int | None = None,
                     kind: str | None = None, data: dict[str, Any] | None = None,
                     extra: dict[str, Any] | None = None) -> str:
    """Move the order to `target` if its current status allows it; one guarded UPDATE. Returns the old status."""
    sources = [st for st, targets in TRANSITIONS.items() if target in targets]
    current = (await s.execute(select(Order.status).where(Order.id == order_id))).scalar_one_or_none()
    if current is None:
        raise OrderNotFound()
    if current not in sources:
        raise IllegalTransition(current=current, target=target)
    now = clock.now()
    values: dict[str, Any] = {"status": target, **(extra or {})}
    if target in TIMESTAMP_OF:
        values[TIMESTAMP_OF[target]] = now
    changed = await guarded_update(s, update(Order).where(Order.id == order_id, Order.status == current).values(**values))
    if changed != 1:  # somebody else moved it between our read and our write
        now_status = (await s.execute(select(Order.status).where(Order.id == order_id))).scalar_one()
        raise IllegalTransition(current=now_status, target=target)
    s.add(OrderEvent(order_id=order_id, kind=kind or target, from_status=current, to_status=target,
                     actor_id=actor_id, data=data or {}, at=now))
    return current


async def log_event(s: AsyncSession, order_id: int, kind: str, actor_id: int | None = None,
                    data: dict[str, Any] | None = None) -> None:
    s.add(OrderEvent(order_id=order_id, kind=kind, from_status=None, to_status=None, actor_id=actor_id,
                     data=data or {}, at=clock.now()))


async def get_order(s: AsyncSession, order_id: int) -> Order:
    order = await s.get(Order, order_id)
    if order is None:
        raise OrderNotFound()
    return order


async def order_for_buyer(s: AsyncSession, order_id: int, buyer_id: int) -> Order:
    order = await s.get(Order, order_id)
    if order is None or order.buyer_id != buyer_id:
        raise OrderNotFound()
    return order


async def order_for_supplier(s: AsyncSession, order_id: int, supplier_id: int | None) -> Order:
    """supplier_id None means an operator: any order."""
    order = await s.get(Order, order_id)
    if order is None or (supplier_id is not None and order.supplier_id != supplier_id):
        raise OrderNotFound()
    return order


async def get_line(s: AsyncSession, line_id: int) -> OrderLine:
    line = await s.get(OrderLine, line_id)
    if line is None:
        raise OrderNotFound()
    return line


async def lines_of(s: AsyncSession, order_ids: Sequence[int]) -> dict[int, list[OrderLine]]:
    out: dict[int, list[OrderLine]] = {i: [] for i in order_ids}
    if order_ids:
        for line in (await s.execute(select(OrderLine).where(OrderLine.order_id.in_(order_ids))
                                     .order_by(OrderLine.id))).scalars():
            out[line.order_id].append(line)
    return out


async def events_of(s: AsyncSession, order_id: int) -> list[OrderEvent]:
    return list((await s.execute(select(OrderEvent).where(OrderEvent.order_id == order_id)
                                 .order_by(OrderEvent.id))).scalars())


async def cancel(s: AsyncSession, order_id: int, *, reason: str, actor_id: int | None) -> bool:
    """Cancel an unpaid order and release its stock exactly once. False if it was no longer unpaid."""
    try:
        await transition(s, order_id, "cancelled", actor_id=actor_id, data={"reason": reason})
    except IllegalTransition:
        return False
    for line in (await lines_of(s, [order_id]))[order_id]:
        await catalog.return_stock(s, line.sku_id, line.quantity, "release", f"line:{line.id}")
    await _settle_checkout(s, order_id)
    await outbox.emit(s, "order.cancelled", {"order_id": order_id, "reason": reason})
    return True


async def mark_paid(s: AsyncSession, order_id: int, *, payment_id: int, amount_fen: int) -> bool:
    """pending_payment → paid. False if the order is no longer payable (e.g. cancelled meanwhile)."""
    try:
        await transition(s, order_id, "paid", kind="paid", data={"payment_id": payment_id, "amount_fen": amount_fen})
    except IllegalTransition:
        return False
    lines = (await lines_of(s, [order_id]))[order_id]
    sold: dict[int, int] = defaultdict(int)
    for line in lines:
        sold[line.product_id] += line.quantity
    await catalog.add_sales(s, sold)
    await _settle_checkout(s, order_id)
    await outbox.emit(s, "order.paid", {"order_id": order_id})
    return True


async def ship(s: AsyncSession, order: Order, *, carrier: str, tracking_no: str, actor_id: int) -> None:
    from quanzi.orders.errors import AftersaleOpen

    if order.open_aftersales > 0 and order.status == "paid":
        raise AftersaleOpen()
    if order.hold_reason:
        from quanzi.orders.errors import OrderOnHold

        raise OrderOnHold(reason=order.hold_reason)
    await transition(s, order.id, "shipped", actor_id=actor_id, data={"carrier": carrier, "tracking_no": tracking_no},
                     extra={"carrier": carrier, "tracking_no": tracking_no})
    # A request may have been opened after `order` was read (PostgreSQL, READ COMMITTED). Our UPDATE now
    # holds the row, so this read sees the latest committed count: refuse rather than ship over it.
    if (await s.execute(select(Order.open_aftersales).where(Order.id == order.id))).scalar_one() > 0:
        raise AftersaleOpen()
    await outbox.emit(s, "order.shipped", {"order_id": order.id})


async def confirm_receipt(s: AsyncSession, order: Order, *, actor_id: int | None, automatic: bool = False) -> None:
    pol = await policy.get(s, CommercePolicy)
    now = clock.now()
    await transition(s, order.id, "received", actor_id=actor_id, kind="auto_received" if automatic else "received",
                     extra={"return_deadline": return_deadline(now, pol.return_window_days)})
    await outbox.emit(s, "order.received", {"order_id": order.id})


async def release_hold(s: AsyncSession, order_id: int, reason: str) -> bool:
    """The campaign that held this order lets it ship (e.g. the group filled up)."""
    n = await guarded_update(s, update(Order).where(Order.id == order_id, Order.hold_reason == reason)
                             .values(hold_reason=None))
    if n == 1:
        await log_event(s, order_id, "released", data={"hold": reason})
        await outbox.emit(s, "order.released", {"order_id": order_id})
    return n == 1


async def aftersale_opened(s: AsyncSession, order_id: int, *, while_status: str | None = None) -> bool:
    """Count an open after-sale on the order; with `while_status`, only if the order is still in that status
    (one guarded UPDATE: the request was decided against it). Returns False if it was not."""
    cond = [Order.id == order_id] + ([Order.status == while_status] if while_status else [])
    return await guarded_update(s, update(Order).where(*cond).values(
        open_aftersales=Order.open_aftersales + 1)) == 1


async def aftersale_closed(s: AsyncSession, order_id: int) -> None:
    await s.execute(update(Order).where(Order.id == order_id, Order.open_aftersales > 0)
                    .values(open_aftersales=Order.open_aftersales - 1))


async def record_refund(s: AsyncSession, order_id: int, line_id: int | None, qty: int, amount_fen: int,
                        shipping_fen: int = 0) -> None:
    """Book a refund against the order (goods on the line, shipping on the order); close the order once
    every line is fully refunded."""
    if line_id is not None:
        n = await guarded_update(s, update(OrderLine).where(
            OrderLine.id == line_id, OrderLine.refunded_qty + qty <= OrderLine.quantity,
            OrderLine.refunded_fen + amount_fen <= OrderLine.paid_fen,
        ).values(refunded_qty=OrderLine.refunded_qty + qty, refunded_fen=OrderLine.refunded_fen + amount_fen))
        if n != 1:
            raise IllegalTransition(current="refunded", target="refund")
    await s.execute(update(Order).where(Order.id == order_id)
                    .values(refunded_fen=Order.refunded_fen + amount_fen + shipping_fen))
    order = await get_order(s, order_id)
    await s.refresh(order)
    lines = (await lines_of(s, [order_id]))[order_id]
    if all(line.refunded_qty >= line.quantity for line in lines) and order.status in {"paid", "shipped", "received"}:
        await transition(s, order_id, "closed", kind="closed", data={"reason": "fully_refunded"})


# --- sweeps' queries ----------------------------------------------------------------------------

async def due_unpaid(s: AsyncSession, now: datetime, limit: int = 200) -> list[int]:
    from quanzi.kit.db import skip_locked

    stmt = (select(Order.id).where(Order.status == "pending_payment", Order.pay_deadline <= now)
            .order_by(Order.pay_deadline).limit(limit))
    return list((await s.execute(skip_locked(s, stmt))).scalars())


async def due_auto_receive(s: AsyncSession, now: datetime, days: int, limit: int = 200) -> list[int]:
    stmt = (select(Order.id).where(Order.status == "shipped", Order.shipped_at <= now - timedelta(days=days))
            .order_by(Order.id).limit(limit))
    return list((await s.execute(stmt)).scalars())


async def due_completion(s: AsyncSession, now: datetime, limit: int = 200) -> list[int]:
    stmt = (select(Order.id).where(Order.status == "received", Order.return_deadline <= now,
                                   Order.open_aftersales == 0).order_by(Order.id).limit(limit))
    return list((await s.execute(stmt)).scalars())


async def first_paid_order_id(s: AsyncSession, buyer_id: int, shop_id: int) -> int | None:
    """The buyer's first order in a shop that was ever paid (cancelled-before-payment orders never count)."""
    return (await s.execute(select(func.min(Order.id)).where(
        Order.buyer_id == buyer_id, Order.shop_id == shop_id, Order.paid_at.is_not(None)))).scalar_one_or_none()


async def paid_buyers_by_day(s: AsyncSession, shop_id: int, since: datetime) -> list[tuple[str, int]]:
    """(China day, buyer id) of every order of a shop paid since `since` (for conversion charts)."""
    from quanzi.kit.days import china_day

    dialect = s.bind.dialect.name if s.bind is not None else "sqlite"
    day = china_day(Order.paid_at, dialect)
    rows = await s.execute(select(day, Order.buyer_id).where(Order.shop_id == shop_id, Order.paid_at >= since)
                           .distinct())
    return [(str(d), int(b)) for d, b in rows.all()]


async def count_to_ship(s: AsyncSession, supplier_id: int | None) -> int:
    """Paid orders waiting for the supplier's parcel (all suppliers' for None), held ones excepted."""
    stmt = select(func.count(Order.id)).where(Order.status == "paid", Order.hold_reason.is_(None))
    if supplier_id is not None:
        stmt = stmt.where(Order.supplier_id == supplier_id)
    return (await s.execute(stmt)).scalar_one()


async def counts_by_status(s: AsyncSession, buyer_id: int) -> dict[str, int]:
    """A buyer's orders per status (the "我的" page's badges)."""
    rows = await s.execute(select(Order.status, func.count()).where(Order.buyer_id == buyer_id)
                           .group_by(Order.status))
    return {status: n for status, n in rows.all()}


async def orders_of_buyer_in_shop(s: AsyncSession, buyer_id: int, shop_id: int, statuses: Sequence[str],
                                  limit: int = 20) -> list[Order]:
    """The buyer's newest orders that came through `shop_id` in one of `statuses` (a 晒单 picks one)."""
    return list((await s.execute(select(Order).where(Order.buyer_id == buyer_id, Order.shop_id == shop_id,
                                                     Order.status.in_(statuses))
                                 .order_by(Order.id.desc()).limit(limit))).scalars())
