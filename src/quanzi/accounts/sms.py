"""What accounts needs from SMS: a sender of login codes (`SmsProvider`). The development sender writes the code
to the log; the real channels (Aliyun, Tencent Cloud, the console) live in the notifications domain, which the
app configures into `app.state.sms` — accounts never imports it."""

from __future__ import annotations

from typing import Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from quanzi.accounts.models import User

log = structlog.get_logger("quanzi.sms")


class SmsProvider(Protocol):
    async def send_login_code(self, phone: str, code: str, ttl_minutes: int) -> None: ...


class LogSmsProvider:
    """Development provider: the code appears in the server log as `sms.login_code`."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_login_code(self, phone: str, code: str, ttl_minutes: int) -> None:
        self.sent.append((phone, code))
        del self.sent[:-1000]
        log.info("sms.login_code", phone=phone, code=code, ttl_minutes=ttl_minutes,
                 text=f"【圈子】验证码 {code},{ttl_minutes} 分钟内有效。")

    def last_code(self, phone: str) -> str | None:
        for p, c in reversed(self.sent):
            if p == phone:
                return c
        return None


async def phone_of(s: AsyncSession, user_id: int) -> str | None:
    """Where texts for this person go (E.164), for the notification channels; None if unknown or inactive."""
    user = await s.get(User, user_id)
    return user.phone if user is not None and user.is_active else None
