"""Error pages speak plainly (the code in small print) and know who is looking: a 404 for an address no route
knows still shows the logged-in person in the top bar, with ways on."""

from __future__ import annotations

import re

import httpx

from quanzi.kit.db import Database
from tests.conftest import make_user
from tests.storefront.conftest import HTML, cookie_login


async def test_a_404_knows_who_is_logged_in(client: httpx.AsyncClient, db: Database) -> None:
    uid, _h = await make_user(db, "13900000321", nickname="小明")
    fan = await cookie_login(client, db, uid, "13900000321")
    r = await fan.get("/no/such/page")
    assert r.status_code == 404
    assert 'data-testid="who">小明<' in r.text and 'data-testid="logout"' in r.text  # the top bar, as elsewhere
    assert 'data-testid="error-title">页面找不到了<' in r.text
    assert 'href="/" data-testid="error-home"' in r.text and 'href="/me" data-testid="error-me"' in r.text
    assert re.search(r'class="error-code"[^>]*>错误码: <code>not_found</code>', r.text)
    assert '<meta name="csrf-token"' in r.text  # the log-out form in the top bar works from here too


async def test_a_404_for_a_visitor_offers_login(client: httpx.AsyncClient) -> None:
    r = await client.get("/no/such/page?lang=en", headers=HTML)
    assert r.status_code == 404 and 'data-testid="who"' not in r.text
    assert "We could not find that page" in r.text and 'data-testid="error-login"' in r.text
    r = await client.get("/no/such/page", headers={**HTML, "cookie": "quanzi_session=forged"})
    assert r.status_code == 404 and 'data-testid="who"' not in r.text  # a bad cookie is nobody


async def test_other_errors_say_what_happened_first(client: httpx.AsyncClient, db: Database) -> None:
    _uid, headers = await make_user(db, "13900000322")
    r = await client.get("/console/products", headers={**HTML, **headers})  # a fan at a supplier's page
    assert r.status_code in (403, 303)
    if r.status_code == 403:
        assert 'data-testid="error-title"' in r.text and 'class="error-code"' in r.text
    r = await client.get("/orders/abc", headers={**HTML, **headers})
    assert r.status_code == 422 and "表单里有内容需要修改" in r.text and "request.invalid" in r.text
