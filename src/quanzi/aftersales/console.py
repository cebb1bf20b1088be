"""Supplier console page for after-sales: decide open requests (approve / reject with a reason), confirm
returned goods arrived; closed requests below. Operators see every supplier's requests."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import Supplier
from quanzi.aftersales import service
from quanzi.aftersales.models import OPEN_STATES, AfterSale
from quanzi.catalog.console import acting_scope, supplier_scope
from quanzi.kit.console import page, redirect, refused
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError
from quanzi.kit.i18n import _
from quanzi.kit.schemas import PathId
from quanzi.orders.models import Order, OrderLine

router = APIRouter(include_in_schema=False)

AFTERSALES = "/console/aftersales"
CLOSED_SHOWN = 50


async def _closed(s: AsyncSession, supplier_id: int | None) -> list[AfterSale]:
    """The most recently closed requests (console read query; the service lists open ones)."""
    stmt = (select(AfterSale).where(AfterSale.status.not_in(OPEN_STATES))
            .order_by(AfterSale.closed_at.desc(), AfterSale.id.desc()).limit(CLOSED_SHOWN))
    if supplier_id is not None:
        stmt = stmt.where(AfterSale.supplier_id == supplier_id)
    return list((await s.execute(stmt)).scalars())


async def _orders_and_lines(s: AsyncSession, items: list[AfterSale],
                            ) -> tuple[dict[int, Order], dict[int, OrderLine]]:
    if not items:
        return {}, {}
    orders = (await s.execute(select(Order).where(Order.id.in_({a.order_id for a in items})))).scalars()
    lines = (await s.execute(select(OrderLine).where(OrderLine.id.in_({a.line_id for a in items})))).scalars()
    return {o.id: o for o in orders}, {x.id: x for x in lines}


@router.get("/console/aftersales")
async def aftersales(request: Request, db: DB, me: Supplier) -> Response:
    async with db.read() as s:
        scope = await supplier_scope(s, me)
        open_items: list[AfterSale] = []
        closed: list[AfterSale] = []
        if not scope.missing_profile:
            open_items = await service.list_for_decider(s, scope.supplier_id, open_only=True)
            closed = await _closed(s, scope.supplier_id)
        orders, lines = await _orders_and_lines(s, open_items + closed)
        photos = await service.photos_of(s, [a.id for a in open_items])
    return page(request, "console/aftersales.html", {
        "photos": photos,
        "active": "aftersales", "scope": scope, "open_items": open_items, "closed": closed, "orders": orders,
        "lines": lines,
    })


async def _decide(request: Request, db: Any, me: Any, aftersale_id: int, action: str,
                  reason: str = "") -> Response:
    anchor = f"{AFTERSALES}#as-{aftersale_id}"
    try:
        async with db.write() as s:
            a = await service.for_decider(s, aftersale_id, await acting_scope(s, me))
            if action == "approve":
                await service.approve(s, a, me.user_id)
            elif action == "reject":
                await service.reject(s, a, me.user_id, reason)
            else:
                await service.receive_return(s, a, me.user_id)
            kind, status = a.kind, a.status
    except DomainError as exc:
        if exc.status == 404:
            raise
        return refused(request, anchor, exc)
    if action == "reject":
        msg = _("Request #%(id)s rejected. The buyer sees your reason.")
    elif action == "receive":
        msg = _("Return of request #%(id)s received: stock is back and the refund is on its way.")
    elif kind == "refund_only" or status == "refunding":
        msg = _("Request #%(id)s approved: the refund is on its way to the buyer.")
    else:
        msg = _("Request #%(id)s approved: the buyer can now send the goods back.")
    return redirect(request, anchor, msg % {"id": aftersale_id})


@router.post("/console/aftersales/{aftersale_id}/approve")
async def approve(request: Request, aftersale_id: PathId, db: DB, me: Supplier) -> Response:
    return await _decide(request, db, me, aftersale_id, "approve")


@router.post("/console/aftersales/{aftersale_id}/reject")
async def reject(request: Request, aftersale_id: PathId, db: DB, me: Supplier,
                 reason: Annotated[str, Form(max_length=2000)] = "") -> Response:
    reason = reason.strip()
    if not reason:
        return refused(request, f"{AFTERSALES}#as-{aftersale_id}",
                       _("Not rejected: give the buyer a reason for the rejection."))
    if len(reason) > 200:
        return refused(request, f"{AFTERSALES}#as-{aftersale_id}",
                       _("Not rejected: the reason can be at most 200 characters."))
    return await _decide(request, db, me, aftersale_id, "reject", reason)


@router.post("/console/aftersales/{aftersale_id}/receive")
async def receive_return(request: Request, aftersale_id: PathId, db: DB, me: Supplier) -> Response:
    return await _decide(request, db, me, aftersale_id, "receive")
