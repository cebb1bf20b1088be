"""Real image files made in the test: good ones with EXIF, and broken ones as they arrive in real life."""

from __future__ import annotations

import struct
import zipfile
import zlib
from io import BytesIO

from PIL import Image


def jpeg(w: int = 640, h: int = 480, *, color: tuple[int, int, int] = (220, 60, 40), exif_orientation: int | None = None,
         gps: bool = False) -> bytes:
    img = Image.new("RGB", (w, h), color)
    img.paste((20, 20, 200), (0, 0, w // 4, h // 4))  # a blue corner, to see where the top-left went
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0110] = "Model-X"  # Model
    if exif_orientation:
        exif[0x0112] = exif_orientation
    if gps:
        exif[0x8825] = {1: "N", 2: (31.0, 13.0, 0.0), 3: "E", 4: (121.0, 28.0, 0.0)}
    buf = BytesIO()
    img.save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


def png(w: int = 300, h: int = 200, *, mode: str = "RGB") -> bytes:
    buf = BytesIO()
    Image.new(mode, (w, h), (10, 200, 10, 128) if mode == "RGBA" else (10, 200, 10)).save(buf, "PNG")
    return buf.getvalue()


def webp(w: int = 320, h: int = 240) -> bytes:
    buf = BytesIO()
    Image.new("RGB", (w, h), (90, 90, 200)).save(buf, "WEBP")
    return buf.getvalue()


def gif() -> bytes:
    buf = BytesIO()
    Image.new("RGB", (40, 40), (255, 0, 0)).save(buf, "GIF")
    return buf.getvalue()


def bmp() -> bytes:
    buf = BytesIO()
    Image.new("RGB", (40, 40), (255, 0, 0)).save(buf, "BMP")
    return buf.getvalue()


def truncated_jpeg() -> bytes:
    data = jpeg(800, 600)
    return data[: len(data) * 2 // 3]  # the upload stopped two thirds of the way


def png_bad_crc(chunk: bytes = b"IDAT") -> bytes:
    """A PNG whose `chunk` has a wrong CRC (one bit flipped in the stored checksum)."""
    data = bytearray(png())
    pos = 8
    while pos < len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        if data[pos + 4:pos + 8] == chunk:
            crc_at = pos + 8 + length
            data[crc_at] ^= 0x01
            return bytes(data)
        pos += 12 + length
    raise AssertionError(f"no {chunk!r} chunk")


def zip_file() -> bytes:
    buf = BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("evil.txt", "not a picture")
    return buf.getvalue()


def jpeg_zip_polyglot() -> bytes:
    """A valid JPEG with a ZIP appended: opens as an image and as an archive."""
    return jpeg(200, 150) + zip_file()


def html_then_jpeg() -> bytes:
    """HTML first, a JPEG after it: a browser sniffing it would run the script."""
    return b"<html><script>alert(1)</script></html>" + jpeg(50, 50)


def png_header_bomb(width: int, height: int) -> bytes:
    """A PNG that declares `width`×`height` pixels in a few hundred bytes (a decompression bomb's header,
    with valid CRCs and a small IDAT of zeros)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + \
        chunk(b"IEND", b"")


def real_bomb_png(width: int, height: int) -> bytes:
    """A complete, valid greyscale PNG of zeros: tiny on disk, width×height bytes once decoded."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = (b"\x00" + b"\x00" * width) * height
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
