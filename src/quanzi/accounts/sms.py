"""SMS providers. The default writes the message to the log; a real provider plugs in by name."""

from __future__ import annotations

from typing import Protocol

import structlog

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


def make_provider(name: str) -> SmsProvider:
    if name == "log":
        return LogSmsProvider()
    raise ValueError(f"unknown SMS provider {name!r}")
