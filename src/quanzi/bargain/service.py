"""Bargain rules (DOMAIN_RULES §3): cuts random in [min, max] (never the floor as a lower bound) or
fixed, the initiator's first cut, the last required helper takes the remainder — so the cuts always
sum exactly to start − floor; one help per person per bargain; per-person caps; launches expire; a
successful bargain must be bought within its payment window; the whole feature behind a switch
(WeChat's external-link rules penalise assist links).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.bargain.errors import (
    ActivityClosed,
    AlreadyHelped,
    BadConfig,
    BargainDisabled,
    BargainNotFound,
    FloorNotReached,
    HelpLimit,
    LaunchLimit,
    NotActive,
    SelfHelp,
)
from quanzi.bargain.models import Bargain, BargainActivity, BargainHelp, BargainUserTotal
from quanzi.cart import service as cart
from quanzi.catalog import service as catalog
from quanzi.catalog.errors import SkuUnavailable
from quanzi.kit import outbox
from quanzi.kit.clock import clock, window_state
from quanzi.kit.db import Database, guarded_update, insert_ignore, skip_locked
from quanzi.orders import service as orders
from quanzi.orders.models import Order
from quanzi.orders.service import Wanted
from quanzi.policy import service as policy
from quanzi.policy.service import Section


class BargainPolicy(Section):
    key: ClassVar[str] = "bargain"
    enabled: bool = True


def _bad(zh: str, en: str, field: str) -> BadConfig:
    return BadConfig({"zh": f"砍价设置不可行：{zh}", "en": f"These bargain settings cannot work: {en}"}, field=field)


def check_config(total: int, helpers: int, mode: str, cut_min: int, cut_max: int, first_cut: int) -> None:
    """Refuse settings that cannot add up to exactly start − floor (`total`, in fen)."""
    if mode not in ("random", "fixed"):
        raise _bad("砍价方式只能是随机或固定", "the cut mode is random or fixed", "cut_mode")
    if helpers < 1:
        raise _bad("至少需要 1 位好友帮砍", "at least 1 helper is needed", "helpers_needed")
    if cut_min < 1 or (mode == "random" and cut_max < cut_min):
        raise _bad("每刀至少 0.01 元，且最大值不能小于最小值", "each cut is at least 0.01 and the largest cut "
                   "cannot be smaller than the smallest", "cut_min_fen")
    rest = total - first_cut
    if first_cut < 0 or rest < helpers:
        raise _bad("发起人首刀太大，留给好友砍的不够", "the initiator's first cut leaves too little for the helpers",
                   "first_cut_fen")
    if mode == "fixed" and rest - (helpers - 1) * cut_min < 1:
        raise _bad("固定每刀金额乘以人数超过了可砍金额", "fixed cuts for every helper exceed the amount to cut",
                   "cut_min_fen")
    if mode == "random" and not (helpers * cut_min <= rest <= helpers * cut_max):
        amount = f"{rest // 100}.{rest % 100:02d}"
        raise _bad(f"{helpers} 位好友每刀在最小与最大值之间，凑不出要砍的 {amount} 元",
                   f"{helpers} cuts between the smallest and the largest cut cannot make {amount} yuan", "cut_max_fen")


def plan_cuts(total: int, helpers: int, mode: str, cut_min: int, cut_max: int, first_cut: int,
              rng: random.Random) -> list[int]:
    """[initiator's first cut, helper 1, …, helper n]; sums exactly to `total`; the last takes the rest."""
    check_config(total, helpers, mode, cut_min, cut_max, first_cut)
    cuts = [first_cut]
    rest = total - first_cut
    for i in range(1, helpers):
        left_after = helpers - i
        if mode == "fixed":
            cut = cut_min
        else:
            lo = max(cut_min, rest - left_after * cut_max)
            hi = min(cut_max, rest - left_after * cut_min)
            cut = rng.randint(lo, hi)
        cuts.append(cut)
        rest -= cut
    cuts.append(rest)
    return cuts


async def is_enabled(s: AsyncSession) -> bool:
    return (await policy.get(s, BargainPolicy)).enabled


async def set_enabled(s: AsyncSession, enabled: bool, actor_id: int | None) -> None:
    """Switch the whole feature on or off (audited by the policy service)."""
    await policy.put(s, BargainPolicy, {"enabled": enabled}, actor_id)


async def _enabled(s: AsyncSession) -> None:
    if not await is_enabled(s):
        raise BargainDisabled()


async def create_activity(s: AsyncSession, *, title: str, product_id: int, sku_id: int, start_price_fen: int,
                          floor_price_fen: int, helpers_needed: int, cut_mode: str, cut_min_fen: int,
                          cut_max_fen: int, first_cut_fen: int = 0, helps_per_user: int = 1,
                          launches_per_user: int = 1, launch_hours: int = 24, pay_hours: int = 24,
                          allow_buy_above_floor: bool = False, commission_enabled: bool = False,
                          starts_at: datetime, ends_at: datetime) -> BargainActivity:
    if not (0 < floor_price_fen < start_price_fen):
        raise _bad("底价必须大于 0 且低于原价", "the floor price must be above 0 and below the start price",
                   "floor_price_fen")
    if ends_at <= starts_at:
        raise _bad("结束时间必须晚于开始时间", "the activity must end after it starts", "ends_at")
    if ends_at <= clock.now():
        raise _bad("结束时间已经过去，请选以后的时间", "that end time has already passed: pick a later one", "ends_at")
    _product, skus = await catalog.published_product(s, product_id)
    if sku_id not in {k.id for k in skus}:
        raise SkuUnavailable(sku_id=sku_id)
    check_config(start_price_fen - floor_price_fen, helpers_needed, cut_mode, cut_min_fen, cut_max_fen, first_cut_fen)
    a = BargainActivity(title=title, product_id=product_id, sku_id=sku_id, start_price_fen=start_price_fen,
                        floor_price_fen=floor_price_fen, helpers_needed=helpers_needed, cut_mode=cut_mode,
                        cut_min_fen=cut_min_fen, cut_max_fen=cut_max_fen, first_cut_fen=first_cut_fen,
                        helps_per_user=helps_per_user, launches_per_user=launches_per_user,
                        launch_hours=launch_hours, pay_hours=pay_hours, allow_buy_above_floor=allow_buy_above_floor,
                        commission_enabled=commission_enabled, starts_at=starts_at, ends_at=ends_at, status="active")
    s.add(a)
    await s.flush()
    return a


async def _count_up(s: AsyncSession, activity_id: int, user_id: int, field: str, limit: int) -> bool:
    await insert_ignore(s, BargainUserTotal, {"activity_id": activity_id, "user_id": user_id, "launches": 0,
                                              "helps": 0}, ["activity_id", "user_id"])
    col = getattr(BargainUserTotal, field)
    return await guarded_update(s, update(BargainUserTotal).where(
        BargainUserTotal.activity_id == activity_id, BargainUserTotal.user_id == user_id, col < limit,
    ).values({field: col + 1})) == 1


async def launch(s: AsyncSession, user_id: int, activity_id: int, rng: random.Random | None = None) -> Bargain:
    await _enabled(s)
    a = await s.get(BargainActivity, activity_id)
    now = clock.now()
    if a is None:
        raise BargainNotFound()
    if a.status != "active" or not (a.starts_at <= now < a.ends_at):
        raise ActivityClosed()
    if not await _count_up(s, a.id, user_id, "launches", a.launches_per_user):
        raise LaunchLimit(limit=a.launches_per_user)
    plan = plan_cuts(a.start_price_fen - a.floor_price_fen, a.helpers_needed, a.cut_mode, a.cut_min_fen,
                     a.cut_max_fen, a.first_cut_fen, rng or random.SystemRandom())
    b = Bargain(activity_id=a.id, initiator_id=user_id, plan=plan, helpers_count=0,
                current_price_fen=a.start_price_fen - plan[0], status="active",
                expires_at=min(now + timedelta(hours=a.launch_hours), a.ends_at), created_at=now)
    s.add(b)
    await s.flush()
    return b


async def help_cut(s: AsyncSession, helper_id: int, bargain_id: int) -> BargainHelp:
    """Take the next cut of the plan: one guarded UPDATE decides the position, the unique (bargain,
    helper) row makes a second help by the same person impossible."""
    await _enabled(s)
    b = await s.get(Bargain, bargain_id)
    if b is None:
        raise BargainNotFound()
    if b.initiator_id == helper_id:
        raise SelfHelp()
    a = await s.get(BargainActivity, b.activity_id)
    assert a is not None
    now = clock.now()
    for _ in range(5):  # another helper may take the position we read; read again and retry
        await s.refresh(b)
        if b.status != "active" or b.expires_at <= now:
            raise NotActive(status=b.status if b.status != "active" else "expired")
        seq = b.helpers_count + 1
        cut = int(b.plan[seq])
        done = seq == a.helpers_needed
        moved = await guarded_update(s, update(Bargain).where(
            Bargain.id == b.id, Bargain.helpers_count == seq - 1, Bargain.status == "active",
        ).values(helpers_count=seq, current_price_fen=Bargain.current_price_fen - cut,
                 status="succeeded" if done else "active",
                 pay_by=now + timedelta(hours=a.pay_hours) if done else None))
        if moved == 1:
            break
    else:
        raise NotActive(status="busy")
    help_row = BargainHelp(bargain_id=b.id, activity_id=a.id, helper_id=helper_id, seq=seq, cut_fen=cut, at=now)
    try:
        async with s.begin_nested():
            s.add(help_row)
            await s.flush()
    except IntegrityError as exc:
        raise AlreadyHelped() from exc
    if not await _count_up(s, a.id, helper_id, "helps", a.helps_per_user):
        raise HelpLimit(limit=a.helps_per_user)
    if done:
        await outbox.emit(s, "bargain.floor_reached", {"bargain_id": b.id, "user_id": b.initiator_id})
    return help_row


async def buy(s: AsyncSession, user_id: int, bargain_id: int, address_id: int) -> Order:
    await _enabled(s)
    b = await s.get(Bargain, bargain_id)
    if b is None or b.initiator_id != user_id:
        raise BargainNotFound()
    a = await s.get(BargainActivity, b.activity_id)
    assert a is not None
    now = clock.now()
    if b.status == "active" and not a.allow_buy_above_floor:
        raise FloorNotReached(left=a.helpers_needed - b.helpers_count)
    if b.status not in ("active", "succeeded") or (b.pay_by is not None and b.pay_by <= now) or b.expires_at <= now \
            and b.status == "active":
        raise NotActive(status=b.status)
    address = await cart.owned_address(s, user_id, address_id)
    if await guarded_update(s, update(Bargain).where(Bargain.id == b.id, Bargain.status == b.status)
                            .values(status="purchased")) != 1:
        raise NotActive(status="changed")
    [order] = await orders.place_orders(s, user_id, [Wanted(a.sku_id, 1, None)], address, kind="bargain",
                                        prices={a.sku_id: b.current_price_fen},
                                        commission_eligible=a.commission_enabled)
    await s.execute(update(Bargain).where(Bargain.id == b.id).values(order_id=order.id))
    return order


async def expire_due(db: Database, now: datetime) -> int:
    """Launch windows and payment windows that passed: the bargain expires (yudao never expires them)."""
    async with db.write() as s:
        stmt = select(Bargain.id).where(
            ((Bargain.status == "active") & (Bargain.expires_at <= now))
            | ((Bargain.status == "succeeded") & (Bargain.pay_by <= now))).limit(500)
        ids = list((await s.execute(skip_locked(s, stmt))).scalars())
        if ids:
            await s.execute(update(Bargain).where(Bargain.id.in_(ids), Bargain.status.in_(("active", "succeeded")))
                            .values(status="expired"))
    return len(ids)


async def detail(s: AsyncSession, bargain_id: int) -> tuple[Bargain, BargainActivity, list[BargainHelp]]:
    b = await s.get(Bargain, bargain_id)
    if b is None:
        raise BargainNotFound()
    a = await s.get(BargainActivity, b.activity_id)
    assert a is not None
    helps = list((await s.execute(select(BargainHelp).where(BargainHelp.bargain_id == b.id)
                                  .order_by(BargainHelp.seq))).scalars())
    return b, a, helps


async def activities(s: AsyncSession) -> list[BargainActivity]:
    now = clock.now()
    return list((await s.execute(select(BargainActivity).where(BargainActivity.status == "active",
                                                               BargainActivity.ends_at > now)
                                 .order_by(BargainActivity.id))).scalars())


@dataclass(frozen=True)
class ActivitySummary:
    """One activity as the operator watches it. `succeeded` counts every launch that reached the floor,
    bought or not; `purchased` those bought; `expired` those whose launch or payment window passed."""

    activity: BargainActivity
    launched: int
    active: int
    succeeded: int
    expired: int
    purchased: int

    def state(self, now: datetime) -> str:
        a = self.activity
        return a.status if a.status != "active" else window_state(a.starts_at, a.ends_at, now)


async def console_summary(s: AsyncSession, *, limit: int = 100) -> list[ActivitySummary]:
    """The latest activities, newest first, with how their launches went (one grouped query)."""
    acts = list((await s.execute(select(BargainActivity).order_by(BargainActivity.id.desc()).limit(limit))).scalars())
    counts: dict[int, dict[str, int]] = {a.id: {} for a in acts}
    if acts:
        for aid, status, n in (await s.execute(
            select(Bargain.activity_id, Bargain.status, func.count())
            .where(Bargain.activity_id.in_(list(counts))).group_by(Bargain.activity_id, Bargain.status)
        )).all():
            counts[aid][status] = int(n)
    return [ActivitySummary(a, launched=sum(c.values()), active=c.get("active", 0),
                            succeeded=c.get("succeeded", 0) + c.get("purchased", 0), expired=c.get("expired", 0),
                            purchased=c.get("purchased", 0))
            for a in acts for c in [counts[a.id]]]


async def launched_by(s: AsyncSession, user_id: int, limit: int = 20) -> list[tuple[Bargain, BargainActivity]]:
    """A person's own bargains, newest first, with their activities (the "我的" page)."""
    return [(b, a) for b, a in (await s.execute(
        select(Bargain, BargainActivity).join(BargainActivity, BargainActivity.id == Bargain.activity_id)
        .where(Bargain.initiator_id == user_id).order_by(Bargain.id.desc()).limit(limit))).all()]
