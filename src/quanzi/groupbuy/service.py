"""Group-buy rules (DOMAIN_RULES §2): a fan opens a group by paying, others join through the share link by
paying; the last free seat goes to exactly one payer; a full group releases its orders for shipping; an
expired group fails and every paying member gets the money back through the provider, stock restored, no
commission. Optionally the platform completes an expired group that reached a configured fill ratio — shown
as such, with its real members only: no invented people, ever (电子商务法 Art. 17).

Seats change only through one guarded UPDATE on `groupbuy_groups.filled`. Where a transaction touches a
group and its members, it changes the group row first, so two of them never wait on each other in a cycle.
Group orders are placed with `hold_reason="group_forming"`: paid, but unshippable (and earning no
commission) until the group succeeds and releases them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts import service as accounts
from quanzi.cart import service as cart
from quanzi.catalog import service as catalog
from quanzi.distribution import service as distribution
from quanzi.groupbuy.errors import (
    ActivityNotFound,
    AlreadyMember,
    BadTerms,
    Ended,
    GroupFull,
    GroupNotFound,
    NotJoinable,
    NotStarted,
    OneOpenGroup,
    OrderLimit,
    SkuNotInActivity,
    UserLimit,
)
from quanzi.groupbuy.models import OPEN_MEMBER_STATES, Group, GroupActivity, GroupMember, GroupSku, GroupUserTotal
from quanzi.kit import outbox
from quanzi.kit.clock import clock, window_state
from quanzi.kit.db import guarded_update, insert_ignore, skip_locked
from quanzi.orders import service as orders
from quanzi.orders.service import Wanted
from quanzi.payments import service as payments

HOLD = "group_forming"
KIND = "groupbuy"
OPEN_GROUP_STATES = ("pending", "forming")
# A person whose membership of a group ended this way may come back to the same group (same row, new order).
REENTRY_STATES = ("cancelled", "left")
# Allowed transitions as data (DESIGN rule 8).
GROUP_TRANSITIONS: dict[str, set[str]] = {
    "pending": {"forming", "cancelled"},  # the leader pays, or never does
    "forming": {"succeeded", "failed"},
    "succeeded": set(), "failed": set(), "cancelled": set(),
}
MEMBER_TRANSITIONS: dict[str, set[str]] = {
    "pending_payment": {"joined", "refunding", "cancelled"},
    "joined": {"succeeded", "refunding", "left"},  # left: refunded in full by an after-sale while forming
    "refunding": {"refunded"},
    "succeeded": set(), "refunded": set(), "cancelled": set(), "left": set(),
}


def _sources(table: dict[str, set[str]], target: str) -> list[str]:
    return [st for st, targets in table.items() if target in targets]


async def _move_group(s: AsyncSession, group_id: int, target: str, *conds: Any, **values: Any) -> bool:
    """One guarded UPDATE: True if this transaction moved the group (it then holds the row)."""
    return await guarded_update(s, update(Group).where(
        Group.id == group_id, Group.status.in_(_sources(GROUP_TRANSITIONS, target)), *conds,
    ).values(status=target, **values)) == 1


async def _move_member(s: AsyncSession, member_id: int, target: str, *, only_from: Sequence[str] | None = None,
                       **values: Any) -> bool:
    allowed = [st for st in _sources(MEMBER_TRANSITIONS, target) if only_from is None or st in only_from]
    return await guarded_update(s, update(GroupMember).where(
        GroupMember.id == member_id, GroupMember.status.in_(allowed),
    ).values(status=target, **values)) == 1


# --- activities (operator) ---------------------------------------------------------------------

async def create_activity(
    s: AsyncSession, *, title: str, product_id: int, skus: Sequence[tuple[int, int]], group_size: int,
    time_limit_minutes: int, starts_at: datetime, ends_at: datetime, per_order_limit: int = 1,
    per_user_limit: int = 1, pay_minutes: int = 15, leader_discount_fen: int = 0, leader_commission_bp: int = 0,
    commission_enabled: bool = False, complete_ratio_bp: int | None = None, actor_id: int | None = None,
) -> GroupActivity:
    """skus: (sku_id, group_price_fen). Every SKU must belong to the (published) product."""
    from quanzi.audit.service import record

    if not all(2000 <= t.year <= 2100 for t in (starts_at, ends_at)):  # before any arithmetic can overflow
        raise BadTerms({"zh": "活动时间须在 2000 至 2100 年之间", "en": "The activity must run between 2000 and 2100"})
    if ends_at <= starts_at:
        raise BadTerms({"zh": "结束时间必须晚于开始时间", "en": "The activity must end after it starts"})
    if ends_at <= clock.now():
        raise BadTerms({"zh": "结束时间已经过去，请选以后的时间", "en": "That end time has already passed: pick a later one"})
    if group_size < 2:
        raise BadTerms({"zh": "成团人数至少 2 人", "en": "A group needs at least 2 people"})
    if per_order_limit > per_user_limit:
        raise BadTerms({"zh": "每单限购不能大于每人限购", "en": "The per-order limit cannot exceed the per-person limit"})
    if complete_ratio_bp is not None and not 0 < complete_ratio_bp < 10_000:
        raise BadTerms({"zh": "平台成团比例须在 0 与 100% 之间", "en": "The completion ratio must be between 0 and 100%"})
    if not skus or len({k for k, _ in skus}) != len(skus):
        raise BadTerms({"zh": "请列出参加拼团的规格，每个规格一次", "en": "List each SKU of the group buy once"})
    _product, product_skus = await catalog.published_product(s, product_id)
    own = {k.id for k in product_skus}
    for sku_id, price in skus:
        if sku_id not in own:
            raise SkuNotInActivity(sku_id=sku_id)
        if price - leader_discount_fen < 1:
            raise BadTerms({"zh": "团长优惠后价格必须大于 0", "en": "The leader's price must stay above zero"},
                           sku_id=sku_id)
    act = GroupActivity(
        title=title, product_id=product_id, group_size=group_size, time_limit_minutes=time_limit_minutes,
        starts_at=starts_at, ends_at=ends_at, per_order_limit=per_order_limit, per_user_limit=per_user_limit,
        pay_minutes=pay_minutes, leader_discount_fen=leader_discount_fen, leader_commission_bp=leader_commission_bp,
        commission_enabled=commission_enabled, complete_ratio_bp=complete_ratio_bp, status="active",
        created_at=clock.now(),
    )
    s.add(act)
    await s.flush()
    s.add_all([GroupSku(activity_id=act.id, sku_id=k, group_price_fen=p) for k, p in skus])
    await s.flush()
    record(s, actor_id, "groupbuy.create", "groupbuy_activities", act.id,
           {"title": title, "product_id": product_id, "group_size": group_size, "skus": [list(x) for x in skus],
            "complete_ratio_bp": complete_ratio_bp, "leader_commission_bp": leader_commission_bp})
    return act


async def get_activity(s: AsyncSession, activity_id: int) -> GroupActivity:
    act = await s.get(GroupActivity, activity_id)
    if act is None:
        raise ActivityNotFound()
    return act


async def skus_of(s: AsyncSession, activity_ids: Sequence[int]) -> dict[int, list[GroupSku]]:
    out: dict[int, list[GroupSku]] = {a: [] for a in activity_ids}
    if activity_ids:
        for k in (await s.execute(select(GroupSku).where(GroupSku.activity_id.in_(list(activity_ids)))
                                  .order_by(GroupSku.id))).scalars():
            out[k.activity_id].append(k)
    return out


async def running_activities(s: AsyncSession, now: datetime) -> list[GroupActivity]:
    return list((await s.execute(select(GroupActivity).where(
        GroupActivity.status == "active", GroupActivity.ends_at > now,
    ).order_by(GroupActivity.starts_at, GroupActivity.id).limit(100))).scalars())


async def joinable_groups(s: AsyncSession, activity_id: int, now: datetime, limit: int = 20) -> list[Group]:
    """Forming groups with a free seat, the closest to full first (拼团广场)."""
    return list((await s.execute(select(Group).where(
        Group.activity_id == activity_id, Group.status == "forming", Group.expires_at > now,
        Group.filled < Group.seats,
    ).order_by((Group.seats - Group.filled), Group.expires_at).limit(limit))).scalars())


# --- opening and joining -----------------------------------------------------------------------

@dataclass(frozen=True)
class Placed:
    group_id: int
    member_id: int
    order_id: int
    order_no: str
    total_fen: int
    pay_deadline: datetime


async def open_group(s: AsyncSession, user_id: int, activity_id: int, sku_id: int, quantity: int,
                     address_id: int) -> Placed:
    """A new group led by `user_id`, with an unpaid order; the group starts forming once the leader pays."""
    act = await get_activity(s, activity_id)
    now = clock.now()
    if act.status != "active":
        raise Ended()
    if now < act.starts_at:
        raise NotStarted(starts_at=act.starts_at.isoformat())
    if now >= act.ends_at:
        raise Ended()
    price = await _group_price(s, act, sku_id, quantity)
    await _check_no_open_group(s, act.id, user_id, None)
    group = Group(activity_id=act.id, leader_id=user_id, seats=act.group_size, filled=0, status="pending",
                  time_limit_minutes=act.time_limit_minutes, completed_by_platform=False, created_at=now)
    s.add(group)
    await s.flush()
    return await _enter(s, act, group.id, user_id, sku_id, quantity, address_id,
                        price - act.leader_discount_fen, is_leader=True)


async def join_group(s: AsyncSession, user_id: int, group_id: int, sku_id: int, quantity: int,
                     address_id: int) -> Placed:
    """An unpaid order for a seat. The seat itself is taken when the payment arrives (`on_paid`)."""
    group = await s.get(Group, group_id)
    if group is None:
        raise GroupNotFound()
    act = await get_activity(s, group.activity_id)
    if group.status == "succeeded" or (group.status == "forming" and group.filled >= group.seats):
        raise GroupFull()
    if group.status != "forming" or group.expires_at is None or group.expires_at <= clock.now():
        raise NotJoinable()
    price = await _group_price(s, act, sku_id, quantity)
    await _check_no_open_group(s, act.id, user_id, group.id)
    return await _enter(s, act, group.id, user_id, sku_id, quantity, address_id, price, is_leader=False)


async def _group_price(s: AsyncSession, act: GroupActivity, sku_id: int, quantity: int) -> int:
    if quantity > act.per_order_limit:
        raise OrderLimit(limit=act.per_order_limit)
    price = (await s.execute(select(GroupSku.group_price_fen).where(
        GroupSku.activity_id == act.id, GroupSku.sku_id == sku_id))).scalar_one_or_none()
    if price is None:
        raise SkuNotInActivity(sku_id=sku_id)
    return int(price)


async def open_group_of(s: AsyncSession, activity_id: int, user_id: int) -> int | None:
    """The group this person is open in (unpaid or seated in a forming group), if any: at most one."""
    return (await s.execute(select(GroupMember.group_id).where(
        GroupMember.activity_id == activity_id, GroupMember.user_id == user_id,
        GroupMember.status.in_(OPEN_MEMBER_STATES)))).scalars().first()


async def _check_no_open_group(s: AsyncSession, activity_id: int, user_id: int, group_id: int | None) -> None:
    """The friendly answer; the partial unique index `uq_groupbuy_members_one_open` is the guarantee."""
    open_in = await open_group_of(s, activity_id, user_id)
    if open_in is not None:
        raise AlreadyMember() if open_in == group_id else OneOpenGroup(group_id=open_in)
    if group_id is not None:
        seen = (await s.execute(select(GroupMember.status).where(
            GroupMember.group_id == group_id, GroupMember.user_id == user_id))).scalar_one_or_none()
        if seen is not None and seen not in REENTRY_STATES:
            raise AlreadyMember()


async def _enter(s: AsyncSession, act: GroupActivity, group_id: int, user_id: int, sku_id: int, quantity: int,
                 address_id: int, unit_price_fen: int, *, is_leader: bool) -> Placed:
    address = await cart.owned_address(s, user_id, address_id)
    [order] = await orders.place_orders(
        s, user_id, [Wanted(sku_id, quantity, None)], address, kind=KIND, prices={sku_id: unit_price_fen},
        pay_minutes=act.pay_minutes, hold_reason=HOLD, commission_eligible=act.commission_enabled,
    )
    member_id = await _write_member(s, act.id, group_id, user_id, order.id, sku_id, quantity, is_leader)
    await insert_ignore(s, GroupUserTotal, {"activity_id": act.id, "user_id": user_id, "quantity": 0},
                        ["activity_id", "user_id"])
    if await guarded_update(s, update(GroupUserTotal).where(
        GroupUserTotal.activity_id == act.id, GroupUserTotal.user_id == user_id,
        GroupUserTotal.quantity + quantity <= act.per_user_limit,
    ).values(quantity=GroupUserTotal.quantity + quantity)) != 1:
        raise UserLimit(limit=act.per_user_limit)
    return Placed(group_id, member_id, order.id, order.order_no, order.total_fen, order.pay_deadline)


async def _write_member(s: AsyncSession, activity_id: int, group_id: int, user_id: int, order_id: int,
                        sku_id: int, quantity: int, is_leader: bool) -> int:
    """Insert the membership, or reuse this person's earlier one in the same group that ended without a seat
    or with the money back (cancelled, left). A concurrent second open membership of the same person in the
    activity is refused by the database, not by luck."""
    now = clock.now()
    values = {"order_id": order_id, "sku_id": sku_id, "quantity": quantity, "status": "pending_payment",
              "is_leader": is_leader, "refund_reason": None, "refund_fen": 0, "created_at": now, "seated_at": None,
              "closed_at": None}
    try:
        async with s.begin_nested():
            reused = await guarded_update(s, update(GroupMember).where(
                GroupMember.group_id == group_id, GroupMember.user_id == user_id,
                GroupMember.status.in_(REENTRY_STATES),
            ).values(**values))
            if not reused:
                s.add(GroupMember(group_id=group_id, activity_id=activity_id, user_id=user_id, **values))
                await s.flush()
    except IntegrityError:
        open_in = await open_group_of(s, activity_id, user_id)
        if open_in is None or open_in == group_id:
            raise AlreadyMember() from None
        raise OneOpenGroup(group_id=open_in) from None
    return (await s.execute(select(GroupMember.id).where(GroupMember.order_id == order_id))).scalar_one()


async def member_of_order(s: AsyncSession, order_id: int) -> GroupMember | None:
    return (await s.execute(select(GroupMember).where(GroupMember.order_id == order_id)
                            .execution_options(populate_existing=True))).scalar_one_or_none()


# --- payment: the seat -------------------------------------------------------------------------

async def on_paid(s: AsyncSession, order_id: int) -> str | None:
    """The order of a member was paid. Leader: the group starts forming, its clock starts. Joiner: take a
    seat with one guarded UPDATE; no seat (full, expired, failed) → the whole payment goes back at once.
    Returns the outcome (None if the order is not a group order or was already handled)."""
    m = await member_of_order(s, order_id)
    if m is None or m.status != "pending_payment":
        return None
    order = await orders.get_order(s, order_id)
    paid_at = order.paid_at or clock.now()
    group = await s.get(Group, m.group_id)
    assert group is not None
    if m.is_leader:
        if not await _move_group(s, group.id, "forming", filled=1, opened_at=paid_at,
                                 expires_at=paid_at + timedelta(minutes=group.time_limit_minutes)):
            await _refund_member(s, m, "group_closed")
            return "refunded"
        await _seat(s, m, paid_at)
        return "opened"
    # The seat: the one statement that decides who gets it (DESIGN rule 2). A payment made before the
    # group's deadline counts even if its event is delivered a little later — unless the group is closed.
    took = await guarded_update(s, update(Group).where(
        Group.id == group.id, Group.status == "forming", Group.filled < Group.seats, Group.expires_at > paid_at,
    ).values(filled=Group.filled + 1))
    if took != 1:
        await s.refresh(group)
        await _refund_member(s, m, "group_full" if group.filled >= group.seats else "group_closed")
        return "refunded"
    await _seat(s, m, paid_at)
    if await _move_group(s, group.id, "succeeded", Group.filled == Group.seats, closed_at=clock.now()):
        await _succeed(s, group.id)
        return "succeeded"
    return "seated"


async def _seat(s: AsyncSession, m: GroupMember, at: datetime) -> None:
    if not await _move_member(s, m.id, "joined", seated_at=at):
        # Only a duplicate delivery racing this one can get here: roll back the seat with it.
        raise RuntimeError(f"group member {m.id} changed while taking its seat")


async def _succeed(s: AsyncSession, group_id: int, unpaid_reason: str = "group_full") -> None:
    """The group is full (or completed by the platform): every seated member's order ships; the leader's
    reward is booked on the real paid lines; the unpaid orders of people left without a seat are cancelled."""
    group = await s.get(Group, group_id)
    assert group is not None
    act = await get_activity(s, group.activity_id)
    members = await _members(s, group_id)
    seated = [m for m in members if m.status == "joined"]
    now = clock.now()
    for m in seated:
        await _move_member(s, m.id, "succeeded", closed_at=now)
        await orders.release_hold(s, m.order_id, HOLD)
        await _notify(s, m.user_id, group_id, "succeeded")
    if act.leader_commission_bp and any(m.is_leader for m in seated):
        lines = await orders.lines_of(s, [m.order_id for m in seated])
        await distribution.accrue_leader(
            s, leader_id=group.leader_id, bp=act.leader_commission_bp, ref=f"group:{group_id}",
            lines=[distribution.LeaderLine(m.order_id, m.user_id, x.id, x.paid_fen - x.refunded_fen)
                   for m in seated for x in lines[m.order_id]],
        )
    await _cancel_unpaid(s, [m for m in members if m.status == "pending_payment"], unpaid_reason)


async def _fail(s: AsyncSession, group_id: int) -> None:
    members = await _members(s, group_id)
    for m in members:
        if m.status == "joined":
            await _refund_member(s, m, "group_failed")
    await _cancel_unpaid(s, [m for m in members if m.status == "pending_payment"], "group_failed")


async def _cancel_unpaid(s: AsyncSession, members: Sequence[GroupMember], reason: str) -> None:
    """No seat is left for them: cancel orders still unpaid (a payment on its way is refunded by payments).
    An order already paid whose event is not delivered yet stays: `on_paid` will refund it."""
    for m in members:
        if await orders.cancel(s, m.order_id, reason=reason, actor_id=None):
            await _member_cancelled(s, m)


async def _members(s: AsyncSession, group_id: int) -> list[GroupMember]:
    return list((await s.execute(select(GroupMember).where(GroupMember.group_id == group_id)
                                 .order_by(GroupMember.id).execution_options(populate_existing=True))).scalars())


async def _release_total(s: AsyncSession, m: GroupMember) -> None:
    await s.execute(update(GroupUserTotal).where(
        GroupUserTotal.activity_id == m.activity_id, GroupUserTotal.user_id == m.user_id,
        GroupUserTotal.quantity >= m.quantity,
    ).values(quantity=GroupUserTotal.quantity - m.quantity))


async def _refund_member(s: AsyncSession, m: GroupMember, reason: str) -> bool:
    """Give back everything the member paid, through the provider (the outbox makes the call after commit);
    put the stock back now — these goods will never ship. Once per member."""
    payment = await payments.paid_payment_of(s, m.order_id)
    amount = payment.amount_fen - payment.refunded_fen if payment is not None else 0
    if not await _move_member(s, m.id, "refunding", refund_reason=reason, refund_fen=max(amount, 0),
                              closed_at=clock.now()):
        return False
    if payment is not None and amount > 0:
        await payments.request_refund(s, payment, amount, reason=f"groupbuy_{reason}", source=f"groupbuy:{m.id}")
    lines = (await orders.lines_of(s, [m.order_id]))[m.order_id]
    for line in lines:
        await catalog.return_stock(s, line.sku_id, line.quantity - line.refunded_qty, "groupbuy_refund",
                                   f"line:{line.id}")
    await _release_total(s, m)
    await orders.log_event(s, m.order_id, "group_refund", data={"group_id": m.group_id, "reason": reason,
                                                                "amount_fen": amount})
    await _notify(s, m.user_id, m.group_id, reason)
    if payment is None or amount <= 0:  # nothing left to send back: the member is settled
        await _move_member(s, m.id, "refunded")
    return True


async def refund_arrived(s: AsyncSession, member_id: int, refund_id: int) -> bool:
    """The provider confirmed the money is back: book it on the order, which closes (fully refunded)."""
    m = await s.get(GroupMember, member_id)
    if m is None or not await _move_member(s, m.id, "refunded"):
        return False
    order = await orders.get_order(s, m.order_id)
    await s.refresh(order)
    lines = (await orders.lines_of(s, [m.order_id]))[m.order_id]
    goods_left = sum(x.paid_fen - x.refunded_fen for x in lines)
    shipping_left = max(order.total_fen - order.refunded_fen - goods_left, 0)
    open_lines = [x for x in lines if x.refunded_qty < x.quantity]
    for i, line in enumerate(open_lines):
        await orders.record_refund(s, m.order_id, line.id, line.quantity - line.refunded_qty,
                                   line.paid_fen - line.refunded_fen, shipping_fen=shipping_left if i == 0 else 0)
    await orders.log_event(s, m.order_id, "group_refund_arrived", data={"refund_id": refund_id})
    return True


async def _notify(s: AsyncSession, user_id: int, group_id: int, what: str) -> None:
    await outbox.emit(s, "groupbuy.notify", {"user_id": user_id, "group_id": group_id, "what": what})


async def on_aftersale_refund(s: AsyncSession, order_id: int) -> bool:
    """A seated member of a forming group got everything back through an after-sale (the order closed): they
    leave, and their seat is free again — the group never counts someone who is no longer paying. After the
    group succeeded, a refund is an ordinary after-sale and changes nothing here."""
    m = await member_of_order(s, order_id)
    if m is None or m.status != "joined" or (await orders.get_order(s, order_id)).status != "closed":
        return False
    if await guarded_update(s, update(Group).where(Group.id == m.group_id, Group.status == "forming",
                                                   Group.filled > 0).values(filled=Group.filled - 1)) != 1:
        return False
    if not await _move_member(s, m.id, "left", seated_at=None, refund_reason="aftersale", closed_at=clock.now()):
        raise RuntimeError(f"group member {m.id} changed while leaving")
    await _release_total(s, m)
    return True


# --- cancellation and expiry -------------------------------------------------------------------

async def on_cancelled(s: AsyncSession, order_id: int) -> bool:
    """An unpaid member order was cancelled (timeout, buyer, or us): free the person; a leader who never
    paid takes the group with them."""
    m = await member_of_order(s, order_id)
    if m is None:
        return False
    if m.is_leader:
        await _move_group(s, m.group_id, "cancelled", closed_at=clock.now())
    return await _member_cancelled(s, m)


async def _member_cancelled(s: AsyncSession, m: GroupMember) -> bool:
    if not await _move_member(s, m.id, "cancelled", only_from=["pending_payment"], closed_at=clock.now()):
        return False
    await _release_total(s, m)
    return True


async def due_groups(s: AsyncSession, now: datetime, limit: int = 200) -> list[int]:
    stmt = (select(Group.id).where(Group.status == "forming", Group.expires_at <= now)
            .order_by(Group.expires_at).limit(limit))
    return list((await s.execute(skip_locked(s, stmt))).scalars())


async def expire(s: AsyncSession, group_id: int, now: datetime) -> str | None:
    """The group's time is up. With honest completion configured and enough real people (at least two, and
    at least the configured share of the seats), the platform completes it: it succeeds as it is, marked
    `completed_by_platform`, and no member row is ever invented. Otherwise it fails: everyone is refunded."""
    group = await s.get(Group, group_id)
    if group is None:
        return None
    act = await get_activity(s, group.activity_id)
    due = Group.expires_at <= now
    if act.complete_ratio_bp and await _move_group(
        s, group_id, "succeeded", due, Group.filled >= 2, Group.filled * 10_000 >= act.complete_ratio_bp * Group.seats,
        completed_by_platform=True, closed_at=now,
    ):
        await _succeed(s, group_id, unpaid_reason="group_closed")
        return "completed_by_platform"
    if await _move_group(s, group_id, "failed", due, closed_at=now):
        await _fail(s, group_id)
        return "failed"
    return None


# --- reading -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Seat:
    user_id: int
    nickname: str
    avatar_url: str | None
    is_leader: bool
    seated_at: datetime


@dataclass(frozen=True)
class GroupView:
    group: Group
    activity: GroupActivity
    members: list[Seat] = field(default_factory=list)

    @property
    def seats_left(self) -> int:
        return self.group.seats - self.group.filled if self.group.status in OPEN_GROUP_STATES else 0


async def get_group(s: AsyncSession, group_id: int) -> Group:
    group = await s.get(Group, group_id)
    if group is None:
        raise GroupNotFound()
    return group


async def group_view(s: AsyncSession, group_id: int) -> GroupView:
    """What a buyer sees: the real people who took a seat (never anyone else), leader first."""
    group = await get_group(s, group_id)
    act = await get_activity(s, group.activity_id)
    rows = (await s.execute(
        select(GroupMember.user_id, GroupMember.is_leader, GroupMember.seated_at)
        .where(GroupMember.group_id == group_id, GroupMember.seated_at.is_not(None))
        .order_by(GroupMember.is_leader.desc(), GroupMember.seated_at, GroupMember.id))).all()
    who = await accounts.profiles(s, [uid for uid, _leader, _at in rows])  # nickname and avatar, never the phone
    seats = [Seat(uid, who[uid].nickname, who[uid].avatar_url, leader, at) for uid, leader, at in rows]
    return GroupView(group, act, seats)


async def membership(s: AsyncSession, group_id: int, user_id: int) -> GroupMember | None:
    """This person's place in this group, whatever became of it (one row per person and group)."""
    return (await s.execute(select(GroupMember).where(GroupMember.group_id == group_id,
                                                      GroupMember.user_id == user_id))).scalar_one_or_none()


async def groups_of_user(s: AsyncSession, user_id: int, limit: int = 50) -> list[tuple[Group, GroupMember]]:
    return [(g, m) for m, g in (await s.execute(
        select(GroupMember, Group).join(Group, Group.id == GroupMember.group_id)
        .where(GroupMember.user_id == user_id).order_by(GroupMember.id.desc()).limit(limit))).all()]


NUMBERS = ("groups_open", "groups_forming", "groups_succeeded", "groups_completed_by_platform", "groups_failed",
           "groups_cancelled", "members_paid_seated", "members_unpaid", "units_sold", "units_forming", "refunds",
           "refunds_pending", "refunds_no_seat", "refunded_fen")


async def numbers(s: AsyncSession, activity_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Per activity: groups open (leader unpaid or forming) / succeeded (of which completed by the platform) /
    failed / cancelled; members who paid and hold a seat, members not paid yet; units sold (in groups that
    succeeded) and units paid in groups still forming; refunds (members whose money goes or went back, how
    many of them because no seat was left, how many still on their way) and the amount. Grouped queries, whatever
    the number of activities."""
    ids = list(dict.fromkeys(activity_ids))
    out = {a: dict.fromkeys(NUMBERS, 0) for a in ids}
    if not ids:
        return out
    for aid, status, platform, n in (await s.execute(
        select(Group.activity_id, Group.status, Group.completed_by_platform, func.count())
        .where(Group.activity_id.in_(ids))
        .group_by(Group.activity_id, Group.status, Group.completed_by_platform)
    )).all():
        o, n = out[aid], int(n)
        if status in ("pending", "forming"):
            o["groups_open"] += n
        if status in ("forming", "succeeded", "failed", "cancelled"):
            o[f"groups_{status}"] += n
        if platform:
            o["groups_completed_by_platform"] += n
    lost_seat = ("group_full", "group_closed")
    for aid, status, reason, n, units, refunded in (await s.execute(
        select(GroupMember.activity_id, GroupMember.status, GroupMember.refund_reason, func.count(),
               func.coalesce(func.sum(GroupMember.quantity), 0), func.coalesce(func.sum(GroupMember.refund_fen), 0))
        .where(GroupMember.activity_id.in_(ids))
        .group_by(GroupMember.activity_id, GroupMember.status, GroupMember.refund_reason)
    )).all():
        o, n = out[aid], int(n)
        if status in ("joined", "succeeded"):
            o["members_paid_seated"] += n
            o["units_sold" if status == "succeeded" else "units_forming"] += int(units)
        elif status == "pending_payment":
            o["members_unpaid"] += n
        elif status in ("refunding", "refunded"):
            o["refunds"] += n
            o["refunded_fen"] += int(refunded)
            if status == "refunding":
                o["refunds_pending"] += n
        if reason in lost_seat:
            o["refunds_no_seat"] += n
    return out


async def stats(s: AsyncSession, activity_id: int) -> dict[str, int]:
    await get_activity(s, activity_id)
    return (await numbers(s, [activity_id]))[activity_id]


@dataclass(frozen=True)
class ActivitySummary:
    """One activity as the operator watches it: its terms, its SKUs and `numbers`."""

    activity: GroupActivity
    skus: list[GroupSku]
    numbers: dict[str, int]

    def state(self, now: datetime) -> str:
        a = self.activity
        return a.status if a.status != "active" else window_state(a.starts_at, a.ends_at, now)


async def console_summary(s: AsyncSession, *, limit: int = 100) -> list[ActivitySummary]:
    """The latest activities, newest first, with their numbers."""
    acts = list((await s.execute(select(GroupActivity).order_by(GroupActivity.id.desc()).limit(limit))).scalars())
    ids = [a.id for a in acts]
    skus = await skus_of(s, ids)
    counts = await numbers(s, ids)
    return [ActivitySummary(a, skus[a.id], counts[a.id]) for a in acts]
