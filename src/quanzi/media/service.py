"""Media rules: record accepted uploads, attach them once to what uses them (owner and purpose checked),
and list what is attached. Validation and re-encoding live in images.py, keeping files in storage.py.

The order of an upload (DESIGN rule 3, no outside call inside a transaction): validate and re-encode,
store the files (content-addressed keys, so a retry writes the same bytes), then record the row in the
caller's transaction. A refused upload writes nothing; a transaction that rolls back afterwards leaves
only unreferenced files behind, never a row without its file.
"""

from __future__ import annotations

from typing import Any

import anyio
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.kit.clock import clock
from quanzi.kit.db import guarded_update
from quanzi.media.errors import AlreadyUsed, MediaNotFound, TooManyFiles, WrongPurpose
from quanzi.media.images import Prepared, prepare
from quanzi.media.models import PURPOSES, Media
from quanzi.media.storage import Storage

# How many images each use takes (after-sale and review photos: six, as the big platforms allow).
LIMITS = {"product": 9, "shop_avatar": 1, "shop_banner": 1, "aftersale": 6, "review": 6, "community_post": 9,
          "community_cover": 1}


async def prepare_all(blobs: list[bytes], *, max_pixels: int, max_files: int) -> list[Prepared]:
    """Validate and re-encode every file (in a worker thread: decoding is CPU); refuse the whole batch on the
    first bad one, so nothing of it is stored."""
    if len(blobs) > max_files:
        raise TooManyFiles(max=max_files)
    return [await anyio.to_thread.run_sync(lambda b=b: prepare(b, max_pixels=max_pixels)) for b in blobs]


async def store_all(storage: Storage, items: list[Prepared]) -> None:
    def put_all() -> None:
        for p in items:
            for v in p.variants:
                storage.put(p.key(v.name), v.data, p.content_type)

    await anyio.to_thread.run_sync(put_all)


async def record(s: AsyncSession, storage: Storage, owner_id: int, purpose: str, items: list[Prepared], *,
                 ref: str | None = None) -> list[Media]:
    """Rows for stored uploads, unattached (ref None) or attached to `ref` right away, in order."""
    assert purpose in PURPOSES, purpose
    now = clock.now()
    rows = []
    for i, p in enumerate(items):
        variants: dict[str, Any] = {v.name: {"key": p.key(v.name), "url": storage.url(p.key(v.name)),
                                             "width": v.width, "height": v.height, "bytes": len(v.data)}
                                    for v in p.variants}
        m = Media(owner_id=owner_id, purpose=purpose, ref=ref, position=i, content_hash=p.content_hash,
                  format=p.format, width=p.width, height=p.height, original_bytes=p.original_bytes,
                  stored_bytes=sum(len(v.data) for v in p.variants), variants=variants, created_at=now,
                  attached_at=now if ref else None)
        s.add(m)
        rows.append(m)
    await s.flush()
    return rows


async def attach(s: AsyncSession, owner_id: int, media_ids: list[int], purpose: str, ref: str, *,
                 start: int = 0) -> list[Media]:
    """Attach the caller's own unattached uploads to `ref`, in the given order. Others' ids are 404 (never
    reveal that they exist); an upload for another purpose or already attached is a 409."""
    if not media_ids:
        return []
    if len(set(media_ids)) != len(media_ids):
        raise AlreadyUsed()
    if len(media_ids) > LIMITS[purpose]:
        raise TooManyFiles(max=LIMITS[purpose])
    found = {m.id: m for m in (await s.execute(select(Media).where(Media.id.in_(media_ids)))).scalars()}
    for mid in media_ids:
        m = found.get(mid)
        if m is None or m.owner_id != owner_id:
            raise MediaNotFound(media_id=mid)
    for m in found.values():
        if m.purpose != purpose:
            raise WrongPurpose(media_id=m.id)
    now = clock.now()
    for pos, mid in enumerate(media_ids, start=start):
        # Guarded: two requests attaching the same upload cannot both succeed.
        n = await guarded_update(s, update(Media).where(Media.id == mid, Media.owner_id == owner_id,
                                                        Media.ref.is_(None))
                                 .values(ref=ref, position=pos, attached_at=now))
        if n != 1:
            raise AlreadyUsed(media_id=mid)
    for m in found.values():
        await s.refresh(m)
    return [found[mid] for mid in media_ids]


async def of_refs(s: AsyncSession, refs: list[str]) -> dict[str, list[Media]]:
    """What is attached to each ref, in position order (one query for a page of reviews)."""
    out: dict[str, list[Media]] = {r: [] for r in refs}
    if refs:
        rows = (await s.execute(select(Media).where(Media.ref.in_(refs))
                                .order_by(Media.ref, Media.position, Media.id))).scalars()
        for m in rows:
            out[str(m.ref)].append(m)
    return out


async def of_ref(s: AsyncSession, ref: str) -> list[Media]:
    return (await of_refs(s, [ref]))[ref]


async def get_own(s: AsyncSession, media_id: int, owner_id: int) -> Media:
    m = await s.get(Media, media_id)
    if m is None or m.owner_id != owner_id:
        raise MediaNotFound(media_id=media_id)
    return m


async def detach(s: AsyncSession, media_id: int, ref: str) -> None:
    """Take an upload off what uses it (the caller has checked it may change `ref`)."""
    n = await guarded_update(s, update(Media).where(Media.id == media_id, Media.ref == ref)
                             .values(ref=None, attached_at=None))
    if n != 1:
        raise MediaNotFound(media_id=media_id)


async def room_left(s: AsyncSession, purpose: str, ref: str) -> int:
    return LIMITS[purpose] - len(await of_ref(s, ref))
