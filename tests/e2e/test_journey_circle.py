"""Journey "Circle": a fan opens the invite link a shopkeeper shared (the poster's link), accepts the circle's
rules and gets the welcome, checks in (+5 points), enters the lucky draw the shopkeeper published from the
console (5 points an entry, every entry wins the 100% band), posts a 晒单 of an order received from that shop
with a photo (the "verified purchase" mark), and the shopkeeper sees the day on the circle's health chart.

A phone-sized Chromium on a server of its own (the shopkeeper's circle is new state); two browser contexts:
demo shopkeeper 13800000021 and a demo fan who received an order from that shopkeeper's shop.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from quanzi.kit.i18n import translations
from tests.e2e.test_journey_commerce import snap
from tests.media.images import jpeg

zh = translations("zh_CN").ugettext
SHOPKEEPER = "13800000021"


def _fan_with_received_order(server) -> dict:  # noqa: ANN001
    rows = server.query("""
        SELECT u.phone, o.id AS order_id, o.order_no, o.shop_id FROM orders o
        JOIN users u ON u.id = o.buyer_id JOIN shops sh ON sh.id = o.shop_id JOIN users k ON k.id = sh.owner_id
        WHERE k.phone = ? AND o.status IN ('received', 'completed') AND u.phone LIKE '+86138000001%'
        ORDER BY o.id DESC LIMIT 1""", (f"+86{SHOPKEEPER}",))
    if not rows:
        pytest.fail("the demo has no fan with a received order from the shopkeeper's shop")
    return dict(rows[0])


def _api(page: Page, method: str, url: str, body: dict) -> dict:
    """A JSON call with the page's login cookie and CSRF token (as app.js sends htmx calls)."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    r = page.request.fetch(url, method=method, data=body, headers={"X-CSRF-Token": token or ""})
    assert r.ok, (url, r.status, r.text()[:300])
    return r.json()


def test_invited_fan_checks_in_draws_and_shows_an_order(e2e_own_server, new_context, login, screenshot,  # noqa: ANN001
                                                         tmp_path: Path) -> None:
    server = e2e_own_server
    pick = _fan_with_received_order(server)

    # The shopkeeper opens a circle and publishes a lucky draw from the circle's console.
    keeper: Page = new_context(server).new_page()
    login(keeper, SHOPKEEPER, server)
    keeper.goto("/console")
    circle = _api(keeper, "POST", "/api/circles", {"name": "小美的水果圈", "rules": "友善交流，不发广告。",
                                                    "welcome": "欢迎来到水果圈！每天签到领积分。"})
    cid = circle["id"]
    keeper.goto(f"/console/circles/{cid}/engagement")
    keeper.get_by_test_id("ec-new-draw").locator("summary").click()
    keeper.get_by_test_id("ec-draw-title").fill("开圈抽奖")
    keeper.get_by_test_id("ec-draw-rules").fill("每人 1 次，每次 5 积分。100% 得到试吃装一份。")
    form = keeper.get_by_test_id("ec-new-draw")
    form.locator('input[name="cost_points"]').fill("5")
    prize = keeper.get_by_test_id("ec-prize-0")
    prize.locator('input[name="prize_name"]').fill("芒果试吃装")
    prize.locator('input[name="prize_chance"]').fill("100")
    prize.locator('input[name="prize_stock"]').fill("20")
    prize.locator('input[name="prize_value"]').fill("9.90")
    keeper.get_by_test_id("ec-draw-save").click()
    expect(keeper.get_by_test_id("flash")).to_have_text(zh("Draw published"))
    invite = _api(keeper, "POST", f"/api/circles/{cid}/invites", {})
    link = re.sub(r"^https?://[^/]+", "", invite["url"])

    # The fan opens the invite link, logs in, accepts the rules and gets the welcome.
    fan: Page = new_context(server).new_page()
    fan.goto(link)
    fan.wait_for_url(re.compile(rf"/circles/{cid}/join"))
    expect(fan.get_by_test_id("rules")).to_contain_text("友善交流")
    snap(screenshot, fan, "invite")
    login(fan, pick["phone"][3:], server, code=True, next_url=fan.url.replace(server.base_url, ""))
    fan.wait_for_url(re.compile(rf"/circles/{cid}/join"))
    fan.get_by_test_id("accept-rules").check()
    fan.get_by_test_id("join-submit").click()
    fan.wait_for_url(re.compile(rf"/circles/{cid}\?joined=1"))
    expect(fan.get_by_test_id("welcome-post").first).to_contain_text("欢迎来到水果圈")
    snap(screenshot, fan, "welcome")

    # Check in: day 1 of the streak, +5 points.
    fan.get_by_test_id("eg-link-checkin").click()
    fan.get_by_test_id("eg-checkin-button").click()
    expect(fan.get_by_test_id("eg-notice")).to_contain_text("+5")
    expect(fan.get_by_test_id("eg-points")).to_contain_text("5")
    expect(fan.get_by_test_id("eg-checked")).to_be_visible()
    snap(screenshot, fan, "checked-in")

    # Enter the draw with those points: the prize, and the fan's masked name on the public winners list.
    fan.get_by_test_id("eg-tab-draws").click()
    fan.locator('[data-testid^="eg-draw-"]').first.click()
    expect(fan.get_by_test_id("eg-digest")).to_be_visible()
    fan.get_by_test_id("eg-enter").click()
    expect(fan.get_by_test_id("eg-notice")).to_contain_text("芒果试吃装")
    expect(fan.get_by_test_id("eg-winner")).to_have_count(1)
    expect(fan.get_by_test_id("eg-enter")).to_be_disabled()
    snap(screenshot, fan, "draw")

    # 晒单: a post of the received order with a photo, marked "verified purchase".
    photo = tmp_path / "IMG_3001.jpg"
    photo.write_bytes(jpeg(1200, 900, color=(230, 160, 40), gps=True))
    fan.goto(f"/circles/{cid}")
    fan.get_by_test_id("post-kind").select_option("show_order")
    fan.get_by_test_id("post-order").select_option(str(pick["order_id"]))
    fan.get_by_test_id("post-body-input").fill("收到啦，芒果又香又甜！")
    fan.get_by_test_id("post-photos").set_input_files(str(photo))
    fan.get_by_test_id("post-submit").click()
    mine = fan.locator(".cm-show_order").first
    expect(mine.get_by_test_id("verified-purchase")).to_be_visible()
    expect(mine.get_by_test_id("post-body")).to_have_text("收到啦，芒果又香又甜！")
    snap(screenshot, fan, "show-order")

    # The shopkeeper's health chart counts today: one check-in, one post, active members.
    keeper.goto(f"/console/circles/{cid}/engagement")
    expect(keeper.get_by_test_id("ec-checkins")).to_have_text("1")
    expect(keeper.get_by_test_id("ec-posts")).to_have_text("1")
    chart = keeper.get_by_test_id("ec-health-chart")
    expect(chart.locator("svg")).to_have_count(1)
    active = int(keeper.get_by_test_id("ec-active").inner_text())
    assert active >= 1
    chart.scroll_into_view_if_needed()
    snap(screenshot, keeper, "health")
