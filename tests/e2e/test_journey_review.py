"""Journey "Review with photos": a fan with a received order opens 待评价 (to review) from their orders,
writes a four-star review with two photos taken on a phone (real JPEG files with GPS and camera EXIF,
uploaded through the page's file input), and sees it on the product page with the "verified purchase"
mark, the average and the photos, which are served re-encoded without their EXIF.

A phone-sized Chromium on the shared e2e server; the fan is a demo fan with a received line not yet reviewed,
found in the server's own database, who logs in with a one-time code.
"""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from quanzi.kit.i18n import translations
from tests.e2e.test_journey_commerce import snap, snap_card
from tests.media.images import jpeg

zh = translations("zh_CN").ugettext


def received_line(server) -> dict:  # noqa: ANN001
    rows = server.query("""
        SELECT u.phone, l.id AS line_id, l.product_id, l.title
        FROM order_lines l JOIN orders o ON o.id = l.order_id JOIN users u ON u.id = o.buyer_id
        JOIN products p ON p.id = l.product_id
        WHERE o.status IN ('received', 'completed') AND l.refunded_qty < l.quantity AND p.status = 'published'
          AND u.phone NOT IN ('+8613800000101') AND u.phone LIKE '+86138000001%'
          AND NOT EXISTS (SELECT 1 FROM reviews r WHERE r.line_id = l.id)
        ORDER BY u.phone DESC, o.id DESC LIMIT 1""")
    if not rows:
        pytest.fail("the demo has no fan with a received, unreviewed order line")
    return dict(rows[0])


def test_fan_reviews_a_received_item_with_photos(page: Page, e2e_server, login, screenshot,  # noqa: ANN001
                                                 tmp_path: Path) -> None:
    pick = received_line(e2e_server)
    login(page, pick["phone"][3:], e2e_server, code=True)

    # My orders → the 待评价 tab is the list of received lines not yet reviewed.
    page.goto("/orders")
    page.get_by_test_id("tab-to_review").click()
    page.wait_for_url("**/reviews/pending")
    expect(page.get_by_test_id("tab-to_review")).to_have_class(re.compile(r"\bon\b"))
    item = page.get_by_test_id(f"to-review-{pick['line_id']}")
    expect(item).to_be_visible()
    expect(item).to_contain_text(pick["title"])
    snap(screenshot, page, "to-review")

    # Two photos as a phone takes them: with camera and GPS EXIF, one shot sideways.
    photos = [tmp_path / "IMG_2041.jpg", tmp_path / "IMG_2042.jpg"]
    photos[0].write_bytes(jpeg(1600, 1200, gps=True))
    photos[1].write_bytes(jpeg(1200, 900, color=(40, 150, 70), gps=True, exif_orientation=6))

    item.get_by_test_id(f"write-review-{pick['line_id']}").click()
    page.wait_for_url(f"**/reviews/new?line_id={pick['line_id']}")
    form = page.get_by_test_id("review-form")
    expect(form).to_contain_text(zh("Reviews are never paid for or rewarded, whatever the stars."))
    page.get_by_test_id("stars-4").click()
    page.get_by_test_id("review-body-input").fill("包装很用心，果子新鲜，个头比图片上还大。")
    page.get_by_test_id("review-photos-input").set_input_files([str(p) for p in photos])
    snap(screenshot, page, "form")
    page.get_by_test_id("review-submit").click()

    # The product's reviews: thanks, the verified mark, the stars and both photos, loaded.
    page.wait_for_url(re.compile(rf"/p/{pick['product_id']}/reviews\?written=\d+"))
    expect(page.get_by_test_id("review-written")).to_have_text(zh("Thank you! Your review is published."))
    review_id = int(re.search(r"written=(\d+)", page.url).group(1))
    mine = page.get_by_test_id(f"review-{review_id}")
    expect(mine.get_by_test_id("verified-purchase")).to_contain_text(zh("Verified purchase"))
    expect(mine.get_by_test_id("stars")).to_have_attribute("data-stars", "4")
    expect(mine.get_by_test_id("review-body")).to_have_text("包装很用心，果子新鲜，个头比图片上还大。")
    imgs = mine.get_by_test_id("review-photos").locator("img")
    expect(imgs).to_have_count(2)
    for i in range(2):
        imgs.nth(i).scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=imgs.nth(i).element_handle())

    # The photos as served: re-encoded, no EXIF, the sideways one upright (portrait), thumbnails 240 px.
    for i, (w, h) in enumerate([(1600, 1200), (900, 1200)]):
        thumb = imgs.nth(i).get_attribute("src")
        full = mine.get_by_test_id("review-photos").locator("a").nth(i).get_attribute("href")
        body = page.request.get(full).body()
        img = Image.open(BytesIO(body))
        assert img.size == (w, h) and not img.getexif() and b"TestCam" not in body
        assert max(Image.open(BytesIO(page.request.get(thumb).body())).size) == 240

    # The product page: the reviews section with the average, the count and the verified mark.
    page.goto(f"/p/{pick['product_id']}")
    section = page.get_by_test_id("reviews")
    section.scroll_into_view_if_needed()
    expect(section.get_by_test_id("review-summary")).to_be_visible()
    expect(section.get_by_test_id(f"review-{review_id}")).to_be_visible()
    expect(section.get_by_test_id(f"review-{review_id}").get_by_test_id("verified-purchase")).to_be_visible()
    snap_card(screenshot, page, section, "product-reviews")

    # The line left the to-review list; the database holds the two photos on the review.
    page.goto("/reviews/pending")
    expect(page.get_by_test_id(f"to-review-{pick['line_id']}")).to_have_count(0)
    rows = e2e_server.query("SELECT purpose, ref, width, height FROM media WHERE ref = ?", (f"review:{review_id}",))
    assert sorted((r["width"], r["height"]) for r in rows) == [(900, 1200), (1600, 1200)]
