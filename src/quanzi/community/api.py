"""Community JSON API for the H5 and the app: my circles, a community, joining (with the rules version read and
an invite token), the feed, posts, comments, likes, pins, reports, members (keyset pages), moderation, and the
operator's close. Thin: rules are in community.service and community.feed."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import CurrentUser, Operator, OptionalUser, Shopkeeper
from quanzi.community import feed, service
from quanzi.community.models import Community, Member, Post, Report
from quanzi.community.policy import CommunityPolicy
from quanzi.community.schemas import (
    CommentIn,
    CommentOut,
    CommunityIn,
    CommunityOut,
    FeedOut,
    InviteOut,
    JoinIn,
    LikeIn,
    LikeOut,
    MemberOut,
    MemberPage,
    MuteIn,
    PhotoOut,
    PinIn,
    PolicyPatch,
    PostIn,
    PostOut,
    ProductCardOut,
    ReasonIn,
    ReportActionIn,
    ReportOut,
    RoleIn,
)
from quanzi.distribution.posters import share_url
from quanzi.kit.deps import DB, AppSettings, Limiter
from quanzi.kit.schemas import MAX_ID, PathId
from quanzi.policy import service as policy

router = APIRouter(prefix="/api", tags=["community"])
Before = Annotated[int | None, Query(ge=1, le=MAX_ID)]


def community_out(c: Community, m: Member | None = None) -> CommunityOut:
    return CommunityOut(id=c.id, shop_id=c.shop_id, name=c.name, cover_url=c.cover_url, intro=c.intro,
                        capacity=c.capacity, member_count=c.member_count, rules=c.rules, rules_version=c.rules_version,
                        welcome=c.welcome, join_mode=c.join_mode, category_id=c.category_id, status=c.status,
                        close_reason=c.close_reason, my_role=m.role if m and m.status == "active" else None,
                        my_status=m.status if m else None)


def member_out(m: Member) -> MemberOut:
    return MemberOut(id=m.id, user_id=m.user_id, name=m.name, role=m.role, status=m.status, joined_at=m.joined_at,
                     muted_until=m.muted_until, reason=m.reason)


def report_out(r: Report) -> ReportOut:
    return ReportOut(id=r.id, post_id=r.post_id, reason=r.reason, status=r.status, created_at=r.created_at)


async def posts_out(s: AsyncSession, c: Community, posts: list[Post], viewer_id: int | None) -> list[PostOut]:
    sh = await feed.shown(s, c, posts, viewer_id)
    out = []
    for p in posts:
        card = sh.products.get(p.product_id) if p.product_id else None
        who = p.author_id or p.subject_id
        out.append(PostOut(
            id=p.id, community_id=p.community_id, kind=p.kind, author=sh.names.get(who, "") if who else "",
            author_id=p.author_id, body=p.body, product=ProductCardOut(**card) if card else None,  # type: ignore[arg-type]
            verified_purchase=p.verified_purchase, members_only=p.members_only,
            photos=[PhotoOut(url=m.url("full"), thumb_url=m.url("240")) for m in sh.photos.get(p.id, [])],
            likes=p.like_count, liked=p.id in sh.liked, comments=p.comment_count, pinned=p.pinned,
            created_at=p.created_at))
    return out


# --- communities -------------------------------------------------------------------------------------

@router.get("/me/circles")
async def mine(db: DB, me: CurrentUser) -> list[CommunityOut]:
    async with db.read() as s:
        return [community_out(c, m) for c, m in await service.my_communities(s, me.user_id)]


@router.get("/operator/circles")
async def all_communities(db: DB, me: Operator, status: Annotated[str | None, Query(pattern="^(open|closed)$")] = None,
                          q: Annotated[str, Query(max_length=40)] = "", before: Before = None) -> list[CommunityOut]:
    async with db.read() as s:
        return [community_out(c) for c in await service.all_communities(s, status=status, q=q, before_id=before)]


@router.get("/circles/policy")
async def get_policy(db: DB, me: Operator) -> CommunityPolicy:
    async with db.read() as s:
        return await service.get_policy(s)


@router.put("/circles/policy")
async def put_policy(body: PolicyPatch, db: DB, me: Operator) -> CommunityPolicy:
    """Change the operator's community settings (validated, audited): the capacity cap, the posting rate,
    the keyword block list, the invite link validity…"""
    async with db.write() as s:
        return await policy.put_checked(s, CommunityPolicy, body.model_dump(exclude_none=True), me.user_id)


@router.post("/circles", status_code=201)
async def create(body: CommunityIn, db: DB, me: Shopkeeper) -> CommunityOut:
    async with db.write() as s:
        c = await service.create_community(s, me.user_id, service.Settings(**body.model_dump()))
        return community_out(c, await service.membership(s, c.id, me.user_id))


@router.get("/circles/{community_id}")
async def get(community_id: PathId, db: DB, me: OptionalUser) -> CommunityOut:
    """What a join page shows (name, intro, rules, join mode) — public, as an invite shows it."""
    async with db.read() as s:
        c = await service.get_community(s, community_id)
        return community_out(c, await service.membership(s, c.id, me.user_id) if me else None)


@router.put("/circles/{community_id}")
async def update(community_id: PathId, body: CommunityIn, db: DB, me: CurrentUser) -> CommunityOut:
    async with db.write() as s:
        c = await service.update_community(s, community_id, me.user_id, service.Settings(**body.model_dump()))
        return community_out(c, await service.membership(s, c.id, me.user_id))


@router.post("/circles/{community_id}/close")
async def close(community_id: PathId, body: ReasonIn, db: DB, me: Operator) -> CommunityOut:
    async with db.write() as s:
        return community_out(await service.close_community(s, community_id, me.user_id, body.reason))


# --- joining -----------------------------------------------------------------------------------------

@router.post("/circles/{community_id}/join")
async def join(community_id: PathId, body: JoinIn, db: DB, me: CurrentUser, settings: AppSettings) -> MemberOut:
    """Join an open community, any community through an invite token, or ask to join (status pending)."""
    async with db.write() as s:
        invite = await service.verify_invite(s, settings.secret_key, community_id, body.invite) if body.invite else None
        return member_out(await service.join(s, community_id, me.user_id,
                                             accepted_rules_version=body.accepted_rules_version, invite=invite))


@router.post("/circles/{community_id}/leave")
async def leave(community_id: PathId, db: DB, me: CurrentUser) -> MemberOut:
    async with db.write() as s:
        return member_out(await service.leave(s, community_id, me.user_id))


@router.post("/circles/{community_id}/invites", status_code=201)
async def invite(community_id: PathId, db: DB, me: CurrentUser, settings: AppSettings) -> InviteOut:
    """A signed invite link of mine (it also binds the fan to me under the distribution rules)."""
    async with db.read() as s:
        token = await service.issue_invite(s, settings.secret_key, community_id, me.user_id)
        days = (await service.get_policy(s)).invite_days
    return InviteOut(token=token, url=share_url(settings, token), expires_days=days)


# --- the feed ----------------------------------------------------------------------------------------

@router.get("/circles/{community_id}/feed")
async def community_feed(community_id: PathId, db: DB, me: OptionalUser, before: Before = None) -> FeedOut:
    """Members read every post; anyone else only the posts marked public."""
    async with db.read() as s:
        c = await service.get_community(s, community_id)
        m = await feed.viewer(s, c.id, me.user_id if me else None)
        first_visit = m is not None and not await feed.visited_today(s, c.id, m.user_id)
        page = await feed.feed(s, c.id, m, before_id=before)
        viewer_id = me.user_id if me else None
        out = FeedOut(pinned=await posts_out(s, c, page.pinned, viewer_id),
                      items=await posts_out(s, c, page.items, viewer_id), next_before=page.next_before)
    if first_visit and m is not None:
        async with db.write() as s:  # one row per member per China day (the app's visits count too)
            await feed.record_visit(s, c.id, m.user_id)
    return out


@router.post("/circles/{community_id}/posts", status_code=201)
async def write_post(community_id: PathId, body: PostIn, db: DB, me: CurrentUser, limiter: Limiter) -> PostOut:
    async with db.write() as s:
        d = feed.Draft(body=body.body, kind=body.kind, product_id=body.product_id, order_id=body.order_id,
                       members_only=body.members_only, media_ids=tuple(body.media_ids))
        p = await feed.create_post(s, community_id, me.user_id, d, limiter=limiter)
        return (await posts_out(s, await service.get_community(s, community_id), [p], me.user_id))[0]


@router.get("/circles/posts/{post_id}")
async def get_post(post_id: PathId, db: DB, me: CurrentUser) -> PostOut:
    async with db.read() as s:
        p, _m = await feed.get_post(s, post_id, me.user_id)
        return (await posts_out(s, await service.get_community(s, p.community_id), [p], me.user_id))[0]


@router.get("/circles/posts/{post_id}/comments")
async def list_comments(post_id: PathId, db: DB, me: CurrentUser) -> list[CommentOut]:
    async with db.read() as s:
        await feed.get_post(s, post_id, me.user_id)
        items = await feed.comments(s, post_id)
        names = await feed.comment_names(s, items)
        return [CommentOut(id=c.id, author=names.get(c.author_id, ""), body=c.body, created_at=c.created_at)
                for c in items]


@router.post("/circles/posts/{post_id}/comments", status_code=201)
async def write_comment(post_id: PathId, body: CommentIn, db: DB, me: CurrentUser, limiter: Limiter) -> CommentOut:
    async with db.write() as s:
        c = await feed.comment(s, post_id, me.user_id, body.body, limiter=limiter)
        names = await feed.comment_names(s, [c])
        return CommentOut(id=c.id, author=names.get(c.author_id, ""), body=c.body, created_at=c.created_at)


@router.post("/circles/posts/{post_id}/like")
async def like(post_id: PathId, db: DB, me: CurrentUser, body: LikeIn | None = None) -> LikeOut:
    async with db.write() as s:
        liked, likes = await feed.like(s, post_id, me.user_id, body.liked if body else True)
        return LikeOut(liked=liked, likes=likes)


@router.post("/circles/posts/{post_id}/pin")
async def pin(post_id: PathId, db: DB, me: CurrentUser, body: PinIn | None = None) -> PostOut:
    async with db.write() as s:
        p = await feed.pin(s, post_id, me.user_id, body.pinned if body else True)
        return (await posts_out(s, await service.get_community(s, p.community_id), [p], me.user_id))[0]


@router.post("/circles/posts/{post_id}/report", status_code=201)
async def report(post_id: PathId, body: ReasonIn, db: DB, me: CurrentUser) -> ReportOut:
    async with db.write() as s:
        return report_out(await feed.report(s, post_id, me.user_id, body.reason))


@router.delete("/circles/posts/{post_id}", status_code=204)
async def delete_post(post_id: PathId, db: DB, me: CurrentUser, reason: Annotated[str, Query(max_length=200)] = "",
                      ) -> None:
    async with db.write() as s:
        await feed.remove_post(s, post_id, me.user_id, reason)


# --- members and moderation --------------------------------------------------------------------------

@router.get("/circles/{community_id}/members")
async def members(community_id: PathId, db: DB, me: CurrentUser,
                  q: Annotated[str, Query(max_length=40)] = "",
                  role: Annotated[str | None, Query(pattern="^(owner|staff|expert|teacher|member)$")] = None,
                  status: Annotated[str, Query(pattern="^(pending|active|left|removed|banned)$")] = "active",
                  before: Before = None, size: Annotated[int, Query(ge=1, le=100)] = 50) -> MemberPage:
    """Members see the active members; staff also the pending, left, removed and banned ones."""
    async with db.read() as s:
        await service.require_permission(s, community_id, me.user_id,
                                         "view_members" if status == "active" else "approve")
        items = await service.list_members(s, community_id, status=status, role=role, q=q, before_id=before,
                                           limit=size + 1)
        return MemberPage(items=[member_out(m) for m in items[:size]],
                          next_before=items[size - 1].id if len(items) > size else None)


@router.post("/circles/{community_id}/members/{member_id}/approve")
async def approve(community_id: PathId, member_id: PathId, db: DB, me: CurrentUser) -> MemberOut:
    async with db.write() as s:
        return member_out(await service.approve(s, community_id, me.user_id, member_id))


@router.post("/circles/{community_id}/members/{member_id}/reject")
async def reject(community_id: PathId, member_id: PathId, db: DB, me: CurrentUser) -> MemberOut:
    async with db.write() as s:
        return member_out(await service.reject(s, community_id, me.user_id, member_id))


@router.post("/circles/{community_id}/members/{member_id}/remove")
async def remove(community_id: PathId, member_id: PathId, body: ReasonIn, db: DB, me: CurrentUser) -> MemberOut:
    async with db.write() as s:
        return member_out(await service.remove(s, community_id, me.user_id, member_id, body.reason))


@router.post("/circles/{community_id}/members/{member_id}/ban")
async def ban(community_id: PathId, member_id: PathId, body: ReasonIn, db: DB, me: CurrentUser) -> MemberOut:
    async with db.write() as s:
        return member_out(await service.remove(s, community_id, me.user_id, member_id, body.reason, ban=True))


@router.post("/circles/{community_id}/members/{member_id}/unban")
async def unban(community_id: PathId, member_id: PathId, db: DB, me: CurrentUser) -> MemberOut:
    async with db.write() as s:
        return member_out(await service.unban(s, community_id, me.user_id, member_id))


@router.post("/circles/{community_id}/members/{member_id}/mute")
async def mute(community_id: PathId, member_id: PathId, body: MuteIn, db: DB, me: CurrentUser) -> MemberOut:
    async with db.write() as s:
        return member_out(await service.mute(s, community_id, me.user_id, member_id, body.minutes, body.reason))


@router.post("/circles/{community_id}/members/{member_id}/role")
async def set_role(community_id: PathId, member_id: PathId, body: RoleIn, db: DB, me: CurrentUser) -> MemberOut:
    async with db.write() as s:
        return member_out(await service.set_role(s, community_id, me.user_id, member_id, body.role))


@router.get("/circles/{community_id}/reports")
async def list_reports(community_id: PathId, db: DB, me: CurrentUser) -> list[ReportOut]:
    async with db.read() as s:
        await service.require_permission(s, community_id, me.user_id, "review_reports")
        return [report_out(r) for r in await feed.reports(s, community_id)]


@router.post("/circles/{community_id}/reports/{report_id}")
async def handle_report(community_id: PathId, report_id: PathId, body: ReportActionIn, db: DB, me: CurrentUser,
                        ) -> ReportOut:
    async with db.write() as s:
        return report_out(await feed.handle_report(s, community_id, report_id, me.user_id, body.action))
