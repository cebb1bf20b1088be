"""Uploads through POST /api/media with real files: what is accepted is re-encoded (EXIF gone, orientation
applied, polyglot tails dropped) with thumbnails; what is refused has a stable code, a zh/en message, and
leaves no row and no file behind."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

import httpx
import pytest
from PIL import Image
from sqlalchemy import func, select

from quanzi.kit.db import Database
from quanzi.media.models import Media
from tests.conftest import make_user
from tests.media import images
from tests.media.conftest import stored_files


async def upload(client: httpx.AsyncClient, headers: dict[str, str], data: bytes, *, purpose: str = "review",
                 name: str = "photo.jpg", content_type: str = "image/jpeg", lang: str = "zh") -> httpx.Response:
    return await client.post(f"/api/media?lang={lang}", data={"purpose": purpose},
                             files={"file": (name, data, content_type)}, headers=headers)


async def media_rows(db: Database) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count(Media.id))) or 0)


@pytest.fixture
async def fan(db: Database) -> dict[str, str]:
    return (await make_user(db, "13900000011", nickname="小美"))[1]


async def test_jpeg_is_reencoded_without_exif_with_thumbnails(client: httpx.AsyncClient, db: Database,
                                                              fan: dict[str, str], media_dir: Path) -> None:
    original = images.jpeg(3000, 1000, gps=True)
    assert b"TestCam" in original and Image.open(BytesIO(original)).getexif()
    r = await upload(client, fan, original)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["format"] == "jpeg" and (body["width"], body["height"]) == (2048, 683)
    assert body["attached"] is False and len(body["content_hash"]) == 64
    for url, side in ((body["url"], 2048), (body["medium_url"], 750), (body["thumb_url"], 240)):
        assert url.startswith("/media/")
        served = await client.get(url)
        assert served.status_code == 200 and served.headers["content-type"] == "image/jpeg"
        img = Image.open(BytesIO(served.content))
        assert img.format == "JPEG" and max(img.size) == side
        assert not img.getexif() and b"TestCam" not in served.content and b"Exif" not in served.content
    assert len(stored_files(media_dir)) == 3
    async with db.read() as s:
        m = (await s.execute(select(Media))).scalar_one()
    assert m.purpose == "review" and m.original_bytes == len(original) and m.ref is None
    assert m.stored_bytes == sum(v["bytes"] for v in m.variants.values())
    assert (await client.get(f"/api/media/{m.id}", headers=fan)).json()["id"] == m.id


async def test_orientation_is_applied_before_exif_is_dropped(client: httpx.AsyncClient, fan: dict[str, str]) -> None:
    # Orientation 6: the camera held sideways; the picture must come out upright (portrait).
    r = await upload(client, fan, images.jpeg(400, 200, exif_orientation=6))
    assert r.status_code == 201, r.text
    assert (r.json()["width"], r.json()["height"]) == (200, 400)
    img = Image.open(BytesIO((await client.get(r.json()["url"])).content)).convert("RGB")
    # The blue corner was top-left of the sensor image; rotated 90° clockwise it is at the top right.
    assert img.getpixel((190, 10))[2] > 150 and img.getpixel((10, 10))[0] > 150


async def test_png_with_alpha_and_webp(client: httpx.AsyncClient, fan: dict[str, str]) -> None:
    r = await upload(client, fan, images.png(mode="RGBA"), name="logo.png", content_type="image/png")
    assert r.status_code == 201 and r.json()["format"] == "png"  # transparency kept
    assert Image.open(BytesIO((await client.get(r.json()["url"])).content)).mode == "RGBA"
    r = await upload(client, fan, images.webp(), name="a.webp", content_type="image/webp")
    assert r.status_code == 201 and r.json()["format"] == "jpeg"


async def test_type_comes_from_the_bytes_not_the_name(client: httpx.AsyncClient, fan: dict[str, str]) -> None:
    # A real PNG named .jpg and announced as text is still a PNG.
    r = await upload(client, fan, images.png(), name="x.jpg", content_type="text/plain")
    assert r.status_code == 201 and (r.json()["width"], r.json()["height"]) == (300, 200)


REFUSED = [
    ("text named .jpg", b"just some words, not a picture\n" * 20, "media.not_an_image", 422),
    ("zip named .jpg", images.zip_file(), "media.not_an_image", 422),
    ("html then jpeg", images.html_then_jpeg(), "media.not_an_image", 422),
    ("empty file", b"", "media.empty", 422),
    ("truncated jpeg", images.truncated_jpeg(), "media.damaged", 422),
    ("png, bad CRC in IHDR", images.png_bad_crc(b"IHDR"), "media.damaged", 422),
    ("png, bad CRC in IDAT", images.png_bad_crc(b"IDAT"), "media.damaged", 422),
    ("gif", images.gif(), "media.unsupported_type", 415),
    ("bmp", images.bmp(), "media.unsupported_type", 415),
    ("60000×60000 header", images.png_header_bomb(60_000, 60_000), "media.too_many_pixels", 422),
    ("20000×20000 header (Pillow would only warn)", images.png_header_bomb(20_000, 20_000),
     "media.too_many_pixels", 422),
]


@pytest.mark.parametrize(("label", "data", "code", "status"), REFUSED, ids=[r[0] for r in REFUSED])
async def test_refused_uploads_write_nothing(client: httpx.AsyncClient, db: Database, fan: dict[str, str],
                                            media_dir: Path, label: str, data: bytes, code: str, status: int) -> None:
    zh = await upload(client, fan, data)
    assert zh.status_code == status, zh.text
    assert zh.json()["error"]["code"] == code
    en = await upload(client, fan, data, lang="en")
    assert en.json()["error"]["code"] == code and en.json()["error"]["message"] != zh.json()["error"]["message"]
    assert any("\u4e00" <= ch <= "\u9fff" for ch in zh.json()["error"]["message"])
    assert await media_rows(db) == 0
    assert stored_files(media_dir) == []


async def test_polyglot_is_neutralised_by_reencoding(client: httpx.AsyncClient, fan: dict[str, str]) -> None:
    data = images.jpeg_zip_polyglot()
    assert b"PK\x03\x04" in data and b"evil.txt" in data
    r = await upload(client, fan, data)
    assert r.status_code == 201, r.text
    for key in ("url", "medium_url", "thumb_url"):
        stored = (await client.get(r.json()[key])).content
        assert b"PK\x03\x04" not in stored and b"evil.txt" not in stored


async def test_size_limit(app, client: httpx.AsyncClient, db: Database, fan: dict[str, str],  # noqa: ANN001
                          media_dir: Path) -> None:
    app.state.settings.media_max_bytes = 50_000
    big = images.jpeg(1600, 1200, color=(1, 2, 3)) + b"\x00" * 60_000  # a real JPEG with 60 kB of trailing data
    r = await upload(client, fan, big, lang="en")
    assert r.status_code == 413 and r.json()["error"]["code"] == "media.too_large"
    assert r.json()["error"]["message"].endswith("48 KB")
    assert await media_rows(db) == 0 and stored_files(media_dir) == []


async def test_pixel_limit_on_a_real_decodable_image(app, client: httpx.AsyncClient, db: Database,  # noqa: ANN001
                                                     fan: dict[str, str], media_dir: Path) -> None:
    app.state.settings.media_max_pixels = 1_000_000
    bomb = images.real_bomb_png(1200, 1000)  # 1.2 MP of zeros in a few kB
    assert len(bomb) < 10_000
    r = await upload(client, fan, bomb, name="x.png", content_type="image/png", lang="en")
    assert r.status_code == 422 and r.json()["error"]["code"] == "media.too_many_pixels"
    assert "1200×1000" in r.json()["error"]["message"]
    assert await media_rows(db) == 0 and stored_files(media_dir) == []
    app.state.settings.media_max_pixels = 2_000_000
    assert (await upload(client, fan, bomb, name="x.png", content_type="image/png")).status_code == 201


async def test_purposes_need_the_role_and_ids_are_private(client: httpx.AsyncClient, db: Database,
                                                         fan: dict[str, str]) -> None:
    r = await upload(client, fan, images.jpeg(), purpose="product")
    assert r.status_code == 403
    r = await upload(client, fan, images.jpeg(), purpose="wallpaper")
    assert r.status_code == 422
    r = await upload(client, fan, images.jpeg())
    _, other = await make_user(db, "13900000012")
    assert (await client.get(f"/api/media/{r.json()['id']}", headers=other)).status_code == 404
    assert (await client.post("/api/media", data={"purpose": "review"},
                              files={"file": ("a.jpg", images.jpeg(), "image/jpeg")})).status_code == 401


async def test_a_huge_multipart_body_is_refused_before_it_is_read(client: httpx.AsyncClient, db: Database,
                                                                  fan: dict[str, str]) -> None:
    """Without this cap the form parser would spool any body to disk before a route sees the first file."""
    from quanzi.media.limits import body_limit

    limit = body_limit(10 * 1024 * 1024)  # the default per-file limit
    seen = {"bytes": 0}

    def streamed(total: int):  # noqa: ANN202 - a client streaming a body far above the limit
        async def gen():  # noqa: ANN202
            yield (b'--x\r\nContent-Disposition: form-data; name="purpose"\r\n\r\nreview\r\n'
                   b'--x\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n'
                   b"Content-Type: image/jpeg\r\n\r\n\xff\xd8\xff")
            chunk = b"\xff" * (1024 * 1024)
            for _ in range(total // len(chunk)):
                seen["bytes"] += len(chunk)
                yield chunk
        return gen()

    multipart = {**fan, "content-type": "multipart/form-data; boundary=x", "accept-language": "en"}
    total = limit + 5 * 2**20
    r = await client.post("/api/media", content=streamed(total),
                          headers={**multipart, "content-length": str(total)})
    assert r.status_code == 413 and r.json()["error"]["code"] == "media.too_large"
    assert r.json()["error"]["message"] == "The image is too large; at most 10 MB"
    assert seen["bytes"] <= 2 * 2**20  # refused from the header: the body was not read

    # Chunked (no Content-Length): counted while it arrives; the read fails at the limit, so the parser
    # stops (FastAPI answers its generic 400 for a body it could not parse).
    seen["bytes"] = 0
    r = await client.post("/api/media", content=streamed(total), headers=multipart)
    assert r.status_code == 400, r.text
    assert seen["bytes"] <= limit + 2**20 < total
    assert await media_rows(db) == 0


async def test_uploads_per_person_are_rate_limited(app, client: httpx.AsyncClient, db: Database,  # noqa: ANN001
                                                   fan: dict[str, str]) -> None:
    app.state.settings.media_upload_limit_per_user = "2/hour"
    for _ in range(2):
        assert (await upload(client, fan, images.jpeg(60, 60))).status_code == 201
    r = await upload(client, fan, images.jpeg(60, 60))
    assert r.status_code == 429 and r.json()["error"]["code"] == "rate_limited"
    _, other = await make_user(db, "13900000013")
    assert (await upload(client, other, images.jpeg(60, 60))).status_code == 201  # per person
