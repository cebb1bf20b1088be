"""Journey "Group buy" (拼团): the demo's live 3-person group buy, driven through the browser only.

1. Three fans complete a group (shared e2e server): fan A opens one from the activity page by paying in the
   sandbox and lands back on the group — own avatar, "2 more needed", a ticking countdown, a share button,
   the honest rules; A's order says it ships only once the group is complete. Fan B opens A's share link in
   a browser of its own, logs in, joins by paying; fan C takes the last seat. All three see the group
   complete; the orders are released for shipping (the supplier's fulfilment page lists them).
2. A group that runs out of time (a server of this module's own: the clock moves 25 hours): the sweep fails
   it, both members read "not complete in time / refunded" in plain words, their orders show the refund;
   the database shows the refunds through the provider and the stock put back — and the demo's own open
   group, which expired with it, was refunded the same way.

Fans 13800000120–122 (group 1) and 13800000123–124 (group 2) log in with one-time codes; the supplier
13800000011 with the demo password. Screenshots go to test-results/e2e/.
"""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from quanzi.demo.seed import GROUP_LEADER_FAN, fan_phone
from quanzi.kit.money import yuan
from tests.e2e.test_journey_commerce import confirm_in_sandbox, fen_of, snap, zh

# Phones of their own: the server allows one code request per phone per minute (test_login uses 101, 102).
FAN_A, FAN_B, FAN_C = "13800000120", "13800000121", "13800000122"
FAN_D, FAN_E = "13800000123", "13800000124"
SUPPLIER = "13800000011"
HOUR = 3_600
SEAT_TIMEOUT = 15.0  # the outbox seats a payer within a second or two
EXPIRY_TIMEOUT = 45.0  # sweep (every 15 s of server time) + refund through the provider + its notification


def demo_activity(server) -> dict:  # noqa: ANN001
    """The demo's running group buy and its SKUs (cheapest first), from the server's database."""
    rows = server.query("""SELECT a.id, a.title, a.group_size, a.time_limit_minutes, a.product_id, p.title AS product
                           FROM groupbuy_activities a JOIN products p ON p.id = a.product_id
                           WHERE a.status = 'active' ORDER BY a.id LIMIT 1""")
    if not rows:
        pytest.fail("the demo has no running group buy (src/quanzi/demo/campaigns.py)")
    act = dict(rows[0])
    act["skus"] = [dict(r) for r in server.query(
        """SELECT gs.sku_id, gs.group_price_fen, k.price_fen, k.label FROM groupbuy_skus gs
           JOIN skus k ON k.id = gs.sku_id WHERE gs.activity_id = ? ORDER BY gs.id""", (act["id"],))]
    return act


def nickname(server, phone: str) -> str:  # noqa: ANN001
    return server.query("SELECT nickname FROM users WHERE phone = ?", (f"+86{phone}",))[0]["nickname"]


def pay_for_seat(page: Page, screenshot, prefix: str, *, shots: bool = False) -> tuple[int, int]:  # noqa: ANN001
    """Pay a group order in the sandbox: the buyer lands back on the group. Returns (order id, group id).
    The pay page and the cashier are photographed only when asked (the commerce journey covers them)."""
    order_id, amount = confirm_in_sandbox(page, lambda p, n: snap(screenshot, p, n) if shots else None, prefix)
    page.wait_for_url(re.compile(r"/groupbuy/groups/\d+\?notice=paid$"))
    expect(page.get_by_test_id("gb-notice")).to_have_text(zh("Payment received. Thank you!"))
    group_id = int(re.search(r"/groupbuy/groups/(\d+)", page.url).group(1))
    assert fen_of(amount) > 0
    return order_id, group_id


def wait_for_my_state(page: Page, state: str, timeout: float = SEAT_TIMEOUT) -> None:
    """The member's own line on the group page reaches `state`: while the seat is being taken the page
    reloads itself (the outbox seats the payer a moment after the payment)."""
    expect(page.get_by_test_id("gb-my-place")).to_have_attribute("data-state", state, timeout=timeout * 1000)


def join_through_share_link(page: Page, share_path: str, phone: str, server, login, screenshot,  # noqa: ANN001
                            prefix: str, sku_id: int | None = None) -> tuple[int, int]:
    """Someone who is not logged in opens the share link, logs in, joins by paying."""
    page.goto(share_path)
    page.wait_for_url(re.compile(r"/groupbuy/groups/\d+$"))
    group_path = re.search(r"(/groupbuy/groups/\d+)", page.url).group(1)
    expect(page.get_by_test_id("gb-seats-left")).to_be_visible()
    page.get_by_test_id("gb-join-login").click()
    page.wait_for_url(re.compile(r"/login\?next="))
    login(page, phone, server, code=True, next_url=group_path)
    page.wait_for_url(re.compile(rf"{group_path}$"))
    form = page.get_by_test_id("gb-join-form")
    expect(form).to_be_visible()
    if sku_id is not None:
        form.get_by_test_id(f"gb-join-sku-{sku_id}").click()
        expect(form.get_by_test_id(f"gb-join-sku-{sku_id}").locator("input")).to_be_checked()
    snap(screenshot, page, f"{prefix}-join-form")
    form.get_by_test_id("gb-join").click()
    return pay_for_seat(page, screenshot, prefix)


def test_three_fans_complete_a_group_and_the_orders_ship(
        e2e_server, new_context, login, screenshot) -> None:  # noqa: ANN001
    server = e2e_server
    act = demo_activity(server)
    sku = act["skus"][0]
    assert act["group_size"] == 3 and sku["group_price_fen"] < sku["price_fen"]
    demo_leader = nickname(server, fan_phone(GROUP_LEADER_FAN)[3:])

    # --- fan A: the group-buy list → the activity (the demo's open group is there to join) → open one ---
    a_context = new_context()
    a_context.grant_permissions(["clipboard-read", "clipboard-write"])
    a = a_context.new_page()
    login(a, FAN_A, server, code=True)
    a.goto("/groupbuy")
    offer = a.get_by_test_id(f"gb-offer-{act['id']}")
    expect(offer).to_contain_text(act["title"])
    expect(offer).to_contain_text(yuan(sku["group_price_fen"]))
    snap(screenshot, a, "01-list")
    offer.click()
    a.wait_for_url(re.compile(rf"/groupbuy/activities/{act['id']}$"))
    expect(a.get_by_test_id("gb-joinable")).to_contain_text(demo_leader)  # a real demo fan's open group
    form = a.get_by_test_id("gb-open-form")
    expect(form.get_by_test_id(f"gb-open-sku-{sku['sku_id']}").locator("input")).to_be_checked()
    expect(form.get_by_test_id(f"gb-open-price-{sku['sku_id']}")).to_have_text(yuan(sku["group_price_fen"]))
    snap(screenshot, a, "02-activity")
    form.get_by_test_id("gb-open").click()
    order_a, group_id = pay_for_seat(a, screenshot, "03-a", shots=True)
    wait_for_my_state(a, "joined")

    # The group page as its leader sees it.
    me_a = nickname(server, FAN_A)
    expect(a.get_by_test_id("gb-group")).to_have_attribute("data-status", "forming")
    members = a.get_by_test_id("gb-member")
    expect(members).to_have_count(1)
    expect(members.first).to_contain_text(me_a)
    expect(members.first).to_contain_text(zh("Leader"))
    expect(members.first.locator(".avatar")).to_have_text(me_a[:1])  # the own avatar (the initial: no photo)
    expect(a.locator(".gb-empty")).to_have_count(2)
    expect(a.get_by_test_id("gb-seats-left")).to_have_text(zh("%(n)s more needed") % {"n": 2})
    countdown = a.get_by_test_id("gb-countdown")
    expect(countdown).to_have_text(re.compile(r"^2[34]:\d\d:\d\d$"))  # 24 hours from the payment, ticking
    first = countdown.inner_text()
    expect(countdown).not_to_have_text(first, timeout=3_000)
    expect(a.get_by_test_id("gb-my-words")).to_have_text(
        zh("You are in. The group succeeds when every seat is paid for."))
    rules = a.get_by_test_id("gb-rules")
    expect(rules).to_contain_text(zh("Pay to open a group, share it, and it succeeds when %(n)s people have paid.")
                                  % {"n": 3})
    expect(rules).to_contain_text(zh("A group has %(h)s hours from the leader's payment.") % {"h": 24})
    expect(rules).to_contain_text(zh("If the group is not complete in time, everyone is refunded in full, automatically."))
    expect(a.get_by_test_id("gb-platform-rule")).to_have_count(0)  # the demo never completes a group for you
    share_url = a.get_by_test_id("gb-share-url").input_value()
    share = re.fullmatch(r"https?://[^/]+(/r/v1\.\d+\.g\.(\d+)\.[\w.~-]+)", share_url)
    assert share and int(share.group(2)) == group_id, share_url
    a.get_by_test_id("gb-share-button").click()
    expect(a.get_by_test_id("gb-share-button")).to_have_text(zh("Link copied: paste it to your friends"))
    assert a.evaluate("navigator.clipboard.readText()") == share_url
    snap(screenshot, a, "04-group-opened")

    # A's order is paid but waits for the group: it says so, and leads back to the group.
    a.get_by_test_id("gb-my-order").click()
    a.wait_for_url(re.compile(rf"/orders/{order_a}$"))
    expect(a.get_by_test_id("order-status")).to_have_text(zh("Paid: group forming"))
    expect(a.get_by_test_id("held-note")).to_have_text(zh(
        "Your order ships once the group is complete. If it is not complete in time, your payment comes back in "
        "full, automatically."))
    snap(screenshot, a, "05-order-held")
    a.get_by_test_id("campaign-link").click()
    a.wait_for_url(re.compile(rf"/groupbuy/groups/{group_id}$"))

    # --- fan B opens the share link in a browser of its own, logs in, joins by paying ---------------------
    b = new_context().new_page()
    order_b, gid = join_through_share_link(b, share.group(1), FAN_B, server, login, screenshot, "06-b")
    assert gid == group_id
    wait_for_my_state(b, "joined")
    expect(b.get_by_test_id("gb-seats-left")).to_have_text(zh("%(n)s more needed") % {"n": 1})
    expect(b.get_by_test_id("gb-member")).to_have_count(2)
    expect(b.get_by_test_id("gb-share-url")).to_be_visible()  # B can invite too
    snap(screenshot, b, "07-b-joined")

    # --- fan C takes the last seat: the group is complete ---------------------------------------------------
    c = new_context().new_page()
    order_c, gid = join_through_share_link(c, share.group(1), FAN_C, server, login, screenshot, "08-c")
    assert gid == group_id
    wait_for_my_state(c, "succeeded")
    for page in (c, b, a):
        page.reload()
        expect(page.get_by_test_id("gb-group")).to_have_attribute("data-status", "succeeded")
        expect(page.get_by_test_id("gb-succeeded")).to_be_visible()
        expect(page.get_by_test_id("gb-my-place")).to_have_attribute("data-state", "succeeded")
        expect(page.get_by_test_id("gb-member")).to_have_count(3)
        expect(page.get_by_test_id("gb-seats-left")).to_have_count(0)
        expect(page.get_by_test_id("gb-share")).to_have_count(0)  # nothing left to share
    names = [m.inner_text() for m in a.get_by_test_id("gb-member").all()]
    for who in (FAN_A, FAN_B, FAN_C):
        assert any(nickname(server, who) in n for n in names), (who, names)
    snap(screenshot, c, "09-c-group-complete")
    snap(screenshot, a, "10-a-group-complete")

    # The orders are released: paid, to ship — on the buyer's page and in the supplier's console.
    b.goto(f"/orders/{order_b}")
    expect(b.get_by_test_id("order-status")).to_have_text(zh("Awaiting shipment"))
    expect(b.get_by_test_id("held-note")).to_have_count(0)
    snap(screenshot, b, "11-b-order-to-ship")
    rows = server.query("""SELECT o.id, o.status, o.hold_reason, m.status AS member FROM groupbuy_members m
                           JOIN orders o ON o.id = m.order_id WHERE m.group_id = ? ORDER BY m.id""", (group_id,))
    assert [(r["id"], r["status"], r["hold_reason"], r["member"]) for r in rows] == [
        (order, "paid", None, "succeeded") for order in (order_a, order_b, order_c)]
    [group] = server.query("SELECT status, filled, seats, completed_by_platform FROM groupbuy_groups WHERE id = ?",
                           (group_id,))
    assert (group["status"], group["filled"], group["seats"], group["completed_by_platform"]) == ("succeeded", 3, 3, 0)

    supplier = new_context().new_page()
    login(supplier, SUPPLIER)
    supplier.goto("/console/fulfilment")
    for order in (order_a, order_b, order_c):
        expect(supplier.locator(f"[data-testid=to-ship-order][data-order-id='{order}']")).to_be_visible()
    snap(screenshot, supplier, "12-supplier-to-ship")


def test_a_group_that_runs_out_of_time_is_refunded_in_full(
        e2e_own_server, new_context, login, screenshot) -> None:  # noqa: ANN001
    server = e2e_own_server
    act = demo_activity(server)
    sku = act["skus"][-1]  # another option than the demo leader's: its stock is this test's alone
    [before] = server.query("SELECT stock FROM skus WHERE id = ?", (sku["sku_id"],))

    # --- fan D opens a group (the dearer option), fan E joins through D's link: 2 of 3 seats -------------
    d_context = new_context(server)
    d = d_context.new_page()
    login(d, FAN_D, server, code=True)
    d.goto(f"/groupbuy/activities/{act['id']}")
    form = d.get_by_test_id("gb-open-form")
    form.get_by_test_id(f"gb-open-sku-{sku['sku_id']}").click()
    form.get_by_test_id("gb-open").click()
    order_d, group_id = pay_for_seat(d, screenshot, "01-d")
    wait_for_my_state(d, "joined")
    share = re.search(r"https?://[^/]+(/r/\S+)$", d.get_by_test_id("gb-share-url").input_value()).group(1)
    e = new_context(server).new_page()
    order_e, gid = join_through_share_link(e, share, FAN_E, server, login, screenshot, "02-e", sku["sku_id"])
    assert gid == group_id
    wait_for_my_state(e, "joined")
    expect(e.get_by_test_id("gb-seats-left")).to_have_text(zh("%(n)s more needed") % {"n": 1})
    snap(screenshot, e, "03-e-joined")
    [held] = server.query("SELECT stock FROM skus WHERE id = ?", (sku["sku_id"],))
    assert held["stock"] == before["stock"] - 2
    paid = {r["order_id"]: r["amount_fen"] for r in server.query(
        "SELECT order_id, amount_fen FROM payments WHERE order_id IN (?, ?) AND status = 'succeeded'",
        (order_d, order_e))}
    assert set(paid) == {order_d, order_e}

    # --- 25 hours later nobody else came: the sweep fails the group, the money goes back ----------------------
    server.move_clock(25 * HOUR)
    deadline = time.monotonic() + EXPIRY_TIMEOUT
    for page, who in ((d, "D"), (e, "E")):  # each refund comes back on its own
        while True:
            page.goto(f"/groupbuy/groups/{group_id}")
            place = page.get_by_test_id("gb-my-place").get_attribute("data-state")
            if place == "refunded" or time.monotonic() > deadline:
                break
            page.wait_for_timeout(1_000)
        assert place == "refunded", f"{who}'s place is still {place!r} after {EXPIRY_TIMEOUT}s"
    for page, order in ((d, order_d), (e, order_e)):
        page.goto(f"/groupbuy/groups/{group_id}")
        expect(page.get_by_test_id("gb-group")).to_have_attribute("data-status", "failed")
        expect(page.get_by_test_id("status")).to_have_text(zh("Not completed in time"))
        expect(page.get_by_test_id("gb-failed")).to_have_text(
            zh("The group was not complete in time. Every member gets a full refund, automatically."))
        expect(page.get_by_test_id("gb-my-place")).to_have_attribute("data-state", "refunded")
        words = "".join([zh("The group was not complete in time."),  # Chinese sentences: no space between
                         zh("Refunded: %(amount)s is back where it came from.") % {"amount": yuan(paid[order])}])
        expect(page.get_by_test_id("gb-my-words")).to_have_text(words)
        expect(page.get_by_test_id("gb-countdown")).to_have_count(0)
        expect(page.get_by_test_id("gb-join-form")).to_have_count(0)
        expect(page.get_by_test_id("gb-open-own")).to_be_visible()  # they may try again
    snap(screenshot, d, "04-d-group-failed")

    e.get_by_test_id("gb-my-order").click()
    e.wait_for_url(re.compile(rf"/orders/{order_e}$"))
    expect(e.get_by_test_id("order-status")).to_have_text(zh("Refunded and closed"))
    expect(e.get_by_test_id("order-refunded")).to_have_text(yuan(paid[order_e]))
    expect(e.get_by_test_id("timeline")).to_contain_text(zh("Group not complete in time: refund requested"))
    expect(e.get_by_test_id("timeline")).not_to_contain_text("group refund")  # no raw event names
    snap(screenshot, e, "05-e-order-refunded")

    # --- the database: one provider refund per member, in full; the stock is back ------------------------------
    refunds = server.query("""SELECT order_id, amount_fen, status FROM refunds WHERE order_id IN (?, ?)
                              ORDER BY order_id""", (order_d, order_e))
    assert [(r["order_id"], r["amount_fen"], r["status"]) for r in refunds] == [
        (order, paid[order], "succeeded") for order in sorted(paid)]
    members = server.query("SELECT status, refund_reason, refund_fen FROM groupbuy_members WHERE group_id = ?",
                           (group_id,))
    assert sorted((m["status"], m["refund_reason"], m["refund_fen"]) for m in members) == sorted(
        ("refunded", "group_failed", paid[o]) for o in paid)
    [after] = server.query("SELECT stock FROM skus WHERE id = ?", (sku["sku_id"],))
    assert after["stock"] == before["stock"]
    orders = server.query("SELECT status, refunded_fen, total_fen FROM orders WHERE id IN (?, ?)", (order_d, order_e))
    assert all(o["status"] == "closed" and o["refunded_fen"] == o["total_fen"] for o in orders), orders
    # The demo's own open group ran out of time too, and was settled the same way (a real leader, paid).
    def demo_group() -> list[tuple[str, str]]:
        return [(r["status"], r["member"]) for r in server.query(
            """SELECT g.status, m.status AS member FROM groupbuy_groups g JOIN groupbuy_members m
               ON m.group_id = g.id JOIN users u ON u.id = g.leader_id WHERE u.phone = ?""",
            (fan_phone(GROUP_LEADER_FAN),))]

    while demo_group() != [("failed", "refunded")] and time.monotonic() < deadline:
        time.sleep(0.5)
    assert demo_group() == [("failed", "refunded")]
