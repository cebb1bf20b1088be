"""WeChat pages: official-account H5 login (authorize redirect with a signed state, the callback) and the
one-time phone step that binds a new WeChat to a phone account."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from quanzi.accounts.deps import COOKIE, OptionalUser, Sms
from quanzi.accounts.login import send_code
from quanzi.accounts.sms import LogSmsProvider
from quanzi.accounts import service as accounts
from quanzi.kit import i18n
from quanzi.kit.deps import DB, AppSettings, ClientIP, Limiter
from quanzi.kit.errors import DomainError
from quanzi.kit.web import render
from quanzi.wechat import login, service
from quanzi.wechat.api import Wechat
from quanzi.wechat.errors import BadBindToken, BadCode

router = APIRouter(include_in_schema=False)

STATE_COOKIE = "qz_wx_state"
BIND_COOKIE = "qz_wx_bind"
SHARE_COOKIE = "qz_share"  # set by referrals: the share link the visitor arrived through


def _safe_next(next_url: str | None) -> str:
    return next_url if next_url and next_url.startswith("/") and not next_url.startswith("//") else "/"


def _cookie(resp: Response, name: str, value: str, seconds: int, settings) -> None:  # noqa: ANN001
    resp.set_cookie(name, value, max_age=seconds, httponly=True, samesite="lax", secure=settings.cookie_secure,
                    path="/wechat")


def _logged_in(next_url: str, token: str | None, settings) -> Response:  # noqa: ANN001
    resp = RedirectResponse(_safe_next(next_url), status_code=303)
    if token:
        resp.set_cookie(COOKIE, token, max_age=settings.session_days * 86400, httponly=True, samesite="lax",
                        secure=settings.cookie_secure, path="/")
    for name in (STATE_COOKIE, BIND_COOKIE):
        resp.delete_cookie(name, path="/wechat")
    return resp


@router.get("/wechat/login")
async def wechat_login(wx: Wechat, settings: AppSettings, next: str = "/") -> Response:  # noqa: A002
    """Off to WeChat's authorize page. `state` (WeChat allows 128 alphanumerics) is a nonce; the signed
    cookie holds it with `next`, so a state from another browser or a forged one is refused."""
    app = wx.official()
    nonce, packed = service.make_state(settings.secret_key, _safe_next(next))
    query = urlencode({"appid": app.app_id, "redirect_uri": f"{settings.public_url.rstrip('/')}/wechat/callback",
                       "response_type": "code", "scope": settings.wechat_oauth_scope, "state": nonce},
                      quote_via=quote)
    resp = RedirectResponse(f"{settings.wechat_open_base_url.rstrip('/')}/connect/oauth2/authorize?{query}"
                            "#wechat_redirect", status_code=302)
    _cookie(resp, STATE_COOKIE, packed, int(service.STATE_TTL.total_seconds()), settings)
    return resp


@router.get("/wechat/callback")
async def wechat_callback(request: Request, wx: Wechat, db: DB, settings: AppSettings, ip: ClientIP,
                          me: OptionalUser, state: str = "", code: str = "") -> Response:
    next_url = service.check_state(settings.secret_key, state, request.cookies.get(STATE_COOKIE))
    if not code:  # the person declined on WeChat's page
        return RedirectResponse(f"/login?next={quote(next_url)}", status_code=303)
    if len(code) > 128:
        raise BadCode()
    answer = await wx.oauth_exchange(code)
    profile = None
    if settings.wechat_oauth_scope == "snsapi_userinfo" and isinstance(answer.get("access_token"), str):
        profile = await wx.userinfo(answer["access_token"], answer["openid"])
    result = await login.login_or_pending(
        db, settings, wx.official().app_id, answer["openid"], answer.get("unionid"), "cookie", ip,
        current_user_id=me.user_id if me else None, share_token=request.cookies.get(SHARE_COOKIE),
        profile=profile)
    if isinstance(result, str):
        resp = RedirectResponse(f"/wechat/bind?next={quote(next_url)}", status_code=303)
        _cookie(resp, BIND_COOKIE, result, int(service.BIND_TTL.total_seconds()), settings)
        resp.delete_cookie(STATE_COOKIE, path="/wechat")
        return resp
    return _logged_in(next_url, result[1], settings)


def _bind_page(request: Request, settings, status: int = 200, **ctx) -> Response:  # noqa: ANN001, ANN003
    return render(request, "wechat/bind.html", ctx, status_code=status)


def _bind_token(request: Request, settings) -> str:  # noqa: ANN001
    token = request.cookies.get(BIND_COOKIE, "")
    service.read_bind_token(settings.secret_key, token)  # expired or missing: start again
    return token


@router.get("/wechat/bind")
async def bind_page(request: Request, settings: AppSettings, next: str = "/") -> Response:  # noqa: A002
    _bind_token(request, settings)
    return _bind_page(request, settings, next=_safe_next(next))


@router.post("/wechat/bind/code")
async def bind_send_code(request: Request, db: DB, settings: AppSettings, limiter: Limiter, ip: ClientIP, sms: Sms,
                         phone: Annotated[str, Form(max_length=32)],
                         next: Annotated[str, Form(max_length=500)] = "/") -> Response:  # noqa: A002
    _bind_token(request, settings)
    try:
        await send_code(db, settings, limiter, sms, phone, ip)
    except DomainError as exc:
        return _bind_page(request, settings, exc.status, error=exc.text(i18n.short()), phone=phone, next=next)
    dev_code = (sms.last_code(accounts.normalize_phone(phone))
                if isinstance(sms, LogSmsProvider) and settings.demo_hints else None)
    return _bind_page(request, settings, code_sent=True, phone=phone, dev_code=dev_code, next=_safe_next(next))


@router.post("/wechat/bind")
async def bind_submit(request: Request, db: DB, settings: AppSettings, limiter: Limiter, ip: ClientIP,
                      phone: Annotated[str, Form(max_length=32)], code: Annotated[str, Form(max_length=6)] = "",
                      next: Annotated[str, Form(max_length=500)] = "/") -> Response:  # noqa: A002
    try:
        token = _bind_token(request, settings)
        _user, session, _roles = await login.bind_with_code(db, settings, limiter, token, phone, code, "cookie", ip,
                                                            share_token=request.cookies.get(SHARE_COOKIE))
    except BadBindToken:
        raise
    except DomainError as exc:
        return _bind_page(request, settings, exc.status, error=exc.text(i18n.short()), phone=phone, code_sent=True,
                          next=_safe_next(next))
    return _logged_in(next, session, settings)
