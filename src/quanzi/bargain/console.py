"""Operator console for bargains (砍价): the activities with how their launches went, the feature switch, and a
form with every term of an activity (prices, helpers, how cuts are made, per-person caps, time windows).
Rules and their refusals are bargain.service's; this module parses forms.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import Response

from quanzi.accounts.deps import Operator
from quanzi.bargain import service
from quanzi.bargain.api import ActivityIn
from quanzi.catalog import service as catalog
from quanzi.catalog.picker import product_step
from quanzi.kit import i18n
from quanzi.kit.clock import clock
from quanzi.kit.console import (
    FieldError,
    Flag,
    Short,
    collect,
    datetime_input,
    page,
    parse_int,
    parse_local_datetime,
    parse_yuan,
    redirect,
    refused,
    schema_backstop,
    yuan_input,
)
from quanzi.kit.db import Database
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError
from quanzi.kit.i18n import _
from quanzi.kit.schemas import MAX_ID

router = APIRouter(include_in_schema=False)

HOME = "/console/bargain"
NEW = "/console/bargain/new"


MONEY = ("start_price", "floor_price", "cut_min", "cut_max", "first_cut")  # typed in yuan, stored as *_fen
WHOLE = {"helpers_needed": (1, 100), "helps_per_user": (1, 100), "launches_per_user": (1, 100),
         "launch_hours": (1, 720), "pay_hours": (1, 720)}
FLAGS = ("allow_buy_above_floor", "commission_enabled")


def _key(field: str) -> str:
    """A service or schema field name as the form's: floor_price_fen -> floor_price."""
    return field.removesuffix("_fen")


# --- the list and the switch ---------------------------------------------------------------------

@router.get("/console/bargain")
async def home(request: Request, db: DB, me: Operator) -> Response:
    now = clock.now()
    async with db.read() as s:
        rows = await service.console_summary(s)
        enabled = await service.is_enabled(s)
        labels = await catalog.snapshots(s, [r.activity.sku_id for r in rows])
    return page(request, "bargain/console.html", {
        "active": "campaigns", "enabled": enabled, "labels": labels,
        "rows": [{"r": r, "state": r.state(now)} for r in rows],
    })


@router.post("/console/bargain/switch")
async def switch(request: Request, db: DB, me: Operator,
                 enabled: Annotated[str, Form(pattern=r"^(on|off)$")]) -> Response:
    async with db.write() as s:
        await service.set_enabled(s, enabled == "on", me.user_id)
    if enabled == "on":
        return redirect(request, HOME, _("Bargains are switched on: fans can launch and help again."))
    return redirect(request, HOME, _("Bargains are switched off: launching, helping and buying are closed until "
                                     "you switch them on again."), "warn")


# --- a new activity ------------------------------------------------------------------------------

def _blank(product: Any, skus: list[Any]) -> dict[str, Any]:
    now = clock.now()
    first = skus[0] if skus else None
    return {"title": product.title[:60], "sku_id": str(first.id) if first else "",
            "start_price": yuan_input(first.price_fen) if first else "", "floor_price": "", "helpers_needed": "3",
            "cut_mode": "random", "cut_min": "", "cut_max": "", "first_cut": "0", "helps_per_user": "1",
            "launches_per_user": "1", "launch_hours": "24", "pay_hours": "24", "allow_buy_above_floor": False,
            "commission_enabled": False, "starts_at": datetime_input(now),
            "ends_at": datetime_input(now + timedelta(days=7))}


async def _form(request: Request, db: Database, product_id: int | None, q: str = "", **kw: Any) -> Response:
    """Step 1 without a product: pick one. Step 2: the activity form for one of its SKUs."""
    return await product_step(request, db, "bargain/console_new.html", action=NEW, product_id=product_id, q=q,
                              blank=_blank, **kw)


@router.get("/console/bargain/new")
async def new_activity(request: Request, db: DB, me: Operator,
                       product: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                       q: Annotated[str, Query(max_length=40)] = "") -> Response:
    return await _form(request, db, product, q.strip())


@router.post("/console/bargain/new")
async def create_activity(
    request: Request, db: DB, me: Operator,
    product: Short = "", title: Short = "", sku_id: Short = "",
    start_price: Short = "", floor_price: Short = "", helpers_needed: Short = "",
    cut_mode: Short = "", cut_min: Short = "", cut_max: Short = "", first_cut: Short = "",
    helps_per_user: Short = "", launches_per_user: Short = "", launch_hours: Short = "", pay_hours: Short = "",
    allow_buy_above_floor: Flag = "", commission_enabled: Flag = "",
    starts_at: Short = "", ends_at: Short = "",
) -> Response:
    try:
        product_id = parse_int(product, low=1, high=MAX_ID)
    except FieldError:
        return refused(request, NEW, _("Choose the product first."))
    form: dict[str, Any] = {
        "title": title, "sku_id": sku_id, "start_price": start_price, "floor_price": floor_price,
        "helpers_needed": helpers_needed, "cut_mode": cut_mode, "cut_min": cut_min, "cut_max": cut_max,
        "first_cut": first_cut, "helps_per_user": helps_per_user, "launches_per_user": launches_per_user,
        "launch_hours": launch_hours, "pay_hours": pay_hours, "allow_buy_above_floor": bool(allow_buy_above_floor),
        "commission_enabled": bool(commission_enabled), "starts_at": starts_at, "ends_at": ends_at,
    }
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"title": title.strip(), "product_id": product_id,
                              **{f: form[f] for f in FLAGS}}
    if not 1 <= len(values["title"]) <= 60:
        errors["title"] = _("Between 1 and 60 characters")
    if cut_mode not in ("random", "fixed"):
        errors["cut_mode"] = _("Choose how the cuts are made")
    values["cut_mode"] = cut_mode
    if cut_mode == "fixed" and not cut_max.strip():
        form["cut_max"] = cut_max = cut_min  # a fixed cut has one amount
    values["sku_id"] = collect(errors, "sku_id", lambda: parse_int(sku_id, low=1, high=MAX_ID))
    if "sku_id" in errors:
        errors["sku_id"] = _("Choose a SKU")
    for key in MONEY:
        values[f"{key}_fen"] = collect(errors, key,
                                       lambda k=key: parse_yuan(form[k], positive=k != "first_cut"))
    for key, (low, high) in WHOLE.items():
        values[key] = collect(errors, key, lambda k=key, lo=low, hi=high: parse_int(form[k], low=lo, high=hi))
    for key in ("starts_at", "ends_at"):
        values[key] = collect(errors, key, lambda k=key: parse_local_datetime(form[k]))
    if not errors:
        schema_backstop(errors, ActivityIn, values, _key)
    if errors:
        return await _form(request, db, product_id, form=form, errors=errors, status_code=422)
    try:
        async with db.write() as s:
            await service.create_activity(s, **values)
    except DomainError as exc:
        errors = {"form": exc.text(i18n.short()), "code": str(exc.code)}
        if field := exc.detail.get("field"):
            errors[_key(str(field))] = exc.text(i18n.short())
        elif "sku_id" in exc.detail:
            errors["sku_id"] = exc.text(i18n.short())
        return await _form(request, db, product_id, form=form, errors=errors, status_code=exc.status)
    return redirect(request, HOME, _("Bargain “%(title)s” created.") % {"title": values["title"]})
