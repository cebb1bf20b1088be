"""Storefront after-sale pages: ask for a refund or return on an order line, follow it, ship goods back,
cancel. Who may ask for what, and when, is decided by aftersales.service (eligibility, quantities)."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import CurrentUser
from quanzi.accounts.service import Principal
from quanzi.aftersales import service
from quanzi.aftersales.models import OPEN_STATES, AfterSale
from quanzi.aftersales.schemas import AfterSaleIn, AfterSaleOut, ShipBackIn
from quanzi.kit import i18n
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError
from quanzi.kit.idempotency import check_key, run_once
from quanzi.kit.schemas import MAX_ID, PathId
from quanzi.kit.web import render
from quanzi.media import service as media
from quanzi.media.deps import MediaStorage, real_files, receive
from quanzi.orders import pages as order_pages
from quanzi.orders import service as orders
from quanzi.orders.errors import OrderNotFound
from quanzi.orders.models import Order, OrderLine

router = APIRouter(include_in_schema=False)

REASONS = ("changed_mind", "wrong_item", "quality", "not_as_described", "missing", "late", "other")
MAX_PHOTOS = media.LIMITS["aftersale"]
CARRIERS = ("顺丰速运", "中通快递", "圆通速递", "韵达快递", "申通快递", "京东物流", "中国邮政", "EMS")


def reason_names() -> dict[str, str]:
    _ = i18n.gettext
    return {"changed_mind": _("Changed my mind"), "wrong_item": _("Ordered the wrong item"),
            "quality": _("Quality problem"), "not_as_described": _("Not as described"),
            "missing": _("Missing or wrong parts"), "late": _("Not shipped in time"), "other": _("Other")}


def kind_names() -> dict[str, str]:
    _ = i18n.gettext
    return {"refund_only": _("Refund only"), "return_refund": _("Return and refund")}


def status_text(status: str) -> str:
    _ = i18n.gettext
    return {"requested": _("Waiting for the supplier"), "awaiting_return": _("Please send the goods back"),
            "returned": _("Sent back, waiting for the supplier"), "refunding": _("Refunding"),
            "refunded": _("Refunded"), "rejected": _("Rejected"),
            "cancelled": _("Cancelled")}.get(status, status)


def event_text(kind: str) -> str:
    _ = i18n.gettext
    return {"requested": _("You asked for an after-sale"), "approved": _("The supplier agreed"),
            "rejected": _("The supplier rejected the request"), "cancelled": _("You cancelled the request"),
            "returned": _("You sent the goods back"), "return_received": _("The supplier received the goods"),
            "refunded": _("Money refunded")}.get(kind, kind.replace("_", " "))


def steps(a: AfterSale) -> list[tuple[str, str]]:
    """The path of this request as (label, state) with state done | now | todo."""
    _ = i18n.gettext
    path = ([("requested", _("Request sent")), ("refunding", _("Refunding")), ("refunded", _("Refunded"))]
            if a.kind == "refund_only" else
            [("requested", _("Request sent")), ("awaiting_return", _("Send back")),
             ("returned", _("Sent back")), ("refunding", _("Refunding")), ("refunded", _("Refunded"))])
    keys = [k for k, _label in path]
    at = keys.index(a.status) if a.status in keys else -1
    return [(label, "done" if i < at or a.status == "refunded" else "now" if i == at else "todo")
            for i, (_k, label) in enumerate(path)]


async def _order_line(s: AsyncSession, buyer_id: int, order_id: int, line_id: int) -> tuple[Order, OrderLine]:
    order = await orders.order_for_buyer(s, order_id, buyer_id)
    line = next((x for x in (await orders.lines_of(s, [order.id]))[order.id] if x.id == line_id), None)
    if line is None:
        raise OrderNotFound()
    return order, line


async def _form_page(request: Request, db: Database, me: Principal, order_id: int, line_id: int, *,
                     error: str | None = None,
                     form: dict[str, Any] | None = None, status: int = 200) -> Response:
    async with db.read() as s:
        order, line = await _order_line(s, me.user_id, order_id, line_id)
        open_request = next((a for a in await service.of_order(s, order.id)
                             if a.line_id == line.id and a.status in OPEN_STATES), None)
    if open_request is not None:
        return RedirectResponse(f"/aftersales/{open_request.id}", status_code=303)
    blocked = None
    left = service.refundable_qty(line)
    try:
        service.eligibility(order, line, "refund_only", clock.now())
    except DomainError as exc:
        blocked = exc.text(i18n.short())
    if left <= 0:
        blocked = i18n.gettext("Fully refunded")
    kinds = kind_names()
    allowed = ["refund_only"] if order.status == "paid" else ["refund_only", "return_refund"]
    form = form or {}
    return render(request, "aftersales/form.html", {
        "order": order, "line": line, "left": left, "blocked": blocked, "error": error,
        "kinds": [(k, kinds[k]) for k in allowed], "reasons": list(reason_names().items()),
        "max_refund_fen": service.share_of(line, left) if left > 0 else 0,
        "with_shipping": order.status == "paid" and order.shipping_fen > 0,
        "form": {"kind": form.get("kind") or ("refund_only" if order.status == "paid" else "return_refund"),
                 "quantity": form.get("quantity") or left, "reason": form.get("reason", ""),
                 "details": form.get("details", "")},
        "idempotency_key": secrets.token_urlsafe(18), "tab": "orders", "max_photos": MAX_PHOTOS,
    }, status_code=status)


@router.get("/orders/{order_id}/aftersale")
async def request_form(request: Request, order_id: PathId, me: CurrentUser, db: DB,
                       line_id: Annotated[int, Query(ge=1, le=MAX_ID)]) -> Response:
    return await _form_page(request, db, me, order_id, line_id)


@router.post("/orders/{order_id}/aftersale")
async def request_submit(request: Request, order_id: PathId, me: CurrentUser, db: DB,
                         line_id: Annotated[int, Form(ge=1, le=MAX_ID)],
                         kind: Annotated[str, Form(max_length=20)],
                         quantity: Annotated[int, Form(ge=1, le=9999)],
                         reason: Annotated[str, Form(max_length=30)],
                         idempotency_key: Annotated[str, Form(min_length=1, max_length=120)],
                         storage: MediaStorage,
                         details: Annotated[str, Form(max_length=150)] = "",
                         photos: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    form = {"kind": kind, "quantity": quantity, "reason": reason, "details": details}
    label = reason_names().get(reason)
    if label is None:
        return await _form_page(request, db, me, order_id, line_id, form=form, status=422,
                                error=i18n.gettext("Please choose a reason."))
    sep = "：" if i18n.short() == "zh" else ": "
    text = f"{label}{sep}{details.strip()}" if details.strip() else label
    try:
        body = AfterSaleIn(order_id=order_id, line_id=line_id, kind=kind, quantity=quantity,
                           reason=text[:200])
    except ValidationError:
        return await _form_page(request, db, me, order_id, line_id, form=form, status=422,
                                error=i18n.gettext("Please check the form."))
    key = check_key(idempotency_key)
    try:
        async with db.read() as s:  # refuse before any photo is stored
            order, line = await _order_line(s, me.user_id, order_id, line_id)
            service.eligibility(order, line, body.kind, clock.now())
        items = await receive(request, me.user_id, real_files(photos), max_files=MAX_PHOTOS)
        async with db.write() as s:
            async def run() -> tuple[int, object]:
                a = await service.request(s, me.user_id, body.order_id, body.line_id, body.kind,
                                          body.quantity, body.reason, photos=items, storage=storage)
                return 201, AfterSaleOut.model_validate(a).model_dump(mode="json")

            # The same scope as POST /api/aftersales.
            scope = f"aftersales.request:{me.user_id}"
            _status, payload = await run_once(s, scope, key, body.model_dump(), run)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return await _form_page(request, db, me, order_id, line_id, form=form, error=exc.text(i18n.short()),
                                status=exc.status)
    return RedirectResponse(f"/aftersales/{payload['id']}", status_code=303)


@router.get("/aftersales")
async def my_aftersales(request: Request, me: CurrentUser, db: DB) -> Response:
    from quanzi.orders.pages import tab_links, tab_names  # late: orders.pages imports this module

    async with db.read() as s:
        items = await service.list_for_buyer(s, me.user_id)
        lines = await orders.lines_of(s, list({a.order_id for a in items}))
    line_by_id = {x.id: x for ls in lines.values() for x in ls}
    return render(request, "aftersales/list.html", {
        "items": items, "lines": line_by_id, "status_text": status_text, "kinds": kind_names(),
        "tabs": tab_names(), "tab_links": tab_links(), "current": "aftersale", "badge": {}, "tab": "orders",
    })


async def _detail(request: Request, db: Database, me: Principal, aftersale_id: int, *,
                  error: str | None = None,
                  form: dict[str, str] | None = None, status: int = 200) -> Response:
    async with db.read() as s:
        a = await service.for_buyer(s, aftersale_id, me.user_id)
        order = await orders.order_for_buyer(s, a.order_id, me.user_id)
        line = next(x for x in (await orders.lines_of(s, [a.order_id]))[a.order_id] if x.id == a.line_id)
        events = await service.events(s, a.id)
        photos = (await service.photos_of(s, [a.id]))[a.id]
    return render(request, "aftersales/detail.html", {
        "photos": photos,
        "a": a, "order": order, "line": line, "status_text": status_text(a.status),
        "kind_text": kind_names().get(a.kind, a.kind),
        "steps": steps(a),
        "timeline": [(e, event_text(e.kind)) for e in reversed(events)],
        "can_cancel": "cancelled" in service.TRANSITIONS.get(a.status, set()),
        "carriers": CARRIERS, "error": error, "form": form or {}, "tab": "orders",
    }, status_code=status)


@router.get("/aftersales/{aftersale_id}")
async def detail(request: Request, aftersale_id: PathId, me: CurrentUser, db: DB) -> Response:
    return await _detail(request, db, me, aftersale_id)


@router.post("/aftersales/{aftersale_id}/cancel")
async def cancel(aftersale_id: PathId, me: CurrentUser, db: DB) -> Response:
    async with db.write() as s:
        await service.cancel(s, await service.for_buyer(s, aftersale_id, me.user_id), me.user_id)
    return RedirectResponse(f"/aftersales/{aftersale_id}", status_code=303)


@router.post("/aftersales/{aftersale_id}/ship-back")
async def ship_back(request: Request, aftersale_id: PathId, me: CurrentUser, db: DB,
                    carrier: Annotated[str, Form(max_length=60)] = "",
                    tracking_no: Annotated[str, Form(max_length=80)] = "") -> Response:
    form = {"carrier": carrier, "tracking_no": tracking_no}
    try:
        body = ShipBackIn(carrier=carrier, tracking_no=tracking_no)
    except ValidationError:
        return await _detail(request, db, me, aftersale_id, form=form, status=422, error=i18n.gettext(
            "Enter the carrier and a tracking number (letters, digits and dashes)."))
    async with db.write() as s:
        a = await service.for_buyer(s, aftersale_id, me.user_id)
        await service.ship_back(s, a, me.user_id, body.carrier, body.tracking_no)
    return RedirectResponse(f"/aftersales/{aftersale_id}", status_code=303)


# --- the after-sale panel of the buyer's order page (orders/pages.py runs it) ---------------------

def _line_aftersale(order: Order, line: OrderLine, open_by_line: dict[int, AfterSale], now: datetime,
                    ) -> dict[str, Any]:
    """What the detail page offers for one line: the open request, a button, or the reason why not."""
    if line.id in open_by_line:
        return {"open": open_by_line[line.id]}
    if order.status not in {"paid", "shipped", "received", "completed"}:
        return {}
    if service.refundable_qty(line) <= 0:
        return {"blocked": i18n.gettext("Fully refunded")}
    if order.status == "completed":
        return {"blocked": i18n.gettext("The after-sale period has ended")}
    try:
        service.eligibility(order, line, "refund_only", now)
    except DomainError as exc:
        return {"blocked": exc.text(i18n.short())}
    return {"can": True}


@order_pages.detail_panel
async def _order_panel(s: AsyncSession, order: Order, lines: list[OrderLine]) -> dict[str, Any]:
    requests = await service.of_order(s, order.id)
    open_by_line = {a.line_id: a for a in requests if a.status in OPEN_STATES}
    now = clock.now()
    return {"aftersale": {line.id: _line_aftersale(order, line, open_by_line, now) for line in lines},
            "requests": requests, "aftersale_status": status_text}
