"""Operator console for flash sales (秒杀): the daily slots, the activities with their unit counts, a form to
create an activity (flash price and quota per SKU, limits, payment window) and a button that makes Redis
agree with the database. Rules and their refusals are flashsale.service's; this module parses forms.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from redis.exceptions import RedisError
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import Operator
from quanzi.catalog import service as catalog
from quanzi.catalog.picker import product_step
from quanzi.flashsale import gate, service
from quanzi.flashsale.errors import FlashNotFound
from quanzi.flashsale.schemas import ActivityIn
from quanzi.kit import i18n
from quanzi.kit.clock import clock
from quanzi.kit.console import (
    CHINA,
    Column,
    FieldError,
    Flag,
    Short,
    collect,
    page,
    parse_date,
    parse_int,
    parse_time,
    parse_yuan,
    redirect,
    refused,
    schema_backstop,
    sku_rows,
)
from quanzi.kit.db import Database
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError
from quanzi.kit.i18n import _
from quanzi.kit.schemas import MAX_ID

router = APIRouter(include_in_schema=False)

HOME = "/console/flashsale"
NEW = "/console/flashsale/new"
HISTORY_DAYS = 7  # the list shows coming and running activities plus the last week's


def _today() -> date:
    return clock.now().astimezone(CHINA).date()


# --- the list: slots and activities --------------------------------------------------------------

async def _home(request: Request, db: Database, *, slot_form: dict[str, str] | None = None,
                slot_errors: dict[str, str] | None = None, status_code: int = 200) -> Response:
    now = clock.now()
    async with db.read() as s:
        slots = await service.slots(s)
        rows = await service.console_summary(s, since=_today() - timedelta(days=HISTORY_DAYS))
        labels = await catalog.snapshots(s, [i.sku_id for r in rows for i in r.items])
    return page(request, "flashsale/console.html", {
        "active": "campaigns", "slots": slots,
        "rows": [{"r": r, "state": r.state(now), **r.numbers} for r in rows], "labels": labels,
        "slot_form": slot_form or {"name": "", "starts": "", "ends": ""}, "slot_errors": slot_errors or {},
        "redis": gate.current() is not None,
    }, status_code=status_code)


@router.get("/console/flashsale")
async def home(request: Request, db: DB, me: Operator) -> Response:
    return await _home(request, db)


@router.post("/console/flashsale/slots")
async def create_slot(request: Request, db: DB, me: Operator, name: Short = "", starts: Short = "",
                      ends: Short = "") -> Response:
    form = {"name": name, "starts": starts, "ends": ends}
    errors: dict[str, str] = {}
    name = name.strip()
    if not 1 <= len(name) <= 30:
        errors["name"] = _("Between 1 and 30 characters")
    times = {}
    for key in ("starts", "ends"):
        try:
            times[key] = parse_time(form[key])
        except FieldError as exc:
            errors[key] = str(exc)
    if errors:
        return await _home(request, db, slot_form=form, slot_errors=errors, status_code=422)
    try:
        async with db.write() as s:
            await service.create_slot(s, name, times["starts"], times["ends"])
    except DomainError as exc:
        return await _home(request, db, slot_form=form, status_code=exc.status,
                           slot_errors={"form": exc.text(i18n.short()), "code": str(exc.code)})
    msg = _("Slot “%(name)s” added: %(starts)s–%(ends)s every day (China time).")
    return redirect(request, HOME, msg % {"name": name, "starts": times["starts"].strftime("%H:%M"),
                                          "ends": times["ends"].strftime("%H:%M")})


@router.post("/console/flashsale/reconcile")
async def reconcile(request: Request, db: DB, me: Operator) -> Response:
    """Make Redis equal the database (the source of truth) for current and coming activities."""
    g = gate.current()
    if g is None:
        return redirect(request, HOME, _("Redis is not configured: the database alone decides every grab, "
                                         "so there is nothing to reconcile."), "info")
    try:
        counts = await service.reconcile(db, g)
    except RedisError:
        return refused(request, HOME, _("Redis did not answer; nothing was changed. Try again when it is back."))
    return redirect(request, HOME, _("Redis now agrees with the database for %(n)s SKUs.") % {"n": len(counts)})


# --- a new activity ------------------------------------------------------------------------------

def _blank(product: Any, skus: list[Any]) -> dict[str, Any]:
    return {"day": _today().isoformat(), "slot_id": "", "title": product.title[:60], "per_order_limit": "1",
            "per_user_limit": "1", "pay_minutes": "5", "commission_enabled": False,
            "rows": {k.id: {"price": "", "quota": ""} for k in skus}}


async def _slots(s: AsyncSession) -> dict[str, Any]:
    return {"slots": await service.slots(s)}


async def _form(request: Request, db: Database, product_id: int | None, q: str = "", **kw: Any) -> Response:
    """Step 1 without a product: pick one. Step 2: the activity form for its SKUs (and the daily slots)."""
    return await product_step(request, db, "flashsale/console_new.html", action=NEW, product_id=product_id, q=q,
                              blank=_blank, extra=_slots, **kw)


@router.get("/console/flashsale/new")
async def new_activity(request: Request, db: DB, me: Operator,
                       product: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                       q: Annotated[str, Query(max_length=40)] = "") -> Response:
    return await _form(request, db, product, q.strip())


@router.post("/console/flashsale/new")
async def create_activity(
    request: Request, db: DB, me: Operator,
    product: Short = "", day: Short = "", slot_id: Short = "", title: Short = "",
    per_order_limit: Short = "", per_user_limit: Short = "", pay_minutes: Short = "",
    commission_enabled: Flag = "",
    sku: Column = None, price: Column = None, quota: Column = None,
) -> Response:
    try:
        product_id = parse_int(product, low=1, high=MAX_ID)
    except FieldError:
        return refused(request, NEW, _("Choose the product first."))
    rows = sku_rows(sku, price=price, quota=quota)
    form: dict[str, Any] = {"day": day, "slot_id": slot_id, "title": title, "per_order_limit": per_order_limit,
                            "per_user_limit": per_user_limit, "pay_minutes": pay_minutes,
                            "commission_enabled": bool(commission_enabled), "rows": rows}
    errors: dict[str, str] = {}
    title = title.strip()
    if not 1 <= len(title) <= 60:
        errors["title"] = _("Between 1 and 60 characters")
    values: dict[str, Any] = {
        "day": collect(errors, "day", lambda: parse_date(day)),
        "slot_id": collect(errors, "slot_id", lambda: parse_int(slot_id, low=1, high=MAX_ID)),
        "per_order_limit": collect(errors, "per_order_limit", lambda: parse_int(per_order_limit, low=1, high=100)),
        "per_user_limit": collect(errors, "per_user_limit", lambda: parse_int(per_user_limit, low=1, high=100)),
        "pay_minutes": collect(errors, "pay_minutes", lambda: parse_int(pay_minutes, low=1, high=60)),
    }
    if "slot_id" in errors:
        errors["slot_id"] = _("Choose a slot")
    items: list[tuple[int, int, int]] = []
    for sku_id, row in rows.items():
        if not row["price"].strip() and not row["quota"].strip():
            continue  # this SKU is not in the flash sale
        p = collect(errors, f"sku-{sku_id}-price", lambda r=row: parse_yuan(r["price"], positive=True))
        n = collect(errors, f"sku-{sku_id}-quota", lambda r=row: parse_int(r["quota"], low=1, high=10**6))
        if p is not None and n is not None:
            items.append((sku_id, p, n))
    if not items and not any(k.startswith("sku-") for k in errors):
        errors["skus"] = _("Give at least one SKU a flash price and a quota")
    if not errors:
        schema_backstop(errors, ActivityIn, {
            **values, "title": title, "product_id": product_id, "commission_enabled": form["commission_enabled"],
            "items": [{"sku_id": k, "flash_price_fen": p, "quota": n} for k, p, n in items]})
    if errors:
        return await _form(request, db, product_id, form=form, errors=errors, status_code=422)
    try:
        async with db.write() as s:
            act = await service.create_activity(s, title=title, product_id=product_id, items=items,
                                                commission_enabled=form["commission_enabled"], **values)
            when = f"{act.day.isoformat()} {act.starts_at.astimezone(CHINA):%H:%M}–" \
                   f"{act.ends_at.astimezone(CHINA):%H:%M}"
    except DomainError as exc:
        errors = {"form": exc.text(i18n.short()), "code": str(exc.code)}
        if isinstance(exc, FlashNotFound):
            errors["slot_id"] = _("Choose a slot")
        field = exc.detail.get("field")
        if (sku_id := exc.detail.get("sku_id")) in rows:
            errors[f"sku-{sku_id}-{'price' if field == 'flash_price' else 'quota'}"] = exc.text(i18n.short())
        elif field in ("day", "per_order_limit"):
            errors[field] = exc.text(i18n.short())
        return await _form(request, db, product_id, form=form, errors=errors, status_code=exc.status)
    msg = _("Flash sale “%(title)s” scheduled for %(when)s.")
    return redirect(request, HOME, msg % {"title": title, "when": when})
