"""Binding rules (DOMAIN_RULES §1): only through a signed share token; modes first-touch, time-bound and
always-override; scope all users or new users only (proven by the account-creation event); a
protection period; no self-binding and no cycle of any length. Orders snapshot their attribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.distribution import service as distribution
from quanzi.distribution.policy import DistributionPolicy
from quanzi.kit import cache
from quanzi.kit.clock import clock
from quanzi.kit.db import guarded_update, insert_ignore
from quanzi.orders import service as orders
from quanzi.referrals.models import Binding, BindingEvent, ShareVisit
from quanzi.kit.sharetokens import ShareToken

MAX_CHAIN = 10_000


@dataclass(frozen=True)
class Attribution:
    """Who earns from an order: level 1 and level 2 (never more)."""

    level1_id: int | None
    level2_id: int | None


def is_active(b: Binding | None, now: datetime) -> bool:
    return b is not None and (b.expires_at is None or b.expires_at > now)


async def binding_of(s: AsyncSession, fan_id: int) -> Binding | None:
    return await s.get(Binding, fan_id)


async def active_sharer(s: AsyncSession, fan_id: int, now: datetime | None = None) -> int | None:
    b = await binding_of(s, fan_id)
    return b.sharer_id if is_active(b, now or clock.now()) else None


# A checkout asks for the buyer's binding and their sharer's (attribution); bindings change when a share
# link binds someone. Cached in the process (kit/cache.py): (sharer, expiry) or None per fan, the expiry
# checked against the clock on every read.
cache.watch("bindings", Binding.__tablename__)
SHARERS = cache.Cached("referrals.sharer", on=("bindings",))


async def _cached_sharer(s: AsyncSession, fan_id: int, now: datetime) -> int | None:
    async def load() -> tuple[int, datetime | None] | None:
        row = (await s.execute(select(Binding.sharer_id, Binding.expires_at).where(Binding.fan_id == fan_id))).first()
        return (row[0], row[1]) if row is not None else None

    found = await SHARERS.get(s, fan_id, load)
    if found is None or (found[1] is not None and found[1] <= now):
        return None
    return found[0]


async def _creates_cycle(s: AsyncSession, fan_id: int, sharer_id: int, now: datetime) -> bool:
    """Would fan → sharer close a loop? Walk up from the sharer through active bindings."""
    current, seen = sharer_id, set()
    while current is not None and current not in seen and len(seen) < MAX_CHAIN:
        if current == fan_id:
            return True
        seen.add(current)
        current = await active_sharer(s, current, now)
    return current == fan_id


async def _log(s: AsyncSession, fan_id: int, sharer_id: int, outcome: str, digest: str) -> None:
    s.add(BindingEvent(fan_id=fan_id, sharer_id=sharer_id, outcome=outcome, token_digest=digest, at=clock.now()))


async def bind(s: AsyncSession, fan_id: int, token: ShareToken, *, is_new_user: bool) -> str:
    """Try to bind `fan_id` to the token's sharer. Returns the outcome ("bound", "rebound", "refreshed",
    or "refused:<reason>"), which is also logged. Never raises for a refusal: a share link still opens."""
    pol = await distribution.get_policy(s)
    now = clock.now()
    sharer = token.sharer_id
    outcome = await _decide(s, pol, fan_id, sharer, is_new_user, now)
    if outcome == "ok":
        outcome = await _write(s, pol, fan_id, sharer, token.digest, now)
    await _log(s, fan_id, sharer, outcome, token.digest)
    return outcome


async def _decide(s: AsyncSession, pol: DistributionPolicy, fan_id: int, sharer: int, is_new_user: bool,
                  now: datetime) -> str:
    if not pol.enabled:
        return "refused:disabled"
    if sharer == fan_id:
        return "refused:self"
    if pol.binding_scope == "new_users" and not is_new_user:
        return "refused:not_new_user"
    if not await distribution.is_active_distributor(s, sharer):
        return "refused:sharer_not_distributor"
    if await _creates_cycle(s, fan_id, sharer, now):
        return "refused:cycle"
    return "ok"


async def _write(s: AsyncSession, pol: DistributionPolicy, fan_id: int, sharer: int, digest: str,
                 now: datetime) -> str:
    expires = now + timedelta(days=pol.validity_days) if pol.binding_mode == "time_bound" else None
    protected = now + timedelta(days=pol.protection_days) if pol.protection_days else None
    values = {"sharer_id": sharer, "token_digest": digest, "mode": pol.binding_mode, "bound_at": now,
              "expires_at": expires, "protected_until": protected}
    if await insert_ignore(s, Binding, {"fan_id": fan_id, **values}, ["fan_id"]):
        return "bound"
    current = await binding_of(s, fan_id)
    assert current is not None
    await s.refresh(current)
    if current.sharer_id == sharer:
        if pol.binding_mode == "time_bound":
            await s.execute(update(Binding).where(Binding.fan_id == fan_id).values(expires_at=expires))
        return "refreshed"
    if pol.binding_mode == "first_touch":  # bound for good: protection is beside the point
        return "refused:already_bound"
    if current.protected_until is not None and current.protected_until > now:
        return "refused:protected"
    stmt = update(Binding).where(Binding.fan_id == fan_id, Binding.sharer_id == current.sharer_id)
    if pol.binding_mode == "time_bound":
        if is_active(current, now):
            return "refused:already_bound"
        stmt = stmt.where(Binding.expires_at <= now)
    if await guarded_update(s, stmt.values(**values)) != 1:
        return "refused:concurrent_change"
    return "rebound"


async def attribution(s: AsyncSession, buyer_id: int, shop_owner_id: int | None) -> Attribution:
    """Level 1: the buyer's active binding, else the owner of the shop the order came through; level 2:
    level 1's own upline. Self-purchase (a distributor buying through their own shop, or directly) pays
    nothing unless the self-purchase rebate is switched on: through your own shop it pays nobody, not your
    upline either; with the rebate on, the distributor is level 1 and their upline level 2. A purchase
    through somebody else's shop is that shop's (or the buyer's referrer's) sale like anyone's."""
    pol = await distribution.get_policy(s)
    if not pol.enabled:
        return Attribution(None, None)
    now = clock.now()
    own = shop_owner_id is None or shop_owner_id == buyer_id
    if own and pol.self_purchase_rebate and await distribution.is_active_distributor(s, buyer_id):
        l1: int | None = buyer_id
    elif shop_owner_id is not None and shop_owner_id == buyer_id:
        return Attribution(None, None)
    else:
        l1 = await _cached_sharer(s, buyer_id, now) or shop_owner_id
    if l1 is None or not await distribution.is_active_distributor(s, l1):
        return Attribution(None, None)
    if l1 == buyer_id and not pol.self_purchase_rebate:
        return Attribution(None, None)
    l2 = None
    if pol.levels == 2:
        up = await _cached_sharer(s, l1, now)
        if up is not None and up not in (l1, buyer_id) and await distribution.is_active_distributor(s, up):
            l2 = up
    return Attribution(l1, l2)



orders.set_attribution(attribution)  # checkout snapshots who earns through this rule

async def record_visit(s: AsyncSession, token: ShareToken, visitor_id: int | None) -> None:
    s.add(ShareVisit(sharer_id=token.sharer_id, kind=token.kind, target_id=token.target_id, visitor_id=visitor_id,
                     token_digest=token.digest, at=clock.now()))


async def fans(s: AsyncSession, sharer_id: int, level: int = 1, limit: int = 200) -> list[Binding]:
    """Level-1 fans (bound to me) or level-2 fans (bound to my level-1 fans)."""
    now = clock.now()
    active = (Binding.expires_at.is_(None)) | (Binding.expires_at > now)
    if level == 1:
        stmt = select(Binding).where(Binding.sharer_id == sharer_id, active)
    else:
        firsts = select(Binding.fan_id).where(Binding.sharer_id == sharer_id, active)
        stmt = select(Binding).where(Binding.sharer_id.in_(firsts), active)
    return list((await s.execute(stmt.order_by(Binding.bound_at.desc()).limit(limit))).scalars())


async def fan_counts(s: AsyncSession, sharer_id: int) -> tuple[int, int]:
    now = clock.now()
    active = (Binding.expires_at.is_(None)) | (Binding.expires_at > now)
    l1 = (await s.execute(select(func.count()).where(Binding.sharer_id == sharer_id, active))).scalar_one()
    firsts = select(Binding.fan_id).where(Binding.sharer_id == sharer_id, active)
    l2 = (await s.execute(select(func.count()).where(Binding.sharer_id.in_(firsts), active))).scalar_one()
    return l1, l2


distribution.register_fans(fan_counts, fans)  # a distributor's pages count and list their bound fans
