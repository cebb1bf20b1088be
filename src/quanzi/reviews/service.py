"""Review rules: who may review what, once; the seller's single reply; what a product page shows.

No fake or bought reviews (电子商务法 Art. 17: no fabricated transactions or user reviews): a review needs a
received line of the reviewer's own order, one per line, and nothing the platform gives depends on the
stars (there is no reward for reviewing; see docs/DECISIONS.md). A line refunded in full was not bought in
the end, so it cannot be reviewed; a partly refunded line can.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts import service as accounts
from quanzi.catalog import service as catalog
from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import guarded_update
from quanzi.media import service as media
from quanzi.media.images import Prepared
from quanzi.media.models import Media
from quanzi.media.storage import Storage
from quanzi.orders.models import Order, OrderLine
from quanzi.reviews.errors import (
    AlreadyReplied,
    AlreadyReviewed,
    FullyRefunded,
    LineNotFound,
    NotReceived,
    ReviewNotFound,
)
from quanzi.reviews.models import Review
from quanzi.shops import service as shops

REVIEWABLE = ("received", "completed")
MAX_PHOTOS = media.LIMITS["review"]


def ref(review_id: int) -> str:
    return f"review:{review_id}"


async def reviewable_line(s: AsyncSession, author_id: int, line_id: int) -> tuple[Order, OrderLine]:
    """The line if its author may review it now; otherwise the reason (404 for others' lines)."""
    line = await s.get(OrderLine, line_id)
    order = await s.get(Order, line.order_id) if line is not None else None
    if line is None or order is None or order.buyer_id != author_id:
        raise LineNotFound(line_id=line_id)
    if line.refunded_qty >= line.quantity:  # before the status: an order refunded in full is "closed"
        raise FullyRefunded()
    if order.status not in REVIEWABLE:
        raise NotReceived(status=order.status)
    if await s.scalar(select(Review.id).where(Review.line_id == line.id)) is not None:
        raise AlreadyReviewed()
    return order, line


async def write(s: AsyncSession, author_id: int, line_id: int, *, stars: int, body: str, anonymous: bool,
                media_ids: list[int] | None = None, photos: list[Prepared] | None = None,
                storage: Storage | None = None) -> Review:
    """A review of a received line, with photos either uploaded before (`media_ids`, the JSON API) or just
    stored by the page (`photos`)."""
    order, line = await reviewable_line(s, author_id, line_id)
    assert 1 <= stars <= 5
    count = len(media_ids or []) + len(photos or [])
    review = Review(line_id=line.id, order_id=order.id, product_id=line.product_id, sku_label=line.sku_label,
                    author_id=author_id, supplier_id=order.supplier_id, shop_id=order.shop_id, stars=stars,
                    body=body.strip(), anonymous=anonymous, photo_count=count, created_at=clock.now())
    s.add(review)
    try:
        async with s.begin_nested():
            await s.flush()
    except IntegrityError as exc:  # a second submission raced past the check above
        raise AlreadyReviewed() from exc
    if media_ids:
        await media.attach(s, author_id, media_ids, "review", ref(review.id))
    if photos:
        assert storage is not None
        await media.record(s, storage, author_id, "review", photos, ref=ref(review.id))
    await outbox.emit(s, "review.written", {"review_id": review.id, "product_id": review.product_id,
                                            "line_id": line.id, "stars": stars})
    return review


async def get(s: AsyncSession, review_id: int) -> Review:
    r = await s.get(Review, review_id)
    if r is None:
        raise ReviewNotFound()
    return r


async def reply_role(s: AsyncSession, review: Review, user_id: int) -> str | None:
    """How `user_id` may reply to `review`: as its supplier, as the shopkeeper it was sold through, or not."""
    sup = await catalog.supplier_of(s, user_id)
    if sup is not None and sup.id == review.supplier_id:
        return "supplier"
    if review.shop_id is not None:
        shop = await shops.find_my_shop(s, user_id)
        if shop is not None and shop.id == review.shop_id:
            return "shopkeeper"
    return None


async def for_replier(s: AsyncSession, review_id: int, user_id: int) -> tuple[Review, str]:
    review = await s.get(Review, review_id)
    role = await reply_role(s, review, user_id) if review is not None else None
    if review is None or role is None:
        raise ReviewNotFound()  # others' reviews are not revealed
    return review, role


async def reply(s: AsyncSession, review_id: int, user_id: int, body: str) -> Review:
    """The seller's answer, once: whichever of the supplier and the shopkeeper answers first."""
    review, role = await for_replier(s, review_id, user_id)
    n = await guarded_update(s, update(Review).where(Review.id == review.id, Review.reply_body.is_(None))
                             .values(reply_body=body.strip(), reply_by=user_id, reply_role=role,
                                     replied_at=clock.now()))
    if n != 1:
        raise AlreadyReplied()
    await s.refresh(review)
    await outbox.emit(s, "review.replied", {"review_id": review.id, "author_id": review.author_id})
    return review


# --- reading -----------------------------------------------------------------------------------------

@dataclass
class Summary:
    count: int
    average_tenths: int  # 4.5 stars -> 45 (integer, rounded half up)
    photos: int

    @property
    def average(self) -> str:
        return f"{self.average_tenths // 10}.{self.average_tenths % 10}"


async def summary(s: AsyncSession, product_id: int) -> Summary:
    count, total, photos = (await s.execute(
        select(func.count(Review.id), func.coalesce(func.sum(Review.stars), 0),
               func.count(Review.id).filter(Review.photo_count > 0))
        .where(Review.product_id == product_id))).one()
    avg = (int(total) * 20 + int(count)) // (2 * int(count)) if count else 0  # exact integer rounding
    return Summary(int(count), avg, int(photos))


async def for_product(s: AsyncSession, product_id: int, *, offset: int = 0, limit: int = 10) -> list[Review]:
    return list((await s.execute(select(Review).where(Review.product_id == product_id)
                                 .order_by(Review.created_at.desc(), Review.id.desc())
                                 .offset(offset).limit(limit))).scalars())


async def photos_of(s: AsyncSession, reviews: list[Review]) -> dict[int, list[Media]]:
    by_ref = await media.of_refs(s, [ref(r.id) for r in reviews if r.photo_count])
    return {r.id: by_ref.get(ref(r.id), []) for r in reviews}


def masked(name: str) -> str:
    """An anonymous reviewer's name: the first character and stars (小美 -> 小***)."""
    return (name[:1] or "*") + "***"


async def author_names(s: AsyncSession, reviews: list[Review]) -> dict[int, str]:
    profiles = await accounts.profiles(s, {r.author_id for r in reviews})
    out = {}
    for r in reviews:
        p = profiles.get(r.author_id)
        name = (p.nickname or p.masked_phone) if p else "***"
        out[r.id] = masked(name) if r.anonymous else name
    return out


async def to_review(s: AsyncSession, buyer_id: int, *, limit: int = 50) -> list[tuple[Order, OrderLine]]:
    """The buyer's received lines not yet reviewed (and not refunded in full), newest order first."""
    rows = await s.execute(
        select(Order, OrderLine).join(OrderLine, OrderLine.order_id == Order.id)
        .where(Order.buyer_id == buyer_id, Order.status.in_(REVIEWABLE),
               OrderLine.refunded_qty < OrderLine.quantity,
               ~exists().where(Review.line_id == OrderLine.id))
        .order_by(Order.received_at.desc(), Order.id.desc(), OrderLine.id).limit(limit))
    return [(o, x) for o, x in rows.all()]


async def count_to_review(s: AsyncSession, buyer_id: int) -> int:
    return int(await s.scalar(
        select(func.count(OrderLine.id)).join(Order, and_(Order.id == OrderLine.order_id))
        .where(Order.buyer_id == buyer_id, Order.status.in_(REVIEWABLE),
               OrderLine.refunded_qty < OrderLine.quantity,
               ~exists().where(Review.line_id == OrderLine.id))) or 0)


async def mine(s: AsyncSession, author_id: int, *, limit: int = 50) -> list[Review]:
    return list((await s.execute(select(Review).where(Review.author_id == author_id)
                                 .order_by(Review.id.desc()).limit(limit))).scalars())


async def for_seller(s: AsyncSession, *, supplier_id: int | None, shop_id: int | None, limit: int = 100,
                     ) -> list[Review]:
    """Reviews a seller may answer: of their supplier's orders, or sold through their shop."""
    conds = []
    if supplier_id is not None:
        conds.append(Review.supplier_id == supplier_id)
    if shop_id is not None:
        conds.append(Review.shop_id == shop_id)
    if not conds:
        return []
    return list((await s.execute(select(Review).where(or_(*conds))
                                 .order_by(Review.reply_body.is_not(None), Review.id.desc()).limit(limit))).scalars())
