"""Flash-sale rules (DOMAIN_RULES §4): daily slots without overlap; activities with flash price and
quota per SKU; per-order and per-person limits; no grab before the slot opens; a won grab becomes an
unpaid order that must be paid within minutes or is released (quota, person's total, stock — and Redis).

Correct without Redis (the embedded default): one guarded UPDATE on `remaining` decides every grab.
With Redis, the Lua gate turns the crowd away first; the guarded UPDATE still runs for every winner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from time import monotonic
from uuid import uuid4
from weakref import WeakKeyDictionary

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.cart import service as cart
from quanzi.catalog import service as catalog
from quanzi.catalog.errors import OutOfStock, SkuUnavailable
from quanzi.flashsale.errors import (
    BadSlot,
    BadTerms,
    DuplicateItem,
    Ended,
    FlashNotFound,
    NotStarted,
    OrderLimit,
    SlotOverlap,
    SoldOut,
    UserLimit,
)
from quanzi.flashsale.gate import OVER_LIMIT, SOLD_OUT, UNKNOWN, FlashGate
from quanzi.flashsale.models import (
    FlashActivity,
    FlashItem,
    FlashReservation,
    FlashSlot,
    FlashUserTotal,
    FlashWaitlist,
)
from quanzi.kit import outbox
from quanzi.kit.clock import clock, window_state
from quanzi.kit.db import Database, after_commit, guarded_update, insert_ignore
from quanzi.orders import service as orders
from quanzi.orders.service import CHINA, Wanted

HOLD = "flash"


def window(day: date, slot: FlashSlot) -> tuple[datetime, datetime]:
    return (datetime.combine(day, slot.starts, tzinfo=CHINA), datetime.combine(day, slot.ends, tzinfo=CHINA))


async def create_slot(s: AsyncSession, name: str, starts: time, ends: time) -> FlashSlot:
    if ends <= starts:
        raise BadSlot()
    for other in (await s.execute(select(FlashSlot))).scalars():
        if starts < other.ends and other.starts < ends:
            raise SlotOverlap(other=other.name)
    slot = FlashSlot(name=name, starts=starts, ends=ends)
    s.add(slot)
    await s.flush()
    return slot


async def slots(s: AsyncSession) -> list[FlashSlot]:
    return list((await s.execute(select(FlashSlot).order_by(FlashSlot.starts))).scalars())


async def create_activity(s: AsyncSession, *, slot_id: int, day: date, title: str, product_id: int,
                          items: list[tuple[int, int, int]], per_order_limit: int = 1, per_user_limit: int = 1,
                          pay_minutes: int = 5, commission_enabled: bool = False) -> FlashActivity:
    """items: (sku_id, flash_price_fen, quota). Each quota is set aside from the SKU's stock at once."""
    slot = await s.get(FlashSlot, slot_id)
    if slot is None:
        raise FlashNotFound()
    _product, skus = await catalog.published_product(s, product_id)
    own = {k.id: k for k in skus}
    if len({i[0] for i in items}) != len(items):
        raise DuplicateItem()
    if per_order_limit > per_user_limit:
        raise BadTerms({"zh": "每单限购不能多于每人限购", "en": "The per-order limit cannot exceed the per-person limit"},
                       field="per_order_limit")
    for sku_id, price, quota in items:
        if sku_id not in own:
            raise SkuUnavailable(sku_id=sku_id)
        if price >= own[sku_id].price_fen:  # a "flash price" that is not lower misleads the buyer (价格法)
            raise BadTerms({"zh": "秒杀价必须低于平台价", "en": "The flash price must be below the platform price"},
                           field="flash_price", sku_id=sku_id)
        if quota > own[sku_id].stock:
            raise OutOfStock(title=own[sku_id].label, sku_id=sku_id)
    starts, ends = window(day, slot)
    if ends <= clock.now():
        raise BadTerms({"zh": "这一场已经结束，请选今天或以后的场次", "en": "That slot is already over: pick today or a later day"},
                       field="day")
    act = FlashActivity(slot_id=slot_id, day=day, title=title, product_id=product_id, starts_at=starts,
                        ends_at=ends, per_order_limit=per_order_limit, per_user_limit=per_user_limit,
                        pay_minutes=pay_minutes, commission_enabled=commission_enabled, status="scheduled")
    s.add(act)
    await s.flush()
    new_items = [FlashItem(activity_id=act.id, sku_id=sku_id, flash_price_fen=price, quota=quota, remaining=quota,
                           set_aside=quota) for sku_id, price, quota in items]
    s.add_all(new_items)
    await s.flush()
    for item in new_items:
        # The quota leaves ordinary stock now: regular buyers cannot take it, so the sale never sells less
        # than its quota; the unsold rest goes back when the sale ends (settle_ended).
        await catalog.set_aside_stock(s, item.sku_id, item.quota, "flash_set_aside", f"flash-item:{item.id}",
                                      title=own[item.sku_id].label)
    return act


@dataclass(frozen=True)
class Grab:
    activity_id: int
    item_id: int
    sku_id: int
    price_fen: int
    per_user_limit: int
    per_order_limit: int
    pay_minutes: int
    commission_enabled: bool
    starts_at: datetime
    ends_at: datetime
    remaining: int  # as read, before the write: only for refusing early, never for deciding a win
    set_aside: bool = False  # the quota was taken out of stock when the sale was created


async def grab_terms(s: AsyncSession, activity_id: int, sku_id: int) -> Grab:
    row = (await s.execute(select(FlashActivity, FlashItem).join(FlashItem, FlashItem.activity_id == FlashActivity.id)
                           .where(FlashActivity.id == activity_id, FlashItem.sku_id == sku_id,
                                  FlashActivity.status == "scheduled"))).first()
    if row is None:
        raise FlashNotFound()
    a, i = row
    return Grab(a.id, i.id, i.sku_id, i.flash_price_fen, a.per_user_limit, a.per_order_limit, a.pay_minutes,
                a.commission_enabled, a.starts_at, a.ends_at, i.remaining, i.set_aside > 0)


# An activity's terms never change once created (there is no edit), so with the Redis gate in front a grab
# reads them from this process's memory for a moment instead of the database: the crowd that meets a sold-out
# gate then costs no database read at all. Without Redis the read is the early sold-out refusal, and stays.
# The memo is per Database object: ids mean nothing across databases (tests make a new one per test).
TERMS_SECONDS = 2.0
_terms: WeakKeyDictionary[Database, dict[tuple[int, int], tuple[float, Grab]]] = WeakKeyDictionary()


async def cached_terms(db: Database, activity_id: int, sku_id: int) -> Grab:
    memo = _terms.setdefault(db, {})
    key = (activity_id, sku_id)
    hit = memo.get(key)
    if hit is not None and hit[0] > monotonic():
        return hit[1]
    async with db.read() as s:
        g = await grab_terms(s, activity_id, sku_id)
    if len(memo) > 10_000:  # activities come and go: never let the memo grow without bound
        memo.clear()
    memo[key] = (monotonic() + TERMS_SECONDS, g)
    return g


def check_window(g: Grab, now: datetime) -> None:
    if now < g.starts_at:
        raise NotStarted(starts_at=g.starts_at.astimezone(CHINA).strftime("%H:%M"),
                         seconds_left=int((g.starts_at - now).total_seconds()))
    if now >= g.ends_at:
        raise Ended()


async def grab(db: Database, gate: FlashGate | None, user_id: int, activity_id: int, sku_id: int, quantity: int,
               address_id: int) -> FlashReservation:
    """Try to win `quantity` units. Raises NotStarted / Ended / SoldOut / UserLimit / OrderLimit."""
    if gate is not None:
        g = await cached_terms(db, activity_id, sku_id)
    else:
        async with db.read() as s:
            g = await grab_terms(s, activity_id, sku_id)
    check_window(g, clock.now())
    if quantity > g.per_order_limit:
        raise OrderLimit(limit=g.per_order_limit)
    if gate is None and g.remaining < quantity:
        # Without Redis the crowd that comes after the last unit is turned away by this read, without
        # queueing for the write lock; a win is still decided only by the guarded decrement below.
        raise SoldOut()
    if gate is not None:
        verdict = await gate.reserve(g.activity_id, g.item_id, user_id, quantity, g.per_user_limit)
        if verdict == UNKNOWN:
            async with db.read() as s:
                item = await s.get(FlashItem, g.item_id)
                assert item is not None
                await gate.load(g.item_id, item.remaining)
            verdict = await gate.reserve(g.activity_id, g.item_id, user_id, quantity, g.per_user_limit)
        if verdict == SOLD_OUT:
            raise SoldOut()
        if verdict == OVER_LIMIT:
            raise UserLimit(limit=g.per_user_limit)
    try:
        async with db.write() as s:
            return await _reserve_in_db(s, g, user_id, quantity, address_id)
    except BaseException:
        if gate is not None:  # the database said no (or failed): give the Redis reservation back
            await gate.release(g.activity_id, g.item_id, user_id, quantity)
        raise


async def _reserve_in_db(s: AsyncSession, g: Grab, user_id: int, quantity: int, address_id: int) -> FlashReservation:
    address = await cart.owned_address(s, user_id, address_id)
    if await guarded_update(s, update(FlashItem).where(FlashItem.id == g.item_id, FlashItem.remaining >= quantity)
                            .values(remaining=FlashItem.remaining - quantity)) != 1:
        raise SoldOut()
    await insert_ignore(s, FlashUserTotal, {"activity_id": g.activity_id, "user_id": user_id, "quantity": 0},
                        ["activity_id", "user_id"])
    if await guarded_update(s, update(FlashUserTotal).where(
        FlashUserTotal.activity_id == g.activity_id, FlashUserTotal.user_id == user_id,
        FlashUserTotal.quantity + quantity <= g.per_user_limit,
    ).values(quantity=FlashUserTotal.quantity + quantity)) != 1:
        raise UserLimit(limit=g.per_user_limit)
    if g.set_aside:
        # The won units come out of the set-aside: hand them to ordinary stock for the order to take in
        # this same transaction (the SKU row stays locked until commit, so no regular buyer gets them).
        await catalog.return_stock(s, g.sku_id, quantity, "flash_sold", f"flash:{g.item_id}:{uuid4().hex[:16]}")
    [order] = await orders.place_orders(
        s, user_id, [Wanted(g.sku_id, quantity, None)], address, kind="flashsale",
        prices={g.sku_id: g.price_fen}, pay_minutes=g.pay_minutes, commission_eligible=g.commission_enabled,
    )
    r = FlashReservation(item_id=g.item_id, activity_id=g.activity_id, user_id=user_id, quantity=quantity,
                         order_id=order.id, status="reserved", created_at=clock.now())
    s.add(r)
    await s.flush()
    return r


async def release_for_order(s: AsyncSession, order_id: int, gate: FlashGate | None) -> bool:
    """The order was not paid in time (or was cancelled): give back quota and the person's total, once.

    The order's cancellation has already put its units back into ordinary stock. While the sale is on,
    a set-aside unit goes back into the set-aside (and the quota) if it is still in stock; once the sale
    has been settled, it stays in stock."""
    r = (await s.execute(select(FlashReservation).where(FlashReservation.order_id == order_id))).scalar_one_or_none()
    if r is None:
        return False
    if await guarded_update(s, update(FlashReservation).where(FlashReservation.id == r.id,
                                                              FlashReservation.status == "reserved")
                            .values(status="released")) != 1:
        return False
    await s.execute(update(FlashUserTotal).where(FlashUserTotal.activity_id == r.activity_id,
                                                 FlashUserTotal.user_id == r.user_id)
                    .values(quantity=FlashUserTotal.quantity - r.quantity))
    row = (await s.execute(select(FlashItem.sku_id, FlashItem.set_aside, FlashActivity.settled_at)
                           .join(FlashActivity, FlashActivity.id == FlashItem.activity_id)
                           .where(FlashItem.id == r.item_id))).one()
    back_to_quota = True
    if row.set_aside > 0:
        if row.settled_at is not None:
            back_to_quota = False
        else:
            try:
                await catalog.set_aside_stock(s, row.sku_id, r.quantity, "flash_set_aside", f"flash-back:{r.id}")
            except OutOfStock:  # a regular buyer took the returned unit first: the quota shrinks by it
                back_to_quota = False
    if back_to_quota:
        await s.execute(update(FlashItem).where(FlashItem.id == r.item_id)
                        .values(remaining=FlashItem.remaining + r.quantity))
    if gate is not None:
        act, item, who, qty = r.activity_id, r.item_id, r.user_id, r.quantity
        if back_to_quota:
            after_commit(s, lambda: gate.release(act, item, who, qty))
        else:  # the person's total goes down, the quota does not come back
            after_commit(s, lambda: gate.release_person(act, who, qty))
    return True


async def settle_ended(db: Database, now: datetime | None = None) -> dict[int, int]:
    """Return the unsold rest of every ended sale's set-aside quota to stock, exactly once per item.

    Idempotent: each item's rest leaves `remaining` by a guarded UPDATE (remaining = what was read) and
    enters stock with a movement unique per item (`return_stock`), in one transaction; a sale is marked
    settled when all its items are. Returns {item id: units returned} for this run."""
    now = now or clock.now()
    returned: dict[int, int] = {}
    async with db.read() as s:
        due = list((await s.execute(select(FlashActivity.id).where(FlashActivity.ends_at <= now,
                                                                   FlashActivity.settled_at.is_(None)))).scalars())
    for act_id in due:
        try:
            returned.update(await _settle_one(db, act_id, now))
        except SettleRace:
            continue
    return returned


async def _settle_one(db: Database, act_id: int, now: datetime) -> dict[int, int]:
    returned: dict[int, int] = {}
    async with db.write() as s:
        if (await s.execute(select(FlashActivity.settled_at).where(FlashActivity.id == act_id))).scalar_one():
            return returned  # another process settled it meanwhile
        for item in (await s.execute(select(FlashItem).where(FlashItem.activity_id == act_id))).scalars():
            rest = item.remaining
            if item.set_aside <= 0 or rest <= 0:
                continue
            if await guarded_update(s, update(FlashItem).where(FlashItem.id == item.id, FlashItem.remaining == rest)
                                    .values(remaining=0)) != 1:
                raise SettleRace()  # a late grab moved it: roll back, the next run settles it
            await catalog.return_stock(s, item.sku_id, rest, "flash_return", f"flash-item:{item.id}")
            returned[item.id] = rest
        await s.execute(update(FlashActivity).where(FlashActivity.id == act_id).values(settled_at=now))
    return returned


class SettleRace(Exception):
    """An item's remaining changed between read and write while settling (retried by the next run)."""


async def mark_paid(s: AsyncSession, order_id: int) -> None:
    await s.execute(update(FlashReservation).where(FlashReservation.order_id == order_id,
                                                   FlashReservation.status == "reserved").values(status="paid"))


async def reconcile(db: Database, gate: FlashGate, activity_ids: list[int] | None = None) -> dict[int, int]:
    """Make Redis equal the database (the source of truth) for current and coming activities."""
    out: dict[int, int] = {}
    async with db.read() as s:
        stmt = select(FlashActivity).where(FlashActivity.ends_at > clock.now())
        if activity_ids:
            stmt = select(FlashActivity).where(FlashActivity.id.in_(activity_ids))
        acts = list((await s.execute(stmt)).scalars())
        for a in acts:
            items = {i.id: i.remaining for i in (await s.execute(
                select(FlashItem).where(FlashItem.activity_id == a.id))).scalars()}
            users = {u.user_id: u.quantity for u in (await s.execute(
                select(FlashUserTotal).where(FlashUserTotal.activity_id == a.id, FlashUserTotal.quantity > 0)
            )).scalars()}
            await gate.reset(a.id, items, users)
            out.update(items)
    return out


async def activities_for_day(s: AsyncSession, day: date) -> list[tuple[FlashActivity, list[FlashItem]]]:
    acts = list((await s.execute(select(FlashActivity).where(FlashActivity.day == day,
                                                             FlashActivity.status == "scheduled")
                                 .order_by(FlashActivity.starts_at))).scalars())
    items: dict[int, list[FlashItem]] = {a.id: [] for a in acts}
    if acts:
        for i in (await s.execute(select(FlashItem).where(FlashItem.activity_id.in_(list(items))))).scalars():
            items[i.activity_id].append(i)
    return [(a, items[a.id]) for a in acts]


NUMBERS = ("quota", "remaining", "reserved", "paid", "released")


async def numbers(s: AsyncSession, activity_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Units per activity: quota, still to grab, reserved (waiting for payment), paid, released (not paid in
    time). Two grouped queries, whatever the number of activities."""
    ids = list(dict.fromkeys(activity_ids))
    out = {a: dict.fromkeys(NUMBERS, 0) for a in ids}
    if not ids:
        return out
    for aid, quota, remaining in (await s.execute(
        select(FlashItem.activity_id, func.sum(FlashItem.quota), func.sum(FlashItem.remaining))
        .where(FlashItem.activity_id.in_(ids)).group_by(FlashItem.activity_id)
    )).all():
        out[aid].update(quota=int(quota or 0), remaining=int(remaining or 0))
    for aid, status, quantity in (await s.execute(
        select(FlashReservation.activity_id, FlashReservation.status, func.sum(FlashReservation.quantity))
        .where(FlashReservation.activity_id.in_(ids))
        .group_by(FlashReservation.activity_id, FlashReservation.status)
    )).all():
        if status in out[aid]:
            out[aid][status] = int(quantity or 0)
    return out


async def stats(s: AsyncSession, activity_id: int) -> dict[str, int]:
    return (await numbers(s, [activity_id]))[activity_id]


@dataclass(frozen=True)
class ActivitySummary:
    """One activity as the operator watches it: its terms, SKUs and unit counts (see `numbers`)."""

    activity: FlashActivity
    slot_name: str
    items: list[FlashItem]
    numbers: dict[str, int]

    def state(self, now: datetime) -> str:
        a = self.activity
        return a.status if a.status != "scheduled" else window_state(a.starts_at, a.ends_at, now)


async def console_summary(s: AsyncSession, *, since: date, limit: int = 100) -> list[ActivitySummary]:
    """Activities from `since` (a China calendar day) onwards, latest first, with their numbers."""
    acts = list((await s.execute(select(FlashActivity).where(FlashActivity.day >= since)
                                 .order_by(FlashActivity.starts_at.desc(), FlashActivity.id.desc())
                                 .limit(limit))).scalars())
    ids = [a.id for a in acts]
    items: dict[int, list[FlashItem]] = {a: [] for a in ids}
    if ids:
        for i in (await s.execute(select(FlashItem).where(FlashItem.activity_id.in_(ids))
                                  .order_by(FlashItem.id))).scalars():
            items[i.activity_id].append(i)
    names = {sl.id: sl.name for sl in await slots(s)}
    counts = await numbers(s, ids)
    return [ActivitySummary(a, names.get(a.slot_id, ""), items[a.id], counts[a.id]) for a in acts]


async def join_waitlist(s: AsyncSession, user_id: int, product_id: int) -> bool:
    """Wait for the next batch. Someone already told about an earlier batch waits again (the row is re-armed),
    so asking a second time is never silently ignored. True if this person was not waiting yet."""
    now = clock.now()
    if await insert_ignore(s, FlashWaitlist, {"product_id": product_id, "user_id": user_id, "created_at": now},
                           ["product_id", "user_id"]):
        return True
    return await guarded_update(s, update(FlashWaitlist).where(
        FlashWaitlist.product_id == product_id, FlashWaitlist.user_id == user_id,
        FlashWaitlist.notified_at.is_not(None)).values(notified_at=None, created_at=now)) == 1


async def waiting_for(s: AsyncSession, user_id: int, product_ids: Sequence[int]) -> set[int]:
    """Which of these products this person is waiting for (not yet told about a new batch)."""
    if not product_ids:
        return set()
    return set((await s.execute(select(FlashWaitlist.product_id).where(
        FlashWaitlist.user_id == user_id, FlashWaitlist.product_id.in_(list(product_ids)),
        FlashWaitlist.notified_at.is_(None)))).scalars())


async def notify_waitlist(s: AsyncSession, product_id: int) -> int:
    """Restocked: tell everyone waiting (through the outbox), once each."""
    rows = list((await s.execute(select(FlashWaitlist).where(FlashWaitlist.product_id == product_id,
                                                             FlashWaitlist.notified_at.is_(None)))).scalars())
    for w in rows:
        await outbox.emit(s, "flashsale.waitlist_notify", {"user_id": w.user_id, "product_id": product_id,
                                                           "since": w.created_at.isoformat()})
        w.notified_at = clock.now()
    return len(rows)


async def reservations_of(s: AsyncSession, user_id: int, limit: int = 20,
                          ) -> list[tuple[FlashReservation, FlashActivity]]:
    """A person's flash-sale grabs (reserved, paid or released), newest first (the "我的" page)."""
    return [(r, a) for r, a in (await s.execute(
        select(FlashReservation, FlashActivity).join(FlashActivity, FlashActivity.id == FlashReservation.activity_id)
        .where(FlashReservation.user_id == user_id).order_by(FlashReservation.id.desc()).limit(limit))).all()]


async def waitlist_of(s: AsyncSession, user_id: int, limit: int = 20) -> list[FlashWaitlist]:
    """The products a person asked to hear about when the next batch arrives (not yet told)."""
    return list((await s.execute(select(FlashWaitlist).where(FlashWaitlist.user_id == user_id,
                                                              FlashWaitlist.notified_at.is_(None))
                                 .order_by(FlashWaitlist.id.desc()).limit(limit))).scalars())
