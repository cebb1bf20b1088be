"""The login page keeps a sent code usable: a wrong try, a resend refused by the once-a-minute limit or a reload
never lock the code field while the code is still valid, and the send button counts the minute down."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx

from quanzi.kit.clock import clock
from tests.storefront.conftest import HTML

PHONE, E164 = "13900000456", "+8613900000456"


def send_button(html: str) -> str:
    m = re.search(r'<button[^>]*data-testid="send-code"[^>]*>[^<]*</button>', html, re.S)
    assert m, html
    return m.group(0)


def code_field_open(html: str) -> bool:
    m = re.search(r'<input name="code"[^>]*>', html)
    assert m
    return "disabled" not in m.group(0)


async def test_a_wrong_code_keeps_the_sent_code_usable(app, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    r = await client.post("/login/code", data={"phone": PHONE, "next": "/me"}, headers=HTML)
    assert r.status_code == 200 and 'data-testid="code-sent"' in r.text and code_field_open(r.text)
    button = send_button(r.text)
    assert "disabled" in button and "data-resend-at=" in button and "60 秒后可重新获取" in button
    code = app.state.sms.last_code(E164)
    wrong = "000000" if code != "000000" else "111111"

    r = await client.post("/login", data={"phone": PHONE, "code": wrong, "next": "/me"}, headers=HTML)
    assert r.status_code == 400
    assert "刚才发送的验证码仍然有效" in r.text and "请重新获取" not in r.text  # not told to ask again
    assert code_field_open(r.text) and 'name="phone" value="13900000456"' in r.text
    assert "data-resend-at=" in send_button(r.text)  # still counting down: no resend into the rate limit

    # Asking again within the minute is refused by the limit — and the code field stays open all the same.
    r = await client.post("/login/code", data={"phone": PHONE, "next": "/me"}, headers=HTML)
    assert r.status_code == 429 and code_field_open(r.text)
    assert app.state.sms.last_code(E164) == code  # no new code: the first one still works

    r = await client.post("/login", data={"phone": PHONE, "code": code, "next": "/me"}, headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/me"


async def test_after_a_minute_a_new_code_may_be_sent(app, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    await client.post("/login/code", data={"phone": PHONE}, headers=HTML)
    clock.advance(timedelta(seconds=61))
    r = await client.post("/login", data={"phone": PHONE, "code": "000001"}, headers=HTML)
    button = send_button(r.text)
    assert "disabled" not in button and "重新获取验证码" in button and code_field_open(r.text)


async def test_a_burnt_or_expired_code_closes_the_field_and_says_why(app, client: httpx.AsyncClient) -> None:  # noqa: ANN001
    await client.post("/login/code", data={"phone": PHONE}, headers=HTML)
    clock.advance(timedelta(minutes=11))  # past the 10-minute validity
    r = await client.post("/login", data={"phone": PHONE, "code": "000001"}, headers=HTML)
    assert r.status_code == 400 and "验证码错误或已过期，请重新获取" in r.text and not code_field_open(r.text)
    assert "disabled" not in send_button(r.text)
