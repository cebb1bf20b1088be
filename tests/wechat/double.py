"""A local double of WeChat's API (api.weixin.qq.com), an ASGI app: it answers `cgi-bin/token`,
`cgi-bin/ticket/getticket`, `sns/oauth2/access_token` and `sns/jscode2session` the way WeChat does — JSON
with `errcode`/`errmsg` on refusal (HTTP 200 either way), codes usable once and only by the app they were
issued for, tokens that expire — and counts the calls so the tests can see what was cached."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

MP_APP_ID, MP_SECRET = "wx2421b1c4370ec43b", "mp-secret-0123456789abcdef0123456"
MINI_APP_ID, MINI_SECRET = "wxd930ea5d5a258f4f", "mini-secret-0123456789abcdef01234"


def _err(code: int, msg: str) -> JSONResponse:
    return JSONResponse({"errcode": code, "errmsg": msg})


@dataclass
class WechatDouble:
    secrets_by_app: dict[str, str] = field(default_factory=lambda: {MP_APP_ID: MP_SECRET, MINI_APP_ID: MINI_SECRET})
    tokens: dict[str, str] = field(default_factory=dict)  # access_token -> app id
    codes: dict[str, tuple[str, str, str | None]] = field(default_factory=dict)  # code -> (app id, openid, unionid)
    used: set[str] = field(default_factory=set)
    web_tokens: dict[str, str] = field(default_factory=dict)  # OAuth access_token -> openid
    profiles: dict[str, dict[str, str]] = field(default_factory=dict)  # openid -> what snsapi_userinfo shares
    calls: dict[str, int] = field(default_factory=dict)
    ticket: str = "bxLdikRXVbTPdHSM05e5u5sUoXNKd8-41ZO3MhKoyN5OfkWITDGgnr2fwJ0m9E8NYzWKVZvdVtaUgWvsdshFKA"

    def issue_code(self, app_id: str, openid: str, unionid: str | None = None) -> str:
        """What WeChat hands the browser (or wx.login()) after the person agrees."""
        code = secrets.token_hex(16)
        self.codes[code] = (app_id, openid, unionid)
        return code

    def expire_tokens(self) -> None:
        self.tokens.clear()

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    def _app(self, request: Request) -> str | None:
        app_id, secret = request.query_params.get("appid", ""), request.query_params.get("secret", "")
        return app_id if self.secrets_by_app.get(app_id) == secret and secret else None

    async def token(self, request: Request) -> JSONResponse:
        self._count("token")
        if request.query_params.get("grant_type") != "client_credential":
            return _err(40002, "invalid grant_type")
        app_id = self._app(request)
        if app_id is None:
            return _err(40125, "invalid appsecret")
        token = secrets.token_urlsafe(48)
        self.tokens[token] = app_id
        return JSONResponse({"access_token": token, "expires_in": 7200})

    async def getticket(self, request: Request) -> JSONResponse:
        self._count("getticket")
        if request.query_params.get("type") != "jsapi":
            return _err(40097, "invalid args")
        if request.query_params.get("access_token") not in self.tokens:
            return _err(42001, "access_token expired")
        return JSONResponse({"errcode": 0, "errmsg": "ok", "ticket": self.ticket, "expires_in": 7200})

    def _exchange(self, request: Request, name: str, code_param: str) -> JSONResponse | tuple[str, str | None]:
        self._count(name)
        app_id = self._app(request)
        if app_id is None:
            return _err(40125, "invalid appsecret")
        if request.query_params.get("grant_type") != "authorization_code":
            return _err(40002, "invalid grant_type")
        code = request.query_params.get(code_param, "")
        if code in self.used:
            return _err(40163, "code been used")
        issued = self.codes.get(code)
        if issued is None or issued[0] != app_id:
            return _err(40029, "invalid code")
        self.used.add(code)
        return issued[1], issued[2]

    async def oauth(self, request: Request) -> JSONResponse:
        got = self._exchange(request, "oauth", "code")
        if isinstance(got, JSONResponse):
            return got
        openid, unionid = got
        token = secrets.token_urlsafe(32)
        self.web_tokens[token] = openid
        body = {"access_token": token, "expires_in": 7200, "refresh_token": secrets.token_urlsafe(32),
                "openid": openid, "scope": "snsapi_base", "is_snapshotuser": 0}
        if unionid:
            body["unionid"] = unionid
        return JSONResponse(body)

    async def userinfo(self, request: Request) -> JSONResponse:
        self._count("userinfo")
        openid = self.web_tokens.get(request.query_params.get("access_token", ""))
        if openid is None or openid != request.query_params.get("openid"):
            return _err(40001, "invalid credential, access_token is invalid or not latest")
        profile = self.profiles.get(openid)
        if profile is None:
            return _err(48001, "api unauthorized")  # the person was asked with snsapi_base only
        return JSONResponse({"openid": openid, **profile, "privilege": []})

    async def jscode2session(self, request: Request) -> JSONResponse:
        got = self._exchange(request, "jscode2session", "js_code")
        if isinstance(got, JSONResponse):
            return got
        openid, unionid = got
        body = {"openid": openid, "session_key": secrets.token_urlsafe(16)}
        if unionid:
            body["unionid"] = unionid
        return JSONResponse(body)

    def asgi(self) -> Starlette:
        return Starlette(routes=[
            Route("/cgi-bin/token", self.token), Route("/cgi-bin/ticket/getticket", self.getticket),
            Route("/sns/oauth2/access_token", self.oauth), Route("/sns/userinfo", self.userinfo),
            Route("/sns/jscode2session", self.jscode2session)])
