"""Community console. Shopkeepers (and their staff): their shop's communities — create and edit, the invite link
and QR poster, members with search, filters and keyset pages (built for 20,000), roles, approvals, removals,
bans and mutes with a reason, announcements, the reports queue. Operators: every community, closing one with
a reason. Rules in community.service and community.feed; every moderation action is audited there."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import Response

from quanzi.accounts.deps import CurrentUser, Operator, Shopkeeper
from quanzi.catalog import service as catalog
from quanzi.community import feed, service
from quanzi.community.errors import CommunityNotFound
from quanzi.community.models import Post
from quanzi.community.pages import console_tabs, role_names
from quanzi.community.policy import CommunityPolicy
from quanzi.distribution import posters
from quanzi.kit.clock import clock
from quanzi.kit.console import page, redirect, refused
from quanzi.kit.deps import DB, AppSettings, Limiter
from quanzi.kit.errors import DomainError
from quanzi.kit.i18n import _
from quanzi.kit.schemas import MAX_ID, PathId
from quanzi.media import service as media
from quanzi.media.deps import MediaStorage, real_files, receive
from quanzi.policy import service as policy
from quanzi.shops import service as shops

router = APIRouter(include_in_schema=False)
CONSOLE = "/console/circles"
Before = Annotated[int | None, Query(ge=1, le=MAX_ID)]
PAGE_SIZE = 50


def _settings_from(name: str, intro: str, capacity: str, rules: str, welcome: str, join_mode: str,
                   category_id: str) -> service.Settings:
    return service.Settings(name=name, intro=intro, capacity=int(capacity) if capacity.strip().isdigit() else None,
                            rules=rules, welcome=welcome, join_mode=join_mode,
                            category_id=int(category_id) if category_id.isdigit() else None)


Name = Annotated[str, Form(max_length=200)]
Long = Annotated[str, Form(max_length=8000)]
Small = Annotated[str, Form(max_length=12)]


@router.get(CONSOLE)
async def communities(request: Request, db: DB, me: Shopkeeper) -> Response:
    async with db.read() as s:
        shop = await shops.my_shop(s, me.user_id)
        items = await service.communities_of_shop(s, shop.id)
        pending = {c.id: (await service.count_members(s, c.id)).get("pending", 0) for c in items}
        reports = {c.id: len(await feed.reports(s, c.id)) for c in items}
        cats = await catalog.categories(s)
        pol = await service.get_policy(s)
    return page(request, "community/console_list.html", {
        "active": "circles", "shop": shop, "items": items, "pending": pending, "reports": reports,
        "categories": cats, "pol": pol,
    })


@router.post(CONSOLE)
async def create(request: Request, db: DB, me: Shopkeeper, name: Name = "", intro: Long = "", capacity: Small = "",
                 rules: Long = "", welcome: Long = "", join_mode: Small = "open", category_id: Small = "") -> Response:
    try:
        async with db.write() as s:
            c = await service.create_community(s, me.user_id, _settings_from(name, intro, capacity, rules, welcome,
                                                                             join_mode, category_id))
            cid = c.id
    except DomainError as exc:
        return refused(request, CONSOLE, exc)
    return redirect(request, f"{CONSOLE}/{cid}", _("Circle created. Share its invite link or poster with your fans."))


@router.get(CONSOLE + "/all")
async def operator_list(request: Request, db: DB, me: Operator,
                        status: Annotated[str, Query(pattern="^(|open|closed)$")] = "",
                        q: Annotated[str, Query(max_length=40)] = "", before: Before = None) -> Response:
    async with db.read() as s:
        items = await service.all_communities(s, status=status or None, q=q, before_id=before, limit=PAGE_SIZE + 1)
        shop_names = {k: v.name for k, v in (await service.shops_of(s, items)).items()}
        pol = await service.get_policy(s)
    return page(request, "community/console_all.html", {
        "pol": pol,
        "active": "circles_all", "items": items[:PAGE_SIZE], "shop_names": shop_names, "status": status, "q": q,
        "next_before": items[PAGE_SIZE - 1].id if len(items) > PAGE_SIZE else None,
    })


@router.post(CONSOLE + "/policy")
async def save_policy(request: Request, db: DB, me: Operator, enabled: Small = "", platform_capacity_cap: Small = "",
                      default_capacity: Small = "", max_communities_per_shop: Small = "",
                      post_rate: Annotated[str, Form(max_length=60)] = "", blocked_keywords: Long = "",
                      invite_days: Small = "") -> Response:
    """The operator's community settings; the keyword block list one word a line."""
    back = f"{CONSOLE}/all#policy"
    values: dict[str, Any] = {"enabled": bool(enabled), "post_rate": post_rate.strip(),
                              "blocked_keywords": [w for w in blocked_keywords.splitlines() if w.strip()]}
    for key, raw in (("platform_capacity_cap", platform_capacity_cap), ("default_capacity", default_capacity),
                     ("max_communities_per_shop", max_communities_per_shop), ("invite_days", invite_days)):
        if not raw.strip().isdigit():
            return refused(request, back, _("Whole numbers only."))
        values[key] = int(raw)
    try:
        async with db.write() as s:
            await policy.put(s, CommunityPolicy, values, me.user_id)
    except DomainError as exc:
        return refused(request, back, exc)
    return redirect(request, back, _("Saved."))


@router.post(CONSOLE + "/{community_id}/close")
async def operator_close(request: Request, community_id: PathId, db: DB, me: Operator,
                         reason: Annotated[str, Form(max_length=400)] = "") -> Response:
    try:
        async with db.write() as s:
            await service.close_community(s, community_id, me.user_id, reason)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return refused(request, f"{CONSOLE}/all#c-{community_id}", exc)
    return redirect(request, f"{CONSOLE}/all#c-{community_id}", _("Circle closed. Its page shows the reason."))


async def _manage(s: Any, community_id: int, user_id: int, action: str = "approve") -> Any:
    return await service.manageable(s, community_id, user_id, action)


@router.get(CONSOLE + "/{community_id}")
async def settings_page(request: Request, community_id: PathId, db: DB, me: CurrentUser, settings: AppSettings,
                        ) -> Response:
    async with db.read() as s:
        c, m = await _manage(s, community_id, me.user_id)
        counts = await service.count_members(s, c.id)
        cats = await catalog.categories(s)
        pol = await service.get_policy(s)
        token = await service.issue_invite(s, settings.secret_key, c.id, me.user_id) if c.status == "open" else None
        tabs = await console_tabs(s, c, m)
    return page(request, "community/console_settings.html", {
        "active": "circles", "c": c, "m": m, "counts": counts, "categories": cats, "pol": pol,
        "invite_url": posters.share_url(settings, token) if token else None, "can": service.can, "tabs": tabs,
    })


@router.post(CONSOLE + "/{community_id}")
async def save_settings(request: Request, community_id: PathId, db: DB, me: CurrentUser, storage: MediaStorage,
                        name: Name = "", intro: Long = "", capacity: Small = "", rules: Long = "", welcome: Long = "",
                        join_mode: Small = "open", category_id: Small = "",
                        cover: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    back = f"{CONSOLE}/{community_id}"
    try:
        async with db.read() as s:
            await _manage(s, community_id, me.user_id, "edit_settings")
        items = await receive(request, me.user_id, real_files(cover), max_files=1)
        async with db.write() as s:
            st = _settings_from(name, intro, capacity, rules, welcome, join_mode, category_id)
            if items:
                (row,) = await media.record(s, storage, me.user_id, "community_cover", items,
                                            ref=f"community:{community_id}")
                st.cover_url = row.url("750")
            await service.update_community(s, community_id, me.user_id, st)
    except DomainError as exc:
        if exc.status == 404 and exc.code != "media.not_found":
            raise
        return refused(request, back, exc)
    return redirect(request, back, _("Saved."))


@router.get(CONSOLE + "/{community_id}/poster.png")
async def invite_poster(community_id: PathId, db: DB, me: CurrentUser, settings: AppSettings) -> Response:
    """The invite poster: the community, the inviter, a QR code of a signed invite link (/r/{token})."""
    async with db.read() as s:
        c, _m = await _manage(s, community_id, me.user_id, "invite")
        shop = (await shops.shops_by_id(s, [c.shop_id])).get(c.shop_id)
        content = posters.PosterContent(
            kind=service.INVITE_KIND, target_id=c.id, title=c.name, subtitle=c.intro or "加入社群，和圈友一起分享好物",
            price_fen=None, price_from=False, images=tuple(u for u in (c.cover_url,) if u),
            shop_name=shop.name if shop else posters.PLATFORM_NAME, invite="邀你加入我的社群")
        sharer = await posters.sharer_card(s, me.user_id)
        days = (await service.get_policy(s)).invite_days
    poster = await asyncio.to_thread(posters.ensure_poster, settings, content, sharer, clock.now(), days)
    return Response(poster.png, media_type="image/png", headers={"Cache-Control": "private, no-store"})


# --- members -----------------------------------------------------------------------------------------

@router.get(CONSOLE + "/{community_id}/members")
async def members(request: Request, community_id: PathId, db: DB, me: CurrentUser,
                  q: Annotated[str, Query(max_length=40)] = "",
                  role: Annotated[str, Query(pattern="^(|owner|staff|expert|teacher|member)$")] = "",
                  status: Annotated[str, Query(pattern="^(pending|active|left|removed|banned)$")] = "active",
                  before: Before = None) -> Response:
    async with db.read() as s:
        c, m = await _manage(s, community_id, me.user_id)
        items = await service.list_members(s, c.id, status=status, role=role or None, q=q, before_id=before,
                                           limit=PAGE_SIZE + 1)
        counts = await service.count_members(s, c.id)
        tabs = await console_tabs(s, c, m)
    return page(request, "community/console_members.html", {
        "tabs": tabs,
        "active": "circles", "c": c, "m": m, "items": items[:PAGE_SIZE], "q": q, "role": role, "status": status,
        "next_before": items[PAGE_SIZE - 1].id if len(items) > PAGE_SIZE else None, "counts": counts,
        "roles": role_names(), "can": service.can, "now": clock.now(),
    })


@router.post(CONSOLE + "/{community_id}/members/{member_id}/{action}")
async def member_action(request: Request, community_id: PathId, member_id: PathId,
                        action: Annotated[str, Path(pattern="^[a-z]{3,8}$")], db: DB, me: CurrentUser,
                        reason: Annotated[str, Form(max_length=400)] = "",
                        minutes: Annotated[int, Form(ge=0, le=43_200)] = 0,
                        role: Annotated[str, Form(max_length=10)] = "",
                        back: Annotated[str, Form(max_length=300, pattern=r"^/console/circles/[0-9]+/members[^\s]*$")]
                        = "") -> Response:
    url = back or f"{CONSOLE}/{community_id}/members"
    acts = {
        "approve": lambda s: service.approve(s, community_id, me.user_id, member_id),
        "reject": lambda s: service.reject(s, community_id, me.user_id, member_id, reason),
        "remove": lambda s: service.remove(s, community_id, me.user_id, member_id, reason),
        "ban": lambda s: service.remove(s, community_id, me.user_id, member_id, reason, ban=True),
        "unban": lambda s: service.unban(s, community_id, me.user_id, member_id),
        "mute": lambda s: service.mute(s, community_id, me.user_id, member_id, minutes, reason),
        "role": lambda s: service.set_role(s, community_id, me.user_id, member_id, role),
    }
    if action not in acts:
        raise CommunityNotFound()
    try:
        async with db.write() as s:
            await _manage(s, community_id, me.user_id)
            await acts[action](s)
    except DomainError as exc:
        if exc.status == 404 and exc.code == "community.not_found":
            raise
        return refused(request, url, exc)
    return redirect(request, url, _("Done."))


# --- announcements and reports -----------------------------------------------------------------------

@router.get(CONSOLE + "/{community_id}/reports")
async def reports(request: Request, community_id: PathId, db: DB, me: CurrentUser) -> Response:
    async with db.read() as s:
        c, m = await _manage(s, community_id, me.user_id, "review_reports")
        items = await feed.reports(s, c.id)
        posts = {r.post_id: await s.get(Post, r.post_id) for r in items}
        tabs = await console_tabs(s, c, m)
    return page(request, "community/console_reports.html", {"active": "circles", "c": c, "m": m, "items": items,
                                                            "posts": posts, "tabs": tabs})


@router.post(CONSOLE + "/{community_id}/reports/{report_id}")
async def handle_report(request: Request, community_id: PathId, report_id: PathId, db: DB, me: CurrentUser,
                        action: Annotated[str, Form(pattern="^(remove|dismiss)$")] = "dismiss") -> Response:
    url = f"{CONSOLE}/{community_id}/reports"
    try:
        async with db.write() as s:
            await _manage(s, community_id, me.user_id, "review_reports")
            await feed.handle_report(s, community_id, report_id, me.user_id, action)
    except DomainError as exc:
        if exc.code == "community.not_found":
            raise
        return refused(request, url, exc)
    return redirect(request, url, _("Post removed.") if action == "remove" else _("Report dismissed."))


@router.post(CONSOLE + "/{community_id}/announcements")
async def announce(request: Request, community_id: PathId, db: DB, me: CurrentUser, storage: MediaStorage,
                   limiter: Limiter, body: Long = "", public: Annotated[str, Form(max_length=5)] = "",
                   pin: Annotated[str, Form(max_length=5)] = "",
                   photos: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    back = f"{CONSOLE}/{community_id}"
    d = feed.Draft(body=body, kind="announcement", members_only=not public)
    files = real_files(photos)
    try:
        async with db.read() as s:
            await _manage(s, community_id, me.user_id, "post_announcement")
            await feed.check_post(s, community_id, me.user_id, d, len(files))
        items = await receive(request, me.user_id, files, max_files=feed.MAX_IMAGES)
        async with db.write() as s:
            p = await feed.create_post(s, community_id, me.user_id, d, photos=items, storage=storage, limiter=limiter)
            if pin and service.can((await service.require_member(s, community_id, me.user_id)).role, "pin"):
                await feed.pin(s, p.id, me.user_id)
    except DomainError as exc:
        if exc.code == "community.not_found":
            raise
        return refused(request, back, exc)
    return redirect(request, back, _("Announcement posted."))
