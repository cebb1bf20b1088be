"""Reviews JSON API: write a review of a received line, list a product's reviews, the lines still to review,
and the seller's one reply."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import CurrentUser
from quanzi.kit.deps import DB
from quanzi.kit.schemas import PathId
from quanzi.reviews import service
from quanzi.reviews.models import Review
from quanzi.reviews.schemas import PendingLineOut, PhotoOut, ReplyIn, ReviewIn, ReviewOut, ReviewPage

router = APIRouter(prefix="/api", tags=["reviews"])
PAGE_SIZE = 10


async def review_out(s: AsyncSession, reviews: list[Review]) -> list[ReviewOut]:
    names = await service.author_names(s, reviews)
    photos = await service.photos_of(s, reviews)
    return [ReviewOut(id=r.id, product_id=r.product_id, line_id=r.line_id, sku_label=r.sku_label,
                      author=names[r.id], verified_purchase=True, stars=r.stars, body=r.body, anonymous=r.anonymous,
                      photos=[PhotoOut(url=m.url("full"), thumb_url=m.url("240")) for m in photos[r.id]],
                      created_at=r.created_at, reply=r.reply_body, reply_role=r.reply_role, replied_at=r.replied_at)
            for r in reviews]


@router.post("/reviews", status_code=201)
async def write_review(body: ReviewIn, db: DB, me: CurrentUser) -> ReviewOut:
    async with db.write() as s:
        r = await service.write(s, me.user_id, body.line_id, stars=body.stars, body=body.body,
                                anonymous=body.anonymous, media_ids=body.media_ids)
        return (await review_out(s, [r]))[0]


@router.get("/reviews/pending")
async def pending(db: DB, me: CurrentUser) -> list[PendingLineOut]:
    async with db.read() as s:
        return [PendingLineOut(order_id=o.id, line_id=x.id, product_id=x.product_id, title=x.title,
                               sku_label=x.sku_label, image_url=x.image_url, received_at=o.received_at)
                for o, x in await service.to_review(s, me.user_id)]


@router.get("/products/{product_id}/reviews")
async def product_reviews(product_id: PathId, db: DB,
                          page: Annotated[int, Query(ge=1, le=1000)] = 1) -> ReviewPage:
    async with db.read() as s:
        summ = await service.summary(s, product_id)
        items = await service.for_product(s, product_id, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        return ReviewPage(count=summ.count, average_stars=summ.average, page=page,
                          pages=max(1, -(-summ.count // PAGE_SIZE)), items=await review_out(s, items))


@router.post("/reviews/{review_id}/reply")
async def reply(review_id: PathId, body: ReplyIn, db: DB, me: CurrentUser) -> ReviewOut:
    async with db.write() as s:
        r = await service.reply(s, review_id, me.user_id, body.body)
        return (await review_out(s, [r]))[0]
