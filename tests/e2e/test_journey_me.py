"""Journey "我的" (me), on a phone in Chromium: a new fan buys without paying yet, opens the 我的 tab, sees the
unpaid order counted and follows it to the filtered list; manages the address book (add with the
province/city/district picker, edit, set default, delete); turns the privacy switch off; reads it all in English."""

from __future__ import annotations

import itertools
import os
import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import E2EServer
from tests.e2e.test_dead_ends import fill_address, fits_the_phone

_phones = (f"1351{os.getpid() % 1000:03d}{n:04d}" for n in itertools.count(1))


def test_me_page_orders_addresses_privacy(page: Page, e2e_server: E2EServer, login, screenshot) -> None:  # noqa: ANN001
    phone = next(_phones)
    login(page, phone, e2e_server, code=True)

    # An order placed and not paid yet (its address added in place at checkout).
    page.goto("/p/1")
    page.get_by_test_id("buy-now").click()
    page.wait_for_url(re.compile(r"/checkout\?"))
    fill_address(page, page.get_by_test_id("add-address"), phone, ("上海市", "上海市", "浦东新区"))
    page.get_by_test_id("add-address").get_by_test_id("save-address").click()
    page.wait_for_url(re.compile(r"/checkout\?.*address_id=\d+"))
    page.get_by_test_id("place-order").click()
    page.wait_for_url(re.compile(r"/orders/\d+/pay$"))

    # 我的: orders by state, the default address, settings.
    page.goto("/")
    page.get_by_test_id("tab-me").click()
    page.wait_for_url(re.compile(r"/me$"))
    expect(page.get_by_test_id("tab-me")).to_have_class(re.compile(r"\bon\b"))
    expect(page.get_by_test_id("me-count-unpaid")).to_have_text("1")
    expect(page.get_by_test_id("me-default-address")).to_contain_text("上海市 浦东新区")
    expect(page.get_by_test_id("me-notifications")).to_have_attribute("href", "/me/notifications")
    expect(page.get_by_test_id("me-messages")).to_have_attribute("href", "/messages")
    fits_the_phone(page)
    screenshot(page, "me")
    page.get_by_test_id("me-tab-unpaid").click()
    page.wait_for_url(re.compile(r"/orders\?tab=unpaid$"))
    expect(page.locator("[data-testid=status]")).to_have_count(1)

    # The address book: add (the picker), edit, make default, delete.
    page.goto("/me")
    page.get_by_test_id("me-address-book").click()
    page.wait_for_url(re.compile(r"/me/addresses$"))
    page.get_by_test_id("new-address").click()
    fill_address(page, page, phone, ("四川省", "成都市", "武侯区"))
    screenshot(page, "new-address")
    page.get_by_test_id("save-address").click()
    page.wait_for_url(re.compile(r"/me/addresses\?notice=saved$"))
    new = page.locator("section.addr-item", has_text="四川省 成都市 武侯区")
    expect(new).to_have_count(1)
    new_id = (new.get_attribute("data-testid") or "").rsplit("-", 1)[1]
    page.get_by_test_id(f"edit-{new_id}").click()
    expect(page.get_by_test_id("addr-district")).to_have_value("510107")  # the saved place is picked
    page.get_by_test_id("addr-district").select_option(label="锦江区")
    page.get_by_test_id("save-address").click()
    page.wait_for_url(re.compile(r"/me/addresses\?notice=saved$"))
    expect(page.get_by_test_id(f"address-{new_id}")).to_contain_text("四川省 成都市 锦江区")
    page.get_by_test_id(f"make-default-{new_id}").click()
    page.wait_for_url(re.compile(r"/me/addresses\?notice=default$"))
    expect(page.get_by_test_id(f"address-{new_id}").get_by_test_id("default-tag")).to_be_visible()
    fits_the_phone(page)
    screenshot(page, "address-book")
    page.once("dialog", lambda d: d.accept())  # "delete this address?"
    page.get_by_test_id(f"delete-{new_id}").click()
    page.wait_for_url(re.compile(r"/me/addresses\?notice=deleted$"))
    expect(page.get_by_test_id(f"address-{new_id}")).to_have_count(0)
    expect(page.get_by_test_id("default-tag")).to_have_count(1)  # the other one is the default again

    # Privacy: shopkeepers may see the masked number, until the fan says no.
    page.goto("/me")
    box = page.get_by_test_id("privacy-phone")
    expect(box).to_be_checked()
    box.uncheck()
    page.get_by_test_id("privacy-save").click()
    page.wait_for_url(re.compile(r"/me\?notice=privacy"))
    expect(page.get_by_test_id("me-notice")).to_be_visible()
    expect(page.get_by_test_id("privacy-phone")).not_to_be_checked()
    rows = e2e_server.query("select show_phone_to_shops from users where phone = ?", ("+86" + phone,))
    assert [r[0] for r in rows] == [0]

    # In English on request.
    page.get_by_test_id("lang-en").click()
    page.wait_for_url(re.compile(r"/me"))
    expect(page.get_by_test_id("tab-me")).to_contain_text("Me")
    expect(page.get_by_test_id("me-tab-unpaid")).to_contain_text("To pay")
    screenshot(page, "me-en")
