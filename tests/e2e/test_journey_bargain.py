"""Journey "Bargain" (砍价): the demo's live bargain, driven through the browser only.

A fan launches a bargain: the page shows the progress bar and the launcher's own first cut. Three friends,
each in a browser of their own, open the shared link, log in and press "help": each sees the cut they made.
A friend pressing "help" again (a second tab opened earlier) is refused in plain words; after the last cut
such a tab is told the floor has been reached. The last required helper brings the price to the floor exactly: the cuts on
the page (and in the database) add up to start − floor. The launcher then buys at the bargained price and
pays in the sandbox.

Shared e2e server; the launcher 13800000130 and the friends 13800000131–133 log in with one-time codes.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from quanzi.kit.money import yuan
from tests.e2e.test_journey_commerce import fen_of, pay_in_sandbox, snap, snap_card, zh

LAUNCHER = "13800000130"  # phones of their own: one code request per phone per minute
HELPERS = ("13800000131", "13800000132", "13800000133")


def demo_bargain(server) -> dict:  # noqa: ANN001
    rows = server.query("""SELECT a.*, k.label FROM bargain_activities a JOIN skus k ON k.id = a.sku_id
                           WHERE a.status = 'active' ORDER BY a.id LIMIT 1""")
    if not rows:
        pytest.fail("the demo has no running bargain (src/quanzi/demo/campaigns.py)")
    return dict(rows[0])


def cuts_on_page(page: Page) -> list[int]:
    """Every cut listed on the bargain page (the launcher's first, then each helper's), in fen."""
    return [-fen_of(x) for x in page.locator("[data-testid=bg-helpers] li .price").all_inner_texts()]  # "-¥7.17"


def open_as_friend(page: Page, path: str, phone: str, server, login) -> None:  # noqa: ANN001
    """A friend opens the shared link, not logged in yet: "help" leads to the login page and back."""
    page.goto(path)
    page.get_by_test_id("bg-help-login").click()
    page.wait_for_url(re.compile(r"/login\?next="))
    login(page, phone, server, code=True, next_url=path)
    page.wait_for_url(re.compile(rf"{path}$"))
    expect(page.get_by_test_id("bg-help")).to_be_visible()


def test_friends_cut_the_price_to_the_floor_and_the_launcher_buys(
        e2e_server, new_context, login, screenshot) -> None:  # noqa: ANN001
    server = e2e_server
    act = demo_bargain(server)
    start, floor, first_cut = act["start_price_fen"], act["floor_price_fen"], act["first_cut_fen"]
    assert act["helpers_needed"] == len(HELPERS) and first_cut > 0

    # --- the launcher: the list → launch → the bargain page with the first cut ----------------------------
    launcher = new_context().new_page()
    login(launcher, LAUNCHER, server, code=True)
    launcher.goto("/bargain")
    offer = launcher.get_by_test_id(f"bg-offer-{act['id']}")
    expect(offer).to_contain_text(act["title"])
    expect(offer).to_contain_text(yuan(floor))
    snap(screenshot, launcher, "01-list")
    offer.get_by_test_id(f"bg-launch-{act['id']}").click()
    launcher.wait_for_url(re.compile(r"/bargains/\d+$"))
    path = re.search(r"(/bargains/(\d+))$", launcher.url)
    bargain_path, bargain_id = path.group(1), int(path.group(2))
    expect(launcher.get_by_test_id("bg-bargain")).to_have_attribute("data-status", "active")
    expect(launcher.get_by_test_id("bg-current")).to_have_text(yuan(start - first_cut))
    expect(launcher.get_by_test_id("bg-first-cut")).to_contain_text(f"-{yuan(first_cut)}")
    expect(launcher.get_by_test_id("bg-first-cut")).to_contain_text(zh("First cut by the launcher"))
    pct = round(100 * first_cut / (start - floor))
    expect(launcher.get_by_test_id("bg-bar")).to_have_attribute("aria-valuenow", str(pct))
    bar = launcher.get_by_test_id("bg-bar").locator("span").bounding_box()
    track = launcher.get_by_test_id("bg-bar").bounding_box()
    assert bar and track and abs(bar["width"] / track["width"] * 100 - pct) < 2  # the bar is drawn to match
    expect(launcher.get_by_test_id("bg-progress")).to_contain_text(
        zh("%(amount)s cut so far") % {"amount": yuan(first_cut)})
    expect(launcher.get_by_test_id("bg-countdown")).to_have_text(re.compile(r"^2[34]:\d\d:\d\d$"))
    expect(launcher.get_by_test_id("bg-help")).to_have_count(0)  # no helping one's own bargain
    share_url = launcher.get_by_test_id("bg-share-url").input_value()
    assert re.fullmatch(rf"https?://[^/]+{bargain_path}", share_url), share_url
    expect(launcher.get_by_test_id("bg-buy-form")).to_have_count(0)  # not at the floor yet
    snap(screenshot, launcher, "02-launched")

    # --- three friends help, each in a browser of their own ---------------------------------------------------
    friends: list[Page] = []
    for i, phone in enumerate(HELPERS, start=1):
        friend_context = new_context()
        friend = friend_context.new_page()
        open_as_friend(friend, bargain_path, phone, server, login)
        stale = friend_context.new_page()  # the same link open in a second tab, before helping
        stale.goto(bargain_path)
        friend.get_by_test_id("bg-help").click()
        friend.wait_for_url(re.compile(rf"{bargain_path}\?notice=helped$"))
        notice = friend.get_by_test_id("bg-notice").inner_text()
        said = re.fullmatch(zh("You cut %(amount)s. Thank you!").replace("%(amount)s", "(¥[0-9.,]+)"), notice)
        assert said, notice
        cut = fen_of(said.group(1))
        assert cut > 0
        expect(friend.get_by_test_id(f"bg-help-{i}")).to_contain_text(yuan(cut))
        helped = zh("You already helped: you cut %(amount)s.") % {"amount": yuan(cut)}
        expect(friend.get_by_test_id("bg-helped")).to_have_text(helped)
        expect(friend.get_by_test_id("bg-help")).to_have_count(0)
        snap_card(screenshot, friend, friend.get_by_test_id("bg-helpers"), f"03-helper-{i}")
        friend.reload()  # the page after helping is a plain GET: a reload cuts nothing again
        expect(friend.get_by_test_id("bg-notice")).to_have_text(notice)
        assert len(cuts_on_page(friend)) == 1 + i
        assert server.query("SELECT count(*) AS n FROM bargain_helps WHERE bargain_id = ?", (bargain_id,))[0]["n"] == i
        # The second tab still shows the button: pressing it is refused, in words — after the last cut the
        # words say why nobody can help any more (a page opened before the floor was reached).
        stale.get_by_test_id("bg-help").click()
        last = i == len(HELPERS)
        expect(stale.get_by_test_id("bg-error")).to_have_text(
            "已经砍到底价了，不用再砍啦" if last else "你已经帮 TA 砍过了")
        assert len(cuts_on_page(stale)) == 1 + i
        if last:
            expect(stale.get_by_test_id("bg-over")).to_be_visible()
        if i == 1 or last:
            snap(screenshot, stale, "05-too-late-refused" if last else "04-helped-twice-refused")
        friends.append(friend)

    # --- at the floor, exactly -----------------------------------------------------------------------------------
    launcher.reload()
    expect(launcher.get_by_test_id("bg-bargain")).to_have_attribute("data-status", "succeeded")
    expect(launcher.get_by_test_id("bg-current")).to_have_text(yuan(floor))
    expect(launcher.get_by_test_id("bg-bar")).to_have_attribute("aria-valuenow", "100")
    cuts = cuts_on_page(launcher)
    assert len(cuts) == 1 + len(HELPERS) and cuts[0] == first_cut
    assert sum(cuts) == start - floor, (cuts, start, floor)
    [row] = server.query("SELECT status, current_price_fen, plan FROM bargains WHERE id = ?", (bargain_id,))
    helps = [r["cut_fen"] for r in server.query(
        "SELECT cut_fen FROM bargain_helps WHERE bargain_id = ? ORDER BY seq", (bargain_id,))]
    assert row["status"] == "succeeded" and row["current_price_fen"] == floor
    assert [first_cut, *helps] == cuts and first_cut + sum(helps) == start - floor
    snap_card(screenshot, launcher, launcher.get_by_test_id("bg-helpers"), "06-floor-reached")

    # --- the launcher buys at the bargained price and pays ----------------------------------------------------
    buy = launcher.get_by_test_id("bg-buy")
    expect(buy).to_have_text(zh("Buy at %(price)s") % {"price": yuan(floor)})
    buy.click()
    order_id = pay_in_sandbox(launcher, lambda p, n: snap(screenshot, p, n), "07")
    expect(launcher.locator("[data-testid^=line-]")).to_have_count(1)
    line = launcher.locator("[data-testid^=line-]").first
    expect(line).to_contain_text(act["label"])
    expect(line.locator(".line-foot")).to_contain_text(yuan(floor))  # the unit price is the floor price
    snap(screenshot, launcher, "08-order-paid")
    [order] = server.query("""SELECT o.kind, o.status, o.goods_fen, l.unit_price_fen, l.quantity FROM orders o
                              JOIN order_lines l ON l.order_id = o.id WHERE o.id = ?""", (order_id,))
    assert (order["kind"], order["status"], order["goods_fen"], order["unit_price_fen"], order["quantity"]) == (
        "bargain", "paid", floor, floor, 1)
    [row] = server.query("SELECT status, order_id FROM bargains WHERE id = ?", (bargain_id,))
    assert (row["status"], row["order_id"]) == ("purchased", order_id)

    friends[0].goto(bargain_path)  # a friend sees how it ended, and their own part in it
    expect(friends[0].get_by_test_id("bg-over")).to_be_visible()
    expect(friends[0].get_by_test_id("bg-helped")).to_have_text(
        zh("You already helped: you cut %(amount)s.") % {"amount": yuan(cuts[1])})
