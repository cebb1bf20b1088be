"""The me page's settings for API clients (H5, mini-program): the privacy switch."""

from __future__ import annotations

from fastapi import APIRouter

from quanzi.accounts import service as accounts
from quanzi.accounts.deps import CurrentUser
from quanzi.kit.deps import DB
from quanzi.me.schemas import PrivacyIn, PrivacyOut

router = APIRouter(prefix="/api/me", tags=["me"])


@router.get("/privacy")
async def get_privacy(db: DB, me: CurrentUser) -> PrivacyOut:
    async with db.read() as s:
        return PrivacyOut(show_phone_to_shops=await accounts.shows_phone_to_shops(s, me.user_id))


@router.put("/privacy")
async def put_privacy(body: PrivacyIn, db: DB, me: CurrentUser) -> PrivacyOut:
    async with db.write() as s:
        await accounts.set_show_phone_to_shops(s, me.user_id, body.show_phone_to_shops)
    return PrivacyOut(show_phone_to_shops=body.show_phone_to_shops)
