"""Referrals react to logins: a person who arrived through a share link is bound to the sharer."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.login import post_login_hooks
from quanzi.config import Settings
from quanzi.kit.clock import clock
from quanzi.kit.errors import DomainError
from quanzi.kit import sharetokens as tokens
from quanzi.referrals import service


async def bind_after_login(s: AsyncSession, settings: Settings, user_id: int, created: bool,
                           share_token: str | None) -> None:
    """`created` is True only in the transaction that created the account: that is what makes the person a
    new user for the "new users only" scope (not a registration-age heuristic)."""
    if not share_token:
        return
    try:
        pol_days = (await service.distribution.get_policy(s)).share_token_days
        token = tokens.verify(settings.secret_key, share_token, clock.now(), pol_days)
    except DomainError:
        return  # a tampered or expired link never attributes anything
    await service.bind(s, user_id, token, is_new_user=created)


if bind_after_login not in post_login_hooks:
    post_login_hooks.append(bind_after_login)
