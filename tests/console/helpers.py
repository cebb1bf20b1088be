"""Console test helpers: a browser-like cookie session (password login, CSRF token from the page)."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Any

import httpx

from quanzi.accounts import service as accounts
from quanzi.kit.db import Database
from tests.conftest import make_user

PASSWORD = "console-pass-123"
HTML = {"accept": "text/html,application/xhtml+xml"}
_ips = itertools.count(10)


@dataclass
class Browser:
    """One person's cookie session against the app, like a browser tab."""

    client: httpx.AsyncClient
    user_id: int
    csrf: str = ""

    async def get(self, url: str, **kw: Any) -> httpx.Response:
        r = await self.client.get(url, **kw)
        if m := re.search(r'<meta name="csrf-token" content="([^"]+)">', r.text):
            self.csrf = m.group(1)
        return r

    async def post(self, url: str, data: dict[str, Any] | None = None, *,
                   csrf: bool = True) -> httpx.Response:
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        return await self.client.post(url, data=body)

    async def submit(self, url: str, data: dict[str, Any] | None = None) -> httpx.Response:
        """POST a form, expect the 303, and load the page it leads to (where the flash message shows)."""
        r = await self.post(url, data)
        assert r.status_code == 303, (r.status_code, r.text[:2000])
        return await self.get(r.headers["location"])

    async def close(self) -> None:
        await self.client.aclose()


async def browser(app: Any, db: Database, phone: str, *roles: str, nickname: str | None = None) -> Browser:
    """Create (or reuse) the user, give them a password, log in through /login/password."""
    user_id, _ = await make_user(db, phone, *roles, nickname=nickname)
    async with db.write() as s:
        await accounts.set_password(s, user_id, PASSWORD)
    transport = httpx.ASGITransport(app=app, client=(f"10.1.0.{next(_ips)}", 1234))
    client = httpx.AsyncClient(transport=transport, base_url="http://test", headers=HTML)
    r = await client.post("/login/password", data={"phone": phone, "password": PASSWORD, "next": "/console"})
    assert r.status_code == 303, r.text
    b = Browser(client, user_id)
    r = await b.get("/console")
    assert r.status_code == 200 and b.csrf, r.text[:500]
    return b


def ids_of(html: str, testid: str, attr: str) -> list[str]:
    """The `attr` values of elements with data-testid=`testid`, in page order."""
    out = []
    for tag in re.findall(r"<[^>]*data-testid=\"" + re.escape(testid) + r"\"[^>]*>", html):
        if m := re.search(attr + r'="([^"]*)"', tag):
            out.append(m.group(1))
    return out


async def pay(client: httpx.AsyncClient, headers: dict[str, str], order_id: int) -> None:
    """Pay an order through the sandbox provider, like the buyer's phone would."""
    r = await client.post(f"/api/orders/{order_id}/pay", json={"provider": "sandbox"}, headers=headers)
    assert r.status_code == 200, r.text
    r = await client.post(f"/api/payments/sandbox/{r.json()['out_trade_no']}/pay", headers=headers)
    assert r.json() == {"outcome": "paid"}, r.text


async def place(client: httpx.AsyncClient, w: Any, items: list[tuple[int, int]], *, shop: bool = True,
                paid: bool = True) -> dict[str, Any]:
    body = {"address_id": w.address_id, "items": [
        {"sku_id": sku, "quantity": qty, **({"shop_id": w.shop_id} if shop else {})} for sku, qty in items]}
    r = await client.post("/api/orders", json=body, headers=w.fan_headers)
    assert r.status_code == 201, r.text
    order = r.json()["orders"][0]
    if paid:
        await pay(client, w.fan_headers, order["id"])
    return order
