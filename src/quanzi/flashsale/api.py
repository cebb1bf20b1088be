"""Flash-sale JSON API: today's slots and activities, the grab (rate-limited), waitlist; operator setup."""

from __future__ import annotations

from fastapi import APIRouter

from quanzi.accounts.deps import CurrentUser, Operator
from quanzi.flashsale import gate, service
from quanzi.flashsale.schemas import ActivityIn, ActivityOut, GrabIn, GrabOut, ItemOut, SlotIn, SlotOut, WaitlistIn
from quanzi.kit.clock import clock
from quanzi.kit.deps import DB, AppSettings, ClientIP, Limiter
from quanzi.kit.schemas import PathId
from quanzi.orders.service import CHINA

router = APIRouter(prefix="/api/flashsale", tags=["flashsale"])


@router.get("/today")
async def today(db: DB) -> list[ActivityOut]:
    async with db.read() as s:
        rows = await service.activities_for_day(s, clock.now().astimezone(CHINA).date())
    return [ActivityOut(**{k: getattr(a, k) for k in ("id", "slot_id", "title", "product_id", "starts_at", "ends_at",
                                                       "per_order_limit", "per_user_limit")},
                        items=[ItemOut.model_validate(i) for i in items]) for a, items in rows]


@router.post("/{activity_id}/grab", status_code=201)
async def grab(activity_id: PathId, body: GrabIn, db: DB, me: CurrentUser, limiter: Limiter, ip: ClientIP,
               settings: AppSettings) -> GrabOut:
    await limiter.hit(settings.flash_limit_per_user, "flash-user", str(me.user_id))
    await limiter.hit(settings.flash_limit_per_ip, "flash-ip", ip)
    r = await service.grab(db, gate.current(), me.user_id, activity_id, body.sku_id, body.quantity, body.address_id)
    async with db.read() as s:
        from quanzi.orders import service as orders

        order = await orders.get_order(s, r.order_id)
    return GrabOut(reservation_id=r.id, order_id=r.order_id, pay_deadline=order.pay_deadline)


@router.post("/waitlist", status_code=201)
async def waitlist(body: WaitlistIn, db: DB, me: CurrentUser) -> dict[str, bool]:
    async with db.write() as s:
        return {"added": await service.join_waitlist(s, me.user_id, body.product_id)}


@router.get("/slots")
async def list_slots(db: DB) -> list[SlotOut]:
    async with db.read() as s:
        return [SlotOut.of(x) for x in await service.slots(s)]


@router.post("/slots", status_code=201)
async def create_slot(body: SlotIn, db: DB, me: Operator) -> SlotOut:
    async with db.write() as s:
        return SlotOut.of(await service.create_slot(s, body.name, body.starts, body.ends))


@router.post("/activities", status_code=201)
async def create_activity(body: ActivityIn, db: DB, me: Operator) -> ActivityOut:
    async with db.write() as s:
        a = await service.create_activity(
            s, slot_id=body.slot_id, day=body.day, title=body.title, product_id=body.product_id,
            items=[(i.sku_id, i.flash_price_fen, i.quota) for i in body.items], per_order_limit=body.per_order_limit,
            per_user_limit=body.per_user_limit, pay_minutes=body.pay_minutes,
            commission_enabled=body.commission_enabled)
        rows = [x for x in await service.activities_for_day(s, body.day) if x[0].id == a.id]
        items = rows[0][1] if rows else []
        return ActivityOut(id=a.id, slot_id=a.slot_id, title=a.title, product_id=a.product_id, starts_at=a.starts_at,
                           ends_at=a.ends_at, per_order_limit=a.per_order_limit, per_user_limit=a.per_user_limit,
                           items=[ItemOut.model_validate(i) for i in items])


@router.get("/activities/{activity_id}/stats")
async def activity_stats(activity_id: PathId, db: DB, me: Operator) -> dict[str, int]:
    async with db.read() as s:
        return await service.stats(s, activity_id)
