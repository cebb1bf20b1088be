"""Login flows shared by the JSON API and the login page: rate limits, one transaction, SMS after commit."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts import service
from quanzi.accounts.errors import BadCode, BadCredentials, PasswordLocked
from quanzi.accounts.models import User
from quanzi.accounts.sms import SmsProvider
from quanzi.config import Settings
from quanzi.kit.db import Database, after_commit
from quanzi.kit.errors import DomainError
from quanzi.kit.ratelimit import RateLimiter


# Other domains react to a login in the same transaction (e.g. referrals binds a fan who arrived through a
# share link): hook(session, settings, user_id, created_now, share_token).
LoginHook = Callable[[AsyncSession, Settings, int, bool, str | None], Awaitable[None]]
post_login_hooks: list[LoginHook] = []


async def _after_login(s: AsyncSession, settings: Settings, user_id: int, created: bool, share_token: str | None,
                       ) -> None:
    for hook in post_login_hooks:
        await hook(s, settings, user_id, created, share_token)


async def send_code(db: Database, settings: Settings, limiter: RateLimiter, sms: SmsProvider, phone_raw: str,
                    ip: str) -> int:
    """Shared by the API and the login page: rate-limit, issue, and text the code after commit."""
    phone = service.normalize_mobile(phone_raw)
    await limiter.hit(settings.otp_limit_per_ip, "otp-ip", ip)
    await limiter.hit(settings.otp_limit_per_phone, "otp-phone", phone)
    ttl = settings.login_code_ttl_seconds
    async with db.write() as s:
        code = await service.issue_login_code(s, phone, ttl)
        after_commit(s, lambda: sms.send_login_code(phone, code, ttl // 60))
    return ttl


async def login_code(db: Database, settings: Settings, limiter: RateLimiter, phone_raw: str, code: str, kind: str,
                     ip: str, share_token: str | None = None) -> tuple[User, str, frozenset[str]]:
    """Rate-limit, consume the code (a wrong try is committed before refusing), start a session."""
    phone = service.normalize_phone(phone_raw)
    await limiter.hit(settings.login_limit_per_ip, "login-ip", ip)
    async with db.write() as s:
        result = await service.login_with_code(s, phone, code, kind=kind, days=settings.session_days, ip=ip)
        if result is not None:
            # The owner proved the phone: wrong passwords sent by someone else no longer count.
            await service.clear_password_failures(s, phone)
            await _after_login(s, settings, result[0].id, result[2], share_token)
        roles = await service.roles_of(s, result[0].id) if result else frozenset()
    if result is None:
        raise BadCode()
    return result[0], result[1], roles


async def login_password(db: Database, settings: Settings, limiter: RateLimiter, phone_raw: str, password: str,
                         kind: str, ip: str, share_token: str | None = None) -> tuple[User, str, frozenset[str]]:
    """Per IP and per account (PasswordLocked, 429): a wrong password is committed before refusing, so
    guesses spread over many addresses still add up; the try that starts a lock already answers 429."""
    phone = service.normalize_phone(phone_raw)
    await limiter.hit(settings.login_limit_per_ip, "login-ip", ip)
    refusal: DomainError | None = None
    async with db.write() as s:
        await service.check_password_lock(s, phone)  # while locked, not even a right password is tried
        try:
            user = await service.authenticate_password(s, phone, password)
        except BadCredentials as exc:
            lock = await service.record_password_failure(s, phone, ip)
            refusal = PasswordLocked(lock) if lock else exc
        else:
            await service.clear_password_failures(s, phone)
            token = await service.start_session(s, user, kind, settings.session_days, ip)
            await _after_login(s, settings, user.id, False, share_token)
            roles = await service.roles_of(s, user.id)
    if refusal is not None:
        raise refusal
    return user, token, roles
