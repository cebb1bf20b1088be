"""Bargain storefront pages: running activities (launch one), a bargain as its share link shows it —
progress from the start price to the floor, who helped and by how much, a help button for friends, the
buy form once allowed. Refusals (already helped, own bargain, over) are shown in plain words."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts import service as accounts
from quanzi.accounts.deps import CurrentUser, OptionalUser
from quanzi.accounts.service import Principal
from quanzi.bargain import service
from quanzi.bargain.models import BargainActivity
from quanzi.cart import service as cart
from quanzi.catalog import service as catalog
from quanzi.catalog.pages import money
from quanzi.kit import flash, i18n
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError
from quanzi.kit.schemas import FormId, PathId
from quanzi.kit.web import render
from quanzi.orders.service import CHINA

router = APIRouter(include_in_schema=False)


def status_text(status: str) -> str:
    _ = i18n.gettext
    return {"active": _("Bargaining"), "succeeded": _("Floor reached: buy it now"), "purchased": _("Bought"),
            "expired": _("Expired")}.get(status, status)


def local(at: datetime | None) -> str:
    return at.astimezone(CHINA).strftime("%m-%d %H:%M") if at else ""


async def _offers(s: AsyncSession, acts: list[BargainActivity]) -> list[dict[str, Any]]:
    """The activities as a buyer sees them, with their SKU's title, label and picture (one query)."""
    snaps = await catalog.snapshots(s, [a.sku_id for a in acts])
    out = []
    for a in acts:
        snap = snaps.get(a.sku_id)
        out.append({"a": a, "title": snap.title if snap else a.title, "label": snap.label if snap else "",
                    "image_url": snap.image_url if snap else None,
                    "price_fen": snap.price_fen if snap else a.start_price_fen})
    return out


@router.get("/bargain")
async def activities_page(request: Request, db: DB, me: OptionalUser) -> Response:
    async with db.read() as s:
        offers = await _offers(s, list(await service.activities(s)))
    now = clock.now()
    refused = flash.take(request)
    return flash.forget(request, render(request, "bargain/list.html", {
        "offers": offers, "now": now, "tab": "home", "next": request.url.path,
        "error": refused[1] if refused else None}))


@router.post("/bargain/activities/{activity_id}/launch")
async def launch(request: Request, activity_id: PathId, db: DB, me: CurrentUser) -> Response:
    try:
        async with db.write() as s:
            b = await service.launch(s, me.user_id, activity_id)
            bargain_id = b.id
    except DomainError as exc:
        return flash.back_with(request, "/bargain", exc)
    return RedirectResponse(f"/bargains/{bargain_id}", status_code=303)


async def _bargain_page(request: Request, db: Database, me: Principal | None, bargain_id: int, *,
                        error: str | None = None, just_helped: bool = False, status: int = 200) -> Response:
    now = clock.now()
    async with db.read() as s:
        b, a, helps = await service.detail(s, bargain_id)
        [offer] = await _offers(s, [a])
        ids = [h.helper_id for h in helps] + [b.initiator_id]
        names = {uid: p.nickname for uid, p in (await accounts.profiles(s, ids)).items()}
        addresses = list(await cart.addresses(s, me.user_id)) if me else []
    mine = me is not None and me.user_id == b.initiator_id
    my_help = next((h for h in helps if me is not None and h.helper_id == me.user_id), None)
    helped = my_help is not None
    notice = None
    if just_helped and my_help:  # back from helping: say what the cut was
        notice = i18n.gettext("You cut %(amount)s. Thank you!") % {"amount": money(my_help.cut_fen)}
    total = a.start_price_fen - a.floor_price_fen
    cut = a.start_price_fen - b.current_price_fen
    open_ = b.status == "active" and b.expires_at > now
    can_buy = mine and ((b.status == "succeeded" and (b.pay_by is None or b.pay_by > now))
                        or (open_ and a.allow_buy_above_floor))
    return render(request, "bargain/bargain.html", {
        **offer, "b": b, "status_text": status_text(b.status if b.status != "active" or open_ else "expired"),
        "helps": [{"name": names.get(h.helper_id, "?"), "cut_fen": h.cut_fen, "seq": h.seq} for h in helps],
        "initiator": names.get(b.initiator_id, "?"), "mine": mine, "helped": helped, "open": open_,
        "can_buy": can_buy, "pct": int(round(100 * cut / total)) if total else 100, "cut_fen": cut,
        "first_cut_fen": int(b.plan[0]) if b.plan else 0, "now_iso": now.isoformat(),
        "left_fen": b.current_price_fen - a.floor_price_fen, "helpers_left": a.helpers_needed - b.helpers_count,
        "expires_iso": b.expires_at.isoformat(), "expires": local(b.expires_at),
        "pay_by": local(b.pay_by), "addresses": addresses, "error": error, "notice": notice,
        "my_cut_fen": my_help.cut_fen if my_help else 0,
        "share_url": f"{request.app.state.settings.public_url.rstrip('/')}/bargains/{b.id}",
        "next": f"/bargains/{b.id}",
    }, status_code=status)


@router.get("/bargains/{bargain_id}")
async def bargain_page(request: Request, bargain_id: PathId, db: DB, me: OptionalUser,
                       notice: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    refused = flash.take(request)
    resp = await _bargain_page(request, db, me, bargain_id, just_helped=notice == "helped",
                               error=refused[1] if refused else None)
    return flash.forget(request, resp)


@router.post("/bargains/{bargain_id}/help")
async def help_cut(request: Request, bargain_id: PathId, db: DB, me: CurrentUser) -> Response:
    try:
        async with db.write() as s:
            await service.help_cut(s, me.user_id, bargain_id)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return flash.back_with(request, f"/bargains/{bargain_id}", exc)
    # Back to the bargain's own address: a reload does not press "help" again, and the page says the cut.
    return RedirectResponse(f"/bargains/{bargain_id}?notice=helped", status_code=303)


@router.post("/bargains/{bargain_id}/buy")
async def buy(request: Request, bargain_id: PathId, db: DB, me: CurrentUser, address_id: FormId) -> Response:
    try:
        async with db.write() as s:
            order = await service.buy(s, me.user_id, bargain_id, address_id)
            order_id = order.id
    except DomainError as exc:
        if exc.status == 404:
            raise
        return flash.back_with(request, f"/bargains/{bargain_id}", exc)
    return RedirectResponse(f"/orders/{order_id}/pay", status_code=303)
