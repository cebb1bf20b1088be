"""Fans' community pages (phone first): my circles, a community's feed with the composer, the join page with
the rules to accept, the members list, one post with its comments, my own posts. Rules in service and feed."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import CurrentUser, OptionalUser
from quanzi.community import feed, service
from quanzi.community.errors import InviteExpired, InviteInvalid
from quanzi.community.models import Community, Member, Post
from quanzi.kit import i18n
from quanzi.kit.deps import DB, AppSettings, Limiter
from quanzi.kit.errors import DomainError
from quanzi.kit.schemas import MAX_ID, PathId
from quanzi.kit.web import render
from quanzi.media.deps import MediaStorage, real_files, receive
from quanzi.orders import service as orders
from quanzi.shops import service as shops
from quanzi.shops.pages import shop_section

router = APIRouter(include_in_schema=False)
Before = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Text = Annotated[str, Form(max_length=4000)]


# Links higher domains add to a community's pages (engagement: check-in, draws, polls, the calendar, the health
# chart). Register `async def f(session, community, member) -> list[Link]` with @feed_link (the member's feed;
# member is the viewer's active membership) or @console_tab (the console's tabs; member is the staff member).
@dataclass(frozen=True)
class Link:
    label: str
    url: str
    testid: str


LinkSource = Callable[[AsyncSession, Community, Member], Awaitable[list[Link]]]
_feed_links: list[LinkSource] = []
_console_tabs: list[LinkSource] = []


def feed_link(fn: LinkSource) -> LinkSource:
    if fn not in _feed_links:
        _feed_links.append(fn)
    return fn


def console_tab(fn: LinkSource) -> LinkSource:
    if fn not in _console_tabs:
        _console_tabs.append(fn)
    return fn


async def links_of(sources: list[LinkSource], s: AsyncSession, c: Community, m: Member | None) -> list[Link]:
    out: list[Link] = []
    if m is not None:
        for fn in sources:
            out.extend(await fn(s, c, m))
    return out


async def console_tabs(s: AsyncSession, c: Community, m: Member) -> list[Link]:
    return await links_of(_console_tabs, s, c, m)


def role_names() -> dict[str, str]:
    _ = i18n.gettext
    return {"owner": _("Owner"), "staff": _("Staff"), "expert": _("Expert"), "teacher": _("Teacher"),
            "member": _("Member")}


async def posts_context(s: AsyncSession, c: Community, page: feed.FeedPage | list[Post], viewer_id: int | None,
                        ) -> dict[str, Any]:
    posts = (page.pinned + page.items) if isinstance(page, feed.FeedPage) else page
    return {"shown": await feed.shown(s, c, posts, viewer_id), "roles": role_names(), "can": service.can}


@shop_section
async def shop_circles(s: AsyncSession, shop_id: int) -> tuple[str, dict[str, Any]] | None:
    """The shop page lists the shop's open circles a fan may join or ask to join (invite-only ones stay hidden)."""
    shown = [c for c in await service.communities_of_shop(s, shop_id) if c.status == "open" and c.join_mode != "invite"]
    return ("community/_shop_section.html", {"circles": shown}) if shown else None


@router.get("/circles")
async def my_circles(request: Request, db: DB, me: CurrentUser) -> Response:
    async with db.read() as s:
        mine = await service.my_communities(s, me.user_id)
        shop_names = {k: v.name for k, v in (await service.shops_of(s, [c for c, _m in mine])).items()}
    return render(request, "community/mine.html", {"mine": mine, "shop_names": shop_names, "tab": "me",
                                                   "roles": role_names()})


async def _composer(s: AsyncSession, c: Community, m: Member | None) -> dict[str, Any]:
    """What the composer offers a member: the shop's products for a card, their received orders for a 晒单."""
    if m is None:
        return {}
    shelf = await shops.shelf(s, c.shop_id)
    received = [o for o in await orders.orders_of_buyer_in_shop(s, m.user_id, c.shop_id, feed.SHOWABLE)]
    return {"shelf": shelf, "received": received, "can_announce": service.can(m.role, "post_announcement"),
            "max_images": feed.MAX_IMAGES, "post_max": feed.POST_MAX}


async def _feed_page(request: Request, db: Any, me: Any, community_id: int, *, before: int | None = None,
                     error: str | None = None, status: int = 200, form: dict[str, Any] | None = None) -> Response:
    viewer_id = me.user_id if me else None
    async with db.read() as s:
        c = await service.get_community(s, community_id)
        m = await feed.viewer(s, c.id, viewer_id)
        record = m is not None and not await feed.visited_today(s, c.id, m.user_id)
        page = await feed.feed(s, c.id, m, before_id=before)
        ctx = await posts_context(s, c, page, viewer_id)
        composer = await _composer(s, c, m)
        links = await links_of(_feed_links, s, c, m)
        own = await service.membership(s, c.id, viewer_id) if viewer_id else None
        shop = await shops.shops_by_id(s, [c.shop_id])
    if record:
        async with db.write() as s:  # one row per member per China day
            await feed.record_visit(s, c.id, viewer_id)  # type: ignore[arg-type]
    return render(request, "community/feed.html", {
        "c": c, "m": m, "own": own, "page": page, **ctx, **composer, "links": links, "shop": shop.get(c.shop_id), "tab": "me",
        "error": error, "form": form or {}, "joined": request.query_params.get("joined") == "1",
    }, status_code=status)


@router.get("/circles/{community_id}")
async def community_page(request: Request, community_id: PathId, db: DB, me: OptionalUser,
                         before: Before = None) -> Response:
    return await _feed_page(request, db, me, community_id, before=before)


@router.post("/circles/{community_id}/posts")
async def write_post(request: Request, community_id: PathId, db: DB, me: CurrentUser, storage: MediaStorage,
                     limiter: Limiter, body: Text = "",
                     kind: Annotated[str, Form(pattern="^(post|announcement|show_order)$")] = "post",
                     product_id: Annotated[str, Form(max_length=12)] = "",
                     order_id: Annotated[str, Form(max_length=12)] = "",
                     public: Annotated[str, Form(max_length=5)] = "",
                     photos: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    form = {"body": body, "kind": kind}
    d = feed.Draft(body=body, kind=kind, product_id=int(product_id) if product_id.isdigit() else None,
                   order_id=int(order_id) if order_id.isdigit() else None, members_only=not public)
    files = real_files(photos)
    try:
        async with db.read() as s:  # refuse before any picture is stored
            await feed.check_post(s, community_id, me.user_id, d, len(files))
        items = await receive(request, me.user_id, files, max_files=feed.MAX_IMAGES)
        async with db.write() as s:
            await feed.create_post(s, community_id, me.user_id, d, photos=items, storage=storage, limiter=limiter)
    except DomainError as exc:
        if exc.status == 404 and exc.code not in ("media.not_found", "not_found"):
            raise
        return await _feed_page(request, db, me, community_id, error=exc.text(i18n.short()), status=exc.status,
                                form=form)
    return RedirectResponse(f"/circles/{community_id}#feed", status_code=303)


# --- joining -----------------------------------------------------------------------------------------

async def _join_page(request: Request, db: Any, me: Any, settings: Any, community_id: int, invite: str | None, *,
                     error: str | None = None, status: int = 200) -> Response:
    async with db.read() as s:
        c = await service.get_community(s, community_id)
        own = await service.membership(s, c.id, me.user_id) if me else None
        shop = (await shops.shops_by_id(s, [c.shop_id])).get(c.shop_id)
        invite_error = None
        if invite:
            try:
                await service.verify_invite(s, settings.secret_key, c.id, invite)
            except (InviteInvalid, InviteExpired) as exc:
                invite_error, invite = exc.text(i18n.short()), None
    return render(request, "community/join.html", {
        "c": c, "own": own, "shop": shop, "invite": invite, "invite_error": invite_error, "error": error, "tab": "me",
    }, status_code=status)


@router.get("/circles/{community_id}/join")
async def join_page(request: Request, community_id: PathId, db: DB, me: OptionalUser, settings: AppSettings,
                    invite: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    return await _join_page(request, db, me, settings, community_id, invite)


@router.post("/circles/{community_id}/join")
async def join(request: Request, community_id: PathId, db: DB, me: CurrentUser, settings: AppSettings,
               rules_version: Annotated[int, Form(ge=0, le=MAX_ID)] = 0,
               accept: Annotated[str, Form(max_length=5)] = "",
               invite: Annotated[str, Form(max_length=200)] = "") -> Response:
    try:
        async with db.write() as s:
            token = await service.verify_invite(s, settings.secret_key, community_id, invite) if invite else None
            m = await service.join(s, community_id, me.user_id, accepted_rules_version=rules_version if accept else None,
                                   invite=token)
            status = m.status
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await _join_page(request, db, me, settings, community_id, invite or None,
                                error=exc.text(i18n.short()), status=exc.status)
    if status == "pending":
        return RedirectResponse(f"/circles/{community_id}/join", status_code=303)
    return RedirectResponse(f"/circles/{community_id}?joined=1", status_code=303)


@router.post("/circles/{community_id}/leave")
async def leave(community_id: PathId, db: DB, me: CurrentUser) -> Response:
    async with db.write() as s:
        await service.leave(s, community_id, me.user_id)
    return RedirectResponse("/circles", status_code=303)


# --- members, own posts, one post --------------------------------------------------------------------

@router.get("/circles/{community_id}/members")
async def members(request: Request, community_id: PathId, db: DB, me: CurrentUser,
                  q: Annotated[str, Query(max_length=40)] = "", before: Before = None) -> Response:
    async with db.read() as s:
        c = await service.get_community(s, community_id)
        await service.require_permission(s, c.id, me.user_id, "view_members")
        items = await service.list_members(s, c.id, q=q, before_id=before, limit=51)
    return render(request, "community/members.html", {
        "c": c, "items": items[:50], "next_before": items[49].id if len(items) > 50 else None, "q": q,
        "roles": role_names(), "tab": "me",
    })


@router.get("/circles/{community_id}/mine")
async def my_posts(request: Request, community_id: PathId, db: DB, me: CurrentUser, before: Before = None) -> Response:
    async with db.read() as s:
        c = await service.get_community(s, community_id)
        m = await service.require_member(s, c.id, me.user_id)
        page = await feed.feed(s, c.id, m, before_id=before, author_id=me.user_id)
        ctx = await posts_context(s, c, page, me.user_id)
    return render(request, "community/own.html", {"c": c, "m": m, "page": page, **ctx, "tab": "me"})


@router.get("/circles/posts/{post_id}")
async def post_page(request: Request, post_id: PathId, db: DB, me: CurrentUser) -> Response:
    async with db.read() as s:
        p, m = await feed.get_post(s, post_id, me.user_id)
        c = await service.get_community(s, p.community_id)
        ctx = await posts_context(s, c, [p], me.user_id)
        items = await feed.comments(s, p.id)
        names = await feed.comment_names(s, items)
    return render(request, "community/post.html", {
        "c": c, "m": m, "p": p, **ctx, "comments": items, "names": names, "tab": "me",
        "error": request.query_params.get("error"),
    })


async def _act(db: Any, post_id: int, back: str, fn: Any) -> Response:
    try:
        async with db.write() as s:
            await fn(s)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return RedirectResponse(f"/circles/posts/{post_id}?error={exc.code}", status_code=303)
    return RedirectResponse(back, status_code=303)


@router.post("/circles/posts/{post_id}/like")
async def like(post_id: PathId, db: DB, me: CurrentUser, liked: Annotated[str, Form(max_length=5)] = "1",
               back: Annotated[str, Form(max_length=200, pattern=r"^/circles/[0-9a-z/#?=_-]*$")] = "") -> Response:
    return await _act(db, post_id, back or f"/circles/posts/{post_id}",
                      lambda s: feed.like(s, post_id, me.user_id, liked == "1"))


@router.post("/circles/posts/{post_id}/comments")
async def comment(post_id: PathId, db: DB, me: CurrentUser, limiter: Limiter, body: Text = "") -> Response:
    return await _act(db, post_id, f"/circles/posts/{post_id}#comments",
                      lambda s: feed.comment(s, post_id, me.user_id, body, limiter=limiter))


@router.post("/circles/posts/{post_id}/report")
async def report(post_id: PathId, db: DB, me: CurrentUser,
                 reason: Annotated[str, Form(max_length=200)] = "") -> Response:
    return await _act(db, post_id, f"/circles/posts/{post_id}?reported=1",
                      lambda s: feed.report(s, post_id, me.user_id, reason or i18n.gettext("Inappropriate")))


@router.post("/circles/posts/{post_id}/pin")
async def pin(post_id: PathId, db: DB, me: CurrentUser, pinned: Annotated[str, Form(max_length=5)] = "1") -> Response:
    return await _act(db, post_id, f"/circles/posts/{post_id}", lambda s: feed.pin(s, post_id, me.user_id, pinned == "1"))


@router.post("/circles/posts/{post_id}/delete")
async def delete(post_id: PathId, db: DB, me: CurrentUser,
                 reason: Annotated[str, Form(max_length=200)] = "") -> Response:
    async with db.write() as s:
        p = await feed.remove_post(s, post_id, me.user_id, reason)
        community_id = p.community_id
    return RedirectResponse(f"/circles/{community_id}", status_code=303)
