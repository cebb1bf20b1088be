"""A shop's avatar and banner: one upload each, attached to the shop; a new one replaces the old."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.media import service as media
from quanzi.media.images import Prepared
from quanzi.media.storage import Storage
from quanzi.shops.models import Shop

KINDS = ("avatar", "banner")
# The variant each is shown at: an avatar is small, a banner spans the phone's width.
VARIANT = {"avatar": "240", "banner": "750"}


def ref(shop_id: int, kind: str) -> str:
    return f"shop_{kind}:{shop_id}"


async def set_picture(s: AsyncSession, shop: Shop, owner_id: int, kind: str, *, media_id: int | None = None,
                      photo: Prepared | None = None, storage: Storage | None = None) -> str:
    """Make an upload (`media_id`, made before) or a just-stored `photo` the shop's `kind` picture."""
    assert kind in KINDS and (media_id is None) != (photo is None)
    purpose, where = f"shop_{kind}", ref(shop.id, kind)
    old = await media.of_ref(s, where)
    for m in old:
        await media.detach(s, m.id, where)
    if media_id is not None:
        (m,) = await media.attach(s, owner_id, [media_id], purpose, where)
    else:
        assert storage is not None and photo is not None
        (m,) = await media.record(s, storage, owner_id, purpose, [photo], ref=where)
    url = m.url(VARIANT[kind])
    if kind == "avatar":
        shop.avatar_url = url
    else:
        shop.banner_url = url
    return url
