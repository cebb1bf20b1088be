"""Share posters: a valid PNG whose QR code decodes to a signed share link of the right sharer and target;
cached while nothing drawn changes and the token is young; redrawn when the price changes; distributors only."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from quanzi.catalog import service as catalog
from quanzi.distribution import posters
from quanzi.distribution import service as distribution
from quanzi.kit.clock import clock
from quanzi.kit import sharetokens as tokens
from quanzi.shops import service as shops
from tests.conftest import make_settings, make_user
from tests.factories import make_world

PUBLIC = "https://quanzi.example"


@pytest.fixture
def settings(db_url: str, tmp_path: Path):  # noqa: ANN201
    """Each test its own media folder: cached posters never leak between tests."""
    return make_settings(db_url, media_dir=tmp_path / "media", public_url=PUBLIC)


async def _keeper(db, w) -> int:  # noqa: ANN001
    async with db.read() as s:
        return (await shops.public_shop(s, w.shop_id)).owner_id


def _decode(png: bytes) -> str:
    im = Image.open(io.BytesIO(png))
    assert im.format == "PNG" and im.size == (posters.W, posters.H)
    found = [r.text for r in zxingcpp.read_barcodes(im)]
    assert len(found) == 1, found
    return found[0]


def _token_of(url: str) -> str:
    assert url.startswith(f"{PUBLIC}/r/"), url
    return url.removeprefix(f"{PUBLIC}/r/")


def _files(settings, sharer: int) -> list[Path]:  # noqa: ANN001
    folder = settings.media_dir / "posters" / str(sharer)
    return sorted(folder.glob("*.png")) if folder.exists() else []


async def test_product_poster_is_a_png_with_a_qr_code_of_my_signed_share_link(client, db, settings) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(2990, 4990))
    keeper = await _keeper(db, w)
    r = await client.get(f"/posters/p/{w.product_id}.png", headers=w.shopkeeper_headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "image/png"
    assert "private" in r.headers["cache-control"]
    url = _decode(r.content)
    share = tokens.verify(settings.secret_key, _token_of(url), clock.now(), 30)
    assert (share.sharer_id, share.kind, share.target_id) == (keeper, "p", w.product_id)
    # The token is also stored in the file, so the cache can tell its age without a database row.
    assert Image.open(io.BytesIO(r.content)).text[posters.TOKEN_KEY] == share.raw
    # The link really lands in the sharer's shop.
    r = await client.get(f"/r/{share.raw}")
    assert r.status_code == 303 and r.headers["location"] == f"/s/{w.shop_id}/p/{w.product_id}"


async def test_shop_poster_links_to_the_shop(client, db, settings) -> None:  # noqa: ANN001
    w = await make_world(db)
    keeper = await _keeper(db, w)
    r = await client.get(f"/posters/s/{w.shop_id}.png?download=1", headers=w.shopkeeper_headers)
    assert r.status_code == 200
    assert r.headers["content-disposition"].startswith("attachment;")
    share = tokens.verify(settings.secret_key, _token_of(_decode(r.content)), clock.now(), 30)
    assert (share.sharer_id, share.kind, share.target_id) == (keeper, "s", w.shop_id)


async def test_poster_is_cached_and_redrawn_when_the_price_changes(client, db, settings, monkeypatch) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(2990, 4990))
    keeper = await _keeper(db, w)
    drawn: list[int] = []
    real = posters.render_png
    monkeypatch.setattr(posters, "render_png", lambda *a, **k: drawn.append(1) or real(*a, **k))

    first = await client.get(f"/posters/p/{w.product_id}.png", headers=w.shopkeeper_headers)
    (path,) = _files(settings, keeper)
    stamp = path.stat().st_mtime_ns
    second = await client.get(f"/posters/p/{w.product_id}.png", headers=w.shopkeeper_headers)
    assert len(drawn) == 1, "the second request must reuse the cached poster"
    assert second.content == first.content and second.headers["etag"] == first.headers["etag"]
    assert _files(settings, keeper) == [path] and path.stat().st_mtime_ns == stamp

    async with db.write() as s:
        await catalog.set_price(s, w.sku_ids[0], 1990, actor_id=None)  # the cheapest SKU: the poster's price
    third = await client.get(f"/posters/p/{w.product_id}.png", headers=w.shopkeeper_headers)
    assert len(drawn) == 2
    (new_path,) = _files(settings, keeper)  # the old price's poster is gone
    assert new_path != path and third.content != first.content
    assert tokens.verify(settings.secret_key, _token_of(_decode(third.content)), clock.now(), 30).target_id == w.product_id

    # What the poster does not show (stock) does not redraw it.
    async with db.write() as s:
        await catalog.adjust_stock(s, w.sku_ids[1], -1, "test")
    await client.get(f"/posters/p/{w.product_id}.png", headers=w.shopkeeper_headers)
    assert len(drawn) == 2


async def test_poster_token_is_renewed_after_half_its_validity(client, db, settings, monkeypatch) -> None:  # noqa: ANN001
    w = await make_world(db)
    drawn: list[int] = []
    real = posters.render_png
    monkeypatch.setattr(posters, "render_png", lambda *a, **k: drawn.append(1) or real(*a, **k))
    first = _token_of(_decode((await client.get(f"/posters/p/{w.product_id}.png", headers=w.shopkeeper_headers)).content))
    clock.advance(timedelta(days=14))  # under half of the default 30 days: still the same poster
    await client.get(f"/posters/p/{w.product_id}.png", headers=w.shopkeeper_headers)
    assert len(drawn) == 1
    clock.advance(timedelta(days=2))  # 16 days: a poster posted now would expire too soon
    r = await client.get(f"/posters/p/{w.product_id}.png", headers=w.shopkeeper_headers)
    assert len(drawn) == 2
    renewed = tokens.verify(settings.secret_key, _token_of(_decode(r.content)), clock.now(), 30)
    assert renewed.raw != first and renewed.issued_at > clock.now() - timedelta(minutes=1)


async def test_only_active_distributors_get_posters(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    r = await client.get(f"/posters/p/{w.product_id}.png", headers=w.fan_headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "distribution.not_a_distributor"
    assert (await client.get(f"/posters/p/{w.product_id}.png")).status_code == 401
    keeper = await _keeper(db, w)
    op, _ = await make_user(db, "13700000099", "operator")
    async with db.write() as s:
        await distribution.decide(s, keeper, "frozen", op)
    r = await client.get(f"/posters/p/{w.product_id}.png", headers=w.shopkeeper_headers)
    assert r.status_code == 403 and r.json()["error"]["code"] == "distribution.not_a_distributor"


async def test_unknown_kinds_and_unshareable_targets_are_404(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    h = w.shopkeeper_headers
    assert (await client.get(f"/posters/x/{w.product_id}.png", headers=h)).status_code == 404
    assert (await client.get("/posters/p/999999.png", headers=h)).status_code == 404
    assert (await client.get("/posters/s/999999.png", headers=h)).status_code == 404
    async with db.write() as s:
        product = await catalog.owned_product(s, w.product_id, None)
        await catalog.set_status(s, product, "unpublished")
    assert (await client.get(f"/posters/p/{w.product_id}.png", headers=h)).status_code == 404
    assert (await client.get(f"/posters/pp/{w.product_id}.png", headers=h)).status_code == 422


async def test_product_picture_is_drawn_and_bad_pictures_fall_back(client, db, settings) -> None:  # noqa: ANN001
    w = await make_world(db)
    keeper = await _keeper(db, w)
    pictures = settings.media_dir / "products"
    pictures.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (400, 300), (20, 160, 60)).save(pictures / "green.png")
    (pictures / "broken.png").write_bytes(b"not a picture")
    for url in ("/media/products/green.png", "/media/products/broken.png", "/media/../../../etc/passwd",
                "https://elsewhere.example/x.png", "/media/products/missing.png"):
        async with db.write() as s:
            product = await catalog.owned_product(s, w.product_id, None)
            await catalog.update_product(s, product, image_url=url)
        r = await client.get(f"/posters/p/{w.product_id}.png", headers=w.shopkeeper_headers)
        assert r.status_code == 200, (url, r.text)
        assert tokens.verify(settings.secret_key, _token_of(_decode(r.content)), clock.now(), 30).sharer_id == keeper
        if url.endswith("green.png"):
            im = Image.open(io.BytesIO(r.content)).convert("RGB")
            assert im.getpixel((posters.W // 2, 400)) == (20, 160, 60)  # the product's own picture is on it


def test_drawing_never_fails_without_a_cjk_font(monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    monkeypatch.setattr(posters, "PREFERRED_FONT", tmp_path / "missing.ttc")
    monkeypatch.setattr(posters.shutil, "which", lambda _name: None)
    posters.font_file.cache_clear()
    posters.font.cache_clear()
    try:
        assert posters.font_file() is None
        content = posters.PosterContent("p", 7, "苹果", "脆甜", 2990, False, (), "小美的店", "为你推荐一件好物")
        png = posters.render_png(make_settings("sqlite://", media_dir=tmp_path), content,
                                 posters.SharerCard(3, "小美", None), f"{PUBLIC}/r/abc")
        assert _decode(png) == f"{PUBLIC}/r/abc"
    finally:
        posters.font_file.cache_clear()
        posters.font.cache_clear()
