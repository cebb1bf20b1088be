"""A cap on the size of multipart request bodies (uploads), applied before anything of the body is read.

The per-file limit (`media_max_bytes`) is checked while a route reads each file, but by then the form parser
has already spooled the whole body to disk: without this cap a single request could fill the disk. The cap
is what the largest legitimate form needs (six photos at the per-file limit, plus the form fields).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from quanzi.media.errors import TooLarge

MAX_FILES_PER_FORM = 9  # product pictures; reviews and after-sales take six
FORM_OVERHEAD = 1024 * 1024


def body_limit(max_file_bytes: int) -> int:
    return max_file_bytes * MAX_FILES_PER_FORM + FORM_OVERHEAD


def size_text(n: int) -> str:
    return f"{n / 1024 / 1024:.3g} MB" if n >= 1024 * 1024 else f"{max(n // 1024, 1)} KB"


class BodyTooLarge(Exception):
    pass


class UploadBodyLimit:
    """Refuse multipart bodies above the limit: by Content-Length at once (413), or, for a chunked body, by
    counting while it arrives (the read fails, so the parser stops)."""

    def __init__(self, app: ASGIApp, max_file_bytes: int) -> None:
        self.app = app
        self.max_file_bytes = max_file_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        if not headers.get(b"content-type", b"").lower().startswith(b"multipart/"):
            await self.app(scope, receive, send)
            return
        limit = body_limit(self.max_file_bytes)
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            from quanzi.kit.web import error_response

            err = TooLarge(limit=size_text(self.max_file_bytes), max_bytes=self.max_file_bytes)
            await error_response(Request(scope), err)(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(f"multipart body over {limit} bytes")
            return message

        await self.app(scope, counted, send)
