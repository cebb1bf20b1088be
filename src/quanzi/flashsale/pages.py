"""Flash-sale storefront pages: today's slots (China time), each activity with its progress and a grab form;
a grab goes through flashsale.service.grab (with the Redis gate when configured) and lands on the order's
pay page. Sold out: "notify me for the next batch" (the waitlist)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response

from quanzi.accounts.deps import CurrentUser, OptionalUser
from quanzi.accounts.service import Principal
from quanzi.cart import service as cart
from quanzi.catalog import service as catalog
from quanzi.flashsale import gate, service
from quanzi.flashsale.models import FlashActivity, FlashItem, FlashSlot
from quanzi.kit import flash, i18n
from quanzi.kit.clock import clock, window_state
from quanzi.kit.db import Database
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError
from quanzi.kit.schemas import MAX_ID, FormId, PathId
from quanzi.kit.web import render
from quanzi.orders.service import CHINA

router = APIRouter(include_in_schema=False)

FormQty = Annotated[int, Form(ge=1, le=100)]


def hhmm(at: datetime) -> str:
    return at.astimezone(CHINA).strftime("%H:%M")


def _offer(act: FlashActivity, items: list[FlashItem], snaps: dict[int, Any], now: datetime) -> dict[str, Any]:
    skus = [{"sku_id": i.sku_id, "label": snaps[i.sku_id].label, "price_fen": snaps[i.sku_id].price_fen,
             "flash_price_fen": i.flash_price_fen, "quota": i.quota, "remaining": i.remaining}
            for i in items if i.sku_id in snaps]
    first = snaps[items[0].sku_id] if items and items[0].sku_id in snaps else None
    quota = sum(i.quota for i in items)
    remaining = sum(i.remaining for i in items)
    sold = quota - remaining
    state = window_state(act.starts_at, act.ends_at, now)
    if state == "live" and remaining <= 0:
        state = "sold_out"
    return {"act": act, "skus": skus, "title": first.title if first else act.title,
            "image_url": first.image_url if first else None, "quota": quota, "remaining": remaining,
            "sold": sold, "pct": int(round(100 * sold / quota)) if quota else 0, "state": state,
            "opens": hhmm(act.starts_at), "closes": hhmm(act.ends_at),
            "starts_iso": act.starts_at.isoformat(), "ends_iso": act.ends_at.isoformat(), "now_iso": now.isoformat()}


def _pick_slot(slots: list[FlashSlot], now: datetime) -> int | None:
    t = now.astimezone(CHINA).time()
    for slot in slots:
        if slot.starts <= t < slot.ends:
            return slot.id
    for slot in slots:
        if t < slot.starts:
            return slot.id
    return slots[-1].id if slots else None


async def _page(request: Request, db: Database, me: Principal | None, slot_id: int | None = None, *,
                error: str | None = None, notice: str | None = None, status: int = 200) -> Response:
    now = clock.now()
    day = now.astimezone(CHINA).date()
    async with db.read() as s:
        slots = await service.slots(s)
        acts = await service.activities_for_day(s, day)
        snaps = await catalog.snapshots(s, [i.sku_id for _a, items in acts for i in items])  # one query
        offers = [_offer(a, items, snaps, now) for a, items in acts]
        addresses = list(await cart.addresses(s, me.user_id)) if me else []
        waiting = await service.waiting_for(s, me.user_id, [o["act"].product_id for o in offers]) if me else set()
    with_offers = {o["act"].slot_id for o in offers}
    tabs = [sl for sl in slots if sl.id in with_offers] or slots
    chosen = slot_id if slot_id in {sl.id for sl in tabs} else _pick_slot(tabs, now)
    return render(request, "flashsale/list.html", {
        "tabs": [{"id": sl.id, "name": sl.name, "starts": sl.starts.strftime("%H:%M"),
                  "ends": sl.ends.strftime("%H:%M")} for sl in tabs],
        "chosen": chosen, "offers": [o for o in offers if o["act"].slot_id == chosen],
        "addresses": addresses, "waiting": waiting, "error": error, "notice": notice, "day": day.isoformat(),
        "tab": "home",
        "next": request.url.path,
    }, status_code=status)


@router.get("/flashsale")
async def flash_page(request: Request, db: DB, me: OptionalUser,
                     slot: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                     notice: Annotated[str | None, Query(max_length=20)] = None) -> Response:
    text = i18n.gettext("We will tell you when the next batch arrives.") if notice == "waitlist" and me else None
    refused = flash.take(request)
    resp = await _page(request, db, me, slot, notice=text, error=refused[1] if refused else None)
    return flash.forget(request, resp)


@router.post("/flashsale/{activity_id}/grab")
async def grab(request: Request, activity_id: PathId, db: DB, me: CurrentUser, sku_id: FormId, address_id: FormId,
               qty: FormQty = 1) -> Response:
    slot_id = None
    try:
        async with db.read() as s:
            act = await s.get(FlashActivity, activity_id)
            slot_id = act.slot_id if act else None
        r = await service.grab(db, gate.current(), me.user_id, activity_id, sku_id, qty, address_id)
    except DomainError as exc:  # sold out, limit reached, not open yet…: said on the page the fan was on
        return flash.back_with(request, f"/flashsale?slot={slot_id}" if slot_id else "/flashsale", exc)
    return RedirectResponse(f"/orders/{r.order_id}/pay", status_code=303)


@router.post("/flashsale/waitlist/{product_id}")
async def waitlist(request: Request, product_id: PathId, db: DB, me: CurrentUser,
                   slot: Annotated[int | None, Form(ge=1, le=MAX_ID)] = None) -> Response:
    async with db.write() as s:
        await service.join_waitlist(s, me.user_id, product_id)
    # Back to the slot's own address: a reload does not post again, and the page shows the fan is waiting.
    return RedirectResponse("/flashsale?" + (f"slot={slot}&" if slot else "") + "notice=waitlist", status_code=303)
