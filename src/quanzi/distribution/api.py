"""Distribution JSON API: my program status, money and fans; rankings; joining (free); the operator's
distributors, policy and levels; share posters. Thin routes over distribution/referrals/ledger services.

The read-only query helpers at the top (people, my rank, commission rows with their order numbers, China
day boundaries) are shared with console.py; they are candidates for the services.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts import service as accounts
from quanzi.accounts.deps import CurrentUser, Operator
from quanzi.distribution import posters, service
from quanzi.distribution.models import Commission, Distributor, DistributorLevel
from quanzi.distribution.policy import DistributionPolicy
from quanzi.kit.clock import clock
from quanzi.kit.deps import DB, AppSettings
from quanzi.kit.pagination import Page, page_params
from quanzi.kit.schemas import Fen, In, Out, PathId
from quanzi.kit.web import ERROR_RESPONSES
from quanzi.ledger import service as ledger
from quanzi.orders.service import CHINA

router = APIRouter(tags=["distribution"], responses=ERROR_RESPONSES)

Status = Literal["pending", "active", "frozen", "revoked", "rejected"]
Decision = Literal["active", "rejected", "frozen", "revoked"]
Method = Literal["wallet", "bank", "wechat", "alipay"]


# --- read-only query helpers (shared with console.py) ------------------------------------------------

def china_day_start(now: datetime, days_back: int = 0) -> datetime:
    """Midnight in China `days_back` days before `now`'s China date, as an aware datetime."""
    local = now.astimezone(CHINA).date() - timedelta(days=days_back)
    return datetime(local.year, local.month, local.day, tzinfo=CHINA)


def china_month_start(now: datetime) -> datetime:
    local = now.astimezone(CHINA).date()
    return datetime(local.year, local.month, 1, tzinfo=CHINA)


async def people(s: AsyncSession, user_ids: set[int]) -> dict[int, tuple[str, str]]:
    """user id → (nickname, masked phone). Phones never leave this function unmasked (PIPL)."""
    return {uid: (p.nickname, p.masked_phone) for uid, p in (await accounts.profiles(s, user_ids)).items()}


def _rank_value(by: str) -> Any:
    return func.sum(Commission.base_fen) if by == "sales" else func.sum(Commission.amount_fen - Commission.reversed_fen)


def _rank_filter(by: str) -> list[Any]:
    """The same rows distribution.service.ranking counts."""
    where = [Commission.status != "reversed"]
    if by == "sales":
        where.append(Commission.level == 1)
    return where


async def my_rank(s: AsyncSession, user_id: int, by: str) -> tuple[int | None, int]:
    """(my position, my value) in the ranking by sales or earnings; position None with nothing counted."""
    mine = (await s.execute(select(func.coalesce(_rank_value(by), 0)).where(
        Commission.beneficiary_id == user_id, *_rank_filter(by)))).scalar_one()
    mine = int(mine or 0)
    if mine <= 0:
        return None, 0
    ahead = select(Commission.beneficiary_id).where(*_rank_filter(by)).group_by(Commission.beneficiary_id) \
        .having(_rank_value(by) > mine).subquery()
    n = (await s.execute(select(func.count()).select_from(ahead))).scalar_one()
    return int(n) + 1, mine


async def order_numbers(s: AsyncSession, order_ids: set[int]) -> dict[int, str]:
    from quanzi.orders.models import Order

    if not order_ids:
        return {}
    rows = await s.execute(select(Order.id, Order.order_no).where(Order.id.in_(order_ids)))
    return dict(rows.all())  # type: ignore[arg-type]


async def line_titles(s: AsyncSession, line_ids: set[int]) -> dict[int, str]:
    from quanzi.orders.models import OrderLine

    if not line_ids:
        return {}
    rows = await s.execute(select(OrderLine.id, OrderLine.title).where(OrderLine.id.in_(line_ids)))
    return dict(rows.all())  # type: ignore[arg-type]


async def commission_page(s: AsyncSession, user_id: int, offset: int, limit: int) -> tuple[list[Commission], int]:
    total = (await s.execute(select(func.count()).select_from(Commission)
                             .where(Commission.beneficiary_id == user_id))).scalar_one()
    rows = (await s.execute(select(Commission).where(Commission.beneficiary_id == user_id)
                            .order_by(Commission.id.desc()).offset(offset).limit(limit))).scalars()
    return list(rows), int(total)


async def earnings(s: AsyncSession, user_id: int, now: datetime) -> dict[str, int]:
    """Commission earned (net of reversals) today, this month (China time) and in total."""
    return {
        "today_fen": await service.earned_since(s, user_id, china_day_start(now)),
        "month_fen": await service.earned_since(s, user_id, china_month_start(now)),
        "total_fen": await service.earned_since(s, user_id, None),
    }


async def level_of(s: AsyncSession, rank: int) -> DistributorLevel | None:
    if not rank:
        return None
    return (await s.execute(select(DistributorLevel).where(DistributorLevel.rank == rank))).scalar_one_or_none()


async def distributors_for_audit(s: AsyncSession, status: str | None) -> list[Distributor]:
    """Pending applications first (oldest first: first come, first decided), then the rest, newest first."""
    rows = await service.list_distributors(s, status, limit=500)
    pending = sorted((d for d in rows if d.status == "pending"), key=lambda d: d.created_at)
    return pending + [d for d in rows if d.status != "pending"]


# --- schemas -------------------------------------------------------------------------------------------

class BalancesOut(Out):
    pending: int = Field(description="Earned, still frozen until the return window has passed")
    available: int = Field(description="Unlocked: can be withdrawn")
    withdrawing: int = Field(description="Requested withdrawals being audited or paid (net of fee)")
    paid_out: int
    debt: int = Field(description="≤ 0: reversed commission not yet repaid; future commission repays it first")


class EarningsOut(Out):
    today_fen: int
    month_fen: int
    total_fen: int


class RatesOut(Out):
    l1_bp: int
    l2_bp: int


class FanCountsOut(Out):
    level1: int
    level2: int


class ProgramOut(Out):
    enabled: bool
    who_may: str
    levels: int
    freeze_days: int
    withdraw_min_fen: int
    withdraw_fee_bp: int
    withdraw_methods: list[str]


class MeOut(Out):
    user_id: int
    status: str = Field(description="none | pending | active | frozen | revoked | rejected")
    level_rank: int
    level_name: str | None
    rates: RatesOut
    balances: BalancesOut
    earnings: EarningsOut
    fans: FanCountsOut
    program: ProgramOut


class CommissionOut(Out):
    id: int
    order_id: int
    order_no: str | None
    item: str | None
    level: int
    base_fen: int
    rule: str
    amount_fen: int
    reversed_fen: int
    net_fen: int
    status: str
    unlock_at: datetime | None
    available_at: datetime | None
    created_at: datetime


class FanOut(Out):
    nickname: str
    phone: str = Field(description="Masked, e.g. 139****0001")
    bound_at: datetime
    expires_at: datetime | None


class FansOut(Out):
    level: int
    count: int
    items: list[FanOut]


class RankEntryOut(Out):
    rank: int
    nickname: str
    value_fen: int
    me: bool


class RankingOut(Out):
    by: str
    entries: list[RankEntryOut]
    my_rank: int | None
    my_value_fen: int


class JoinIn(In):
    note: Annotated[str, Field(max_length=200)] = ""


class DistributorOut(Out):
    user_id: int
    status: str
    level_rank: int
    note: str
    created_at: datetime
    decided_at: datetime | None


class DistributorAdminOut(DistributorOut):
    nickname: str
    phone: str


class DecisionIn(In):
    status: Decision
    note: Annotated[str, Field(max_length=200)] = ""


Days = Annotated[int, Field(strict=True, ge=1, le=3650)]
Bp = Annotated[int, Field(strict=True, ge=0, le=10_000)]


class PolicyIn(In):
    """Any subset of the program's settings. `levels` and `freeze_days` are judged by the policy itself, so a
    3-level program is refused with distribution.too_many_levels (not a generic validation error)."""

    enabled: bool | None = None
    who_may: Literal["everyone", "approval"] | None = None
    binding_mode: Literal["first_touch", "time_bound", "override"] | None = None
    binding_scope: Literal["all", "new_users"] | None = None
    validity_days: Days | None = None
    protection_days: Annotated[int, Field(strict=True, ge=0, le=365)] | None = None
    levels: Annotated[int, Field(strict=True, ge=-1000, le=1000)] | None = None
    level1_bp: Bp | None = None
    level2_bp: Bp | None = None
    platform_cap_bp: Bp | None = None
    self_purchase_rebate: bool | None = None
    include_shipping_in_base: bool | None = None
    freeze_days: Annotated[int, Field(strict=True, ge=-1000, le=1000)] | None = None
    share_token_days: Annotated[int, Field(strict=True, ge=1, le=365)] | None = None
    withdraw_min_fen: Annotated[int, Field(strict=True, ge=100, le=10_000_000)] | None = None
    withdraw_fee_bp: Annotated[int, Field(strict=True, ge=0, le=2000)] | None = None
    withdraw_methods: Annotated[list[Method], Field(max_length=4)] | None = None


class CriterionIn(In):
    type: Annotated[str, Field(min_length=1, max_length=40, description=(
        "attributed_sales_fen (own attributed sales) or commission_fen (own commission); head-count and "
        "paid criteria are refused by law"))]
    threshold: Fen


class LevelIn(In):
    name: Annotated[str, Field(min_length=1, max_length=30)]
    l1_bp: Bp
    l2_bp: Bp
    criteria: Annotated[list[CriterionIn], Field(max_length=4)] = []


class LevelOut(Out):
    rank: int
    name: str
    l1_bp: int
    l2_bp: int
    min_sales_fen: int
    min_commission_fen: int


Rank = Annotated[int, Path(ge=1, le=99)]


# --- distributor: me ------------------------------------------------------------------------------------

async def me_out(s: AsyncSession, user_id: int) -> MeOut:
    pol = await service.get_policy(s)
    d = await service.get_distributor(s, user_id)
    rank = d.level_rank if d else 0
    level = await level_of(s, rank)
    l1_bp, l2_bp = await service.rates_for(s, user_id, pol)
    l1, l2 = await service.fan_counts(s, user_id)
    return MeOut(
        user_id=user_id, status=d.status if d else "none", level_rank=rank, level_name=level.name if level else None,
        rates=RatesOut(l1_bp=l1_bp, l2_bp=l2_bp if pol.levels == 2 else 0),
        balances=BalancesOut(**{k: v for k, v in (await ledger.balances(s, user_id)).items()
                                if k in BalancesOut.model_fields}),
        earnings=EarningsOut(**await earnings(s, user_id, clock.now())),
        fans=FanCountsOut(level1=l1, level2=l2 if pol.levels == 2 else 0),
        program=ProgramOut(enabled=pol.enabled, who_may=pol.who_may, levels=pol.levels, freeze_days=pol.freeze_days,
                           withdraw_min_fen=pol.withdraw_min_fen, withdraw_fee_bp=pol.withdraw_fee_bp,
                           withdraw_methods=list(pol.withdraw_methods)),
    )


@router.get("/api/distribution/me")
async def my_distribution(db: DB, me: CurrentUser) -> MeOut:
    """My program status, level and rates, balances and earnings (today and this month in China time)."""
    async with db.read() as s:
        return await me_out(s, me.user_id)


async def commissions_out(s: AsyncSession, rows: list[Commission]) -> list[CommissionOut]:
    nos = await order_numbers(s, {c.order_id for c in rows})
    titles = await line_titles(s, {c.line_id for c in rows})
    return [CommissionOut(
        id=c.id, order_id=c.order_id, order_no=nos.get(c.order_id), item=titles.get(c.line_id), level=c.level,
        base_fen=c.base_fen, rule=c.rule, amount_fen=c.amount_fen, reversed_fen=c.reversed_fen,
        net_fen=c.amount_fen - c.reversed_fen, status=c.status, unlock_at=c.unlock_at, available_at=c.available_at,
        created_at=c.created_at) for c in rows]


@router.get("/api/distribution/commissions")
async def list_commissions(db: DB, me: CurrentUser,
                           page: Annotated[int, Query(ge=1, le=10_000)] = 1,
                           size: Annotated[int, Query(ge=1, le=100)] = 20) -> Page[CommissionOut]:
    """My commissions, newest first, with the order each came from."""
    paging = page_params(page, size)
    async with db.read() as s:
        rows, total = await commission_page(s, me.user_id, paging.offset, paging.size)
        return Page[CommissionOut](items=await commissions_out(s, rows), total=total, page=paging.page,
                                   size=paging.size)


async def fans_out(s: AsyncSession, user_id: int, level: int, limit: int = 200) -> FansOut:
    l1, l2 = await service.fan_counts(s, user_id)
    rows = await service.fans(s, user_id, level, limit=limit)
    who = await people(s, {b.fan_id for b in rows})
    return FansOut(level=level, count=l1 if level == 1 else l2, items=[
        FanOut(nickname=who.get(b.fan_id, ("?", "****"))[0], phone=who.get(b.fan_id, ("?", "****"))[1],
               bound_at=b.bound_at, expires_at=b.expires_at) for b in rows])


@router.get("/api/distribution/fans")
async def my_fans(db: DB, me: CurrentUser, level: Annotated[int, Query(ge=1, le=2)] = 1) -> FansOut:
    """My level-1 fans (bound to me) or level-2 fans (bound to my level-1 fans); phones masked."""
    async with db.read() as s:
        return await fans_out(s, me.user_id, level)


def mask_name(nickname: str) -> str:
    """Other people's names on a ranking: the first character only (小美 → 小*)."""
    return (nickname[:1] + "*" * min(max(len(nickname) - 1, 1), 3)) if nickname else "*"


async def ranking_out(s: AsyncSession, user_id: int, by: str, limit: int = 20) -> RankingOut:
    rows = await service.ranking(s, by=by, limit=limit)
    who = await people(s, {u for u, _v in rows})
    position, value = await my_rank(s, user_id, by)
    return RankingOut(by=by, entries=[
        RankEntryOut(rank=i, nickname=who.get(u, ("?", ""))[0] if u == user_id else mask_name(who.get(u, ("?", ""))[0]),
                     value_fen=v, me=u == user_id) for i, (u, v) in enumerate(rows, start=1)],
        my_rank=position, my_value_fen=value)


@router.get("/api/distribution/ranking")
async def ranking(db: DB, me: CurrentUser, by: Literal["sales", "earnings"] = "earnings",
                  limit: Annotated[int, Query(ge=1, le=100)] = 20) -> RankingOut:
    """Top distributors by own attributed sales or by commission earned, and my own position."""
    async with db.read() as s:
        return await ranking_out(s, me.user_id, by, limit)


@router.post("/api/distribution/join", status_code=201)
async def join(body: JoinIn, db: DB, me: CurrentUser) -> DistributorOut:
    """Become a distributor (or apply, when the operator approves distributors). Always free: no fee, no
    purchase (禁止传销条例 Art. 7)."""
    async with db.write() as s:
        d = await service.join(s, me.user_id, body.note)
        return DistributorOut.model_validate(d)


# --- posters -------------------------------------------------------------------------------------------

PNG = {200: {"content": {"image/png": {"schema": {"type": "string", "format": "binary"}}},
             "description": "The poster (750×1334 PNG) with a QR code of a signed share link"}}


@router.get("/posters/{kind}/{target_id}.png", response_class=Response, responses=PNG)  # type: ignore[arg-type]
async def poster(kind: Annotated[str, Path(pattern=r"^[a-z]$")], target_id: PathId, db: DB, me: CurrentUser,
                 settings: AppSettings, request: Request) -> Response:
    """My share poster for a shop (s) or a product (p). Only active distributors (403 otherwise)."""
    p = await posters.poster_for(db, settings, me.user_id, kind, target_id)
    headers = {"Cache-Control": "private, max-age=600", "ETag": p.etag}
    if request.query_params.get("download") == "1":
        headers["Content-Disposition"] = f'attachment; filename="quanzi-{kind}{target_id}.png"'
    return Response(p.png, media_type="image/png", headers=headers)


# --- operator ------------------------------------------------------------------------------------------

@router.get("/api/distribution/distributors")
async def distributors(db: DB, me: Operator, status: Status | None = None) -> list[DistributorAdminOut]:
    """Distributors, pending applications first."""
    async with db.read() as s:
        rows = await distributors_for_audit(s, status)
        who = await people(s, {d.user_id for d in rows})
        return [DistributorAdminOut(
            user_id=d.user_id, status=d.status, level_rank=d.level_rank, note=d.note, created_at=d.created_at,
            decided_at=d.decided_at, nickname=who.get(d.user_id, ("?", ""))[0], phone=who.get(d.user_id, ("?", ""))[1],
        ) for d in rows]


@router.post("/api/distribution/distributors/{user_id}/decision")
async def decide(user_id: PathId, body: DecisionIn, db: DB, me: Operator) -> DistributorOut:
    """Approve (active), reject, freeze or revoke a distributor; recorded in the audit log."""
    async with db.write() as s:
        return DistributorOut.model_validate(await service.decide(s, user_id, body.status, me.user_id, body.note))


@router.get("/api/distribution/policy")
async def get_policy(db: DB, me: Operator) -> DistributionPolicy:
    async with db.read() as s:
        return await service.get_policy(s)


@router.put("/api/distribution/policy")
async def put_policy(body: PolicyIn, db: DB, me: Operator) -> DistributionPolicy:
    """Change any of the program's settings. Refusals are 422s with their own codes:
    distribution.too_many_levels, distribution.rate_cap_exceeded, distribution.freeze_shorter_than_return_window."""
    async with db.write() as s:
        return await service.put_policy(s, body.model_dump(exclude_none=True), me.user_id)


@router.get("/api/distribution/levels")
async def list_levels(db: DB, me: Operator) -> list[LevelOut]:
    async with db.read() as s:
        return [LevelOut.model_validate(x) for x in await service.levels(s)]


@router.put("/api/distribution/levels/{rank}")
async def put_level(rank: Rank, body: LevelIn, db: DB, me: Operator) -> LevelOut:
    """Create or change a distributor level. Upgrade criteria may only be own attributed sales or own
    commission: head-count (distribution.headcount_criteria_forbidden) and anything bought
    (distribution.paid_status_forbidden) are refused (禁止传销条例 Art. 7)."""
    async with db.write() as s:
        level = await service.put_level(s, rank=rank, name=body.name, l1_bp=body.l1_bp, l2_bp=body.l2_bp,
                                        criteria=[c.model_dump() for c in body.criteria], actor_id=me.user_id)
        return LevelOut.model_validate(level)
