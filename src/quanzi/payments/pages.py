"""Paying from the storefront: choose a method for a checkout (all its orders in one payment) or for a single
order, and the sandbox cashier page.

The sandbox's payment intent points the buyer at GET /pay/sandbox/{out_trade_no}; confirming there
makes the sandbox send its signed notification through the same verification as a real provider.
"""

from __future__ import annotations

from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import CurrentUser
from quanzi.kit import i18n
from quanzi.accounts.service import Principal
from quanzi.kit.db import Database
from quanzi.kit.deps import DB
from quanzi.kit.errors import NotFound
from quanzi.kit.schemas import PathId
from quanzi.kit.web import render
from quanzi.orders import service as orders
from quanzi.orders.pages import paid_landing, unpaid_siblings
from quanzi.payments import registry, service
from quanzi.payments.api import sandbox_pay
from quanzi.payments.models import Payment

router = APIRouter(include_in_schema=False)
log = structlog.get_logger("quanzi.payments.pages")

DESCRIPTION = "圈子订单"


def provider_names() -> dict[str, str]:
    _ = i18n.gettext
    return {"sandbox": _("Sandbox payment (test)"), "wechatpay": _("WeChat Pay"), "alipay": _("Alipay")}


async def _payment(s: AsyncSession, out_trade_no: str) -> Payment:
    stmt = select(Payment).where(Payment.out_trade_no == out_trade_no)
    payment = (await s.execute(stmt)).scalar_one_or_none()
    if payment is None:
        raise NotFound()
    return payment


async def _pay_page(request: Request, db: Database, me: Principal, order_id: int, error: str | None = None,
                    status: int = 200) -> Response:
    async with db.read() as s:
        order = await orders.order_for_buyer(s, order_id, me.user_id)
        if order.status != "pending_payment":
            return RedirectResponse(f"/orders/{order.id}", status_code=303)
        lines = (await orders.lines_of(s, [order.id]))[order.id]
        siblings = await unpaid_siblings(s, order)
    if siblings:  # one payment for every unpaid order of the checkout
        return RedirectResponse(f"/checkouts/{order.checkout_id}/pay", status_code=303)
    names = provider_names()
    methods = [(n, names.get(n, n)) for n in registry.names()]
    return render(request, "payments/choose.html", {
        "order": order, "lines": lines, "methods": methods, "siblings": siblings, "error": error,
        "action_bar": True,
    }, status_code=status)


@router.get("/orders/{order_id}/pay")
async def choose(request: Request, order_id: PathId, me: CurrentUser, db: DB) -> Response:
    return await _pay_page(request, db, me, order_id)


@router.post("/orders/{order_id}/pay")
async def start(request: Request, order_id: PathId, me: CurrentUser, db: DB,
                provider: Annotated[str, Form(min_length=1, max_length=20)] = "sandbox") -> Response:
    intent = await service.start_payment(db, order_id, me.user_id, provider, DESCRIPTION)
    url = intent.client_params.get("pay_url") or intent.client_params.get("h5_url")
    if not url:  # e.g. WeChat Pay's Native QR code or JSAPI: needs the WeChat app, not this page
        return await _pay_page(request, db, me, order_id, status=409, error=i18n.gettext(
            "This payment method cannot be used in this browser. Please choose another one."))
    return RedirectResponse(url, status_code=303)


async def _checkout_pay_page(request: Request, db: Database, me: Principal, checkout_id: int,
                             error: str | None = None, status: int = 200) -> Response:
    async with db.read() as s:
        checkout = await orders.checkout_for_buyer(s, checkout_id, me.user_id)
        all_orders = await orders.orders_of_checkout(s, checkout.id)
        due = [o for o in all_orders if o.status == "pending_payment"]
        if not due:
            return RedirectResponse(f"/checkouts/{checkout.id}", status_code=303)
        lines = await orders.lines_of(s, [o.id for o in due])
    names = provider_names()
    methods = [(n, names.get(n, n)) for n in registry.names()]
    return render(request, "payments/checkout_pay.html", {
        "checkout": checkout, "due": due, "lines": lines, "methods": methods, "error": error,
        "amount_fen": sum(o.total_fen for o in due), "deadline": min(o.pay_deadline for o in due),
        "action_bar": True,
    }, status_code=status)


@router.get("/checkouts/{checkout_id}/pay")
async def choose_for_checkout(request: Request, checkout_id: PathId, me: CurrentUser, db: DB) -> Response:
    return await _checkout_pay_page(request, db, me, checkout_id)


@router.post("/checkouts/{checkout_id}/pay")
async def start_for_checkout(request: Request, checkout_id: PathId, me: CurrentUser, db: DB,
                             provider: Annotated[str, Form(min_length=1, max_length=20)] = "sandbox") -> Response:
    intent = await service.start_checkout_payment(db, checkout_id, me.user_id, provider, DESCRIPTION)
    url = intent.client_params.get("pay_url") or intent.client_params.get("h5_url")
    if not url:
        return await _checkout_pay_page(request, db, me, checkout_id, status=409, error=i18n.gettext(
            "This payment method cannot be used in this browser. Please choose another one."))
    return RedirectResponse(url, status_code=303)


TradeNo = Annotated[str, Path(min_length=1, max_length=40)]


async def _combined_cashier(request: Request, db: Database, me: Principal, out_trade_no: str) -> Response | None:
    """The sandbox cashier for a whole checkout (one press pays every order), or None if not one."""
    async with db.read() as s:
        cp = await service.checkout_payment(s, out_trade_no)
        if cp is None:
            return None
        checkout = await orders.checkout_for_buyer(s, cp.checkout_id, me.user_id)  # 404 for someone else's
        shares = await orders.orders_of_checkout(s, checkout.id)
    if cp.provider != "sandbox":
        raise NotFound()
    if cp.status == "succeeded":
        return RedirectResponse(f"/checkouts/{checkout.id}?notice=paid", status_code=303)
    due = [o for o in shares if o.status == "pending_payment"]
    return render(request, "payments/sandbox.html", {
        "payment": cp, "checkout": checkout, "orders": due,
        "payable": cp.status == "created" and bool(due),
        "deadline": min((o.pay_deadline for o in due), default=None), "back": f"/checkouts/{checkout.id}",
        "action_bar": True,
    })


@router.get("/pay/sandbox/{out_trade_no}")
async def sandbox_cashier(request: Request, out_trade_no: TradeNo, me: CurrentUser, db: DB) -> Response:
    combined = await _combined_cashier(request, db, me, out_trade_no)
    if combined is not None:
        return combined
    async with db.read() as s:
        payment = await _payment(s, out_trade_no)
        order = await orders.order_for_buyer(s, payment.order_id, me.user_id)  # 404 for someone else's
    if payment.provider != "sandbox":
        raise NotFound()
    if payment.status == "succeeded":
        return RedirectResponse(paid_landing(order), status_code=303)
    return render(request, "payments/sandbox.html", {
        "payment": payment, "order": order, "orders": [order],
        "payable": order.status == "pending_payment" and payment.status == "created",
        "deadline": order.pay_deadline, "back": f"/orders/{order.id}",
        "action_bar": True,
    })


@router.post("/pay/sandbox/{out_trade_no}")
async def sandbox_confirm(out_trade_no: TradeNo, me: CurrentUser, db: DB) -> Response:
    outcome = await sandbox_pay(db, me.user_id, out_trade_no)
    async with db.read() as s:
        cp = await service.checkout_payment(s, out_trade_no)
        if cp is not None:
            paid_orders = [o for o in await orders.orders_of_checkout(s, cp.checkout_id) if o.paid_at is not None]
    if cp is not None:
        log.info("storefront.sandbox_paid", checkout_id=cp.checkout_id, outcome=outcome)
        notice = "paid" if outcome in {"paid", "duplicate"} and paid_orders else "late"
        return RedirectResponse(f"/checkouts/{cp.checkout_id}?notice={notice}", status_code=303)
    async with db.read() as s:
        order = await orders.get_order(s, (await _payment(s, out_trade_no)).order_id)
        paid = order.paid_at is not None  # "paid" now, or already by an earlier press ("duplicate")
        siblings = await unpaid_siblings(s, order) if paid else []
    if siblings:  # a split checkout: go on with the next order that still waits for payment
        return RedirectResponse(f"/orders/{siblings[0].id}/pay", status_code=303)
    log.info("storefront.sandbox_paid", order_id=order.id, outcome=outcome)
    return RedirectResponse(paid_landing(order) if paid else f"/orders/{order.id}?notice=late", status_code=303)
