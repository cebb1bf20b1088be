"""Accounts' outbox handlers: the security log of password attacks (the notification domain adds its own
handler for `accounts.password_attacked` to tell the account holder)."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.kit import outbox

log = structlog.get_logger("quanzi.security")


@outbox.on("accounts.password_attacked")
async def log_password_attack(s: AsyncSession, payload: dict[str, Any]) -> None:
    # A warning with the stable payload: what an operator's log alerting keys on.
    log.warning("accounts.password_attacked", **{k: payload.get(k) for k in (
        "user_id", "failures", "locked_until", "lock_seconds", "last_ip")})
