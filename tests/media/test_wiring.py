"""Uploads where they are used: product pictures (supplier console and API), the shop's avatar and banner
(shopkeeper console and API), after-sale photos (the fan's request form and API). Only the owner attaches
their uploads: others' media ids are 404."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from sqlalchemy import func, select

from quanzi.aftersales.models import AfterSale
from quanzi.catalog import service as catalog
from quanzi.catalog.models import Product
from quanzi.kit.db import Database
from quanzi.shops.models import Shop
from tests.conftest import make_user
from tests.console.helpers import Browser, browser
from tests.factories import make_world
from tests.media import images
from tests.media.conftest import stored_files
from tests.reviews.conftest import place, ship


async def upload_form(b: Browser, url: str, files: list[tuple[str, tuple[str, bytes, str]]],
                      data: dict | None = None) -> httpx.Response:
    return await b.client.post(url, data={"csrf_token": b.csrf, **(data or {})}, files=files)


async def api_upload(client: httpx.AsyncClient, headers: dict, purpose: str, data: bytes | None = None) -> int:
    r = await client.post("/api/media", data={"purpose": purpose},
                          files={"file": ("x.jpg", data or images.jpeg(), "image/jpeg")}, headers=headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def test_product_pictures_in_the_supplier_console(app, client: httpx.AsyncClient, db: Database,  # noqa: ANN001
                                                        media_dir: Path) -> None:
    w = await make_world(db)
    sup = await browser(app, db, "13700000001")
    edit = f"/console/products/{w.product_id}"
    html = (await sup.get(edit)).text
    assert 'data-testid="no-images"' in html and 'enctype="multipart/form-data"' in html
    r = await upload_form(sup, f"{edit}/images", [("photos", ("a.jpg", images.jpeg(1600, 1600), "image/jpeg")),
                                                 ("photos", ("b.png", images.png(mode="RGBA"), "image/png"))])
    assert r.status_code == 303
    html = (await sup.get(r.headers["location"])).text
    assert "已添加 2 张图片。" in html
    ids = [int(x) for x in re.findall(r'data-testid="image-(\d+)"', html)]
    assert len(ids) == 2
    async with db.read() as s:
        product = await s.get(Product, w.product_id)
    assert product.image_url and product.image_url.endswith("/750.jpg")
    page = (await client.get(f"/p/{w.product_id}")).text
    assert 'data-testid="gallery"' in page and page.count('class="pic big"') == 2

    # Make the transparent PNG (kept as PNG) the main picture, then remove it: the JPEG is main again.
    html = (await sup.submit(f"{edit}/images/{ids[1]}/main")).text
    async with db.read() as s:
        assert (await s.get(Product, w.product_id)).image_url.endswith("/750.png")
    html = (await sup.submit(f"{edit}/images/{ids[1]}/remove")).text
    assert f'data-testid="image-{ids[1]}"' not in html
    async with db.read() as s:
        assert (await s.get(Product, w.product_id)).image_url.endswith("/750.jpg")

    # A bad file is refused with the reason; nothing more is stored.
    before = stored_files(media_dir)
    r = await upload_form(sup, f"{edit}/images", [("photos", ("c.jpg", images.zip_file(), "image/jpeg"))])
    html = (await sup.get(r.headers["location"])).text
    assert "这个文件不是图片" in html and stored_files(media_dir) == before

    # Another supplier cannot touch this product.
    other = await browser(app, db, "13700000055", "supplier")
    r = await upload_form(other, f"{edit}/images", [("photos", ("a.jpg", images.jpeg(), "image/jpeg"))])
    assert r.status_code == 403  # no supplier profile yet
    async with db.write() as s:
        await catalog.ensure_supplier(s, other.user_id, "别家供应链")
    r = await upload_form(other, f"{edit}/images", [("photos", ("a.jpg", images.jpeg(), "image/jpeg"))])
    assert r.status_code == 404
    assert (await other.post(f"{edit}/images/{ids[0]}/remove")).status_code == 404
    assert stored_files(media_dir) == before


async def test_product_pictures_through_the_api(client: httpx.AsyncClient, db: Database) -> None:
    w = await make_world(db)
    mine = [await api_upload(client, w.supplier_headers, "product") for _ in range(2)]
    url = f"/api/catalog/manage/products/{w.product_id}/images"
    r = await client.post(url, json={"media_ids": mine}, headers=w.supplier_headers)
    assert r.status_code == 200, r.text
    assert [x["id"] for x in r.json()] == mine
    product = (await client.get(f"/api/catalog/products/{w.product_id}")).json()
    assert product["image_url"] == r.json()[0]["medium_url"]
    assert product["images"] == [x["medium_url"] for x in r.json()]

    # Someone else's upload: 404, and nothing changes.
    other_uid, other = await make_user(db, "13700000066", "supplier")
    theirs = await api_upload(client, other, "product")
    r = await client.post(url, json={"media_ids": [theirs]}, headers=w.supplier_headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "media.not_found"
    # A review photo is not a product picture.
    fan_photo = await api_upload(client, w.supplier_headers, "review")
    r = await client.post(url, json={"media_ids": [fan_photo]}, headers=w.supplier_headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "media.wrong_purpose"
    assert len((await client.get(url, headers=w.supplier_headers)).json()) == 2
    # A fan cannot upload product pictures at all.
    r = await client.post("/api/media", data={"purpose": "product"},
                          files={"file": ("x.jpg", images.jpeg(), "image/jpeg")}, headers=w.fan_headers)
    assert r.status_code == 403
    r = await client.delete(f"{url}/{mine[0]}", headers=w.supplier_headers)
    assert r.status_code == 204
    assert [x["id"] for x in (await client.get(url, headers=w.supplier_headers)).json()] == [mine[1]]


async def test_shop_avatar_and_banner(app, client: httpx.AsyncClient, db: Database) -> None:  # noqa: ANN001
    w = await make_world(db)
    keeper = await browser(app, db, "13700000002")
    html = (await keeper.get("/console/shop")).text
    assert 'data-testid="shop-pictures-form"' in html
    r = await upload_form(keeper, "/console/shop/pictures", [
        ("avatar", ("me.jpg", images.jpeg(800, 800), "image/jpeg")),
        ("banner", ("wide.jpg", images.jpeg(1500, 500, color=(10, 120, 200)), "image/jpeg"))])
    html = (await keeper.get(r.headers["location"])).text
    assert "店铺图片已保存。" in html and 'data-testid="current-banner"' in html
    async with db.read() as s:
        shop = await s.get(Shop, w.shop_id)
    assert shop.avatar_url.endswith("/240.jpg") and shop.banner_url.endswith("/750.jpg")
    page = (await client.get(f"/s/{w.shop_id}")).text
    assert f'src="{shop.banner_url}"' in page and f'src="{shop.avatar_url}"' in page

    r = await upload_form(keeper, "/console/shop/pictures", [("avatar", ("x.jpg", images.truncated_jpeg(), "image/jpeg"))])
    html = (await keeper.get(r.headers["location"])).text
    assert "图片文件已损坏或不完整" in html
    async with db.read() as s:
        assert (await s.get(Shop, w.shop_id)).avatar_url == shop.avatar_url

    # API: the new avatar replaces the old; another person's upload is 404.
    new_avatar = await api_upload(client, w.shopkeeper_headers, "shop_avatar")
    r = await client.put("/api/shops/mine/pictures", json={"avatar_media_id": new_avatar}, headers=w.shopkeeper_headers)
    assert r.status_code == 200 and r.json()["avatar_url"] != shop.avatar_url
    assert r.json()["banner_url"] == shop.banner_url
    _, stranger = await make_user(db, "13900000088")
    r = await client.post("/api/shops", json={"name": "别人的店"}, headers=stranger)
    _, stranger = await make_user(db, "13900000088")
    theirs = await api_upload(client, stranger, "shop_banner")
    r = await client.put("/api/shops/mine/pictures", json={"banner_media_id": theirs}, headers=w.shopkeeper_headers)
    assert r.status_code == 404


async def test_aftersale_photos_on_the_form_and_api(app, client: httpx.AsyncClient, db: Database,  # noqa: ANN001
                                                    media_dir: Path) -> None:
    w = await make_world(db)
    order = await place(client, w)
    await ship(client, w, order["id"])
    line_id = order["lines"][0]["id"]
    fan = await browser(app, db, "13900000001")
    form_url = f"/orders/{order['id']}/aftersale"
    html = (await fan.get(f"{form_url}?line_id={line_id}")).text
    assert 'enctype="multipart/form-data"' in html and "照片（可选，最多 6 张）" in html
    key = re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1)
    fields = {"line_id": str(line_id), "kind": "return_refund", "quantity": "1", "reason": "quality",
              "idempotency_key": key}

    # A zip named .jpg: the form comes back with the reason; no request, no file.
    r = await upload_form(fan, form_url, [("photos", ("broken.jpg", images.zip_file(), "image/jpeg"))], fields)
    assert r.status_code == 422 and "这个文件不是图片" in r.text
    async with db.read() as s:
        assert await s.scalar(select(func.count(AfterSale.id))) == 0
    assert stored_files(media_dir) == []

    r = await upload_form(fan, form_url, [("photos", ("box.jpg", images.jpeg(1000, 750), "image/jpeg")),
                                          ("photos", ("fruit.jpg", images.jpeg(700, 700, exif_orientation=3), "image/jpeg"))],
                          fields)
    assert r.status_code == 303, r.text[:2000]
    html = (await fan.get(r.headers["location"])).text
    assert 'data-testid="aftersale-photos"' in html and len(re.findall(r'/240\.jpg"', html)) == 2
    supplier = await browser(app, db, "13700000001")
    html = (await supplier.get("/console/aftersales")).text
    assert 'data-testid="aftersale-photos"' in html

    # API: photos uploaded first, then named in the request; a stranger's upload is 404 and nothing is made.
    order2 = await place(client, w, sku=1, qty=1)
    _, stranger = await make_user(db, "13900000089")
    theirs = await api_upload(client, stranger, "aftersale")
    body = {"order_id": order2["id"], "line_id": order2["lines"][0]["id"], "kind": "refund_only", "quantity": 1,
            "reason": "不想要了"}
    r = await client.post("/api/aftersales", json={**body, "media_ids": [theirs]}, headers=w.fan_headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "media.not_found"
    async with db.read() as s:
        assert await s.scalar(select(func.count(AfterSale.id))) == 1
    mine = await api_upload(client, w.fan_headers, "aftersale")
    r = await client.post("/api/aftersales", json={**body, "media_ids": [mine]}, headers=w.fan_headers)
    assert r.status_code == 201, r.text
    assert len(r.json()["photos"]) == 1 and (await client.get(r.json()["photos"][0])).status_code == 200
