"""What each domain event tells whom: reads what the message shows through the owning domain's service, then
`service.notify` with a stable event key (so a handler run twice writes the message once)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.aftersales import service as aftersales
from quanzi.bargain import service as bargain
from quanzi.catalog import service as catalog
from quanzi.engagement import service as engagement
from quanzi.groupbuy import service as groupbuy
from quanzi.notifications.channels import tracking_url
from quanzi.notifications.service import china_time, notify, yuan
from quanzi.orders import service as orders
from quanzi.withdrawals import service as withdrawals


async def order_paid(s: AsyncSession, order_id: int) -> None:
    o = await orders.get_order(s, order_id)
    await notify(s, event_key=f"order.paid:{o.id}", user_id=o.buyer_id, kind="order_paid",
                 params={"order_no": o.order_no, "amount": yuan(o.total_fen)}, link=f"/orders/{o.id}")


async def order_shipped(s: AsyncSession, order_id: int) -> None:
    o = await orders.get_order(s, order_id)
    carrier, tracking_no = o.carrier or "", o.tracking_no or ""
    await notify(s, event_key=f"order.shipped:{o.id}", user_id=o.buyer_id, kind="order_shipped",
                 params={"order_no": o.order_no, "carrier": carrier, "tracking_no": tracking_no,
                         "tracking_url": tracking_url(carrier, tracking_no)},
                 link=f"/orders/{o.id}")


GROUP_REASONS = {
    "group_failed": {"zh": "很遗憾，拼团未成团", "en": "Sorry, the group did not fill up in time"},
    "group_full": {"zh": "手慢了，团已满员", "en": "The group was already full"},
    "group_closed": {"zh": "该团已结束", "en": "The group had already ended"},
}


async def groupbuy_notice(s: AsyncSession, user_id: int, group_id: int, what: str) -> None:
    link = f"/groupbuy/groups/{group_id}"
    if what == "succeeded":
        await notify(s, event_key=f"groupbuy:{group_id}:succeeded", user_id=user_id, kind="groupbuy_succeeded",
                     params={}, link=link)
        return
    m = await groupbuy.membership(s, group_id, user_id)
    amount = yuan((await orders.get_order(s, m.order_id)).total_fen) if m is not None else ""
    reason = GROUP_REASONS.get(what, GROUP_REASONS["group_closed"])
    await notify(s, event_key=f"groupbuy:{group_id}:refund", user_id=user_id, kind="groupbuy_failed",
                 params={"reason": reason, "amount": amount}, link=link)


async def bargain_floor(s: AsyncSession, bargain_id: int) -> None:
    b, a, _helps = await bargain.detail(s, bargain_id)
    await notify(s, event_key=f"bargain.floor:{b.id}", user_id=b.initiator_id, kind="bargain_floor",
                 params={"title": a.title, "price": yuan(b.current_price_fen),
                         "pay_by": china_time(b.pay_by) if b.pay_by else ""},
                 link=f"/bargains/{b.id}")


async def flash_next_batch(s: AsyncSession, user_id: int, product_id: int, since: str) -> None:
    product = (await catalog.products_by_id(s, [product_id])).get(product_id)
    # `since` is when this person started waiting: waiting again later is a new notice.
    await notify(s, event_key=f"flash.waitlist:{product_id}:{since}", user_id=user_id, kind="flash_next_batch",
                 params={"title": product.title if product else ""}, link=f"/p/{product_id}")


NEXT_STEP = {
    "refund_only": {"zh": "退款将原路退回。", "en": "The refund is on its way."},
    "return_refund": {"zh": "请按售后详情中的地址寄回商品。", "en": "Please send the goods back as the request page says."},
}


async def aftersale_decided(s: AsyncSession, kind: str, aftersale_id: int) -> None:
    """kind: approved | rejected | refunded."""
    a = await aftersales.for_decider(s, aftersale_id, None)
    line = next((x for x in (await orders.lines_of(s, [a.order_id]))[a.order_id] if x.id == a.line_id), None)
    params: dict[str, Any] = {"item": line.title if line else "", "amount": yuan(a.amount_fen + a.shipping_fen)}
    if kind == "approved":
        params["next_step"] = NEXT_STEP.get(a.kind, NEXT_STEP["refund_only"])
    if kind == "rejected":
        params["reason"] = a.reject_reason or ""
    await notify(s, event_key=f"aftersale:{a.id}:{kind}", user_id=a.buyer_id, kind=f"aftersale_{kind}",
                 params=params, link=f"/aftersales/{a.id}")


async def commission_available(s: AsyncSession, user_id: int, amount_fen: int, batch: str) -> None:
    await notify(s, event_key=f"commission.available:{batch}", user_id=user_id, kind="commission_available",
                 params={"amount": yuan(amount_fen)}, link="/console/earnings")


async def withdrawal_decided(s: AsyncSession, kind: str, withdrawal_id: int) -> None:
    """kind: paid | rejected."""
    w = await withdrawals.get(s, withdrawal_id)
    params = {"amount": yuan(w.net_fen if kind == "paid" else w.amount_fen)}
    if kind == "rejected":
        params["reason"] = w.reject_reason or ""
    await notify(s, event_key=f"withdrawal:{w.id}:{kind}", user_id=w.user_id, kind=f"withdrawal_{kind}",
                 params=params, link="/console/earnings")


async def community_activity(s: AsyncSession, activity_id: int) -> None:
    """Every member of the community hears of a scheduled activity (a drop, a live Q&A, a draw…)."""
    r = await engagement.reminder_of(s, activity_id)
    if r is None:
        return
    params = {"community": r.community_name, "title": r.activity.title, "starts_at": china_time(r.activity.starts_at)}
    for uid in r.member_ids:
        await notify(s, event_key=f"community.activity:{activity_id}:{uid}", user_id=uid, kind="community_activity",
                     params=dict(params), link=f"/circles/{r.activity.community_id}/calendar")
