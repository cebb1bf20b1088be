"""Console page for sellers' replies: the supplier sees reviews of its orders, the shopkeeper those of
orders that came through the shop; either may answer a review once."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from quanzi.accounts.deps import CurrentUser
from quanzi.catalog import service as catalog
from quanzi.kit.console import page, redirect, refused
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError, Forbidden
from quanzi.kit.i18n import _
from quanzi.kit.schemas import PathId
from quanzi.reviews import service
from quanzi.reviews.schemas import BODY_MAX
from quanzi.shops import service as shops

router = APIRouter(include_in_schema=False)
CONSOLE = "/console/reviews"


@router.get(CONSOLE)
async def reviews(request: Request, db: DB, me: CurrentUser) -> Response:
    if not me.roles.intersection({"supplier", "shopkeeper"}):
        raise Forbidden(roles=["supplier", "shopkeeper"])
    async with db.read() as s:
        sup = await catalog.supplier_of(s, me.user_id)
        shop = await shops.find_my_shop(s, me.user_id)
        items = await service.for_seller(s, supplier_id=sup.id if sup else None, shop_id=shop.id if shop else None)
        names = await service.author_names(s, items)
        photos = await service.photos_of(s, items)
    return page(request, "reviews/console.html", {
        "active": "reviews", "reviews": items, "names": names, "photos": photos, "body_max": BODY_MAX,
    })


@router.post(CONSOLE + "/{review_id}/reply")
async def reply(request: Request, review_id: PathId, db: DB, me: CurrentUser,
                body: Annotated[str, Form(max_length=4000)] = "") -> Response:
    anchor = f"{CONSOLE}#review-{review_id}"
    text = body.strip()
    if not text or len(text) > BODY_MAX:
        return refused(request, anchor, _("Not sent: a reply has 1 to %(n)s characters.") % {"n": BODY_MAX})
    try:
        async with db.write() as s:
            await service.reply(s, review_id, me.user_id, text)
    except DomainError as exc:
        if exc.status == 404:
            raise
        return refused(request, anchor, exc)
    return redirect(request, anchor, _("Reply published under the review."))
