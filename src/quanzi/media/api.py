"""Media JSON API: upload an image for a purpose (multipart), read your own upload. Attaching happens in the
API of what uses it (a review, a product, a shop, an after-sale) with the returned id."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Request, UploadFile

from quanzi.accounts.deps import CurrentUser
from quanzi.kit.deps import DB
from quanzi.kit.errors import Forbidden
from quanzi.kit.schemas import ErrorOut, PathId
from quanzi.media import service
from quanzi.media.deps import MediaStorage, receive
from quanzi.media.schemas import MediaOut

router = APIRouter(prefix="/api/media", tags=["media"])

# Who may upload for what: uploads are attached later by their owner, but nobody needs a product image
# who cannot sell, nor a shop banner who has no shop.
ROLES = {"product": {"supplier", "operator"}, "shop_avatar": {"shopkeeper"}, "shop_banner": {"shopkeeper"},
         "community_cover": {"shopkeeper"}}


UPLOAD_ERRORS: dict[int | str, dict[str, object]] = {
    413: {"model": ErrorOut, "description": "The file is larger than the limit (media.too_large)"},
    415: {"model": ErrorOut, "description": "An image type that is not accepted (media.unsupported_type)"},
    503: {"model": ErrorOut, "description": "Storage unavailable (media.storage_unavailable)"},
}


@router.post("", status_code=201, response_model=MediaOut, responses=UPLOAD_ERRORS)
async def upload(request: Request, db: DB, me: CurrentUser, storage: MediaStorage,
                 purpose: Annotated[Literal["product", "shop_avatar", "shop_banner", "aftersale", "review",
                                            "community_post", "community_cover"], Form()],
                 file: Annotated[UploadFile, File(description="JPEG, PNG or WebP; the type is read from the bytes")],
                 ) -> MediaOut:
    if purpose in ROLES and not me.roles.intersection(ROLES[purpose]):
        raise Forbidden(roles=sorted(ROLES[purpose]))
    items = await receive(request, me.user_id, [file], max_files=1)
    async with db.write() as s:
        (m,) = await service.record(s, storage, me.user_id, purpose, items)
        return MediaOut.of(m)


@router.get("/{media_id}")
async def get_media(media_id: PathId, db: DB, me: CurrentUser) -> MediaOut:
    async with db.read() as s:
        return MediaOut.of(await service.get_own(s, media_id, me.user_id))
