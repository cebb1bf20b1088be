"""Journey "Flash sale" (秒杀): today's slots, a live flash sale, a sold-out drop with its waitlist, and a
slot that opens later — driven through the browser only.

The module runs on a server of its own (`e2e_own_server`): its clock is set to noon (China time) of the demo
flash sale's day. The demo has three daily slots (凌晨场 00:00–08:00, 白天场 08:00–23:00, 夜猫子场
23:00–23:59) and seeds its sale in the one open when it ran, so the sale live at noon is the demo's when the
demo was built during the day, else one the operator adds to 白天场 through the flash-sale JSON API (bearer
token). The operator also adds a one-unit drop to 白天场 and an activity to 夜猫子场.

1. `/flashsale` shows a tab per slot with activities and the live sale with its progress; fan 13800000101
   grabs one and pays in the sandbox; the progress shows one more grabbed.
2. The same fan grabs the drop's only unit; fan 13800000140 sees it sold out, taps "notify me for the next
   batch" and sees the confirmation (and the waitlist row in the database).
3. The late slot's tab (fan 13800000141): its activity counts down (to the server's 23:00, not the
   phone's) and has no grab button.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from time import monotonic, sleep
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from quanzi.kit.money import yuan
from quanzi.orders.service import CHINA
from tests.e2e.test_journey_commerce import pay_in_sandbox, snap, snap_card, zh

FAN = "13800000101"
LATE_FAN = "13800000140"
ANOTHER_FAN = "13800000141"
OPERATOR = "13800000001"
DEMO_PASSWORD = "quanzi-demo"
NOON = time(12, 0)
LATE = time(23, 0)


def server_now(server) -> datetime:  # noqa: ANN001
    return datetime.fromisoformat(server.move_clock(0))


def operator_api(server) -> httpx.Client:  # noqa: ANN001
    """The operator's JSON API client (a bearer token from the password login)."""
    r = httpx.post(f"{server.base_url}/api/auth/login/password", json={"phone": OPERATOR, "password": DEMO_PASSWORD},
                   timeout=10)
    r.raise_for_status()
    return httpx.Client(base_url=server.base_url, timeout=10,
                        headers={"Authorization": f"Bearer {r.json()['token']}"})


def create(api: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
    r = api.post(path, json=body)
    assert r.status_code == 201, r.text
    return r.json()


def offer(page: Page, activity_id: int):  # noqa: ANN201
    return page.get_by_test_id(f"fs-offer-{activity_id}")


def progress(page: Page, activity_id: int, sold: int, quota: int) -> None:
    card = offer(page, activity_id)
    expect(card.get_by_test_id("fs-progress")).to_contain_text(
        zh("%(sold)s of %(quota)s grabbed") % {"sold": sold, "quota": quota})
    expect(card.get_by_test_id("fs-bar")).to_have_attribute("aria-valuenow", str(sold))


def countdown_seconds(text: str) -> int:
    h, m, s = (int(x) for x in text.split(":"))
    return h * 3600 + m * 60 + s


@pytest.fixture(scope="module")
def flash_day(e2e_own_server) -> dict[str, Any]:  # noqa: ANN001
    """Noon of the demo flash sale's day on the server's clock, the sale live then, and the operator's extras."""
    server = e2e_own_server
    rows = server.query("""SELECT a.id, a.day, a.slot_id, a.product_id, a.title, i.quota, i.flash_price_fen,
                                  i.sku_id FROM flash_activities a JOIN flash_items i ON i.activity_id = a.id
                           ORDER BY a.id LIMIT 1""")
    if not rows:
        pytest.fail("the demo has no flash sale (src/quanzi/demo/campaigns.py)")
    demo = dict(rows[0])
    day = datetime.fromisoformat(str(demo["day"])).date()
    noon = datetime.combine(day, NOON, tzinfo=CHINA)
    server.move_clock(int((noon - server_now(server)).total_seconds()))
    assert abs((server_now(server) - noon).total_seconds()) < 60

    # Other products of the demo with stock, not in any campaign yet.
    picks = server.query("""SELECT k.product_id, k.id AS sku_id, k.price_fen FROM skus k
                            JOIN products p ON p.id = k.product_id
                            WHERE p.status = 'published' AND k.is_active AND k.stock >= 30
                              AND k.product_id NOT IN (SELECT product_id FROM flash_activities)
                              AND k.product_id NOT IN (SELECT product_id FROM bargain_activities)
                              AND k.product_id NOT IN (SELECT product_id FROM groupbuy_activities)
                            GROUP BY k.product_id ORDER BY k.product_id LIMIT 3""")
    assert len(picks) == 3, picks

    def activity(api: httpx.Client, slot_id: int, title: str, pick: dict[str, Any], quota: int) -> dict[str, Any]:
        return create(api, "/api/flashsale/activities", {
            "slot_id": slot_id, "day": day.isoformat(), "title": title, "product_id": pick["product_id"],
            "items": [{"sku_id": pick["sku_id"], "flash_price_fen": pick["price_fen"] // 2, "quota": quota}]})

    with operator_api(server) as api:
        slots = api.get("/api/flashsale/slots").json()
        [daytime] = [x for x in slots if time.fromisoformat(x["starts"]) <= NOON < time.fromisoformat(x["ends"])]
        [late_slot] = [x for x in slots if time.fromisoformat(x["starts"]) == LATE]
        if demo["slot_id"] == daytime["id"]:
            live = demo
        else:  # the demo was built at night: its sale is over by noon
            made = activity(api, daytime["id"], "白天场·六折", picks[2], 20)
            live = {"id": made["id"], "slot_id": daytime["id"], "title": made["title"], "quota": 20,
                    "flash_price_fen": picks[2]["price_fen"] // 2, "sku_id": picks[2]["sku_id"]}
        drop = activity(api, daytime["id"], "限量 1 件·手慢无", picks[0], 1)
        late = activity(api, late_slot["id"], "夜猫子场·半价", picks[1], 5)
    tabs = {r["slot_id"] for r in server.query("SELECT slot_id FROM flash_activities WHERE day = ?",
                                                 (day.isoformat(),))}
    return {"live": live, "drop": drop, "late": late, "late_slot": late_slot, "noon": noon, "day": day,
            "tabs": len(tabs)}


def test_slots_and_the_live_demo_sale_then_a_grab_counts(
        e2e_own_server, flash_day, new_context, login, screenshot) -> None:  # noqa: ANN001
    server, demo = e2e_own_server, flash_day["live"]
    fan = new_context(server).new_page()
    login(fan, FAN, server)
    fan.goto("/flashsale")
    tabs = fan.get_by_test_id("fs-tabs")
    expect(tabs.locator(".fs-tab")).to_have_count(flash_day["tabs"])
    expect(fan.get_by_test_id(f"fs-tab-{demo['slot_id']}")).to_have_class(re.compile(r"\bon\b"))  # open now
    expect(fan.get_by_test_id(f"fs-tab-{flash_day['late_slot']['id']}")).to_contain_text("23:00")
    card = offer(fan, demo["id"])
    expect(card).to_have_attribute("data-state", "live")
    expect(card).to_contain_text(demo["title"])
    expect(card.locator(".fs-price")).to_have_text(yuan(demo["flash_price_fen"]))
    sold = demo["quota"] - server.query("SELECT remaining FROM flash_items WHERE activity_id = ?",
                                        (demo["id"],))[0]["remaining"]
    progress(fan, demo["id"], sold, demo["quota"])
    expect(card.get_by_test_id("fs-ends-in")).to_have_text(re.compile(r"^1[01]:\d\d:\d\d$"))  # to 23:00
    snap(screenshot, fan, "01-slots")

    card.get_by_test_id("fs-grab").click()
    order_id = pay_in_sandbox(fan, lambda p, n: snap(screenshot, p, n), "02")
    [line] = server.query("SELECT sku_id, unit_price_fen FROM order_lines WHERE order_id = ?", (order_id,))
    assert (line["sku_id"], line["unit_price_fen"]) == (demo["sku_id"], demo["flash_price_fen"])
    fan.goto("/flashsale")
    progress(fan, demo["id"], sold + 1, demo["quota"])
    snap(screenshot, fan, "03-one-more-grabbed")
    # The reservation is marked paid by the outbox (order.paid), a moment after the payment.
    deadline = monotonic() + 10
    while (status := server.query("SELECT status FROM flash_reservations WHERE order_id = ?",
                                  (order_id,))[0]["status"]) != "paid" and monotonic() < deadline:
        sleep(0.2)
    assert status == "paid"


def test_the_last_unit_goes_then_the_next_fan_joins_the_waitlist(
        e2e_own_server, flash_day, new_context, login, screenshot) -> None:  # noqa: ANN001
    server, drop = e2e_own_server, flash_day["drop"]
    fan = new_context(server).new_page()
    login(fan, FAN, server)
    fan.goto("/flashsale")
    card = offer(fan, drop["id"])
    expect(card).to_have_attribute("data-state", "live")
    progress(fan, drop["id"], 0, 1)
    card.get_by_test_id("fs-grab").click()
    pay_in_sandbox(fan, lambda p, n: snap(screenshot, p, n), "01")

    late = new_context(server).new_page()
    login(late, LATE_FAN, server, code=True)
    late.goto("/flashsale")
    card = offer(late, drop["id"])
    expect(card).to_have_attribute("data-state", "sold_out")
    progress(late, drop["id"], 1, 1)
    expect(card.get_by_test_id("fs-sold-out")).to_have_text(zh("Sold out"))
    expect(card.get_by_test_id("fs-grab")).to_have_count(0)
    snap_card(screenshot, late, card, "02-sold-out")
    card.get_by_test_id("fs-waitlist").click()
    late.wait_for_url(re.compile(r"/flashsale\?slot=\d+&notice=waitlist$"))
    expect(late.get_by_test_id("fs-notice")).to_have_text(zh("We will tell you when the next batch arrives."))
    card = offer(late, drop["id"])
    expect(card.get_by_test_id("fs-waiting")).to_have_text(zh("You are on the list for the next batch."))
    expect(card.get_by_test_id("fs-waitlist")).to_have_count(0)
    snap_card(screenshot, late, card, "03-waitlisted")
    late.reload()  # a plain GET: nothing posted again, still waiting
    expect(offer(late, drop["id"]).get_by_test_id("fs-waiting")).to_be_visible()
    rows = server.query("""SELECT w.product_id, w.notified_at FROM flash_waitlist w JOIN users u ON u.id = w.user_id
                           WHERE u.phone = ?""", (f"+86{LATE_FAN}",))
    assert [(r["product_id"], r["notified_at"]) for r in rows] == [(drop["product_id"], None)]


def test_a_later_slot_counts_down_without_a_grab_button(
        e2e_own_server, flash_day, new_context, login, screenshot) -> None:  # noqa: ANN001
    server, late, slot = e2e_own_server, flash_day["late"], flash_day["late_slot"]
    fan = new_context(server).new_page()
    login(fan, ANOTHER_FAN, server, code=True)
    fan.goto("/flashsale")
    fan.get_by_test_id(f"fs-tab-{slot['id']}").click()
    fan.wait_for_url(re.compile(rf"/flashsale\?slot={slot['id']}$"))
    expect(fan.get_by_test_id(f"fs-tab-{slot['id']}")).to_have_class(re.compile(r"\bon\b"))
    card = offer(fan, late["id"])
    expect(card).to_have_attribute("data-state", "soon")
    expect(card.get_by_test_id("fs-soon")).to_be_disabled()
    expect(card.get_by_test_id("fs-soon")).to_have_text(zh("Opens at %(at)s") % {"at": "23:00"})
    expect(card.get_by_test_id("fs-grab")).to_have_count(0)
    expect(card.locator("form")).to_have_count(0)
    countdown = card.get_by_test_id("fs-countdown")
    expect(countdown).to_have_text(re.compile(r"^\d\d:\d\d:\d\d$"))
    # The count follows the server's clock (noon, moved), not this browser's real one.
    opens = datetime.combine(flash_day["day"], time(23, 0), tzinfo=CHINA)
    expected = (opens - server_now(server)).total_seconds()
    assert abs(countdown_seconds(countdown.inner_text()) - expected) < 15, (countdown.inner_text(), expected)
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=3_000)  # it ticks
    assert expected > timedelta(hours=10).total_seconds()
    snap(screenshot, fan, "01-countdown")
