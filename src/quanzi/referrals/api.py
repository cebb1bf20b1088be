"""Share links for distributors: sign a link to a shop, a product or a campaign."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import Field

from quanzi.accounts.deps import CurrentUser
from quanzi.distribution import service as distribution
from quanzi.distribution.errors import NotADistributor
from quanzi.kit.clock import clock
from quanzi.kit.deps import DB, AppSettings
from quanzi.kit.schemas import Id, In, Out
from quanzi.kit import sharetokens as tokens

router = APIRouter(prefix="/api/share-links", tags=["distribution"])


class ShareLinkIn(In):
    kind: Annotated[str, Field(pattern=r"^[spcgb]$")]
    target_id: Id


class ShareLinkOut(Out):
    token: str
    url: str
    poster_url: str


@router.post("", status_code=201)
async def create_share_link(body: ShareLinkIn, db: DB, me: CurrentUser, settings: AppSettings) -> ShareLinkOut:
    async with db.read() as s:
        if not await distribution.is_active_distributor(s, me.user_id):
            raise NotADistributor()
    token = tokens.issue(settings.secret_key, me.user_id, body.kind, body.target_id, clock.now())
    return ShareLinkOut(token=token, url=f"{settings.public_url.rstrip('/')}/r/{token}",
                        poster_url=f"/posters/{body.kind}/{body.target_id}.png")
