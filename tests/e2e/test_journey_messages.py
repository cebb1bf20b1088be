"""The message centre on a phone-sized Chromium: a demo fan whose orders were paid and shipped sees the unread
badge in the top bar (loaded by htmx after the page), reads the list, marks one read in place, marks all
read, and changes notification settings — in Chinese, then the list in English."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def _fan_with_messages(server) -> tuple[str, int]:  # noqa: ANN001
    """A demo fan with unread messages (the demo's paid and shipped orders wrote them through the outbox)."""
    rows = server.query(
        "SELECT u.phone AS phone, COUNT(*) AS n FROM notifications m JOIN users u ON u.id = m.user_id "
        "WHERE m.read_at IS NULL AND m.kind = 'order_shipped' GROUP BY u.phone ORDER BY n DESC, u.phone LIMIT 1")
    assert rows, "the demo should leave some fans with messages"
    return rows[0]["phone"], int(server.query(
        "SELECT COUNT(*) AS n FROM notifications m JOIN users u ON u.id = m.user_id "
        "WHERE u.phone = ? AND m.read_at IS NULL", (rows[0]["phone"],))[0]["n"])


def test_fan_reads_messages_and_chooses_notifications(page: Page, e2e_server, login, screenshot) -> None:  # noqa: ANN001
    phone, unread = _fan_with_messages(e2e_server)
    login(page, phone, e2e_server, code=True)
    badge = page.get_by_test_id("unread-badge")
    expect(badge).to_have_text("99+" if unread > 99 else str(unread))

    page.get_by_test_id("messages-link").click()
    page.wait_for_url(re.compile(r"/messages$"))
    expect(page.locator("h1")).to_contain_text("消息")
    items = page.get_by_test_id("messages").locator("li[data-read='no']")
    first = items.first
    expect(first).to_be_visible()
    shipped = page.locator("li[data-kind='order_shipped']").first
    expect(shipped).to_contain_text("运单号")
    expect(shipped.get_by_role("link", name="查看物流")).to_have_attribute("href", re.compile(r"^https://"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"page is {width}px wide"
    screenshot(page, "messages-zh")

    msg_id = first.get_attribute("id")
    first.get_by_role("button", name="标为已读").click()  # htmx swaps the item in place
    expect(page.locator(f"#{msg_id}")).to_have_attribute("data-read", "yes")
    assert page.url.endswith("/messages")

    page.get_by_test_id("read-all").click()
    expect(page.get_by_test_id("messages").locator("li[data-read='no']")).to_have_count(0)
    expect(page.get_by_test_id("unread-badge")).to_have_count(0)

    page.get_by_test_id("notification-settings").click()
    page.wait_for_url(re.compile(r"/me/notifications$"))
    expect(page.get_by_test_id("pref-order_paid-sms")).not_to_be_checked()
    page.get_by_test_id("pref-order_paid-sms").check()
    page.get_by_test_id("quiet-start").select_option("23:00")
    page.get_by_test_id("save-settings").click()
    expect(page.get_by_test_id("flash")).to_have_text("已保存。")
    expect(page.get_by_test_id("pref-order_paid-sms")).to_be_checked()
    expect(page.get_by_test_id("quiet-start")).to_have_value("23:00")
    screenshot(page, "notification-settings-zh")

    page.goto("/messages?lang=en")
    expect(page.locator("h1")).to_contain_text("Messages")
    expect(page.get_by_test_id("notification-settings")).to_have_text("Notification settings")
