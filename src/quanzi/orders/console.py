"""Console pages about orders: a shop's orders and supplier fulfilment (with the waybill CSV export and the
tracking-number CSV import), and the order numbers the console overview (web/console.py) shows.

Read queries that no service offered yet live here (and are listed in the report): counts and the
daily paid amounts for the dashboard, and buyers' phone numbers for masking.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts import service as accounts
from quanzi.accounts.deps import Shopkeeper, Supplier
from quanzi.catalog.console import acting_scope, supplier_scope
from quanzi.kit import i18n
from quanzi.kit.clock import clock
from quanzi.kit.console import CHINA, describe, page, redirect, refused
from quanzi.kit.days import china_day
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError
from quanzi.kit.i18n import _
from quanzi.kit.schemas import PathId
from quanzi.orders import service, waybills
from quanzi.orders.models import Order
from quanzi.orders.schemas import ShipIn
from quanzi.orders.waybills import CARRIERS
from quanzi.shops import service as shops

router = APIRouter(include_in_schema=False)

FULFILMENT = "/console/fulfilment"
EXPORT_DAYS = 30  # the export form's default range
EXPORT_MAX_ROWS = 5000
EXPORT_STATUSES = ("to_ship", "shipped")
CHART_DAYS = 14
PAGE_SIZE = 30


def _carrier_names() -> list[tuple[str, str]]:
    names = {"顺丰速运": _("SF Express"), "京东物流": _("JD Logistics"), "中通快递": _("ZTO Express"),
             "圆通速递": _("YTO Express"), "韵达快递": _("Yunda Express"), "申通快递": _("STO Express"),
             "极兔速递": _("J&T Express"), "EMS": _("EMS"), "邮政快递包裹": _("China Post parcel"),
             "德邦快递": _("Deppon Express")}
    return [(c, names[c]) for c in CARRIERS]


def clock_today() -> date:
    return clock.now().astimezone(CHINA).date()


# --- dashboard ---------------------------------------------------------------------------------------

def _day_start(d: date) -> datetime:
    return datetime.combine(d, datetime.min.time(), tzinfo=CHINA)


async def shop_stats(s: AsyncSession, shop_id: int, today: date) -> dict[str, Any]:
    """Paid orders through a shop: today, this week (from Monday), and the amount paid per day."""
    dialect = s.bind.dialect.name if s.bind is not None else "sqlite"
    first = today - timedelta(days=CHART_DAYS - 1)
    monday = today - timedelta(days=today.weekday())
    since = _day_start(min(first, monday))
    day = china_day(Order.paid_at, dialect)
    rows = (await s.execute(
        select(day, func.count(Order.id), func.coalesce(func.sum(Order.total_fen), 0))
        .where(Order.shop_id == shop_id, Order.paid_at.is_not(None), Order.paid_at >= since)
        .group_by(day)
    )).all()
    by_day = {str(d)[:10]: (int(n), int(amount)) for d, n, amount in rows}
    days = [first + timedelta(days=i) for i in range(CHART_DAYS)]
    week = [v for k, v in by_day.items() if k >= monday.isoformat()]
    return {
        "today_orders": by_day.get(today.isoformat(), (0, 0))[0],
        "today_gmv": by_day.get(today.isoformat(), (0, 0))[1],
        "week_orders": sum(n for n, _a in week),
        "week_gmv": sum(a for _n, a in week),
        "days": [d.isoformat() for d in days],
        "amounts": [by_day.get(d.isoformat(), (0, 0))[1] for d in days],
    }


def chart_option(days: list[str], amounts_fen: list[int]) -> dict[str, Any]:
    return {
        "grid": {"left": 8, "right": 12, "top": 24, "bottom": 8, "containLabel": True},
        "tooltip": {"trigger": "axis"},
        "xAxis": {"type": "category", "data": [d[5:] for d in days], "boundaryGap": False,
                  "axisLabel": {"color": "#777"}},
        "yAxis": {"type": "value", "name": "¥", "minInterval": 1, "axisLabel": {"color": "#777"},
                  "splitLine": {"lineStyle": {"color": "#eee"}}},
        "series": [{"type": "line", "name": _("Paid amount (yuan)"), "symbolSize": 6, "showAllSymbol": True,
                    "data": [round(a / 100, 2) for a in amounts_fen],
                    "lineStyle": {"color": "#e4393c", "width": 2}, "itemStyle": {"color": "#e4393c"},
                    "areaStyle": {"color": "rgba(228,57,60,0.08)"}}],
    }


# --- a shop's orders ---------------------------------------------------------------------------------

async def _phones(s: AsyncSession, user_ids: set[int]) -> dict[int, str]:
    """Buyers' numbers, masked before they leave this function (PIPL: no consent → masked)."""
    return {uid: p.masked_phone for uid, p in (await accounts.profiles(s, user_ids)).items()}


@router.get("/console/shop/orders")
async def shop_orders(request: Request, db: DB, me: Shopkeeper,
                      page_no: Annotated[int, Query(alias="page", ge=1, le=10_000)] = 1) -> Response:
    async with db.read() as s:
        shop = await shops.find_my_shop(s, me.user_id)
        if shop is None:
            return redirect(request, "/console/shop", _("Open your shop first: it is free."), "info")
        total = (await s.execute(select(func.count(Order.id)).where(Order.shop_id == shop.id))).scalar_one()
        orders = list((await s.execute(
            select(Order).where(Order.shop_id == shop.id).order_by(Order.id.desc())
            .offset((page_no - 1) * PAGE_SIZE).limit(PAGE_SIZE)
        )).scalars())
        lines = await service.lines_of(s, [o.id for o in orders])
        buyers = await _phones(s, {o.buyer_id for o in orders})
    pages = max(1, -(-total // PAGE_SIZE))
    return page(request, "console/shop_orders.html", {
        "active": "shop_orders", "shop": shop, "orders": orders, "lines": lines, "buyers": buyers,
        "total": total, "page_no": page_no, "pages": pages,
    })


# --- supplier fulfilment -----------------------------------------------------------------------------

async def _fulfilment_page(request: Request, db: Any, me: Any, extra: dict[str, Any] | None = None,
                           status_code: int = 200) -> Response:
    async with db.read() as s:
        scope = await supplier_scope(s, me)
        to_ship: list[Order] = []
        held: list[Order] = []
        shipped: list[Order] = []
        if not scope.missing_profile:
            base = select(Order)
            if scope.supplier_id is not None:
                base = base.where(Order.supplier_id == scope.supplier_id)
            paid = base.where(Order.status == "paid").order_by(Order.paid_at, Order.id)
            to_ship = list((await s.execute(paid.where(Order.hold_reason.is_(None)).limit(200))).scalars())
            # Paid but held by a campaign (e.g. a group still forming): shown, not shippable yet.
            held = list((await s.execute(paid.where(Order.hold_reason.is_not(None)).limit(50))).scalars())
            on_the_way = (base.where(Order.status == "shipped")
                          .order_by(Order.shipped_at.desc(), Order.id.desc()).limit(50))
            shipped = list((await s.execute(on_the_way)).scalars())
        lines = await service.lines_of(s, [o.id for o in to_ship + held + shipped])
    today = clock_today()
    return page(request, "console/fulfilment.html", {
        "active": "fulfilment", "scope": scope, "to_ship": to_ship, "held": held, "shipped": shipped,
        "lines": lines, "carriers": _carrier_names(), "today": today.isoformat(),
        "export_from": (today - timedelta(days=EXPORT_DAYS - 1)).isoformat(), **(extra or {}),
    }, status_code=status_code)


@router.get("/console/fulfilment")
async def fulfilment(request: Request, db: DB, me: Supplier) -> Response:
    return await _fulfilment_page(request, db, me)


def _ship_input(carrier: str, tracking_no: str) -> ShipIn:
    """Validate one shipment; raises ValueError with the text to show."""
    carrier, tracking_no = carrier.strip(), tracking_no.strip().replace(" ", "")
    if carrier not in CARRIERS:
        raise ValueError(_("Choose a carrier from the list"))
    try:
        return ShipIn.model_validate({"carrier": carrier, "tracking_no": tracking_no})
    except ValidationError as exc:
        err = exc.errors()[0]
        if err["loc"] and err["loc"][0] == "tracking_no":
            if not tracking_no:
                raise ValueError(_("Enter the tracking number")) from exc
            raise ValueError(_("Tracking number: 4 to 60 letters, digits or “-”")) from exc
        raise ValueError(describe(err)) from exc  # type: ignore[arg-type]


async def _ship_one(db: Any, me: Any, order_id: int, body: ShipIn) -> str:
    """One order in its own transaction (a failure never undoes another). Returns its order number."""
    async with db.write() as s:
        order = await service.order_for_supplier(s, order_id, await acting_scope(s, me))
        await service.ship(s, order, carrier=body.carrier, tracking_no=body.tracking_no, actor_id=me.user_id)
        return order.order_no


@router.post("/console/fulfilment/{order_id}/ship")
async def ship(request: Request, order_id: PathId, db: DB, me: Supplier,
               carrier: Annotated[str, Form(max_length=40)] = "",
               tracking_no: Annotated[str, Form(max_length=100)] = "") -> Response:
    try:
        body = _ship_input(carrier, tracking_no)
    except ValueError as exc:
        why = _("Not shipped: %(why)s") % {"why": str(exc)}
        return refused(request, f"{FULFILMENT}#order-{order_id}", why)
    try:
        order_no = await _ship_one(db, me, order_id, body)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return refused(request, f"{FULFILMENT}#order-{order_id}", exc)
    msg = _("Order %(no)s shipped with %(carrier)s, tracking number %(tracking)s.")
    done = msg % {"no": order_no, "carrier": body.carrier, "tracking": body.tracking_no}
    return redirect(request, FULFILMENT, done)


@router.post("/console/fulfilment/ship")
async def ship_bulk(
    request: Request, db: DB, me: Supplier, carrier: Annotated[str, Form(max_length=40)] = "",
    pick: Annotated[list[int] | None, Form(max_length=500)] = None,
    row: Annotated[list[int] | None, Form(max_length=500)] = None,
    tracking: Annotated[list[str] | None, Form(max_length=500)] = None,
) -> Response:
    """Ship the ticked orders with one carrier and each row's tracking number, one transaction per order."""
    picked = list(dict.fromkeys(pick or []))[:200]
    numbers = dict(zip(row or [], tracking or [], strict=False))
    if not picked:
        return refused(request, FULFILMENT, _("Tick the orders to ship first."))
    async with db.read() as s:
        scope = await acting_scope(s, me)
        stmt = select(Order.id, Order.order_no).where(Order.id.in_(picked))
        if scope is not None:
            stmt = stmt.where(Order.supplier_id == scope)
        order_nos = {oid: no for oid, no in (await s.execute(stmt)).all()}
    shipped: list[str] = []
    failed: list[str] = []
    for order_id in picked:
        label = order_nos.get(order_id, f"#{order_id}")
        try:
            body = _ship_input(carrier, numbers.get(order_id, ""))
            shipped.append(await _ship_one(db, me, order_id, body))
        except ValueError as exc:
            failed.append(f"{label}: {exc}")
        except DomainError as exc:
            failed.append(f"{label}: {exc.text(i18n.short())}")
    if not failed:
        return redirect(request, FULFILMENT, _("%(n)s orders shipped.") % {"n": len(shipped)})
    message = _("%(n)s orders shipped; not shipped: %(failed)s") % {"n": len(shipped),
                                                                    "failed": "; ".join(failed)}
    return redirect(request, FULFILMENT, message, "error" if not shipped else "warn")




# --- waybill CSV: export for e-waybills, import of tracking numbers ----------------------------------------

@router.get("/console/fulfilment/waybills.csv")
async def export_waybills(
    request: Request, db: DB, me: Supplier,
    status: Annotated[str, Query(max_length=10)] = "to_ship",
    first: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    last: Annotated[str | None, Query(alias="to", max_length=10)] = None,
) -> Response:
    """The supplier's orders (paid and waiting to ship, or shipped) paid between two China-time days, one row
    each, as UTF-8 CSV with a BOM (Excel then shows the Chinese), for the courier's e-waybill software."""
    try:
        a = date.fromisoformat(first) if first else None
        b = date.fromisoformat(last) if last else None
    except ValueError:
        return refused(request, f"{FULFILMENT}#waybills", _("Enter the dates as YYYY-MM-DD"))
    if status not in EXPORT_STATUSES:
        return refused(request, f"{FULFILMENT}#waybills", _("Choose which orders to export"))
    if a and b and a > b:
        return refused(request, f"{FULFILMENT}#waybills", _("The first day must not be after the last day"))
    async with db.read() as s:
        scope = await acting_scope(s, me)
        stmt = select(Order).where(Order.paid_at.is_not(None)).order_by(Order.paid_at, Order.id)
        if status == "to_ship":
            stmt = stmt.where(Order.status == "paid", Order.hold_reason.is_(None))
        else:
            stmt = stmt.where(Order.status == "shipped")
        if scope is not None:
            stmt = stmt.where(Order.supplier_id == scope)
        if a:
            stmt = stmt.where(Order.paid_at >= datetime.combine(a, datetime.min.time(), tzinfo=CHINA))
        if b:
            stmt = stmt.where(Order.paid_at < datetime.combine(b + timedelta(days=1), datetime.min.time(),
                                                               tzinfo=CHINA))
        orders = list((await s.execute(stmt.limit(EXPORT_MAX_ROWS))).scalars())
        lines = await service.lines_of(s, [o.id for o in orders])
    body = waybills.export_csv(orders, lines, i18n.short())
    name = f"waybills-{status}-{clock_today().strftime('%Y%m%d')}.csv"
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{name}"', "cache-control": "no-store"})


@router.post("/console/fulfilment/tracking")
async def import_tracking(request: Request, db: DB, me: Supplier,
                          file: Annotated[UploadFile | None, File()] = None) -> Response:
    """Ship the orders of an uploaded CSV (order no, carrier, tracking no). Per row: each good row ships in
    its own transaction through service.ship, each bad row is reported and changes nothing."""
    lang = i18n.short()
    async with db.read() as s:
        scope = await acting_scope(s, me)
    data = await file.read(waybills.MAX_BYTES + 1) if file is not None else b""
    try:
        if not data:
            raise waybills.FileEmpty()
        rows = waybills.read_rows(data)
    except waybills.WaybillFileError as exc:
        return await _fulfilment_page(request, db, me, {"import_error": exc.text(lang)}, status_code=422)
    waybills.check_rows(rows, lang)
    pending = [r for r in rows if r.outcome == "pending"]
    async with db.read() as s:
        found = {o.order_no: o for o in (await s.execute(
            select(Order).where(Order.order_no.in_({r.order_no for r in pending})))).scalars()} if pending else {}
    for r in pending:
        order = found.get(r.order_no)
        if order is None:
            r.refuse(waybills.WaybillCode.UNKNOWN_ORDER, lang)
            continue
        if scope is not None and order.supplier_id != scope:
            r.refuse(waybills.WaybillCode.NOT_YOURS, lang)
            continue
        if order.shipped_at is not None:
            r.refuse(waybills.WaybillCode.ALREADY_SHIPPED, lang, carrier=order.carrier or "",
                     tracking_no=order.tracking_no or "")
            if (order.carrier, order.tracking_no) == (r.carrier, r.tracking_no):
                r.outcome = "unchanged"  # the same file imported again: not a problem
            continue
        try:
            body = _ship_input(r.carrier, r.tracking_no)
        except ValueError:
            r.refuse(waybills.WaybillCode.BAD_TRACKING, lang)
            continue
        try:
            await _ship_one(db, me, order.id, body)
        except DomainError as exc:
            r.refuse(waybills.WaybillCode.NOT_SHIPPABLE, lang, reason=exc.text(lang))
            continue
        r.outcome = "shipped"
    counts = {k: sum(1 for r in rows if r.outcome == k) for k in ("shipped", "unchanged", "refused")}
    return await _fulfilment_page(request, db, me, {"report": rows, "report_counts": counts},
                                  status_code=200 if counts["shipped"] or not counts["refused"] else 422)
