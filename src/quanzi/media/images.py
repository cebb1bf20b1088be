"""Turning uploaded bytes into images we are willing to serve: sniff the type from the bytes, refuse what
is not a JPEG/PNG/WebP, damaged or too big to decode, then re-encode with Pillow (orientation applied,
EXIF and every other metadata dropped, trailing data of polyglots gone) and make the thumbnails.

Pure functions on bytes (no database, no storage), run in a worker thread by the callers: decoding is CPU.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from io import BytesIO

from PIL import Image, ImageOps, UnidentifiedImageError

from quanzi.media.errors import Damaged, Empty, NotAnImage, TooManyPixels, UnsupportedType

# Sniffed from the first bytes, never from the name or the client's content type.
SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
)
# Images people have but we don't take (GIF: animation and 256 colours are not worth a second pipeline).
OTHER_IMAGE_FORMATS = ("GIF", "BMP", "TIFF", "ICO", "PSD", "JPEG2000", "AVIF", "TGA", "PCX")
HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"heim", b"heis", b"mif1", b"msf1", b"avif")

FULL_MAX_SIDE = 2048  # the "full" variant: large enough for any phone screen, small enough to load
THUMB_SIDES = (750, 240)  # product/review pages, lists
JPEG_QUALITY = 85


@dataclass
class Variant:
    name: str
    data: bytes
    width: int
    height: int


@dataclass
class Prepared:
    """An accepted upload, ready to store."""

    content_hash: str
    original_bytes: int
    format: str  # jpeg | png
    width: int
    height: int
    variants: list[Variant] = field(default_factory=list)

    @property
    def ext(self) -> str:
        return "jpg" if self.format == "jpeg" else "png"

    @property
    def content_type(self) -> str:
        return f"image/{self.format}"

    def key(self, variant: str) -> str:
        return f"{self.content_hash[:2]}/{self.content_hash}/{variant}.{self.ext}"


def sniff(data: bytes) -> str | None:
    """The accepted format the bytes start as, or None."""
    for magic, fmt in SIGNATURES:
        if data.startswith(magic):
            return fmt
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _other_kind(data: bytes) -> str | None:
    """The name of an image format we recognise but do not accept (for a clearer refusal)."""
    if len(data) >= 12 and data[4:8] == b"ftyp" and data[8:12] in HEIF_BRANDS:
        return "AVIF" if data[8:12] == b"avif" else "HEIC"
    formats = [f for f in OTHER_IMAGE_FORMATS if f in Image.OPEN and f != "TGA"]  # TGA has no magic: too eager
    try:
        with Image.open(BytesIO(data), formats=formats) as im:
            return str(im.format)
    except Exception:  # noqa: BLE001 - anything Pillow cannot name is simply "not an image"
        return None


_BOMB_SIZE = re.compile(r"\((\d+)x(\d+) pixels\)")


def _check_pixels(width: int, height: int, max_pixels: int) -> None:
    if width * height > max_pixels:
        raise TooManyPixels(width=width, height=height, max_mp=round(max_pixels / 1_000_000, 1))


def prepare(data: bytes, *, max_pixels: int) -> Prepared:
    """Validate and re-encode one upload. Raises a media DomainError for anything we refuse."""
    if not data:
        raise Empty()
    fmt = sniff(data)
    if fmt is None:
        kind = _other_kind(data)
        if kind is not None:
            raise UnsupportedType(kind=kind)
        raise NotAnImage()
    # 1. Header only: the dimensions are known before a single pixel is decoded (decompression bombs).
    try:
        with Image.open(BytesIO(data), formats=[fmt]) as probe:
            _check_pixels(probe.width, probe.height, max_pixels)
            probe.verify()  # PNG: every chunk's CRC; others: structure
    except Image.DecompressionBombError as exc:  # beyond twice Pillow's own MAX_IMAGE_PIXELS
        m = _BOMB_SIZE.search(str(exc))
        raise TooManyPixels(width=m.group(1) if m else "?", height=m.group(2) if m else "?",
                            max_mp=round(max_pixels / 1_000_000, 1)) from exc
    except TooManyPixels:
        raise
    except Exception as exc:  # noqa: BLE001 - Pillow raises SyntaxError, OSError, struct.error… on bad files
        raise Damaged() from exc
    # 2. Decode every pixel (a truncated file fails here: Pillow's LOAD_TRUNCATED_IMAGES stays off).
    try:
        with Image.open(BytesIO(data), formats=[fmt]) as im:
            im.seek(0)  # animated WebP/PNG: the first frame
            im.load()
            icc = im.info.get("icc_profile")
            upright = ImageOps.exif_transpose(im)  # orientation applied before EXIF is dropped
            alpha = upright.mode in ("RGBA", "LA", "PA") or (upright.mode == "P" and "transparency" in upright.info)
            img = upright.convert("RGBA" if alpha else "RGB")
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise Damaged() from exc
    out_format = "png" if alpha else "jpeg"
    full = img.copy()
    full.thumbnail((FULL_MAX_SIDE, FULL_MAX_SIDE), Image.Resampling.LANCZOS)
    prepared = Prepared(content_hash=hashlib.sha256(data).hexdigest(), original_bytes=len(data), format=out_format,
                        width=full.width, height=full.height)
    prepared.variants.append(Variant("full", _encode(full, out_format, icc), full.width, full.height))
    for side in THUMB_SIDES:
        thumb = full.copy()
        thumb.thumbnail((side, side), Image.Resampling.LANCZOS)
        prepared.variants.append(Variant(str(side), _encode(thumb, out_format, icc), thumb.width, thumb.height))
    return prepared


def _encode(img: Image.Image, fmt: str, icc: bytes | None) -> bytes:
    buf = BytesIO()
    # No exif= argument: nothing of the original's metadata (GPS, camera, time) is written. The colour
    # profile is kept (colours of wide-gamut phone photos would shift without it); it says nothing personal.
    extra = {"icc_profile": icc} if icc else {}
    if fmt == "jpeg":
        img.save(buf, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True, **extra)
    else:
        img.save(buf, "PNG", optimize=True, **extra)
    return buf.getvalue()
