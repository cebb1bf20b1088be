"""Who is calling: bearer token (API) or session cookie (pages, CSRF-protected), roles and ownership.

Every route that touches someone's object says so in one line:

    shop = await owned(s, Shop, shop_id, me)             # 404 unless me owns it
    me: Annotated[Principal, Depends(require_role("operator"))]
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.authcache import AuthCache, db_key_of, versions_for
from quanzi.accounts.service import Principal
from quanzi.accounts.sms import SmsProvider
from quanzi.kit.deps import get_db
from quanzi.kit.errors import CsrfFailed, Forbidden, NotFound, Unauthenticated
from quanzi.kit.security import sign, token_hash, verify_signature
from quanzi.kit.web import set_visitor_lookup

COOKIE = "quanzi_session"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}

M = TypeVar("M")


def csrf_token_for(request: Request, cookie_token: str) -> str:
    return sign(request.app.state.settings.secret_key, token_hash(cookie_token), purpose="csrf")


async def _check_csrf(request: Request, cookie_token: str) -> None:
    sent = request.headers.get("x-csrf-token")
    if not sent and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not verify_signature(
        request.app.state.settings.secret_key, token_hash(cookie_token), sent, purpose="csrf"
    ):
        raise CsrfFailed()


def auth_cache(request: Request) -> AuthCache:
    """The app's session cache (accounts/authcache.py); made on first use for apps built without one."""
    cache = getattr(request.app.state, "auth_cache", None)
    if cache is None:
        cache = request.app.state.auth_cache = make_auth_cache(request.app.state.settings, get_db(request))
    return cache


def make_auth_cache(settings: Any, db: Any) -> AuthCache:
    """Shared versions through Redis when configured; otherwise this process's own, which are exact only
    when this is the only server process (`quanzi serve --workers 1`), else the cache stays off."""
    versions = versions_for(settings.redis_url, settings.auth_cache_prefix)
    enabled = bool(settings.redis_url) or settings.workers == 1
    return AuthCache(db_key_of(db.engine.url), versions, enabled=enabled)


async def optional_principal(request: Request) -> Principal | None:
    if hasattr(request.state, "principal"):
        return request.state.principal
    principal: Principal | None = None
    auth = request.headers.get("authorization", "")
    db = get_db(request)
    cache = auth_cache(request)
    if auth.lower().startswith("bearer "):
        principal = await cache.principal(db.read, token_hash(auth[7:].strip()), "bearer")
        if principal is None:
            raise Unauthenticated()
    elif cookie := request.cookies.get(COOKIE):
        principal = await cache.principal(db.read, token_hash(cookie), "cookie")
        if principal is not None:
            request.state.csrf_token = csrf_token_for(request, cookie)
            if request.method in UNSAFE:
                await _check_csrf(request, cookie)
    request.state.principal = principal
    return principal


async def current_principal(principal: Annotated[Principal | None, Depends(optional_principal)]) -> Principal:
    if principal is None:
        raise Unauthenticated()
    return principal


def require_role(*roles: str) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """Dependency: the caller must hold at least one of `roles`."""

    async def dep(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.roles.intersection(roles):
            raise Forbidden(roles=list(roles))
        return principal

    return dep


async def owned(
    session: AsyncSession, model: type[M], obj_id: int, principal: Principal, owner_attr: str = "owner_id",
    *, operator_may: bool = False,
) -> M:
    """Load `model` by id if `principal` owns it; otherwise 404 (never reveal others' objects)."""
    obj = await session.get(model, obj_id)
    if obj is None:
        raise NotFound()
    if getattr(obj, owner_attr) != principal.user_id and not (operator_may and principal.has("operator")):
        raise NotFound()
    return obj


OptionalUser = Annotated[Principal | None, Depends(optional_principal)]
CurrentUser = Annotated[Principal, Depends(current_principal)]
Operator = Annotated[Principal, Depends(require_role("operator"))]
Supplier = Annotated[Principal, Depends(require_role("supplier", "operator"))]
Shopkeeper = Annotated[Principal, Depends(require_role("shopkeeper"))]


def get_sms(request: Request) -> SmsProvider:
    return request.app.state.sms


Sms = Annotated[SmsProvider, Depends(get_sms)]


async def _visitor_of_error_page(request: Request) -> Principal | None:
    """The person behind the session cookie, for an error page no route looked at (e.g. a 404). Reading only:
    no CSRF check, a bearer token is ignored (an API error is JSON, not a page)."""
    cookie = request.cookies.get(COOKIE)
    if not cookie:
        return None
    principal = await auth_cache(request).principal(get_db(request).read, token_hash(cookie), "cookie")
    if principal is not None:
        request.state.csrf_token = csrf_token_for(request, cookie)
    request.state.principal = principal
    return principal


set_visitor_lookup(_visitor_of_error_page)
