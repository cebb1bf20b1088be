"""Review pages in zh and en: the to-review tab, the form with real photo files, the product page section
(verified mark, average, empty state), the paginated list, and the seller's one reply in the console."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
from sqlalchemy import func, select

from quanzi.kit.db import Database
from quanzi.reviews.models import Review
from tests.console.helpers import Browser, browser
from tests.factories import World, buy, new_buyer, ship_and_receive
from tests.media import images
from tests.media.conftest import stored_files
from tests.reviews.conftest import place, received_line


async def post_review(b: Browser, line_id: int, stars: int = 5, body: str = "", photos: list[tuple[str, bytes]] = (),
                      anonymous: bool = False, lang: str = "zh") -> httpx.Response:
    data = {"line_id": str(line_id), "stars": str(stars), "body": body, "csrf_token": b.csrf}
    if anonymous:
        data["anonymous"] = "1"
    files = [("photos", (name, blob, "image/jpeg")) for name, blob in photos]
    return await b.client.post(f"/reviews/new?lang={lang}", data=data, files=files or None)


async def review_count(db: Database) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count(Review.id))) or 0)


async def test_write_a_review_with_photos_and_see_it_on_the_product_page(
        app, client: httpx.AsyncClient, db: Database, world: World, media_dir: Path) -> None:  # noqa: ANN001
    _, line_id = await received_line(client, world)
    fan = await browser(app, db, "13900000001")

    html = (await fan.get("/orders")).text
    assert re.search(r'href="/reviews/pending" class="" data-testid="tab-to_review">待评价<sup>1</sup>', html)
    html = (await fan.get("/reviews/pending")).text
    assert f'data-testid="to-review-{line_id}"' in html and "写评价" in html
    html = (await fan.get(f"/reviews/new?line_id={line_id}")).text
    assert 'enctype="multipart/form-data"' in html and "晒图（最多 6 张）" in html
    assert "评价不会获得任何报酬或奖励" in html

    r = await post_review(fan, line_id, stars=4, body="果子很新鲜，个头比想象的大",
                          photos=[("IMG_0001.jpg", images.jpeg(1200, 900, gps=True)),
                                  ("IMG_0002.jpg", images.jpeg(900, 1200, color=(30, 160, 60)))])
    assert r.status_code == 303, r.text[:3000]
    assert r.headers["location"].startswith(f"/p/{world.product_id}/reviews?written=")
    html = (await fan.get(r.headers["location"])).text
    assert 'data-testid="review-written"' in html and "谢谢！你的评价已发布。" in html
    assert "已购买" in html and "果子很新鲜" in html and 'data-stars="4"' in html
    photos = re.findall(r'<img src="(/media/[^"]+/240\.jpg)"', html)
    assert len(photos) == 2
    for url in photos:
        assert (await client.get(url)).status_code == 200
    assert len(stored_files(media_dir)) == 6  # two photos, three sizes each

    # The product page: average, count, the verified mark; the to-review tab is empty again.
    html = (await client.get(f"/p/{world.product_id}")).text
    assert 'data-testid="reviews"' in html and 'data-testid="review-average">4.0<' in html
    assert "1 条评价" in html and 'data-testid="verified-purchase"' in html and "已购买" in html
    html = (await client.get(f"/p/{world.product_id}?lang=en")).text
    assert "1 review" in html and "Verified purchase" in html and ">Reviews<" in html
    html = (await fan.get("/reviews/pending")).text
    assert 'data-testid="nothing-to-review"' in html and 'data-testid="my-reviews"' in html
    html = (await fan.get("/reviews/pending?lang=en")).text
    assert "Nothing to review" in html and "My reviews" in html

    # A second review of the same line: refused on the same form, with the reason.
    r = await post_review(fan, line_id, stars=1)
    assert r.status_code == 409 and "这件商品已经评价过了" in r.text
    assert await review_count(db) == 1


async def test_bad_photos_are_refused_on_the_form_and_nothing_is_written(
        app, client: httpx.AsyncClient, db: Database, world: World, media_dir: Path) -> None:  # noqa: ANN001
    _, line_id = await received_line(client, world)
    fan = await browser(app, db, "13900000001")
    await fan.get(f"/reviews/new?line_id={line_id}")
    cases = [
        ([("notes.jpg", b"this is a text file, not a photo\n" * 10)], 422, "这个文件不是图片"),
        ([("cut.jpg", images.truncated_jpeg())], 422, "图片文件已损坏或不完整"),
        ([("ok.jpg", images.jpeg()), ("bad.jpg", images.png_bad_crc())], 422, "图片文件已损坏或不完整"),
        ([(f"p{i}.jpg", images.jpeg(60, 60)) for i in range(7)], 422, "最多 6 张图片"),
    ]
    for photos, status, message in cases:
        r = await post_review(fan, line_id, body="保留我写的字", photos=photos)
        assert r.status_code == status, r.text[:2000]
        assert message in r.text and "保留我写的字" in r.text and 'data-testid="review-error"' in r.text
    r = await post_review(fan, line_id, photos=[("notes.jpg", b"plain text")], lang="en")
    assert "This file is not an image" in r.text
    r = await post_review(fan, line_id, stars=0)
    assert r.status_code == 422 and "请选择 1 到 5 星" in r.text
    assert await review_count(db) == 0 and stored_files(media_dir) == []


async def test_unreceived_and_others_lines(app, client: httpx.AsyncClient, db: Database,  # noqa: ANN001
                                           world: World) -> None:
    order = await place(client, world)
    line_id = order["lines"][0]["id"]
    fan = await browser(app, db, "13900000001")
    html = (await fan.get(f"/reviews/new?line_id={line_id}")).text
    assert 'data-testid="review-blocked"' in html and "确认收货后才能评价" in html
    r = await post_review(fan, line_id, photos=[("a.jpg", images.jpeg())])
    assert r.status_code == 409 and "确认收货后才能评价" in r.text
    other = await browser(app, db, "13900000099")
    assert (await other.get(f"/reviews/new?line_id={line_id}")).status_code == 404
    assert (await post_review(other, line_id)).status_code == 404
    assert await review_count(db) == 0


async def test_product_page_empty_state_and_pagination(client: httpx.AsyncClient, db: Database,
                                                       world: World) -> None:
    html = (await client.get(f"/p/{world.product_id}")).text
    assert 'data-testid="no-reviews"' in html and "暂无评价" in html
    html = (await client.get(f"/p/{world.product_id}/reviews?lang=en")).text
    assert "No reviews yet. Reviews come only from buyers who received this item." in html

    from quanzi.reviews import service

    buyer = await new_buyer(db)
    for i in range(12):
        order_id = await buy(db, buyer, [(world.sku_ids[0], 1)])
        await ship_and_receive(db, order_id)
        async with db.write() as s:
            from quanzi.orders import service as orders

            (line,) = (await orders.lines_of(s, [order_id]))[order_id]
            await service.write(s, buyer.user_id, line.id, stars=5 if i % 2 else 3, body=f"第{i}条",
                                anonymous=i == 11)
    html = (await client.get(f"/p/{world.product_id}")).text
    assert len(re.findall(r'data-testid="review-\d+"', html)) == 3 and 'data-testid="all-reviews"' in html
    assert 'data-testid="review-average">4.0<' in html and "12 条评价" in html
    page1 = (await client.get(f"/p/{world.product_id}/reviews")).text
    assert len(re.findall(r'data-testid="review-\d+"', page1)) == 10 and 'data-testid="pager"' in page1
    assert page1.index("第11条") < page1.index("第10条")  # newest first
    assert re.search(r'data-testid="review-author">\w\*\*\*<', page1)  # the anonymous one is masked
    page2 = (await client.get(f"/p/{world.product_id}/reviews?page=2")).text
    assert len(re.findall(r'data-testid="review-\d+"', page2)) == 2 and "第0条" in page2
    assert (await client.get("/p/999999/reviews")).status_code == 404


async def test_the_seller_replies_once_in_the_console(app, client: httpx.AsyncClient, db: Database,  # noqa: ANN001
                                                      world: World) -> None:
    _, line_id = await received_line(client, world)
    fan = await browser(app, db, "13900000001")
    await fan.get(f"/reviews/new?line_id={line_id}")
    assert (await post_review(fan, line_id, stars=2, body="有两个坏果")).status_code == 303
    rid = (await client.get(f"/api/products/{world.product_id}/reviews")).json()["items"][0]["id"]

    supplier = await browser(app, db, "13700000001")
    html = (await supplier.get("/console/reviews")).text
    assert 'data-testid="tab-reviews"' in html and "有两个坏果" in html and f'reply-form-{rid}' in html
    html = (await supplier.submit(f"/console/reviews/{rid}/reply", {"body": "抱歉，已为你补发"})).text
    assert "回复已发布在评价下方。" in html and f'reply-form-{rid}' not in html

    keeper = await browser(app, db, "13700000002")
    html = (await keeper.get("/console/reviews")).text
    assert "供应商回复：" in html and "抱歉，已为你补发" in html
    r = await keeper.post(f"/console/reviews/{rid}/reply", {"body": "我也说一句"})
    html = (await keeper.get(r.headers["location"])).text
    assert "这条评价已经回复过了" in html
    stranger = await browser(app, db, "13700000099", "supplier")
    assert (await stranger.post(f"/console/reviews/{rid}/reply", {"body": "x"})).status_code == 404
    html = (await client.get(f"/p/{world.product_id}")).text
    assert 'data-testid="review-reply"' in html and "抱歉，已为你补发" in html
