"""Group-buy storefront pages: running activities, an activity (open a group, groups to join), a group as its
share link shows it (join, invite). Share links of kind "g" land on the group page. Placement goes through the
same service and idempotency scopes as the JSON API; the buyer then pays on the order's pay page and lands back
on the group, which tells each member in plain words where they stand (seat being taken, in, complete,
refunding, refunded). A group order's own page says it ships only once the group is complete."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import CurrentUser, OptionalUser
from quanzi.accounts.service import Principal
from quanzi.cart import service as cart
from quanzi.catalog import service as catalog
from quanzi.catalog.pages import money
from quanzi.groupbuy import service
from quanzi.groupbuy.models import GroupActivity, GroupMember
from quanzi.kit import flash, i18n
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.deps import DB, AppSettings, Limiter
from quanzi.kit.errors import DomainError, NotFound
from quanzi.kit.idempotency import check_key, run_once
from quanzi.kit.schemas import FormId, PathId
from quanzi.kit.web import render
from quanzi.orders import service as orders
from quanzi.orders.models import Order
from quanzi.orders.pages import CampaignPage, campaign_page
from quanzi.orders.service import CHINA
from quanzi.kit import sharetokens as tokens
from quanzi.referrals import links
from quanzi.kit.sharetokens import ShareToken

router = APIRouter(include_in_schema=False)

FormQty = Annotated[int, Form(ge=1, le=100)]
FormKey = Annotated[str, Form(min_length=1, max_length=120)]


@links.lands("g")
async def _group(s: AsyncSession, token: ShareToken) -> str:
    return f"/groupbuy/groups/{token.target_id}"


def _held() -> tuple[str, str]:
    _ = i18n.gettext
    return _("Paid: group forming"), _("Your order ships once the group is complete. If it is not complete in "
                                       "time, your payment comes back in full, automatically.")


def _refund_event(data: dict[str, Any]) -> tuple[str, str]:
    _ = i18n.gettext
    what = {"group_failed": _("Group not complete in time: refund requested"),
            "group_full": _("The group was full when the payment arrived: refund requested"),
            "group_closed": _("The group had closed when the payment arrived: refund requested"),
            }.get(str(data.get("reason")), _("Group buy refund requested"))
    return what, money(int(data["amount_fen"])) if data.get("amount_fen") else ""


campaign_page(service.KIND, CampaignPage("/groupbuy/orders/{order_id}", lambda: i18n.gettext("View your group"),
                                         _held),
              events={"group_refund": _refund_event,
                      "group_refund_arrived": lambda _data: (i18n.gettext("Group buy refund arrived"), "")})


# --- words --------------------------------------------------------------------------------------

def status_text(status: str, by_platform: bool = False) -> str:
    _ = i18n.gettext
    if status == "succeeded" and by_platform:
        return _("Completed by the platform")
    return {
        "pending": _("Waiting for the leader to pay"), "forming": _("Forming"), "succeeded": _("Group complete"),
        "failed": _("Not completed in time"), "cancelled": _("Cancelled"),
    }.get(status, status)


def time_left(until: datetime | None, now: datetime) -> str:
    if until is None or until <= now:
        return ""
    minutes = int((until - now).total_seconds() // 60)
    return i18n.gettext("%(h)s h %(m)s min left") % {"h": minutes // 60, "m": minutes % 60}


def local(at: datetime | None) -> str:
    return at.astimezone(CHINA).strftime("%m-%d %H:%M") if at else ""


# --- shared context ---------------------------------------------------------------------------------

async def _offers(s: AsyncSession, acts: list[GroupActivity]) -> list[dict[str, Any]]:
    """The activities' SKUs as a buyer sees them: label, picture, stock, group and leader price (two
    queries however many activities)."""
    by_act = await service.skus_of(s, [a.id for a in acts])
    snaps = await catalog.snapshots_with_stock(s, [k.sku_id for ks in by_act.values() for k in ks])
    out = []
    for act in acts:
        ks = by_act.get(act.id, [])
        skus = [{"sku_id": k.sku_id, "label": snaps[k.sku_id].label, "stock": snaps[k.sku_id].stock,
                 "price_fen": snaps[k.sku_id].price_fen, "group_price_fen": k.group_price_fen,
                 "leader_price_fen": k.group_price_fen - act.leader_discount_fen}
                for k in ks if k.sku_id in snaps]
        first = snaps[ks[0].sku_id] if ks and ks[0].sku_id in snaps else None
        out.append({"act": act, "skus": skus, "title": first.title if first else act.title,
                    "image_url": first.image_url if first else None,
                    "ratio_pct": _number(act.complete_ratio_bp / 100) if act.complete_ratio_bp else None,
                    "limit_hours": _number(round(act.time_limit_minutes / 60, 1))})
    return out


def _number(x: float) -> int | float:
    return int(x) if float(x).is_integer() else x


async def _addresses(s: AsyncSession, me: Principal | None) -> list[Any]:
    return list(await cart.addresses(s, me.user_id)) if me else []


# --- activities ---------------------------------------------------------------------------------

@router.get("/groupbuy")
async def activities_page(request: Request, db: DB, me: OptionalUser) -> Response:
    async with db.read() as s:
        offers = await _offers(s, list(await service.running_activities(s, clock.now())))
    return render(request, "groupbuy/list.html", {"offers": offers, "tab": "home"})


async def _activity_page(request: Request, db: Database, me: Principal | None, activity_id: int, *,
                         error: str | None = None, status: int = 200) -> Response:
    now = clock.now()
    async with db.read() as s:
        act = await service.get_activity(s, activity_id)
        [offer] = await _offers(s, [act])
        groups = [await service.group_view(s, g.id) for g in await service.joinable_groups(s, act.id, now)]
        addresses = await _addresses(s, me)
        mine = await service.open_group_of(s, act.id, me.user_id) if me else None
    return render(request, "groupbuy/activity.html", {
        **offer, "groups": groups, "mine": mine, "addresses": addresses, "error": error, "now": now, "time_left": time_left,
        "running": act.status == "active" and act.starts_at <= now < act.ends_at, "starts": local(act.starts_at),
        "idempotency_key": secrets.token_urlsafe(18), "next": request.url.path,
    }, status_code=status)


@router.get("/groupbuy/activities/{activity_id}")
async def activity_page(request: Request, activity_id: PathId, db: DB, me: OptionalUser) -> Response:
    refused = flash.take(request)
    resp = await _activity_page(request, db, me, activity_id, error=refused[1] if refused else None)
    return flash.forget(request, resp)


@router.post("/groupbuy/activities/{activity_id}/open")
async def open_group(request: Request, activity_id: PathId, db: DB, me: CurrentUser, limiter: Limiter,
                     settings: AppSettings, sku_id: FormId, qty: FormQty, address_id: FormId,
                     idempotency_key: FormKey) -> Response:
    try:
        await limiter.hit(settings.group_join_limit_per_user, "group-enter", str(me.user_id))
        order_id = await _enter(db, f"groupbuy.open:{me.user_id}:{activity_id}", idempotency_key,
                                {"sku_id": sku_id, "quantity": qty, "address_id": address_id},
                                lambda s: service.open_group(s, me.user_id, activity_id, sku_id, qty, address_id))
    except DomainError as exc:  # sold out, over the limit, already in a group…: said on the activity's page
        return flash.back_with(request, f"/groupbuy/activities/{activity_id}", exc)
    return RedirectResponse(f"/orders/{order_id}/pay", status_code=303)


async def _enter(db: Database, scope: str, key: str, body: dict[str, int], place: Any) -> int:
    """Open or join with an idempotency key — the same scope and body as the JSON API, so a key means one
    placement whichever door it came through."""
    from quanzi.groupbuy.api import placed_out

    async with db.write() as s:
        async def run() -> tuple[int, object]:
            return 201, placed_out(await place(s)).model_dump(mode="json")

        _status, payload = await run_once(s, scope, check_key(key), body, run)
    return int(payload["order_id"])


# --- a group ------------------------------------------------------------------------------------

def _my_place(m: GroupMember | None, order: Order | None) -> dict[str, Any] | None:
    """Where the viewer stands in this group, in plain words: (state, words) plus their order."""
    if m is None or order is None:
        return None
    _ = i18n.gettext
    refund = money(m.refund_fen or order.total_fen)
    state = m.status
    if m.status == "pending_payment":
        state = "seating" if order.paid_at is not None else ("unpaid" if order.status == "pending_payment"
                                                               else "cancelled")
    why = {"group_full": _("The group filled up before your payment arrived."),
           "group_closed": _("The group had already closed when your payment arrived."),
           "group_failed": _("The group was not complete in time.")}.get(m.refund_reason or "", "")
    words = {
        "unpaid": _("Pay for your order to take your seat."),
        "seating": _("Payment received: taking your seat…"),
        "joined": _("You are in. The group succeeds when every seat is paid for."),
        "succeeded": _("The group is complete: your order is being prepared for shipping."),
        "refunding": sentences(why, _("Your payment of %(amount)s is being refunded in full to where it came "
                                      "from.") % {"amount": refund}),
        "refunded": sentences(why, _("Refunded: %(amount)s is back where it came from.") % {"amount": refund}),
        "cancelled": _("Your order was cancelled: nothing was charged."),
        "left": _("You left the group with a full refund."),
    }.get(state, "")
    return {"state": state, "words": words, "order_id": m.order_id, "is_leader": m.is_leader}


def sentences(*parts: str) -> str:
    """Sentences one after the other: a space between English ones, none between Chinese ones."""
    return (" " if i18n.short() == "en" else "").join(x for x in parts if x)


async def _group_page(request: Request, db: Database, me: Principal | None, settings: Any, group_id: int, *,
                      error: str | None = None, notice: str | None = None, status: int = 200) -> Response:
    now = clock.now()
    async with db.read() as s:
        view = await service.group_view(s, group_id)
        [offer] = await _offers(s, [view.activity])
        addresses = await _addresses(s, me)
        mine_row = await service.membership(s, group_id, me.user_id) if me else None
        order = await orders.get_order(s, mine_row.order_id) if mine_row else None
    mine = _my_place(mine_row, order)
    member = me is not None and any(m.user_id == me.user_id for m in view.members)
    share_url = None
    if member and view.group.status == "forming" and me is not None:
        token = tokens.issue(settings.secret_key, me.user_id, "g", group_id, now)
        share_url = f"{settings.public_url.rstrip('/')}/r/{token}"
    expires = view.group.expires_at
    joinable = (view.group.status == "forming" and view.seats_left > 0 and expires is not None and expires > now
                and not member and (mine is None or mine["state"] in ("cancelled", "left")))
    return render(request, "groupbuy/group.html", {
        **offer, "view": view, "g": view.group, "status_text": status_text(view.group.status,
                                                                            view.group.completed_by_platform),
        "member": member, "joinable": joinable, "share_url": share_url, "addresses": addresses, "error": error,
        "left": time_left(view.group.expires_at, now), "deadline": local(view.group.expires_at),
        "expires_iso": view.group.expires_at.isoformat() if view.group.expires_at else None,
        "now_iso": now.isoformat(), "mine": mine, "notice": notice,
        "idempotency_key": secrets.token_urlsafe(18), "next": request.url.path,
    }, status_code=status)


@router.get("/groupbuy/groups/{group_id}")
async def group_page(request: Request, group_id: PathId, db: DB, me: OptionalUser, settings: AppSettings,
                     notice: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    text = i18n.gettext("Payment received. Thank you!") if notice == "paid" and me is not None else None
    refused = flash.take(request)
    resp = await _group_page(request, db, me, settings, group_id, notice=text, error=refused[1] if refused else None)
    return flash.forget(request, resp)


@router.get("/groupbuy/orders/{order_id}")
async def group_of_order(order_id: PathId, db: DB, me: CurrentUser,
                         notice: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    """A buyer's group order → its group (where they land after paying); someone else's order: 404."""
    async with db.read() as s:
        m = await service.member_of_order(s, order_id)
    if m is None or m.user_id != me.user_id:
        raise NotFound()
    return RedirectResponse(f"/groupbuy/groups/{m.group_id}" + ("?notice=paid" if notice == "paid" else ""),
                            status_code=303)


@router.post("/groupbuy/groups/{group_id}/join")
async def join_group(request: Request, group_id: PathId, db: DB, me: CurrentUser, limiter: Limiter,
                     settings: AppSettings, sku_id: FormId, qty: FormQty, address_id: FormId,
                     idempotency_key: FormKey) -> Response:
    try:
        await limiter.hit(settings.group_join_limit_per_user, "group-enter", str(me.user_id))
        order_id = await _enter(db, f"groupbuy.join:{me.user_id}:{group_id}", idempotency_key,
                                {"sku_id": sku_id, "quantity": qty, "address_id": address_id},
                                lambda s: service.join_group(s, me.user_id, group_id, sku_id, qty, address_id))
    except DomainError as exc:  # full, closed, over the limit…: said on the group's own page
        return flash.back_with(request, f"/groupbuy/groups/{group_id}", exc)
    return RedirectResponse(f"/orders/{order_id}/pay", status_code=303)
