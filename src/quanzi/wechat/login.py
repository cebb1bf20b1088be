"""The glue between WeChat identities and accounts' sessions: log a bound person in, or bind after the
person proved a phone with a one-time code (accounts.login does the code, the rate limits and the session)."""

from __future__ import annotations

from quanzi.accounts import service as accounts
from quanzi.accounts.login import login_code, post_login_hooks
from quanzi.accounts.models import User
from quanzi.config import Settings
from quanzi.kit.db import Database
from quanzi.kit.errors import Forbidden
from quanzi.kit.ratelimit import RateLimiter
from quanzi.wechat import service


async def login_or_pending(db: Database, settings: Settings, app_id: str, openid: str, unionid: str | None,
                           kind: str, ip: str, *, current_user_id: int | None = None,
                           share_token: str | None = None, profile: dict[str, str] | None = None,
                           ) -> tuple[User, str | None, frozenset[str]] | str:
    """A verified openid: the logged-in caller binds it; a known one logs its person in (a new session of
    `kind`); an unknown one gets a bind token (str) for the phone step."""
    async with db.write() as s:
        if current_user_id is not None:
            await service.bind(s, current_user_id, app_id, openid, unionid)
            user = await s.get(User, current_user_id)
            assert user is not None
            return user, None, await accounts.roles_of(s, user.id)
        user_id = await service.resolve(s, app_id, openid, unionid)
        if user_id is None:
            return service.make_bind_token(settings.secret_key, app_id, openid, unionid, profile)
        user = await s.get(User, user_id)
        if user is None or not user.is_active:
            raise Forbidden()
        token = await accounts.start_session(s, user, kind, settings.session_days, ip)
        for hook in post_login_hooks:
            await hook(s, settings, user.id, False, share_token)
        return user, token, await accounts.roles_of(s, user.id)


async def bind_with_code(db: Database, settings: Settings, limiter: RateLimiter, bind_token: str, phone: str,
                         code: str, kind: str, ip: str, share_token: str | None = None,
                         ) -> tuple[User, str, frozenset[str]]:
    """The phone step: the one-time code logs the person in (creating the account if the phone is new, as
    the phone login does), then the openid from the bind token is bound to that account."""
    app_id, openid, unionid, profile = service.read_bind_token_full(settings.secret_key, bind_token)
    user, token, roles = await login_code(db, settings, limiter, phone, code, kind, ip, share_token=share_token)
    async with db.write() as s:
        await service.bind(s, user.id, app_id, openid, unionid)
        if profile:
            await service.adopt_profile(s, user.id, profile)
    return user, token, roles
