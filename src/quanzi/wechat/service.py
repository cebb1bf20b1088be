"""WeChat rules: the JS-SDK share signature, signed OAuth state and binding tokens, and the binding of an
openid/unionid to a phone account (one openid per person and app; an openid belongs to one person).

Other domains ask `openid_for(session, user_id, app_id)` when they need to pay someone through WeChat
(JSAPI payments, merchant transfers) — never the table.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import string
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.kit.clock import clock
from quanzi.kit.security import sign, verify_signature
from quanzi.wechat.errors import AlreadyBound, BadBindToken, BadShareUrl, BadState, BoundToOther
from quanzi.wechat.models import WechatIdentity

STATE_TTL = timedelta(minutes=10)
BIND_TTL = timedelta(minutes=15)
# What pages may call: the share card, and accepting a merchant transfer (商家转账 needs the payee's consent).
SHARE_APIS = ["updateAppMessageShareData", "updateTimelineShareData", "requestMerchantTransfer"]
_NONCE_ALPHABET = string.ascii_letters + string.digits


# ------------------------------------------------------------------------------------------- JS-SDK


def jssdk_signature(jsapi_ticket: str, noncestr: str, timestamp: int, url: str) -> str:
    """SHA1 over the four fields sorted by name, joined as key=value&… with raw (unescaped) values, as
    WeChat's JS-SDK appendix 1 (JS-SDK使用权限签名算法) specifies."""
    fields = {"jsapi_ticket": jsapi_ticket, "noncestr": noncestr, "timestamp": str(timestamp), "url": url}
    string1 = "&".join(f"{k}={fields[k]}" for k in sorted(fields))
    return hashlib.sha1(string1.encode()).hexdigest()  # noqa: S324 - WeChat's algorithm, not our choice


def share_url(url: str, public_url: str) -> str:
    """The page URL to sign: ours only (same scheme and host as public_url), without the #fragment."""
    page, base = urlsplit(url), urlsplit(public_url)
    if (page.scheme, page.netloc) != (base.scheme, base.netloc) or not page.path.startswith("/"):
        raise BadShareUrl()
    return url.split("#", 1)[0]


def js_config(app_id: str, ticket: str, url: str) -> dict[str, Any]:
    nonce = "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(16))
    timestamp = int(clock.now().timestamp())
    return {"appId": app_id, "timestamp": timestamp, "nonceStr": nonce,
            "signature": jssdk_signature(ticket, nonce, timestamp, url), "jsApiList": SHARE_APIS}


# ---------------------------------------------------------------------------- signed state and tokens


def _pack(secret: str, purpose: str, payload: dict[str, Any]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).rstrip(b"=").decode()
    return f"{body}.{sign(secret, body, purpose=purpose)}"


def _unpack(secret: str, purpose: str, token: str, ttl: timedelta) -> dict[str, Any] | None:
    body, _, mac = (token or "").partition(".")
    if not body or not mac or not verify_signature(secret, body, mac, purpose=purpose):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    except ValueError:
        return None
    issued = payload.get("t") if isinstance(payload, dict) else None
    if not isinstance(issued, int) or not 0 <= clock.now().timestamp() - issued <= ttl.total_seconds():
        return None
    return payload


def make_state(secret: str, next_url: str) -> tuple[str, str]:
    """(state, cookie). WeChat's `state` may only be 128 alphanumerics, so it is a bare nonce; the signed
    cookie holds the nonce with `next`. The callback needs both: a forged state, or one started in another
    browser (login CSRF), is refused."""
    nonce = secrets.token_hex(16)
    return nonce, _pack(secret, "wechat-state", {"n": nonce, "next": next_url, "t": int(clock.now().timestamp())})


def check_state(secret: str, state: str, cookie: str | None) -> str:
    """The `next` URL of a valid login; BadState for a forged, expired or other browser's state."""
    payload = _unpack(secret, "wechat-state", cookie or "", STATE_TTL)
    if payload is None or not state or not secrets.compare_digest(str(payload.get("n")), state):
        raise BadState()
    return str(payload.get("next") or "/")


def make_bind_token(secret: str, app_id: str, openid: str, unionid: str | None,
                    profile: dict[str, str] | None = None) -> str:
    """Carries a verified openid (and, with snsapi_userinfo, the shared nickname/avatar) to the
    phone-verification step (15 minutes)."""
    return _pack(secret, "wechat-bind", {"a": app_id, "o": openid, "u": unionid, "p": profile or {},
                                         "t": int(clock.now().timestamp())})


def read_bind_token(secret: str, token: str) -> tuple[str, str, str | None]:
    app_id, openid, unionid, _profile = read_bind_token_full(secret, token)
    return app_id, openid, unionid


def read_bind_token_full(secret: str, token: str) -> tuple[str, str, str | None, dict[str, str]]:
    payload = _unpack(secret, "wechat-bind", token, BIND_TTL)
    if payload is None or not payload.get("a") or not payload.get("o"):
        raise BadBindToken()
    profile = payload.get("p") if isinstance(payload.get("p"), dict) else {}
    return (str(payload["a"]), str(payload["o"]), (str(payload["u"]) if payload.get("u") else None),
            {k: str(v) for k, v in profile.items() if k in ("nickname", "avatar_url")})


# ----------------------------------------------------------------------------------------- identities


async def find(s: AsyncSession, app_id: str, openid: str) -> WechatIdentity | None:
    return (await s.execute(select(WechatIdentity).where(
        WechatIdentity.app_id == app_id, WechatIdentity.openid == openid))).scalar_one_or_none()


async def resolve(s: AsyncSession, app_id: str, openid: str, unionid: str | None) -> int | None:
    """The person this openid belongs to, if known. A new openid whose unionid is already bound (the same
    person in our other WeChat app) is bound to that person on the spot."""
    found = await find(s, app_id, openid)
    if found is not None:
        await s.execute(update(WechatIdentity).where(WechatIdentity.id == found.id)
                        .values(last_login_at=clock.now(), unionid=unionid or found.unionid))
        return found.user_id
    if unionid:
        other = (await s.execute(select(WechatIdentity.user_id).where(WechatIdentity.unionid == unionid)
                                 .order_by(WechatIdentity.id).limit(1))).scalar_one_or_none()
        if other is not None:
            await bind(s, other, app_id, openid, unionid)
            return other
    return None


async def bind(s: AsyncSession, user_id: int, app_id: str, openid: str, unionid: str | None) -> WechatIdentity:
    """Bind an openid to a person: idempotent for the same pair; refused when the openid is someone else's
    or the person already has another openid in this app."""
    found = await find(s, app_id, openid)
    if found is not None:
        if found.user_id != user_id:
            raise BoundToOther()
        return found
    mine = await openid_for(s, user_id, app_id)
    if mine is not None:
        raise AlreadyBound()
    now = clock.now()
    identity = WechatIdentity(app_id=app_id, openid=openid, unionid=unionid, user_id=user_id, created_at=now,
                              last_login_at=now)
    try:
        async with s.begin_nested():
            s.add(identity)
            await s.flush()
    except IntegrityError as exc:  # a concurrent bind of the same openid or person won
        raise BoundToOther() from exc
    return identity


async def openid_for(s: AsyncSession, user_id: int, app_id: str) -> str | None:
    """The person's openid in the WeChat app `app_id` (what JSAPI payments and merchant transfers need)."""
    return (await s.execute(select(WechatIdentity.openid).where(
        WechatIdentity.user_id == user_id, WechatIdentity.app_id == app_id))).scalar_one_or_none()


async def identities_of(s: AsyncSession, user_id: int) -> list[WechatIdentity]:
    return list((await s.execute(select(WechatIdentity).where(WechatIdentity.user_id == user_id)
                                 .order_by(WechatIdentity.id))).scalars())


async def adopt_profile(s: AsyncSession, user_id: int, profile: dict[str, str]) -> None:
    """Take the WeChat nickname and avatar the person shared (snsapi_userinfo) — only where the account still
    has the placeholder ("用户1234", no avatar): a name the person chose is never overwritten."""
    from quanzi.accounts.models import User

    user = await s.get(User, user_id)
    if user is None:
        return
    values: dict[str, str] = {}
    if profile.get("nickname") and user.nickname == f"用户{user.phone[-4:]}":
        values["nickname"] = profile["nickname"][:40]
    if profile.get("avatar_url") and not user.avatar_url:
        values["avatar_url"] = profile["avatar_url"][:300]
    if values:
        await s.execute(update(User).where(User.id == user_id).values(**values))
