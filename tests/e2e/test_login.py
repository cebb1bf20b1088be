"""Logging in through the real pages on a phone-sized Chromium: one-time code, password, wrong code.

Each test uses its own demo phone: the server limits code requests to one per phone per minute.
"""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from quanzi.accounts.errors import BadCode

FAN = ("13800000101", "+8613800000101")
FAN_WRONG_CODE = ("13800000102", "+8613800000102")
SHOPKEEPER = "13800000021"
DEMO_PASSWORD = "quanzi-demo"
# The exact Chinese copy belongs to the catalog (locale/zh_CN); here it only has to be Chinese.
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def request_code(page: Page, server, phone: str, phone_e164: str) -> str:  # noqa: ANN001
    """Open /login, ask for a code and return it as the server log shows it (`sms.login_code`)."""
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.get_by_test_id("code")).to_be_disabled()
    page.get_by_test_id("phone").fill(phone)
    mark = server.log_size()
    page.get_by_test_id("send-code").click()
    expect(page.get_by_test_id("code-sent")).to_be_visible()
    code = server.login_code(phone_e164, since=mark)
    # With demo hints and the log SMS provider the page shows the same code.
    expect(page.get_by_test_id("dev-code")).to_have_text(code)
    return code


def assert_fits_the_phone(page: Page) -> None:
    """Nothing sticks out sideways on a 390 px wide screen."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"


def test_fan_logs_in_with_a_one_time_code_and_switches_to_english(page: Page, e2e_server, screenshot) -> None:  # noqa: ANN001
    code = request_code(page, e2e_server, *FAN)
    page.get_by_test_id("code").fill(code)
    page.get_by_test_id("login-code").click()

    page.wait_for_url(re.compile(r"/$"))
    greeting = page.get_by_test_id("greeting")
    expect(greeting).to_be_visible()
    expect(greeting).to_have_text(re.compile(r"^你好[,，]\s*\S"))
    expect(page.get_by_test_id("storefront")).to_be_visible()
    expect(page.get_by_test_id("storefront").locator("h2")).to_have_text(CHINESE)
    expect(page.get_by_test_id("console")).to_have_count(0)
    expect(page.get_by_test_id("who")).to_be_visible()
    assert_fits_the_phone(page)
    screenshot(page, "home-zh")

    page.get_by_test_id("lang-en").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_test_id("greeting")).to_have_text(re.compile(r"^Hello,\s*\S"))
    expect(page.get_by_test_id("storefront").locator("h2")).to_have_text("Storefront")
    expect(page.get_by_test_id("console")).to_have_count(0)
    expect(page.get_by_test_id("lang-zh")).to_be_visible()
    screenshot(page, "home-en")


def test_shopkeeper_logs_in_with_a_password_and_sees_the_console(page: Page, e2e_server, screenshot) -> None:  # noqa: ANN001
    page.goto("/login")
    expect(page.get_by_test_id("password")).to_be_hidden()  # the password form is folded away
    page.locator("details.password-login > summary").click()
    page.get_by_test_id("pw-phone").fill(SHOPKEEPER)
    page.get_by_test_id("password").fill(DEMO_PASSWORD)
    assert_fits_the_phone(page)
    screenshot(page, "login-password")
    page.get_by_test_id("login-password").click()

    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_test_id("greeting")).to_have_text(re.compile(r"^你好[,，]\s*\S"))
    expect(page.get_by_test_id("role-shopkeeper")).to_have_text("店主")
    expect(page.get_by_test_id("console")).to_be_visible()
    expect(page.get_by_test_id("console").locator("h2")).to_have_text(CHINESE)
    expect(page.get_by_test_id("storefront")).to_be_visible()
    assert_fits_the_phone(page)
    screenshot(page, "home-zh")

    page.get_by_test_id("lang-en").click()
    page.wait_for_url(re.compile(r"/$"))
    expect(page.get_by_test_id("greeting")).to_have_text(re.compile(r"^Hello,\s*\S"))
    expect(page.get_by_test_id("role-shopkeeper")).to_have_text("Shopkeeper")
    expect(page.get_by_test_id("console")).to_be_visible()
    expect(page.get_by_test_id("console").locator("h2")).to_have_text("Console")
    screenshot(page, "home-en")


def test_a_wrong_code_shows_the_chinese_error(page: Page, e2e_server, screenshot) -> None:  # noqa: ANN001
    code = request_code(page, e2e_server, *FAN_WRONG_CODE)
    wrong = "000000" if code != "000000" else "111111"
    page.get_by_test_id("code").fill(wrong)
    page.get_by_test_id("login-code").click()

    error = page.get_by_test_id("login-error")
    expect(error).to_be_visible()
    # The code sent is still good: the page says so instead of asking for a new one (BadCode's own words).
    expect(error).to_contain_text("验证码")
    expect(error).not_to_have_text(BadCode.message["zh"])
    expect(page.get_by_test_id("code")).to_be_enabled()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_test_id("greeting")).to_have_count(0)
    expect(page.get_by_test_id("logout")).to_have_count(0)  # no session was started
    assert_fits_the_phone(page)
    screenshot(page, "wrong-code")
