"""Group-buy JSON API: running activities, a group's page data, open and join (idempotent, rate-limited),
share a group; operator setup and stats."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import CurrentUser, Operator
from quanzi.catalog import service as catalog
from quanzi.groupbuy import service
from quanzi.groupbuy.models import GroupActivity
from quanzi.groupbuy.schemas import (
    ActivityDetailOut,
    ActivityIn,
    ActivityOut,
    EnterIn,
    GroupOut,
    GroupSkuOut,
    MyGroupOut,
    PlacedOut,
    SeatOut,
    ShareOut,
)
from quanzi.kit.clock import clock
from quanzi.kit.deps import DB, AppSettings, IdempotencyKeyHeader, Limiter
from quanzi.kit.idempotency import run_once
from quanzi.kit.schemas import PathId
from quanzi.kit import sharetokens as tokens

router = APIRouter(prefix="/api/groupbuy", tags=["groupbuy"])


async def activity_out(s: AsyncSession, acts: list[GroupActivity]) -> list[ActivityOut]:
    skus = await service.skus_of(s, [a.id for a in acts])
    refs = await catalog.reference_prices(s, [k.sku_id for ks in skus.values() for k in ks])
    return [ActivityOut(
        id=a.id, title=a.title, product_id=a.product_id, group_size=a.group_size,
        time_limit_minutes=a.time_limit_minutes, starts_at=a.starts_at, ends_at=a.ends_at,
        per_order_limit=a.per_order_limit, per_user_limit=a.per_user_limit, leader_discount_fen=a.leader_discount_fen,
        complete_ratio_bp=a.complete_ratio_bp, status=a.status,
        skus=[GroupSkuOut(sku_id=k.sku_id, group_price_fen=k.group_price_fen,
                          leader_price_fen=k.group_price_fen - a.leader_discount_fen,
                          reference_price_fen=_crossed_out(refs.get(k.sku_id), k.group_price_fen)) for k in skus[a.id]],
    ) for a in acts]


def _crossed_out(reference_fen: int | None, price_fen: int) -> int | None:
    """The lowest price of the previous 7 days (规范促销行为暂行规定), shown only when above the group price."""
    return reference_fen if reference_fen is not None and reference_fen > price_fen else None


def group_out(v: service.GroupView) -> GroupOut:
    g = v.group
    return GroupOut(id=g.id, activity_id=g.activity_id, title=v.activity.title, product_id=v.activity.product_id,
                    status=g.status, seats=g.seats, filled=g.filled, seats_left=v.seats_left, expires_at=g.expires_at,
                    completed_by_platform=g.completed_by_platform, closed_at=g.closed_at,
                    members=[SeatOut(nickname=m.nickname, avatar_url=m.avatar_url, is_leader=m.is_leader,
                                     seated_at=m.seated_at) for m in v.members])


def placed_out(p: service.Placed) -> PlacedOut:
    return PlacedOut(group_id=p.group_id, member_id=p.member_id, order_id=p.order_id, order_no=p.order_no,
                     total_fen=p.total_fen, pay_deadline=p.pay_deadline)


@router.get("/activities")
async def activities(db: DB) -> list[ActivityOut]:
    async with db.read() as s:
        return await activity_out(s, await service.running_activities(s, clock.now()))


@router.get("/activities/{activity_id}")
async def activity(activity_id: PathId, db: DB) -> ActivityDetailOut:
    async with db.read() as s:
        [out] = await activity_out(s, [await service.get_activity(s, activity_id)])
        groups = [group_out(await service.group_view(s, g.id))
                  for g in await service.joinable_groups(s, activity_id, clock.now())]
    return ActivityDetailOut(**out.model_dump(), groups=groups)


@router.post("/activities/{activity_id}/open", status_code=201, response_model=PlacedOut)
async def open_group(activity_id: PathId, body: EnterIn, db: DB, me: CurrentUser, key: IdempotencyKeyHeader,
                     limiter: Limiter, settings: AppSettings) -> JSONResponse:
    """Open a group: an order at the group price (less the leader's discount) to pay; the group starts
    forming, and its clock starts, when the payment arrives."""
    await limiter.hit(settings.group_join_limit_per_user, "group-enter", str(me.user_id))
    async with db.write() as s:
        async def run() -> tuple[int, object]:
            placed = await service.open_group(s, me.user_id, activity_id, body.sku_id, body.quantity, body.address_id)
            return 201, placed_out(placed).model_dump(mode="json")

        status, payload = await run_once(s, f"groupbuy.open:{me.user_id}:{activity_id}", key,
                                         body.model_dump(mode="json"), run)
    return JSONResponse(payload, status_code=status)


@router.get("/groups/{group_id}")
async def group(group_id: PathId, db: DB) -> GroupOut:
    """A group as its share link shows it: the real members who paid (nickname and avatar), seats left,
    deadline, status, and whether the platform completed it."""
    async with db.read() as s:
        return group_out(await service.group_view(s, group_id))


@router.post("/groups/{group_id}/join", status_code=201, response_model=PlacedOut)
async def join_group(group_id: PathId, body: EnterIn, db: DB, me: CurrentUser, key: IdempotencyKeyHeader,
                     limiter: Limiter, settings: AppSettings) -> JSONResponse:
    """Join: an order to pay. The seat is taken when the payment arrives; if none is left by then, the whole
    payment goes back automatically."""
    await limiter.hit(settings.group_join_limit_per_user, "group-enter", str(me.user_id))
    async with db.write() as s:
        async def run() -> tuple[int, object]:
            placed = await service.join_group(s, me.user_id, group_id, body.sku_id, body.quantity, body.address_id)
            return 201, placed_out(placed).model_dump(mode="json")

        status, payload = await run_once(s, f"groupbuy.join:{me.user_id}:{group_id}", key,
                                         body.model_dump(mode="json"), run)
    return JSONResponse(payload, status_code=status)


@router.post("/groups/{group_id}/share", status_code=201)
async def share_group(group_id: PathId, db: DB, me: CurrentUser, settings: AppSettings) -> ShareOut:
    """A signed link to the group (kind "g"). Anyone may share a group; binding still follows the rules of
    distribution (only an active distributor's link binds)."""
    async with db.read() as s:
        await service.get_group(s, group_id)
    token = tokens.issue(settings.secret_key, me.user_id, "g", group_id, clock.now())
    return ShareOut(token=token, url=f"{settings.public_url.rstrip('/')}/r/{token}")


@router.get("/mine")
async def my_groups(db: DB, me: CurrentUser) -> list[MyGroupOut]:
    async with db.read() as s:
        rows = await service.groups_of_user(s, me.user_id)
    return [MyGroupOut(group_id=g.id, activity_id=g.activity_id, group_status=g.status, member_status=m.status,
                       is_leader=m.is_leader, order_id=m.order_id, refund_reason=m.refund_reason,
                       expires_at=g.expires_at) for g, m in rows]


# --- operator -----------------------------------------------------------------------------------

@router.post("/activities", status_code=201)
async def create_activity(body: ActivityIn, db: DB, me: Operator) -> ActivityOut:
    async with db.write() as s:
        act = await service.create_activity(
            s, title=body.title, product_id=body.product_id,
            skus=[(k.sku_id, k.group_price_fen) for k in body.skus], group_size=body.group_size,
            time_limit_minutes=body.time_limit_minutes, starts_at=body.starts_at, ends_at=body.ends_at,
            per_order_limit=body.per_order_limit, per_user_limit=body.per_user_limit, pay_minutes=body.pay_minutes,
            leader_discount_fen=body.leader_discount_fen, leader_commission_bp=body.leader_commission_bp,
            commission_enabled=body.commission_enabled, complete_ratio_bp=body.complete_ratio_bp, actor_id=me.user_id,
        )
        [out] = await activity_out(s, [act])
    return out


@router.get("/activities/{activity_id}/stats")
async def activity_stats(activity_id: PathId, db: DB, me: Operator) -> dict[str, int]:
    """Groups open / succeeded (and how many the platform completed) / failed / cancelled; members; refunds."""
    async with db.read() as s:
        return await service.stats(s, activity_id)
