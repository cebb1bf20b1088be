"""Community rules: communities owned by a shop, who is a member, who may do what, joining and moderation.

The API other domains call (engagement sits above this one; keep these names):

- `get_community(s, community_id) -> Community` — 404 `community.not_found`
- `membership(s, community_id, user_id) -> Member | None` — the row, whatever its status
- `require_member(s, community_id, user_id) -> Member` — ACTIVE members only; 403 `community.not_member`
  (or `community.banned`), 404 for a community that does not exist
- `can(role, action) -> bool` — the permission table (`permissions.PERMISSIONS`, data)
- `require_permission(s, community_id, user_id, action) -> Member` — an active member whose role allows
  `action` (403 `community.no_permission`); speaking while muted is 403 `community.muted`
- `communities_of_shop(s, shop_id) -> list[Community]`
- `my_communities(s, user_id) -> list[tuple[Community, Member]]` — the person's active memberships
- `get_policy(s) -> CommunityPolicy`

Feed, visits and the daily counts a health chart reads are in `community.feed` (`visits_by_day`,
`posts_by_day`).

Places: `Community.member_count` counts active members, the owner included. A place is taken with ONE
guarded UPDATE (`member_count < capacity`) and given back with one guarded decrement, so the last free
place is taken exactly once at any concurrency, on SQLite and PostgreSQL. A banned person keeps the banned
row (UNIQUE(community, user)) and cannot come back. Joining records the rules version accepted and posts
the welcome into the feed as a system post. Joining through a signed invite link (kit/sharetokens, kind
"q") also binds the fan to the person who shared it, under the distribution rules (referrals.bind).
Every moderation action (approve, reject, remove, ban, unban, mute, role change, close) is in the audit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts import service as accounts
from quanzi.audit.service import record
from quanzi.community.errors import (
    AlreadyMember,
    Banned,
    CapacityInvalid,
    CommunitiesDisabled,
    CommunityClosed,
    CommunityFull,
    CommunityNotFound,
    InviteExpired,
    InviteInvalid,
    InviteRequired,
    MemberNotFound,
    Muted,
    NoPermission,
    NotMember,
    OwnerFixed,
    PendingApproval,
    RulesNotAccepted,
    TooManyCommunities,
)
from quanzi.catalog.models import Category
from quanzi.community.models import Community, Member, Post
from quanzi.community.permissions import ASSIGNABLE, SPEAKING, can
from quanzi.community.policy import CommunityPolicy
from quanzi.kit import outbox
from quanzi.kit import sharetokens as tokens
from quanzi.kit.clock import CHINA, clock
from quanzi.kit.db import guarded_update, insert_ignore
from quanzi.kit.errors import InvalidInput
from quanzi.policy import service as policy
from quanzi.referrals import links as referral_links
from quanzi.referrals import service as referrals
from quanzi.shops import service as shops
from quanzi.shops.models import Shop

__all__ = [
    "can", "communities_of_shop", "get_community", "get_policy", "membership", "my_communities", "require_member",
    "require_permission",
]

INVITE_KIND = "q"
NAME_MAX, INTRO_MAX, RULES_MAX, WELCOME_MAX, REASON_MAX = 40, 500, 4000, 500, 200
MUTE_MAX = timedelta(days=30)


async def get_policy(s: AsyncSession) -> CommunityPolicy:
    return await policy.get(s, CommunityPolicy)


# --- the API other domains use -----------------------------------------------------------------------

async def get_community(s: AsyncSession, community_id: int) -> Community:
    c = await s.get(Community, community_id)
    if c is None:
        raise CommunityNotFound(community_id=community_id)
    return c


async def membership(s: AsyncSession, community_id: int, user_id: int) -> Member | None:
    return (await s.execute(select(Member).where(Member.community_id == community_id,
                                                 Member.user_id == user_id))).scalar_one_or_none()


async def require_member(s: AsyncSession, community_id: int, user_id: int) -> Member:
    await get_community(s, community_id)
    m = await membership(s, community_id, user_id)
    if m is not None and m.status == "banned":
        raise Banned()
    if m is None or m.status != "active":
        raise NotMember(community_id=community_id)
    return m


def is_muted(m: Member, now: datetime | None = None) -> bool:
    return m.muted_until is not None and m.muted_until > (now or clock.now())


async def require_permission(s: AsyncSession, community_id: int, user_id: int, action: str) -> Member:
    m = await require_member(s, community_id, user_id)
    if not can(m.role, action):
        raise NoPermission(action=action, role=m.role)
    if action in SPEAKING and is_muted(m):
        assert m.muted_until is not None
        raise Muted(until=m.muted_until.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"))
    return m


async def communities_of_shop(s: AsyncSession, shop_id: int) -> list[Community]:
    return list((await s.execute(select(Community).where(Community.shop_id == shop_id)
                                 .order_by(Community.id))).scalars())


async def my_communities(s: AsyncSession, user_id: int) -> list[tuple[Community, Member]]:
    rows = await s.execute(select(Community, Member).join(Member, Member.community_id == Community.id)
                           .where(Member.user_id == user_id, Member.status == "active")
                           .order_by(Member.joined_at.desc(), Member.id.desc()))
    return [(c, m) for c, m in rows.all()]


async def manageable(s: AsyncSession, community_id: int, user_id: int, action: str) -> tuple[Community, Member]:
    """For console pages: the community and the acting member if they may `action`; others' communities are
    not revealed (404)."""
    c = await get_community(s, community_id)
    m = await membership(s, community_id, user_id)
    if m is None or m.status != "active" or not can(m.role, action):
        raise CommunityNotFound(community_id=community_id)
    return c, m


# --- communities -------------------------------------------------------------------------------------

@dataclass
class Settings:
    """What a shopkeeper edits. Texts are stored as written (pages escape them)."""

    name: str
    intro: str = ""
    capacity: int | None = None
    rules: str = ""
    welcome: str = ""
    join_mode: str = "open"
    category_id: int | None = None
    cover_url: str | None = None


def _clean_settings(st: Settings, pol: CommunityPolicy) -> dict[str, Any]:
    name = st.name.strip()
    if not 1 <= len(name) <= NAME_MAX:
        raise InvalidInput(field="name", max=NAME_MAX)
    if len(st.intro) > INTRO_MAX or len(st.rules) > RULES_MAX or len(st.welcome) > WELCOME_MAX:
        raise InvalidInput(field="text")
    if st.join_mode not in ("open", "invite", "approval"):
        raise InvalidInput(field="join_mode")
    out: dict[str, Any] = {"name": name, "intro": st.intro.strip(), "rules": st.rules.strip(),
                           "welcome": st.welcome.strip(), "join_mode": st.join_mode, "category_id": st.category_id}
    if st.capacity is not None:
        if not 2 <= st.capacity <= pol.platform_capacity_cap:
            raise CapacityInvalid(low=2, high=pol.platform_capacity_cap)
        out["capacity"] = st.capacity
    if st.cover_url is not None:
        out["cover_url"] = st.cover_url
    return out


async def _known_category(s: AsyncSession, category_id: int | None) -> None:
    """A community tied to a category that does not exist is refused (the id would break the foreign key)."""
    if category_id is not None and await s.get(Category, category_id) is None:
        raise InvalidInput({"zh": "没有这个类目", "en": "No such category"}, field="category_id")


async def _profile_snapshot(s: AsyncSession, user_id: int) -> dict[str, str]:
    p = (await accounts.profiles(s, {user_id})).get(user_id)
    if p is None:
        return {"name": "", "phone_tail": ""}
    return {"name": (p.nickname or p.masked_phone or "")[:40], "phone_tail": p.masked_phone[-4:]}


async def create_community(s: AsyncSession, owner_id: int, st: Settings) -> Community:
    """A new community of the owner's shop, with the owner as its first member."""
    pol = await get_policy(s)
    if not pol.enabled:
        raise CommunitiesDisabled()
    shop = await shops.my_shop(s, owner_id)
    values = _clean_settings(st, pol)
    await _known_category(s, st.category_id)
    values.setdefault("capacity", pol.default_capacity)
    count = int(await s.scalar(select(func.count(Community.id)).where(Community.shop_id == shop.id)) or 0)
    if count >= pol.max_communities_per_shop:
        raise TooManyCommunities(n=pol.max_communities_per_shop)
    now = clock.now()
    c = Community(shop_id=shop.id, created_by=owner_id, created_at=now, member_count=1, status="open",
                  rules_version=1, **values)
    s.add(c)
    await s.flush()
    s.add(Member(community_id=c.id, user_id=owner_id, role="owner", status="active",
                 accepted_rules_version=c.rules_version, joined_at=now, created_at=now, updated_at=now,
                 **await _profile_snapshot(s, owner_id)))
    await s.flush()
    return c


async def update_community(s: AsyncSession, community_id: int, actor_id: int, st: Settings) -> Community:
    """Edit settings. New rules text is a new rules version (members accepted the old one; the join page
    asks newcomers for the new one). Capacity cannot go below the members already in."""
    c, _m = await manageable(s, community_id, actor_id, "edit_settings")
    pol = await get_policy(s)
    values = _clean_settings(st, pol)
    await _known_category(s, st.category_id)
    if "capacity" in values and values["capacity"] < c.member_count:
        raise CapacityInvalid(low=max(2, c.member_count), high=pol.platform_capacity_cap)
    if values["rules"] != c.rules:
        values["rules_version"] = c.rules_version + 1
    if "capacity" in values:  # guarded: a join may have taken a place since we read member_count
        n = await guarded_update(s, update(Community).where(Community.id == c.id,
                                                            Community.member_count <= values["capacity"])
                                 .values(**values))
        if n != 1:
            raise CapacityInvalid(low=max(2, c.member_count), high=pol.platform_capacity_cap)
    else:
        await s.execute(update(Community).where(Community.id == c.id).values(**values))
    await s.refresh(c)
    return c


async def close_community(s: AsyncSession, community_id: int, operator_id: int, reason: str) -> Community:
    """The operator closes a community (read-only from then: no joins, no posts), with a reason."""
    reason = reason.strip()
    if not 1 <= len(reason) <= REASON_MAX:
        raise InvalidInput(field="reason", max=REASON_MAX)
    c = await get_community(s, community_id)
    n = await guarded_update(s, update(Community).where(Community.id == c.id, Community.status == "open")
                             .values(status="closed", close_reason=reason, closed_at=clock.now(),
                                     closed_by=operator_id))
    if n != 1:
        raise CommunityClosed()
    record(s, operator_id, "circle.close", "communities", c.id, {"reason": reason})
    await outbox.emit(s, "community.closed", {"community_id": c.id, "shop_id": c.shop_id, "reason": reason})
    await s.refresh(c)
    return c


async def all_communities(s: AsyncSession, *, status: str | None = None, q: str = "", before_id: int | None = None,
                          limit: int = 50) -> list[Community]:
    stmt = select(Community)
    if status:
        stmt = stmt.where(Community.status == status)
    if q.strip():
        stmt = stmt.where(Community.name.contains(q.strip(), autoescape=True))
    if before_id:
        stmt = stmt.where(Community.id < before_id)
    return list((await s.execute(stmt.order_by(Community.id.desc()).limit(limit))).scalars())


async def shops_of(s: AsyncSession, communities: list[Community]) -> dict[int, Shop]:
    return await shops.shops_by_id(s, sorted({c.shop_id for c in communities}))


# --- invites -----------------------------------------------------------------------------------------

def invite_token(secret: str, sharer_id: int, community_id: int) -> str:
    return tokens.issue(secret, sharer_id, INVITE_KIND, community_id, clock.now())


async def issue_invite(s: AsyncSession, secret: str, community_id: int, sharer_id: int) -> str:
    """A signed, expiring invite link token for a member allowed to invite."""
    c = await get_community(s, community_id)
    if c.status != "open":
        raise CommunityClosed()
    await require_permission(s, community_id, sharer_id, "invite")
    return invite_token(secret, sharer_id, community_id)


async def verify_invite(s: AsyncSession, secret: str, community_id: int, raw: str) -> tokens.ShareToken:
    """The invite token if it is genuine, unexpired and for this community (4xx with a stable code if not)."""
    pol = await get_policy(s)
    try:
        t = tokens.verify(secret, raw, clock.now(), pol.invite_days)
    except tokens.ExpiredShareToken as exc:
        raise InviteExpired() from exc
    except tokens.BadShareToken as exc:
        raise InviteInvalid() from exc
    if t.kind != INVITE_KIND or t.target_id != community_id:
        raise InviteInvalid()
    return t


# --- joining and leaving -----------------------------------------------------------------------------

async def _take_place(s: AsyncSession, c: Community) -> None:
    """One guarded UPDATE: succeeds for exactly as many people as there are free places."""
    n = await guarded_update(s, update(Community)
                             .where(Community.id == c.id, Community.status == "open",
                                    Community.member_count < Community.capacity)
                             .values(member_count=Community.member_count + 1))
    if n != 1:
        await s.refresh(c)
        if c.status != "open":
            raise CommunityClosed()
        raise CommunityFull(capacity=c.capacity)


async def _give_place_back(s: AsyncSession, community_id: int) -> None:
    await guarded_update(s, update(Community).where(Community.id == community_id, Community.member_count > 0)
                         .values(member_count=Community.member_count - 1))


async def _set_status(s: AsyncSession, m: Member, expected: str, **values: Any) -> bool:
    """Move a member row on from `expected` (guarded: two moderators acting at once change it once)."""
    n = await guarded_update(s, update(Member).where(Member.id == m.id, Member.status == expected)
                             .values(updated_at=clock.now(), **values))
    if n == 1:
        await s.refresh(m)
    return n == 1


async def _welcome(s: AsyncSession, c: Community, user_id: int) -> None:
    if c.welcome:
        s.add(Post(community_id=c.id, author_id=None, kind="system", subject_id=user_id, body=c.welcome,
                   members_only=True, created_at=clock.now()))


async def join(s: AsyncSession, community_id: int, user_id: int, *, accepted_rules_version: int | None,
               invite: tokens.ShareToken | None = None) -> Member:
    """Join (open), join through a verified invite link (any mode), or ask to join (approval).

    Returns the member row: status "active", or "pending" when the community asks for approval."""
    pol = await get_policy(s)
    if not pol.enabled:
        raise CommunitiesDisabled()
    c = await get_community(s, community_id)
    if c.status != "open":
        raise CommunityClosed()
    m = await membership(s, community_id, user_id)
    if m is not None:
        if m.status == "banned":
            raise Banned()
        if m.status == "active":
            raise AlreadyMember()
        if m.status == "pending" and invite is None:
            raise PendingApproval()
    if accepted_rules_version != c.rules_version:
        raise RulesNotAccepted(rules_version=c.rules_version)
    if invite is not None and (invite.kind != INVITE_KIND or invite.target_id != c.id):
        raise InviteInvalid()
    inviter = None
    if invite is not None:
        inviter = await membership(s, c.id, invite.sharer_id)
        if inviter is None or inviter.status != "active" or not can(inviter.role, "invite"):
            raise InviteInvalid()  # a link from someone no longer in the community admits nobody
    if c.join_mode == "invite" and invite is None:
        raise InviteRequired()
    # An approval community admits directly only through an invite of someone who may approve.
    pending = c.join_mode == "approval" and not (inviter is not None and can(inviter.role, "approve"))
    now = clock.now()
    values = {"role": "member", "accepted_rules_version": c.rules_version, "reason": None, "muted_until": None,
              "invited_by": invite.sharer_id if invite else None, **await _profile_snapshot(s, user_id)}
    if not pending:
        await _take_place(s, c)
        values["joined_at"] = now
    status = "pending" if pending else "active"
    if m is None:
        if not await insert_ignore(s, Member, {"community_id": c.id, "user_id": user_id, "status": status,
                                               "created_at": now, "updated_at": now, **values},
                                   ["community_id", "user_id"]):
            raise AlreadyMember()  # a second request of the same person raced past the check above
        m = await membership(s, c.id, user_id)
        assert m is not None
    elif not await _set_status(s, m, m.status, status=status, **values):
        raise AlreadyMember()
    if invite is not None:
        await referrals.bind(s, user_id, invite, is_new_user=False)
    if not pending:
        await _welcome(s, c, user_id)
        await outbox.emit(s, "community.joined", {"community_id": c.id, "user_id": user_id, "member_id": m.id,
                                                  "invited_by": m.invited_by})
    return m


async def leave(s: AsyncSession, community_id: int, user_id: int) -> Member:
    m = await membership(s, community_id, user_id)
    if m is None or m.status not in ("active", "pending"):
        raise NotMember(community_id=community_id)
    if m.role == "owner":
        raise OwnerFixed()
    was = m.status
    if not await _set_status(s, m, was, status="left", role="member"):
        raise NotMember(community_id=community_id)
    if was == "active":
        await _give_place_back(s, community_id)
    return m


# --- moderation --------------------------------------------------------------------------------------

async def _target(s: AsyncSession, community_id: int, actor: Member, member_id: int) -> Member:
    t = await s.get(Member, member_id)
    if t is None or t.community_id != community_id:
        raise MemberNotFound()
    if t.role == "owner" or t.user_id == actor.user_id:
        raise OwnerFixed() if t.role == "owner" else NoPermission()
    if t.role == "staff" and actor.role != "owner":
        raise NoPermission()  # staff answer to the owner only
    return t


def _reason(reason: str, *, required: bool = True) -> str:
    reason = reason.strip()
    if (required and not reason) or len(reason) > REASON_MAX:
        raise InvalidInput(field="reason", max=REASON_MAX)
    return reason


async def approve(s: AsyncSession, community_id: int, actor_id: int, member_id: int) -> Member:
    actor = await require_permission(s, community_id, actor_id, "approve")
    t = await _target(s, community_id, actor, member_id)
    if t.status != "pending":
        raise MemberNotFound()
    c = await get_community(s, community_id)
    await _take_place(s, c)
    if not await _set_status(s, t, "pending", status="active", joined_at=clock.now()):
        raise MemberNotFound()
    await _welcome(s, c, t.user_id)
    record(s, actor_id, "circle.approve", "community_members", t.id, {"community_id": community_id})
    await outbox.emit(s, "community.joined", {"community_id": c.id, "user_id": t.user_id, "member_id": t.id,
                                              "invited_by": t.invited_by})
    return t


async def reject(s: AsyncSession, community_id: int, actor_id: int, member_id: int, reason: str = "") -> Member:
    actor = await require_permission(s, community_id, actor_id, "approve")
    t = await _target(s, community_id, actor, member_id)
    reason = _reason(reason, required=False)
    if not await _set_status(s, t, "pending", status="left", reason=reason or None):
        raise MemberNotFound()
    record(s, actor_id, "circle.reject", "community_members", t.id, {"community_id": community_id, "reason": reason})
    return t


async def remove(s: AsyncSession, community_id: int, actor_id: int, member_id: int, reason: str, *,
                 ban: bool = False) -> Member:
    """Remove a member (they may join again) or ban them (they may not), with a reason, audited."""
    actor = await require_permission(s, community_id, actor_id, "ban" if ban else "remove")
    t = await _target(s, community_id, actor, member_id)
    reason = _reason(reason)
    was = t.status
    if was == "banned" or (not ban and was != "active"):
        raise MemberNotFound()
    if not await _set_status(s, t, was, status="banned" if ban else "removed", role="member", reason=reason):
        raise MemberNotFound()
    if was == "active":
        await _give_place_back(s, community_id)
    record(s, actor_id, "circle.ban" if ban else "circle.remove", "community_members", t.id,
           {"community_id": community_id, "user_id": t.user_id, "reason": reason, "was": was})
    return t


async def ban_person(s: AsyncSession, community_id: int, actor_id: int, user_id: int, reason: str) -> Member:
    """Ban someone who is not (or no longer) a member: they get a banned row so they cannot join."""
    m = await membership(s, community_id, user_id)
    if m is None:
        await require_permission(s, community_id, actor_id, "ban")
        now = clock.now()
        m = Member(community_id=community_id, user_id=user_id, role="member", status="left", created_at=now,
                   updated_at=now, **await _profile_snapshot(s, user_id))
        s.add(m)
        await s.flush()
    return await remove(s, community_id, actor_id, m.id, reason, ban=True)


async def unban(s: AsyncSession, community_id: int, actor_id: int, member_id: int) -> Member:
    actor = await require_permission(s, community_id, actor_id, "ban")
    t = await _target(s, community_id, actor, member_id)
    if not await _set_status(s, t, "banned", status="left"):
        raise MemberNotFound()
    record(s, actor_id, "circle.unban", "community_members", t.id, {"community_id": community_id})
    return t


async def mute(s: AsyncSession, community_id: int, actor_id: int, member_id: int, minutes: int, reason: str = "",
               ) -> Member:
    """Mute a member for `minutes` (0 lifts it); at most 30 days."""
    actor = await require_permission(s, community_id, actor_id, "mute")
    t = await _target(s, community_id, actor, member_id)
    if not 0 <= minutes <= MUTE_MAX.total_seconds() // 60:
        raise InvalidInput(field="minutes", max=int(MUTE_MAX.total_seconds() // 60))
    if t.status != "active":
        raise MemberNotFound()
    reason = _reason(reason, required=False)
    until = clock.now() + timedelta(minutes=minutes) if minutes else None
    await s.execute(update(Member).where(Member.id == t.id).values(muted_until=until, updated_at=clock.now(),
                                                                  reason=reason or t.reason))
    await s.refresh(t)
    record(s, actor_id, "circle.mute", "community_members", t.id,
           {"community_id": community_id, "minutes": minutes, "reason": reason})
    return t


async def set_role(s: AsyncSession, community_id: int, actor_id: int, member_id: int, role: str) -> Member:
    actor = await require_permission(s, community_id, actor_id, "manage_roles")
    if role not in ASSIGNABLE:
        raise InvalidInput(field="role")
    t = await _target(s, community_id, actor, member_id)
    if t.status != "active":
        raise MemberNotFound()
    old = t.role
    await s.execute(update(Member).where(Member.id == t.id).values(role=role, updated_at=clock.now()))
    await s.refresh(t)
    record(s, actor_id, "circle.role", "community_members", t.id,
           {"community_id": community_id, "role": [old, role]})
    return t


# --- member lists ------------------------------------------------------------------------------------

async def list_members(s: AsyncSession, community_id: int, *, status: str | None = "active",
                       role: str | None = None, q: str = "", before_id: int | None = None,
                       limit: int = 50) -> list[Member]:
    """A keyset page of members, newest first: `before_id` is the last id of the previous page. Search
    matches the name (contains) or the last four digits of the phone."""
    stmt = select(Member).where(Member.community_id == community_id)
    if status:
        stmt = stmt.where(Member.status == status)
    if role:
        stmt = stmt.where(Member.role == role)
    q = q.strip()
    if q:
        cond = Member.name.contains(q, autoescape=True)
        if q.isdigit() and len(q) == 4:
            cond = or_(cond, Member.phone_tail == q)
        stmt = stmt.where(cond)
    if before_id:
        stmt = stmt.where(Member.id < before_id)
    return list((await s.execute(stmt.order_by(Member.id.desc()).limit(limit))).scalars())


async def count_members(s: AsyncSession, community_id: int) -> dict[str, int]:
    rows = await s.execute(select(Member.status, func.count(Member.id)).where(Member.community_id == community_id)
                           .group_by(Member.status))
    return {st: int(n) for st, n in rows.all()}


# --- where an invite link lands (/r/{token}: verified, the visit recorded, the fan bound, then here) ------

@referral_links.lands(INVITE_KIND)
async def _invite_landing(s: AsyncSession, token: tokens.ShareToken) -> str:
    return f"/circles/{token.target_id}/join?invite={token.raw}"
