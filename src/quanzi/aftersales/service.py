"""After-sale rules: who may ask for what, and when; approval; refund through payments; restock.

7-day no-reason return (消费者权益保护法 Art. 25; 网络购买商品七日无理由退货暂行办法): counted from the day
after receipt; fresh or custom goods declared non-returnable at purchase are excluded, with the reason
shown. Before shipment any line may be refunded. Every step emits an outbox event.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.aftersales.errors import (
    AfterSaleNotFound,
    AlreadyOpen,
    BadQuantity,
    KindNotAllowed,
    NonReturnable,
    OrderNotEligible,
    WindowClosed,
)
from quanzi.aftersales.models import OPEN_STATES, AfterSale, AfterSaleEvent
from quanzi.catalog import service as catalog
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import guarded_update
from quanzi.kit.errors import IllegalTransition
from quanzi.media import service as media
from quanzi.media.images import Prepared
from quanzi.media.models import Media
from quanzi.media.storage import Storage
from quanzi.orders import service as orders
from quanzi.orders.errors import OrderNotFound
from quanzi.orders.models import Order, OrderLine
from quanzi.orders.service import CHINA
from quanzi.payments import service as payments

TRANSITIONS: dict[str, set[str]] = {
    "requested": {"awaiting_return", "refunding", "rejected", "cancelled"},
    "awaiting_return": {"returned", "cancelled"},
    "returned": {"refunding"},
    "refunding": {"refunded"},
}


def eligibility(order: Order, line: OrderLine, kind: str, now: datetime) -> None:
    """Raise the reason a request for this line is refused, or return if it may be made."""
    if order.status not in {"paid", "shipped", "received"}:
        raise OrderNotEligible(status=order.status)
    if order.status == "paid":
        if kind != "refund_only":
            raise KindNotAllowed()
        return  # not shipped yet: any line may be refunded
    if line.non_returnable:
        raise NonReturnable(reason=line.non_returnable_reason or "—")
    if order.status == "received" and order.return_deadline is not None and now >= order.return_deadline:
        raise WindowClosed(deadline=order.return_deadline.astimezone(CHINA).strftime("%Y-%m-%d %H:%M"))


def open_on_line(line_id: Any) -> Any:
    """SQL: an after-sale request is open on the order line `line_id` (a column or a value). Published for
    sweeps of other domains that must hold while a request is open (e.g. the commission unlock)."""
    return exists().where(AfterSale.line_id == line_id, AfterSale.status.in_(OPEN_STATES))


def refundable_qty(line: OrderLine) -> int:
    return line.quantity - line.refunded_qty


def share_of(line: OrderLine, qty: int) -> int:
    """Exact goods amount for `qty` units: the last units take whatever is left, so parts sum to paid_fen."""
    if qty == refundable_qty(line):
        return line.paid_fen - line.refunded_fen
    return line.paid_fen * qty // line.quantity


async def _event(s: AsyncSession, a: AfterSale, kind: str, actor_id: int | None, data: dict[str, Any] | None = None,
                 ) -> None:
    s.add(AfterSaleEvent(aftersale_id=a.id, kind=kind, actor_id=actor_id, data=data or {}, at=clock.now()))
    await outbox.emit(s, f"aftersale.{kind}", {"aftersale_id": a.id, "order_id": a.order_id, "line_id": a.line_id,
                                               "quantity": a.quantity, "amount_fen": a.amount_fen})


async def _move(s: AsyncSession, a: AfterSale, target: str, **values: Any) -> None:
    if target not in TRANSITIONS.get(a.status, set()):
        raise IllegalTransition(current=a.status, target=target)
    n = await guarded_update(s, update(AfterSale).where(AfterSale.id == a.id, AfterSale.status == a.status)
                             .values(status=target, **values))
    if n != 1:
        raise IllegalTransition(current="changed", target=target)
    await s.refresh(a)


def photo_ref(aftersale_id: int) -> str:
    return f"aftersale:{aftersale_id}"


async def photos_of(s: AsyncSession, aftersale_ids: list[int]) -> dict[int, list[Media]]:
    by_ref = await media.of_refs(s, [photo_ref(i) for i in aftersale_ids])
    return {i: by_ref[photo_ref(i)] for i in aftersale_ids}


async def request(s: AsyncSession, buyer_id: int, order_id: int, line_id: int, kind: str, quantity: int,
                  reason: str, *, media_ids: list[int] | None = None, photos: list[Prepared] | None = None,
                  storage: Storage | None = None) -> AfterSale:
    order = await orders.order_for_buyer(s, order_id, buyer_id)
    line = await s.get(OrderLine, line_id)
    if line is None or line.order_id != order.id:
        raise OrderNotFound()
    now = clock.now()
    eligibility(order, line, kind, now)
    left = refundable_qty(line)
    if quantity < 1 or quantity > left:
        raise BadQuantity(max=left)
    amount = share_of(line, quantity)
    # Before shipment, refunding everything that is left gives back the shipping fee too.
    shipping = 0
    if order.status == "paid":
        lines = (await orders.lines_of(s, [order.id]))[order.id]
        rest = sum(refundable_qty(x) for x in lines if x.id != line.id)
        if rest == 0 and quantity == left:
            shipping = order.shipping_fen
    a = AfterSale(order_id=order.id, line_id=line.id, buyer_id=buyer_id, supplier_id=order.supplier_id, kind=kind,
                  quantity=quantity, amount_fen=amount, shipping_fen=shipping, reason=reason, status="requested",
                  restock=order.status == "paid", created_at=now)
    s.add(a)
    try:
        async with s.begin_nested():
            await s.flush()
    except IntegrityError as exc:
        raise AlreadyOpen() from exc
    # Before shipment the request restocks and may return the shipping fee: only while the order is
    # still unshipped (a shipment committed meanwhile makes this a different request).
    if not await orders.aftersale_opened(s, order.id, while_status="paid" if order.status == "paid" else None):
        await s.refresh(order)
        raise OrderNotEligible(status=order.status)
    # Photos of the problem (a broken box, the wrong item): the buyer's own uploads, up to six.
    if media_ids:
        await media.attach(s, buyer_id, media_ids, "aftersale", photo_ref(a.id))
    if photos:
        assert storage is not None
        await media.record(s, storage, buyer_id, "aftersale", photos, ref=photo_ref(a.id))
    await orders.log_event(s, order.id, "aftersale_requested", buyer_id, {"aftersale_id": a.id, "kind": kind,
                                                                          "quantity": quantity})
    await _event(s, a, "requested", buyer_id, {"reason": reason})
    return a


async def for_decider(s: AsyncSession, aftersale_id: int, supplier_id: int | None) -> AfterSale:
    """The request if this supplier may decide it (None = operator: any)."""
    a = await s.get(AfterSale, aftersale_id)
    if a is None or (supplier_id is not None and a.supplier_id != supplier_id):
        raise AfterSaleNotFound()
    return a


async def for_buyer(s: AsyncSession, aftersale_id: int, buyer_id: int) -> AfterSale:
    a = await s.get(AfterSale, aftersale_id)
    if a is None or a.buyer_id != buyer_id:
        raise AfterSaleNotFound()
    return a


async def _shipping_due(s: AsyncSession, a: AfterSale) -> int:
    """Before shipment, the refund that leaves nothing of the order to ship also gives back the shipping fee.

    Decided when the refund starts, counting refunds already under way on the other lines (status
    "refunding": their quantities are not yet booked on the lines), so that several lines asked for at
    once still return the fee, exactly once."""
    order = await orders.get_order(s, a.order_id)
    if order.status != "paid" or not order.shipping_fen:
        return 0
    others = (await s.execute(select(AfterSale).where(
        AfterSale.order_id == order.id, AfterSale.id != a.id, AfterSale.status.in_(("refunding", "refunded")),
    ))).scalars().all()
    underway: dict[int, int] = {}
    for x in others:
        if x.status == "refunding":
            underway[x.line_id] = underway.get(x.line_id, 0) + x.quantity
    lines = (await orders.lines_of(s, [order.id]))[order.id]
    left = sum(refundable_qty(x) - underway.get(x.id, 0) for x in lines) - a.quantity
    if left > 0:
        return 0
    return max(order.shipping_fen - sum(x.shipping_fen for x in others), 0)


async def _start_refund(s: AsyncSession, a: AfterSale) -> None:
    payment = await payments.paid_payment_of(s, a.order_id)
    if payment is None:
        raise OrderNotEligible(status="unpaid")
    shipping = await _shipping_due(s, a) if a.restock else a.shipping_fen
    refund = await payments.request_refund(s, payment, a.amount_fen + shipping, reason=f"aftersale_{a.kind}",
                                           source=f"aftersale:{a.id}")
    await _move(s, a, "refunding", refund_id=refund.id, shipping_fen=shipping)


async def approve(s: AsyncSession, a: AfterSale, actor_id: int) -> AfterSale:
    now = clock.now()
    if a.kind == "refund_only":
        if a.status != "requested":
            raise IllegalTransition(current=a.status, target="refunding")
        a.decided_at, a.decided_by = now, actor_id
        await _event(s, a, "approved", actor_id)
        await _start_refund(s, a)  # requested → refunding
    else:
        await _move(s, a, "awaiting_return", decided_at=now, decided_by=actor_id)
        await _event(s, a, "approved", actor_id)
    return a


async def reject(s: AsyncSession, a: AfterSale, actor_id: int, reason: str) -> AfterSale:
    await _move(s, a, "rejected", decided_at=clock.now(), decided_by=actor_id, reject_reason=reason,
                closed_at=clock.now())
    await orders.aftersale_closed(s, a.order_id)
    await _event(s, a, "rejected", actor_id, {"reason": reason})
    return a


async def cancel(s: AsyncSession, a: AfterSale, buyer_id: int) -> AfterSale:
    await _move(s, a, "cancelled", closed_at=clock.now())
    await orders.aftersale_closed(s, a.order_id)
    await _event(s, a, "cancelled", buyer_id)
    return a


async def ship_back(s: AsyncSession, a: AfterSale, buyer_id: int, carrier: str, tracking_no: str) -> AfterSale:
    await _move(s, a, "returned", return_carrier=carrier, return_tracking_no=tracking_no)
    await _event(s, a, "returned", buyer_id, {"carrier": carrier, "tracking_no": tracking_no})
    return a


async def receive_return(s: AsyncSession, a: AfterSale, actor_id: int) -> AfterSale:
    """The supplier has the goods back: restock them and refund."""
    if a.status != "returned":
        raise IllegalTransition(current=a.status, target="refunding")
    line = await s.get(OrderLine, a.line_id)
    assert line is not None
    await catalog.return_stock(s, line.sku_id, a.quantity, "return", f"aftersale:{a.id}")
    await _event(s, a, "return_received", actor_id)
    await _start_refund(s, a)
    return a


async def refund_arrived(s: AsyncSession, aftersale_id: int, refund_id: int) -> bool:
    """The provider confirmed the money is back: close the request, book it on the order, restock if unshipped."""
    a = await s.get(AfterSale, aftersale_id)
    if a is None or a.status != "refunding" or a.refund_id != refund_id:
        return False
    await _move(s, a, "refunded", closed_at=clock.now())
    line = await s.get(OrderLine, a.line_id)
    assert line is not None
    if a.restock:
        await catalog.return_stock(s, line.sku_id, a.quantity, "refund_unshipped", f"aftersale:{a.id}")
    await orders.aftersale_closed(s, a.order_id)
    await orders.record_refund(s, a.order_id, a.line_id, a.quantity, a.amount_fen, shipping_fen=a.shipping_fen)
    await _event(s, a, "refunded", None, {"refund_id": refund_id})
    return True


async def list_for_buyer(s: AsyncSession, buyer_id: int) -> list[AfterSale]:
    return list((await s.execute(select(AfterSale).where(AfterSale.buyer_id == buyer_id)
                                 .order_by(AfterSale.id.desc()))).scalars())


async def list_for_decider(s: AsyncSession, supplier_id: int | None, open_only: bool = True) -> list[AfterSale]:
    stmt = select(AfterSale).order_by(AfterSale.id.desc()).limit(200)
    if supplier_id is not None:
        stmt = stmt.where(AfterSale.supplier_id == supplier_id)
    if open_only:
        stmt = stmt.where(AfterSale.status.in_(OPEN_STATES))
    return list((await s.execute(stmt)).scalars())


async def of_order(s: AsyncSession, order_id: int) -> list[AfterSale]:
    return list((await s.execute(select(AfterSale).where(AfterSale.order_id == order_id)
                                 .order_by(AfterSale.id))).scalars())


async def events(s: AsyncSession, aftersale_id: int) -> list[AfterSaleEvent]:
    return list((await s.execute(select(AfterSaleEvent).where(AfterSaleEvent.aftersale_id == aftersale_id)
                                 .order_by(AfterSaleEvent.id))).scalars())


async def supplier_counts(s: AsyncSession, supplier_id: int | None) -> dict[str, int]:
    """Open after-sales and those waiting for the supplier's decision (all suppliers' for None)."""
    open_as = select(func.count(AfterSale.id)).where(AfterSale.status.in_(OPEN_STATES))
    waiting = select(func.count(AfterSale.id)).where(AfterSale.status.in_(("requested", "returned")))
    if supplier_id is not None:
        open_as = open_as.where(AfterSale.supplier_id == supplier_id)
        waiting = waiting.where(AfterSale.supplier_id == supplier_id)
    return {"open_aftersales": (await s.execute(open_as)).scalar_one(),
            "to_decide": (await s.execute(waiting)).scalar_one()}
