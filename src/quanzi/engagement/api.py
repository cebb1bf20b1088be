"""Engagement JSON API: check-in and points, lucky draws (public rules and winners), red packets, polls, the
activity calendar, the community's engagement settings and its health chart. Thin: rules are in service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import CurrentUser, Operator, OptionalUser
from quanzi.community import service as community
from quanzi.engagement import service
from quanzi.engagement.errors import DrawNotFound
from quanzi.engagement.models import Draw, EngagementSettings, Poll, RedPacket
from quanzi.engagement.policy import EngagementPolicy
from quanzi.engagement.schemas import (
    ActivityIn,
    ActivityOut,
    AnswerIn,
    CalendarOut,
    CheckInOut,
    CheckInStatusOut,
    DrawIn,
    DrawOut,
    EntryOut,
    GrabOut,
    HealthDayOut,
    HealthOut,
    OptionOut,
    PacketIn,
    PacketOut,
    PointsLineOut,
    PointsOut,
    PollIn,
    PollOut,
    PrizeOut,
    SettingsIn,
    SettingsOut,
    WinnerOut,
)
from quanzi.kit.clock import as_utc, clock
from quanzi.kit.deps import DB
from quanzi.kit.schemas import MAX_ID, PathId
from quanzi.policy import service as policy

router = APIRouter(prefix="/api", tags=["engagement"])
Before = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def settings_out(st: EngagementSettings) -> SettingsOut:
    return SettingsOut(community_id=st.community_id, checkin_enabled=st.checkin_enabled, checkin_cycle=st.checkin_cycle,
                       checkin_rewards=list(st.checkin_rewards), draws_enabled=st.draws_enabled,
                       red_packets_enabled=st.red_packets_enabled, polls_enabled=st.polls_enabled,
                       poll_results_for_members=st.poll_results_for_members, invite_enabled=st.invite_enabled,
                       invite_reward_points=st.invite_reward_points, invite_daily_cap=st.invite_daily_cap)


# --- settings, check-in and points --------------------------------------------------------------------

@router.get("/circles/{community_id}/engagement")
async def get_settings(community_id: PathId, db: DB, me: CurrentUser) -> SettingsOut:
    async with db.read() as s:
        await community.require_member(s, community_id, me.user_id)
        return settings_out(await service.settings_of(s, community_id))


@router.put("/circles/{community_id}/engagement")
async def put_settings(community_id: PathId, body: SettingsIn, db: DB, me: CurrentUser) -> SettingsOut:
    async with db.write() as s:
        await community.manageable(s, community_id, me.user_id, service.SETTINGS)
        return settings_out(await service.save_settings(s, community_id, me.user_id, body.model_dump(exclude_none=True)))


@router.get("/circles/{community_id}/checkin")
async def checkin_status(community_id: PathId, db: DB, me: CurrentUser) -> CheckInStatusOut:
    async with db.read() as s:
        await community.require_member(s, community_id, me.user_id)
        st = await service.checkin_status(s, community_id, me.user_id)
        shop_id = (await community.get_community(s, community_id)).shop_id
        return CheckInStatusOut(checked_today=st.checked_today, streak=st.streak, next_points=st.next_points,
                                table=st.table, cycle=st.cycle, days_this_month=st.month_days,
                                points=await service.points_balance(s, me.user_id, shop_id))


@router.post("/circles/{community_id}/checkin", status_code=201)
async def check_in(community_id: PathId, db: DB, me: CurrentUser) -> CheckInOut:
    """Today's check-in (China day). A second one the same day is 409 `engagement.already_checked_in`."""
    async with db.write() as s:
        r = await service.check_in(s, community_id, me.user_id)
    return CheckInOut(day=r.day, streak=r.streak, points=r.points, balance=r.balance)


@router.get("/circles/{community_id}/points")
async def my_points(community_id: PathId, db: DB, me: CurrentUser, before: Before = None) -> PointsOut:
    """My points in the community's shop and their history (newest first, keyset pages)."""
    async with db.read() as s:
        await community.require_member(s, community_id, me.user_id)
        shop_id = (await community.get_community(s, community_id)).shop_id
        lines = await service.points_history(s, me.user_id, shop_id, before=before, limit=20)
        return PointsOut(shop_id=shop_id, balance=await service.points_balance(s, me.user_id, shop_id),
                         history=[PointsLineOut(id=x.id, points=x.points, kind=x.kind, reason=x.reason, at=x.at)
                                  for x in lines],
                         next_before=lines[-1].id if len(lines) == 20 else None)


# --- lucky draws ----------------------------------------------------------------------------------------

async def draw_out(s: AsyncSession, d: Draw, user_id: int | None = None) -> DrawOut:
    prizes = await service.prizes_of(s, d.id)
    winners = await service.winners(s, d.id)
    return DrawOut(id=d.id, community_id=d.community_id, title=d.title, rules=d.rules, rules_digest=d.rules_digest,
                   cost_points=d.cost_points, per_person_limit=d.per_person_limit,
                   status=service.draw_state(d, clock.now()), ends_at=d.ends_at, opened_at=d.opened_at,
                   entries=d.entries,
                   prizes=[PrizeOut(id=p.id, name=p.name, kind=p.kind, points=p.points, value_fen=p.value_fen,
                                    chance_bp=p.chance_bp, stock=p.stock, remaining=p.remaining) for p in prizes],
                   winners=[WinnerOut(nickname=w.nickname, masked_phone=w.masked_phone, prize_name=w.prize_name,
                                      at=w.at) for w in winners],
                   my_entries=await service.entries_used(s, d.id, user_id) if user_id else None)


@router.get("/circles/{community_id}/draws")
async def list_draws(community_id: PathId, db: DB, me: CurrentUser) -> list[DrawOut]:
    async with db.read() as s:
        await community.require_member(s, community_id, me.user_id)
        staff = await service.is_manager(s, community_id, me.user_id, service.RUN_DRAW)
        return [await draw_out(s, d, me.user_id) for d in await service.draws_of(s, community_id, include_drafts=staff)]


@router.post("/circles/{community_id}/draws", status_code=201)
async def create_draw(community_id: PathId, body: DrawIn, db: DB, me: CurrentUser) -> DrawOut:
    """A draft draw (staff with `run_draw`). Publish it with /open: from then on it cannot change."""
    async with db.write() as s:
        await community.manageable(s, community_id, me.user_id, service.RUN_DRAW)
        d = await service.create_draw(
            s, community_id, me.user_id, title=body.title, rules_text=body.rules, cost_points=body.cost_points,
            per_person_limit=body.per_person_limit, ends_at=body.ends_at,
            prizes=[service.PrizeIn(**p.model_dump()) for p in body.prizes])
        return await draw_out(s, d)


@router.get("/draws/{draw_id}")
async def get_draw(draw_id: PathId, db: DB, me: OptionalUser) -> DrawOut:
    """Public once published: rules, prize table with stock, the rules digest and every winner (masked)."""
    async with db.read() as s:
        d = await service.get_draw(s, draw_id)
        if d.status == "draft" and not (me and await service.is_manager(s, d.community_id, me.user_id,
                                                                         service.RUN_DRAW)):
            raise DrawNotFound()
        return await draw_out(s, d, me.user_id if me else None)


async def _staff_draw(s: AsyncSession, draw_id: int, user_id: int) -> Draw:
    d = await service.get_draw(s, draw_id)
    await community.manageable(s, d.community_id, user_id, service.RUN_DRAW)
    return d


@router.post("/draws/{draw_id}/open")
async def open_draw(draw_id: PathId, db: DB, me: CurrentUser) -> DrawOut:
    async with db.write() as s:
        await _staff_draw(s, draw_id, me.user_id)
        return await draw_out(s, await service.open_draw(s, draw_id, me.user_id))


@router.post("/draws/{draw_id}/close")
async def close_draw(draw_id: PathId, db: DB, me: CurrentUser) -> DrawOut:
    async with db.write() as s:
        await _staff_draw(s, draw_id, me.user_id)
        return await draw_out(s, await service.close_draw(s, draw_id, me.user_id))


@router.post("/draws/{draw_id}/enter", status_code=201)
async def enter_draw(draw_id: PathId, db: DB, me: CurrentUser) -> EntryOut:
    """One entry (drawn with `secrets`). Past the per-person limit: 409 `engagement.draw_limit_reached`; too few
    points: 409 `engagement.not_enough_points`; nothing is written either way."""
    async with db.write() as s:
        r = await service.enter_draw(s, draw_id, me.user_id)
    return EntryOut(entry_id=r.entry_id, prize_kind=r.prize_kind, prize_name=r.prize_name, points_won=r.points_won,
                    entries_left=r.entries_left, balance=r.balance)


# --- red packets ----------------------------------------------------------------------------------------

async def packet_out(s: AsyncSession, p: RedPacket, user_id: int | None = None) -> PacketOut:
    grabs = await service.grabs_of(s, p.id)
    mine = next((g.points for g in grabs if g.user_id == user_id), None)
    return PacketOut(id=p.id, community_id=p.community_id, sender_id=p.sender_id, funded_by=p.funded_by,
                     split=p.split, greeting=p.greeting, total_points=p.total_points, parts=p.parts,
                     grabbed_parts=p.grabbed_parts,
                     status="expired" if p.status == "open" and as_utc(p.expires_at) <= clock.now() else p.status,
                     expires_at=p.expires_at, grabs=[GrabOut(points=g.points, position=g.position, balance=0)
                                                     for g in grabs], my_points=mine)


@router.get("/circles/{community_id}/red-packets")
async def list_packets(community_id: PathId, db: DB, me: CurrentUser) -> list[PacketOut]:
    async with db.read() as s:
        await community.require_member(s, community_id, me.user_id)
        return [await packet_out(s, p, me.user_id) for p in await service.packets_of(s, community_id)]


@router.post("/circles/{community_id}/red-packets", status_code=201)
async def send_packet(community_id: PathId, body: PacketIn, db: DB, me: CurrentUser) -> PacketOut:
    async with db.write() as s:
        await community.require_member(s, community_id, me.user_id)
        p = await service.send_packet(s, community_id, me.user_id, total_points=body.total_points, parts=body.parts,
                                      split=body.split, greeting=body.greeting, from_shop=body.from_shop)
        return await packet_out(s, p, me.user_id)


@router.post("/red-packets/{packet_id}/grab", status_code=201)
async def grab(packet_id: PathId, db: DB, me: CurrentUser) -> GrabOut:
    """First come; once per member (409 `engagement.packet_already_grabbed`), 409 when empty or expired."""
    async with db.write() as s:
        r = await service.grab(s, packet_id, me.user_id)
    return GrabOut(points=r.points, position=r.position, balance=r.balance)


# --- polls ----------------------------------------------------------------------------------------------

async def poll_out(s: AsyncSession, p: Poll, user_id: int) -> PollOut:
    visible = await service.is_manager(s, p.community_id, user_id, service.RUN_POLL) or \
        (await service.settings_of(s, p.community_id)).poll_results_for_members
    return PollOut(id=p.id, community_id=p.community_id, question=p.question, multiple=p.multiple,
                   anonymous=p.anonymous, closes_at=p.closes_at, closed=as_utc(p.closes_at) <= clock.now(),
                   answers=p.answers if visible else 0, answered=await service.has_answered(s, p.id, user_id),
                   results_visible=visible,
                   options=[OptionOut(id=o.id, label=o.label, votes=o.votes if visible else None)
                            for o in await service.options_of(s, p.id)])


@router.get("/circles/{community_id}/polls")
async def list_polls(community_id: PathId, db: DB, me: CurrentUser) -> list[PollOut]:
    async with db.read() as s:
        await community.require_member(s, community_id, me.user_id)
        return [await poll_out(s, p, me.user_id) for p in await service.polls_of(s, community_id)]


@router.post("/circles/{community_id}/polls", status_code=201)
async def create_poll(community_id: PathId, body: PollIn, db: DB, me: CurrentUser) -> PollOut:
    async with db.write() as s:
        await community.manageable(s, community_id, me.user_id, service.RUN_POLL)
        p = await service.create_poll(s, community_id, me.user_id, question=body.question, options=body.options,
                                      multiple=body.multiple, anonymous=body.anonymous, closes_at=body.closes_at)
        return await poll_out(s, p, me.user_id)


@router.get("/polls/{poll_id}")
async def get_poll(poll_id: PathId, db: DB, me: CurrentUser) -> PollOut:
    async with db.read() as s:
        p = await service.get_poll(s, poll_id)
        await community.require_member(s, p.community_id, me.user_id)
        return await poll_out(s, p, me.user_id)


@router.post("/polls/{poll_id}/answer", status_code=201)
async def answer(poll_id: PathId, body: AnswerIn, db: DB, me: CurrentUser) -> PollOut:
    """Once per member (409 `engagement.poll_already_answered`); after the closing time 409 `engagement.poll_closed`."""
    async with db.write() as s:
        p = await service.answer_poll(s, poll_id, me.user_id, body.option_ids)
        return await poll_out(s, p, me.user_id)


# --- calendar -------------------------------------------------------------------------------------------

def activity_out(a: object) -> ActivityOut:
    return ActivityOut.model_validate(a, from_attributes=True)


@router.get("/circles/{community_id}/calendar")
async def calendar(community_id: PathId, db: DB, me: CurrentUser) -> CalendarOut:
    async with db.read() as s:
        await community.require_member(s, community_id, me.user_id)
        return CalendarOut(cadence_days=await service.cadence_days(s, community_id),
                           activities=[activity_out(a) for a in await service.calendar(s, community_id)])


@router.post("/circles/{community_id}/calendar", status_code=201)
async def schedule(community_id: PathId, body: ActivityIn, db: DB, me: CurrentUser) -> list[ActivityOut]:
    """One activity or a series; without `every_days` the series follows the category's repurchase cycle."""
    async with db.write() as s:
        await community.manageable(s, community_id, me.user_id, service.SCHEDULE)
        acts = await service.schedule(s, community_id, me.user_id, kind=body.kind, title=body.title,
                                      starts_at=body.starts_at, remind_minutes=body.remind_minutes,
                                      repeat=body.repeat, every_days=body.every_days)
        return [activity_out(a) for a in acts]


@router.delete("/calendar/{event_id}", status_code=204)
async def cancel(event_id: PathId, db: DB, me: CurrentUser) -> None:
    async with db.write() as s:
        await service.cancel_activity(s, event_id, me.user_id)


# --- health ---------------------------------------------------------------------------------------------

@router.get("/circles/{community_id}/health")
async def health(community_id: PathId, db: DB, me: CurrentUser) -> HealthOut:
    """The shopkeeper's 30 days: daily active members, posts, check-ins, visitors and conversion to orders."""
    async with db.read() as s:
        days = await service.health(s, community_id, me.user_id)
    return HealthOut(community_id=community_id, days=[
        HealthDayOut(day=d.day, active_members=d.active_members, posts=d.posts, checkins=d.checkins,
                     visitors=d.visitors, buyers=d.buyers, conversion_bp=d.conversion_bp) for d in days])


# --- the operator's switches and limits ------------------------------------------------------------------

@router.get("/engagement/policy")
async def get_policy(db: DB, me: Operator) -> EngagementPolicy:
    async with db.read() as s:
        return await service.operator_policy(s)


@router.put("/engagement/policy")
async def put_policy(body: dict[str, object], db: DB, me: Operator) -> EngagementPolicy:
    """Change some fields (the rest keep their values); validated by EngagementPolicy, audited."""
    async with db.write() as s:
        return await policy.put_checked(s, EngagementPolicy, body, me.user_id)
