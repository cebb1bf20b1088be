from __future__ import annotations

from enum import StrEnum

from quanzi.kit.errors import DomainError


class AccountCode(StrEnum):
    INVALID_PHONE = "accounts.invalid_phone"
    BAD_CODE = "accounts.bad_code"
    BAD_CREDENTIALS = "accounts.bad_credentials"
    WEAK_PASSWORD = "accounts.weak_password"
    DISABLED = "accounts.disabled"
    ROLE_UNKNOWN = "accounts.role_unknown"
    PASSWORD_LOCKED = "accounts.password_locked"


class InvalidPhone(DomainError):
    status = 422
    code = AccountCode.INVALID_PHONE
    message = {"zh": "请输入有效的手机号码", "en": "Enter a valid mobile phone number"}


class BadCode(DomainError):
    status = 400
    code = AccountCode.BAD_CODE
    message = {"zh": "验证码错误或已过期，请重新获取", "en": "The code is wrong or expired; request a new one"}


class BadCredentials(DomainError):
    status = 400
    code = AccountCode.BAD_CREDENTIALS
    message = {"zh": "手机号或密码错误", "en": "Wrong phone number or password"}


class WeakPassword(DomainError):
    status = 422
    code = AccountCode.WEAK_PASSWORD
    message = {"zh": "密码至少需要 8 位", "en": "The password needs at least 8 characters"}


class AccountDisabled(DomainError):
    status = 403
    code = AccountCode.DISABLED
    message = {"zh": "该账号已停用", "en": "This account is disabled"}


class UnknownRole(DomainError):
    status = 422
    code = AccountCode.ROLE_UNKNOWN
    message = {"zh": "未知角色：{role}", "en": "Unknown role: {role}"}


class PasswordLocked(DomainError):
    """Too many wrong passwords for this phone number from anywhere: password login pauses (429 with
    Retry-After); a one-time code still logs in."""

    status = 429
    code = AccountCode.PASSWORD_LOCKED
    message = {
        "zh": "密码错误次数过多，该账号的密码登录已暂停，请 {minutes} 分钟后再试，或使用短信验证码登录",
        "en": "Too many wrong passwords: password login for this account is paused for {minutes} min. "
              "Try again later, or log in with a one-time code.",
    }

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(retry_after_seconds=retry_after_seconds, minutes=max(1, -(-retry_after_seconds // 60)))
