"""Share cards: the JS-SDK signature (WeChat's documented example vector), the config endpoint against the
local double (ticket and token fetched once, cached until they expire, refetched after), and the Open Graph
tags on product, shop, campaign and share-link pages, with WeChat's script only inside WeChat."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import timedelta

import httpx
import pytest

from quanzi.app import create_app
from quanzi.bargain import service as bargain
from quanzi.kit.clock import clock
from quanzi.wechat.service import jssdk_signature
from tests.conftest import make_settings
from tests.factories import make_world, share_token
from tests.groupbuy._support import setup as groupbuy_setup

from .conftest import PUBLIC
from .double import MP_APP_ID

HTML = {"accept": "text/html,application/xhtml+xml"}
IN_WECHAT = {**HTML, "user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
                                   "(KHTML, like Gecko) Mobile/15E148 MicroMessenger/8.0.50(0x18003231) NetType/WIFI"}


def og(page: str) -> dict[str, str]:
    return {k: html.unescape(v) for k, v in re.findall(r'<meta property="([a-z:_]+)" content="([^"]*)">', page)}


def test_signature_is_wechats_documented_example() -> None:
    # JS-SDK 说明文档, 附录1 (JS-SDK使用权限签名算法), the example WeChat publishes.
    assert jssdk_signature(
        "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
        "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value",
    ) == "0f9de62fce790f9a083d5c99e95740ceb90c27ed"
    # Each field matters: a different URL (e.g. with the fragment left on) is a different signature.
    assert jssdk_signature(
        "sM4AOVdWfPE4DxkXGEs8VMCPGGVi4C3VM0P37wVUCFvkVAy_90u5h9nbSlYy3-Sl-HhTdfl2fzFy1AOcHKP7qg",
        "Wm3WZYTPz0wzccnW", 1414587457, "http://mp.weixin.qq.com?params=value#x",
    ) != "0f9de62fce790f9a083d5c99e95740ceb90c27ed"


async def test_jssdk_config_signs_the_page_and_caches_token_and_ticket(client, double) -> None:  # noqa: ANN001
    url = f"{PUBLIC}/p/12?from=share#comments"
    r = await client.get("/api/wechat/jssdk", params={"url": url})
    assert r.status_code == 200, r.text
    cfg = r.json()
    assert cfg["appId"] == MP_APP_ID
    assert set(cfg["jsApiList"]) == {"updateAppMessageShareData", "updateTimelineShareData", "requestMerchantTransfer"}
    assert abs(cfg["timestamp"] - clock.now().timestamp()) < 5
    string1 = (f"jsapi_ticket={double.ticket}&noncestr={cfg['nonceStr']}&timestamp={cfg['timestamp']}"
               f"&url={PUBLIC}/p/12?from=share")  # no fragment, as WeChat requires
    assert cfg["signature"] == hashlib.sha1(string1.encode()).hexdigest()
    assert double.calls == {"token": 1, "getticket": 1}

    for _ in range(3):  # cached: WeChat limits how often these may be fetched
        assert (await client.get("/api/wechat/jssdk", params={"url": f"{PUBLIC}/s/3"})).status_code == 200
    assert double.calls == {"token": 1, "getticket": 1}

    clock.advance(timedelta(seconds=7200 - 299))  # inside the 5-minute margin: fetched again
    double.expire_tokens()
    r = await client.get("/api/wechat/jssdk", params={"url": f"{PUBLIC}/s/3"})
    assert r.status_code == 200, r.text
    assert double.calls == {"token": 2, "getticket": 2}


async def test_a_token_wechat_no_longer_accepts_is_replaced_once(app, client, double) -> None:  # noqa: ANN001
    assert (await client.get("/api/wechat/jssdk", params={"url": f"{PUBLIC}/"})).status_code == 200
    await app.state.wechat.cache.drop(f"{MP_APP_ID}:jsapi_ticket")
    double.expire_tokens()  # WeChat revoked the token early (e.g. another server fetched a new one)
    r = await client.get("/api/wechat/jssdk", params={"url": f"{PUBLIC}/"})
    assert r.status_code == 200, r.text
    assert double.calls == {"token": 2, "getticket": 3}  # 42001, a new token, the ticket again


@pytest.mark.parametrize("url", ["https://evil.example.com/p/1", "http://shop.example.com/p/1",
                                 "javascript:alert(1)//x", f"{PUBLIC}"])
async def test_only_pages_of_this_site_are_signed(client, double, url: str) -> None:  # noqa: ANN001
    r = await client.get("/api/wechat/jssdk", params={"url": url})
    assert r.status_code == 422 and r.json()["error"]["code"] == "wechat.bad_url", r.text
    assert double.calls == {}


async def test_wechat_down_is_a_502_with_a_plain_message(settings, db) -> None:  # noqa: ANN001
    from quanzi.wechat.client import WechatClient

    app = create_app(settings, db, start_worker=False)
    app.state.wechat = WechatClient(settings.model_copy(update={"wechat_api_base_url": "http://127.0.0.1:9"}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        r = await c.get("/api/wechat/jssdk", params={"url": f"{PUBLIC}/"})
    assert r.status_code == 502 and r.json()["error"]["code"] == "wechat.unavailable", r.text


async def test_without_wechat_configured_there_is_no_endpoint_and_no_script(db_url, db) -> None:  # noqa: ANN001
    app = create_app(make_settings(db_url), db, start_worker=False)
    w = await make_world(db)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as c:
        r = await c.get("/api/wechat/jssdk", params={"url": "http://127.0.0.1:8000/"})
        assert r.status_code == 404 and r.json()["error"]["code"] == "wechat.not_configured"
        page = await c.get(f"/p/{w.product_id}", headers=IN_WECHAT)
    assert og(page.text)["og:title"].startswith("云南高原苹果")  # the tags are there for every app
    assert "jweixin" not in page.text and "wechat-share.js" not in page.text
    assert "script-src 'self';" in page.headers["content-security-policy"]


async def test_product_page_card_and_wechat_script_only_inside_wechat(client, db) -> None:  # noqa: ANN001
    w = await make_world(db, prices=(2990, 4990))
    r = await client.get(f"/s/{w.shop_id}/p/{w.product_id}", headers=HTML)
    assert r.status_code == 200
    tags = og(r.text)
    assert tags["og:title"] == "云南高原苹果 · ¥29.90"
    assert tags["og:description"] == "脆甜多汁"
    assert tags["og:url"] == f"{PUBLIC}/s/{w.shop_id}/p/{w.product_id}"
    assert tags["og:image"].startswith(f"{PUBLIC}/")  # absolute: WeChat fetches it from its servers
    assert (tags["product:price:amount"], tags["product:price:currency"]) == ("29.90", "CNY")
    assert "jweixin" not in r.text  # an ordinary browser loads nothing from WeChat
    assert "https://res.wx.qq.com" in r.headers["content-security-policy"]  # configured: allowed, not loaded

    r = await client.get(f"/p/{w.product_id}", headers=IN_WECHAT)
    assert '<script src="https://res.wx.qq.com/open/js/jweixin-1.6.0.js" defer></script>' in r.text
    assert '<script src="/static/js/wechat-share.js" defer></script>' in r.text
    assert (await client.get("/static/js/wechat-share.js")).status_code == 200
    assert (await client.get("/static/img/share.png")).headers["content-type"] == "image/png"


async def test_shop_and_campaign_pages_have_cards(client, db) -> None:  # noqa: ANN001
    w, activity_id = await groupbuy_setup(db)
    r = await client.get(f"/s/{w.shop_id}", headers=HTML)
    tags = og(r.text)
    assert tags["og:title"] == "小美的好物铺" and tags["og:url"] == f"{PUBLIC}/s/{w.shop_id}"

    r = await client.get(f"/groupbuy/activities/{activity_id}", headers=HTML)
    tags = og(r.text)
    assert tags["og:title"] == "高原苹果 3 人团 · ¥19.90" and tags["product:price:amount"] == "19.90"
    assert tags["og:image"].startswith(PUBLIC)

    now = clock.now()
    async with db.write() as s:
        act = await bargain.create_activity(
            s, title="砍价苹果", product_id=w.product_id, sku_id=w.sku_ids[0], start_price_fen=2990,
            floor_price_fen=990, helpers_needed=2, cut_mode="fixed", cut_min_fen=500, cut_max_fen=500,
            starts_at=now - timedelta(hours=1), ends_at=now + timedelta(days=3))
        bid = (await bargain.launch(s, w.fan_id, act.id)).id
    r = await client.get(f"/bargains/{bid}", headers={**HTML, **w.fan_headers})
    assert r.status_code == 200, r.text
    tags = og(r.text)
    assert "砍价苹果" in tags["og:title"] and tags["og:url"] == f"{PUBLIC}/bargains/{bid}"
    assert tags["product:price:amount"] == re.search(r'data-testid="bg-current">¥([0-9.]+)<', r.text).group(1)

    for path in ("/flashsale", "/bargain", "/groupbuy"):
        r = await client.get(path, headers=HTML)
        assert r.status_code == 200 and og(r.text)["og:url"].startswith(f"{PUBLIC}{path}"), path


async def test_share_link_lands_on_a_page_with_a_card_and_a_bad_one_still_has_one(client, db) -> None:  # noqa: ANN001
    w = await make_world(db)
    keeper = (await client.get("/api/auth/me", headers=w.shopkeeper_headers)).json()["id"]
    token = share_token(keeper, "p", w.product_id)
    r = await client.get(f"/r/{token}", headers=HTML, follow_redirects=True)
    assert r.status_code == 200, r.text
    assert og(r.text)["og:title"].startswith("云南高原苹果")
    r = await client.get("/r/not-a-token", headers=HTML)
    assert r.status_code >= 400 and og(r.text)["og:image"] == f"{PUBLIC}/static/img/share.png"


async def test_processes_share_token_and_ticket_through_redis(settings, double) -> None:  # noqa: ANN001
    """Two web processes (two clients) fetch the token and ticket once between them when Redis is set."""
    from quanzi.wechat.client import WechatClient

    if not settings.redis_url:
        pytest.skip("needs QUANZI_TEST_REDIS_URL")
    one, two = (WechatClient(settings, transport=httpx.ASGITransport(app=double.asgi())) for _ in range(2))
    assert await one.jsapi_ticket() == await two.jsapi_ticket() == double.ticket
    assert double.calls == {"token": 1, "getticket": 1}
    await one.cache.close()
    await two.cache.close()


async def test_after_wechat_refuses_pages_do_not_hammer_it(app, client, double) -> None:  # noqa: ANN001
    double.secrets_by_app.clear()  # e.g. the secret was reset, or our IP is not whitelisted: 40125
    for _ in range(5):
        r = await client.get("/api/wechat/jssdk", params={"url": f"{PUBLIC}/"})
        assert r.status_code == 502 and r.json()["error"]["code"] == "wechat.unavailable"
    assert double.calls == {"token": 1}  # asked once, then paused
    clock.advance(timedelta(seconds=31))
    from .double import MP_SECRET

    double.secrets_by_app[MP_APP_ID] = MP_SECRET
    assert (await client.get("/api/wechat/jssdk", params={"url": f"{PUBLIC}/"})).status_code == 200
    assert double.calls == {"token": 2, "getticket": 1}
