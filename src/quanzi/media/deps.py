"""What routes of any domain use to take uploads: the configured storage, and reading upload files with the
size limit applied while reading (a 2 GB "photo" is never read into memory)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, UploadFile

from quanzi.config import Settings
from quanzi.media import service
from quanzi.media.errors import TooLarge
from quanzi.media.images import Prepared
from quanzi.media.limits import size_text
from quanzi.media.storage import Storage, make_storage

CHUNK = 256 * 1024


def get_storage(request: Request) -> Storage:
    """The storage of this app, built from its settings on first use."""
    storage = getattr(request.app.state, "media_storage", None)
    if storage is None:
        storage = request.app.state.media_storage = make_storage(request.app.state.settings)
    return storage


MediaStorage = Annotated[Storage, Depends(get_storage)]


async def read_limited(upload: UploadFile, max_bytes: int) -> bytes:
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise TooLarge(limit=size_text(max_bytes), max_bytes=max_bytes)
        parts.append(chunk)
    return b"".join(parts)


def real_files(files: list[UploadFile] | None) -> list[UploadFile]:
    """A form's file inputs without the empty part a browser sends when nothing was chosen."""
    return [f for f in files or [] if f.filename or (f.size or 0) > 0]


async def receive(request: Request, user_id: int, files: list[UploadFile], *, max_files: int) -> list[Prepared]:
    """Read, validate, re-encode and store the uploads of one request. Raises before anything is stored if
    any file is refused. The caller then records them (`service.record`) in its transaction."""
    from quanzi.media.errors import TooManyFiles

    if not files:
        return []
    if len(files) > max_files:
        raise TooManyFiles(max=max_files)
    settings: Settings = request.app.state.settings
    # Re-encoding costs CPU: a person gets a budget of files per hour (shared by every kind of upload).
    await request.app.state.limiter.hit(settings.media_upload_limit_per_user, "media-upload", str(user_id))
    blobs = [await read_limited(f, settings.media_max_bytes) for f in files]
    items = await service.prepare_all(blobs, max_pixels=settings.media_max_pixels, max_files=max_files)
    await service.store_all(get_storage(request), items)
    return items
