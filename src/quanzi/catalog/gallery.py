"""Product pictures: uploads attached to a product in order; the first is the product's main image (the
`image_url` every list, cart and order line shows)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.catalog.models import Product
from quanzi.media import service as media
from quanzi.media.errors import TooManyFiles
from quanzi.media.images import Prepared
from quanzi.media.models import Media
from quanzi.media.storage import Storage

MAX_IMAGES = media.LIMITS["product"]


def ref(product_id: int) -> str:
    return f"product:{product_id}"


async def images(s: AsyncSession, product_id: int) -> list[Media]:
    return await media.of_ref(s, ref(product_id))


async def _main(s: AsyncSession, product: Product) -> None:
    imgs = await images(s, product.id)
    product.image_url = imgs[0].url("750") if imgs else None


async def room_left(s: AsyncSession, product_id: int) -> int:
    return await media.room_left(s, "product", ref(product_id))


async def add(s: AsyncSession, product: Product, owner_id: int, *, media_ids: list[int] | None = None,
              photos: list[Prepared] | None = None, storage: Storage | None = None) -> list[Media]:
    """Append pictures (uploads made before, or just stored by a console form) after the existing ones."""
    have = len(await images(s, product.id))
    n = len(media_ids or []) + len(photos or [])
    if have + n > MAX_IMAGES:
        raise TooManyFiles(max=MAX_IMAGES)
    added = await media.attach(s, owner_id, media_ids or [], "product", ref(product.id), start=have)
    if photos:
        assert storage is not None
        rows = await media.record(s, storage, owner_id, "product", photos, ref=ref(product.id))
        for i, m in enumerate(rows):
            m.position = have + len(added) + i
        added += rows
    await s.flush()
    await _main(s, product)
    return added


async def remove(s: AsyncSession, product: Product, media_id: int) -> None:
    await media.detach(s, media_id, ref(product.id))
    await _main(s, product)


async def make_main(s: AsyncSession, product: Product, media_id: int) -> None:
    imgs = await images(s, product.id)
    chosen = next((m for m in imgs if m.id == media_id), None)
    if chosen is None:
        from quanzi.media.errors import MediaNotFound

        raise MediaNotFound(media_id=media_id)
    for pos, m in enumerate([chosen] + [m for m in imgs if m.id != media_id]):
        m.position = pos
    await s.flush()
    await _main(s, product)
