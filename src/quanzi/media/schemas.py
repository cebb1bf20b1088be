from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from quanzi.kit.schemas import Id, Out
from quanzi.media.models import Media


class MediaOut(Out):
    id: int
    purpose: str
    width: int
    height: int
    format: str
    content_hash: str = Field(description="SHA-256 of the uploaded bytes")
    url: str = Field(description="The re-encoded image (longest side at most 2048 px)")
    thumb_url: str = Field(description="Longest side 240 px")
    medium_url: str = Field(description="Longest side 750 px")
    attached: bool
    created_at: datetime

    @classmethod
    def of(cls, m: Media) -> MediaOut:
        return cls(id=m.id, purpose=m.purpose, width=m.width, height=m.height, format=m.format,
                   content_hash=m.content_hash, url=m.url("full"), thumb_url=m.url("240"), medium_url=m.url("750"),
                   attached=m.ref is not None, created_at=m.created_at)


MediaIds = Annotated[list[Id], Field(max_length=9)]
