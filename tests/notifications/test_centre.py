"""The message centre and the person's choices: keyset pages, unread count, mark read (API and htmx), 404 for
someone else's message, preferences per kind and channel, the person's language, quiet hours (China time)
holding SMS but never the in-app message, and the pages in Chinese and English."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from quanzi.kit import outbox
from quanzi.kit.clock import clock
from quanzi.notifications import channels, service
from quanzi.notifications.service import quiet_until
from tests.conftest import make_user
from tests.notifications._support import deliveries, messages, settle
from tests.storefront.conftest import HTML, cookie_login

CHINA = ZoneInfo("Asia/Shanghai")


def at(h: int, m: int = 0, day: int = 15) -> datetime:
    return datetime(2026, 6, day, h, m, tzinfo=CHINA)


@pytest.fixture(autouse=True)
def _daytime() -> None:
    clock.freeze(at(10))


async def notice(db: Any, user_id: int, key: str, kind: str = "order_shipped") -> int | None:
    params = {"order_no": f"QZ{key}", "carrier": "顺丰", "tracking_no": f"SF{key}", "tracking_url": f"https://t/{key}",
              "amount": "¥9.90", "title": "苹果", "item": "苹果", "reason": {"zh": "原因", "en": "a reason"}}
    async with db.write() as s:
        return await service.notify(s, event_key=f"t:{key}", user_id=user_id, kind=kind, params=params,
                                    link=f"/orders/{key}")


def sms_sent_to(phone: str) -> list[channels.SmsMessage]:
    gateway = channels.sms()
    assert isinstance(gateway, channels.ConsoleSms)
    return [m for m in gateway.sent if m.phone == phone]


def test_quiet_hours_in_china_time() -> None:
    night = (22 * 60, 8 * 60)
    assert quiet_until(at(23, 30), night) == at(8, 0, day=16)
    assert quiet_until(at(3), night) == at(8)
    assert quiet_until(at(8), night) is None and quiet_until(at(21, 59), night) is None
    lunch = (12 * 60, 14 * 60)
    assert quiet_until(at(12), lunch) == at(14) and quiet_until(at(14), lunch) is None
    assert quiet_until(at(3), None) is None


async def test_quiet_hours_hold_sms_but_not_the_message(app, db) -> None:  # noqa: ANN001
    uid, _ = await make_user(db, "13900000021")
    clock.freeze(at(23, 30))
    await notice(db, uid, "1")
    assert [n.kind for n in await messages(db, uid)] == ["order_shipped"]  # in-app: at once
    (d,) = await deliveries(db, "sms")
    assert d.held_until == at(8, 0, day=16)
    await settle(db)  # a few minutes later: still quiet
    assert sms_sent_to("+8613900000021") == []
    clock.freeze(at(8, 0, day=16))
    await outbox.drain(db)
    (sent,) = sms_sent_to("+8613900000021")
    assert "SF1" in sent.text and (await deliveries(db, "sms"))[0].status == "sent"


async def test_quiet_hours_chosen_after_queuing_hold_the_send_again(app, client, db) -> None:  # noqa: ANN001
    uid, headers = await make_user(db, "13900000022")
    await notice(db, uid, "1")  # queued at 10:00, not quiet
    r = await client.put("/api/notifications/settings", headers=headers, json={
        "quiet_hours": {"start": "09:30", "end": "12:00"}})
    assert r.status_code == 200, r.text
    await outbox.drain(db)
    assert sms_sent_to("+8613900000022") == []
    assert (await deliveries(db, "sms"))[0].held_until == at(12)
    clock.freeze(at(12, 1))
    await outbox.drain(db)
    assert len(sms_sent_to("+8613900000022")) == 1


async def test_preferences_choose_channels_and_language(app, client, db) -> None:  # noqa: ANN001
    uid, headers = await make_user(db, "13900000023")
    r = await client.get("/api/notifications/settings", headers=headers)
    kinds = {k["kind"]: k for k in r.json()["kinds"]}
    assert (kinds["order_shipped"]["sms"], kinds["order_paid"]["sms"]) == (True, False)  # the defaults
    assert r.json()["quiet_hours"] == {"start": "22:00", "end": "08:00"}
    r = await client.put("/api/notifications/settings", headers=headers, json={
        "locale": "en", "quiet_hours": None,
        "channels": {"order_shipped": {"sms": False, "wechat": False}, "order_paid": {"sms": True}}})
    assert r.status_code == 200 and r.json()["quiet_hours"] is None, r.text
    await notice(db, uid, "1", "order_shipped")
    await notice(db, uid, "2", "order_paid")
    await settle(db)
    sent = sms_sent_to("+8613900000023")
    assert [m.kind for m in sent] == ["order_paid"]  # shipped switched off, paid switched on
    by_kind = {n.kind: n for n in await messages(db, uid)}
    assert by_kind["order_shipped"].title == "Your order has shipped"  # in-app always, in English
    assert sent[0].text.startswith("Order QZ2")

    clock.freeze(at(23, 59))  # quiet hours off: sent at once, even at midnight
    await notice(db, uid, "3", "order_paid")
    await outbox.drain(db)
    assert len(sms_sent_to("+8613900000023")) == 2


async def test_switching_off_after_queuing_skips_the_send(app, client, db) -> None:  # noqa: ANN001
    uid, headers = await make_user(db, "13900000024")
    await notice(db, uid, "1")
    await client.put("/api/notifications/settings", headers=headers,
                     json={"channels": {"order_shipped": {"sms": False}}})
    await settle(db)
    assert sms_sent_to("+8613900000024") == []
    assert [d.status for d in await deliveries(db, "sms")] == ["skipped"]


async def test_bad_settings_are_refused_with_a_code(app, client, db) -> None:  # noqa: ANN001
    _, headers = await make_user(db, "13900000025")
    for body, code in (({"channels": {"login_code": {"sms": False}}}, "notifications.unknown_kind"),
                       ({"channels": {"no_such": {"sms": True}}}, "notifications.unknown_kind"),
                       ({"quiet_hours": {"start": "24:00", "end": "08:00"}}, "request.invalid"),
                       ({"channels": {"order_paid": {"fax": True}}}, "request.invalid"),
                       ({"locale": "fr"}, "request.invalid")):
        r = await client.put("/api/notifications/settings", headers=headers, json=body)
        assert r.status_code == 422 and r.json()["error"]["code"] == code, (body, r.text)
    r = await client.get("/api/notifications/settings", headers=headers)
    assert r.json()["locale"] == "zh_CN"  # nothing half-written


async def test_keyset_pages_unread_and_mark_read(app, client, db) -> None:  # noqa: ANN001
    uid, headers = await make_user(db, "13900000026")
    other, other_headers = await make_user(db, "13900000027")
    for i in range(25):
        await notice(db, uid, str(i), "order_paid")
    await notice(db, other, "x", "order_paid")
    r = await client.get("/api/notifications", headers=headers)
    page1 = r.json()
    assert len(page1["items"]) == 20 and page1["unread"] == 25 and page1["next_before"]
    assert page1["items"][0]["body"].startswith("订单 QZ24")  # newest first
    r = await client.get(f"/api/notifications?before={page1['next_before']}", headers=headers)
    page2 = r.json()
    assert len(page2["items"]) == 5 and page2["next_before"] is None
    ids = [n["id"] for n in page1["items"] + page2["items"]]
    assert len(set(ids)) == 25 and ids == sorted(ids, reverse=True)

    first = ids[0]
    r = await client.post(f"/api/notifications/{first}/read", headers=headers)
    assert r.status_code == 200 and r.json()["read_at"]
    assert (await client.get("/api/notifications/unread-count", headers=headers)).json() == {"unread": 24}
    theirs = (await messages(db, other))[0].id
    r = await client.post(f"/api/notifications/{theirs}/read", headers=headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "notifications.not_found"
    r = await client.post("/api/notifications/read-all", headers=headers)
    assert r.json() == {"marked": 24}
    assert (await client.get("/api/notifications/unread-count", headers=headers)).json() == {"unread": 0}
    assert (await client.get("/api/notifications/unread-count", headers=other_headers)).json() == {"unread": 1}
    assert (await client.get("/api/notifications")).status_code == 401


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
async def test_pages_in_both_languages(app, client: httpx.AsyncClient, db, lang: str) -> None:  # noqa: ANN001
    uid, _ = await make_user(db, "13900000028", nickname="小王")
    browser = await cookie_login(client, db, uid, "13900000028")
    client.cookies.set("lang", lang)
    zh = lang == "zh_CN"
    r = await browser.get("/messages")
    assert r.status_code == 200
    assert ("暂无消息" if zh else "No messages yet") in r.text and 'data-testid="no-messages"' in r.text
    assert 'href="/me/notifications"' in r.text
    assert (await client.get("/messages/badge", headers=HTML)).text.strip() == ""

    await notice(db, uid, "7")
    r = await client.get("/messages/badge", headers=HTML)
    assert 'data-testid="unread-badge"' in r.text and ">1<" in r.text
    r = await browser.get("/messages")
    assert "订单已发货" in r.text  # the message keeps the language it was written in (the person's: zh)
    assert ("标为已读" if zh else "Mark as read") in r.text and 'href="https://t/7"' in r.text
    assert 'hx-get="/messages/badge"' in r.text  # the top bar loads the badge after the page
    (n,) = await messages(db, uid)
    r = await client.post(f"/messages/{n.id}/read", headers={**HTML, "hx-request": "true", "x-csrf-token": browser.csrf})
    assert r.status_code == 200 and 'data-read="yes"' in r.text and "<html" not in r.text
    r = await browser.post(f"/messages/{n.id}/open")
    assert r.status_code == 303 and r.headers["location"] == "/orders/7"

    r = await browser.get("/me/notifications")
    assert r.status_code == 200 and ("免打扰时段" if zh else "Quiet hours") in r.text
    assert 'name="order_shipped.sms" ' in r.text and ("订单已发货" if zh else "Order shipped") in r.text
    r = await browser.post("/me/notifications", [("order_paid.sms", "on"), ("quiet_on", "on"),
                                                 ("quiet_start", "23:00"), ("quiet_end", "07:00"), ("locale", "en")])
    assert r.status_code == 200 and ("已保存" if zh else "Saved.") in r.text
    async with db.read() as s:
        prefs = await service.preferences(s, uid)
    assert prefs.quiet == (23 * 60, 7 * 60) and prefs.locale == "en"
    assert prefs.on("order_paid", "sms") and not prefs.on("order_shipped", "sms")
    r = await browser.post("/me/notifications", [("quiet_on", "on"), ("quiet_start", "25:00"), ("quiet_end", "07:00")])
    assert r.status_code == 422
    r = await browser.post("/me/notifications", [("locale", "en")], csrf=False)
    assert r.status_code == 403  # CSRF


async def test_pages_need_a_login(client: httpx.AsyncClient) -> None:
    r = await client.get("/messages", headers=HTML)
    assert r.status_code == 303 and r.headers["location"].startswith("/login")
    assert (await client.get("/messages/badge", headers=HTML)).text.strip() == ""
