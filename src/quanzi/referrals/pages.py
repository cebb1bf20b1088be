"""Opening a share link: verify, record the visit, bind (or remember the link until login), land."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.deps import OptionalUser
from quanzi.accounts.pages import SHARE_COOKIE
from quanzi.catalog import service as catalog
from quanzi.distribution import service as distribution
from quanzi.kit import i18n
from quanzi.kit.clock import clock
from quanzi.kit.deps import DB, AppSettings
from quanzi.kit.errors import DomainError
from quanzi.kit.web import render
from quanzi.kit import sharetokens as tokens
from quanzi.referrals import links, service
from quanzi.shops import service as shops

router = APIRouter(include_in_schema=False)


BROKEN = "link=partial"  # base.html says plainly that the link was incomplete and credits nobody


async def _salvaged_target(s: AsyncSession, token: str) -> str | None:
    found = tokens.salvage(token)
    if found is None:
        return None
    kind, target_id = found
    try:
        if kind == "p":  # the product itself, not a sharer's shop: the sharer part cannot be trusted
            await catalog.published_product(s, target_id)
            return f"/p/{target_id}?{BROKEN}"
        if kind == "s":
            await shops.public_shop(s, target_id)
            return f"/s/{target_id}?{BROKEN}"
    except DomainError:
        return None
    if kind in ("g", "b"):  # their pages answer a friendly 404 themselves if the group or bargain is gone
        return {"g": f"/groupbuy/groups/{target_id}", "b": f"/bargains/{target_id}"}[kind] + f"?{BROKEN}"
    return None


@router.get("/r/{token}")
async def open_share_link(token: str, request: Request, db: DB, settings: AppSettings, me: OptionalUser) -> Response:
    try:
        async with db.write() as s:
            days = (await distribution.get_policy(s)).share_token_days
            share = tokens.verify(settings.secret_key, token, clock.now(), days)
            await service.record_visit(s, share, me.user_id if me else None)
            if me is not None:
                await service.bind(s, me.user_id, share, is_new_user=False)
            target = await links.landing_url(s, share)
    except DomainError as exc:
        # A link cut short or expired (pasted from a chat, say) still opens what it pointed to when that can be
        # read from it — without crediting anyone, and saying so; otherwise a page with ways on.
        async with db.read() as s:
            target = await _salvaged_target(s, token)
        if target is not None:
            resp = RedirectResponse(target, status_code=303)
        else:
            resp = render(request, "referrals/bad_link.html", {"message": exc.text(i18n.short()), "code": exc.code},
                          status_code=exc.status)
        resp.delete_cookie(SHARE_COOKIE, path="/")
        return resp
    resp = RedirectResponse(target, status_code=303)
    if me is None:
        resp.set_cookie(SHARE_COOKIE, token, max_age=days * 86400, httponly=True, samesite="lax", path="/",
                        secure=settings.cookie_secure)
    return resp
