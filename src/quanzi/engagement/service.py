"""Engagement rules on the database. Never commits: the caller's `db.write()` owns the transaction.

Points (DECISIONS: points are per fan per shop): a fan's points in a shop are the ledger account
("points", fan id, "shop:<shop id>"); the shop issues them from ("shop", shop id, "pts_issued") — that account
goes negative by the points outstanding — and points spent on draws go to ("shop", shop id, "pts_redeemed").
Points set aside in open red packets sit in ("pts_held", shop id, "held"). The fan's account and the held one
never go below zero: the ledger's guarded UPDATE refuses, so "not enough points" can never overdraw.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts import service as accounts
from quanzi.community import service as community
from quanzi.community.errors import CommunityClosed
from quanzi.engagement import rules
from quanzi.engagement.errors import (
    ActivityNotFound,
    AlreadyCheckedIn,
    BadActivity,
    BadChoice,
    BadPacket,
    BadPrizeTable,
    BadSettings,
    DrawLimitReached,
    DrawNotFound,
    DrawNotOpen,
    NotEnoughPoints,
    PacketEmpty,
    PacketExpired,
    PacketGrabbed,
    PacketNotFound,
    PollAnswered,
    PollClosed,
    PollNotFound,
    PrizeTooValuable,
    ResultsHidden,
    RulesFrozen,
    SwitchedOff,
)
from quanzi.engagement.models import (
    Activity,
    CheckIn,
    Draw,
    DrawEntry,
    DrawPrize,
    DrawQuota,
    EngagementSettings,
    Invitation,
    InviteDay,
    Poll,
    PollAnswer,
    PollOption,
    RedPacket,
    RedPacketGrab,
    RetiredPhone,
)
from quanzi.engagement.policy import EngagementPolicy
from quanzi.kit import outbox
from quanzi.kit.clock import CHINA, as_utc, clock
from quanzi.kit.db import guarded_update, insert_ignore
from quanzi.kit.errors import DomainError, IllegalTransition
from quanzi.ledger import service as ledger
from quanzi.ledger.errors import InsufficientBalance
from quanzi.orders import service as orders
from quanzi.policy import service as policy

# Actions of community's permission table that engagement asks about.
RUN_DRAW = "run_draw"
RUN_POLL = "run_poll"
SEND_PACKET = "send_red_packet"      # a red packet the shop funds (members send their own points freely)
SCHEDULE = "schedule_activity"
SETTINGS = "edit_engagement"

DEFAULT_CHECKIN_TABLE = [5, 5, 10, 10, 15, 15, 30]


def _bad(cls: type[DomainError], zh: str, en: str) -> DomainError:
    return cls({"zh": cls.message["zh"].format(why=zh), "en": cls.message["en"].format(why=en)})


# --- switches and settings ------------------------------------------------------------------------------

async def operator_policy(s: AsyncSession) -> EngagementPolicy:
    return await policy.get(s, EngagementPolicy)


async def settings_of(s: AsyncSession, community_id: int) -> EngagementSettings:
    row = await s.get(EngagementSettings, community_id)
    if row is None:
        row = EngagementSettings(community_id=community_id, checkin_enabled=True, checkin_cycle="week",
                                 checkin_rewards=list(DEFAULT_CHECKIN_TABLE), draws_enabled=True,
                                 red_packets_enabled=True, polls_enabled=True, poll_results_for_members=False,
                                 invite_enabled=False, invite_reward_points=100, invite_daily_cap=5,
                                 updated_at=clock.now())
    return row


FEATURES = ("checkin", "draws", "red_packets", "polls", "invite", "calendar")


async def require_on(s: AsyncSession, community_id: int, feature: str) -> tuple[EngagementPolicy, EngagementSettings]:
    """The operator's switch and the community's own must both be on, and the community still open."""
    if (await community.get_community(s, community_id)).status != "open":
        raise CommunityClosed()
    pol = await operator_policy(s)
    mine = await settings_of(s, community_id)
    op_on = {"checkin": pol.checkin_enabled, "draws": pol.draws_enabled, "red_packets": pol.red_packets_enabled,
             "polls": pol.polls_enabled, "invite": pol.invite_rewards_enabled, "calendar": pol.calendar_enabled}
    own_on = {"checkin": mine.checkin_enabled, "draws": mine.draws_enabled, "red_packets": mine.red_packets_enabled,
              "polls": mine.polls_enabled, "invite": mine.invite_enabled, "calendar": True}
    if not (op_on[feature] and own_on[feature]):
        raise SwitchedOff(feature=feature)
    return pol, mine


async def save_settings(s: AsyncSession, community_id: int, actor_id: int, values: dict[str, Any]) -> EngagementSettings:
    await community.require_permission(s, community_id, actor_id, SETTINGS)
    pol = await operator_policy(s)
    current = await settings_of(s, community_id)
    table = values.get("checkin_rewards", current.checkin_rewards)
    if not (1 <= len(table) <= 31) or any(not isinstance(x, int) or x < 0 or x > pol.max_checkin_points for x in table):
        raise _bad(BadSettings, f"签到奖励为 1–31 天，每天 0–{pol.max_checkin_points} 积分",
                   f"the check-in table has 1 to 31 days of 0 to {pol.max_checkin_points} points")
    if values.get("checkin_cycle", current.checkin_cycle) not in ("week", "month", "none"):
        raise _bad(BadSettings, "签到周期为周、月或不重置", "the cycle is week, month or none")
    if not 0 <= values.get("invite_reward_points", current.invite_reward_points) <= pol.max_invite_points:
        raise _bad(BadSettings, f"邀请奖励最多 {pol.max_invite_points} 积分",
                   f"an invite reward is at most {pol.max_invite_points} points")
    if not 0 <= values.get("invite_daily_cap", current.invite_daily_cap) <= pol.max_invite_daily_cap:
        raise _bad(BadSettings, f"每日上限最多 {pol.max_invite_daily_cap} 人",
                   f"the daily cap is at most {pol.max_invite_daily_cap}")
    if await s.get(EngagementSettings, community_id) is None:
        s.add(current)
    for k, v in values.items():
        if not hasattr(current, k) or k in ("community_id", "updated_at"):
            raise _bad(BadSettings, f"未知设置 {k}", f"unknown setting {k}")
        setattr(current, k, v)
    current.updated_at = clock.now()
    await s.flush()
    return current


# --- points ---------------------------------------------------------------------------------------------

def fan_points(user_id: int, shop_id: int, amount: int) -> ledger.Leg:
    return ledger.Leg("points", user_id, f"shop:{shop_id}", amount)


def issued(shop_id: int, amount: int) -> ledger.Leg:
    return ledger.Leg("shop", shop_id, "pts_issued", amount)


def redeemed(shop_id: int, amount: int) -> ledger.Leg:
    return ledger.Leg("shop", shop_id, "pts_redeemed", amount)


def held(shop_id: int, amount: int) -> ledger.Leg:
    return ledger.Leg("pts_held", shop_id, "held", amount)


async def move_points(s: AsyncSession, kind: str, ref: str, legs: Sequence[ledger.Leg], reason: str) -> None:
    try:
        await ledger.post(s, kind, ref, legs, reason)
    except InsufficientBalance as exc:
        raise NotEnoughPoints() from exc


async def points_balance(s: AsyncSession, user_id: int, shop_id: int) -> int:
    return await ledger.balance(s, user_id, f"shop:{shop_id}", owner_type="points")


@dataclass
class PointsLine:
    id: int
    points: int
    kind: str
    reason: str
    at: datetime


async def points_history(s: AsyncSession, user_id: int, shop_id: int, *, before: int | None = None,
                         limit: int = 20) -> list[PointsLine]:
    rows = await ledger.history(s, "points", user_id, f"shop:{shop_id}", before=before, limit=limit)
    return [PointsLine(i, amount, kind.removeprefix("pts."), reason, as_utc(at)) for i, amount, kind, _, reason, at in rows]


async def points_by_shop(s: AsyncSession, user_id: int) -> dict[int, int]:
    bal = await ledger.balances(s, user_id, owner_type="points")
    return {int(k.split(":", 1)[1]): v for k, v in bal.items() if k.startswith("shop:")}


# --- daily check-in -------------------------------------------------------------------------------------

@dataclass
class CheckInResult:
    day: date
    streak: int
    points: int
    balance: int


async def _last_checkin(s: AsyncSession, community_id: int, user_id: int) -> CheckIn | None:
    return (await s.execute(select(CheckIn).where(CheckIn.community_id == community_id, CheckIn.user_id == user_id)
                            .order_by(CheckIn.day.desc()).limit(1))).scalar_one_or_none()


async def check_in(s: AsyncSession, community_id: int, user_id: int) -> CheckInResult:
    """Today's check-in (China day): the streak continues from yesterday inside the cycle, else starts again;
    the day's reward from the table is issued as the shop's points. Twice on one day → 409."""
    _, mine = await require_on(s, community_id, "checkin")
    await community.require_member(s, community_id, user_id)
    comm = await community.get_community(s, community_id)
    now = clock.now()
    today = rules.china_day(now)
    last = await _last_checkin(s, community_id, user_id)
    if last is not None and last.day == today.isoformat():
        raise AlreadyCheckedIn()
    last_day = date.fromisoformat(last.day) if last else None
    streak = rules.next_streak(last_day, last.streak if last else 0, today, mine.checkin_cycle)  # type: ignore[arg-type]
    points = rules.checkin_reward(mine.checkin_rewards, streak)
    if not await insert_ignore(s, CheckIn, {"community_id": community_id, "user_id": user_id, "day": today.isoformat(),
                                            "streak": streak, "points": points, "created_at": now},
                               ["community_id", "user_id", "day"]):
        raise AlreadyCheckedIn()
    await move_points(s, "pts.checkin", f"{community_id}:{user_id}:{today.isoformat()}",
                      [fan_points(user_id, comm.shop_id, points), issued(comm.shop_id, -points)],
                      f"checkin day {streak}")
    return CheckInResult(today, streak, points, await points_balance(s, user_id, comm.shop_id))


@dataclass
class CheckInStatus:
    checked_today: bool
    streak: int  # the streak as of today (0 when broken)
    next_points: int
    table: list[int]
    cycle: str
    month_days: list[str]


async def checkin_status(s: AsyncSession, community_id: int, user_id: int) -> CheckInStatus:
    mine = await settings_of(s, community_id)
    today = rules.china_day(clock.now())
    last = await _last_checkin(s, community_id, user_id)
    checked = last is not None and last.day == today.isoformat()
    if checked:
        streak = last.streak  # type: ignore[union-attr]
        nxt = rules.checkin_reward(mine.checkin_rewards, rules.next_streak(today, streak, today + timedelta(days=1),
                                                                           mine.checkin_cycle))  # type: ignore[arg-type]
    else:
        last_day = date.fromisoformat(last.day) if last else None
        upcoming = rules.next_streak(last_day, last.streak if last else 0, today, mine.checkin_cycle)  # type: ignore[arg-type]
        streak = upcoming - 1
        nxt = rules.checkin_reward(mine.checkin_rewards, upcoming)
    first = today.replace(day=1).isoformat()
    days = list((await s.execute(select(CheckIn.day).where(
        CheckIn.community_id == community_id, CheckIn.user_id == user_id, CheckIn.day >= first,
    ).order_by(CheckIn.day))).scalars())
    return CheckInStatus(checked, streak, nxt, list(mine.checkin_rewards), mine.checkin_cycle, days)


# --- lucky draws ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PrizeIn:
    name: str
    kind: str  # points | goods | nothing
    chance_bp: int
    stock: int
    points: int = 0
    value_fen: int = 0


def validate_prizes(prizes: Sequence[PrizeIn], pol: EngagementPolicy) -> None:
    if not 1 <= len(prizes) <= 12:
        raise _bad(BadPrizeTable, "奖品为 1–12 项", "1 to 12 prizes")
    total = 0
    for p in prizes:
        if p.kind not in ("points", "goods", "nothing"):
            raise _bad(BadPrizeTable, "奖品类型为积分、商品或谢谢参与", "a prize is points, goods or nothing")
        if not 0 <= p.chance_bp <= rules.CHANCE_SCALE or p.stock < 0 or p.points < 0 or p.value_fen < 0:
            raise _bad(BadPrizeTable, "概率、库存、积分和价值不能为负", "chances, stock, points and values are not negative")
        if p.kind == "points" and p.points < 1:
            raise _bad(BadPrizeTable, "积分奖品至少 1 积分", "a points prize gives at least 1 point")
        if not p.name.strip():
            raise _bad(BadPrizeTable, "奖品需要名称", "every prize needs a name")
        if p.value_fen > pol.max_prize_value_fen:
            raise PrizeTooValuable(max_yuan=pol.max_prize_value_fen // 100)
        total += p.chance_bp
    if total > rules.CHANCE_SCALE:
        raise _bad(BadPrizeTable, "中奖概率合计超过 100%", "the chances add up to more than 100%")


async def get_draw(s: AsyncSession, draw_id: int) -> Draw:
    d = await s.get(Draw, draw_id)
    if d is None:
        raise DrawNotFound()
    return d


async def prizes_of(s: AsyncSession, draw_id: int) -> list[DrawPrize]:
    return list((await s.execute(select(DrawPrize).where(DrawPrize.draw_id == draw_id)
                                 .order_by(DrawPrize.position))).scalars())


async def create_draw(s: AsyncSession, community_id: int, actor_id: int, *, title: str, rules_text: str,
                      cost_points: int, per_person_limit: int, ends_at: datetime, prizes: Sequence[PrizeIn]) -> Draw:
    pol, _ = await require_on(s, community_id, "draws")
    await community.require_permission(s, community_id, actor_id, RUN_DRAW)
    comm = await community.get_community(s, community_id)
    if not 0 <= cost_points <= pol.max_draw_cost_points:
        raise _bad(BadPrizeTable, f"每次消耗 0–{pol.max_draw_cost_points} 积分",
                   f"an entry costs 0 to {pol.max_draw_cost_points} points")
    if not 1 <= per_person_limit <= 100:
        raise _bad(BadPrizeTable, "每人次数为 1–100", "1 to 100 entries per person")
    if as_utc(ends_at) <= clock.now():
        raise _bad(BadPrizeTable, "结束时间须在将来", "the end is in the future")
    if not title.strip() or not rules_text.strip():
        raise _bad(BadPrizeTable, "需要标题和规则", "a title and rules are required")
    validate_prizes(prizes, pol)
    d = Draw(community_id=community_id, shop_id=comm.shop_id, title=title.strip()[:60], rules=rules_text.strip(),
             cost_points=cost_points, per_person_limit=per_person_limit, status="draft", ends_at=as_utc(ends_at),
             created_by=actor_id, created_at=clock.now(), entries=0)
    s.add(d)
    await s.flush()
    for i, p in enumerate(prizes):
        s.add(DrawPrize(draw_id=d.id, position=i, name=p.name.strip()[:60], kind=p.kind,
                        points=p.points if p.kind == "points" else 0, value_fen=p.value_fen, chance_bp=p.chance_bp,
                        stock=p.stock, remaining=p.stock))
    await s.flush()
    return d


def _prize_doc(p: DrawPrize) -> dict[str, object]:
    return {"name": p.name, "kind": p.kind, "points": p.points, "value_fen": p.value_fen,
            "chance_bp": p.chance_bp, "stock": p.stock}


async def update_draw(s: AsyncSession, draw_id: int, actor_id: int, **values: Any) -> Draw:
    """Change a draft. Once a draw has opened its rules and prizes are frozen (RulesFrozen, 409)."""
    d = await get_draw(s, draw_id)
    await community.require_permission(s, d.community_id, actor_id, RUN_DRAW)
    if d.status != "draft":
        raise RulesFrozen()
    for k in ("title", "rules", "cost_points", "per_person_limit", "ends_at"):
        if k in values:
            setattr(d, k, values[k])
    if "prizes" in values:
        validate_prizes(values["prizes"], await operator_policy(s))
        for old in await prizes_of(s, d.id):
            await s.delete(old)
        for i, p in enumerate(values["prizes"]):
            s.add(DrawPrize(draw_id=d.id, position=i, name=p.name, kind=p.kind, points=p.points,
                            value_fen=p.value_fen, chance_bp=p.chance_bp, stock=p.stock, remaining=p.stock))
    await s.flush()
    return d


async def open_draw(s: AsyncSession, draw_id: int, actor_id: int) -> Draw:
    """Publish: rules and prize table are fingerprinted (the digest is shown) and frozen from now on."""
    d = await get_draw(s, draw_id)
    await community.require_permission(s, d.community_id, actor_id, RUN_DRAW)
    digest = rules.rules_digest(d.rules, d.cost_points, d.per_person_limit, as_utc(d.ends_at),
                                [_prize_doc(p) for p in await prizes_of(s, d.id)])
    n = await guarded_update(s, update(Draw).where(Draw.id == d.id, Draw.status == "draft").values(
        status="open", rules_digest=digest, opened_at=clock.now()))
    if n != 1:
        raise IllegalTransition(current=d.status, target="open")
    await s.refresh(d)
    return d


async def close_draw(s: AsyncSession, draw_id: int, actor_id: int) -> Draw:
    d = await get_draw(s, draw_id)
    await community.require_permission(s, d.community_id, actor_id, RUN_DRAW)
    if await guarded_update(s, update(Draw).where(Draw.id == d.id, Draw.status == "open").values(status="closed")) != 1:
        raise IllegalTransition(current=d.status, target="closed")
    await s.refresh(d)
    return d


def draw_state(d: Draw, now: datetime) -> str:
    if d.status == "open" and as_utc(d.ends_at) <= now:
        return "closed"
    return d.status


@dataclass
class EntryResult:
    entry_id: int
    prize_kind: str
    prize_name: str
    points_won: int
    entries_left: int
    balance: int


async def enter_draw(s: AsyncSession, draw_id: int, user_id: int, rng: random.Random | None = None) -> EntryResult:
    """One entry: the per-person quota (one guarded UPDATE), the cost in points (a guarded ledger debit), a
    number drawn with `secrets` against the prize table, the prize's stock (one guarded UPDATE: when it is
    gone the entry wins nothing — stock never goes negative). Everything or nothing is written."""
    d = await get_draw(s, draw_id)
    await require_on(s, d.community_id, "draws")
    if draw_state(d, clock.now()) != "open":
        raise DrawNotOpen()
    await community.require_member(s, d.community_id, user_id)
    await insert_ignore(s, DrawQuota, {"draw_id": d.id, "user_id": user_id, "used": 0}, ["draw_id", "user_id"])
    if await guarded_update(s, update(DrawQuota).where(
            DrawQuota.draw_id == d.id, DrawQuota.user_id == user_id, DrawQuota.used < d.per_person_limit,
    ).values(used=DrawQuota.used + 1)) != 1:
        raise DrawLimitReached(limit=d.per_person_limit)
    used = (await s.execute(select(DrawQuota.used).where(DrawQuota.draw_id == d.id, DrawQuota.user_id == user_id))
            ).scalar_one()
    ref = f"{d.id}:{user_id}:{used}"
    if d.cost_points:
        await move_points(s, "pts.draw_cost", ref, [fan_points(user_id, d.shop_id, -d.cost_points),
                                                    redeemed(d.shop_id, d.cost_points)], f"draw {d.id}")
    prizes = await prizes_of(s, d.id)
    number = rules.roll(rng)
    chosen = rules.pick([rules.PrizeLine(p.id, p.chance_bp) for p in prizes], number)
    prize = next((p for p in prizes if p.id == chosen), None)
    if prize is not None and prize.kind != "nothing" and await guarded_update(
            s, update(DrawPrize).where(DrawPrize.id == prize.id, DrawPrize.remaining > 0)
            .values(remaining=DrawPrize.remaining - 1)) != 1:
        prize = None  # this prize is gone: the band wins nothing now
    kind = prize.kind if prize is not None else "nothing"
    name = prize.name if prize is not None else "谢谢参与"
    entry = DrawEntry(draw_id=d.id, user_id=user_id, prize_id=prize.id if prize else None, prize_kind=kind,
                      prize_name=name, roll=number, created_at=clock.now())
    s.add(entry)
    await s.execute(update(Draw).where(Draw.id == d.id).values(entries=Draw.entries + 1))
    await s.flush()
    won = 0
    if prize is not None and prize.kind == "points":
        won = prize.points
        await move_points(s, "pts.draw_prize", str(entry.id), [fan_points(user_id, d.shop_id, won),
                                                              issued(d.shop_id, -won)], f"draw {d.id} prize")
    return EntryResult(entry.id, kind, name, won, d.per_person_limit - used,
                       await points_balance(s, user_id, d.shop_id))


async def draws_of(s: AsyncSession, community_id: int, *, include_drafts: bool = False) -> list[Draw]:
    stmt = select(Draw).where(Draw.community_id == community_id).order_by(Draw.id.desc()).limit(50)
    if not include_drafts:
        stmt = stmt.where(Draw.status != "draft")
    return list((await s.execute(stmt)).scalars())


@dataclass
class Winner:
    entry_id: int
    nickname: str
    masked_phone: str
    prize_name: str
    at: datetime


def _mask_name(nick: str) -> str:
    return nick[:1] + "**" if len(nick) > 1 else nick + "*"


async def winners(s: AsyncSession, draw_id: int, limit: int = 100) -> list[Winner]:
    """The public winners list: every entry that won something, names masked, newest first."""
    rows = list((await s.execute(select(DrawEntry).where(DrawEntry.draw_id == draw_id, DrawEntry.prize_kind != "nothing")
                                 .order_by(DrawEntry.id.desc()).limit(limit))).scalars())
    profs = await accounts.profiles(s, {r.user_id for r in rows})
    return [Winner(r.id, _mask_name(profs[r.user_id].nickname if r.user_id in profs else "?"),
                   profs[r.user_id].masked_phone if r.user_id in profs else "", r.prize_name, as_utc(r.created_at))
            for r in rows]


async def my_entries(s: AsyncSession, draw_id: int, user_id: int) -> list[DrawEntry]:
    return list((await s.execute(select(DrawEntry).where(DrawEntry.draw_id == draw_id, DrawEntry.user_id == user_id)
                                 .order_by(DrawEntry.id.desc()))).scalars())


async def entries_used(s: AsyncSession, draw_id: int, user_id: int) -> int:
    return int((await s.execute(select(DrawQuota.used).where(DrawQuota.draw_id == draw_id, DrawQuota.user_id == user_id))
                ).scalar_one_or_none() or 0)


# --- red packets ----------------------------------------------------------------------------------------

async def get_packet(s: AsyncSession, packet_id: int) -> RedPacket:
    p = await s.get(RedPacket, packet_id)
    if p is None:
        raise PacketNotFound()
    return p


async def send_packet(s: AsyncSession, community_id: int, sender_id: int, *, total_points: int, parts: int,
                      split: str, greeting: str = "", from_shop: bool = False,
                      rng: random.Random | None = None) -> RedPacket:
    """A red packet of points: from the sender's own points in the shop, or (staff with the draw permission)
    newly issued by the shop. The split is planned now; the points are set aside until grabbed or expired."""
    pol, _ = await require_on(s, community_id, "red_packets")
    if from_shop:
        await community.require_permission(s, community_id, sender_id, SEND_PACKET)
    else:
        await community.require_member(s, community_id, sender_id)
    comm = await community.get_community(s, community_id)
    if split not in ("fixed", "lucky"):
        raise _bad(BadPacket, "拆分方式为平均或拼手气", "the split is fixed or lucky")
    if not 1 <= parts <= pol.max_packet_parts:
        raise _bad(BadPacket, f"份数为 1–{pol.max_packet_parts}", f"1 to {pol.max_packet_parts} parts")
    if not parts <= total_points <= pol.max_packet_points:
        raise _bad(BadPacket, f"积分须在份数与 {pol.max_packet_points} 之间（每份至少 1 积分）",
                   f"between the number of parts and {pol.max_packet_points} points (at least 1 a part)")
    plan = rules.fixed_split(total_points, parts) if split == "fixed" else rules.lucky_split(total_points, parts, rng)
    now = clock.now()
    p = RedPacket(community_id=community_id, shop_id=comm.shop_id, sender_id=sender_id,
                  funded_by="shop" if from_shop else "member", split=split, greeting=greeting.strip()[:60],
                  total_points=total_points, parts=parts, plan=plan, grabbed_parts=0, grabbed_points=0, status="open",
                  expires_at=now + timedelta(hours=pol.packet_hours), returned_points=0, created_at=now)
    s.add(p)
    await s.flush()
    source = issued(comm.shop_id, -total_points) if from_shop else fan_points(sender_id, comm.shop_id, -total_points)
    await move_points(s, "pts.packet_fund", str(p.id), [source, held(comm.shop_id, total_points)], f"red packet {p.id}")
    return p


@dataclass
class GrabResult:
    points: int
    position: int
    balance: int


async def grab(s: AsyncSession, packet_id: int, user_id: int) -> GrabResult:
    """First come: the n-th grab takes part n of the plan, one guarded UPDATE of the counter; a member grabs a
    packet once (unique (packet, person): a second grab is refused and the counter change rolls back)."""
    p = await get_packet(s, packet_id)
    await community.require_member(s, p.community_id, user_id)
    mine = (await s.execute(select(RedPacketGrab.id).where(RedPacketGrab.packet_id == p.id,
                                                           RedPacketGrab.user_id == user_id))).first()
    if mine is not None:
        raise PacketGrabbed()
    now = clock.now()
    if p.status == "expired" or as_utc(p.expires_at) <= now:
        raise PacketExpired()
    n = await guarded_update(s, update(RedPacket).where(
        RedPacket.id == p.id, RedPacket.status == "open", RedPacket.grabbed_parts < RedPacket.parts,
        RedPacket.expires_at > now,
    ).values(grabbed_parts=RedPacket.grabbed_parts + 1))
    if n != 1:
        raise PacketEmpty()
    taken = (await s.execute(select(RedPacket.grabbed_parts).where(RedPacket.id == p.id))).scalar_one()
    position = taken - 1
    points = p.plan[position]
    if not await insert_ignore(s, RedPacketGrab, {"packet_id": p.id, "user_id": user_id, "position": position,
                                                  "points": points, "created_at": now}, ["packet_id", "user_id"]):
        raise PacketGrabbed()
    await s.execute(update(RedPacket).where(RedPacket.id == p.id).values(
        grabbed_points=RedPacket.grabbed_points + points,
        status="finished" if taken == p.parts else RedPacket.status))
    grab_id = (await s.execute(select(RedPacketGrab.id).where(RedPacketGrab.packet_id == p.id,
                                                              RedPacketGrab.user_id == user_id))).scalar_one()
    await move_points(s, "pts.packet_grab", str(grab_id), [held(p.shop_id, -points), fan_points(user_id, p.shop_id, points)],
                      f"red packet {p.id}")
    return GrabResult(points, position, await points_balance(s, user_id, p.shop_id))


async def expire_packet(s: AsyncSession, packet_id: int) -> int:
    """Return what nobody grabbed to the sender (or back to the shop's issue). One guarded status change."""
    now = clock.now()
    if await guarded_update(s, update(RedPacket).where(
            RedPacket.id == packet_id, RedPacket.status == "open", RedPacket.expires_at <= now,
    ).values(status="expired")) != 1:
        return 0
    p = await get_packet(s, packet_id)
    await s.refresh(p)
    rest = p.total_points - p.grabbed_points
    p.returned_points = rest
    target = issued(p.shop_id, rest) if p.funded_by == "shop" else fan_points(p.sender_id, p.shop_id, rest)
    await move_points(s, "pts.packet_return", str(p.id), [held(p.shop_id, -rest), target], f"red packet {p.id} expired")
    return rest


async def due_packets(s: AsyncSession, now: datetime, limit: int = 200) -> list[int]:
    return list((await s.execute(select(RedPacket.id).where(RedPacket.status == "open", RedPacket.expires_at <= now)
                                 .order_by(RedPacket.id).limit(limit))).scalars())


async def packets_of(s: AsyncSession, community_id: int, limit: int = 30) -> list[RedPacket]:
    return list((await s.execute(select(RedPacket).where(RedPacket.community_id == community_id)
                                 .order_by(RedPacket.id.desc()).limit(limit))).scalars())


async def grabs_of(s: AsyncSession, packet_id: int) -> list[RedPacketGrab]:
    return list((await s.execute(select(RedPacketGrab).where(RedPacketGrab.packet_id == packet_id)
                                 .order_by(RedPacketGrab.position))).scalars())


# --- polls ----------------------------------------------------------------------------------------------

async def get_poll(s: AsyncSession, poll_id: int) -> Poll:
    p = await s.get(Poll, poll_id)
    if p is None:
        raise PollNotFound()
    return p


async def options_of(s: AsyncSession, poll_id: int) -> list[PollOption]:
    return list((await s.execute(select(PollOption).where(PollOption.poll_id == poll_id)
                                 .order_by(PollOption.position))).scalars())


async def create_poll(s: AsyncSession, community_id: int, actor_id: int, *, question: str, options: Sequence[str],
                      multiple: bool, anonymous: bool, closes_at: datetime) -> Poll:
    await require_on(s, community_id, "polls")
    await community.require_permission(s, community_id, actor_id, RUN_POLL)
    labels = [o.strip()[:80] for o in options if o.strip()]
    if not question.strip() or not 2 <= len(labels) <= 10 or len(set(labels)) != len(labels):
        raise BadChoice({"zh": "投票需要问题和 2–10 个不同的选项", "en": "A poll needs a question and 2 to 10 different options"})
    if as_utc(closes_at) <= clock.now():
        raise BadChoice({"zh": "截止时间须在将来", "en": "The closing time must be in the future"})
    p = Poll(community_id=community_id, question=question.strip()[:200], multiple=multiple, anonymous=anonymous,
             closes_at=as_utc(closes_at), answers=0, created_by=actor_id, created_at=clock.now())
    s.add(p)
    await s.flush()
    for i, label in enumerate(labels):
        s.add(PollOption(poll_id=p.id, position=i, label=label, votes=0))
    await s.flush()
    return p


async def answer_poll(s: AsyncSession, poll_id: int, user_id: int, option_ids: Sequence[int]) -> Poll:
    p = await get_poll(s, poll_id)
    await require_on(s, p.community_id, "polls")
    await community.require_member(s, p.community_id, user_id)
    if as_utc(p.closes_at) <= clock.now():
        raise PollClosed()
    chosen = sorted(set(option_ids))
    valid = {o.id for o in await options_of(s, p.id)}
    if not chosen or not set(chosen) <= valid or (not p.multiple and len(chosen) != 1):
        raise BadChoice()
    if not await insert_ignore(s, PollAnswer, {"poll_id": p.id, "user_id": user_id,
                                               "option_ids": None if p.anonymous else chosen,
                                               "created_at": clock.now()}, ["poll_id", "user_id"]):
        raise PollAnswered()
    await s.execute(update(PollOption).where(PollOption.id.in_(chosen)).values(votes=PollOption.votes + 1))
    await s.execute(update(Poll).where(Poll.id == p.id).values(answers=Poll.answers + 1))
    await s.refresh(p)
    return p


async def is_manager(s: AsyncSession, community_id: int, user_id: int, action: str) -> bool:
    try:
        await community.require_permission(s, community_id, user_id, action)
    except DomainError:
        return False
    return True


@dataclass
class PollResults:
    poll: Poll
    options: list[PollOption]
    answered: bool


async def poll_results(s: AsyncSession, poll_id: int, user_id: int) -> PollResults:
    """The shopkeeper's staff always see the counts; members only if the community allows it."""
    p = await get_poll(s, poll_id)
    if not await is_manager(s, p.community_id, user_id, RUN_POLL):
        await community.require_member(s, p.community_id, user_id)
        if not (await settings_of(s, p.community_id)).poll_results_for_members:
            raise ResultsHidden()
    return PollResults(p, await options_of(s, p.id), await has_answered(s, p.id, user_id))


async def has_answered(s: AsyncSession, poll_id: int, user_id: int) -> bool:
    return (await s.execute(select(PollAnswer.id).where(PollAnswer.poll_id == poll_id,
                                                        PollAnswer.user_id == user_id))).first() is not None


async def polls_of(s: AsyncSession, community_id: int, limit: int = 30) -> list[Poll]:
    return list((await s.execute(select(Poll).where(Poll.community_id == community_id)
                                 .order_by(Poll.id.desc()).limit(limit))).scalars())


# --- activity calendar ----------------------------------------------------------------------------------

ACTIVITY_KINDS = ("drop", "live_qa", "draw", "checkin_week", "other")


async def cadence_days(s: AsyncSession, community_id: int) -> int:
    """The community's default cadence: its category's repurchase cycle (operator setting), else the default."""
    pol = await operator_policy(s)
    category = (await community.get_community(s, community_id)).category_id
    if category is not None and str(category) in pol.repurchase_days:
        return pol.repurchase_days[str(category)]
    return pol.default_cadence_days


async def schedule(s: AsyncSession, community_id: int, actor_id: int, *, kind: str, title: str, starts_at: datetime,
                   remind_minutes: int = 60, repeat: int = 1, every_days: int | None = None) -> list[Activity]:
    """One activity, or `repeat` of them `every_days` apart — by default at the category's repurchase cadence."""
    await require_on(s, community_id, "calendar")
    await community.require_permission(s, community_id, actor_id, SCHEDULE)
    if kind not in ACTIVITY_KINDS:
        raise _bad(BadActivity, "类型不正确", "unknown kind")
    if not title.strip():
        raise _bad(BadActivity, "需要标题", "a title is required")
    if not 1 <= repeat <= 12 or not 0 <= remind_minutes <= 7 * 24 * 60:
        raise _bad(BadActivity, "重复 1–12 次，提前提醒不超过 7 天", "repeat 1 to 12 times, remind at most 7 days before")
    start = as_utc(starts_at)
    if start <= clock.now():
        raise _bad(BadActivity, "开始时间须在将来", "the start must be in the future")
    every = every_days or await cadence_days(s, community_id)
    out = []
    for when in rules.cadence_dates(start, every, repeat):
        a = Activity(community_id=community_id, kind=kind, title=title.strip()[:60], starts_at=when,
                     remind_at=when - timedelta(minutes=remind_minutes), reminded_at=None, created_by=actor_id,
                     created_at=clock.now())
        s.add(a)
        out.append(a)
    await s.flush()
    return out


async def calendar(s: AsyncSession, community_id: int, *, since: datetime | None = None, limit: int = 50) -> list[Activity]:
    start = since or clock.now() - timedelta(days=1)
    return list((await s.execute(select(Activity).where(Activity.community_id == community_id,
                                                        Activity.starts_at >= start)
                                 .order_by(Activity.starts_at).limit(limit))).scalars())


async def get_activity(s: AsyncSession, activity_id: int) -> Activity:
    a = await s.get(Activity, activity_id)
    if a is None:
        raise ActivityNotFound()
    return a


async def cancel_activity(s: AsyncSession, activity_id: int, actor_id: int) -> None:
    a = await get_activity(s, activity_id)
    await community.require_permission(s, a.community_id, actor_id, SCHEDULE)
    await s.delete(a)


async def due_reminders(s: AsyncSession, now: datetime, limit: int = 100) -> list[int]:
    return list((await s.execute(select(Activity.id).where(Activity.reminded_at.is_(None), Activity.remind_at <= now,
                                                           Activity.starts_at > now)
                                 .order_by(Activity.remind_at).limit(limit))).scalars())


async def send_reminder(s: AsyncSession, activity_id: int) -> bool:
    """Mark the reminder sent (one guarded UPDATE) and emit the event notifications turns into messages."""
    if await guarded_update(s, update(Activity).where(Activity.id == activity_id, Activity.reminded_at.is_(None))
                            .values(reminded_at=clock.now())) != 1:
        return False
    await outbox.emit(s, "engagement.activity_reminder", {"activity_id": activity_id})
    return True


@dataclass
class Reminder:
    activity: Activity
    community_name: str
    member_ids: list[int]


async def reminder_of(s: AsyncSession, activity_id: int) -> Reminder | None:
    """What notifications needs to remind the members of an activity."""
    a = await s.get(Activity, activity_id)
    if a is None:
        return None
    comm = await community.get_community(s, a.community_id)
    return Reminder(a, comm.name, await member_ids(s, a.community_id))


async def member_ids(s: AsyncSession, community_id: int) -> list[int]:
    """Every active member (keyset pages of community's member list)."""
    out: list[int] = []
    before = None
    while True:
        page = await community.list_members(s, community_id, before_id=before, limit=500)
        out.extend(m.user_id for m in page)
        if len(page) < 500:
            return out
        before = page[-1].id


# --- invite-new rewards ---------------------------------------------------------------------------------

async def retire_phone(s: AsyncSession, e164: str) -> None:
    """Remember a number whose account is being deleted: a new account on it is never a "new" invitee."""
    await insert_ignore(s, RetiredPhone, {"phone_digest": rules.phone_digest(e164), "retired_at": clock.now()},
                        ["phone_digest"])


async def record_invitation(s: AsyncSession, community_id: int, inviter_id: int, invitee_id: int) -> Invitation | None:
    """A fan joined through a member's invite. Nothing is paid for a sign-up (禁止传销条例 Art. 7): the invitation
    only waits for the invitee's first paid order in the shop. Refused at once for a number that had an account
    before (deleted and re-registered) or that was already invited once, and never for oneself."""
    if inviter_id == invitee_id:
        return None
    phone = await accounts.phone_of(s, invitee_id)
    if phone is None:
        return None
    comm = await community.get_community(s, community_id)
    digest = rules.phone_digest(phone)
    refusal = None
    if await s.get(RetiredPhone, digest) is not None or (await s.execute(select(Invitation.id).where(Invitation.phone_digest == digest))).first() is not None:
        refusal = "phone_reused"
    elif await orders.first_paid_order_id(s, invitee_id, comm.shop_id) is not None:
        refusal = "not_new"
    if not await insert_ignore(s, Invitation, {
        "community_id": community_id, "shop_id": comm.shop_id, "inviter_id": inviter_id, "invitee_id": invitee_id,
        "phone_digest": digest, "status": "refused" if refusal else "joined", "refusal": refusal, "points": 0,
        "created_at": clock.now(),
    }, ["invitee_id"]):
        return None  # invited before (by anyone): the first invitation stands
    return (await s.execute(select(Invitation).where(Invitation.invitee_id == invitee_id))).scalar_one()


async def invitation_of_invitee(s: AsyncSession, invitee_id: int) -> Invitation | None:
    return (await s.execute(select(Invitation).where(Invitation.invitee_id == invitee_id))).scalar_one_or_none()


async def on_order_paid(s: AsyncSession, order_id: int) -> None:
    """The invitee's first paid order in the shop → the reward is pending until that order completes."""
    order = await orders.get_order(s, order_id)
    inv = await invitation_of_invitee(s, order.buyer_id)
    if inv is None or inv.status != "joined" or order.shop_id != inv.shop_id:
        return
    first = await orders.first_paid_order_id(s, order.buyer_id, inv.shop_id)
    if first != order.id:
        await s.execute(update(Invitation).where(Invitation.id == inv.id, Invitation.status == "joined")
                        .values(status="refused", refusal="not_first_order", settled_at=clock.now()))
        return
    await s.execute(update(Invitation).where(Invitation.id == inv.id, Invitation.status == "joined")
                    .values(status="pending", order_id=order.id))


async def settle_invitation(s: AsyncSession, invitation_id: int) -> str:
    """Pay a pending reward once its order has completed (the return window passed, no open after-sale) with
    nothing refunded; within the inviter's daily cap (else it waits for another day). Returns the status."""
    inv = await s.get(Invitation, invitation_id)
    if inv is None or inv.status != "pending" or inv.order_id is None:
        return inv.status if inv else "missing"
    order = await orders.get_order(s, inv.order_id)
    if order.refunded_fen > 0 or order.status == "closed" or order.status == "cancelled":
        await s.execute(update(Invitation).where(Invitation.id == inv.id, Invitation.status == "pending")
                        .values(status="reversed", refusal="refunded", settled_at=clock.now()))
        return "reversed"
    if order.status != "completed":
        return "pending"
    pol = await operator_policy(s)
    mine = await settings_of(s, inv.community_id)
    if not (pol.invite_rewards_enabled and mine.invite_enabled):
        return "pending"
    day = rules.china_day(clock.now()).isoformat()
    cap = min(mine.invite_daily_cap, pol.max_invite_daily_cap)
    await insert_ignore(s, InviteDay, {"inviter_id": inv.inviter_id, "day": day, "paid": 0}, ["inviter_id", "day"])
    if await guarded_update(s, update(InviteDay).where(InviteDay.inviter_id == inv.inviter_id, InviteDay.day == day,
                                                       InviteDay.paid < cap).values(paid=InviteDay.paid + 1)) != 1:
        return "pending"  # today's cap is reached: the sweep pays it on a later day
    points = min(mine.invite_reward_points, pol.max_invite_points)
    if await guarded_update(s, update(Invitation).where(Invitation.id == inv.id, Invitation.status == "pending").values(
            status="paid", points=points, paid_day=day, settled_at=clock.now())) != 1:
        raise IllegalTransition(current=inv.status, target="paid")
    await move_points(s, "pts.invite", str(inv.id), [fan_points(inv.inviter_id, inv.shop_id, points),
                                                     issued(inv.shop_id, -points)], f"invite {inv.invitee_id}")
    return "paid"


async def on_refund(s: AsyncSession, order_id: int) -> None:
    """A refund on the rewarded order: a pending reward is dropped; a paid one is taken back (as far as the
    inviter still holds points: points never go negative; the shortfall is written in the reason)."""
    inv = (await s.execute(select(Invitation).where(Invitation.order_id == order_id))).scalar_one_or_none()
    if inv is None:
        return
    if inv.status == "pending":
        await s.execute(update(Invitation).where(Invitation.id == inv.id, Invitation.status == "pending")
                        .values(status="reversed", refusal="refunded", settled_at=clock.now()))
    elif inv.status == "paid":
        if await guarded_update(s, update(Invitation).where(Invitation.id == inv.id, Invitation.status == "paid")
                                .values(status="reversed", refusal="refunded", settled_at=clock.now())) != 1:
            return
        back = min(inv.points, await points_balance(s, inv.inviter_id, inv.shop_id))
        await move_points(s, "pts.invite_reverse", str(inv.id), [fan_points(inv.inviter_id, inv.shop_id, -back),
                                                                 issued(inv.shop_id, back)],
                          f"invite {inv.invitee_id} refunded; short {inv.points - back}")


async def due_invitations(s: AsyncSession, limit: int = 200) -> list[int]:
    return list((await s.execute(select(Invitation.id).where(Invitation.status == "pending")
                                 .order_by(Invitation.id).limit(limit))).scalars())


async def invitations_of(s: AsyncSession, inviter_id: int, community_id: int | None = None) -> list[Invitation]:
    stmt = select(Invitation).where(Invitation.inviter_id == inviter_id).order_by(Invitation.id.desc()).limit(100)
    if community_id is not None:
        stmt = stmt.where(Invitation.community_id == community_id)
    return list((await s.execute(stmt)).scalars())


# --- health ---------------------------------------------------------------------------------------------

@dataclass
class HealthDay:
    day: str
    active_members: int
    posts: int
    checkins: int
    visitors: int
    buyers: int  # visitors of that day who paid an order in the shop that day

    @property
    def conversion_bp(self) -> int:
        return self.buyers * 10_000 // self.visitors if self.visitors else 0


async def health(s: AsyncSession, community_id: int, actor_id: int, days: int = 30) -> list[HealthDay]:
    """The shopkeeper's 30-day chart: daily active members (visited, checked in or posted), posts, check-ins,
    and conversion from community visits to paid orders in the shop on the same China day."""
    from quanzi.community import feed

    comm, _ = await community.manageable(s, community_id, actor_id, SETTINGS)
    today = rules.china_day(clock.now())
    first = today - timedelta(days=days - 1)
    since_day = first.isoformat()
    since = datetime.combine(first, datetime.min.time(), tzinfo=CHINA)
    posts = await feed.posts_by_day(s, community_id, since)
    visitors: dict[str, set[int]] = {}
    for d, uid in await feed.visitors_on(s, community_id, since_day):
        visitors.setdefault(d, set()).add(uid)
    checkins = await checkin_members_per_day(s, community_id, since_day)
    authors = await feed.authors_by_day(s, community_id, since)
    buyers: dict[str, set[int]] = {}
    for d, uid in await orders.paid_buyers_by_day(s, comm.shop_id, since):
        buyers.setdefault(d, set()).add(uid)
    out = []
    for i in range(days):
        d = (first + timedelta(days=i)).isoformat()
        v, c = visitors.get(d, set()), checkins.get(d, set())
        active = v | c | authors.get(d, set())
        out.append(HealthDay(d, len(active), posts.get(d, 0), len(c), len(v), len(v & buyers.get(d, set()))))
    return out


async def checkin_members_per_day(s: AsyncSession, community_id: int, since_day: str) -> dict[str, set[int]]:
    out: dict[str, set[int]] = {}
    for d, uid in (await s.execute(select(CheckIn.day, CheckIn.user_id).where(
            CheckIn.community_id == community_id, CheckIn.day >= since_day))).all():
        out.setdefault(d, set()).add(uid)
    return out
