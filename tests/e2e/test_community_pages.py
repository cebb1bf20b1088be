"""Circles in a real Chromium on a phone: the demo shopkeeper 小美 creates a circle in the console and copies its
invite link; a fan opens the link, reads and accepts the rules, lands in the feed with the welcome, posts with a
photo; the shopkeeper sees the fan in the members list. Screenshots go to test-results/e2e/.

(The whole engagement journey — check-in, draws, 晒单, the health chart — is the engagement domain's.)"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.e2e.test_journey_commerce import snap
from tests.media import images

KEEPER = "13800000021"
FAN = "13800000140"


def test_create_invite_join_and_post(new_context, e2e_server, login, screenshot, tmp_path) -> None:  # noqa: ANN001
    keeper = new_context().new_page()
    login(keeper, KEEPER)
    keeper.goto("/console/circles")
    keeper.get_by_test_id("c-name").fill("小美的水果圈")
    keeper.get_by_test_id("c-rules").fill("1. 友善交流\n2. 不发广告")
    keeper.get_by_test_id("c-welcome").fill("欢迎来到小美的水果圈，每周五上新！")
    keeper.get_by_test_id("create-submit").click()
    expect(keeper.get_by_test_id("invite-url")).to_be_visible()
    snap(screenshot, keeper, "console-settings")
    invite = keeper.get_by_test_id("invite-url").input_value()
    assert re.search(r"/r/v1\.\d+\.q\.\d+\.", invite)

    fan = new_context().new_page()
    login(fan, FAN, e2e_server, code=True)
    fan.goto("/r/" + invite.split("/r/", 1)[1])  # the link's path, on this server
    expect(fan.get_by_test_id("join-form")).to_be_visible()
    expect(fan.get_by_test_id("rules")).to_contain_text("不发广告")
    snap(screenshot, fan, "join")
    fan.get_by_test_id("accept-rules").check()
    fan.get_by_test_id("join-submit").click()
    expect(fan.get_by_test_id("joined")).to_be_visible()
    expect(fan.get_by_test_id("welcome-post")).to_contain_text("每周五上新")
    photo = tmp_path / "apple.jpg"
    photo.write_bytes(images.jpeg())
    fan.get_by_test_id("post-body-input").fill("刚收到的苹果，很甜 <b>不是粗体</b>")
    fan.get_by_test_id("post-photos").set_input_files(str(photo))
    fan.get_by_test_id("post-submit").click()
    expect(fan.get_by_test_id("post-body").first).to_contain_text("<b>不是粗体</b>")
    snap(screenshot, fan, "feed")
    fan.goto("/me")
    expect(fan.get_by_test_id("me-circles")).to_contain_text("小美的水果圈")

    cid = re.search(r"\.q\.(\d+)\.", invite).group(1)
    keeper.goto(f"/console/circles/{cid}/members")
    expect(keeper.get_by_test_id("console-members")).to_contain_text("…0140")
    snap(screenshot, keeper, "console-members")
