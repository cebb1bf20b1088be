"""Review rules through the JSON API: only a received line of your own order, once; not when refunded in
full; photos are your own uploads for reviews; the seller replies once."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.kit.db import Database
from quanzi.media.models import Media
from quanzi.reviews.models import Review
from tests.conftest import make_user
from tests.factories import World, add_fan, ask_refund
from tests.media import images
from tests.reviews.conftest import place, received_line, receive, ship


async def review(client: httpx.AsyncClient, headers: dict, line_id: int, **kw: object) -> httpx.Response:
    return await client.post("/api/reviews", json={"line_id": line_id, "stars": 5, **kw}, headers=headers)


async def upload(client: httpx.AsyncClient, headers: dict, purpose: str = "review") -> int:
    r = await client.post("/api/media", data={"purpose": purpose}, files={"file": ("p.jpg", images.jpeg(), "image/jpeg")},
                          headers=headers)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


async def count(db: Database, model: type) -> int:
    async with db.read() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


async def test_only_a_received_line_once(client: httpx.AsyncClient, db: Database, world: World) -> None:
    order = await place(client, world)
    line_id = order["lines"][0]["id"]
    r = await review(client, world.fan_headers, line_id)
    assert r.status_code == 409 and r.json()["error"]["code"] == "review.not_received"
    await ship(client, world, order["id"])
    r = await review(client, world.fan_headers, line_id)
    assert r.status_code == 409 and r.json()["error"]["code"] == "review.not_received"
    pending = (await client.get("/api/reviews/pending", headers=world.fan_headers)).json()
    assert pending == []
    await receive(client, order["id"], world.fan_headers)
    pending = (await client.get("/api/reviews/pending", headers=world.fan_headers)).json()
    assert [p["line_id"] for p in pending] == [line_id]

    # Another person's line: 404, the line's existence is not revealed.
    other = await add_fan(db, "13900000077")
    _, other_headers = await make_user(db, "13900000077")
    r = await review(client, other_headers, line_id)
    assert r.status_code == 404 and r.json()["error"]["code"] == "review.line_not_found"
    assert (await review(client, world.fan_headers, 999_999)).status_code == 404
    assert other.user_id

    r = await review(client, world.fan_headers, line_id, stars=4, body="  很甜，家里孩子爱吃  ")
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["stars"] == 4 and body["body"] == "很甜，家里孩子爱吃" and body["verified_purchase"] is True
    assert body["author"] == "粉丝" and body["photos"] == []
    assert (await client.get("/api/reviews/pending", headers=world.fan_headers)).json() == []

    r = await review(client, world.fan_headers, line_id, stars=1)
    assert r.status_code == 409 and r.json()["error"]["code"] == "review.already_reviewed"
    r = await client.post("/api/reviews?lang=en", json={"line_id": line_id, "stars": 1}, headers=world.fan_headers)
    assert r.json()["error"]["message"] == "You have already reviewed this item"
    assert await count(db, Review) == 1


async def test_the_database_holds_one_review_per_line(client: httpx.AsyncClient, db: Database, world: World) -> None:
    """Two submissions that both passed the check: the unique constraint refuses the second."""
    _, line_id = await received_line(client, world)
    assert (await review(client, world.fan_headers, line_id)).status_code == 201
    async with db.read() as s:
        first = (await s.execute(select(Review))).scalar_one()
    with pytest.raises(IntegrityError):
        async with db.write() as s:
            s.add(Review(line_id=line_id, order_id=first.order_id, product_id=first.product_id, sku_label="x",
                         author_id=first.author_id, supplier_id=first.supplier_id, stars=1, body="", anonymous=False,
                         photo_count=0, created_at=clock.now()))


@pytest.mark.parametrize("bad", [{"stars": 0}, {"stars": 6}, {"stars": "5"}, {"stars": 4.5}, {"body": "字" * 501},
                                 {"media_ids": list(range(1, 8))}, {"rating": 5}])
async def test_bad_input(client: httpx.AsyncClient, world: World, bad: dict) -> None:
    _, line_id = await received_line(client, world)
    r = await client.post("/api/reviews", json={"line_id": line_id, "stars": 5, **bad}, headers=world.fan_headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "request.invalid"


async def test_a_line_refunded_in_full_cannot_be_reviewed(client: httpx.AsyncClient, db: Database,
                                                          world: World) -> None:
    order, line_id = await received_line(client, world, qty=2)
    await ask_refund(db, world.fan_id, order["id"], line_id, 1)  # partly refunded: still reviewable
    assert [p["line_id"] for p in (await client.get("/api/reviews/pending", headers=world.fan_headers)).json()] == [line_id]
    await ask_refund(db, world.fan_id, order["id"], line_id, 1)  # now all of it
    await outbox.drain(db)
    assert (await client.get("/api/reviews/pending", headers=world.fan_headers)).json() == []
    r = await review(client, world.fan_headers, line_id)
    assert r.status_code == 409 and r.json()["error"]["code"] == "review.fully_refunded"


async def test_photos_are_own_review_uploads_used_once(client: httpx.AsyncClient, db: Database, world: World) -> None:
    _, line_id = await received_line(client, world)
    mine = [await upload(client, world.fan_headers) for _ in range(2)]
    _, other = await make_user(db, "13900000078")
    theirs = await upload(client, other)
    for_aftersale = await upload(client, world.fan_headers, purpose="aftersale")

    r = await review(client, world.fan_headers, line_id, media_ids=[mine[0], theirs])
    assert r.status_code == 404 and r.json()["error"]["code"] == "media.not_found"
    r = await review(client, world.fan_headers, line_id, media_ids=[for_aftersale])
    assert r.status_code == 409 and r.json()["error"]["code"] == "media.wrong_purpose"
    r = await review(client, world.fan_headers, line_id, media_ids=[mine[0], mine[0]])
    assert r.status_code == 409 and r.json()["error"]["code"] == "media.already_used"
    assert await count(db, Review) == 0  # every refusal rolled the review back
    async with db.read() as s:
        assert (await s.execute(select(Media.ref).where(Media.ref.is_not(None)))).all() == []

    r = await review(client, world.fan_headers, line_id, media_ids=mine, anonymous=True)
    assert r.status_code == 201, r.text
    body = r.json()
    assert len(body["photos"]) == 2 and body["author"] == "粉***" and body["anonymous"] is True
    for p in body["photos"]:
        assert (await client.get(p["thumb_url"])).status_code == 200

    # An upload already attached cannot be attached again (to a second review).
    order2, line2 = await received_line(client, world, sku=1, qty=1)
    r = await review(client, world.fan_headers, line2, media_ids=[mine[1]])
    assert r.status_code == 409 and r.json()["error"]["code"] == "media.already_used"


async def test_the_seller_replies_once(client: httpx.AsyncClient, db: Database, world: World) -> None:
    _, line_id = await received_line(client, world)
    rid = (await review(client, world.fan_headers, line_id, stars=2, body="有点小")).json()["id"]
    reply = f"/api/reviews/{rid}/reply"
    # The buyer, another supplier and a stranger cannot reply (404: not theirs).
    _, stranger = await make_user(db, "13900000079")
    for headers in (world.fan_headers, stranger):
        r = await client.post(reply, json={"body": "谢谢"}, headers=headers)
        assert r.status_code == 404 and r.json()["error"]["code"] == "review.not_found"
    assert (await client.post(reply, json={"body": ""}, headers=world.shopkeeper_headers)).status_code == 422

    r = await client.post(reply, json={"body": "抱歉，已联系供应商换大果"}, headers=world.shopkeeper_headers)
    assert r.status_code == 200, r.text
    assert r.json()["reply"] == "抱歉，已联系供应商换大果" and r.json()["reply_role"] == "shopkeeper"
    r = await client.post(reply, json={"body": "我们也回复一下"}, headers=world.supplier_headers)
    assert r.status_code == 409 and r.json()["error"]["code"] == "review.already_replied"
    r = await client.post(reply, json={"body": "再说一次"}, headers=world.shopkeeper_headers)
    assert r.status_code == 409


async def test_product_reviews_newest_first_with_average(client: httpx.AsyncClient, db: Database,
                                                         world: World) -> None:
    r = (await client.get(f"/api/products/{world.product_id}/reviews")).json()
    assert r == {"count": 0, "average_stars": "0.0", "page": 1, "pages": 1, "items": []}
    ids = []
    for stars in (5, 4, 4):
        _, line_id = await received_line(client, world, qty=1)
        clock.advance(timedelta(minutes=1))
        ids.append((await review(client, world.fan_headers, line_id, stars=stars)).json()["id"])
    r = (await client.get(f"/api/products/{world.product_id}/reviews")).json()
    assert r["count"] == 3 and r["average_stars"] == "4.3"  # 13 / 3 = 4.33
    assert [x["id"] for x in r["items"]] == ids[::-1]
