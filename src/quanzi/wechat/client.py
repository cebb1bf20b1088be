"""The calls this platform makes to WeChat's own API (api.weixin.qq.com): OAuth code exchange, mini-program
code2session, and the access token and jsapi_ticket, cached until they expire.

WeChat asks every developer to cache both (each is valid 7200 s and fetching them is rate-limited per day),
so they live in this process and, when Redis is configured, in Redis so every process shares one copy.
Expiry is read from the app clock (kit.clock) with a five-minute margin, so a cached value is never used
in its last minutes.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import structlog

from quanzi.config import Settings
from quanzi.kit.clock import clock
from quanzi.wechat.errors import BadCode, WechatNotConfigured, WechatUnavailable

log = structlog.get_logger("quanzi.wechat")

MARGIN = timedelta(minutes=5)
FAILURE_PAUSE = timedelta(seconds=30)
# errcodes that mean the cached access token is no longer valid (40001 invalid credential, 42001 expired,
# 40014 invalid token): drop it and fetch a new one once.
STALE_TOKEN = {40001, 40014, 42001}
# errcodes that mean the person's code is bad (40029 invalid code, 40163 code used, 40226 risky user).
BAD_CODE = {40029, 40163, 40226}


class WechatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"{errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class App:
    app_id: str
    secret: str
    kind: str  # "mp" official account (公众号) | "mini" mini program


class TokenCache:
    """value + expiry per key, in this process; in Redis too when a Redis URL is given."""

    def __init__(self, redis_url: str | None, prefix: str = "quanzi-wechat") -> None:
        self._local: dict[str, tuple[str, datetime]] = {}
        self._prefix = prefix
        self._redis: Any = None
        if redis_url:
            from redis import asyncio as aioredis

            self._redis = aioredis.from_url(redis_url, decode_responses=True)

    async def get(self, key: str) -> str | None:
        hit = self._local.get(key)
        if hit is not None and hit[1] > clock.now():
            return hit[0]
        if self._redis is not None:
            raw = await self._redis.get(f"{self._prefix}:{key}")
            try:
                stored = json.loads(raw) if raw else None
                value, expires = str(stored["v"]), datetime.fromisoformat(stored["exp"])
            except (ValueError, KeyError, TypeError):
                return None
            if expires > clock.now():  # the app clock decides, as for the local copy; Redis' TTL only cleans up
                self._local[key] = (value, expires)
                return value
        return None

    async def put(self, key: str, value: str, expires_in: int) -> None:
        life = timedelta(seconds=max(int(expires_in), 0)) - MARGIN
        if life <= timedelta(0):
            return
        expires = clock.now() + life
        self._local[key] = (value, expires)
        if self._redis is not None:
            await self._redis.set(f"{self._prefix}:{key}", json.dumps({"v": value, "exp": expires.isoformat()}),
                                  ex=int(life.total_seconds()))

    async def drop(self, key: str) -> None:
        self._local.pop(key, None)
        if self._redis is not None:
            await self._redis.delete(f"{self._prefix}:{key}")

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()


class WechatClient:
    """One per app process (app.state.wechat). `transport` lets a test answer with a local double."""

    def __init__(self, settings: Settings, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = settings.wechat_api_base_url.rstrip("/")
        self.apps: dict[str, App] = {}
        self.mp: App | None = None
        self.mini: App | None = None
        if settings.wechat_app_id:
            self.mp = App(settings.wechat_app_id, settings.wechat_app_secret.get_secret_value(), "mp")
            self.apps[self.mp.app_id] = self.mp
        if settings.wechat_mini_app_id:
            self.mini = App(settings.wechat_mini_app_id, settings.wechat_mini_app_secret.get_secret_value(), "mini")
            self.apps[self.mini.app_id] = self.mini
        self.cache = TokenCache(settings.redis_url, settings.wechat_cache_prefix)
        self._transport = transport
        self._locks: dict[str, asyncio.Lock] = {}
        self._failed_until: dict[str, datetime] = {}
        self.calls: dict[str, int] = {}  # per path, for /metrics-style inspection and tests of the cache

    def official(self) -> App:
        if self.mp is None:
            raise WechatNotConfigured()
        return self.mp

    def mini_program(self) -> App:
        if self.mini is None:
            raise WechatNotConfigured()
        return self.mini

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        self.calls[path] = self.calls.get(path, 0) + 1
        try:
            async with httpx.AsyncClient(base_url=self.base_url, transport=self._transport, timeout=10.0) as http:
                r = await http.get(path, params=params)
            r.raise_for_status()
            body = r.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("wechat.call_failed", path=path, error=repr(exc))
            raise WechatUnavailable(reason=type(exc).__name__) from exc
        if not isinstance(body, dict):
            raise WechatUnavailable(reason="answer is not an object")
        errcode = body.get("errcode", 0)
        if errcode not in (0, None):
            log.warning("wechat.call_refused", path=path, errcode=errcode, errmsg=body.get("errmsg"))
            raise WechatApiError(int(errcode), str(body.get("errmsg", "")))
        return body

    async def _code_call(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            body = await self._get(path, params)
        except WechatApiError as exc:
            if exc.errcode in BAD_CODE:
                raise BadCode(errcode=exc.errcode) from exc
            raise WechatUnavailable(errcode=exc.errcode) from exc
        if not isinstance(body.get("openid"), str) or not body["openid"]:
            raise WechatUnavailable(reason="no openid in the answer")
        return body

    async def oauth_exchange(self, code: str) -> dict[str, Any]:
        """Official-account web authorization: code → openid (+ unionid when the app is on an open platform)."""
        app = self.official()
        return await self._code_call("/sns/oauth2/access_token", {
            "appid": app.app_id, "secret": app.secret, "code": code, "grant_type": "authorization_code"})

    async def userinfo(self, access_token: str, openid: str) -> dict[str, str]:
        """snsapi_userinfo only: the nickname and avatar the person agreed to share; {} if WeChat will not say."""
        try:
            body = await self._get("/sns/userinfo", {"access_token": access_token, "openid": openid, "lang": "zh_CN"})
        except (WechatApiError, WechatUnavailable):
            return {}  # the profile is a nicety: logging in must not depend on it
        out = {}
        if isinstance(body.get("nickname"), str) and body["nickname"].strip():
            out["nickname"] = body["nickname"].strip()[:40]
        if isinstance(body.get("headimgurl"), str) and body["headimgurl"].startswith("https://"):
            out["avatar_url"] = body["headimgurl"][:300]
        return out

    async def code2session(self, js_code: str) -> dict[str, Any]:
        """Mini program wx.login() code → openid, session_key (+ unionid)."""
        app = self.mini_program()
        return await self._code_call("/sns/jscode2session", {
            "appid": app.app_id, "secret": app.secret, "js_code": js_code, "grant_type": "authorization_code"})

    async def _cached(self, key: str, fetch: Any) -> str:
        value = await self.cache.get(key)
        if value is not None:
            return value
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # one fetch per process when many pages ask at once
            value = await self.cache.get(key)
            if value is not None:
                return value
            if (until := self._failed_until.get(key)) is not None and clock.now() < until:
                # WeChat just refused (e.g. our IP is not whitelisted): every page view in WeChat would ask
                # again and use up the daily quota, so wait a little before the next try.
                raise WechatUnavailable(reason="recent failure, retrying later")
            try:
                value, expires_in = await fetch()
            except WechatUnavailable:
                self._failed_until[key] = clock.now() + FAILURE_PAUSE
                raise
            self._failed_until.pop(key, None)
            await self.cache.put(key, value, expires_in)
            return value

    async def access_token(self, app: App) -> str:
        async def fetch() -> tuple[str, int]:
            try:
                body = await self._get("/cgi-bin/token", {
                    "grant_type": "client_credential", "appid": app.app_id, "secret": app.secret})
            except WechatApiError as exc:
                raise WechatUnavailable(errcode=exc.errcode) from exc
            token = body.get("access_token")
            if not isinstance(token, str) or not token:
                raise WechatUnavailable(reason="no access_token in the answer")
            return token, int(body.get("expires_in") or 7200)

        return await self._cached(f"{app.app_id}:access_token", fetch)

    async def jsapi_ticket(self) -> str:
        app = self.official()

        async def fetch() -> tuple[str, int]:
            for attempt in (1, 2):
                token = await self.access_token(app)
                try:
                    body = await self._get("/cgi-bin/ticket/getticket", {"access_token": token, "type": "jsapi"})
                except WechatApiError as exc:
                    if exc.errcode in STALE_TOKEN and attempt == 1:
                        await self.cache.drop(f"{app.app_id}:access_token")
                        continue
                    raise WechatUnavailable(errcode=exc.errcode) from exc
                ticket = body.get("ticket")
                if not isinstance(ticket, str) or not ticket:
                    raise WechatUnavailable(reason="no ticket in the answer")
                return ticket, int(body.get("expires_in") or 7200)
            raise WechatUnavailable(reason="access token refused twice")

        return await self._cached(f"{app.app_id}:jsapi_ticket", fetch)
