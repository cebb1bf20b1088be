"""Storefront order pages: checkout (cart selection or buy-now), my orders with status tabs, order detail
with its timeline, cancel and confirm receipt. Placement reuses orders.api.checkout (same rules, same
idempotency scope as the JSON API)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import CurrentUser
from quanzi.accounts.service import Principal
from quanzi.cart import service as cart
from quanzi.cart.pages import check_shop_product
from quanzi.catalog import service as catalog
from quanzi.catalog.pages import money
from quanzi.kit import i18n
from quanzi.kit.db import Database
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError, IllegalTransition
from quanzi.kit.idempotency import check_key, run_once
from quanzi.kit.schemas import MAX_ID, PathId
from quanzi.kit.web import render
from quanzi.orders import service
from quanzi.orders.api import checkout
from quanzi.orders.errors import DuplicateSku, NoItems, PriceChanged
from quanzi.orders.models import Order, OrderLine
from quanzi.orders.schemas import ItemIn, PlaceOrderIn
from quanzi.policy import service as policy
from quanzi.policy.service import CommercePolicy
from quanzi.shops import service as shops

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 10
# Status tabs of "my orders" (the after-sale tab is the after-sale list, /aftersales).
TABS: dict[str, tuple[str, ...]] = {
    "all": (), "unpaid": ("pending_payment",), "to_ship": ("paid",), "shipped": ("shipped",),
    "to_review": ("received",),
}


# --- words --------------------------------------------------------------------------------------

def status_text(status: str) -> str:
    _ = i18n.gettext
    return {
        "pending_payment": _("Awaiting payment"), "paid": _("Awaiting shipment"), "shipped": _("Shipped"),
        "received": _("Received"), "completed": _("Completed"), "cancelled": _("Cancelled"),
        "closed": _("Refunded and closed"),
    }.get(status, status)


@dataclass(frozen=True)
class CampaignPage:
    """The page of a campaign order (a group buy's group): where its buyer lands after paying, and where the
    order page links to. A campaign registers its own (`campaign_page`); this module knows none of them."""

    url: str  # with {order_id}
    link: Callable[[], str]  # the link's words, in the request's language
    # (status, explanation) while the order is paid but held by the campaign (e.g. a group still forming)
    held: Callable[[], tuple[str, str]] | None = None


CAMPAIGN_PAGES: dict[str, CampaignPage] = {}
# Words for the order events a campaign writes on its orders (kind → data → (what happened, detail)).
EVENT_WORDS: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] = {}


def campaign_page(kind: str, page: CampaignPage,
                  events: dict[str, Callable[[dict[str, Any]], tuple[str, str]]] | None = None) -> None:
    CAMPAIGN_PAGES[kind] = page
    EVENT_WORDS.update(events or {})


def order_status(order: Order) -> str:
    """An order's status in words; a paid order that a campaign still holds says so (not "to ship")."""
    page = CAMPAIGN_PAGES.get(order.kind)
    if order.status == "paid" and order.hold_reason and page and page.held:
        return page.held()[0]
    return status_text(order.status)


def paid_landing(order: Order) -> str:
    """Where the buyer goes right after paying `order`."""
    page = CAMPAIGN_PAGES.get(order.kind)
    url = page.url.format(order_id=order.id) if page else f"/orders/{order.id}"
    return f"{url}?notice=paid"


# Tabs a higher domain owns (reviews owns "to_review"): key → (its page, the buyer's badge count).
# Registered at import by that domain, so orders imports none of them.
OWNED_TABS: dict[str, tuple[str, Callable[[AsyncSession, int], Awaitable[int]]]] = {}


def own_tab(key: str, url: str, count: Callable[[AsyncSession, int], Awaitable[int]]) -> None:
    OWNED_TABS[key] = (url, count)


def tab_links() -> dict[str, str]:
    return {key: url for key, (url, _count) in OWNED_TABS.items()}


async def owned_tab_badges(s: AsyncSession, buyer_id: int) -> dict[str, int]:
    return {key: await count(s, buyer_id) for key, (_url, count) in OWNED_TABS.items()}


def tab_names() -> list[tuple[str, str]]:
    _ = i18n.gettext
    return [("all", _("All")), ("unpaid", _("To pay")), ("to_ship", _("To ship")),
            ("shipped", _("To receive")),
            ("to_review", _("To review")), ("aftersale", _("After-sales"))]


def event_text(kind: str, data: dict[str, Any]) -> tuple[str, str]:
    """An order event in plain words: (what happened, detail)."""
    _ = i18n.gettext
    detail = ""
    if kind == "placed":
        return _("Order placed"), _("Amount to pay: %(amount)s") % {"amount": money(data.get("total_fen", 0))}
    if kind == "paid":
        return _("Payment received"), money(data["amount_fen"]) if "amount_fen" in data else ""
    if kind == "shipped":
        if data.get("carrier"):
            detail = f"{data.get('carrier')} {data.get('tracking_no', '')}".strip()
        return _("Shipped by the supplier"), detail
    if kind == "received":
        return _("You confirmed receipt"), ""
    if kind == "auto_received":
        return _("Receipt confirmed automatically"), ""
    if kind == "completed":
        return _("Order completed"), ""
    if kind == "cancelled":
        reason = data.get("reason")
        detail = {"buyer": _("Cancelled by you"),
                  "payment_timeout": _("Not paid in time")}.get(reason, reason or "")
        return _("Order cancelled"), detail
    if kind == "closed":
        return _("Order closed after a full refund"), ""
    if kind == "refunded":
        amount = money(data["amount_fen"]) if "amount_fen" in data else ""
        return _("Refund sent back to your payment account"), amount
    if kind == "late_payment_refunded":
        return _("Payment arrived after the order was cancelled and was refunded"), ""
    if kind in EVENT_WORDS:
        return EVENT_WORDS[kind](data)
    if kind == "aftersale_requested":
        kinds = {"refund_only": _("Refund only"), "return_refund": _("Return and refund")}
        return _("After-sale requested"), kinds.get(data.get("kind", ""), "")
    return kind.replace("_", " "), ""


# --- checkout -----------------------------------------------------------------------------------

@dataclass
class Selection:
    """What is being bought: cart lines, or one SKU bought now (optionally through a shop)."""

    items: list[int] = field(default_factory=list)
    sku_id: int | None = None
    qty: int = 1
    shop_id: int | None = None

    def query(self, **extra: object) -> str:
        pairs: list[tuple[str, object]] = []
        if self.sku_id:
            pairs += [("sku_id", self.sku_id), ("qty", self.qty)]
            pairs += [("shop_id", self.shop_id)] if self.shop_id else []
        else:
            pairs += [("item", i) for i in self.items]
        pairs += [(k, v) for k, v in extra.items() if v is not None]
        return urlencode(pairs)


@dataclass
class QuoteLine:
    sku: catalog.SkuWithStock
    quantity: int
    shop_id: int | None

    @property
    def total_fen(self) -> int:
        return self.sku.price_fen * self.quantity


@dataclass
class QuoteGroup:
    supplier_id: int
    shop: Any
    lines: list[QuoteLine]
    goods_fen: int = 0
    shipping_fen: int = 0


async def quote(s: AsyncSession, buyer_id: int, sel: Selection) -> tuple[list[QuoteGroup], list[str]]:
    """What checkout will charge, grouped as orders.service.place_orders splits orders (one per supplier
    and shop). Shown to the buyer; the order itself is priced again on the server and compared with it."""
    problems: list[str] = []
    wanted: list[QuoteLine] = []
    if sel.sku_id:
        snap = (await catalog.snapshots_with_stock(s, [sel.sku_id])).get(sel.sku_id)
        if snap is not None:
            wanted.append(QuoteLine(snap, sel.qty, sel.shop_id))
    elif sel.items:
        lines = await cart.lines(s, buyer_id, sel.items)
        wanted = [QuoteLine(x.sku, x.item.quantity, x.item.shop_id) for x in lines]
    if not wanted:
        raise NoItems()
    seen: set[int] = set()
    for w in wanted:
        if not w.sku.available:
            problems.append(i18n.gettext("“%(title)s” is no longer on sale.") % {"title": w.sku.title})
        elif w.sku.stock < w.quantity:
            problems.append(i18n.gettext("Only %(n)s of “%(title)s” left.")
                            % {"n": w.sku.stock, "title": w.sku.title})
        if w.sku.sku_id in seen:
            problems.append(DuplicateSku().text(i18n.short()))
        seen.add(w.sku.sku_id)
    pol = await policy.get(s, CommercePolicy)
    shop_by_id = await shops.shops_by_id(s, [w.shop_id for w in wanted if w.shop_id])
    groups: dict[tuple[int, int | None], QuoteGroup] = {}
    for w in wanted:
        shop = shop_by_id.get(w.shop_id) if w.shop_id else None
        g = groups.setdefault((w.sku.supplier_id, w.shop_id), QuoteGroup(w.sku.supplier_id, shop, []))
        g.lines.append(w)
    for g in groups.values():
        g.goods_fen = sum(x.total_fen for x in g.lines)
    # The same rule as placement (policy.shipping_of), so what the page shows is what the order charges.
    for g, fee in zip(groups.values(), pol.shipping_of([g.goods_fen for g in groups.values()]), strict=True):
        g.shipping_fen = fee
    return list(groups.values()), problems


@dataclass
class ShippingNote:
    """What the checkout page says about shipping before payment."""

    mode: str  # per_checkout | per_package
    fee_fen: int  # the flat fee (per package, or once)
    threshold_fen: int  # goods total from which shipping is free (0: never free)
    missing_fen: list[int]  # per checkout: one figure; per package: one per package (0 = already free)


def shipping_note(pol: CommercePolicy, groups: list[QuoteGroup]) -> ShippingNote:
    return ShippingNote(pol.shipping_mode, pol.shipping_flat_fen, pol.free_shipping_threshold_fen,
                        pol.missing_for_free_shipping([g.goods_fen for g in groups]))


async def _checkout_page(request: Request, db: Database, me: Principal, sel: Selection, *,
                         address_id: int | None = None,
                         error: str | None = None, address_form: dict[str, str] | None = None,
                         address_error: str | None = None, note: str = "", status: int = 200) -> Response:
    async with db.read() as s:
        if sel.sku_id:
            await check_shop_product(s, sel.sku_id, sel.shop_id)
        groups, problems = await quote(s, me.user_id, sel)
        addresses = await cart.addresses(s, me.user_id)
        note_on_shipping = shipping_note(await policy.get(s, CommercePolicy), groups)
    chosen = next((a for a in addresses if a.id == address_id), addresses[0] if addresses else None)
    goods = sum(g.goods_fen for g in groups)
    shipping = sum(g.shipping_fen for g in groups)
    first = groups[0].lines[0].sku.product_id
    back = "/cart" if not sel.sku_id else f"/s/{sel.shop_id}/p/{first}" if sel.shop_id else f"/p/{first}"
    return render(request, "orders/checkout.html", {
        "sel": sel, "groups": groups, "problems": problems, "addresses": addresses, "chosen": chosen,
        "goods_fen": goods, "shipping_fen": shipping, "total_fen": goods + shipping, "ship": note_on_shipping,
        "idempotency_key": secrets.token_urlsafe(18), "error": error, "address_form": address_form or {},
        "address_error": address_error, "note": note, "action_bar": True, "back": back,
    }, status_code=status)


def _selection(item: list[int], sku_id: int | None, qty: int, shop_id: int | None) -> Selection:
    if sku_id is not None:
        return Selection(sku_id=sku_id, qty=qty, shop_id=shop_id)
    return Selection(items=list(dict.fromkeys(item))[:50])


QId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
FId = Annotated[int | None, Form(ge=1, le=MAX_ID)]


@router.get("/checkout")
async def checkout_page(request: Request, me: CurrentUser, db: DB,
                        item: Annotated[list[int], Query(max_length=50)] = [],  # noqa: B006
                        sku_id: QId = None, qty: Annotated[int, Query(ge=1, le=cart.MAX_QTY)] = 1,
                        shop_id: QId = None, address_id: QId = None) -> Response:
    sel = _selection(item, sku_id, qty, shop_id)
    if not sel.sku_id and not sel.items:
        return RedirectResponse("/cart", status_code=303)
    try:
        return await _checkout_page(request, db, me, sel, address_id=address_id)
    except NoItems:  # e.g. the cart lines were ordered meanwhile
        return RedirectResponse("/cart", status_code=303)


@router.post("/buy")
async def buy_now(me: CurrentUser, db: DB, sku_id: Annotated[int, Form(ge=1, le=MAX_ID)],
                  qty: Annotated[int, Form(ge=1, le=cart.MAX_QTY)], shop_id: FId = None) -> Response:
    """The product page's "Buy now": a POST (so the CSRF token never lands in a URL) that opens checkout."""
    async with db.read() as s:
        await check_shop_product(s, sku_id, shop_id)
    sel = Selection(sku_id=sku_id, qty=qty, shop_id=shop_id)
    return RedirectResponse("/checkout?" + sel.query(), status_code=303)


@router.post("/checkout")
async def place(request: Request, me: CurrentUser, db: DB,
                address_id: Annotated[int, Form(ge=1, le=MAX_ID)],
                expected_total_fen: Annotated[int, Form(ge=0, le=10**11)],
                idempotency_key: Annotated[str, Form(min_length=1, max_length=120)],
                item: Annotated[list[int], Form(max_length=50)] = [],  # noqa: B006
                sku_id: FId = None, qty: Annotated[int, Form(ge=1, le=cart.MAX_QTY)] = 1, shop_id: FId = None,
                note: Annotated[str, Form(max_length=200)] = "") -> Response:
    sel = _selection(item, sku_id, qty, shop_id)
    body = PlaceOrderIn(
        address_id=address_id, note=note.strip(), expected_total_fen=expected_total_fen,
        items=[ItemIn(sku_id=sel.sku_id, quantity=sel.qty, shop_id=sel.shop_id)] if sel.sku_id else [],
        cart_item_ids=sel.items if not sel.sku_id else [],
    )
    key = check_key(idempotency_key)
    try:
        async with db.write() as s:
            if sel.sku_id:
                await check_shop_product(s, sel.sku_id, sel.shop_id)

            async def run() -> tuple[int, object]:
                return 201, (await checkout(s, me.user_id, body)).model_dump(mode="json")

            # The same scope as POST /api/orders: a key means one placement, whichever door it came through.
            scope = f"orders.place:{me.user_id}"
            _status, payload = await run_once(s, scope, key, body.model_dump(mode="json"), run)
    except DomainError as exc:
        message = exc.text(i18n.short())
        if isinstance(exc, PriceChanged):
            message = i18n.gettext(
                "Prices changed while you were on this page. Check the new total and submit again.")
        return await _checkout_page(request, db, me, sel, address_id=address_id, error=message, note=note,
                                    status=exc.status)
    if len(payload["orders"]) > 1:  # several packages: one payment for all of them
        return RedirectResponse(f"/checkouts/{payload['checkout_id']}/pay", status_code=303)
    return RedirectResponse(f"/orders/{payload['orders'][0]['id']}/pay", status_code=303)


@router.get("/checkouts/{checkout_id}")
async def checkout_detail(request: Request, checkout_id: PathId, me: CurrentUser, db: DB,
                          notice: Annotated[str | None, Query(max_length=30)] = None) -> Response:
    """Every order one placement produced, after (or before) its one payment."""
    async with db.read() as s:
        checkout = await service.checkout_for_buyer(s, checkout_id, me.user_id)
        orders = await service.orders_of_checkout(s, checkout.id)
        lines = await service.lines_of(s, [o.id for o in orders])
        shop_by_id = await shops.shops_by_id(s, [o.shop_id for o in orders if o.shop_id])
    _ = i18n.gettext
    notices = {"paid": _("Payment received. Thank you!"),
               "late": _("The payment arrived after the order was closed; it is being refunded.")}
    return render(request, "orders/checkout_done.html", {
        "checkout": checkout, "orders": orders, "lines": lines, "shops": shop_by_id, "order_status": order_status,
        "due": [o for o in orders if o.status == "pending_payment"], "tab": "orders",
        "notice": notices.get(notice or ""), "notice_kind": "ok" if notice != "late" else "info",
    })


# --- my orders ----------------------------------------------------------------------------------

async def unpaid_siblings(s: AsyncSession, order: Order) -> list[Order]:
    """Other orders of the same checkout (split by supplier and shop) still waiting for payment."""
    return list((await s.execute(select(Order).where(
        Order.checkout_id == order.checkout_id, Order.buyer_id == order.buyer_id, Order.id != order.id,
        Order.status == "pending_payment",
    ).order_by(Order.id))).scalars())


async def _my_orders(s: AsyncSession, buyer_id: int, statuses: tuple[str, ...], offset: int, limit: int,
                     ) -> tuple[list[Order], int, dict[str, int]]:
    base = select(Order).where(Order.buyer_id == buyer_id)
    if statuses:
        base = base.where(Order.status.in_(statuses))
    total = (await s.execute(select(func.count()).select_from(base.subquery()))).scalar_one()
    orders = list((await s.execute(base.order_by(Order.id.desc()).offset(offset).limit(limit))).scalars())
    counts = dict((await s.execute(select(Order.status, func.count()).where(Order.buyer_id == buyer_id)
                                   .group_by(Order.status))).all())
    return orders, total, counts


@router.get("/orders")
async def my_orders(request: Request, me: CurrentUser, db: DB,
                    tab: Annotated[str, Query(pattern="^(all|unpaid|to_ship|shipped|to_review)$")] = "all",
                    page: Annotated[int, Query(ge=1, le=1000)] = 1) -> Response:
    if tab in OWNED_TABS:
        return RedirectResponse(OWNED_TABS[tab][0], status_code=303)
    async with db.read() as s:
        orders, total, counts = await _my_orders(s, me.user_id, TABS[tab], (page - 1) * PAGE_SIZE, PAGE_SIZE)
        lines = await service.lines_of(s, [o.id for o in orders])
        shop_by_id = await shops.shops_by_id(s, [o.shop_id for o in orders if o.shop_id])
        owned_badges = await owned_tab_badges(s, me.user_id)
    badge = {t: sum(counts.get(st, 0) for st in sts) for t, sts in TABS.items() if sts}
    badge.update(owned_badges)
    return render(request, "orders/list.html", {
        "orders": orders, "lines": lines, "shops": shop_by_id, "tab": "orders", "current": tab,
        "tabs": tab_names(), "tab_links": tab_links(),
        "badge": badge, "status_text": status_text, "order_status": order_status, "page": page,
        "pages": max(1, -(-total // PAGE_SIZE)),
    })


# (session, order, lines) → more of the order page's context. aftersales registers its panel (the per-line
# after-sale button or reason and the requests) so that orders, the lower domain, never imports it.
DetailPanel = Callable[[AsyncSession, Order, list[OrderLine]], Awaitable[dict[str, Any]]]
DETAIL_PANELS: list[DetailPanel] = []


def detail_panel(fn: DetailPanel) -> DetailPanel:
    if fn not in DETAIL_PANELS:
        DETAIL_PANELS.append(fn)
    return fn


@router.get("/orders/{order_id}")
async def order_detail(request: Request, order_id: PathId, me: CurrentUser, db: DB,
                       notice: Annotated[str | None, Query(max_length=30)] = None) -> Response:
    async with db.read() as s:
        order = await service.order_for_buyer(s, order_id, me.user_id)
        lines = (await service.lines_of(s, [order.id]))[order.id]
        events = await service.events_of(s, order.id)
        panels: dict[str, Any] = {"aftersale": {}, "requests": []}
        for panel in DETAIL_PANELS:
            panels.update(await panel(s, order, lines))
        shop = await shops.public_shop(s, order.shop_id) if order.shop_id else None
        pol = await policy.get(s, CommercePolicy)
        siblings = await unpaid_siblings(s, order) if order.status == "pending_payment" else []
    _ = i18n.gettext
    notices = {"paid": _("Payment received. Thank you!"), "cancelled": _("The order was cancelled."),
               "received": _("Receipt confirmed. Enjoy!"),
               "late": _("The payment arrived after the order was closed; it is being refunded.")}
    campaign = CAMPAIGN_PAGES.get(order.kind)
    held = campaign.held() if campaign and campaign.held and order.hold_reason and order.status == "paid" else None
    return render(request, "orders/detail.html", {
        "order": order, "lines": lines, "shop": shop, "status_text": order_status(order),
        "held_note": held[1] if held else None,
        "campaign": {"url": campaign.url.format(order_id=order.id), "link": campaign.link()} if campaign else None,
        "timeline": [(e, *event_text(e.kind, e.data or {})) for e in reversed(events)],
        **panels,
        "auto_receive_days": pol.auto_receive_days, "siblings": siblings, "tab": "orders",
        "notice": notices.get(notice or ""), "notice_kind": "ok" if notice != "late" else "info",
    })


@router.post("/orders/{order_id}/cancel")
async def cancel(order_id: PathId, me: CurrentUser, db: DB) -> Response:
    async with db.write() as s:
        order = await service.order_for_buyer(s, order_id, me.user_id)
        if not await service.cancel(s, order.id, reason="buyer", actor_id=me.user_id):
            raise IllegalTransition(current=order.status, target="cancelled")
    return RedirectResponse(f"/orders/{order_id}?notice=cancelled", status_code=303)


@router.post("/orders/{order_id}/receive")
async def confirm_receipt(order_id: PathId, me: CurrentUser, db: DB) -> Response:
    async with db.write() as s:
        order = await service.order_for_buyer(s, order_id, me.user_id)
        await service.confirm_receipt(s, order, actor_id=me.user_id)
    return RedirectResponse(f"/orders/{order_id}?notice=received", status_code=303)
