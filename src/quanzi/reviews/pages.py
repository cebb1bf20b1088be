"""Storefront review pages: the fan's "to review" list (the 待评价 tab of my orders), the review form with
photos, a product's reviews (a section on the product page and the full list). Rules in reviews.service."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import CurrentUser, OptionalUser
from quanzi.accounts.service import Principal
from quanzi.catalog import service as catalog
from quanzi.catalog.pages import product_section
from quanzi.kit import i18n
from quanzi.kit.db import Database
from quanzi.kit.deps import DB
from quanzi.kit.errors import DomainError
from quanzi.kit.schemas import MAX_ID, PathId
from quanzi.kit.web import render
from quanzi.media.deps import MediaStorage, real_files, receive
from quanzi.orders import pages as order_pages
from quanzi.orders import service as orders
from quanzi.reviews import service
from quanzi.reviews.models import Review
from quanzi.reviews.schemas import BODY_MAX

router = APIRouter(include_in_schema=False)

PENDING = "/reviews/pending"
PAGE_SIZE = 10
SECTION_SHOWN = 3

order_pages.own_tab("to_review", PENDING, service.count_to_review)


def star_words() -> dict[int, str]:
    _ = i18n.gettext
    return {5: _("Excellent"), 4: _("Good"), 3: _("Okay"), 2: _("Poor"), 1: _("Very poor")}


async def _shown(s: AsyncSession, reviews: list[Review]) -> dict[str, Any]:
    return {"reviews": reviews, "names": await service.author_names(s, reviews),
            "photos": await service.photos_of(s, reviews)}


@product_section
async def reviews_section(s: AsyncSession, product_id: int) -> tuple[str, dict[str, Any]]:
    summary = await service.summary(s, product_id)
    newest = await service.for_product(s, product_id, limit=SECTION_SHOWN) if summary.count else []
    return "reviews/_section.html", {"product_id": product_id, "summary": summary, **await _shown(s, newest)}


@router.get("/p/{product_id}/reviews")
async def product_reviews(request: Request, product_id: PathId, db: DB, me: OptionalUser,
                          page: Annotated[int, Query(ge=1, le=1000)] = 1,
                          written: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None) -> Response:
    async with db.read() as s:
        product, _skus = await catalog.published_product(s, product_id)
        summary = await service.summary(s, product_id)
        items = await service.for_product(s, product_id, offset=(page - 1) * PAGE_SIZE, limit=PAGE_SIZE)
        shown = await _shown(s, items)
    return render(request, "reviews/product.html", {
        "product": product, "summary": summary, **shown, "page": page,
        "pages": max(1, -(-summary.count // PAGE_SIZE)), "tab": "search",
        "written": written is not None and any(r.id == written and me and r.author_id == me.user_id for r in items),
    })


@router.get(PENDING)
async def pending(request: Request, db: DB, me: CurrentUser) -> Response:
    async with db.read() as s:
        lines = await service.to_review(s, me.user_id)
        written = await service.mine(s, me.user_id, limit=20)
        shown = await _shown(s, written)
        badge = await order_pages.owned_tab_badges(s, me.user_id)
    return render(request, "reviews/pending.html", {
        "lines": lines, **shown, "tabs": order_pages.tab_names(), "tab_links": order_pages.tab_links(),
        "current": "to_review", "badge": badge, "tab": "orders",
    })


async def _form(request: Request, db: Database, me: Principal, line_id: int, *, error: str | None = None,
                form: dict[str, Any] | None = None, status: int = 200) -> Response:
    blocked = None
    async with db.read() as s:
        try:
            order, line = await service.reviewable_line(s, me.user_id, line_id)
        except DomainError as exc:
            if exc.status == 404:
                raise
            blocked = exc.text(i18n.short())
            line = await orders.get_line(s, line_id)
            order = await orders.order_for_buyer(s, line.order_id, me.user_id)
    return render(request, "reviews/form.html", {
        "order": order, "line": line, "blocked": blocked, "error": error, "words": star_words(),
        "form": {"stars": 5, "body": "", "anonymous": False, **(form or {})}, "body_max": BODY_MAX,
        "max_photos": service.MAX_PHOTOS, "tab": "orders",
    }, status_code=status)


@router.get("/reviews/new")
async def new_review(request: Request, db: DB, me: CurrentUser,
                     line_id: Annotated[int, Query(ge=1, le=MAX_ID)]) -> Response:
    return await _form(request, db, me, line_id)


@router.post("/reviews/new")
async def submit_review(request: Request, db: DB, me: CurrentUser, storage: MediaStorage,
                        line_id: Annotated[int, Form(ge=1, le=MAX_ID)],
                        stars: Annotated[int, Form(ge=0, le=9)] = 0,
                        body: Annotated[str, Form(max_length=4000)] = "",
                        anonymous: Annotated[str, Form(max_length=5)] = "",
                        photos: Annotated[list[UploadFile] | None, File()] = None) -> Response:
    form = {"stars": stars, "body": body, "anonymous": bool(anonymous)}
    if not 1 <= stars <= 5:
        return await _form(request, db, me, line_id, form=form, status=422,
                           error=i18n.gettext("Choose from 1 to 5 stars."))
    if len(body.strip()) > BODY_MAX:
        return await _form(request, db, me, line_id, form=form, status=422,
                           error=i18n.gettext("At most %(n)s characters.") % {"n": BODY_MAX})
    try:
        async with db.read() as s:  # refuse before the photos are stored
            await service.reviewable_line(s, me.user_id, line_id)
        items = await receive(request, me.user_id, real_files(photos), max_files=service.MAX_PHOTOS)
        async with db.write() as s:
            review = await service.write(s, me.user_id, line_id, stars=stars, body=body, anonymous=bool(anonymous),
                                         photos=items, storage=storage)
            product_id, review_id = review.product_id, review.id
    except DomainError as exc:
        if exc.status == 404 and exc.code != "media.not_found":
            raise
        return await _form(request, db, me, line_id, form=form, status=exc.status, error=exc.text(i18n.short()))
    return RedirectResponse(f"/p/{product_id}/reviews?written={review_id}#review-{review_id}", status_code=303)
