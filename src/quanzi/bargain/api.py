"""Bargain JSON API: launch, help (one per person, rate-limited), buy; operator setup and the switch."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from quanzi.accounts.deps import CurrentUser, Operator
from quanzi.bargain import service
from quanzi.kit.deps import DB, AppSettings, ClientIP, Limiter
from quanzi.kit.schemas import Id, In, Out, PathId

router = APIRouter(tags=["bargain"])


class ActivityIn(In):
    title: Annotated[str, Field(min_length=1, max_length=60)]
    product_id: Id
    sku_id: Id
    start_price_fen: Annotated[int, Field(strict=True, ge=2, le=10**9)]
    floor_price_fen: Annotated[int, Field(strict=True, ge=1, le=10**9)]
    helpers_needed: Annotated[int, Field(strict=True, ge=1, le=100)]
    cut_mode: Annotated[str, Field(pattern=r"^(random|fixed)$")] = "random"
    cut_min_fen: Annotated[int, Field(strict=True, ge=1, le=10**9)]
    cut_max_fen: Annotated[int, Field(strict=True, ge=1, le=10**9)]
    first_cut_fen: Annotated[int, Field(strict=True, ge=0, le=10**9)] = 0
    helps_per_user: Annotated[int, Field(strict=True, ge=1, le=100)] = 1
    launches_per_user: Annotated[int, Field(strict=True, ge=1, le=100)] = 1
    launch_hours: Annotated[int, Field(strict=True, ge=1, le=720)] = 24
    pay_hours: Annotated[int, Field(strict=True, ge=1, le=720)] = 24
    allow_buy_above_floor: bool = False
    commission_enabled: bool = False
    starts_at: datetime
    ends_at: datetime


class ActivityOut(Out):
    id: int
    title: str
    product_id: int
    sku_id: int
    start_price_fen: int
    floor_price_fen: int
    helpers_needed: int
    ends_at: datetime


class HelpOut(Out):
    helper_id: int
    seq: int
    cut_fen: int
    at: datetime


class BargainOut(Out):
    id: int
    activity_id: int
    status: str
    start_price_fen: int
    floor_price_fen: int
    current_price_fen: int
    first_cut_fen: int
    helpers_needed: int
    helpers_count: int
    expires_at: datetime
    pay_by: datetime | None
    order_id: int | None
    helps: list[HelpOut]


class BuyIn(In):
    address_id: Id


class SwitchIn(In):
    enabled: bool


async def _out(s, bargain_id: int) -> BargainOut:  # noqa: ANN001
    b, a, helps = await service.detail(s, bargain_id)
    return BargainOut(id=b.id, activity_id=a.id, status=b.status, start_price_fen=a.start_price_fen,
                      floor_price_fen=a.floor_price_fen, current_price_fen=b.current_price_fen,
                      first_cut_fen=int(b.plan[0]), helpers_needed=a.helpers_needed, helpers_count=b.helpers_count,
                      expires_at=b.expires_at, pay_by=b.pay_by, order_id=b.order_id,
                      helps=[HelpOut.model_validate(h) for h in helps])


@router.get("/api/bargain/activities")
async def list_activities(db: DB) -> list[ActivityOut]:
    async with db.read() as s:
        return [ActivityOut.model_validate(a) for a in await service.activities(s)]


@router.post("/api/bargain/activities", status_code=201)
async def create_activity(body: ActivityIn, db: DB, me: Operator) -> ActivityOut:
    async with db.write() as s:
        return ActivityOut.model_validate(await service.create_activity(s, **body.model_dump()))


@router.put("/api/bargain/switch")
async def switch(body: SwitchIn, db: DB, me: Operator) -> SwitchIn:
    async with db.write() as s:
        await service.set_enabled(s, body.enabled, me.user_id)
    return body


@router.post("/api/bargain/activities/{activity_id}/launch", status_code=201)
async def launch(activity_id: PathId, db: DB, me: CurrentUser) -> BargainOut:
    async with db.write() as s:
        b = await service.launch(s, me.user_id, activity_id)
        return await _out(s, b.id)


@router.get("/api/bargains/{bargain_id}")
async def get_bargain(bargain_id: PathId, db: DB) -> BargainOut:
    async with db.read() as s:
        return await _out(s, bargain_id)


@router.post("/api/bargains/{bargain_id}/help")
async def help_cut(bargain_id: PathId, db: DB, me: CurrentUser, limiter: Limiter, ip: ClientIP,
                   settings: AppSettings) -> HelpOut:
    await limiter.hit(settings.bargain_help_limit_per_user, "bargain-user", str(me.user_id))
    await limiter.hit(settings.bargain_help_limit_per_ip, "bargain-ip", ip)
    async with db.write() as s:
        return HelpOut.model_validate(await service.help_cut(s, me.user_id, bargain_id))


@router.post("/api/bargains/{bargain_id}/buy", status_code=201)
async def buy(bargain_id: PathId, body: BuyIn, db: DB, me: CurrentUser) -> dict[str, int]:
    async with db.write() as s:
        order = await service.buy(s, me.user_id, bargain_id, body.address_id)
        return {"order_id": order.id, "total_fen": order.total_fen}
