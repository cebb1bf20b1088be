"""The community feed: posts and announcements (text, up to 9 pictures through media, a product card of the
shop), 晒单 from a received order of the shop (marked "verified purchase"), likes once per member, comments,
pinning, reports to the staff, the posting rate limit and the operator's keyword block list; visits (one
row per member per China day) and the daily counts a health chart reads (`visits_by_day`, `posts_by_day`).

Members only: posts are `members_only` unless the author chose otherwise (announcements may be public), so a
fan who left — or was never in — sees only the public ones. Text is stored as written and escaped where shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts import service as accounts
from quanzi.audit.service import record
from quanzi.community import service
from quanzi.community.errors import (
    AlreadyReported,
    BlockedWord,
    CommunityClosed,
    EmptyPost,
    NoPermission,
    OrderNotReceived,
    PostNotFound,
    ReportNotFound,
    TooManyImages,
)
from quanzi.community.models import Comment, Community, Like, Member, Post, Report, Visit
from quanzi.community.policy import CommunityPolicy
from quanzi.kit import outbox
from quanzi.kit.clock import CHINA, clock
from quanzi.kit.days import china_day
from quanzi.kit.db import guarded_update, insert_ignore
from quanzi.kit.errors import InvalidInput
from quanzi.kit.ratelimit import RateLimiter
from quanzi.media import service as media
from quanzi.media.images import Prepared
from quanzi.media.models import Media
from quanzi.media.storage import Storage
from quanzi.orders import service as orders
from quanzi.shops import service as shops

POST_MAX, COMMENT_MAX, REASON_MAX = 2000, 500, 200
MAX_IMAGES = media.LIMITS["community_post"]
PURPOSE = "community_post"
SHOWABLE = ("received", "completed")
PAGE = 20


def ref(post_id: int) -> str:
    return f"community_post:{post_id}"


def china_today() -> str:
    return clock.now().astimezone(CHINA).date().isoformat()


def _check_text(pol: CommunityPolicy, text: str, max_len: int) -> str:
    text = text.strip()
    if len(text) > max_len:
        raise InvalidInput(field="body", max=max_len)
    word = pol.blocked_in(text)
    if word is not None:
        raise BlockedWord(word=word)
    return text


async def _rate(limiter: RateLimiter | None, pol: CommunityPolicy, community_id: int, user_id: int) -> None:
    if limiter is not None:
        await limiter.hit(pol.post_rate, "community-post", str(community_id), str(user_id))


async def _open(s: AsyncSession, community_id: int) -> Community:
    c = await service.get_community(s, community_id)
    if c.status != "open":
        raise CommunityClosed()
    return c


@dataclass
class Draft:
    body: str = ""
    kind: str = "post"  # post | announcement | show_order
    product_id: int | None = None
    order_id: int | None = None
    members_only: bool = True
    media_ids: tuple[int, ...] = ()  # uploads made before (POST /api/media, purpose community_post)


async def check_post(s: AsyncSession, community_id: int, author_id: int, d: Draft, photos: int = 0,
                     ) -> tuple[Community, Member, str]:
    """Everything that can refuse a post, before any picture is stored (the page calls it first)."""
    c = await _open(s, community_id)
    if d.kind not in ("post", "announcement", "show_order"):
        raise InvalidInput(field="kind")
    m = await service.require_permission(s, community_id, author_id,
                                         "post_announcement" if d.kind == "announcement" else "post")
    pol = await service.get_policy(s)
    body = _check_text(pol, d.body, POST_MAX)
    images = len(d.media_ids) + photos
    if images > MAX_IMAGES:
        raise TooManyImages(n=MAX_IMAGES)
    if d.kind == "show_order":
        if d.order_id is None:
            raise OrderNotReceived()
        order = await orders.order_for_buyer(s, d.order_id, author_id)  # others' orders: 404
        if order.shop_id != c.shop_id or order.status not in SHOWABLE:
            raise OrderNotReceived(status=order.status)
    elif not body and not images and d.product_id is None:
        raise EmptyPost()
    if d.product_id is not None:
        await shops.shelf_item(s, c.shop_id, d.product_id)  # a card links into this shop: its shelf only
    return c, m, body


async def create_post(s: AsyncSession, community_id: int, author_id: int, d: Draft, *,
                      photos: list[Prepared] | None = None, storage: Storage | None = None,
                      limiter: RateLimiter | None = None) -> Post:
    c, _m, body = await check_post(s, community_id, author_id, d, len(photos or []))
    await _rate(limiter, await service.get_policy(s), community_id, author_id)
    product_id = d.product_id
    if d.kind == "show_order" and product_id is None:
        assert d.order_id is not None
        lines = (await orders.lines_of(s, [d.order_id])).get(d.order_id, [])
        product_id = lines[0].product_id if lines else None
    post = Post(community_id=c.id, author_id=author_id, kind=d.kind, body=body, product_id=product_id,
                order_id=d.order_id if d.kind == "show_order" else None, verified_purchase=d.kind == "show_order",
                members_only=d.members_only or d.kind != "announcement",
                image_count=len(d.media_ids) + len(photos or []), created_at=clock.now())
    s.add(post)
    await s.flush()
    if d.media_ids:
        await media.attach(s, author_id, list(d.media_ids), PURPOSE, ref(post.id))
    if photos:
        assert storage is not None
        await media.record(s, storage, author_id, PURPOSE, photos, ref=ref(post.id))
    await outbox.emit(s, "community.posted", {"community_id": c.id, "post_id": post.id, "kind": post.kind,
                                              "author_id": author_id})
    return post


# --- reading -----------------------------------------------------------------------------------------

async def viewer(s: AsyncSession, community_id: int, user_id: int | None) -> Member | None:
    """The viewer's ACTIVE membership, or None (a visitor, a fan who left, a banned one)."""
    if user_id is None:
        return None
    m = await service.membership(s, community_id, user_id)
    return m if m is not None and m.status == "active" else None


def _visible(stmt, member: Member | None):  # type: ignore[no-untyped-def]
    stmt = stmt.where(Post.status == "visible")
    return stmt if member is not None else stmt.where(Post.members_only.is_(False))


@dataclass
class FeedPage:
    pinned: list[Post]
    items: list[Post]
    next_before: int | None


async def feed(s: AsyncSession, community_id: int, member: Member | None, *, before_id: int | None = None,
               author_id: int | None = None, limit: int = PAGE) -> FeedPage:
    """Newest first in keyset pages; the pinned posts above the first page."""
    stmt = _visible(select(Post).where(Post.community_id == community_id), member)
    if author_id is not None:
        stmt = stmt.where(Post.author_id == author_id)
    pinned: list[Post] = []
    if before_id is None and author_id is None:
        pinned = list((await s.execute(stmt.where(Post.pinned.is_(True)).order_by(Post.id.desc()).limit(5)))
                      .scalars())
    if before_id is not None:
        stmt = stmt.where(Post.id < before_id)
    items = list((await s.execute(stmt.order_by(Post.id.desc()).limit(limit + 1))).scalars())
    more = len(items) > limit
    page = items[:limit]
    return FeedPage(pinned, [p for p in page if p not in pinned], page[-1].id if more else None)


async def get_post(s: AsyncSession, post_id: int, user_id: int | None) -> tuple[Post, Member | None]:
    """A post its reader may see; others (removed, members-only for a non-member) are not revealed."""
    p = await s.get(Post, post_id)
    if p is None or p.status != "visible":
        raise PostNotFound()
    m = await viewer(s, p.community_id, user_id)
    if p.members_only and m is None:
        raise PostNotFound()
    return p, m


async def posts_of_author(s: AsyncSession, author_id: int, limit: int = 50) -> list[Post]:
    return list((await s.execute(select(Post).where(Post.author_id == author_id, Post.status == "visible")
                                 .order_by(Post.id.desc()).limit(limit))).scalars())


@dataclass
class Shown:
    """What a page or the API needs to show a list of posts."""

    names: dict[int, str]
    avatars: dict[int, str | None]
    photos: dict[int, list[Media]]
    products: dict[int, dict[str, object]]
    liked: set[int]


async def shown(s: AsyncSession, community: Community, posts: list[Post], viewer_id: int | None) -> Shown:
    people = {p.author_id for p in posts if p.author_id} | {p.subject_id for p in posts if p.subject_id}
    profiles = await accounts.profiles(s, people)
    names = {uid: (pr.nickname or pr.masked_phone or "***") for uid, pr in profiles.items()}
    by_ref = await media.of_refs(s, [ref(p.id) for p in posts if p.image_count])
    product_ids = {p.product_id for p in posts if p.product_id}
    products: dict[int, dict[str, object]] = {}
    if product_ids:
        for e in await shops.shelf(s, community.shop_id):
            if e.product.id in product_ids:
                products[e.product.id] = {"id": e.product.id, "title": e.product.title,
                                          "image_url": e.product.image_url, "price_fen": e.min_price_fen,
                                          "url": f"/s/{community.shop_id}/p/{e.product.id}"}
    liked: set[int] = set()
    if viewer_id is not None and posts:
        liked = set((await s.execute(select(Like.post_id).where(Like.user_id == viewer_id,
                                                                Like.post_id.in_([p.id for p in posts]))))
                    .scalars())
    return Shown(names, {uid: pr.avatar_url for uid, pr in profiles.items()},
                 {p.id: by_ref.get(ref(p.id), []) for p in posts}, products, liked)


# --- likes, comments, pins, removal ------------------------------------------------------------------

async def _post_for(s: AsyncSession, post_id: int, user_id: int, action: str) -> tuple[Post, Member]:
    p = await s.get(Post, post_id)
    if p is None or p.status != "visible":
        raise PostNotFound()
    await _open(s, p.community_id)
    m = await service.require_permission(s, p.community_id, user_id, action)
    return p, m


async def like(s: AsyncSession, post_id: int, user_id: int, liked: bool = True) -> tuple[bool, int]:
    """Like (once per member: the primary key) or take the like back. Returns (liked, likes)."""
    p, _m = await _post_for(s, post_id, user_id, "like")
    if liked:
        if await insert_ignore(s, Like, {"post_id": p.id, "user_id": user_id, "created_at": clock.now()},
                               ["post_id", "user_id"]):
            await s.execute(update(Post).where(Post.id == p.id).values(like_count=Post.like_count + 1))
    else:
        gone = await guarded_update(s, delete(Like).where(Like.post_id == p.id, Like.user_id == user_id))
        if gone:
            await guarded_update(s, update(Post).where(Post.id == p.id, Post.like_count > 0)
                                 .values(like_count=Post.like_count - 1))
    await s.refresh(p)
    return liked, p.like_count


async def comment(s: AsyncSession, post_id: int, user_id: int, body: str, *,
                  limiter: RateLimiter | None = None) -> Comment:
    p, _m = await _post_for(s, post_id, user_id, "comment")
    pol = await service.get_policy(s)
    text = _check_text(pol, body, COMMENT_MAX)
    if not text:
        raise EmptyPost()
    await _rate(limiter, pol, p.community_id, user_id)
    c = Comment(post_id=p.id, community_id=p.community_id, author_id=user_id, body=text, created_at=clock.now())
    s.add(c)
    await s.execute(update(Post).where(Post.id == p.id).values(comment_count=Post.comment_count + 1))
    await s.flush()
    return c


async def comments(s: AsyncSession, post_id: int, limit: int = 100) -> list[Comment]:
    return list((await s.execute(select(Comment).where(Comment.post_id == post_id, Comment.status == "visible")
                                 .order_by(Comment.id).limit(limit))).scalars())


async def comment_names(s: AsyncSession, items: list[Comment]) -> dict[int, str]:
    profiles = await accounts.profiles(s, {c.author_id for c in items})
    return {uid: (pr.nickname or pr.masked_phone or "***") for uid, pr in profiles.items()}


async def pin(s: AsyncSession, post_id: int, actor_id: int, pinned: bool = True) -> Post:
    p, _m = await _post_for(s, post_id, actor_id, "pin")
    await s.execute(update(Post).where(Post.id == p.id).values(pinned=pinned))
    await s.refresh(p)
    record(s, actor_id, "circle.pin" if pinned else "circle.unpin", "community_posts", p.id,
           {"community_id": p.community_id})
    return p


async def remove_post(s: AsyncSession, post_id: int, actor_id: int, reason: str = "") -> Post:
    """The author takes their post down, or a moderator removes it with a reason (audited)."""
    p = await s.get(Post, post_id)
    if p is None or p.status != "visible":
        raise PostNotFound()
    m = await service.require_member(s, p.community_id, actor_id)
    own = p.author_id == actor_id
    if not own and not service.can(m.role, "remove"):
        raise NoPermission(action="remove")
    reason = reason.strip()[:REASON_MAX]
    if not own and not reason:
        raise InvalidInput(field="reason", max=REASON_MAX)
    if not await guarded_update(s, update(Post).where(Post.id == p.id, Post.status == "visible")
                                .values(status="removed", pinned=False, removed_reason=reason or None,
                                        removed_by=actor_id)):
        raise PostNotFound()
    await s.refresh(p)
    if not own:
        record(s, actor_id, "circle.remove_post", "community_posts", p.id,
               {"community_id": p.community_id, "author_id": p.author_id, "reason": reason})
    await s.execute(update(Report).where(Report.post_id == p.id, Report.status == "open")
                    .values(status="removed", handled_by=actor_id, handled_at=clock.now()))
    return p


# --- reports -----------------------------------------------------------------------------------------

async def report(s: AsyncSession, post_id: int, reporter_id: int, reason: str) -> Report:
    p, _m = await _post_for(s, post_id, reporter_id, "report")
    reason = reason.strip()
    if not 1 <= len(reason) <= REASON_MAX:
        raise InvalidInput(field="reason", max=REASON_MAX)
    if not await insert_ignore(s, Report, {"community_id": p.community_id, "post_id": p.id,
                                           "reporter_id": reporter_id, "reason": reason, "status": "open",
                                           "created_at": clock.now()}, ["post_id", "reporter_id"]):
        raise AlreadyReported()
    r = (await s.execute(select(Report).where(Report.post_id == p.id, Report.reporter_id == reporter_id)))
    return r.scalar_one()


async def reports(s: AsyncSession, community_id: int, status: str = "open", limit: int = 100) -> list[Report]:
    return list((await s.execute(select(Report).where(Report.community_id == community_id, Report.status == status)
                                 .order_by(Report.id.desc()).limit(limit))).scalars())


async def handle_report(s: AsyncSession, community_id: int, report_id: int, actor_id: int, action: str) -> Report:
    """Staff decide: remove the post (every open report of it is settled) or dismiss this report."""
    await service.require_permission(s, community_id, actor_id, "review_reports")
    r = await s.get(Report, report_id)
    if r is None or r.community_id != community_id or r.status != "open":
        raise ReportNotFound()
    if action == "remove":
        await remove_post(s, r.post_id, actor_id, r.reason)
    elif action == "dismiss":
        await s.execute(update(Report).where(Report.id == r.id)
                        .values(status="dismissed", handled_by=actor_id, handled_at=clock.now()))
        record(s, actor_id, "circle.dismiss", "community_reports", r.id, {"community_id": community_id})
    else:
        raise InvalidInput(field="action")
    await s.refresh(r)
    return r


# --- visits and daily counts (the health chart) ------------------------------------------------------

async def visited_today(s: AsyncSession, community_id: int, user_id: int) -> bool:
    return await s.scalar(select(Visit.user_id).where(Visit.community_id == community_id, Visit.day == china_today(),
                                                      Visit.user_id == user_id)) is not None


async def record_visit(s: AsyncSession, community_id: int, user_id: int) -> bool:
    """One row per member per China day; True when this was the first visit of the day."""
    return await insert_ignore(s, Visit, {"community_id": community_id, "day": china_today(), "user_id": user_id},
                               ["community_id", "day", "user_id"])


async def visits_by_day(s: AsyncSession, community_id: int, since_day: str, until_day: str | None = None,
                        ) -> dict[str, int]:
    """China day ('YYYY-MM-DD') -> members who opened the community that day (days without visits absent)."""
    stmt = select(Visit.day, func.count()).where(Visit.community_id == community_id, Visit.day >= since_day)
    if until_day is not None:
        stmt = stmt.where(Visit.day <= until_day)
    return {d: int(n) for d, n in (await s.execute(stmt.group_by(Visit.day))).all()}


async def visitors_on(s: AsyncSession, community_id: int, since_day: str) -> list[tuple[str, int]]:
    """(day, user id) of every visit since `since_day`: for conversion from visits to orders."""
    return [(d, u) for d, u in (await s.execute(select(Visit.day, Visit.user_id)
                                                .where(Visit.community_id == community_id, Visit.day >= since_day)))]


async def posts_by_day(s: AsyncSession, community_id: int, since: datetime) -> dict[str, int]:
    """China day -> posts written by members (system posts not counted), since `since`."""
    dialect = s.bind.dialect.name if s.bind is not None else "sqlite"
    day = china_day(Post.created_at, dialect)
    rows = await s.execute(select(day, func.count(Post.id))
                           .where(Post.community_id == community_id, Post.created_at >= since, Post.kind != "system")
                           .group_by(day))
    return {str(d): int(n) for d, n in rows.all()}


async def authors_by_day(s: AsyncSession, community_id: int, since: datetime) -> dict[str, set[int]]:
    """China day -> the members who wrote a post that day (engagement's daily active members)."""
    dialect = s.bind.dialect.name if s.bind is not None else "sqlite"
    day = china_day(Post.created_at, dialect)
    rows = await s.execute(select(day, Post.author_id).where(
        Post.community_id == community_id, Post.created_at >= since, Post.author_id.is_not(None)).distinct())
    out: dict[str, set[int]] = {}
    for d, uid in rows.all():
        out.setdefault(str(d), set()).add(int(uid))
    return out
