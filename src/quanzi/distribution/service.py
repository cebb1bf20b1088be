"""Distribution rules (DOMAIN_RULES §1, §8): who distributes, levels, commission accrual at payment
(pending), unlock after the freeze that starts the day after receipt, reversal per line on refund with
any shortfall carried as debt, and the reports a shopkeeper sees.

Lawful by construction: at most two levels; commission only from real paid sales; nothing for
registrations or bindings; status never bought and never earned by head-count.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.distribution.errors import (
    AlreadyApplied,
    DistributorNotFound,
    HeadcountCriteria,
    PaidStatus,
    UnknownCriterion,
)
from quanzi.distribution.models import Commission, Distributor, DistributorLevel, SkuCommissionRule
from quanzi.distribution.policy import DistributionPolicy
from quanzi.kit import cache, outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database, guarded_update, insert_ignore, skip_locked
from quanzi.ledger import service as ledger
from quanzi.ledger.service import platform, user
from quanzi.policy import service as policy
from quanzi.policy.service import CommercePolicy
from quanzi.shops import service as shops

ALLOWED_CRITERIA = {"attributed_sales_fen": "min_sales_fen", "commission_fen": "min_commission_fen"}
HEADCOUNT_CRITERIA = {"recruits", "invitees", "team_size", "downline_count", "fans", "team_sales_fen", "referrals"}
PAID_CRITERIA = {"own_purchase_fen", "own_spend_fen", "fee_fen", "package", "membership_fee_fen", "deposit_fen"}


# --- policy -------------------------------------------------------------------------------------

async def get_policy(s: AsyncSession) -> DistributionPolicy:
    window = (await policy.get(s, CommercePolicy)).return_window_days
    stored = await policy.stored_value(s, DistributionPolicy.key)
    values: dict[str, Any] = {**DistributionPolicy(return_window_days=window, freeze_days=max(7, window))
                              .model_dump(), **(stored or {})}
    values["return_window_days"] = window
    values["freeze_days"] = max(values["freeze_days"], window)
    return DistributionPolicy.model_validate(values)


async def put_policy(s: AsyncSession, values: dict[str, Any], actor_id: int | None) -> DistributionPolicy:
    window = (await policy.get(s, CommercePolicy)).return_window_days
    values = {**values, "return_window_days": window}
    await get_policy(s)  # make sure the stored document is readable
    return await policy.put(s, DistributionPolicy, values, actor_id)


# --- distributors -------------------------------------------------------------------------------

# Whether someone is an active distributor is asked by every attributed checkout and changes when they join
# or an operator decides: cached in the process (kit/cache.py). Only the status counts: the running totals
# and level that the unlock sweep keeps do not invalidate it.
cache.watch("distributors", Distributor.__tablename__,
            ignore={"level_rank", "unlocked_sales_fen", "unlocked_commission_fen", "note"})
ACTIVE = cache.Cached("distribution.active", on=("distributors",))


async def is_active_distributor(s: AsyncSession, user_id: int) -> bool:
    async def load() -> bool:
        return (await s.execute(select(Distributor.status).where(Distributor.user_id == user_id))).scalar() == "active"

    return await ACTIVE.get(s, user_id, load)


# A distributor's fans are bindings, which referrals owns (it sits above distribution and registers these
# at load): (session, user) → (level-1 count, level-2 count), and (session, user, level, limit) → the fans.
FanCounts = Callable[[AsyncSession, int], Awaitable[tuple[int, int]]]
FanList = Callable[[AsyncSession, int, int, int], Awaitable[list[Any]]]
_fan_counts: FanCounts | None = None
_fan_list: FanList | None = None


def register_fans(counts: FanCounts, listing: FanList) -> None:
    global _fan_counts, _fan_list
    _fan_counts, _fan_list = counts, listing


async def fan_counts(s: AsyncSession, user_id: int) -> tuple[int, int]:
    return await _fan_counts(s, user_id) if _fan_counts else (0, 0)


async def fans(s: AsyncSession, user_id: int, level: int, limit: int = 200) -> list[Any]:
    """Bindings (fan_id, bound_at, expires_at) of my level-1 or level-2 fans."""
    return await _fan_list(s, user_id, level, limit) if _fan_list else []


async def get_distributor(s: AsyncSession, user_id: int) -> Distributor | None:
    return await s.get(Distributor, user_id)


async def join(s: AsyncSession, user_id: int, note: str = "") -> Distributor:
    """Become a distributor: immediately when everyone may distribute, else an application to approve.
    Free of charge and without any purchase (禁止传销条例 Art. 7)."""
    pol = await get_policy(s)
    status = "active" if pol.who_may == "everyone" else "pending"
    created = await insert_ignore(s, Distributor, {"user_id": user_id, "status": status, "level_rank": 0,
                                                   "note": note, "created_at": clock.now()}, ["user_id"])
    d = await s.get(Distributor, user_id)
    assert d is not None
    if not created and d.status in ("rejected",) and status == "pending":
        d.status, d.note = "pending", note
    elif not created and d.status not in ("active",):
        raise AlreadyApplied(status=d.status)
    return d


@shops.shop_opened.register
async def _join_when_a_shop_opens(s: AsyncSession, owner_id: int) -> None:
    await join(s, owner_id)


async def decide(s: AsyncSession, user_id: int, status: str, actor_id: int, note: str = "") -> Distributor:
    """Operator: approve (active), reject, freeze, revoke, or reactivate a distributor."""
    from quanzi.audit.service import record

    d = await s.get(Distributor, user_id)
    if d is None:
        raise DistributorNotFound()
    old = d.status
    d.status, d.decided_at, d.decided_by = status, clock.now(), actor_id
    if note:
        d.note = note
    record(s, actor_id, f"distributor.{status}", "distributors", user_id, {"status": [old, status], "note": note})
    return d


async def list_distributors(s: AsyncSession, status: str | None = None, limit: int = 200) -> list[Distributor]:
    stmt = select(Distributor).order_by(Distributor.created_at.desc()).limit(limit)
    if status:
        stmt = stmt.where(Distributor.status == status)
    return list((await s.execute(stmt)).scalars())


# --- levels -------------------------------------------------------------------------------------

def validate_criteria(criteria: Sequence[dict[str, Any]]) -> dict[str, int]:
    """Level criteria may only be own attributed sales or own commission."""
    out = {"min_sales_fen": 0, "min_commission_fen": 0}
    for c in criteria:
        kind = str(c.get("type", ""))
        if kind in HEADCOUNT_CRITERIA:
            raise HeadcountCriteria(kind=kind)
        if kind in PAID_CRITERIA:
            raise PaidStatus(kind=kind)
        if kind not in ALLOWED_CRITERIA:
            raise UnknownCriterion(kind=kind)
        out[ALLOWED_CRITERIA[kind]] = int(c.get("threshold", 0))
    return out


async def put_level(s: AsyncSession, *, rank: int, name: str, l1_bp: int, l2_bp: int,
                    criteria: Sequence[dict[str, Any]], actor_id: int) -> DistributorLevel:
    from quanzi.audit.service import record
    from quanzi.distribution.errors import RateCapExceeded

    pol = await get_policy(s)
    if l1_bp + (l2_bp if pol.levels == 2 else 0) > pol.platform_cap_bp:
        raise RateCapExceeded(total=l1_bp + l2_bp, cap=pol.platform_cap_bp)
    thresholds = validate_criteria(criteria)
    level = (await s.execute(select(DistributorLevel).where(DistributorLevel.rank == rank))).scalar_one_or_none()
    if level is None:
        level = DistributorLevel(rank=rank, name=name, l1_bp=l1_bp, l2_bp=l2_bp, **thresholds)
        s.add(level)
    else:
        level.name, level.l1_bp, level.l2_bp = name, l1_bp, l2_bp
        level.min_sales_fen, level.min_commission_fen = thresholds["min_sales_fen"], thresholds["min_commission_fen"]
    await s.flush()
    record(s, actor_id, "distribution.level", "distributor_levels", rank,
           {"name": name, "l1_bp": l1_bp, "l2_bp": l2_bp, **thresholds})
    return level


async def levels(s: AsyncSession) -> list[DistributorLevel]:
    return list((await s.execute(select(DistributorLevel).order_by(DistributorLevel.rank))).scalars())


async def rates_for(s: AsyncSession, user_id: int, pol: DistributionPolicy) -> tuple[int, int]:
    d = await s.get(Distributor, user_id)
    if d is not None and d.level_rank:
        lvl = (await s.execute(select(DistributorLevel).where(DistributorLevel.rank == d.level_rank))).scalar_one_or_none()
        if lvl is not None:
            return lvl.l1_bp, lvl.l2_bp
    return pol.level1_bp, pol.level2_bp


async def maybe_upgrade(s: AsyncSession, user_ids: Sequence[int]) -> None:
    """Raise distributors' levels when their own unlocked sales or commission reach a threshold.
    Never on purchases, never on head-count; never downgrades automatically."""
    lvls = await levels(s)
    if not lvls or not user_ids:
        return
    for d in (await s.execute(select(Distributor).where(Distributor.user_id.in_(list(user_ids)),
                                                        Distributor.status == "active"))).scalars():
        best = d.level_rank
        for lvl in lvls:
            if (lvl.rank > best and d.unlocked_sales_fen >= lvl.min_sales_fen
                    and d.unlocked_commission_fen >= lvl.min_commission_fen):
                best = lvl.rank
        if best != d.level_rank:
            d.level_rank = best


async def own_totals(s: AsyncSession, user_id: int) -> tuple[int, int]:
    """(own attributed sales unlocked, own commission unlocked) — the only inputs to a level upgrade."""
    d = await s.get(Distributor, user_id)
    return (int(d.unlocked_sales_fen), int(d.unlocked_commission_fen)) if d else (0, 0)


# --- commission ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class LineForCommission:
    line_id: int
    sku_id: int
    quantity: int
    paid_fen: int


def amount_for(base_fen: int, quantity: int, bp: int, fixed_fen: int) -> tuple[int, str]:
    """Percentage of what was actually paid for the line (rounded down: sub-fen amounts are dropped, the
    platform never over-pays), or a fixed amount per unit — never more than the line itself."""
    if fixed_fen > 0:
        return min(fixed_fen * quantity, base_fen), f"fixed:{fixed_fen}x{quantity}"
    return base_fen * bp // 10_000, f"rate:{bp}bp"


async def accrue(s: AsyncSession, *, order_id: int, buyer_id: int, level1_id: int | None, level2_id: int | None,
                 eligible: bool, lines: Sequence[LineForCommission]) -> int:
    """At payment: record pending commission per line and level, and book it in the ledger. Idempotent."""
    if not eligible or level1_id is None:
        return 0
    pol = await get_policy(s)
    if not pol.enabled:
        return 0
    fixed = {r.sku_id: r for r in (await s.execute(select(SkuCommissionRule).where(
        SkuCommissionRule.sku_id.in_([x.sku_id for x in lines])))).scalars()}
    now = clock.now()
    total = 0
    for level, who in ((1, level1_id), (2, level2_id)):
        if who is None or level > pol.levels or not await is_active_distributor(s, who):
            continue
        l1_bp, l2_bp = await rates_for(s, who, pol)
        level_total = 0
        for line in lines:
            rule = fixed.get(line.sku_id)
            amount, how = amount_for(line.paid_fen, line.quantity, l1_bp if level == 1 else l2_bp,
                                     (rule.l1_fixed_fen if level == 1 else rule.l2_fixed_fen) if rule else 0)
            if amount <= 0:
                continue
            if await insert_ignore(s, Commission, {
                "order_id": order_id, "line_id": line.line_id, "beneficiary_id": who, "buyer_id": buyer_id,
                "level": level, "base_fen": line.paid_fen, "rule": how, "amount_fen": amount, "reversed_fen": 0,
                "status": "pending", "open_aftersales": 0, "created_at": now,
            }, ["line_id", "level"]):
                level_total += amount
        if level_total:
            await ledger.post(s, "commission.accrue", f"order:{order_id}:L{level}",
                              [user(who, "pending", level_total), platform("commission_expense", -level_total)],
                              reason=f"commission level {level} on order {order_id}")
            total += level_total
    return total


@dataclass(frozen=True)
class LeaderLine:
    order_id: int
    buyer_id: int
    line_id: int
    paid_fen: int


async def accrue_leader(s: AsyncSession, *, leader_id: int, bp: int, ref: str, lines: Sequence[LeaderLine]) -> int:
    """A group leader's reward (拼团团长佣金): `bp` of what each member paid for a line, booked as level 0 —
    not a distribution level (no binding, no chain), yet frozen, unlocked and reversed on refund exactly like
    commission. Only real paid lines count. Idempotent per line."""
    if bp <= 0:
        return 0
    now = clock.now()
    total = 0
    for line in lines:
        amount, how = amount_for(line.paid_fen, 1, bp, 0)
        if amount > 0 and await insert_ignore(s, Commission, {
            "order_id": line.order_id, "line_id": line.line_id, "beneficiary_id": leader_id,
            "buyer_id": line.buyer_id, "level": 0, "base_fen": line.paid_fen, "rule": f"leader:{how}",
            "amount_fen": amount, "reversed_fen": 0, "status": "pending", "open_aftersales": 0, "created_at": now,
        }, ["line_id", "level"]):
            total += amount
    if total:
        await ledger.post(s, "commission.accrue", f"{ref}:L0",
                          [user(leader_id, "pending", total), platform("commission_expense", -total)],
                          reason=f"group leader reward ({ref})")
    return total


async def schedule_unlock(s: AsyncSession, order_id: int, received_at: datetime) -> None:
    """The freeze runs from the day after receipt, like the 7-day no-reason window it must cover."""
    from quanzi.orders.service import return_deadline

    pol = await get_policy(s)
    await s.execute(update(Commission).where(Commission.order_id == order_id, Commission.status == "pending")
                    .values(unlock_at=return_deadline(received_at, pol.freeze_days)))


async def hold(s: AsyncSession, line_id: int, delta: int) -> None:
    """An after-sale opened (+1) or closed (−1) on a line."""
    stmt = update(Commission).where(Commission.line_id == line_id)
    if delta < 0:
        stmt = stmt.where(Commission.open_aftersales > 0)
    await s.execute(stmt.values(open_aftersales=Commission.open_aftersales + delta))


def _open_aftersale_on(line_id: Any) -> Any:
    """An after-sale request is open on the line. Read from the request itself, not only from the hold counter
    that outbox handlers keep: a sweep running between a request and the delivery of its event must hold too."""
    from quanzi.aftersales import service as aftersales  # aftersales → orders → … : imported when used

    return aftersales.open_on_line(line_id)


def _batch_ref(ids: Sequence[int]) -> str:
    return hashlib.sha256(",".join(map(str, sorted(ids))).encode()).hexdigest()[:32]


async def unlock_due(db: Database, now: datetime, batch: int = 20_000) -> int:
    """Sweep: pending commissions past their unlock time with no open after-sale become available, one
    batch per transaction: a single UPDATE … RETURNING claims the batch (SKIP LOCKED on PostgreSQL so
    several workers share the work), the ledger gets one balanced posting per batch, running totals and
    levels follow, and any debt is repaid first from what unlocked."""
    t = Commission.__table__
    done = 0
    while True:
        async with db.write() as s:
            due = (select(t.c.id).where(t.c.status == "pending", t.c.unlock_at <= now, t.c.open_aftersales == 0,
                                        ~_open_aftersale_on(t.c.line_id))
                   .order_by(t.c.id).limit(batch))
            due = skip_locked(s, due)
            claimed = (await (await s.connection()).execute(
                t.update().where(t.c.id.in_(due.scalar_subquery()), t.c.status == "pending")
                .values(status="available", available_at=now)
                .returning(t.c.id, t.c.beneficiary_id, t.c.amount_fen - t.c.reversed_fen, t.c.level, t.c.base_fen,
                           t.c.buyer_id)
            )).all()
            if not claimed:
                return done
            unlocked: dict[int, int] = defaultdict(int)
            earned: dict[int, int] = defaultdict(int)
            sales: dict[int, int] = defaultdict(int)
            for _id, uid, amount, level, base, buyer in claimed:
                unlocked[uid] += int(amount)
                if buyer == uid:
                    continue  # a self-purchase rebate is paid, but own purchases never count towards a level
                earned[uid] += int(amount)
                if level == 1:
                    sales[uid] += int(base)
            legs = []
            for uid, amount in unlocked.items():
                legs += [user(uid, "pending", -amount), user(uid, "available", amount)]
            batch_ref = _batch_ref([r[0] for r in claimed])
            await ledger.post(s, "commission.unlock", batch_ref, legs,
                              reason=f"{len(claimed)} commissions unlocked")
            d = Distributor.__table__
            await (await s.connection()).execute(
                d.update().where(d.c.user_id == bindparam("uid")).values(
                    unlocked_commission_fen=d.c.unlocked_commission_fen + bindparam("earned"),
                    unlocked_sales_fen=d.c.unlocked_sales_fen + bindparam("sales")),
                [{"uid": uid, "earned": amount, "sales": sales[uid]} for uid, amount in earned.items()])
            await repay_debts(s, list(unlocked), ref=batch_ref)
            await maybe_upgrade(s, list(earned))
            for uid, amount in unlocked.items():
                await outbox.emit(s, "commission.available", {"user_id": uid, "amount_fen": amount, "batch": batch_ref})
            done += len(claimed)


async def repay_debts(s: AsyncSession, user_ids: Sequence[int], ref: str | None = None) -> None:
    """Repay debts from what is available. `ref` names the business event (an unlock batch) so that every
    repayment is posted once per event — never keyed by the clock, which two sweeps may read alike."""
    from quanzi.ledger.models import LedgerAccount

    if not user_ids:
        return
    rows = (await s.execute(select(LedgerAccount.owner_id, LedgerAccount.kind, LedgerAccount.balance_fen).where(
        LedgerAccount.owner_type == "user", LedgerAccount.owner_id.in_(user_ids),
        LedgerAccount.kind.in_(("available", "debt"))))).all()
    bal: dict[int, dict[str, int]] = defaultdict(dict)
    for uid, kind, b in rows:
        bal[uid][kind] = int(b)
    for uid, b in bal.items():
        pay = min(b.get("available", 0), -b.get("debt", 0))
        if pay > 0:
            await ledger.post(s, "debt.repay", f"{ref or clock.now().isoformat()}:{uid}:{pay}",
                              [user(uid, "available", -pay), user(uid, "debt", pay)], reason="debt repaid from commission")


async def reverse_for_line(s: AsyncSession, line_id: int, paid_fen: int, refunded_fen: int, ref: str) -> int:
    """A refund on a line takes back the commission in proportion (what is kept is rounded down), whether
    pending or available. What cannot be taken from the balance becomes a debt (never silently absorbed)."""
    total = 0
    # Locked (PostgreSQL) and re-read, so a concurrent unlock cannot leave us with a stale status.
    for c in (await s.execute(select(Commission).where(Commission.line_id == line_id)
                              .order_by(Commission.level).with_for_update()
                              .execution_options(populate_existing=True))).scalars():
        # Read before the UPDATE below: the ORM synchronises `c` with the new values (status "reversed").
        was_status, was_reversed = c.status, c.reversed_fen
        kept = c.amount_fen * max(paid_fen - refunded_fen, 0) // paid_fen if paid_fen else 0
        target = c.amount_fen - kept
        delta = target - was_reversed
        if delta <= 0:
            continue
        changed = await guarded_update(s, update(Commission).where(
            Commission.id == c.id, Commission.reversed_fen == was_reversed, Commission.status == was_status,
        ).values(reversed_fen=target, status="reversed" if kept == 0 else Commission.status))
        if changed != 1:  # changed under us: roll back and let the outbox retry with fresh rows
            raise RuntimeError(f"commission {c.id} changed during its reversal")
        if was_status == "pending":
            legs = [user(c.beneficiary_id, "pending", -delta), platform("commission_expense", delta)]
        else:
            available = await ledger.balance(s, c.beneficiary_id, "available")
            take = min(available, delta)
            legs = [user(c.beneficiary_id, "available", -take), user(c.beneficiary_id, "debt", -(delta - take)),
                    platform("commission_expense", delta)]
        await ledger.post(s, "commission.reverse", f"{ref}:c{c.id}", legs, reason=f"refund on line {line_id}")
        total += delta
    return total


# --- reports ------------------------------------------------------------------------------------

async def commissions_of(s: AsyncSession, user_id: int, limit: int = 100) -> list[Commission]:
    return list((await s.execute(select(Commission).where(Commission.beneficiary_id == user_id)
                                 .order_by(Commission.id.desc()).limit(limit))).scalars())


async def earned_since(s: AsyncSession, user_id: int, since: datetime | None) -> int:
    stmt = select(func.coalesce(func.sum(Commission.amount_fen - Commission.reversed_fen), 0)).where(
        Commission.beneficiary_id == user_id)
    if since is not None:
        stmt = stmt.where(Commission.created_at >= since)
    return int((await s.execute(stmt)).scalar_one())


async def daily_earnings(s: AsyncSession, user_id: int, since: datetime) -> dict[str, int]:
    from quanzi.orders.service import CHINA

    rows = (await s.execute(select(Commission.created_at, Commission.amount_fen - Commission.reversed_fen).where(
        Commission.beneficiary_id == user_id, Commission.created_at >= since))).all()
    out: dict[str, int] = defaultdict(int)
    for at, amount in rows:
        out[at.astimezone(CHINA).strftime("%Y-%m-%d")] += int(amount)
    return dict(out)


async def ranking(s: AsyncSession, by: str = "earnings", limit: int = 20) -> list[tuple[int, int]]:
    """Top distributors by own attributed sales (level-1 line amounts) or by commission earned."""
    if by == "sales":
        value = func.sum(Commission.base_fen)
        stmt = select(Commission.beneficiary_id, value).where(Commission.level == 1)
    else:
        value = func.sum(Commission.amount_fen - Commission.reversed_fen)
        stmt = select(Commission.beneficiary_id, value)
    rows = (await s.execute(stmt.where(Commission.status != "reversed").group_by(Commission.beneficiary_id)
                            .order_by(value.desc()).limit(limit))).all()
    return [(int(u), int(v)) for u, v in rows]
