"""Operator console for group buys (拼团): the activities with their groups (open, succeeded, failed, completed by
the platform), members, units and refunds; and a form with every term of an activity. Rules, refusals and
the audit record are groupbuy.service's; this module parses forms.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from quanzi.accounts.deps import Operator
from quanzi.catalog import service as catalog
from quanzi.catalog.picker import product_step
from quanzi.groupbuy import service
from quanzi.groupbuy.schemas import ActivityIn
from quanzi.kit import i18n
from quanzi.kit.clock import clock
from quanzi.kit.console import (
    Column,
    FieldError,
    Flag,
    Short,
    collect,
    datetime_input,
    page,
    parse_int,
    parse_local_datetime,
    parse_percent,
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

HOME = "/console/groupbuy"
NEW = "/console/groupbuy/new"


# Schema field → form field, where they differ.
FORM_NAMES = {"leader_discount_fen": "leader_discount", "leader_commission_bp": "leader_commission",
              "complete_ratio_bp": "complete_ratio"}
WHOLE = {"group_size": (2, 100), "time_limit_minutes": (5, 7 * 24 * 60), "per_order_limit": (1, 100),
         "per_user_limit": (1, 100), "pay_minutes": (1, 60)}


# --- the list ------------------------------------------------------------------------------------

@router.get("/console/groupbuy")
async def home(request: Request, db: DB, me: Operator) -> Response:
    now = clock.now()
    async with db.read() as s:
        rows = await service.console_summary(s)
        labels = await catalog.snapshots(s, [k.sku_id for r in rows for k in r.skus])
    return page(request, "groupbuy/console.html", {
        "active": "campaigns", "labels": labels,
        "rows": [{"r": r, "state": r.state(now), **r.numbers} for r in rows],
    })


def _leader_commission(raw: str) -> int:
    bp = parse_percent(raw or "0")
    if bp > 3000:
        raise FieldError(_("At most 30 %"))
    return bp


# --- a new activity ------------------------------------------------------------------------------

def _blank(product: Any, skus: list[Any]) -> dict[str, Any]:
    now = clock.now()
    return {"title": product.title[:60], "group_size": "3", "time_limit_minutes": "1440", "per_order_limit": "1",
            "per_user_limit": "1", "pay_minutes": "15", "leader_discount": "0", "leader_commission": "0",
            "commission_enabled": False, "complete_ratio": "", "starts_at": datetime_input(now),
            "ends_at": datetime_input(now + timedelta(days=7)), "rows": {k.id: {"price": ""} for k in skus}}


async def _form(request: Request, db: Database, product_id: int | None, q: str = "", **kw: Any) -> Response:
    """Step 1 without a product: pick one. Step 2: the activity form with a group price per SKU."""
    return await product_step(request, db, "groupbuy/console_new.html", action=NEW, product_id=product_id, q=q,
                              blank=_blank, **kw)


@router.get("/console/groupbuy/new")
async def new_activity(request: Request, db: DB, me: Operator,
                       product: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
                       q: Annotated[str, Query(max_length=40)] = "") -> Response:
    return await _form(request, db, product, q.strip())


@router.post("/console/groupbuy/new")
async def create_activity(
    request: Request, db: DB, me: Operator,
    product: Short = "", title: Short = "", group_size: Short = "", time_limit_minutes: Short = "",
    per_order_limit: Short = "", per_user_limit: Short = "", pay_minutes: Short = "",
    leader_discount: Short = "", leader_commission: Short = "", commission_enabled: Flag = "",
    complete_ratio: Short = "", starts_at: Short = "", ends_at: Short = "",
    sku: Column = None, price: Column = None,
) -> Response:
    try:
        product_id = parse_int(product, low=1, high=MAX_ID)
    except FieldError:
        return refused(request, NEW, _("Choose the product first."))
    rows = sku_rows(sku, price=price)
    form: dict[str, Any] = {
        "title": title, "group_size": group_size, "time_limit_minutes": time_limit_minutes,
        "per_order_limit": per_order_limit, "per_user_limit": per_user_limit, "pay_minutes": pay_minutes,
        "leader_discount": leader_discount, "leader_commission": leader_commission,
        "commission_enabled": bool(commission_enabled), "complete_ratio": complete_ratio,
        "starts_at": starts_at, "ends_at": ends_at, "rows": rows,
    }
    errors: dict[str, str] = {}
    values: dict[str, Any] = {"title": title.strip(), "product_id": product_id,
                              "commission_enabled": form["commission_enabled"]}
    if not 1 <= len(values["title"]) <= 60:
        errors["title"] = _("Between 1 and 60 characters")
    for key, (low, high) in WHOLE.items():
        values[key] = collect(errors, key, lambda k=key, lo=low, hi=high: parse_int(form[k], low=lo, high=hi))
    for key in ("starts_at", "ends_at"):
        values[key] = collect(errors, key, lambda k=key: parse_local_datetime(form[k]))
    values["leader_discount_fen"] = collect(errors, "leader_discount",
                                            lambda: parse_yuan(leader_discount or "0"))
    values["leader_commission_bp"] = collect(errors, "leader_commission",
                                             lambda: _leader_commission(leader_commission))
    values["complete_ratio_bp"] = None
    if complete_ratio.strip():  # empty: an expired group always fails
        values["complete_ratio_bp"] = collect(errors, "complete_ratio", lambda: parse_percent(complete_ratio))
    skus: list[tuple[int, int]] = []
    for sku_id, row in rows.items():
        if not row["price"].strip():
            continue  # this SKU is not in the group buy
        p = collect(errors, f"sku-{sku_id}-price", lambda r=row: parse_yuan(r["price"], positive=True))
        if p is not None:
            skus.append((sku_id, p))
    if not skus and not any(k.startswith("sku-") for k in errors):
        errors["skus"] = _("Give at least one SKU a group price")
    if not errors:
        probe = {**values, "skus": [{"sku_id": k, "group_price_fen": p} for k, p in skus]}
        if probe["complete_ratio_bp"] is None:
            del probe["complete_ratio_bp"]
        schema_backstop(errors, ActivityIn, probe, lambda key: FORM_NAMES.get(key, key))
    if errors:
        return await _form(request, db, product_id, form=form, errors=errors, status_code=422)
    try:
        async with db.write() as s:
            await service.create_activity(s, skus=skus, actor_id=me.user_id, **values)
    except DomainError as exc:
        errors = {"form": exc.text(i18n.short()), "code": str(exc.code)}
        if (sku_id := exc.detail.get("sku_id")) in rows:
            errors[f"sku-{sku_id}-price"] = exc.text(i18n.short())
        return await _form(request, db, product_id, form=form, errors=errors, status_code=exc.status)
    return redirect(request, HOME, _("Group buy “%(title)s” created.") % {"title": values["title"]})
