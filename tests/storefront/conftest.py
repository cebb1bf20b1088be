"""Storefront page tests: a fan logged in with a cookie session (as a browser would), CSRF from the page."""

from __future__ import annotations

import re
from dataclasses import dataclass

import httpx
import pytest

from quanzi.accounts import service as accounts
from quanzi.kit.db import Database
from tests.factories import World, make_world

HTML = {"accept": "text/html,application/xhtml+xml"}
PASSWORD = "fan-password-1"


@dataclass
class Browser:
    """An httpx client carrying a cookie session, speaking like a browser (Accept: text/html)."""

    client: httpx.AsyncClient
    csrf: str = ""

    async def get(self, url: str, **kw: object) -> httpx.Response:
        r = await self.client.get(url, headers=HTML, **kw)  # type: ignore[arg-type]
        if m := re.search(r'<meta name="csrf-token" content="([^"]+)"', r.text):
            self.csrf = m.group(1)
        return r

    async def post(self, url: str, data: dict | list | None = None, *, csrf: bool = True) -> httpx.Response:
        pairs = list(data.items()) if isinstance(data, dict) else list(data or [])
        if csrf:
            pairs.append(("csrf_token", self.csrf))
        form: dict[str, list[str]] = {}
        for key, value in pairs:
            form.setdefault(key, []).append(str(value))
        return await self.client.post(url, data=form, headers=HTML)


async def cookie_login(client: httpx.AsyncClient, db: Database, user_id: int, phone: str) -> Browser:
    async with db.write() as s:
        await accounts.set_password(s, user_id, PASSWORD)
    r = await client.post("/login/password", data={"phone": phone, "password": PASSWORD, "next": "/"}, headers=HTML)
    assert r.status_code == 303, r.text
    browser = Browser(client)
    await browser.get("/cart")
    assert browser.csrf
    return browser


@pytest.fixture
async def world(db: Database) -> World:
    return await make_world(db)


@pytest.fixture
async def fan(client: httpx.AsyncClient, db: Database, world: World) -> Browser:
    return await cookie_login(client, db, world.fan_id, "13900000001")


def data_testids(html: str) -> list[str]:
    return re.findall(r'data-testid="([^"]+)"', html)
