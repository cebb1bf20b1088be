"""WeChat login against the local double: official-account H5 OAuth (authorize redirect with a state bound
to the browser, callback, the one-time phone step for a new WeChat, direct login afterwards), a logged-in
phone account binding its WeChat, forged or expired states refused, and mini-program code2session with the
same phone step; `openid_for` is what payouts read."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sqlalchemy import func, select

from quanzi.accounts.models import User
from quanzi.accounts.service import normalize_phone
from quanzi.kit.clock import clock
from quanzi.wechat import service
from quanzi.wechat.models import WechatIdentity
from tests.conftest import make_user

from .conftest import PUBLIC
from .double import MINI_APP_ID, MP_APP_ID, WechatDouble

HTML = {"accept": "text/html,application/xhtml+xml"}


async def identities(db) -> list[tuple[str, str, str | None, int]]:  # noqa: ANN001
    async with db.read() as s:
        rows = (await s.execute(select(WechatIdentity).order_by(WechatIdentity.id))).scalars()
        return [(i.app_id, i.openid, i.unionid, i.user_id) for i in rows]


async def users(db) -> int:  # noqa: ANN001
    async with db.read() as s:
        return (await s.execute(select(func.count()).select_from(User))).scalar_one()


async def authorize(client: httpx.AsyncClient, next_url: str = "/p/7") -> str:
    """GET /wechat/login → WeChat's authorize URL; returns the state it carries."""
    r = await client.get("/wechat/login", params={"next": next_url})
    assert r.status_code == 302, r.text
    where = urlsplit(r.headers["location"])
    assert (where.scheme, where.netloc, where.path) == ("https", "open.weixin.qq.com", "/connect/oauth2/authorize")
    assert where.fragment == "wechat_redirect"
    q = {k: v[0] for k, v in parse_qs(where.query).items()}
    assert q["appid"] == MP_APP_ID and q["response_type"] == "code" and q["scope"] == "snsapi_base"
    assert q["redirect_uri"] == f"{PUBLIC}/wechat/callback"
    assert q["state"].isalnum() and len(q["state"]) <= 128  # WeChat's limit on state
    return q["state"]


async def phone_step(client: httpx.AsyncClient, app, phone: str) -> httpx.Response:  # noqa: ANN001
    r = await client.get("/wechat/bind", params={"next": "/p/7"}, headers=HTML)
    assert r.status_code == 200 and 'data-testid="wechat-bind"' in r.text, r.text
    r = await client.post("/wechat/bind/code", data={"phone": phone, "next": "/p/7"}, headers=HTML)
    assert r.status_code == 200 and 'data-testid="code-sent"' in r.text, r.text
    code = app.state.sms.last_code(normalize_phone(phone))
    return await client.post("/wechat/bind", data={"phone": phone, "code": code, "next": "/p/7"}, headers=HTML)


async def test_new_wechat_verifies_a_phone_once_then_logs_in_directly(app, client, db, double: WechatDouble) -> None:  # noqa: ANN001
    state = await authorize(client)
    code = double.issue_code(MP_APP_ID, "oMP-new-person", "uUNION-1")
    r = await client.get("/wechat/callback", params={"code": code, "state": state}, headers=HTML)
    assert r.status_code == 303 and r.headers["location"] == "/wechat/bind?next=/p/7", r.text
    assert "quanzi_session" not in r.cookies  # not logged in until a phone is proven
    assert await identities(db) == []

    r = await phone_step(client, app, "13912345678")
    assert r.status_code == 303 and r.headers["location"] == "/p/7", r.text
    assert r.cookies.get("quanzi_session")
    async with db.read() as s:
        user = (await s.execute(select(User).where(User.phone == "+8613912345678"))).scalar_one()
        assert await service.openid_for(s, user.id, MP_APP_ID) == "oMP-new-person"
    assert await identities(db) == [(MP_APP_ID, "oMP-new-person", "uUNION-1", user.id)]
    page = await client.get("/", headers=HTML)
    assert 'data-testid="who"' in page.text  # the session cookie works

    # Next time: straight in, no phone step; a new browser (no cookies) on the same WeChat.
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as fresh:
        state = await authorize(fresh, "/s/1")
        r = await fresh.get("/wechat/callback", params={"code": double.issue_code(MP_APP_ID, "oMP-new-person"),
                                                        "state": state}, headers=HTML)
        assert r.status_code == 303 and r.headers["location"] == "/s/1", r.text
        assert r.cookies.get("quanzi_session")
        page = await fresh.get("/", headers=HTML)
        assert 'data-testid="who"' in page.text
    assert len(await identities(db)) == 1


async def test_unknown_wechat_of_an_existing_phone_account_is_bound_to_it(app, client, db, double) -> None:  # noqa: ANN001
    uid, _ = await make_user(db, "13811112222", nickname="老顾客")
    before = await users(db)
    state = await authorize(client)
    await client.get("/wechat/callback", params={"code": double.issue_code(MP_APP_ID, "oMP-old"), "state": state})
    r = await phone_step(client, app, "138 1111 2222")
    assert r.status_code == 303, r.text
    assert await users(db) == before  # no second account for the same person
    assert await identities(db) == [(MP_APP_ID, "oMP-old", None, uid)]


async def test_a_person_logged_in_by_phone_binds_their_wechat(app, client, db, double) -> None:  # noqa: ANN001
    uid, _ = await make_user(db, "13833334444")
    r = await client.post("/login/code", data={"phone": "13833334444"}, headers=HTML)
    code = app.state.sms.last_code("+8613833334444")
    r = await client.post("/login", data={"phone": "13833334444", "code": code, "next": "/"}, headers=HTML)
    assert r.status_code == 303 and client.cookies.get("quanzi_session")
    state = await authorize(client, "/console/earnings")
    r = await client.get("/wechat/callback", params={"code": double.issue_code(MP_APP_ID, "oMP-keeper"),
                                                     "state": state})
    assert r.status_code == 303 and r.headers["location"] == "/console/earnings", r.text
    assert await identities(db) == [(MP_APP_ID, "oMP-keeper", None, uid)]

    # That WeChat is theirs now: somebody else logged in cannot take it over.
    other, other_h = await make_user(db, "13855556666")
    async with db.write() as s:
        with pytest.raises(Exception) as refused:
            await service.bind(s, other, MP_APP_ID, "oMP-keeper", None)
    assert getattr(refused.value, "code", None) == "wechat.bound_to_other"
    r = await client.post("/api/wechat/mini/login", json={"code": double.issue_code(MINI_APP_ID, "oMINI-x")},
                          headers=other_h)
    assert r.status_code == 200 and r.json()["status"] == "ok"
    r = await client.post("/api/wechat/mini/login", json={"code": double.issue_code(MINI_APP_ID, "oMINI-y")},
                          headers=other_h)  # a second mini-program WeChat for the same account
    assert r.status_code == 409 and r.json()["error"]["code"] == "wechat.already_bound", r.text


@pytest.mark.parametrize("forgery", ["other_state", "no_cookie", "tampered_cookie", "expired", "empty_state"])
async def test_a_forged_or_stale_state_is_refused_and_nothing_happens(app, client, db, double, forgery) -> None:  # noqa: ANN001
    state = await authorize(client)
    code = double.issue_code(MP_APP_ID, "oMP-victim")
    cookie = client.cookies.get("qz_wx_state")
    params = {"code": code, "state": state}
    if forgery == "other_state":  # an attacker's own login link (login CSRF)
        params["state"] = "0" * 32
    elif forgery == "no_cookie":
        client.cookies.clear()
    elif forgery == "tampered_cookie":
        client.cookies.clear()
        body, _, mac = cookie.partition(".")
        client.cookies.set("qz_wx_state", f"{body[:-2]}AA.{mac}", domain="test", path="/wechat")
    elif forgery == "expired":
        clock.advance(timedelta(minutes=11))
    else:
        params["state"] = ""
    r = await client.get("/wechat/callback", params=params)
    assert r.status_code == 400 and r.json()["error"]["code"] == "wechat.bad_state", r.text
    assert double.calls.get("oauth", 0) == 0  # the code was never spent
    assert await identities(db) == []


async def test_a_used_or_unknown_code_is_refused(client, double) -> None:  # noqa: ANN001
    state = await authorize(client)
    r = await client.get("/wechat/callback", params={"code": "made-up", "state": state})
    assert r.status_code == 400 and r.json()["error"]["code"] == "wechat.bad_code", r.text


async def test_mini_program_login_new_person_then_bound(app, client, db, double) -> None:  # noqa: ANN001
    r = await client.post("/api/wechat/mini/login", json={"code": double.issue_code(MINI_APP_ID, "oMINI-1", "uU-9")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "phone_required" and body["token"] is None and body["bind_token"]
    assert await identities(db) == []

    r = await client.post("/api/auth/code", json={"phone": "13966667777"})
    assert r.status_code == 202
    code = app.state.sms.last_code("+8613966667777")
    forged = body["bind_token"][:-3] + ("AAA" if not body["bind_token"].endswith("AAA") else "BBB")
    r = await client.post("/api/wechat/bind", json={"bind_token": forged, "phone": "13966667777", "code": code})
    assert r.status_code == 400 and r.json()["error"]["code"] == "wechat.bad_bind_token", r.text
    r = await client.post("/api/wechat/bind", json={"bind_token": body["bind_token"], "phone": "13966667777",
                                                    "code": code})
    assert r.status_code == 200 and r.json()["status"] == "ok", r.text
    token, uid = r.json()["token"], r.json()["user"]["id"]
    assert (await client.get("/api/auth/me", headers={"authorization": f"Bearer {token}"})).json()["id"] == uid
    assert await identities(db) == [(MINI_APP_ID, "oMINI-1", "uU-9", uid)]

    r = await client.post("/api/wechat/mini/login", json={"code": double.issue_code(MINI_APP_ID, "oMINI-1", "uU-9")})
    assert r.json()["status"] == "ok" and r.json()["user"]["id"] == uid

    # The same person in the official account (same unionid, another openid): recognised, bound on the spot.
    state = await authorize(client)
    r = await client.get("/wechat/callback", params={"code": double.issue_code(MP_APP_ID, "oMP-1", "uU-9"),
                                                     "state": state})
    assert r.status_code == 303 and r.headers["location"] == "/p/7", r.text
    async with db.read() as s:
        assert await service.openid_for(s, uid, MP_APP_ID) == "oMP-1"
        assert await service.openid_for(s, uid, MINI_APP_ID) == "oMINI-1"


async def test_mini_program_code_refusals(client, double) -> None:  # noqa: ANN001
    code = double.issue_code(MINI_APP_ID, "oMINI-2")
    assert (await client.post("/api/wechat/mini/login", json={"code": code})).status_code == 200
    r = await client.post("/api/wechat/mini/login", json={"code": code})  # used twice
    assert r.status_code == 400 and r.json()["error"]["code"] == "wechat.bad_code"
    r = await client.post("/api/wechat/mini/login", json={"code": double.issue_code(MP_APP_ID, "oMP-x")})
    assert r.status_code == 400 and r.json()["error"]["code"] == "wechat.bad_code"  # another app's code
    r = await client.post("/api/wechat/mini/login", json={"code": "x", "openid": "o-forged"})
    assert r.status_code == 422  # the client never says who it is


async def test_login_page_offers_wechat_only_inside_wechat(client) -> None:  # noqa: ANN001
    r = await client.get("/login", headers=HTML)
    assert 'data-testid="wechat-login"' not in r.text
    r = await client.get("/login", params={"next": "/p/3"},
                         headers={**HTML, "user-agent": "Mozilla/5.0 MicroMessenger/8.0.50"})
    assert 'href="/wechat/login?next=/p/3"' in r.text


async def test_with_snsapi_userinfo_a_new_account_takes_the_shared_nickname_and_avatar(
        settings, db, double) -> None:  # noqa: ANN001
    from quanzi.app import create_app
    from quanzi.wechat.client import WechatClient

    settings = settings.model_copy(update={"wechat_oauth_scope": "snsapi_userinfo"})
    app = create_app(settings, db, start_worker=False)
    app.state.wechat = WechatClient(settings, transport=httpx.ASGITransport(app=double.asgi()))
    double.profiles["oMP-fan"] = {"nickname": "橙子爱好者", "headimgurl": "https://thirdwx.qlogo.cn/mmopen/abc/132"}
    double.profiles["oMP-named"] = {"nickname": "微信名", "headimgurl": "https://thirdwx.qlogo.cn/mmopen/def/132"}
    await make_user(db, "13822223333", nickname="自己起的名字")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        for openid, phone in (("oMP-fan", "13922223333"), ("oMP-named", "13822223333")):
            client.cookies.clear()
            r = await client.get("/wechat/login", params={"next": "/"})
            state = parse_qs(urlsplit(r.headers["location"]).query)["state"][0]
            assert "scope=snsapi_userinfo" in r.headers["location"]
            r = await client.get("/wechat/callback", params={"code": double.issue_code(MP_APP_ID, openid),
                                                             "state": state})
            assert r.status_code == 303 and r.headers["location"].startswith("/wechat/bind"), r.text
            assert (await phone_step(client, app, phone)).status_code == 303
    async with db.read() as s:
        got = dict((u.phone, (u.nickname, u.avatar_url)) for u in (await s.execute(select(User))).scalars())
    assert got["+8613922223333"] == ("橙子爱好者", "https://thirdwx.qlogo.cn/mmopen/abc/132")
    assert got["+8613822223333"] == ("自己起的名字", "https://thirdwx.qlogo.cn/mmopen/def/132")  # name kept
    assert double.calls["userinfo"] == 2
