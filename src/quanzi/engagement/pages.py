"""Engagement pages for fans, phone first: check-in with points, lucky draws (rules, prize table, public winners),
red packets, polls (with the result chart where the owner allows it) and the activity calendar. Forms post,
then 303 back to the page with a one-shot message (kit/flash), so a reload never posts twice."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import CurrentUser, OptionalUser
from quanzi.community import service as community
from quanzi.community.models import Community, Member
from quanzi.community.pages import Link, console_tab, feed_link
from quanzi.engagement import charts, service
from quanzi.engagement.errors import DrawNotFound
from quanzi.kit import flash, i18n
from quanzi.kit.clock import CHINA, as_utc, clock
from quanzi.kit.db import Database
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError
from quanzi.kit.schemas import PathId
from quanzi.kit.web import render

router = APIRouter(include_in_schema=False)

FormInt = Annotated[int, Form(ge=0, le=10_000_000)]
Options = Annotated[list[int] | None, Form(max_length=10)]


def local(at: Any, fmt: str = "%m-%d %H:%M") -> str:
    return as_utc(at).astimezone(CHINA).strftime(fmt) if at else ""


async def _circle(s: AsyncSession, community_id: int, user_id: int) -> tuple[Community, bool]:
    """The community (members only: anyone else gets 404) and whether the viewer is its staff."""
    c = await community.get_community(s, community_id)
    await community.require_member(s, community_id, user_id)
    return c, await service.is_manager(s, community_id, user_id, service.RUN_DRAW)


def _page(request: Request, name: str, ctx: dict[str, Any]) -> Response:
    notice = flash.take(request)
    ctx = {"error": notice[1] if notice and notice[0] == "error" else None,
           "notice": notice[1] if notice and notice[0] != "error" else None, "local": local, **ctx}
    return flash.forget(request, render(request, name, ctx))


async def _act(request: Request, db: Database, back: str, fn: Any, ok: str) -> Response:
    """Run one write; its refusal (a stable code, in the visitor's language) or `ok` is shown back on the page."""
    try:
        async with db.write() as s:
            result = await fn(s)
    except DomainError as exc:
        return flash.back_with(request, back, exc)
    return flash.back_with(request, back, ok(result) if callable(ok) else ok, kind="ok")


# --- check-in -------------------------------------------------------------------------------------------

@router.get("/circles/{community_id}/checkin")
async def checkin_page(request: Request, community_id: PathId, db: DB, me: CurrentUser) -> Response:
    async with db.read() as s:
        c, staff = await _circle(s, community_id, me.user_id)
        st = await service.checkin_status(s, community_id, me.user_id)
        points = await service.points_balance(s, me.user_id, c.shop_id)
        history = await service.points_history(s, me.user_id, c.shop_id, limit=10)
        pol, mine = await service.operator_policy(s), await service.settings_of(s, community_id)
    return _page(request, "engagement/checkin.html", {
        "c": c, "staff": staff, "sub": "checkin", "st": st, "points": points, "history": history,
        "enabled": pol.checkin_enabled and mine.checkin_enabled})


@router.post("/circles/{community_id}/checkin")
async def checkin(request: Request, community_id: PathId, db: DB, me: CurrentUser) -> Response:
    _ = i18n.gettext
    return await _act(request, db, f"/circles/{community_id}/checkin",
                      lambda s: service.check_in(s, community_id, me.user_id),
                      lambda r: _("Checked in: day %(n)s of your streak, +%(p)s points") % {"n": r.streak, "p": r.points})


# --- draws ----------------------------------------------------------------------------------------------

@router.get("/circles/{community_id}/draws")
async def draws_page(request: Request, community_id: PathId, db: DB, me: CurrentUser) -> Response:
    async with db.read() as s:
        c, staff = await _circle(s, community_id, me.user_id)
        draws = await service.draws_of(s, community_id, include_drafts=staff)
        points = await service.points_balance(s, me.user_id, c.shop_id)
    now = clock.now()
    return _page(request, "engagement/draws.html", {
        "c": c, "staff": staff, "sub": "draws", "points": points,
        "draws": [(d, service.draw_state(d, now)) for d in draws]})


@router.get("/draws/{draw_id}")
async def draw_page(request: Request, draw_id: PathId, db: DB, me: OptionalUser) -> Response:
    """Public once published (rules, prizes, winners): anyone can check who won (no fake winners)."""
    async with db.read() as s:
        d = await service.get_draw(s, draw_id)
        c = await community.get_community(s, d.community_id)
        member = staff = False
        points = used = 0
        if me is not None:
            m = await community.membership(s, d.community_id, me.user_id)
            member = m is not None and m.status == "active"
            staff = member and await service.is_manager(s, d.community_id, me.user_id, service.RUN_DRAW)
            points = await service.points_balance(s, me.user_id, d.shop_id)
            used = await service.entries_used(s, d.id, me.user_id)
        if d.status == "draft" and not staff:
            raise DrawNotFound()
        prizes = await service.prizes_of(s, d.id)
        winners = await service.winners(s, d.id)
    nothing = 10_000 - sum(p.chance_bp for p in prizes)
    return _page(request, "engagement/draw.html", {
        "c": c, "d": d, "state": service.draw_state(d, clock.now()), "prizes": prizes, "nothing_bp": nothing,
        "winners": winners, "member": member, "staff": staff, "points": points, "used": used, "sub": "draws"})


@router.post("/draws/{draw_id}/enter")
async def enter(request: Request, draw_id: PathId, db: DB, me: CurrentUser) -> Response:
    _ = i18n.gettext

    def said(r: service.EntryResult) -> str:
        if r.prize_kind == "nothing":
            return _("Not this time. Entries left: %(n)s") % {"n": r.entries_left}
        return _("You won: %(prize)s! Entries left: %(n)s") % {"prize": r.prize_name, "n": r.entries_left}

    return await _act(request, db, f"/draws/{draw_id}", lambda s: service.enter_draw(s, draw_id, me.user_id), said)


# --- red packets ----------------------------------------------------------------------------------------

@router.get("/circles/{community_id}/red-packets")
async def packets_page(request: Request, community_id: PathId, db: DB, me: CurrentUser) -> Response:
    async with db.read() as s:
        c, staff = await _circle(s, community_id, me.user_id)
        packets = await service.packets_of(s, community_id)
        grabs = {p.id: await service.grabs_of(s, p.id) for p in packets}
        points = await service.points_balance(s, me.user_id, c.shop_id)
        may_fund = await service.is_manager(s, community_id, me.user_id, service.SEND_PACKET)
    now = clock.now()
    rows = []
    for p in packets:
        mine = next((g.points for g in grabs[p.id] if g.user_id == me.user_id), None)
        state = "expired" if p.status == "expired" or (p.status == "open" and as_utc(p.expires_at) <= now) \
            else p.status
        rows.append({"p": p, "mine": mine, "state": state, "grabs": grabs[p.id]})
    return _page(request, "engagement/packets.html", {"c": c, "staff": staff, "sub": "packets", "rows": rows,
                                                      "points": points, "may_fund": may_fund})


@router.post("/circles/{community_id}/red-packets")
async def send_packet(request: Request, community_id: PathId, db: DB, me: CurrentUser, total_points: FormInt,
                      parts: FormInt, split: Annotated[str, Form(max_length=10)] = "lucky",
                      greeting: Annotated[str, Form(max_length=60)] = "",
                      from_shop: Annotated[str, Form(max_length=5)] = "") -> Response:
    _ = i18n.gettext
    return await _act(request, db, f"/circles/{community_id}/red-packets",
                      lambda s: service.send_packet(s, community_id, me.user_id, total_points=total_points,
                                                    parts=parts, split=split, greeting=greeting,
                                                    from_shop=bool(from_shop)),
                      _("Red packet sent"))


@router.post("/red-packets/{packet_id}/grab")
async def grab(request: Request, packet_id: PathId, db: DB, me: CurrentUser) -> Response:
    _ = i18n.gettext
    async with db.read() as s:
        p = await service.get_packet(s, packet_id)
        await community.require_member(s, p.community_id, me.user_id)
    return await _act(request, db, f"/circles/{p.community_id}/red-packets",
                      lambda s: service.grab(s, packet_id, me.user_id),
                      lambda r: _("You grabbed %(p)s points") % {"p": r.points})


# --- polls ----------------------------------------------------------------------------------------------

@router.get("/circles/{community_id}/polls")
async def polls_page(request: Request, community_id: PathId, db: DB, me: CurrentUser) -> Response:
    async with db.read() as s:
        c, staff = await _circle(s, community_id, me.user_id)
        manager = await service.is_manager(s, community_id, me.user_id, service.RUN_POLL)
        public = (await service.settings_of(s, community_id)).poll_results_for_members
        rows = []
        for p in await service.polls_of(s, community_id):
            opts = await service.options_of(s, p.id)
            visible = manager or public
            rows.append({"p": p, "options": opts, "answered": await service.has_answered(s, p.id, me.user_id),
                         "closed": as_utc(p.closes_at) <= clock.now(), "visible": visible,
                         "chart": charts.poll(opts) if visible else None})
    return _page(request, "engagement/polls.html", {"c": c, "staff": staff, "sub": "polls", "rows": rows})


@router.post("/polls/{poll_id}/answer")
async def answer(request: Request, poll_id: PathId, db: DB, me: CurrentUser, option: Options = None) -> Response:
    _ = i18n.gettext
    async with db.read() as s:
        p = await service.get_poll(s, poll_id)
        await community.require_member(s, p.community_id, me.user_id)
    return await _act(request, db, f"/circles/{p.community_id}/polls",
                      lambda s: service.answer_poll(s, poll_id, me.user_id, option or []), _("Thanks for answering"))


# --- calendar -------------------------------------------------------------------------------------------

@router.get("/circles/{community_id}/calendar")
async def calendar_page(request: Request, community_id: PathId, db: DB, me: CurrentUser) -> Response:
    async with db.read() as s:
        c, staff = await _circle(s, community_id, me.user_id)
        acts = await service.calendar(s, community_id)
        cadence = await service.cadence_days(s, community_id)
    return _page(request, "engagement/calendar.html", {"c": c, "staff": staff, "sub": "calendar", "acts": acts,
                                                       "cadence": cadence, "kinds": kind_names()})


def kind_names() -> dict[str, str]:
    _ = i18n.gettext
    return {"drop": _("New drop"), "live_qa": _("Live Q&A"), "draw": _("Lucky draw"),
            "checkin_week": _("Check-in week"), "other": _("Activity")}


@feed_link
async def circle_links(s: AsyncSession, c: Community, m: Member) -> list[Link]:
    """The community page's links into its engagement pages."""
    _ = i18n.gettext
    base = f"/circles/{c.id}"
    return [Link(_("Check in"), f"{base}/checkin", "eg-link-checkin"),
            Link(_("Lucky draws"), f"{base}/draws", "eg-link-draws"),
            Link(_("Red packets"), f"{base}/red-packets", "eg-link-packets"),
            Link(_("Polls"), f"{base}/polls", "eg-link-polls"),
            Link(_("Calendar"), f"{base}/calendar", "eg-link-calendar")]


@console_tab
async def console_links(s: AsyncSession, c: Community, m: Member) -> list[Link]:
    """The community console's tab to the activities and the health chart (staff who may run them)."""
    if not community.can(m.role, service.SETTINGS):
        return []
    return [Link(i18n.gettext("Activities and health"), f"/console/circles/{c.id}/engagement", "eg-console-tab")]
