"""No dead ends, on a phone in Chromium. Each journey failed on the code before this change:

1. A fan with no saved address taps 立即抢购 (flash sale), 开团 (group buy) or 立即购买 → checkout: the address
   form opens right there (province/city/district picker), and saving it returns to the same step, which now
   goes on (before: a link to an empty cart, no address form).
2. A wrong one-time code keeps the code that was sent usable, and the send button counts 60 s down (before:
   "request a new one", and a resend ran into the rate limit that locked the code field).
3. A share link cut short still opens the product, saying plainly nobody is credited; an unreadable one is a
   page with ways on (before: an error page only).
4. Countdowns flip the page at zero, soon → live → ended, without a reload by hand (server of its own: its
   clock is moved).
5. A submit button shows it is busy and a second tap sends nothing (before: two requests).
6. A refusal (the flash sale's per-person limit) is shown on the page the fan was on, at its own address
   (before: a page at the POST URL).
7. A 404 speaks plainly, keeps the top bar with the person who is logged in and links home (before: nobody).
"""

from __future__ import annotations

from quanzi.kit.clock import CHINA

import itertools
import os
import re
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, Route, expect

from quanzi.kit import sharetokens as tokens
from tests.e2e.conftest import E2EServer

# New people (no address yet): each test its own phone, the server allows one code per phone per minute.
_phones = (f"1350{os.getpid() % 1000:03d}{n:04d}" for n in itertools.count(1))
SHOPKEEPER_ID_SQL = "select id from users where phone = '+8613800000021'"


def new_fan(page: Page, server: E2EServer, login, next_url: str = "/") -> str:  # noqa: ANN001
    phone = next(_phones)
    login(page, phone, server, code=True, next_url=next_url)
    return phone


def fill_address(page: Page, scope, phone: str, where: tuple[str, str, str] = ("浙江省", "杭州市", "西湖区")) -> None:  # noqa: ANN001
    """Fill the address form inside `scope`: the picker offers each level once the one above is chosen."""
    scope.get_by_test_id("addr-name").fill("新粉丝")
    scope.get_by_test_id("addr-phone").fill(phone)
    scope.get_by_test_id("addr-province").select_option(label=where[0])
    expect(scope.get_by_test_id("addr-city")).to_be_enabled()
    scope.get_by_test_id("addr-city").select_option(label=where[1])
    expect(scope.get_by_test_id("addr-district")).to_be_enabled()
    scope.get_by_test_id("addr-district").select_option(label=where[2])
    scope.get_by_test_id("addr-detail").fill("文三路 90 号 2 幢 301 室")


def live_offer(page: Page):  # noqa: ANN201
    offer = page.locator("[data-testid^=fs-offer-][data-state=live]").first
    expect(offer).to_be_visible()
    return offer


def fits_the_phone(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


# --- 1 + 6: an address in place, then a refusal on the same page ---------------------------------------

def test_flash_sale_grab_adds_an_address_in_place_and_a_refusal_stays_on_the_page(
        page: Page, e2e_server: E2EServer, login, screenshot) -> None:  # noqa: ANN001
    phone = new_fan(page, e2e_server, login, "/flashsale")
    page.wait_for_url(re.compile(r"/flashsale"))
    offer = live_offer(page)
    offer.get_by_text("立即抢购").click()  # a fan without an address taps 立即抢购: the form opens here
    form = offer.get_by_test_id("address-form")
    expect(form).to_be_visible()
    fill_address(page, form, phone)
    fits_the_phone(page)
    screenshot(page, "address-in-place")
    form.get_by_test_id("save-address").click()
    page.wait_for_url(re.compile(r"/flashsale\?slot=\d+$"))  # back on the same step
    offer = live_offer(page)
    expect(offer.locator("select[name=address_id]")).to_contain_text("浙江省 杭州市 西湖区")
    screenshot(page, "address-saved")
    offer.get_by_test_id("fs-grab").click()
    page.wait_for_url(re.compile(r"/orders/\d+/pay$"))

    # 6. Again: over the per-person limit. Said on the flash-sale page, at its own address.
    page.goto("/flashsale")
    live_offer(page).get_by_test_id("fs-grab").click()
    page.wait_for_url(re.compile(r"/flashsale\?slot=\d+$"))
    expect(page.get_by_test_id("fs-error")).to_be_visible()
    assert "/grab" not in page.url
    screenshot(page, "refused-on-the-page")
    page.reload()  # a reload posts nothing and the message was said once
    expect(page.get_by_test_id("fs-error")).to_have_count(0)


def test_group_buy_and_checkout_add_an_address_in_place(page: Page, e2e_server: E2EServer, login,  # noqa: ANN001
                                                        screenshot) -> None:  # noqa: ANN001
    phone = new_fan(page, e2e_server, login, "/groupbuy")
    page.goto("/groupbuy/activities/1")
    need = page.get_by_test_id("gb-open-need-address")
    need.locator("summary").click()  # 开团: the address form opens in place
    fill_address(page, need, phone, ("北京市", "北京市", "朝阳区"))
    screenshot(page, "groupbuy-address")
    need.get_by_test_id("save-address").click()
    page.wait_for_url(re.compile(r"/groupbuy/activities/1$"))
    form = page.get_by_test_id("gb-open-form")
    expect(form.locator("select[name=address_id]")).to_contain_text("北京市 朝阳区")
    form.get_by_test_id("gb-open").click()
    page.wait_for_url(re.compile(r"/orders/\d+/pay$"))

    # Checkout: another address from the confirm page, picked for this order.
    page.goto("/p/1")
    page.get_by_test_id("buy-now").click()
    page.wait_for_url(re.compile(r"/checkout\?"))
    page.get_by_test_id("add-address").locator("summary").click()
    fill_address(page, page.get_by_test_id("add-address"), phone, ("广东省", "深圳市", "南山区"))
    page.get_by_test_id("add-address").get_by_test_id("save-address").click()
    page.wait_for_url(re.compile(r"/checkout\?.*address_id=\d+"))
    chosen = page.locator("[data-testid^=address-]:has(input[name=address_id]:checked)")
    expect(chosen).to_contain_text("广东省 深圳市 南山区")
    expect(page.get_by_test_id("place-order")).to_be_enabled()
    screenshot(page, "checkout-address")


def test_a_place_that_does_not_hold_together_is_refused_in_the_form(page: Page, e2e_server: E2EServer,  # noqa: ANN001
                                                                    login) -> None:  # noqa: ANN001
    phone = new_fan(page, e2e_server, login, "/me/addresses/new")
    page.wait_for_url(re.compile(r"/me/addresses/new"))
    fill_address(page, page, phone)
    # A district of another city, forced into the form: the server checks the place, not the browser.
    page.evaluate("""() => { const s = document.querySelector('[name=district_code]');
                             s.add(new Option('朝阳区', '110105', true, true)); }""")
    page.get_by_test_id("save-address").click()
    expect(page.get_by_test_id("address-error")).to_contain_text("区县须属于所选城市")
    expect(page.get_by_test_id("addr-name")).to_have_value("新粉丝")


# --- 2: the login form keeps a sent code usable ------------------------------------------------------

def test_a_wrong_code_keeps_the_sent_code_usable_and_resend_counts_down(page: Page, e2e_server: E2EServer,  # noqa: ANN001
                                                                        screenshot) -> None:  # noqa: ANN001
    phone = next(_phones)
    page.goto("/login?next=/me")
    page.get_by_test_id("phone").fill(phone)
    mark = e2e_server.log_size()
    page.get_by_test_id("send-code").click()
    code = e2e_server.login_code("+86" + phone, since=mark)
    send = page.get_by_test_id("send-code")
    expect(send).to_be_disabled()
    expect(send).to_have_text(re.compile(r"^\d+ 秒后可重新获取$"))
    first = send.inner_text()
    expect(send).not_to_have_text(first, timeout=5000)  # it counts down (retried: a loaded machine ticks late)

    page.get_by_test_id("code").fill("000000" if code != "000000" else "111111")
    page.get_by_test_id("login-code").click()
    expect(page.get_by_test_id("login-error")).to_contain_text("仍然有效")
    expect(page.get_by_test_id("code")).to_be_enabled()
    expect(page.get_by_test_id("send-code")).to_be_disabled()  # no resend into the rate limit
    fits_the_phone(page)
    screenshot(page, "wrong-code")
    page.get_by_test_id("code").fill(code)  # the code sent still works
    page.get_by_test_id("login-code").click()
    page.wait_for_url(re.compile(r"/me$"))
    expect(page.get_by_test_id("who")).to_be_visible()


# --- 3: a share link cut short ----------------------------------------------------------------------

def test_a_truncated_share_link_still_shows_the_product(page: Page, e2e_server: E2EServer, screenshot) -> None:  # noqa: ANN001
    keeper = e2e_server.query(SHOPKEEPER_ID_SQL)[0]["id"]
    token = tokens.issue("e2e", keeper, "p", 1, datetime.now().astimezone())
    page.goto(f"/r/{token[:-6]}")  # the end of the link lost when it was pasted
    page.wait_for_url(re.compile(r"/p/1\?link=partial$"))
    expect(page.get_by_test_id("partial-link")).to_contain_text("不会记录分享关系")
    expect(page.get_by_test_id("buy-now")).to_be_visible()
    screenshot(page, "partial-link")
    page.context.clear_cookies()
    cookies = page.context.cookies()
    assert not [c for c in cookies if c["name"] == "qz_share"]

    page.goto("/r/v1.12.p.3")  # cut inside the product number: nothing to show, but ways on
    expect(page.get_by_test_id("bad-share-link")).to_be_visible()
    expect(page.get_by_test_id("error-search")).to_be_visible()
    expect(page.get_by_test_id("error-home")).to_be_visible()
    screenshot(page, "bad-link")


# --- 5: busy buttons ---------------------------------------------------------------------------------

def test_a_submit_button_is_busy_and_cannot_send_twice(page: Page, e2e_server: E2EServer, login) -> None:  # noqa: ANN001
    new_fan(page, e2e_server, login)
    page.goto("/p/1")
    held: list[Route] = []
    page.route("**/cart/add", lambda route: held.append(route))
    # One script taps, looks at the button while the request is held, and taps again (a locator would wait
    # for the held navigation to finish).
    busy = page.evaluate("""async () => {
        const b = document.querySelector('[data-testid=add-to-cart]');
        b.click();
        await new Promise(r => setTimeout(r, 400));
        const busy = b.getAttribute('aria-busy');
        b.click();
        await new Promise(r => setTimeout(r, 400));
        return busy;
    }""")
    assert busy == "true"
    assert len(held) == 1, f"{len(held)} requests for one form"
    for route in held:
        route.continue_()
    page.wait_for_url(re.compile(r"/p/1\?added=1$"))
    page.unroute("**/cart/add")


# --- 7: a 404 that knows who is there ---------------------------------------------------------------

def test_a_404_knows_who_is_logged_in(page: Page, e2e_server: E2EServer, login, screenshot) -> None:  # noqa: ANN001
    new_fan(page, e2e_server, login)
    response = page.goto("/no/such/page")
    assert response is not None and response.status == 404
    expect(page.get_by_test_id("who")).to_be_visible()
    expect(page.get_by_test_id("error-title")).to_have_text("页面找不到了")
    expect(page.get_by_test_id("error-code")).to_contain_text("not_found")
    fits_the_phone(page)
    screenshot(page, "404")
    page.get_by_test_id("error-home").click()
    page.wait_for_url(re.compile(r"/$"))


# --- 4: countdowns flip the page at zero ------------------------------------------------------------

def _flash(server: E2EServer) -> tuple[int, int, datetime, datetime]:
    def utc(text: str) -> datetime:  # stored in UTC, without an offset on SQLite
        dt = datetime.fromisoformat(text)
        return dt if dt.tzinfo else dt.replace(tzinfo=UTC)

    row = server.query("select id, slot_id, starts_at, ends_at from flash_activities order by id limit 1")[0]
    return row["id"], row["slot_id"], utc(row["starts_at"]), utc(row["ends_at"])


def same_china_day(at: datetime) -> bool:
    """The page lists today's (China) slots: is the moment 12 s before `at` on the same day as `at`?"""
    return (at - timedelta(seconds=12)).astimezone(CHINA).date() == at.astimezone(CHINA).date()


def _move_to(server: E2EServer, at: datetime) -> None:
    now = datetime.fromisoformat(server.move_clock(0))
    moved = datetime.fromisoformat(server.move_clock(int((at - now).total_seconds())))
    assert abs((moved - at).total_seconds()) < 2, (now, at, moved)


def test_countdowns_flip_the_page_at_zero(new_context, e2e_own_server: E2EServer, screenshot) -> None:  # noqa: ANN001
    act, slot, starts, ends = _flash(e2e_own_server)
    page = new_context(e2e_own_server).new_page()
    offer = page.locator(f"[data-testid=fs-offer-{act}]")

    page.goto("/healthz")  # a first request, so the timed part below does not wait for a cold server
    # The demo's sale is in the open or next slot. Between 00:00 and 08:00 China time that is the 00:00 slot,
    # whose last 12 s before the start belong to the day before, when the page lists that day's slots
    # (known gap: the page does not show tomorrow's midnight slot yet). Then only the end flip is tested.
    if same_china_day(starts):
        _move_to(e2e_own_server, starts - timedelta(seconds=12))
        page.goto(f"/flashsale?slot={slot}")
        expect(offer).to_have_attribute("data-state", "soon", timeout=1_000)
        expect(offer.get_by_test_id("fs-soon")).to_be_visible(timeout=1_000)
        expect(offer).to_have_attribute("data-state", "live", timeout=30_000)  # no reload by hand
        expect(offer.get_by_test_id("fs-login")).to_be_visible()  # the grab button is there now
        screenshot(page, "flipped-live")

    _move_to(e2e_own_server, ends - timedelta(seconds=12))
    page.goto(f"/flashsale?slot={slot}")
    expect(offer).to_have_attribute("data-state", "live", timeout=1_000)
    expect(offer).to_have_attribute("data-state", "ended", timeout=30_000)
    expect(offer.get_by_test_id("fs-ended")).to_be_visible()
    screenshot(page, "flipped-ended")
