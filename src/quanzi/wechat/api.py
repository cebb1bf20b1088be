"""WeChat JSON API: the JS-SDK config for a page (share cards), mini-program login (code2session) and the
one-time phone step that binds a new WeChat to a phone account."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from quanzi.accounts.deps import OptionalUser
from quanzi.accounts.schemas import MeOut
from quanzi.kit.deps import DB, AppSettings, ClientIP, Limiter
from quanzi.kit.web import ERROR_RESPONSES
from quanzi.wechat import login, service
from quanzi.wechat.client import WechatClient
from quanzi.wechat.schemas import BindIn, JsConfigOut, MiniLoginIn, WechatLoginOut

router = APIRouter(prefix="/api/wechat", tags=["wechat"], responses=ERROR_RESPONSES)


def get_wechat(request: Request) -> WechatClient:
    """The process's WeChat client (built on first use from the app settings; a test may set its own)."""
    client = getattr(request.app.state, "wechat", None)
    if client is None:
        client = request.app.state.wechat = WechatClient(request.app.state.settings)
    return client


Wechat = Annotated[WechatClient, Depends(get_wechat)]


def _out(result: tuple | str) -> WechatLoginOut:  # type: ignore[type-arg]
    if isinstance(result, str):
        return WechatLoginOut(status="phone_required", bind_token=result)
    user, token, roles = result
    return WechatLoginOut(status="ok", token=token,
                          user=MeOut(id=user.id, phone=user.phone, nickname=user.nickname, roles=sorted(roles)))


@router.get("/jssdk")
async def jssdk_config(wx: Wechat, settings: AppSettings,
                       url: Annotated[str, Query(min_length=8, max_length=1000)]) -> JsConfigOut:
    """`wx.config` arguments for the page at `url` (a page of this site; the #fragment is ignored), so the
    page can set its share card with updateAppMessageShareData / updateTimelineShareData."""
    page = service.share_url(url, settings.public_url)
    app = wx.official()
    return JsConfigOut(**service.js_config(app.app_id, await wx.jsapi_ticket(), page))


@router.post("/mini/login")
async def mini_login(body: MiniLoginIn, wx: Wechat, db: DB, settings: AppSettings, ip: ClientIP,
                     me: OptionalUser) -> WechatLoginOut:
    """Mini program: the code from `wx.login()` → openid. A bound WeChat gets a bearer token; a logged-in
    caller binds it to their account; an unknown one answers `phone_required` with a bind token."""
    app = wx.mini_program()
    session = await wx.code2session(body.code)
    return _out(await login.login_or_pending(db, settings, app.app_id, session["openid"], session.get("unionid"),
                                             "bearer", ip, current_user_id=me.user_id if me else None))


@router.post("/bind")
async def bind(body: BindIn, db: DB, settings: AppSettings, limiter: Limiter, ip: ClientIP) -> WechatLoginOut:
    """The one-time phone step for a new WeChat: the code sent by POST /api/auth/code proves the phone;
    the WeChat in `bind_token` is bound to that phone's account (created if new) and a bearer token issued."""
    return _out(await login.bind_with_code(db, settings, limiter, body.bind_token, body.phone, body.code,
                                           "bearer", ip))
