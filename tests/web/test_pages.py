"""Site-wide pages and HTTP plumbing: language, role-aware home, errors, health, metrics, headers."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from tests.conftest import make_settings, make_user

from quanzi.accounts.errors import InvalidPhone
from quanzi.app import create_app
from quanzi.kit.db import Database
from quanzi.kit.errors import NotFound, Unauthenticated
from quanzi.kit.i18n import translations
from quanzi.web.pages import CONSOLE_LINKS, ROLE_NAMES

HTML = {"accept": "text/html,application/xhtml+xml"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def zh(msgid: str) -> str:
    """The Chinese catalog's text (copy changes there must not break these tests), which must exist."""
    text = translations("zh_CN").ugettext(msgid)
    assert text != msgid and CJK.search(text), f"no Chinese translation for {msgid!r}"
    return text


HERO_ID = "Buy to save, share to earn"
HERO_EN = translations("en").ugettext(HERO_ID)
HERO_ZH = zh(HERO_ID)
ADMIN_LINK = next(link for link in CONSOLE_LINKS if link[1] == "admin")


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


# --- home and language --------------------------------------------------------------------------

async def test_home_is_chinese_by_default(client: httpx.AsyncClient) -> None:
    r = await client.get("/", headers={**HTML, "accept-language": "en-US,en;q=0.9"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in r.text
    assert HERO_ZH in r.text and HERO_EN not in r.text
    assert 'data-testid="cta-login"' in r.text
    assert 'data-testid="console"' not in r.text and 'data-testid="storefront"' not in r.text
    # A visitor can browse before logging in: the public pages, and an honest empty state with no goods yet.
    for key in ("search", "flashsale", "bargain", "groupbuy"):
        assert f'data-testid="browse-{key}"' in r.text
    assert 'data-testid="browse-cart"' not in r.text and 'data-testid="browse-orders"' not in r.text
    assert 'data-testid="featured-none"' in r.text


async def test_a_visitor_sees_what_is_on_sale(client: httpx.AsyncClient, db: Database) -> None:
    from tests.factories import make_world

    w = await make_world(db, prices=(2990, 1990))
    r = await client.get("/", headers=HTML)
    assert r.status_code == 200
    card = re.search(rf'<a class="pcard" href="/p/{w.product_id}".*?</a>', r.text, re.S)
    assert card is not None and "云南高原苹果" in card.group(0) and "¥19.90" in card.group(0)  # the lowest price
    assert 'data-testid="featured-none"' not in r.text
    # A member's home has no featured list (their storefront tiles, cart and orders instead).
    r = await client.get("/", headers=w.fan_headers)
    assert 'data-testid="featured-list"' not in r.text and 'data-testid="storefront"' in r.text


async def test_lang_query_switches_to_english(client: httpx.AsyncClient) -> None:
    r = await client.get("/?lang=en")
    assert '<html lang="en">' in r.text and HERO_EN in r.text and HERO_ZH not in r.text


async def test_lang_cookie_switches_to_english(client: httpx.AsyncClient) -> None:
    client.cookies.set("lang", "en")
    r = await client.get("/")
    assert HERO_EN in r.text and HERO_ZH not in r.text
    r = await client.get("/?lang=zh_CN")  # the query wins over the cookie
    assert HERO_ZH in r.text


async def test_lang_switch_sets_cookie_and_redirects_locally(client: httpx.AsyncClient) -> None:
    r = await client.get("/lang/en", params={"next": "/login"})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    set_cookie = r.headers["set-cookie"].lower()
    assert set_cookie.startswith("lang=en;") and "samesite=lax" in set_cookie and "path=/" in set_cookie
    assert HERO_EN in (await client.get("/")).text  # the cookie sticks
    r = await client.get("/lang/zh_CN")
    assert r.headers["location"] == "/" and r.headers["set-cookie"].startswith("lang=zh_CN;")
    assert HERO_ZH in (await client.get("/")).text
    r = await client.get("/lang/klingon")
    assert r.headers["set-cookie"].startswith("lang=zh_CN;")


@pytest.mark.parametrize("target", ["//evil.com", "//evil.com/login", "https://evil.com", "http:evil.com",
                                    "evil.com", "/\\evil.com", "/\t/evil.com", "\\\\evil.com"])
async def test_lang_switch_refuses_open_redirects(client: httpx.AsyncClient, target: str) -> None:
    r = await client.get("/lang/en", params={"next": target})
    assert r.status_code == 303
    location = r.headers["location"]
    # Only a path on this site: no scheme, no host, nothing a browser would read as "//host".
    assert location.startswith("/") and not location.startswith("//"), location
    assert not re.match(r"^/[\\\t\n\r ]", location), location
    if target.startswith("//") or "://" in target or not target.startswith("/"):
        assert location == "/"


# --- role-aware home ----------------------------------------------------------------------------

async def test_fan_sees_storefront_and_no_console(client: httpx.AsyncClient, db: Database) -> None:
    _, fan = await make_user(db, "13800000101", nickname="小红")
    r = await client.get("/", headers=fan)
    assert r.status_code == 200
    assert 'data-testid="storefront"' in r.text and 'data-testid="role-fan"' in r.text
    assert "小红" in r.text
    assert 'data-testid="console"' not in r.text and "/admin/" not in r.text
    assert HERO_ZH not in r.text


async def test_operator_sees_console_with_back_office_link(client: httpx.AsyncClient, db: Database) -> None:
    _, op = await make_user(db, "13800000001", "operator")
    r = await client.get("/", headers=op)
    assert 'data-testid="console"' in r.text and 'data-testid="role-operator"' in r.text
    assert f'<a class="tile" href="/admin/" data-testid="console-admin"><b>{ADMIN_LINK[3]}</b>' in r.text
    r = await client.get("/?lang=en", headers=op)
    assert f"<b>{ADMIN_LINK[4]}</b>" in r.text and f">{ROLE_NAMES['en']['operator']}<" in r.text


async def test_console_links_follow_roles(client: httpx.AsyncClient, db: Database) -> None:
    _, shopkeeper = await make_user(db, "13800000021", "shopkeeper")
    r = await client.get("/", headers=shopkeeper)
    assert 'data-testid="console"' in r.text and 'data-testid="role-shopkeeper"' in r.text
    assert 'data-testid="console-admin"' not in r.text and "/admin/" not in r.text  # operators only


# --- errors -------------------------------------------------------------------------------------

async def test_browser_404_is_an_html_page(client: httpx.AsyncClient) -> None:
    r = await client.get("/no/such/page", headers=HTML)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    assert 'data-status="404"' in r.text and "<code>not_found</code>" in r.text
    assert NotFound.message["zh"] in r.text and zh("Back to home") in r.text
    r = await client.get("/no/such/page?lang=en", headers=HTML)
    assert NotFound.message["en"] in r.text and translations("en").ugettext("Back to home") in r.text


async def test_api_404_is_json(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/no/such/thing", headers=HTML)  # /api/ is JSON whatever the Accept header
    err = assert_error(r, 404, "not_found")
    assert err["message"] == NotFound.message["zh"]
    assert set(r.json()) == {"error"}


async def test_wrong_method_is_a_json_405(client: httpx.AsyncClient) -> None:
    assert_error(await client.delete("/api/auth/me"), 405, "method_not_allowed")


async def test_unknown_json_fields_are_refused(client: httpx.AsyncClient, app: Any) -> None:
    r = await client.post("/api/auth/code", json={"phone": "13800000101", "amount_fen": 1})
    err = assert_error(r, 422, "request.invalid")
    assert any(f["loc"][-1] == "amount_fen" and f["type"] == "extra_forbidden" for f in err["detail"]["fields"])
    assert app.state.sms.sent == []  # nothing happened


async def test_malformed_json_is_refused(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/auth/code", content=b"{not json", headers={"content-type": "application/json"})
    assert_error(r, 422, "request.invalid")


@pytest.mark.parametrize("value", ["5", 5.5, True, "five", None])  # 5.0 is the integer 5 in JSON (kit/schemas)
async def test_ints_are_strict(db_url: str, db: Database, value: object) -> None:
    app = create_app(make_settings(db_url, dev_clock_api=True), db, start_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        r = await client.post("/api/dev/clock", json={"advance_seconds": value})
        err = assert_error(r, 422, "request.invalid")
        assert err["detail"]["fields"][0]["loc"][-1] == "advance_seconds"
        r = await client.post("/api/dev/clock", json={"advance_seconds": 5})
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("value", [1, "true", "yes", None])
async def test_bools_are_strict(db_url: str, db: Database, value: object) -> None:
    """Strictness comes from the shared `In` base model, not from one field's annotation."""
    app = create_app(make_settings(db_url, dev_clock_api=True), db, start_worker=False)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        err = assert_error(await client.post("/api/dev/clock", json={"reset": value}), 422, "request.invalid")
        assert err["detail"]["fields"][0]["loc"][-1] == "reset"
        assert (await client.post("/api/dev/clock", json={"reset": True})).status_code == 200


async def test_strings_are_strict(client: httpx.AsyncClient) -> None:
    assert_error(await client.post("/api/auth/code", json={"phone": 13800000101}), 422, "request.invalid")


async def test_unexpected_errors_leak_no_stack_trace(db_url: str, db: Database) -> None:
    app = create_app(make_settings(db_url), db, start_worker=False)

    @app.get("/api/test/boom")
    async def boom_api() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    @app.get("/test/boom")
    async def boom_page() -> None:
        raise RuntimeError("secret internals: password=hunter2")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        for path, headers in [("/api/test/boom", {}), ("/api/test/boom", {"accept-language": "en"}),
                              ("/test/boom", HTML)]:
            r = await client.get(path, headers=headers)
            assert r.status_code == 500
            for leak in ("Traceback", "RuntimeError", "hunter2", "secret internals", 'File "'):
                assert leak not in r.text, (path, r.text)
        r = await client.get("/api/test/boom")
        err = assert_error(r, 500, "internal_error")
        assert set(err) == {"code", "message"} and CJK.search(err["message"])
        r = await client.get("/api/test/boom", headers={"accept-language": "en"})
        assert not CJK.search(assert_error(r, 500, "internal_error")["message"])
        r = await client.get("/test/boom", headers=HTML)
        assert r.headers["content-type"].startswith("text/html") and "<h1>500</h1>" in r.text


async def test_api_errors_follow_accept_language(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/auth/code", json={"phone": "12345"}, headers={"accept-language": "en-GB,en;q=0.8"})
    assert assert_error(r, 422, "accounts.invalid_phone")["message"] == InvalidPhone.message["en"]
    r = await client.post("/api/auth/code", json={"phone": "12345"})
    assert assert_error(r, 422, "accounts.invalid_phone")["message"] == InvalidPhone.message["zh"]
    assert InvalidPhone.message["zh"] != InvalidPhone.message["en"]
    r = await client.get("/api/auth/me", headers={"accept-language": "en"})
    assert assert_error(r, 401, "auth.required")["message"] == Unauthenticated.message["en"]


# --- ops ----------------------------------------------------------------------------------------

async def test_healthz(client: httpx.AsyncClient, db: Database) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["database"] == db.dialect and body["time"]


async def test_metrics_count_requests(client: httpx.AsyncClient) -> None:
    def healthz_count(text: str) -> float:
        m = re.search(r'^quanzi_http_requests_total\{method="GET",route="/healthz",status="200"\} (\S+)$', text,
                      re.M)
        return float(m.group(1)) if m else 0.0

    before = healthz_count((await client.get("/metrics")).text)
    await client.get("/healthz")
    await client.get("/healthz")
    r = await client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert "# TYPE quanzi_http_requests_total counter" in r.text
    assert healthz_count(r.text) == before + 2
    assert "quanzi_http_request_seconds_bucket" in r.text


@pytest.mark.parametrize("path", ["/", "/healthz", "/api/no/such/thing", "/login"])
async def test_security_headers_and_request_id(client: httpx.AsyncClient, path: str) -> None:
    r = await client.get(path, headers=HTML)
    csp = r.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "unsafe-eval" not in csp and "script-src 'self';" in csp
    assert r.headers["x-frame-options"] == "DENY"
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert re.fullmatch(r"[0-9a-f]{32}", r.headers["x-request-id"])
    r2 = await client.get(path, headers={**HTML, "x-request-id": "trace-abc-123"})
    assert r2.headers["x-request-id"] == "trace-abc-123"
    r3 = await client.get(path, headers=HTML)
    assert r3.headers["x-request-id"] != r.headers["x-request-id"]
